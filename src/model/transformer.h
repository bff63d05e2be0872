// The Llama-family decoder (Llama, Mistral, Qwen2 with q/k/v bias, Qwen3 with per-head q/k
// RMSNorm) in ATen: token embedding, RMSNorm, rotate-half RoPE (optionally scaled, see rope.h),
// grouped-query attention, SwiGLU MLP, tied or untied lm_head.
// Parameters use the Hugging Face names so checkpoints map one to one.
// Internal header: torch does not appear in lrem's public headers.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lrem/config.h"
#include "model/int8_linear.h"

namespace lrem {

// Preallocated key/value buffers for incremental decoding: per layer
// [row_capacity, num_key_value_heads, capacity, head_dim], of which the first batch() rows are
// in use (a continuous batch keeps spare rows for sequences that join later). Positions
// [0, length) are filled.
class KVCache {
 public:
  KVCache(const ModelConfig& config, int64_t batch, int64_t capacity, const at::TensorOptions& options);

  int64_t batch() const { return batch_; }
  int64_t row_capacity() const { return keys_.empty() ? batch_ : keys_[0].size(0); }
  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }

  // The rows in use: [batch, num_key_value_heads, capacity, head_dim] views of the buffers.
  at::Tensor keys(size_t layer) const { return keys_[layer].narrow(0, 0, batch_); }
  at::Tensor values(size_t layer) const { return values_[layer].narrow(0, 0, batch_); }
  // Marks n more positions as filled (called once per forward, after every layer wrote).
  // Throws LimitExceeded if that would pass capacity().
  void advance(int64_t n);
  // Repeats row 0's first `length()` positions into every row: a shared prompt prefix
  // computed once for batch 1 seeds a batch of continuations.
  KVCache expand_prefix(int64_t batch, int64_t capacity) const;
  // Keeps only the given rows (e.g. drops finished sequences).
  void select_rows(const at::Tensor& rows);

  // An empty cache laid out like this one with room for `rows` rows and `capacity` positions;
  // none in use yet (set_extent).
  KVCache empty_like(int64_t rows, int64_t capacity) const;
  // Copies rows [src_row, src_row + rows) of `src`, positions [src_col, src_col + columns),
  // to rows [dst_row, ...) and positions [dst_col, ...) of this cache (`src` may be this
  // cache when the row ranges do not overlap).
  void copy_block(const KVCache& src, int64_t src_row, int64_t dst_row, int64_t rows, int64_t src_col, int64_t dst_col,
                  int64_t columns);
  // Sets the rows in use and the positions filled, within the buffers (InvalidArgument beyond).
  void set_extent(int64_t batch, int64_t length);

 private:
  KVCache(int64_t batch, int64_t capacity, int64_t length) : batch_(batch), capacity_(capacity), length_(length) {}
  int64_t batch_, capacity_, length_ = 0;
  std::vector<at::Tensor> keys_, values_;
};

// Low-rank adapters (LoRA, Hu et al. 2021) on the linear projections of every layer: a
// projection W x becomes W x + (alpha / r) B A dropout(x), with A [r, in] and B [out, r]
// trained while W stays frozen. The embedding rows of `token_ids` (the LREM special tokens)
// are trained as copies that replace those rows (and the matching lm_head rows; a tied head
// reads the same copies), as PEFT's trainable tokens do. Adapter tensors are named as PEFT
// names them inside "base_model.model.": "model.layers.{i}.self_attn.q_proj.lora_A.weight",
// "model.embed_tokens.token_adapter.trainable_tokens_delta" and, for an untied head,
// "lm_head.token_adapter.trainable_tokens_delta".
struct LoraSpec {
  int64_t r = 8;
  double alpha = 16;
  double dropout = 0;  // on the adapter's input, while gradients are recorded (training)
  std::vector<std::string> target_modules;  // of q_proj k_proj v_proj o_proj gate_proj up_proj down_proj
  std::vector<int64_t> token_ids;

  double scale() const { return alpha / double(r); }
  static const std::vector<std::string>& all_modules();
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
  // InvalidArgument for requires_grad on an int8 model.
  void set_requires_grad(bool requires_grad);

  // Inference with int8 weights (LoadOptions::dtype "int8", model/int8_linear.h): every
  // projection of every layer runs on an int8 copy of its weight with dynamically quantised
  // float32 activations; embeddings, norms, attention, the LM head and the residual stream
  // stay float32, and parameters() keeps the float32 weights (save, fingerprint). Kept across
  // resize_vocab and copies. Needs a float32 model without adapters; training refuses it.
  void quantize_int8();
  bool int8() const { return int8_; }

  // Attaches adapters: `tensors` (named as in LoraSpec) are taken as they are, after a check
  // that every one is there with its shape; with none given, they are initialised as PEFT
  // does, from `seed`: A Kaiming-uniform, B zero (so the model starts out unchanged), token
  // rows copied from the weights. The
  // adapter tensors require grad; the base weights keep their setting (set_requires_grad(false)
  // freezes them). FormatError for an unknown target module, token id or tensor name.
  void attach_lora(const LoraSpec& spec, const std::map<std::string, at::Tensor>& tensors, uint64_t seed);
  // The adapter tensors (empty without adapters) and their spec (nullptr without).
  const std::map<std::string, at::Tensor>& lora_parameters() const { return lora_params_; }
  const LoraSpec* lora() const { return lora_ ? &*lora_ : nullptr; }
  // Folds the adapters into the weights (W += scale B A; token rows copied in) and drops them:
  // afterwards parameters() is a plain checkpoint that computes what the adapted model did.
  // The weights are replaced, never written into, so copies of this Transformer keep theirs.
  void merge_lora();
  // The tensors an optimiser updates: the adapters when attached, else every parameter.
  const std::map<std::string, at::Tensor>& trainable_parameters() const {
    return lora_ ? lora_params_ : params_;
  }

  // Recompute each layer's activations during backward instead of keeping them
  // (model/activation_checkpoint.h): training memory for activations drops to about one
  // layer's worth plus each layer's input, for one more forward pass per step.
  void set_gradient_checkpointing(bool on) { gradient_checkpointing_ = on; }

  // input_ids, position_ids: [B, T] int64. attention_mask: [B, past + T] (nonzero = real token)
  // or undefined for "all real". With a cache, keys/values of these T positions are written at
  // [cache.length(), cache.length() + T) and the cache advances by T.
  // Throws LimitExceeded for positions past max_position_embeddings or a full cache.
  ForwardOutput forward(const at::Tensor& input_ids, const at::Tensor& position_ids,
                        const at::Tensor& attention_mask, KVCache* cache, bool compute_logits = true) const;

  // hidden [..., hidden_size] (any float dtype) -> logits [..., vocab_size] in the compute dtype.
  at::Tensor logits(const at::Tensor& hidden) const;

 private:
  // A projection: its weight, optional bias, optional LoRA factors, and its int8 form
  // when quantize_int8() was called.
  struct Linear {
    at::Tensor weight, bias, lora_a, lora_b;
    Int8Linear int8;
  };
  // Handles into params_ and lora_params_ for the hot path (no string lookups per step).
  struct Layer {
    at::Tensor input_norm, q_norm, k_norm, post_norm;
    Linear q, k, v, o, gate, up, down;
    std::vector<at::Tensor> tensors() const;  // every tensor the layer reads
  };

  void bind();  // refreshes the handles after params_ or lora_params_ changed
  // `train`: gradients are being recorded (LoRA dropout applies).
  at::Tensor linear(const at::Tensor& x, const Linear& p, bool train) const;
  at::Tensor attention(const Layer& layer, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                       const at::Tensor& mask, KVCache* cache, size_t index, bool train) const;
  at::Tensor decoder_layer(size_t index, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                           const at::Tensor& mask, KVCache* cache, bool train) const;
  at::Tensor embed(const at::Tensor& ids) const;

  ModelConfig config_;
  at::TensorOptions options_;
  bool requires_grad_ = false;
  bool gradient_checkpointing_ = false;
  bool int8_ = false;
  std::map<std::string, at::Tensor> params_;
  std::optional<LoraSpec> lora_;
  std::map<std::string, at::Tensor> lora_params_;
  at::Tensor embed_, norm_, lm_head_;
  // With trainable token rows: their ids [k], each vocabulary id's row among them or -1 [V],
  // and the rows replacing the embedding's and the head's (the same tensor when tied).
  at::Tensor token_ids_, token_slot_, token_rows_, head_rows_;
  std::vector<Layer> layers_;
  at::Tensor rope_cos_, rope_sin_;  // [config.max_positions(), head_dim / 2], float32
};

}  // namespace lrem
