#include "model/transformer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "model/checkpoint.h"
#include "model/rope.h"
#include "lrem/error.h"

namespace lrem {

namespace {

std::string shape_string(at::IntArrayRef shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

std::string layer_prefix(int64_t i) { return "model.layers." + std::to_string(i) + "."; }

// Throws LimitExceeded/InvalidArgument unless every value of an integer tensor lies in [lo, hi).
void check_range(const at::Tensor& t, int64_t lo, int64_t hi, const std::string& what, bool is_limit) {
  if (t.numel() == 0) return;
  const int64_t min = t.min().item<int64_t>(), max = t.max().item<int64_t>();
  if (min >= lo && max < hi) return;
  const std::string message = what + " must lie in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                              "), got values from " + std::to_string(min) + " to " + std::to_string(max);
  if (is_limit) throw LimitExceeded(message);
  throw InvalidArgument(message);
}

// HF LlamaRMSNorm: normalise in float32, cast to `dtype`, then scale by the weight (which
// promotes a bfloat16 weight to float32 when dtype is float32).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, at::ScalarType dtype) {
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(dtype);
}

// Rotate-half RoPE: x * cos + rotate_half(x) * sin with cos/sin holding each frequency once.
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return at::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
}

// x [..., in] -> [..., out]. In float32 a single row (a batch-1 decode step) goes through a
// matrix-vector product: OpenBLAS's GEMM packs the whole weight matrix first even for one
// row, which made the 0.1B model's LM head 4.8x slower than GEMV, itself at the bandwidth
// floor (docs/BENCHMARKS.md). bfloat16 GEMMs go to oneDNN, which has no such cost, while
// at::mv in bfloat16 is a plain loop: routing bf16 rows through it halved the 0.1B decode
// step's speed (bench/levers.md).
at::Tensor project(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {}) {
  if (x.numel() == x.size(-1) && x.scalar_type() == at::kFloat) {
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = weight.size(0);
    at::Tensor out = at::mv(weight, x.reshape({-1}));
    if (bias.defined()) out = out + bias;
    return out.view(shape);
  }
  return bias.defined() ? at::linear(x, weight, bias) : at::linear(x, weight);
}

}  // namespace

// ---- KVCache -----------------------------------------------------------------------------

KVCache::KVCache(const ModelConfig& config, int64_t batch, int64_t capacity, const at::TensorOptions& options)
    : batch_(batch), capacity_(capacity) {
  if (batch <= 0 || capacity <= 0)
    throw InvalidArgument("KVCache needs a positive batch and capacity, got batch " + std::to_string(batch) +
                          " and capacity " + std::to_string(capacity));
  const std::vector<int64_t> shape = {batch, config.num_key_value_heads, capacity, config.effective_head_dim()};
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    keys_.push_back(at::zeros(shape, options));
    values_.push_back(at::zeros(shape, options));
  }
}

void KVCache::advance(int64_t n) {
  if (n < 0 || length_ + n > capacity_)
    throw LimitExceeded("KV cache overflow: " + std::to_string(length_) + " positions filled, " + std::to_string(n) +
                        " more requested, capacity " + std::to_string(capacity_) +
                        "; allocate a larger cache (prompt length + new tokens)");
  length_ += n;
}

KVCache KVCache::expand_prefix(int64_t batch, int64_t capacity) const {
  if (batch <= 0 || capacity < length_)
    throw InvalidArgument("expand_prefix needs a positive batch and capacity >= the prefix length " +
                          std::to_string(length_) + ", got batch " + std::to_string(batch) + " and capacity " +
                          std::to_string(capacity));
  KVCache out(batch, capacity, length_);
  auto expand = [&](const at::Tensor& src) {
    std::vector<int64_t> shape = src.sizes().vec();
    shape[0] = batch;
    shape[2] = capacity;
    at::Tensor dst = at::zeros(shape, src.options());
    dst.narrow(2, 0, length_).copy_(src.narrow(0, 0, 1).narrow(2, 0, length_));  // broadcasts row 0
    return dst;
  };
  for (size_t i = 0; i < keys_.size(); ++i) {
    out.keys_.push_back(expand(keys_[i]));
    out.values_.push_back(expand(values_[i]));
  }
  return out;
}

void KVCache::select_rows(const at::Tensor& rows) {
  const at::Tensor index = rows.to(at::kLong);
  check_range(index, 0, batch_, "KVCache::select_rows row indices", /*is_limit=*/false);
  for (size_t i = 0; i < keys_.size(); ++i) {
    keys_[i] = keys_[i].index_select(0, index.to(keys_[i].device()));
    values_[i] = values_[i].index_select(0, index.to(values_[i].device()));
  }
  batch_ = index.numel();
}

// ---- Transformer: parameters ---------------------------------------------------------------

Transformer::Transformer(ModelConfig config, const at::TensorOptions& options)
    : config_(std::move(config)), options_(options) {
  config_.validate();
  if (config_.effective_head_dim() % 2 != 0)
    throw FormatError("head_dim must be even for rotary embeddings, got " + std::to_string(config_.effective_head_dim()));

  // HF computes the RoPE tables in float32 as positions x inverse frequencies; so do we.
  const at::Tensor t = at::arange(config_.max_positions(), at::TensorOptions().dtype(at::kFloat));
  const at::Tensor freqs = at::outer(t, rope_inverse_frequencies(config_));
  rope_cos_ = freqs.cos().to(options_.device());
  rope_sin_ = freqs.sin().to(options_.device());
}

void Transformer::bind() {
  auto get = [&](const std::string& name) {
    const auto it = params_.find(name);
    return it == params_.end() ? at::Tensor() : it->second;
  };
  embed_ = get("model.embed_tokens.weight");
  norm_ = get("model.norm.weight");
  lm_head_ = config_.tie_word_embeddings ? embed_ : get("lm_head.weight");
  layers_.clear();
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const std::string p = layer_prefix(i);
    Layer l;
    l.input_norm = get(p + "input_layernorm.weight");
    l.q = get(p + "self_attn.q_proj.weight");
    l.k = get(p + "self_attn.k_proj.weight");
    l.v = get(p + "self_attn.v_proj.weight");
    l.o = get(p + "self_attn.o_proj.weight");
    l.q_bias = get(p + "self_attn.q_proj.bias");
    l.k_bias = get(p + "self_attn.k_proj.bias");
    l.v_bias = get(p + "self_attn.v_proj.bias");
    l.q_norm = get(p + "self_attn.q_norm.weight");
    l.k_norm = get(p + "self_attn.k_norm.weight");
    l.post_norm = get(p + "post_attention_layernorm.weight");
    l.gate = get(p + "mlp.gate_proj.weight");
    l.up = get(p + "mlp.up_proj.weight");
    l.down = get(p + "mlp.down_proj.weight");
    layers_.push_back(std::move(l));
  }
}

void Transformer::init_random(uint64_t seed) {
  at::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::map<std::string, at::Tensor> params;
  // Drawn in the map's (sorted) name order: the weights depend only on the seed and the config.
  for (const auto& [name, shape] : llama_parameter_shapes(config_)) {
    const bool is_norm = name.find("norm.weight") != std::string::npos;
    const bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    at::Tensor t;
    if (is_norm)
      t = at::ones(shape, at::kFloat);
    else if (is_bias)
      t = at::zeros(shape, at::kFloat);
    else
      t = at::empty(shape, at::kFloat).normal_(0.0, 0.02, gen);
    params[name] = t.to(options_).requires_grad_(requires_grad_);
  }
  params_ = std::move(params);
  bind();
}

void Transformer::load_parameters(const std::map<std::string, at::Tensor>& tensors, const std::string& source) {
  std::map<std::string, at::Tensor> checked = tensors;  // handles only; validation may drop a tied lm_head
  validate_parameters(checked, config_, source);
  at::NoGradGuard no_grad;
  for (auto& [name, tensor] : checked) tensor = tensor.to(options_).contiguous().detach().requires_grad_(requires_grad_);
  params_ = std::move(checked);
  bind();
}

void Transformer::resize_vocab(int64_t new_vocab_size) {
  if (new_vocab_size < config_.vocab_size)
    throw InvalidArgument("resize_vocab can only grow the vocabulary (" + std::to_string(config_.vocab_size) + " -> " +
                          std::to_string(new_vocab_size) + ")");
  if (new_vocab_size == config_.vocab_size) return;
  at::NoGradGuard no_grad;
  const int64_t added = new_vocab_size - config_.vocab_size;
  auto grow = [&](const std::string& name) {
    const at::Tensor old = params_.at(name).detach();
    const at::Tensor mean = old.to(at::kFloat).mean(0, /*keepdim=*/true).to(old.scalar_type());
    params_[name] = at::cat({old, mean.expand({added, old.size(1)})}, 0).requires_grad_(requires_grad_);
  };
  grow("model.embed_tokens.weight");
  if (!config_.tie_word_embeddings) grow("lm_head.weight");
  config_.vocab_size = new_vocab_size;
  bind();
}

void Transformer::set_requires_grad(bool requires_grad) {
  requires_grad_ = requires_grad;
  for (auto& [name, tensor] : params_) tensor.requires_grad_(requires_grad);
}

// ---- Transformer: forward -------------------------------------------------------------------

at::Tensor Transformer::attention(const Layer& layer, const at::Tensor& x, const at::Tensor& cos,
                                  const at::Tensor& sin, const at::Tensor& mask, KVCache* cache, size_t index) const {
  const int64_t B = x.size(0), T = x.size(1), d = config_.effective_head_dim();
  const int64_t n_heads = config_.num_attention_heads, n_kv = config_.num_key_value_heads, groups = n_heads / n_kv;
  at::Tensor q = project(x, layer.q, layer.q_bias).view({B, T, n_heads, d});
  at::Tensor k = project(x, layer.k, layer.k_bias).view({B, T, n_kv, d});
  at::Tensor v = project(x, layer.v, layer.v_bias).view({B, T, n_kv, d}).transpose(1, 2);
  if (layer.q_norm.defined()) {  // Qwen3: RMSNorm over each head, before RoPE
    const auto dtype = q.scalar_type();
    q = rms_norm(q, layer.q_norm, config_.rms_norm_eps, dtype);
    k = rms_norm(k, layer.k_norm, config_.rms_norm_eps, dtype);
  }
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  q = apply_rope(q, cos, sin);
  k = apply_rope(k, cos, sin);
  if (cache) {
    const int64_t past = cache->length();
    cache->keys(index).narrow(2, past, T).copy_(k);
    cache->values(index).narrow(2, past, T).copy_(v);
    k = cache->keys(index).narrow(2, 0, past + T);
    v = cache->values(index).narrow(2, 0, past + T);
  }
  const int64_t S = k.size(2);
  // Grouped-query attention without repeating keys/values: query head h uses kv head
  // h / groups (HF's repeat_kv order), so the `groups` query heads of one kv head are
  // stacked along the time axis and share one matmul.
  const at::Tensor grouped_q = q.reshape({B, n_kv, groups * T, d});
  at::Tensor scores = at::matmul(grouped_q, k.transpose(2, 3)).to(at::kFloat) * (1.0 / std::sqrt(double(d)));
  if (mask.defined())
    scores = scores.view({B, n_kv, groups, T, S}).masked_fill(mask, std::numeric_limits<float>::lowest());
  // A fully masked row (a padding query) gets uniform weights: finite, and ignored by callers.
  const at::Tensor probs = at::softmax(scores, -1).to(x.scalar_type()).view({B, n_kv, groups * T, S});
  const at::Tensor out = at::matmul(probs, v).view({B, n_heads, T, d}).transpose(1, 2).reshape({B, T, n_heads * d});
  return project(out, layer.o);
}

ForwardOutput Transformer::forward(const at::Tensor& input_ids, const at::Tensor& position_ids,
                                   const at::Tensor& attention_mask, KVCache* cache, bool compute_logits) const {
  if (input_ids.dim() != 2 || position_ids.sizes() != input_ids.sizes())
    throw InvalidArgument("forward expects input_ids and position_ids of the same shape [batch, time], got " +
                          shape_string(input_ids.sizes()) + " and " + shape_string(position_ids.sizes()));
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  const int64_t past = cache ? cache->length() : 0, S = past + T;
  if (cache && cache->batch() != B)
    throw InvalidArgument("the KV cache holds " + std::to_string(cache->batch()) + " rows but the input has " +
                          std::to_string(B));
  if (cache && S > cache->capacity())
    throw LimitExceeded("KV cache overflow: " + std::to_string(past) + " positions filled, " + std::to_string(T) +
                        " more requested, capacity " + std::to_string(cache->capacity()) +
                        "; allocate a larger cache (prompt length + new tokens)");
  if (attention_mask.defined() && (attention_mask.dim() != 2 || attention_mask.size(0) != B || attention_mask.size(1) != S))
    throw InvalidArgument("attention_mask must have shape [" + std::to_string(B) + ", " + std::to_string(S) +
                          "] (batch, past + time), got " + shape_string(attention_mask.sizes()));
  if (!embed_.defined())
    throw InvalidArgument("the transformer has no weights yet: call init_random() or load_parameters() first");
  check_range(input_ids, 0, config_.vocab_size, "token ids", /*is_limit=*/false);
  check_range(position_ids, 0, config_.max_positions(), "position ids (max_position_embeddings or sliding_window)",
              /*is_limit=*/true);

  const auto device = options_.device();
  const at::Tensor ids = input_ids.to(device, at::kLong);
  const at::Tensor flat_pos = position_ids.to(device, at::kLong).reshape({-1});
  const auto dtype = options_.dtype().toScalarType();
  const at::Tensor cos = rope_cos_.index_select(0, flat_pos).view({B, 1, T, -1}).to(dtype);
  const at::Tensor sin = rope_sin_.index_select(0, flat_pos).view({B, 1, T, -1}).to(dtype);

  // blocked[b, i, j]: query i (absolute position past + i) must not see key j.
  at::Tensor blocked;
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(device);
  if (T > 1) blocked = (at::arange(S, long_opts).view({1, S}) > at::arange(past, S, long_opts).view({T, 1})).unsqueeze(0);
  if (attention_mask.defined()) {
    const at::Tensor pad = (attention_mask.to(device) == 0).view({B, 1, S});
    blocked = blocked.defined() ? (blocked | pad) : pad.expand({B, T, S});
  }
  const at::Tensor mask = blocked.defined() ? blocked.view({blocked.size(0), 1, 1, T, S}) : at::Tensor();

  // The residual stream and the final hidden state stay float32 whatever the compute dtype:
  // twelve-plus bfloat16 additions would round the stream at every layer, while the adds
  // promote for free and RMSNorm reads float32 anyway. Only the GEMM inputs are `dtype`.
  at::Tensor x = at::embedding(embed_, ids).to(at::kFloat);
  const double eps = config_.rms_norm_eps;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& layer = layers_[i];
    x = x + attention(layer, rms_norm(x, layer.input_norm, eps, dtype), cos, sin, mask, cache, i);
    const at::Tensor h = rms_norm(x, layer.post_norm, eps, dtype);
    x = x + project(at::silu(project(h, layer.gate)) * project(h, layer.up), layer.down);
  }
  if (cache) cache->advance(T);
  ForwardOutput out;
  out.hidden = rms_norm(x, norm_, eps, at::kFloat);
  if (compute_logits) out.logits = logits(out.hidden);
  return out;
}

at::Tensor Transformer::logits(const at::Tensor& hidden) const {
  return project(hidden.to(lm_head_.scalar_type()), lm_head_);
}

}  // namespace lrem
