#include "lrem/config.h"

#include <nlohmann/json.hpp>

#include <limits>

#include "file_io.h"
#include "lrem/error.h"

namespace lrem {

namespace {

using nlohmann::json;

// Upper bounds far above any real model; they keep num_parameters() and the tensor
// allocations derived from a config free of integer overflow.
constexpr int64_t kMaxDim = int64_t(1) << 20;
constexpr int64_t kMaxVocab = int64_t(1) << 24;
constexpr int64_t kMaxLayers = 4096;

// Reads typed fields out of the top-level object, naming file and field in every error.
class Fields {
 public:
  Fields(const json& object, const std::string& source) : object_(object), source_(source) {}

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw FormatError(source_ + ": field '" + field + "' " + problem);
  }

  // nullptr when absent; null values count as present.
  const json* find(const std::string& field) const {
    auto it = object_.find(field);
    return it == object_.end() ? nullptr : &*it;
  }

  const json& require(const std::string& field) const {
    const json* value = find(field);
    if (!value) fail(field, "is missing (required in a Hugging Face config.json)");
    return *value;
  }

  int64_t integer(const std::string& field, const json& value) const {
    if (!value.is_number_integer()) fail(field, "must be an integer, got " + value.dump());
    if (value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      fail(field, "is out of range: " + value.dump());
    return value.get<int64_t>();
  }

  int64_t required_int(const std::string& field) const { return integer(field, require(field)); }

  void optional_int(const std::string& field, int64_t& out) const {
    if (const json* value = find(field)) out = integer(field, *value);
  }

  // Token ids: null means "none" (-1); a list (eos in Llama 3 configs) contributes its first id.
  void optional_token_id(const std::string& field, int64_t& out) const {
    const json* value = find(field);
    if (!value) return;
    if (value->is_null()) {
      out = -1;
    } else if (value->is_array()) {
      if (value->empty()) fail(field, "is an empty list; give a token id or null");
      out = integer(field, value->front());
    } else {
      out = integer(field, *value);
    }
  }

  void optional_double(const std::string& field, double& out) const {
    const json* value = find(field);
    if (!value) return;
    if (!value->is_number()) fail(field, "must be a number, got " + value->dump());
    out = value->get<double>();
  }

  void optional_bool(const std::string& field, bool& out) const {
    const json* value = find(field);
    if (!value) return;
    if (!value->is_boolean()) fail(field, "must be true or false, got " + value->dump());
    out = value->get<bool>();
  }

  std::string optional_string(const std::string& field, const std::string& fallback) const {
    const json* value = find(field);
    if (!value || value->is_null()) return fallback;
    if (!value->is_string()) fail(field, "must be a string, got " + value->dump());
    return value->get<std::string>();
  }

 private:
  const json& object_;
  const std::string& source_;
};

std::string default_architecture(const std::string& model_type) {
  if (model_type == "mistral") return "MistralForCausalLM";
  if (model_type == "qwen2") return "Qwen2ForCausalLM";
  return "LlamaForCausalLM";
}

void check_range(const std::string& source, const char* field, int64_t value, int64_t max) {
  if (value <= 0 || value > max)
    throw FormatError(source + ": field '" + field + "' must be between 1 and " + std::to_string(max) +
                      ", got " + std::to_string(value));
}

json token_id_json(int64_t id) { return id < 0 ? json(nullptr) : json(id); }

}  // namespace

ModelConfig ModelConfig::from_json(const std::string& text, const std::string& source) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    throw FormatError(source + ": not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object()) throw FormatError(source + ": expected a JSON object at the top level, got " + root.type_name());
  const Fields fields(root, source);

  ModelConfig c;
  const json& model_type = fields.require("model_type");
  if (!model_type.is_string()) fields.fail("model_type", "must be a string, got " + model_type.dump());
  c.model_type = model_type.get<std::string>();
  if (c.model_type != "llama" && c.model_type != "mistral" && c.model_type != "qwen2")
    fields.fail("model_type", "is '" + c.model_type + "'; supported: llama, mistral, qwen2");

  c.architectures = {default_architecture(c.model_type)};
  if (const json* archs = fields.find("architectures"); archs && !archs->is_null()) {
    if (!archs->is_array()) fields.fail("architectures", "must be a list of strings");
    c.architectures.clear();
    for (const json& a : *archs) {
      if (!a.is_string()) fields.fail("architectures", "must be a list of strings, contains " + a.dump());
      c.architectures.push_back(a.get<std::string>());
    }
  }

  c.hidden_size = fields.required_int("hidden_size");
  c.num_hidden_layers = fields.required_int("num_hidden_layers");
  c.num_attention_heads = fields.required_int("num_attention_heads");
  c.vocab_size = fields.required_int("vocab_size");
  c.intermediate_size = fields.required_int("intermediate_size");
  c.num_key_value_heads = c.num_attention_heads;
  if (const json* kv = fields.find("num_key_value_heads"); kv && !kv->is_null())
    c.num_key_value_heads = fields.integer("num_key_value_heads", *kv);
  if (const json* hd = fields.find("head_dim"); hd && !hd->is_null()) c.head_dim = fields.integer("head_dim", *hd);
  fields.optional_int("max_position_embeddings", c.max_position_embeddings);
  fields.optional_double("rms_norm_eps", c.rms_norm_eps);
  fields.optional_double("rope_theta", c.rope_theta);
  fields.optional_bool("tie_word_embeddings", c.tie_word_embeddings);
  fields.optional_token_id("bos_token_id", c.bos_token_id);
  fields.optional_token_id("eos_token_id", c.eos_token_id);
  fields.optional_token_id("pad_token_id", c.pad_token_id);
  // Newer transformers write "dtype", older ones "torch_dtype".
  c.torch_dtype = fields.optional_string("torch_dtype", fields.optional_string("dtype", c.torch_dtype));

  // Qwen2's attention always has q/k/v biases; a Llama attention_bias would also bias
  // o_proj, which this decoder does not implement.
  c.attention_bias = c.model_type == "qwen2";
  fields.optional_bool("attention_bias", c.attention_bias);
  if (c.attention_bias && c.model_type != "qwen2")
    fields.fail("attention_bias", "is true for model_type '" + c.model_type +
                                      "', which adds an o_proj bias; unsupported (only Qwen2-style q/k/v biases are)");
  bool mlp_bias = false;
  fields.optional_bool("mlp_bias", mlp_bias);
  if (mlp_bias) fields.fail("mlp_bias", "is true; MLP biases are not supported");

  const std::string act = fields.optional_string("hidden_act", "silu");
  if (act != "silu") fields.fail("hidden_act", "is '" + act + "'; only 'silu' (SwiGLU) is supported");
  if (const json* scaling = fields.find("rope_scaling"); scaling && !scaling->is_null())
    fields.fail("rope_scaling", "is set (" + scaling->dump() + "); RoPE scaling is unsupported, only plain RoPE");

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
      {"rope_scaling", nullptr},
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
  return j.dump(2) + "\n";
}

void ModelConfig::validate(const std::string& source) const {
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
  const int64_t layer = attention + mlp + 2 * hidden_size;
  const int64_t embeddings = vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2);
  return embeddings + num_hidden_layers * layer + hidden_size;
}

}  // namespace lrem
