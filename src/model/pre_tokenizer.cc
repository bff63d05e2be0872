#include "model/pre_tokenizer.h"

#include "lrem/error.h"
#include "model/byte_level.h"
#include "model/stage_sequence.h"
#include "util/unicode_regex.h"

namespace lrem {

namespace {

// GPT-2's word pattern, ByteLevel's default (`use_regex: true`).
constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Each match of `regex` and each stretch between matches becomes a piece of its own.
void split_isolated(const UnicodeRegex& regex, std::vector<std::string>& pieces) {
  std::vector<std::string> out;
  out.reserve(pieces.size() * 4);
  for (const std::string& piece : pieces) {
    size_t last = 0;
    regex.for_each_match(piece, [&](size_t start, size_t end) {
      if (start > last) out.emplace_back(piece, last, start - last);
      out.emplace_back(piece, start, end - start);
      last = end;
    });
    if (last < piece.size()) out.emplace_back(piece, last, piece.size() - last);
  }
  pieces = std::move(out);
}

std::unique_ptr<UnicodeRegex> compile(const JsonValue& where, const std::string& pattern, bool literal) {
  try {
    return std::make_unique<UnicodeRegex>(pattern, literal);
  } catch (const InvalidArgument& e) {
    where.fail(e.what());
  }
}

class SplitPreTokenizer final : public PreTokenizer {
 public:
  explicit SplitPreTokenizer(const JsonValue& value) {
    const std::string behavior = value.at("behavior").as_string();
    if (behavior != "Isolated")
      value.at("behavior").fail("Split behavior '" + behavior + "' is not supported (supported: Isolated)");
    if (value.get_bool("invert", false)) value.at("invert").fail("Split with invert: true is not supported");
    const JsonValue pattern = value.at("pattern");
    if (auto regex = pattern.find("Regex")) {
      regex_ = compile(*regex, regex->as_string(), false);
    } else if (auto literal = pattern.find("String")) {
      regex_ = compile(*literal, literal->as_string(), true);
    } else {
      pattern.expected("{\"Regex\": ...} or {\"String\": ...}");
    }
  }

  void apply(std::vector<std::string>& pieces) const override { split_isolated(*regex_, pieces); }

 private:
  std::unique_ptr<UnicodeRegex> regex_;
};

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  explicit ByteLevelPreTokenizer(const JsonValue& value)
      : add_prefix_space_(value.get_bool("add_prefix_space", true)) {
    if (value.get_bool("use_regex", true)) regex_ = compile(value, kGpt2Pattern, false);
  }

  void apply(std::vector<std::string>& pieces) const override {
    if (add_prefix_space_)
      for (std::string& piece : pieces)
        if (piece.empty() || piece[0] != ' ') piece.insert(piece.begin(), ' ');
    if (regex_) split_isolated(*regex_, pieces);
    std::string mapped;
    for (std::string& piece : pieces) {
      mapped.clear();
      byte_level::encode(piece, mapped);
      piece.swap(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<UnicodeRegex> regex_;
};

}  // namespace

std::unique_ptr<const PreTokenizer> PreTokenizer::from_json(const JsonValue& value) {
  if (value.is_null()) return nullptr;
  const std::string type = value.at("type").as_string();
  if (type == "Split") return std::make_unique<SplitPreTokenizer>(value);
  if (type == "ByteLevel") return std::make_unique<ByteLevelPreTokenizer>(value);
  if (type == "Sequence")
    return sequence_from_json<PreTokenizer, std::vector<std::string>>(value.at("pretokenizers"));
  value.at("type").fail("pre-tokenizer type '" + type +
                        "' is not supported (supported: Split, ByteLevel, Sequence, or null)");
}

}  // namespace lrem
