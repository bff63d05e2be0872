#include "lrem/tokenizer.h"

#include <algorithm>
#include <bitset>
#include <charconv>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "lrem/error.h"
#include "model/bpe_tokenizer.h"
#include "model/sentencepiece_library.h"
#include "model/tokenizer_config.h"
#include "util/file_io.h"
#include "util/json_reader.h"

namespace fs = std::filesystem;

namespace lrem {

namespace {

constexpr const char* kModelFile = "tokenizer.model";
constexpr const char* kConfigFile = "tokenizer_config.json";
constexpr const char* kJsonFile = "tokenizer.json";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

struct Tokenizer::Impl {
  std::shared_ptr<const SentencePieceModel> sp;
  std::vector<AddedToken> added;  // sorted by id; those >= sp->size() have ids sp->size(), sp->size()+1, ...
  int new_tokens = 0;             // added tokens beyond the SentencePiece vocabulary
  bool add_bos_token = true;
  bool add_eos_token = false;
  int bos_id, eos_id, unk_id, pad_id;

  // Derived from `added` by reindex().
  std::unordered_map<int, size_t> index_by_id;
  std::unordered_map<std::string, size_t> index_by_content;
  std::vector<size_t> longest_first;  // indices into `added`, longest content first
  std::bitset<256> first_bytes;       // first bytes of added contents: a cheap "no match here"

  // tokenizer_config.json (Hugging Face's) over this SentencePiece model.
  void read_config(const std::string& path);
  void read_added_tokens(const JsonValue& decoder);

  explicit Impl(std::shared_ptr<const SentencePieceModel> model)
      : sp(std::move(model)), bos_id(sp->bos_id()), eos_id(sp->eos_id()), unk_id(sp->unk_id()), pad_id(sp->pad_id()) {}

  int vocab_size() const { return sp->size() + new_tokens; }

  const AddedToken* find_added(int id) const {
    auto it = index_by_id.find(id);
    return it == index_by_id.end() ? nullptr : &added[it->second];
  }

  // Registers a token whose id and content were checked by the caller.
  void insert(AddedToken token) {
    if (token.id >= sp->size()) ++new_tokens;
    added.insert(std::upper_bound(added.begin(), added.end(), token.id,
                                  [](int id, const AddedToken& t) { return id < t.id; }),
                 std::move(token));
    reindex();
  }

  void reindex() {
    index_by_id.clear();
    index_by_content.clear();
    longest_first.clear();
    first_bytes.reset();
    for (size_t i = 0; i < added.size(); ++i) {
      index_by_id[added[i].id] = i;
      index_by_content[added[i].content] = i;
      longest_first.push_back(i);
      first_bytes.set(static_cast<unsigned char>(added[i].content[0]));
    }
    std::stable_sort(longest_first.begin(), longest_first.end(),
                     [&](size_t a, size_t b) { return added[a].content.size() > added[b].content.size(); });
  }

  // The longest added token starting at text[pos], if any.
  const AddedToken* match_at(std::string_view text, size_t pos) const {
    if (!first_bytes.test(static_cast<unsigned char>(text[pos]))) return nullptr;
    for (size_t i : longest_first) {
      const std::string& content = added[i].content;
      if (text.compare(pos, content.size(), content) == 0) return &added[i];
    }
    return nullptr;
  }

  int piece_to_id(std::string_view piece) const {
    auto it = index_by_content.find(std::string(piece));
    return it != index_by_content.end() ? added[it->second].id : sp->piece_to_id(piece);
  }

  bool is_special(int id) const {
    if (const AddedToken* token = find_added(id)) return token->special;
    return id >= 0 && id < sp->size() && sp->is_control(id);
  }

  void check_id(int id) const {
    if (id < 0 || id >= vocab_size())
      throw InvalidArgument("token id " + std::to_string(id) + " is out of range: the vocabulary has ids 0.." +
                            std::to_string(vocab_size() - 1));
  }
};

// --- tokenizer_config.json --------------------------------------------------------------

// Every complaint names the file and the JSON pointer of the field.
void Tokenizer::Impl::read_config(const std::string& path) {
  const JsonDocument document = JsonDocument::load(path, size_t(64) << 20);
  const JsonValue config = document.object();
  if (std::optional<JsonValue> decoder = config.find("added_tokens_decoder")) read_added_tokens(*decoder);
  config.read("add_bos_token", add_bos_token);
  config.read("add_eos_token", add_eos_token);
  const auto to_id = [this](std::string_view text) { return piece_to_id(text); };
  bos_id = read_special_token(config, "bos_token", to_id).value_or(bos_id);
  eos_id = read_special_token(config, "eos_token", to_id).value_or(eos_id);
  unk_id = read_special_token(config, "unk_token", to_id).value_or(unk_id);
  pad_id = read_special_token(config, "pad_token", to_id).value_or(pad_id);
}

void Tokenizer::Impl::read_added_tokens(const JsonValue& decoder) {
  const int sp_size = sp->size();
  std::vector<AddedToken> tokens;
  for (const auto& [key, value] : decoder.members()) {
    AddedToken token;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), token.id);
    if (ec != std::errc() || end != key.data() + key.size() || token.id < 0)
      value.fail("key '" + key + "' is not a token id (a non-negative integer)");
    const JsonValue content = value.at("content");
    token.content = content.as_string();
    if (token.content.empty()) content.fail("is empty; an added token needs text");
    token.special = value.get_bool("special", false);
    token.lstrip = value.get_bool("lstrip", false);
    token.rstrip = value.get_bool("rstrip", false);
    if (token.id < sp_size && sp->id_to_piece(token.id) != token.content)
      content.fail("is '" + token.content + "', but the SentencePiece piece " + key + " is '" +
                   sp->id_to_piece(token.id) + "'");
    tokens.push_back(std::move(token));
  }
  std::sort(tokens.begin(), tokens.end(), [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
  int expected = sp_size;
  for (const AddedToken& token : tokens) {
    if (token.id < sp_size) continue;
    if (token.id != expected)
      decoder.fail("ids beyond the SentencePiece vocabulary (" + std::to_string(sp_size) +
                   " pieces) leave a gap: expected id " + std::to_string(expected) + ", found " +
                   std::to_string(token.id));
    ++expected;
  }
  for (size_t i = 0; i < tokens.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (tokens[i].content == tokens[j].content)
        decoder.fail("lists '" + tokens[i].content + "' twice (ids " + std::to_string(tokens[j].id) + " and " +
                     std::to_string(tokens[i].id) + ")");
  for (AddedToken& token : tokens) insert(std::move(token));
}

// --- construction -----------------------------------------------------------------------

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(std::unique_ptr<BpeTokenizer> bpe) : bpe_(std::move(bpe)) {}
Tokenizer::Tokenizer(const Tokenizer& other)
    : impl_(other.impl_ ? std::make_unique<Impl>(*other.impl_) : nullptr),
      bpe_(other.bpe_ ? std::make_unique<BpeTokenizer>(*other.bpe_) : nullptr) {}
Tokenizer& Tokenizer::operator=(const Tokenizer& other) {
  if (this != &other) *this = Tokenizer(other);
  return *this;
}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& model_path, const std::string& tokenizer_config_path) {
  if (fs::path(model_path).extension() == ".json")
    return Tokenizer(std::make_unique<BpeTokenizer>(BpeTokenizer::load(model_path, tokenizer_config_path)));
  auto impl = std::make_unique<Impl>(SentencePieceModel::from_serialized(read_file(model_path), model_path));
  if (!tokenizer_config_path.empty()) impl->read_config(tokenizer_config_path);
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_directory(const std::string& dir) {
  if (!fs::is_directory(dir)) throw IoError("'" + dir + "' is not a directory (expected a model directory)");
  const fs::path json = fs::path(dir) / kJsonFile;
  const fs::path config = fs::path(dir) / kConfigFile;
  return load(fs::exists(json) ? json.string() : (fs::path(dir) / kModelFile).string(),
              fs::exists(config) ? config.string() : std::string());
}

Tokenizer Tokenizer::train(const std::string& corpus_path, const std::string& output_prefix,
                           const TokenizerTrainOptions& options) {
  if (options.vocab_size <= 0) throw InvalidArgument("vocab_size must be positive");
  if (options.model_type != "bpe" && options.model_type != "unigram")
    throw InvalidArgument("model_type must be \"bpe\" or \"unigram\", not \"" + options.model_type + "\"");
  if (!(options.character_coverage > 0 && options.character_coverage <= 1))
    throw InvalidArgument("character_coverage must be in (0, 1]");
  if (options.num_threads < 0 || options.input_sentence_size < 0)
    throw InvalidArgument("num_threads and input_sentence_size must not be negative");
  if (output_prefix.empty()) throw InvalidArgument("output_prefix must not be empty");
  if (!fs::is_regular_file(corpus_path)) throw IoError("cannot read the corpus '" + corpus_path + "': no such file");

  auto impl = std::make_unique<Impl>(SentencePieceModel::train(corpus_path, options));
  const SentencePieceModel& sp = *impl->sp;
  if (const fs::path parent = fs::path(output_prefix).parent_path(); !parent.empty())
    ensure_directory(parent.string());
  write_file_atomic(output_prefix + ".model", sp.serialized());
  std::string vocab;
  for (int id = 0; id < sp.size(); ++id) vocab += sp.id_to_piece(id) + "\t" + std::to_string(sp.score(id)) + "\n";
  write_file_atomic(output_prefix + ".vocab", vocab);
  return Tokenizer(std::move(impl));
}

int Tokenizer::add_special_token(const std::string& content) {
  if (bpe_) return bpe_->add_special_token(content);
  if (content.empty()) throw InvalidArgument("a special token cannot be empty");
  if (auto it = impl_->index_by_content.find(content); it != impl_->index_by_content.end())
    return impl_->added[it->second].id;
  const int piece = impl_->sp->piece_to_id(content);
  AddedToken token;
  token.id = piece >= 0 ? piece : impl_->vocab_size();
  token.content = content;
  impl_->insert(token);
  return token.id;
}

void Tokenizer::save(const std::string& dir) const {
  ensure_directory(dir);
  if (bpe_) return bpe_->save((fs::path(dir) / kJsonFile).string(), (fs::path(dir) / kConfigFile).string());
  write_file_atomic((fs::path(dir) / kModelFile).string(), impl_->sp->serialized());

  nlohmann::ordered_json decoder = nlohmann::ordered_json::object();
  for (const AddedToken& token : impl_->added)
    decoder[std::to_string(token.id)] = {{"content", token.content}, {"lstrip", token.lstrip},
                                         {"normalized", false},      {"rstrip", token.rstrip},
                                         {"single_word", false},     {"special", token.special}};
  auto token_text = [&](int id) { return id < 0 ? nlohmann::ordered_json() : nlohmann::ordered_json(id_to_piece(id)); };
  const nlohmann::ordered_json config = {
      {"add_bos_token", impl_->add_bos_token},
      {"add_eos_token", impl_->add_eos_token},
      {"added_tokens_decoder", decoder},
      {"bos_token", token_text(impl_->bos_id)},
      {"clean_up_tokenization_spaces", false},
      {"eos_token", token_text(impl_->eos_id)},
      {"legacy", true},
      {"pad_token", token_text(impl_->pad_id)},
      {"sp_model_kwargs", nlohmann::ordered_json::object()},
      {"tokenizer_class", "LlamaTokenizer"},
      {"unk_token", token_text(impl_->unk_id)},
  };
  write_file_atomic((fs::path(dir) / kConfigFile).string(), config.dump(2) + "\n");
}

// --- encoding ---------------------------------------------------------------------------

std::vector<int> Tokenizer::encode(std::string_view text, bool add_bos, bool add_eos) const {
  if (add_bos && bos_id() < 0) throw InvalidArgument("add_bos was asked, but this tokenizer has no BOS token");
  if (add_eos && eos_id() < 0) throw InvalidArgument("add_eos was asked, but this tokenizer has no EOS token");
  std::vector<int> ids;
  if (add_bos) ids.push_back(bos_id());
  if (bpe_) {
    bpe_->encode(text, ids);
    if (add_eos) ids.push_back(eos_id());
    return ids;
  }
  const Impl& impl = *impl_;
  size_t segment_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedToken* token = impl.match_at(text, pos);
    if (!token) {
      ++pos;
      continue;
    }
    size_t segment_end = pos;
    if (token->lstrip)
      while (segment_end > segment_start && is_space(text[segment_end - 1])) --segment_end;
    if (segment_end > segment_start) impl.sp->encode(text.substr(segment_start, segment_end - segment_start), ids);
    ids.push_back(token->id);
    pos += token->content.size();
    if (token->rstrip)
      while (pos < text.size() && is_space(text[pos])) ++pos;
    segment_start = pos;
  }
  if (segment_start < text.size()) impl.sp->encode(text.substr(segment_start), ids);
  if (add_eos) ids.push_back(impl.eos_id);
  return ids;
}

std::vector<int> Tokenizer::encode_with_special_tokens(std::string_view text) const {
  if (!bpe_) return encode(text, add_bos_token() && bos_id() >= 0, add_eos_token() && eos_id() >= 0);
  std::vector<int> ids = bpe_->template_prefix();
  bpe_->encode(text, ids);
  ids.insert(ids.end(), bpe_->template_suffix().begin(), bpe_->template_suffix().end());
  return ids;
}

std::vector<std::vector<int>> Tokenizer::encode_batch(const std::vector<std::string>& texts, bool add_bos,
                                                      bool add_eos) const {
  std::vector<std::vector<int>> out;
  out.reserve(texts.size());
  for (const std::string& text : texts) out.push_back(encode(text, add_bos, add_eos));
  return out;
}

std::string Tokenizer::decode(const std::vector<int>& ids, bool skip_special_tokens) const {
  if (bpe_) return bpe_->decode(ids, skip_special_tokens);
  const Impl& impl = *impl_;
  for (int id : ids) impl.check_id(id);
  std::string text;
  // Runs of ordinary pieces go to SentencePiece together, so it joins their bytes and spaces.
  size_t run_start = 0;
  auto flush = [&](size_t end) {
    if (end > run_start) text += impl.sp->decode(ids.data() + run_start, end - run_start);
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    const int id = ids[i];
    const AddedToken* added = impl.find_added(id);
    if (!added && !impl.sp->is_control(id)) continue;
    flush(i);
    run_start = i + 1;
    if (skip_special_tokens && impl.is_special(id)) continue;
    text += added ? added->content : impl.sp->id_to_piece(id);
  }
  flush(ids.size());
  return text;
}

// --- vocabulary -------------------------------------------------------------------------

int Tokenizer::piece_to_id(std::string_view piece) const {
  return bpe_ ? bpe_->token_to_id(piece) : impl_->piece_to_id(piece);
}

std::string Tokenizer::id_to_piece(int id) const {
  if (bpe_) return bpe_->id_to_token(id);
  impl_->check_id(id);
  if (const AddedToken* token = impl_->find_added(id)) return token->content;
  return impl_->sp->id_to_piece(id);
}

bool Tokenizer::is_special(int id) const { return bpe_ ? bpe_->is_special(id) : impl_->is_special(id); }
int Tokenizer::vocab_size() const { return bpe_ ? bpe_->vocab_size() : impl_->vocab_size(); }
int Tokenizer::sentencepiece_size() const { return bpe_ ? bpe_->model_size() : impl_->sp->size(); }
int Tokenizer::bos_id() const { return bpe_ ? bpe_->special_ids().bos : impl_->bos_id; }
int Tokenizer::eos_id() const { return bpe_ ? bpe_->special_ids().eos : impl_->eos_id; }
int Tokenizer::pad_id() const { return bpe_ ? bpe_->special_ids().pad : impl_->pad_id; }
int Tokenizer::unk_id() const { return bpe_ ? bpe_->unk_id() : impl_->unk_id; }
bool Tokenizer::add_bos_token() const { return bpe_ ? bpe_->special_ids().add_bos : impl_->add_bos_token; }
bool Tokenizer::add_eos_token() const { return bpe_ ? bpe_->special_ids().add_eos : impl_->add_eos_token; }
const std::vector<AddedToken>& Tokenizer::added_tokens() const {
  return bpe_ ? bpe_->added_tokens() : impl_->added;
}

}  // namespace lrem
