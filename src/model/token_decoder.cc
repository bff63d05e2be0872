#include "model/token_decoder.h"

#include "model/byte_level.h"
#include "model/stage_sequence.h"
#include "util/utf8.h"

namespace lrem {

namespace {

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

class ByteLevelDecoder final : public TokenDecoder {
 public:
  void apply(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& token : tokens)
      if (!byte_level::decode(token, bytes)) bytes += token;  // not byte-level text: its own bytes
    tokens.assign(1, replace_invalid_utf8(bytes));
  }
};

class ByteFallbackDecoder final : public TokenDecoder {
 public:
  void apply(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    size_t byte_count = 0;
    auto flush = [&] {
      if (byte_count == 0) return;
      if (is_valid_utf8(bytes)) {
        out.push_back(bytes);
      } else {
        for (size_t i = 0; i < byte_count; ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      bytes.clear();
      byte_count = 0;
    };
    for (std::string& token : tokens) {
      if (const int byte = byte_token_value(token); byte >= 0) {
        bytes += static_cast<char>(byte);
        ++byte_count;
      } else {
        flush();
        out.push_back(std::move(token));
      }
    }
    flush();
    tokens = std::move(out);
  }

 private:
  // The byte of a "<0xAB>" token, or -1.
  static int byte_token_value(const std::string& token) {
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
    int value = 0;
    for (size_t i = 3; i < 5; ++i) {
      const char c = token[i];
      const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (digit < 0) return -1;
      value = value * 16 + digit;
    }
    return value;
  }
};

class FuseDecoder final : public TokenDecoder {
 public:
  void apply(std::vector<std::string>& tokens) const override { tokens.assign(1, join(tokens, "")); }
};

}  // namespace

std::unique_ptr<const TokenDecoder> TokenDecoder::from_json(const JsonValue& value) {
  if (value.is_null()) return nullptr;
  const std::string type = value.at("type").as_string();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Sequence") return sequence_from_json<TokenDecoder, std::vector<std::string>>(value.at("decoders"));
  value.at("type").fail("decoder type '" + type +
                        "' is not supported (supported: ByteLevel, ByteFallback, Fuse, Sequence, or null)");
}

std::string decode_tokens(const TokenDecoder* decoder, std::vector<std::string> tokens) {
  if (decoder) decoder->apply(tokens);
  return replace_invalid_utf8(join(tokens, decoder ? "" : " "));
}

}  // namespace lrem
