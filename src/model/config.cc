#include "lrem/config.h"

#include <nlohmann/json.hpp>

#include <limits>
#include <optional>

#include "lrem/error.h"
#include "util/file_io.h"
#include "util/json_reader.h"

namespace lrem {

namespace {

using nlohmann::json;

// Upper bounds far above any real model; they keep num_parameters() and the tensor
// allocations derived from a config free of integer overflow.
constexpr int64_t kMaxDim = int64_t(1) << 20;
constexpr int64_t kMaxVocab = int64_t(1) << 24;
constexpr int64_t kMaxLayers = 4096;
constexpr const char* kSupportedTypes = "llama, mistral, qwen2, qwen3";
// Transformers' defaults where a field is absent: Mistral slides over 4096 positions,
// Qwen3 heads are 128 wide whatever hidden_size / num_attention_heads is.
constexpr int64_t kMistralSlidingWindow = 4096;
constexpr int64_t kQwen3HeadDim = 128;

bool is_supported_type(const std::string& type) {
  return type == "llama" || type == "mistral" || type == "qwen2" || type == "qwen3";
}
bool is_supported_rope_type(const std::string& type) {
  return type == "default" || type == "linear" || type == "llama3";
}

// Token ids: null means "none" (-1); a list (eos in Llama 3 configs) contributes its first id.
int64_t token_id(const JsonValue& object, const std::string& field, int64_t fallback) {
  std::optional<JsonValue> value = object.find(field);
  if (!value) return fallback;
  if (value->is_null()) return -1;
  if (value->is_array()) {
    if (value->size() == 0) value->fail("is an empty list; give a token id or null");
    return (*value)[0].as_int();
  }
  return value->as_int();
}

std::string default_architecture(const std::string& model_type) {
  if (model_type == "mistral") return "MistralForCausalLM";
  if (model_type == "qwen2") return "Qwen2ForCausalLM";
  if (model_type == "qwen3") return "Qwen3ForCausalLM";
  return "LlamaForCausalLM";
}

// Dense decoders only: a mixture of experts has per-expert MLP weights this decoder lacks.
void refuse_unsupported_architecture(const JsonValue& fields, const JsonValue& model_type, const std::string& type) {
  for (const char* moe : {"mixtral", "qwen2_moe", "qwen3_moe"})
    if (type == moe) model_type.fail("model_type '" + type + "' is a mixture of experts, which is not supported; supported: " + kSupportedTypes);
  if (!is_supported_type(type))
    model_type.fail("model_type '" + type + "' is not supported; supported: " + kSupportedTypes);
  for (const char* field : {"num_experts", "num_local_experts"})
    if (std::optional<JsonValue> experts = fields.find(field); experts && !experts->is_null() && experts->as_int(0) > 0)
      experts->fail("declares " + std::to_string(experts->as_int()) + " experts; mixtures of experts are not supported");
}

// Qwen2/Qwen3 switch sliding-window layers on with use_sliding_window (or list them in
// layer_types); they would attend differently from the full attention implemented here.
void refuse_sliding_layers(const JsonValue& fields) {
  if (fields.get_bool("use_sliding_window", false))
    fields.at("use_sliding_window").fail("is true; sliding-window attention layers are not supported");
  if (std::optional<JsonValue> types = fields.find("layer_types"); types && !types->is_null())
    for (const JsonValue& type : types->elements())
      if (type.as_string() != "full_attention")
        type.fail("layer type '" + type.as_string() + "' is not supported; only full_attention layers are");
}

// rope_scaling, or newer transformers' rope_parameters (which also carries rope_theta).
// HF spells the type "rope_type", older configs "type".
RopeScaling parse_rope_scaling(const JsonValue& scaling) {
  RopeScaling r;
  std::optional<JsonValue> type = scaling.find("rope_type");
  if (!type) type = scaling.find("type");
  if (!type) scaling.fail("has no 'rope_type' (or 'type'); expected default, linear or llama3");
  r.type = type->as_string();
  if (!is_supported_rope_type(r.type))
    type->fail("RoPE scaling type '" + r.type + "' is not supported; supported: default, linear, llama3");
  if (r.type == "default") return r;
  r.factor = scaling.at("factor").as_double();
  if (r.type == "llama3") {
    r.low_freq_factor = scaling.at("low_freq_factor").as_double();
    r.high_freq_factor = scaling.at("high_freq_factor").as_double();
    r.original_max_position_embeddings = scaling.at("original_max_position_embeddings").as_int(1, kMaxVocab);
  }
  return r;
}

json rope_scaling_json(const RopeScaling& r) {
  if (r.type == "default") return nullptr;
  json j = {{"rope_type", r.type}, {"factor", r.factor}};
  if (r.type == "llama3") {
    j["low_freq_factor"] = r.low_freq_factor;
    j["high_freq_factor"] = r.high_freq_factor;
    j["original_max_position_embeddings"] = r.original_max_position_embeddings;
  }
  return j;
}

void check_range(const std::string& source, const char* field, int64_t value, int64_t max) {
  if (value <= 0 || value > max)
    throw FormatError(source + ": field '" + field + "' must be between 1 and " + std::to_string(max) +
                      ", got " + std::to_string(value));
}

void validate_rope_scaling(const RopeScaling& r, const std::string& source) {
  const std::string where = source + ": field 'rope_scaling' ";
  if (!is_supported_rope_type(r.type))
    throw FormatError(where + "has type '" + r.type + "'; supported: default, linear, llama3");
  if (r.type == "default") return;
  if (!(r.factor > 0)) throw FormatError(where + "needs a positive 'factor', got " + std::to_string(r.factor));
  if (r.type != "llama3") return;
  // The llama3 ramp divides by high - low and by low.
  if (!(r.low_freq_factor > 0) || !(r.high_freq_factor > r.low_freq_factor))
    throw FormatError(where + "needs 0 < low_freq_factor < high_freq_factor, got " + std::to_string(r.low_freq_factor) +
                      " and " + std::to_string(r.high_freq_factor));
  if (r.original_max_position_embeddings <= 0)
    throw FormatError(where + "needs a positive 'original_max_position_embeddings'");
}

json token_id_json(int64_t id) { return id < 0 ? json(nullptr) : json(id); }

}  // namespace

ModelConfig ModelConfig::from_json(const std::string& text, const std::string& source) {
  const JsonDocument document(text, source);
  const JsonValue fields = document.object();

  ModelConfig c;
  const JsonValue model_type = fields.at("model_type");
  c.model_type = model_type.as_string();
  refuse_unsupported_architecture(fields, model_type, c.model_type);
  const bool qwen = c.model_type == "qwen2" || c.model_type == "qwen3";

  c.architectures = {default_architecture(c.model_type)};
  if (std::optional<JsonValue> archs = fields.find("architectures"); archs && !archs->is_null())
    c.architectures = archs->as_strings();

  c.hidden_size = fields.at("hidden_size").as_int();
  c.num_hidden_layers = fields.at("num_hidden_layers").as_int();
  c.num_attention_heads = fields.at("num_attention_heads").as_int();
  c.vocab_size = fields.at("vocab_size").as_int();
  c.intermediate_size = fields.at("intermediate_size").as_int();
  c.num_key_value_heads = fields.get_int("num_key_value_heads", c.num_attention_heads);
  c.head_dim = fields.get_int("head_dim", c.model_type == "qwen3" ? kQwen3HeadDim : c.head_dim);
  c.max_position_embeddings = fields.get_int("max_position_embeddings", c.max_position_embeddings);
  c.rms_norm_eps = fields.get_double("rms_norm_eps", c.rms_norm_eps);
  c.tie_word_embeddings = fields.get_bool("tie_word_embeddings", c.tie_word_embeddings);
  c.bos_token_id = token_id(fields, "bos_token_id", c.bos_token_id);
  c.eos_token_id = token_id(fields, "eos_token_id", c.eos_token_id);
  c.pad_token_id = token_id(fields, "pad_token_id", c.pad_token_id);
  // Newer transformers write "dtype", older ones "torch_dtype".
  c.torch_dtype = fields.get_string("torch_dtype", fields.get_string("dtype", c.torch_dtype));

  c.rope_theta = fields.get_double("rope_theta", c.rope_theta);
  if (std::optional<JsonValue> params = fields.find("rope_parameters"); params && !params->is_null()) {
    c.rope_theta = params->get_double("rope_theta", c.rope_theta);
    c.rope_scaling = parse_rope_scaling(*params);
  } else if (std::optional<JsonValue> scaling = fields.find("rope_scaling"); scaling && !scaling->is_null()) {
    c.rope_scaling = parse_rope_scaling(*scaling);
  }

  if (qwen) refuse_sliding_layers(fields);
  if (c.model_type == "mistral") {
    std::optional<JsonValue> window = fields.find("sliding_window");
    c.sliding_window = !window ? kMistralSlidingWindow : window->is_null() ? 0 : window->as_int(1, kMaxVocab);
  }

  // HF's Qwen2 attention always has q/k/v biases (never o_proj), whatever attention_bias
  // says; elsewhere attention_bias would also bias o_proj, which this decoder lacks.
  if (c.model_type == "qwen2") {
    c.attention_bias = true;
  } else if (fields.get_bool("attention_bias", false)) {
    fields.at("attention_bias").fail("is true for model_type '" + c.model_type +
                                     "', which adds an o_proj bias; unsupported (only Qwen2-style q/k/v biases are)");
  }
  if (fields.get_bool("mlp_bias", false)) fields.at("mlp_bias").fail("is true; MLP biases are not supported");

  const std::string act = fields.get_string("hidden_act", "silu");
  if (act != "silu") fields.at("hidden_act").fail("is '" + act + "'; only 'silu' (SwiGLU) is supported");

  c.validate(source);
  return c;
}

ModelConfig ModelConfig::load(const std::string& path) {
  return from_json(read_file(path, size_t(1) << 24), path);
}

std::string ModelConfig::to_json() const {
  json j = {
      {"architectures", architectures},
      {"model_type", model_type},
      {"vocab_size", vocab_size},
      {"hidden_size", hidden_size},
      {"intermediate_size", intermediate_size},
      {"num_hidden_layers", num_hidden_layers},
      {"num_attention_heads", num_attention_heads},
      {"num_key_value_heads", num_key_value_heads},
      {"head_dim", effective_head_dim()},
      {"max_position_embeddings", max_position_embeddings},
      {"hidden_act", "silu"},
      {"rms_norm_eps", rms_norm_eps},
      {"rope_theta", rope_theta},
      {"rope_scaling", rope_scaling_json(rope_scaling)},
      {"attention_bias", attention_bias},
      {"attention_dropout", 0.0},
      {"mlp_bias", false},
      {"tie_word_embeddings", tie_word_embeddings},
      {"bos_token_id", token_id_json(bos_token_id)},
      {"eos_token_id", token_id_json(eos_token_id)},
      {"pad_token_id", token_id_json(pad_token_id)},
      {"torch_dtype", torch_dtype},
      {"use_cache", true},
  };
  // Absent means 4096 to Mistral readers, so "no window" must be written as null.
  if (model_type == "mistral") j["sliding_window"] = sliding_window > 0 ? json(sliding_window) : json(nullptr);
  return j.dump(2) + "\n";
}

void ModelConfig::validate(const std::string& source) const {
  if (!is_supported_type(model_type))
    throw FormatError(source + ": field 'model_type' is '" + model_type + "'; supported: " + kSupportedTypes);
  check_range(source, "vocab_size", vocab_size, kMaxVocab);
  check_range(source, "hidden_size", hidden_size, kMaxDim);
  check_range(source, "intermediate_size", intermediate_size, kMaxDim);
  check_range(source, "num_hidden_layers", num_hidden_layers, kMaxLayers);
  check_range(source, "num_attention_heads", num_attention_heads, kMaxDim);
  check_range(source, "num_key_value_heads", num_key_value_heads, kMaxDim);
  check_range(source, "max_position_embeddings", max_position_embeddings, kMaxVocab);
  if (head_dim < 0 || head_dim > kMaxDim)
    throw FormatError(source + ": field 'head_dim' must be between 1 and " + std::to_string(kMaxDim) + " (or absent), got " +
                      std::to_string(head_dim));
  if (head_dim == 0 && hidden_size % num_attention_heads != 0)
    throw FormatError(source + ": field 'num_attention_heads' (" + std::to_string(num_attention_heads) +
                      ") does not divide hidden_size (" + std::to_string(hidden_size) + "); set head_dim explicitly");
  if (num_attention_heads % num_key_value_heads != 0)
    throw FormatError(source + ": field 'num_key_value_heads' (" + std::to_string(num_key_value_heads) +
                      ") does not divide num_attention_heads (" + std::to_string(num_attention_heads) + ")");
  if (effective_head_dim() % 2 != 0)
    throw FormatError(source + ": field 'head_dim' (" + std::to_string(effective_head_dim()) +
                      ") must be even for rotate-half RoPE");
  if (!(rms_norm_eps > 0)) throw FormatError(source + ": field 'rms_norm_eps' must be positive");
  if (!(rope_theta > 0)) throw FormatError(source + ": field 'rope_theta' must be positive");
  if (sliding_window < 0) throw FormatError(source + ": field 'sliding_window' must be positive (or absent)");
  validate_rope_scaling(rope_scaling, source);
  for (auto [field, id] : {std::pair<const char*, int64_t>{"bos_token_id", bos_token_id}, {"eos_token_id", eos_token_id},
                           {"pad_token_id", pad_token_id}}) {
    if (id < -1 || id >= vocab_size)
      throw FormatError(source + ": field '" + field + "' (" + std::to_string(id) + ") is outside the vocabulary [0, " +
                        std::to_string(vocab_size) + ")");
  }
}

int64_t ModelConfig::num_parameters() const {
  const int64_t hd = effective_head_dim();
  const int64_t q = num_attention_heads * hd, kv = num_key_value_heads * hd;
  const int64_t attention = hidden_size * (q + 2 * kv) + q * hidden_size + (attention_bias ? q + 2 * kv : 0);
  const int64_t mlp = 3 * hidden_size * intermediate_size;
  const int64_t layer = attention + mlp + 2 * hidden_size + (has_qk_norm() ? 2 * hd : 0);
  const int64_t embeddings = vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2);
  return embeddings + num_hidden_layers * layer + hidden_size;
}

}  // namespace lrem
