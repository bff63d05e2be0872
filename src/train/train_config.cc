// Training configs from JSON: every field optional except the data and output paths; an
// unknown field (a typo) or a value of the wrong type is a FormatError naming it.
#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

#include "lrem/error.h"
#include "lrem/train.h"

namespace lrem {

namespace {

using nlohmann::json;

class Fields {
 public:
  Fields(const std::string& text, std::string source) : source_(std::move(source)) {
    try {
      root_ = json::parse(text);
    } catch (const json::exception& e) {
      throw FormatError(source_ + ": not valid JSON (" + e.what() + ")");
    }
    if (!root_.is_object()) throw FormatError(source_ + ": expected a JSON object of training options");
  }

  template <typename T>
  void get(const char* name, T& out) {
    known_.insert(name);
    auto it = root_.find(name);
    if (it == root_.end() || it->is_null()) return;
    if constexpr (std::is_same_v<T, std::string>) {
      if (!it->is_string()) fail(name, "must be a string");
      out = it->template get<std::string>();
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!it->is_boolean()) fail(name, "must be true or false");
      out = it->template get<bool>();
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!it->is_number()) fail(name, "must be a number");
      out = it->template get<T>();
      if (!std::isfinite(out)) fail(name, "must be finite");
    } else {
      if (!it->is_number_integer()) fail(name, "must be an integer");
      if constexpr (std::is_unsigned_v<T>) {
        if (it->is_number_unsigned() || it->template get<int64_t>() >= 0) {
          out = it->template get<T>();
          return;
        }
        fail(name, "must be a non-negative integer");
      } else {
        const int64_t v = it->template get<int64_t>();
        if (v < int64_t(std::numeric_limits<T>::min()) || v > int64_t(std::numeric_limits<T>::max()))
          fail(name, "is out of range");
        out = T(v);
      }
    }
  }

  const json* object(const char* name) {
    known_.insert(name);
    auto it = root_.find(name);
    if (it == root_.end() || it->is_null()) return nullptr;
    if (!it->is_object()) fail(name, "must be a JSON object");
    return &*it;
  }

  // Call after every get(): anything left is unknown.
  void finish() const {
    for (const auto& [key, value] : root_.items()) {
      if (known_.count(key)) continue;
      std::string names;
      for (const auto& k : known_) names += (names.empty() ? "" : ", ") + k;
      throw FormatError(source_ + ": unknown field '" + key + "' (known fields: " + names + ")");
    }
  }

  [[noreturn]] void fail(const std::string& name, const std::string& problem) const {
    throw FormatError(source_ + ": field '" + name + "' " + problem);
  }
  const std::string& source() const { return source_; }

 private:
  json root_;
  std::string source_;
  std::set<std::string> known_;
};

void read_common(Fields& f, TrainingConfig& c) {
  std::string comment;  // "_comment": free text, e.g. why a config departs from the defaults
  f.get("_comment", comment);
  f.get("output_dir", c.output_dir);
  f.get("seed", c.seed);
  f.get("lr", c.lr);
  f.get("min_lr_ratio", c.min_lr_ratio);
  f.get("warmup_ratio", c.warmup_ratio);
  f.get("epochs", c.epochs);
  f.get("max_steps", c.max_steps);
  f.get("batch_size", c.batch_size);
  f.get("grad_accum", c.grad_accum);
  f.get("clip_norm", c.clip_norm);
  f.get("weight_decay", c.weight_decay);
  f.get("adam_beta1", c.adam_beta1);
  f.get("adam_beta2", c.adam_beta2);
  f.get("adam_eps", c.adam_eps);
  f.get("save_every", c.save_every);
  f.get("log_every", c.log_every);
  f.get("resume", c.resume);
  f.get("num_threads", c.num_threads);
  f.get("quiet", c.quiet);
  f.get("world_size", c.world_size);
  f.get("rank", c.rank);
  f.get("master_addr", c.master_addr);
  f.get("master_port", c.master_port);
}

[[noreturn]] void bad(const std::string& source, const std::string& field, const std::string& problem) {
  throw InvalidArgument(source + ": field '" + field + "' " + problem);
}

}  // namespace

void TrainingConfig::validate(const std::string& source) const {
  if (output_dir.empty()) bad(source, "output_dir", "is required (where checkpoints and the model go)");
  if (!(lr > 0)) bad(source, "lr", "must be > 0");
  if (!(min_lr_ratio >= 0 && min_lr_ratio <= 1)) bad(source, "min_lr_ratio", "must be within [0, 1]");
  if (!(warmup_ratio >= 0 && warmup_ratio < 1)) bad(source, "warmup_ratio", "must be within [0, 1)");
  if (epochs < 1) bad(source, "epochs", "must be >= 1");
  if (max_steps < 0) bad(source, "max_steps", "must be >= 0 (0: decided by epochs)");
  if (batch_size < 1) bad(source, "batch_size", "must be >= 1");
  if (grad_accum < 1) bad(source, "grad_accum", "must be >= 1");
  if (weight_decay < 0) bad(source, "weight_decay", "must be >= 0");
  if (!(adam_beta1 >= 0 && adam_beta1 < 1)) bad(source, "adam_beta1", "must be within [0, 1)");
  if (!(adam_beta2 >= 0 && adam_beta2 < 1)) bad(source, "adam_beta2", "must be within [0, 1)");
  if (!(adam_eps > 0)) bad(source, "adam_eps", "must be > 0");
  if (save_every < 0) bad(source, "save_every", "must be >= 0 (0: only at the end)");
  if (log_every < 1) bad(source, "log_every", "must be >= 1");
  if (world_size < 1) bad(source, "world_size", "must be >= 1");
  if (rank < 0 || rank >= world_size) bad(source, "rank", "must be within [0, world_size)");
  if (master_port < 1 || master_port > 65535) bad(source, "master_port", "must be within 1..65535");
}

ModelConfig PretrainConfig::small_model() {
  ModelConfig c;
  c.vocab_size = 4003;
  c.hidden_size = 256;
  c.intermediate_size = 688;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 4;
  c.max_position_embeddings = 512;
  c.rms_norm_eps = 1e-5;
  c.tie_word_embeddings = true;
  return c;
}

PretrainConfig PretrainConfig::from_json(const std::string& text, const std::string& source) {
  Fields f(text, source);
  PretrainConfig c;
  read_common(f, c);
  f.get("corpus", c.corpus);
  f.get("tokenizer", c.tokenizer);
  f.get("vocab_size", c.vocab_size);
  f.get("tokenizer_type", c.tokenizer_type);
  f.get("seq_len", c.seq_len);
  if (const json* model = f.object("model")) {
    // Unspecified architecture fields keep small_model()'s values; the vocabulary is the
    // tokenizer's, known only once it exists, so any value will do here.
    json merged = json::parse(small_model().to_json());
    merged.merge_patch(*model);
    if (!model->contains("vocab_size")) merged["vocab_size"] = std::max<int64_t>(c.vocab_size + 3, 3);
    c.model = ModelConfig::from_json(merged.dump(), source + ": field 'model'");
  }
  f.finish();
  c.validate(source);
  return c;
}

void PretrainConfig::validate(const std::string& source) const {
  TrainingConfig::validate(source);
  if (corpus.empty()) bad(source, "corpus", "is required (a text file, one document per line)");
  if (tokenizer.empty() && vocab_size < 16) bad(source, "vocab_size", "must be >= 16");
  if (tokenizer_type != "bpe" && tokenizer_type != "unigram") bad(source, "tokenizer_type", "must be bpe or unigram");
  if (seq_len < 2) bad(source, "seq_len", "must be >= 2");
  if (seq_len > model.max_position_embeddings)
    bad(source, "seq_len", "exceeds the model's max_position_embeddings (" +
                               std::to_string(model.max_position_embeddings) + ")");
}

SftConfig SftConfig::from_json(const std::string& text, const std::string& source) {
  Fields f(text, source);
  SftConfig c;
  read_common(f, c);
  f.get("model", c.model);
  f.get("data", c.data);
  f.get("catalogue", c.catalogue);
  f.get("lambda_sft", c.lambda_sft);
  f.get("lambda_nce", c.lambda_nce);
  f.get("tau", c.tau);
  f.get("max_hard_negatives", c.max_hard_negatives);
  f.finish();
  c.validate(source);
  return c;
}

void SftConfig::validate(const std::string& source) const {
  TrainingConfig::validate(source);
  if (model.empty()) bad(source, "model", "is required (the starting model directory)");
  if (data.empty()) bad(source, "data", "is required (a JSONL file of query/cot/item triplets)");
  if (lambda_sft < 0 || lambda_nce < 0 || lambda_sft + lambda_nce <= 0)
    bad(source, "lambda_sft", "and lambda_nce must be >= 0, not both 0");
  if (!(tau > 0)) bad(source, "tau", "must be > 0");
  if (max_hard_negatives < 0) bad(source, "max_hard_negatives", "must be >= 0");
  if (lambda_nce > 0 && batch_size < 2 && max_hard_negatives == 0)
    bad(source, "batch_size", "must be >= 2 for in-batch negatives (or give hard negatives)");
}

GrpoConfig GrpoConfig::from_json(const std::string& text, const std::string& source) {
  Fields f(text, source);
  GrpoConfig c;
  read_common(f, c);
  f.get("model", c.model);
  f.get("data", c.data);
  f.get("catalogue", c.catalogue);
  f.get("group_size", c.group_size);
  f.get("temperature", c.temperature);
  f.get("top_k", c.top_k);
  f.get("top_p", c.top_p);
  f.get("reward_format", c.reward_format);
  f.get("reward_length", c.reward_length);
  f.get("reward_accuracy", c.reward_accuracy);
  f.get("reward_pool_extra_items", c.reward_pool_extra_items);
  f.get("ppo_epochs", c.ppo_epochs);
  f.get("clip_epsilon", c.clip_epsilon);
  f.get("loss_aggregation", c.loss_aggregation);
  f.get("lambda_grpo", c.lambda_grpo);
  f.get("lambda_nce", c.lambda_nce);
  f.get("tau", c.tau);
  f.get("kl_coef", c.kl_coef);
  f.get("reference_model", c.reference_model);
  f.finish();
  c.validate(source);
  return c;
}

void GrpoConfig::validate(const std::string& source) const {
  TrainingConfig::validate(source);
  if (model.empty()) bad(source, "model", "is required (the stage-1 model directory)");
  if (data.empty()) bad(source, "data", "is required (a JSONL file of query/item pairs)");
  if (reward_pool_extra_items < 0) bad(source, "reward_pool_extra_items", "must be >= 0");
  if (int64_t(batch_size) * world_size + reward_pool_extra_items < 2)
    bad(source, "batch_size", "times world_size plus reward_pool_extra_items must be >= 2: the accuracy reward ranks among them");
  if (group_size < 2) bad(source, "group_size", "must be >= 2 (advantages compare samples of one query)");
  if (!(temperature > 0)) bad(source, "temperature", "must be > 0 (GRPO needs diverse samples)");
  if (top_k < 0) bad(source, "top_k", "must be >= 0");
  if (!(top_p > 0 && top_p <= 1)) bad(source, "top_p", "must be within (0, 1]");
  if (reward_format < 0 || reward_length < 0 || reward_accuracy < 0) bad(source, "reward_format", "and the other reward weights must be >= 0");
  if (ppo_epochs < 1) bad(source, "ppo_epochs", "must be >= 1");
  if (!(clip_epsilon > 0 && clip_epsilon < 1)) bad(source, "clip_epsilon", "must be within (0, 1)");
  if (loss_aggregation != "sequence" && loss_aggregation != "token")
    bad(source, "loss_aggregation", "must be \"sequence\" or \"token\"");
  if (lambda_grpo < 0 || lambda_nce < 0) bad(source, "lambda_grpo", "and lambda_nce must be >= 0");
  if (kl_coef < 0) bad(source, "kl_coef", "must be >= 0");
}

}  // namespace lrem
