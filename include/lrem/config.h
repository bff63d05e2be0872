// The architecture of a Llama-family decoder, read from and written to a Hugging Face
// config.json. Qwen2 (q/k/v bias) and Mistral-style configs map onto the same fields.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lrem {

struct ModelConfig {
  std::string model_type = "llama";  // llama, mistral or qwen2
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
  bool attention_bias = false;  // q/k/v projections carry a bias (Qwen2); o_proj never does
  bool tie_word_embeddings = false;
  int64_t bos_token_id = 1;   // -1: none declared (null in config.json)
  int64_t eos_token_id = 2;   // the first one when config.json lists several
  int64_t pad_token_id = -1;  // -1: none declared
  std::string torch_dtype = "float32";

  int64_t effective_head_dim() const {
    return head_dim > 0 ? head_dim : hidden_size / num_attention_heads;
  }

  // Parses config.json text; `source` names the file in error messages.
  // Throws FormatError naming the file and field for malformed JSON, missing or mistyped
  // fields, unsupported features (model_type other than llama/mistral/qwen2, hidden_act other
  // than silu, rope_scaling, mlp_bias, a Llama attention_bias which would also bias o_proj)
  // or inconsistent sizes. Unknown fields (sliding_window, use_cache...) are ignored.
  static ModelConfig from_json(const std::string& text, const std::string& source = "config.json");
  // Reads and parses a config.json file (IoError if it cannot be read).
  static ModelConfig load(const std::string& path);
  // A config.json that Hugging Face transformers loads as the same architecture.
  std::string to_json() const;

  // Throws FormatError if sizes are non-positive, absurdly large or inconsistent
  // (head counts not dividing, odd head_dim which rotate-half RoPE cannot use...).
  void validate(const std::string& source = "config") const;

  // Parameter count (tied embeddings counted once), for reporting and FLOP estimates.
  int64_t num_parameters() const;
};

}  // namespace lrem
