// Training configs from JSON: every field optional except the data and output paths; an
// unknown field (a typo) or a value of the wrong type is a FormatError naming it.
#include <algorithm>

#include "lrem/error.h"
#include "lrem/train.h"
#include "util/json_reader.h"

namespace lrem {

namespace {

void read_common(JsonFields& f, TrainingConfig& c) {
  std::string comment;  // "_comment": free text, e.g. why a config departs from the defaults
  f.read("_comment", comment);
  f.read("output_dir", c.output_dir);
  f.read("seed", c.seed);
  f.read("lr", c.lr);
  f.read("min_lr_ratio", c.min_lr_ratio);
  f.read("warmup_ratio", c.warmup_ratio);
  f.read("epochs", c.epochs);
  f.read("max_steps", c.max_steps);
  f.read("batch_size", c.batch_size);
  f.read("grad_accum", c.grad_accum);
  f.read("clip_norm", c.clip_norm);
  f.read("weight_decay", c.weight_decay);
  f.read("adam_beta1", c.adam_beta1);
  f.read("adam_beta2", c.adam_beta2);
  f.read("adam_eps", c.adam_eps);
  f.read("save_every", c.save_every);
  f.read("log_every", c.log_every);
  f.read("resume", c.resume);
  f.read("num_threads", c.num_threads);
  f.read("gradient_checkpointing", c.gradient_checkpointing);
  f.read("precision", c.precision);
  if (std::optional<JsonValue> lora = f.find("lora"); lora && !lora->is_null()) {
    if (!lora->is_object()) lora->expected("an object of LoRA options (r, alpha, dropout, target_modules)");
    JsonFields l(*lora);
    l.read("r", c.lora.r);
    l.read("alpha", c.lora.alpha);
    l.read("dropout", c.lora.dropout);
    if (std::optional<JsonValue> targets = l.find("target_modules"); targets && !targets->is_null())
      c.lora.target_modules = targets->as_strings();
    l.reject_unknown();
  }
  f.read("quiet", c.quiet);
  f.read("world_size", c.world_size);
  f.read("rank", c.rank);
  f.read("master_addr", c.master_addr);
  f.read("master_port", c.master_port);
}

// A config of type C: the fields every stage shares, then the stage's own (read_own), then
// any other field is refused and the values are validated.
template <class C, class ReadOwn>
C parse_config(const std::string& text, const std::string& source, ReadOwn read_own) {
  const JsonDocument document(text, source);
  JsonFields f(document.object());
  C c;
  read_common(f, c);
  read_own(f, c);
  f.reject_unknown();
  c.validate(source);
  return c;
}

[[noreturn]] void bad(const std::string& source, const std::string& field, const std::string& problem) {
  throw InvalidArgument(source + ": field '" + field + "' " + problem);
}

[[noreturn]] void owned_by_init_model(const std::string& source, const std::string& field) {
  bad(source, field, "cannot be set with init_model, whose tokenizer and architecture the run continues from; "
                     "remove one of the two");
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
  if (precision != "float32" && precision != "bfloat16")
    bad(source, "precision", "must be float32 or bfloat16, got '" + precision + "'");
  if (world_size < 1) bad(source, "world_size", "must be >= 1");
  if (rank < 0 || rank >= world_size) bad(source, "rank", "must be within [0, world_size)");
  if (master_port < 1 || master_port > 65535) bad(source, "master_port", "must be within 1..65535");
  if (lora.r < 0) bad(source, "lora.r", "must be >= 0 (0: no adapters)");
  if (lora.enabled()) {
    if (!(lora.alpha > 0)) bad(source, "lora.alpha", "must be > 0");
    if (!(lora.dropout >= 0 && lora.dropout < 1)) bad(source, "lora.dropout", "must be within [0, 1)");
    if (lora.target_modules.empty()) bad(source, "lora.target_modules", "must name at least one projection");
    const std::vector<std::string> known = LoraConfig{}.target_modules;  // the default is all of them
    for (const std::string& m : lora.target_modules)
      if (std::find(known.begin(), known.end(), m) == known.end())
        bad(source, "lora.target_modules", "has unknown module '" + m +
                                               "'; use q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj");
  }
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
  return parse_config<PretrainConfig>(text, source, [&source](JsonFields& f, PretrainConfig& c) {
    f.read("corpus", c.corpus);
    f.read("init_model", c.init_model);
    f.read("seq_len", c.seq_len);
    f.read("tokenizer", c.tokenizer);  // beside init_model: refused by validate()
    // A C++ caller cannot tell these from their defaults, so only a JSON config is checked.
    const auto refuse_beside_init_model = [&](const std::string& field) {
      if (!c.init_model.empty()) owned_by_init_model(source, field);
    };
    if (f.read("vocab_size", c.vocab_size)) refuse_beside_init_model("vocab_size");
    if (f.read("tokenizer_type", c.tokenizer_type)) refuse_beside_init_model("tokenizer_type");
    if (std::optional<JsonValue> model = f.find("model"); model && !model->is_null()) {
      refuse_beside_init_model("model");
      if (!model->is_object()) model->expected("an object of model architecture fields");
      // Unspecified architecture fields keep small_model()'s values; the vocabulary is the
      // tokenizer's, known only once it exists, so any value will do here.
      Json merged = Json::parse(small_model().to_json());
      merged.merge_patch(model->raw());
      if (!model->has("vocab_size")) merged["vocab_size"] = std::max<int64_t>(c.vocab_size + 3, 3);
      c.model = ModelConfig::from_json(merged.dump(), model->where());
    }
  });
}

void PretrainConfig::validate(const std::string& source) const {
  TrainingConfig::validate(source);
  if (lora.enabled()) bad(source, "lora", "is for fine-tuning (stages 1 and 2): pretraining trains every weight");
  if (corpus.empty()) bad(source, "corpus", "is required (a text file, one document per line)");
  if (tokenizer.empty() && vocab_size < 16) bad(source, "vocab_size", "must be >= 16");
  if (tokenizer_type != "bpe" && tokenizer_type != "unigram") bad(source, "tokenizer_type", "must be bpe or unigram");
  if (seq_len < 2) bad(source, "seq_len", "must be >= 2");
  if (!init_model.empty() && !tokenizer.empty()) owned_by_init_model(source, "tokenizer");
  if (init_model.empty() && seq_len > model.max_position_embeddings)
    bad(source, "seq_len", "exceeds the model's max_position_embeddings (" +
                               std::to_string(model.max_position_embeddings) + ")");
}

SftConfig SftConfig::from_json(const std::string& text, const std::string& source) {
  return parse_config<SftConfig>(text, source, [](JsonFields& f, SftConfig& c) {
    f.read("model", c.model);
    f.read("data", c.data);
    f.read("catalogue", c.catalogue);
    f.read("lambda_sft", c.lambda_sft);
    f.read("lambda_nce", c.lambda_nce);
    f.read("tau", c.tau);
    f.read("max_hard_negatives", c.max_hard_negatives);
  });
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
  return parse_config<GrpoConfig>(text, source, [](JsonFields& f, GrpoConfig& c) {
    f.read("model", c.model);
    f.read("data", c.data);
    f.read("catalogue", c.catalogue);
    f.read("group_size", c.group_size);
    f.read("temperature", c.temperature);
    f.read("top_k", c.top_k);
    f.read("top_p", c.top_p);
    f.read("reward_format", c.reward_format);
    f.read("reward_length", c.reward_length);
    f.read("reward_accuracy", c.reward_accuracy);
    f.read("reward_pool_extra_items", c.reward_pool_extra_items);
    f.read("ppo_epochs", c.ppo_epochs);
    f.read("clip_epsilon", c.clip_epsilon);
    f.read("loss_aggregation", c.loss_aggregation);
    f.read("lambda_grpo", c.lambda_grpo);
    f.read("lambda_nce", c.lambda_nce);
    f.read("tau", c.tau);
    f.read("kl_coef", c.kl_coef);
    f.read("reference_model", c.reference_model);
  });
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
