#include "model/bpe_tokenizer.h"

#include <algorithm>

#include "lrem/error.h"
#include "model/bpe_model.h"
#include "model/post_processor.h"
#include "model/pre_tokenizer.h"
#include "model/text_normalizer.h"
#include "model/token_decoder.h"
#include "model/tokenizer_config.h"
#include "util/file_io.h"
#include "util/json_reader.h"
#include "util/utf8.h"

namespace lrem {

struct BpeTokenizer::Pipeline {
  std::string source;         // the file as read, for save()
  std::string config_source;  // tokenizer_config.json as read, or empty
  SpecialIds special;
  std::unique_ptr<const TextNormalizer> normalizer;
  std::unique_ptr<const PreTokenizer> pre_tokenizer;
  std::unique_ptr<const BpeModel> model;
  PostProcessor post_processor;
  std::unique_ptr<const TokenDecoder> decoder;
};

namespace {

// A JSON null where the field is missing: tokenizer.json writers omit some of them.
const nlohmann::json kNull;

JsonValue field_or_null(const JsonDocument& document, const std::string& key) {
  return document.object().find(key).value_or(JsonValue(kNull, document.source(), "/" + key));
}

AddedToken read_added_token(const JsonValue& value) {
  AddedToken token;
  token.id = int(value.at("id").as_int(0, INT32_MAX - 1));
  token.content = value.at("content").as_string();
  if (token.content.empty()) value.at("content").fail("an added token cannot be empty");
  token.special = value.get_bool("special", false);
  token.lstrip = value.get_bool("lstrip", false);
  token.rstrip = value.get_bool("rstrip", false);
  token.single_word = value.get_bool("single_word", false);
  token.normalized = value.get_bool("normalized", !token.special);
  return token;
}

}  // namespace

BpeTokenizer::BpeTokenizer(std::shared_ptr<const Pipeline> pipeline) : pipeline_(std::move(pipeline)) {}

namespace {

int single_or_none(const std::vector<int>& ids) { return ids.size() == 1 ? ids[0] : -1; }

}  // namespace

BpeTokenizer BpeTokenizer::load(const std::string& path, const std::string& config_path) {
  auto pipeline = std::make_shared<Pipeline>();
  pipeline->source = read_file(path, size_t(1) << 30);
  const JsonDocument document(pipeline->source, path);
  const JsonValue root = document.object();
  for (const char* unsupported : {"truncation", "padding"})
    if (auto value = root.find(unsupported); value && !value->is_null())
      value->fail(std::string(unsupported) + " is not supported (expected null): lrem pads and truncates itself");
  pipeline->normalizer = TextNormalizer::from_json(field_or_null(document, "normalizer"));
  pipeline->pre_tokenizer = PreTokenizer::from_json(field_or_null(document, "pre_tokenizer"));
  pipeline->model = std::make_unique<const BpeModel>(root.at("model"));
  pipeline->post_processor = PostProcessor::from_json(field_or_null(document, "post_processor"));
  pipeline->decoder = TokenDecoder::from_json(field_or_null(document, "decoder"));

  BpeTokenizer tokenizer(pipeline);
  if (auto added = root.find("added_tokens")) {
    for (const JsonValue& value : added->elements()) {
      AddedToken token = read_added_token(value);
      if (tokenizer.added_.find(token.id) || tokenizer.added_.find(token.content))
        value.fail("added token '" + token.content + "' (id " + std::to_string(token.id) +
                   ") repeats the id or content of an earlier one");
      tokenizer.register_token(std::move(token));
    }
  }
  const int end = tokenizer.vocab_size();
  for (const std::vector<int>* ids : {&pipeline->post_processor.prefix(), &pipeline->post_processor.suffix()})
    for (const int id : *ids)
      if (id >= end) root.at("post_processor").fail("special token id " + std::to_string(id) + " is not in the vocabulary");

  SpecialIds& special = pipeline->special;
  special.bos = single_or_none(pipeline->post_processor.prefix());
  special.eos = single_or_none(pipeline->post_processor.suffix());
  special.add_bos = !pipeline->post_processor.prefix().empty();
  special.add_eos = !pipeline->post_processor.suffix().empty();
  if (!config_path.empty()) {
    pipeline->config_source = read_file(config_path, size_t(64) << 20);
    const JsonDocument config_document(pipeline->config_source, config_path);
    const JsonValue config = config_document.object();
    const auto to_id = [&](std::string_view text) { return tokenizer.token_to_id(text); };
    special.bos = read_special_token(config, "bos_token", to_id).value_or(special.bos);
    special.eos = read_special_token(config, "eos_token", to_id).value_or(special.eos);
    special.pad = read_special_token(config, "pad_token", to_id).value_or(special.pad);
    config.read("add_bos_token", special.add_bos);
    config.read("add_eos_token", special.add_eos);
  }
  // Never ask for a token the tokenizer lacks (Qwen2 says bos_token null).
  special.add_bos = special.add_bos && special.bos >= 0;
  special.add_eos = special.add_eos && special.eos >= 0;
  return tokenizer;
}

const BpeTokenizer::SpecialIds& BpeTokenizer::special_ids() const { return pipeline_->special; }

void BpeTokenizer::register_token(AddedToken token) {
  added_.add(token, pipeline_->normalizer.get());
  added_sorted_.insert(std::upper_bound(added_sorted_.begin(), added_sorted_.end(), token.id,
                                        [](int id, const AddedToken& t) { return id < t.id; }),
                       std::move(token));
}

void BpeTokenizer::encode(std::string_view text, std::vector<int>& ids) const {
  if (const size_t bad = find_invalid_utf8(text); bad != std::string_view::npos)
    throw InvalidArgument("cannot encode text that is not valid UTF-8 (invalid byte at offset " +
                          std::to_string(bad) + ")");
  std::vector<AddedVocabulary::Segment> raw_segments, segments;
  added_.split(text, false, raw_segments);
  std::string normalized;
  for (const AddedVocabulary::Segment& raw : raw_segments) {
    if (raw.token) {
      ids.push_back(raw.token->id);
      continue;
    }
    normalized.assign(raw.text);
    if (pipeline_->normalizer) pipeline_->normalizer->apply(normalized);
    segments.clear();
    added_.split(normalized, true, segments);
    for (const AddedVocabulary::Segment& segment : segments) {
      if (segment.token) ids.push_back(segment.token->id);
      else encode_text(segment.text, ids);
    }
  }
}

void BpeTokenizer::encode_text(std::string_view text, std::vector<int>& ids) const {
  std::vector<std::string> words{std::string(text)};
  if (pipeline_->pre_tokenizer) pipeline_->pre_tokenizer->apply(words);
  for (const std::string& word : words)
    if (!word.empty()) pipeline_->model->encode_word(word, ids);
}

const std::vector<int>& BpeTokenizer::template_prefix() const { return pipeline_->post_processor.prefix(); }
const std::vector<int>& BpeTokenizer::template_suffix() const { return pipeline_->post_processor.suffix(); }

std::string BpeTokenizer::decode(const std::vector<int>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int id : ids) {
    check_id(id);
    if (const AddedToken* token = added_.find(id)) {
      if (!(skip_special_tokens && token->special)) tokens.push_back(token->content);
    } else if (const std::string* token = pipeline_->model->id_to_token(id)) {
      tokens.push_back(*token);
    }
  }
  return decode_tokens(pipeline_->decoder.get(), std::move(tokens));
}

int BpeTokenizer::add_special_token(const std::string& content) {
  if (content.empty()) throw InvalidArgument("a special token cannot be empty");
  if (const AddedToken* existing = added_.find(content)) return existing->id;
  AddedToken token;
  const int in_vocabulary = pipeline_->model->token_to_id(content);
  token.id = in_vocabulary >= 0 ? in_vocabulary : vocab_size();
  token.content = content;
  token.special = true;
  token.normalized = false;
  appended_.push_back(token);
  register_token(std::move(token));
  return appended_.back().id;
}

void BpeTokenizer::save(const std::string& path, const std::string& config_path) const {
  if (!pipeline_->config_source.empty()) write_file_atomic(config_path, pipeline_->config_source);
  if (appended_.empty()) {
    write_file_atomic(path, pipeline_->source);
    return;
  }
  // nlohmann::json, not ordered_json: keeping the member order costs a linear search per key,
  // minutes for a 151k-entry vocabulary. Object members come out sorted; arrays (merges,
  // added_tokens) keep their order, and member order means nothing to a tokenizer.json reader.
  nlohmann::json json = nlohmann::json::parse(pipeline_->source);
  nlohmann::json& added = json["added_tokens"];
  if (added.is_null()) added = nlohmann::json::array();
  for (const AddedToken& token : appended_)
    added.push_back({{"id", token.id},
                     {"content", token.content},
                     {"single_word", token.single_word},
                     {"lstrip", token.lstrip},
                     {"rstrip", token.rstrip},
                     {"normalized", token.normalized},
                     {"special", token.special}});
  write_file_atomic(path, json.dump(2, ' ', false) + "\n");
}

int BpeTokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* added = added_.find(token)) return added->id;
  return pipeline_->model->token_to_id(token);
}

void BpeTokenizer::check_id(int id) const {
  if (id < 0 || id >= vocab_size())
    throw InvalidArgument("token id " + std::to_string(id) + " is out of range: the vocabulary has ids 0.." +
                          std::to_string(vocab_size() - 1));
}

std::string BpeTokenizer::id_to_token(int id) const {
  check_id(id);
  if (const AddedToken* added = added_.find(id)) return added->content;
  const std::string* token = pipeline_->model->id_to_token(id);
  return token ? *token : std::string();
}

bool BpeTokenizer::is_special(int id) const {
  const AddedToken* token = added_.find(id);
  return token && token->special;
}

int BpeTokenizer::vocab_size() const { return std::max(pipeline_->model->end_id(), added_.end_id()); }
int BpeTokenizer::model_size() const { return pipeline_->model->size(); }
int BpeTokenizer::unk_id() const { return pipeline_->model->unk_id(); }

}  // namespace lrem
