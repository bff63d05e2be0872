// The Llama-family decoder (Llama, Mistral, Qwen2 with q/k/v bias, Qwen3 with per-head q/k
// RMSNorm) in ATen: token embedding, RMSNorm, rotate-half RoPE (optionally scaled, see rope.h),
// grouped-query attention, SwiGLU MLP, tied or untied lm_head.
// Parameters use the Hugging Face names so checkpoints map one to one.
// Internal header: torch does not appear in lrem's public headers.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lrem/config.h"

namespace lrem {

// Preallocated key/value buffers for incremental decoding: per layer
// [batch, num_key_value_heads, capacity, head_dim]. Positions [0, length) are filled.
class KVCache {
 public:
  KVCache(const ModelConfig& config, int64_t batch, int64_t capacity, const at::TensorOptions& options);

  int64_t batch() const { return batch_; }
  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }

  at::Tensor& keys(size_t layer) { return keys_[layer]; }
  at::Tensor& values(size_t layer) { return values_[layer]; }
  // Marks n more positions as filled (called once per forward, after every layer wrote).
  // Throws LimitExceeded if that would pass capacity().
  void advance(int64_t n);
  // Repeats row 0's first `length()` positions into every row: a shared prompt prefix
  // computed once for batch 1 seeds a batch of continuations.
  KVCache expand_prefix(int64_t batch, int64_t capacity) const;
  // Keeps only the given rows (e.g. drops finished sequences).
  void select_rows(const at::Tensor& rows);

 private:
  KVCache(int64_t batch, int64_t capacity, int64_t length) : batch_(batch), capacity_(capacity), length_(length) {}
  int64_t batch_, capacity_, length_ = 0;
  std::vector<at::Tensor> keys_, values_;
};

struct ForwardOutput {
  at::Tensor hidden;  // [B, T, hidden_size] float32, after the final norm (HF's last_hidden_state)
  at::Tensor logits;  // [B, T, vocab_size] in the compute dtype, or undefined when not requested
};

class Transformer {
 public:
  explicit Transformer(ModelConfig config, const at::TensorOptions& options = at::kFloat);

  const ModelConfig& config() const { return config_; }
  at::TensorOptions options() const { return options_; }

  // Fills the parameters with N(0, 0.02) (norm weights with 1, biases with 0), deterministically
  // from seed (drawn on the CPU, so the same seed gives the same weights on every device).
  void init_random(uint64_t seed);

  // Parameters by Hugging Face name ("model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
  // ..., "lm_head.weight" only when untied). Tensors share storage with the model. Empty until
  // init_random() or load_parameters(); forward() refuses to run before.
  const std::map<std::string, at::Tensor>& parameters() const { return params_; }
  // Replaces every parameter; throws FormatError naming any missing, unexpected or
  // mis-shaped tensor (validate_parameters in checkpoint.h). Tensors are converted to this
  // model's dtype/device.
  void load_parameters(const std::map<std::string, at::Tensor>& tensors, const std::string& source);

  // Grows the vocabulary (embedding and untied lm_head rows) to new_vocab_size; new rows are
  // initialised with the mean of the existing rows, as Hugging Face's resize_token_embeddings.
  void resize_vocab(int64_t new_vocab_size);

  // Makes every parameter a leaf that requires grad (or not); kept across load/resize.
  void set_requires_grad(bool requires_grad);

  // input_ids, position_ids: [B, T] int64. attention_mask: [B, past + T] (nonzero = real token)
  // or undefined for "all real". With a cache, keys/values of these T positions are written at
  // [cache.length(), cache.length() + T) and the cache advances by T.
  // Throws LimitExceeded for positions past max_position_embeddings or a full cache.
  ForwardOutput forward(const at::Tensor& input_ids, const at::Tensor& position_ids,
                        const at::Tensor& attention_mask, KVCache* cache, bool compute_logits = true) const;

  // hidden [..., hidden_size] (any float dtype) -> logits [..., vocab_size] in the compute dtype.
  at::Tensor logits(const at::Tensor& hidden) const;

 private:
  // Handles into params_ for the hot path (no string lookups per step).
  struct Layer {
    at::Tensor input_norm, q, k, v, o, q_bias, k_bias, v_bias, q_norm, k_norm, post_norm, gate, up, down;
  };

  void bind();  // refreshes embed_/layers_/norm_/lm_head_ after params_ changed
  at::Tensor attention(const Layer& layer, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                       const at::Tensor& mask, KVCache* cache, size_t index) const;

  ModelConfig config_;
  at::TensorOptions options_;
  bool requires_grad_ = false;
  std::map<std::string, at::Tensor> params_;
  at::Tensor embed_, norm_, lm_head_;
  std::vector<Layer> layers_;
  at::Tensor rope_cos_, rope_sin_;  // [config.max_positions(), head_dim / 2], float32
};

}  // namespace lrem
