// The architecture of a Llama-family decoder, read from and written to a Hugging Face
// config.json. Qwen2 (q/k/v bias) and Mistral-style configs map onto the same fields.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lrem {

struct ModelConfig {
  std::string model_type = "llama";
  std::vector<std::string> architectures = {"LlamaForCausalLM"};
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;
  int64_t head_dim = 0;  // 0: hidden_size / num_attention_heads
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool attention_bias = false;  // q/k/v projections carry a bias (Qwen2)
  bool tie_word_embeddings = false;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;
  int64_t pad_token_id = -1;  // -1: none declared
  std::string torch_dtype = "float32";

  int64_t effective_head_dim() const {
    return head_dim > 0 ? head_dim : hidden_size / num_attention_heads;
  }

  // Parses config.json text; `source` names the file in error messages.
  // Throws FormatError for malformed JSON, missing required fields, unsupported
  // features (hidden_act other than silu, rope_scaling) or inconsistent sizes.
  static ModelConfig from_json(const std::string& text, const std::string& source = "config.json");
  static ModelConfig load(const std::string& path);
  std::string to_json() const;

  // Throws FormatError if the sizes are inconsistent (heads not dividing, GQA ratio...).
  void validate(const std::string& source = "config") const;

  // Parameter count, for reporting and FLOP estimates.
  int64_t num_parameters() const;
};

}  // namespace lrem
