// The architecture of a Llama-family decoder, read from and written to a Hugging Face
// config.json. Llama (incl. Llama 3.x RoPE scaling), Mistral, Qwen2/Qwen2.5 (q/k/v bias) and
// Qwen3 (per-head q/k RMSNorm, explicit head_dim) map onto the same fields.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lrem {

// rope_scaling of config.json (HF's modeling_rope_utils): how the RoPE inverse frequencies
// are derived from rope_theta. "default" is plain RoPE; "linear" divides every frequency by
// factor; "llama3" divides the low frequencies by factor, keeps the high ones and
// interpolates between (Llama 3.1+).
struct RopeScaling {
  std::string type = "default";  // default, linear or llama3
  double factor = 1.0;
  double low_freq_factor = 1.0;                   // llama3 only
  double high_freq_factor = 4.0;                  // llama3 only
  int64_t original_max_position_embeddings = 0;  // llama3 only
};

struct ModelConfig {
  std::string model_type = "llama";  // llama, mistral, qwen2 or qwen3
  std::vector<std::string> architectures = {"LlamaForCausalLM"};
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;
  int64_t head_dim = 0;  // 0: hidden_size / num_attention_heads
  int64_t max_position_embeddings = 2048;
  // Mistral's sliding attention window (0: none). Within the window sliding attention equals
  // full causal attention, so positions are limited to it (max_positions()) rather than the
  // model refused; Qwen configs that turn sliding windows on are refused instead.
  int64_t sliding_window = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool attention_bias = false;  // q/k/v projections carry a bias (Qwen2); o_proj never does
  bool tie_word_embeddings = false;
  int64_t bos_token_id = 1;   // -1: none declared (null in config.json)
  int64_t eos_token_id = 2;   // the first one when config.json lists several
  int64_t pad_token_id = -1;  // -1: none declared
  std::string torch_dtype = "float32";

  int64_t effective_head_dim() const {
    return head_dim > 0 ? head_dim : hidden_size / num_attention_heads;
  }
  // Qwen3 normalises every query and key head (self_attn.q_norm / k_norm) before RoPE.
  bool has_qk_norm() const { return model_type == "qwen3"; }
  // The positions the model accepts: max_position_embeddings, capped by a sliding window.
  int64_t max_positions() const {
    return sliding_window > 0 && sliding_window < max_position_embeddings ? sliding_window : max_position_embeddings;
  }

  // Parses config.json text; `source` names the file in error messages.
  // Throws FormatError naming the file and field for malformed JSON, missing or mistyped
  // fields, unsupported features (model_type other than llama/mistral/qwen2/qwen3, mixtures
  // of experts, hidden_act other than silu, rope_scaling other than linear/llama3, Qwen
  // sliding-window layers, mlp_bias, an attention_bias that would also bias o_proj) or
  // inconsistent sizes. Unknown fields (use_cache...) are ignored. Newer transformers'
  // rope_parameters (rope_theta and the scaling in one object) is read like rope_scaling.
  static ModelConfig from_json(const std::string& text, const std::string& source = "config.json");
  // Reads and parses a config.json file (IoError if it cannot be read).
  static ModelConfig load(const std::string& path);
  // A config.json that Hugging Face transformers loads as the same architecture.
  std::string to_json() const;

  // Throws FormatError if sizes are non-positive, absurdly large or inconsistent
  // (head counts not dividing, odd head_dim which rotate-half RoPE cannot use, an unknown
  // rope_scaling type or factors out of range...).
  void validate(const std::string& source = "config") const;

  // Parameter count (tied embeddings counted once), for reporting and FLOP estimates.
  int64_t num_parameters() const;
};

}  // namespace lrem
