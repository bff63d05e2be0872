#include "model/transformer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string_view>

#include "model/activation_checkpoint.h"
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

constexpr std::string_view kLoraA = ".lora_A.weight";
constexpr const char* kEmbedTokenRows = "model.embed_tokens.token_adapter.trainable_tokens_delta";
constexpr const char* kHeadTokenRows = "lm_head.token_adapter.trainable_tokens_delta";
constexpr const char* kInt8CannotTrain =
    "an int8 model cannot be trained (its int8 kernels have no gradients): load it in float32";

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Where each LoRA target sits in a layer ("q_proj" -> "self_attn.q_proj").
std::string module_path(const std::string& module) {
  return (module == "gate_proj" || module == "up_proj" || module == "down_proj" ? "mlp." : "self_attn.") + module;
}

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

KVCache KVCache::empty_like(int64_t rows, int64_t capacity) const {
  if (rows <= 0 || capacity <= 0)
    throw InvalidArgument("KVCache needs a positive batch and capacity, got batch " + std::to_string(rows) +
                          " and capacity " + std::to_string(capacity));
  KVCache out(0, capacity, 0);
  auto empty = [&](const at::Tensor& like) {
    std::vector<int64_t> shape = like.sizes().vec();
    shape[0] = rows;
    shape[2] = capacity;
    return at::zeros(shape, like.options());
  };
  for (size_t i = 0; i < keys_.size(); ++i) {
    out.keys_.push_back(empty(keys_[i]));
    out.values_.push_back(empty(values_[i]));
  }
  return out;
}

void KVCache::copy_block(const KVCache& src, int64_t src_row, int64_t dst_row, int64_t rows, int64_t src_col,
                         int64_t dst_col, int64_t columns) {
  if (rows == 0 || columns == 0) return;
  for (size_t i = 0; i < keys_.size(); ++i) {
    keys_[i].narrow(0, dst_row, rows).narrow(2, dst_col, columns)
        .copy_(src.keys_[i].narrow(0, src_row, rows).narrow(2, src_col, columns));
    values_[i].narrow(0, dst_row, rows).narrow(2, dst_col, columns)
        .copy_(src.values_[i].narrow(0, src_row, rows).narrow(2, src_col, columns));
  }
}

void KVCache::set_extent(int64_t batch, int64_t length) {
  if (batch < 0 || batch > row_capacity() || length < 0 || length > capacity_)
    throw InvalidArgument("KVCache::set_extent: " + std::to_string(batch) + " rows and " + std::to_string(length) +
                          " positions do not fit buffers of " + std::to_string(row_capacity()) + " rows and " +
                          std::to_string(capacity_) + " positions");
  batch_ = batch;
  length_ = length;
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
  auto get = [](const std::map<std::string, at::Tensor>& from, const std::string& name) {
    const auto it = from.find(name);
    return it == from.end() ? at::Tensor() : it->second;
  };
  auto linear = [&](const std::string& name) {
    Linear l{get(params_, name + ".weight"), get(params_, name + ".bias"), get(lora_params_, name + ".lora_A.weight"),
             get(lora_params_, name + ".lora_B.weight"), {}};
    if (int8_ && l.weight.defined()) l.int8 = Int8Linear(l.weight, l.bias);
    return l;
  };
  embed_ = get(params_, "model.embed_tokens.weight");
  norm_ = get(params_, "model.norm.weight");
  lm_head_ = config_.tie_word_embeddings ? embed_ : get(params_, "lm_head.weight");
  layers_.clear();
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const std::string p = layer_prefix(i);
    Layer l;
    l.input_norm = get(params_, p + "input_layernorm.weight");
    l.q_norm = get(params_, p + "self_attn.q_norm.weight");
    l.k_norm = get(params_, p + "self_attn.k_norm.weight");
    l.post_norm = get(params_, p + "post_attention_layernorm.weight");
    l.q = linear(p + "self_attn.q_proj");
    l.k = linear(p + "self_attn.k_proj");
    l.v = linear(p + "self_attn.v_proj");
    l.o = linear(p + "self_attn.o_proj");
    l.gate = linear(p + "mlp.gate_proj");
    l.up = linear(p + "mlp.up_proj");
    l.down = linear(p + "mlp.down_proj");
    layers_.push_back(std::move(l));
  }
  token_rows_ = get(lora_params_, kEmbedTokenRows);
  head_rows_ = config_.tie_word_embeddings ? token_rows_ : get(lora_params_, kHeadTokenRows);
  token_ids_ = token_slot_ = at::Tensor();
  if (token_rows_.defined()) {
    const auto device = options_.device();
    token_ids_ = at::tensor(lora_->token_ids, at::kLong).to(device);
    token_slot_ = at::full({config_.vocab_size}, -1, at::TensorOptions().dtype(at::kLong).device(device));
    token_slot_.index_copy_(0, token_ids_, at::arange(int64_t(lora_->token_ids.size()), token_slot_.options()));
  }
}

std::vector<at::Tensor> Transformer::Layer::tensors() const {
  std::vector<at::Tensor> out = {input_norm, q_norm, k_norm, post_norm};
  for (const Linear* p : {&q, &k, &v, &o, &gate, &up, &down})
    for (const at::Tensor& t : {p->weight, p->bias, p->lora_a, p->lora_b})
      if (t.defined()) out.push_back(t);
  return out;
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
  if (requires_grad && int8_) throw InvalidArgument(kInt8CannotTrain);
  requires_grad_ = requires_grad;
  for (auto& [name, tensor] : params_) tensor.requires_grad_(requires_grad);
}

// ---- Transformer: LoRA ---------------------------------------------------------------------

const std::vector<std::string>& LoraSpec::all_modules() {
  static const std::vector<std::string> modules = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                   "gate_proj", "up_proj", "down_proj"};
  return modules;
}

void Transformer::quantize_int8() {
  if (int8_) return;
  if (options_.dtype().toScalarType() != at::kFloat || !options_.device().is_cpu())
    throw InvalidArgument("int8 weights need a float32 model on the CPU");
  if (lora_) throw InvalidArgument("int8 weights need a model without LoRA adapters: merge them first (merge_lora)");
  if (requires_grad_)
    throw InvalidArgument(kInt8CannotTrain);
  int8_ = true;
  bind();
}

void Transformer::attach_lora(const LoraSpec& spec, const std::map<std::string, at::Tensor>& tensors, uint64_t seed) {
  if (!embed_.defined()) throw InvalidArgument("attach_lora needs the model's weights first");
  if (int8_)
    throw InvalidArgument("LoRA adapters need a float model (an int8 model cannot be trained): load it in float32");
  if (lora_) throw InvalidArgument("the model already has LoRA adapters: merge them first (merge_lora)");
  if (spec.r < 1) throw FormatError("LoRA rank r must be >= 1, got " + std::to_string(spec.r));
  if (!(spec.dropout >= 0 && spec.dropout < 1))
    throw FormatError("LoRA dropout must be within [0, 1), got " + std::to_string(spec.dropout));
  for (const std::string& m : spec.target_modules)
    if (std::find(LoraSpec::all_modules().begin(), LoraSpec::all_modules().end(), m) == LoraSpec::all_modules().end())
      throw FormatError("unknown LoRA target module '" + m +
                        "'; use any of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj");
  for (int64_t id : spec.token_ids)
    if (id < 0 || id >= config_.vocab_size)
      throw FormatError("trainable token id " + std::to_string(id) + " is outside the vocabulary of " +
                        std::to_string(config_.vocab_size));

  // The expected shapes, then each tensor given or initialised.
  std::map<std::string, std::vector<int64_t>> shapes;
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    for (const std::string& m : spec.target_modules) {
      const std::string name = layer_prefix(i) + module_path(m);
      const at::Tensor& w = params_.at(name + ".weight");
      shapes[name + ".lora_A.weight"] = {spec.r, w.size(1)};
      shapes[name + ".lora_B.weight"] = {w.size(0), spec.r};
    }
  }
  const auto k = int64_t(spec.token_ids.size());
  if (k > 0) {
    shapes[kEmbedTokenRows] = {k, config_.hidden_size};
    if (!config_.tie_word_embeddings) shapes[kHeadTokenRows] = {k, config_.hidden_size};
  }
  for (const auto& [name, t] : tensors)
    if (!shapes.count(name)) throw FormatError("unexpected LoRA tensor '" + name + "' for this model and adapter config");

  at::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor ids = at::tensor(spec.token_ids, at::kLong).to(options_.device());
  std::map<std::string, at::Tensor> adapters;
  for (const auto& [name, shape] : shapes) {  // sorted: the draws depend only on seed and shapes
    at::Tensor t;
    if (!tensors.empty()) {
      const auto given = tensors.find(name);
      if (given == tensors.end()) throw FormatError("the LoRA adapter lacks tensor '" + name + "'");
      if (given->second.sizes() != at::IntArrayRef(shape))
        throw FormatError("LoRA tensor '" + name + "' has shape " + shape_string(given->second.sizes()) +
                          ", expected " + shape_string(shape));
      t = given->second;
    } else if (name == kEmbedTokenRows) {
      t = embed_.index_select(0, ids);
    } else if (name == kHeadTokenRows) {
      t = lm_head_.index_select(0, ids);
    } else if (ends_with(name, kLoraA)) {
      const double bound = 1.0 / std::sqrt(double(shape[1]));  // kaiming_uniform_(a=sqrt(5)), as nn.Linear and PEFT
      t = at::empty(shape, at::kFloat).uniform_(-bound, bound, gen);
    } else {
      t = at::zeros(shape, at::kFloat);
    }
    adapters[name] = t.to(options_).contiguous().detach().clone().requires_grad_(true);
  }
  lora_ = spec;
  lora_params_ = std::move(adapters);
  bind();
}

void Transformer::merge_lora() {
  if (!lora_) return;
  at::NoGradGuard no_grad;
  // Only params_ may hold the weights while they are replaced, so each old one is freed as
  // its merged one is made (bind() restores the handles): the merge then needs one weight's
  // worth of extra memory, not the whole model's.
  layers_.clear();
  const double scale = lora_->scale();
  for (const auto& [name, a] : lora_params_) {
    if (!ends_with(name, kLoraA)) continue;
    const std::string base = name.substr(0, name.size() - kLoraA.size());
    const at::Tensor& b = lora_params_.at(base + ".lora_B.weight");
    at::Tensor& w = params_.at(base + ".weight");
    // In float32 whatever the compute dtype, rounded once at the end.
    const at::Tensor merged = w.to(at::kFloat) + scale * at::mm(b.to(at::kFloat), a.to(at::kFloat));
    w = merged.to(w.scalar_type()).requires_grad_(requires_grad_);
  }
  if (token_rows_.defined()) {
    auto copy_rows = [&](const std::string& weight, const at::Tensor& rows) {
      at::Tensor& w = params_.at(weight);
      w = w.index_copy(0, token_ids_, rows.to(w.scalar_type())).requires_grad_(requires_grad_);
    };
    copy_rows("model.embed_tokens.weight", token_rows_);
    if (!config_.tie_word_embeddings) copy_rows("lm_head.weight", head_rows_);
  }
  lora_.reset();
  lora_params_.clear();
  bind();
}

// ---- Transformer: forward -------------------------------------------------------------------

at::Tensor Transformer::attention(const Layer& layer, const at::Tensor& x, const at::Tensor& cos,
                                  const at::Tensor& sin, const at::Tensor& mask, KVCache* cache, size_t index,
                                  bool train) const {
  const int64_t B = x.size(0), T = x.size(1), d = config_.effective_head_dim();
  const int64_t n_heads = config_.num_attention_heads, n_kv = config_.num_key_value_heads, groups = n_heads / n_kv;
  at::Tensor q = linear(x, layer.q, train).view({B, T, n_heads, d});
  at::Tensor k = linear(x, layer.k, train).view({B, T, n_kv, d});
  at::Tensor v = linear(x, layer.v, train).view({B, T, n_kv, d}).transpose(1, 2);
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
  return linear(out, layer.o, train);
}

at::Tensor Transformer::linear(const at::Tensor& x, const Linear& p, bool train) const {
  if (p.int8.defined()) return p.int8(x);
  at::Tensor out = project(x, p.weight, p.bias);
  if (!p.lora_a.defined()) return out;
  const at::Tensor in = train && lora_->dropout > 0 ? at::dropout(x, lora_->dropout, /*train=*/true) : x;
  return out + lora_->scale() * at::linear(at::linear(in, p.lora_a), p.lora_b);
}

at::Tensor Transformer::decoder_layer(size_t index, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                      const at::Tensor& mask, KVCache* cache, bool train) const {
  const Layer& layer = layers_[index];
  const double eps = config_.rms_norm_eps;
  const auto dtype = options_.dtype().toScalarType();
  const at::Tensor h1 = x + attention(layer, rms_norm(x, layer.input_norm, eps, dtype), cos, sin, mask, cache, index, train);
  const at::Tensor h = rms_norm(h1, layer.post_norm, eps, dtype);
  return h1 + linear(at::silu(linear(h, layer.gate, train)) * linear(h, layer.up, train), layer.down, train);
}

at::Tensor Transformer::embed(const at::Tensor& ids) const {
  at::Tensor x = at::embedding(embed_, ids);
  if (token_rows_.defined()) {  // the trainable rows replace their tokens' embeddings
    const at::Tensor slot = token_slot_.index_select(0, ids.reshape({-1})).view(ids.sizes());
    x = at::where((slot >= 0).unsqueeze(-1), at::embedding(token_rows_, slot.clamp_min(0)), x);
  }
  return x.to(at::kFloat);
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
  at::Tensor x = embed(ids);
  // Training is when gradients are recorded: LoRA dropout applies then (the rerun of a
  // checkpointed layer, which records them either way, is told what its forward pass was).
  const bool train = at::GradMode::is_enabled();
  const bool checkpoint = gradient_checkpointing_ && !cache && train;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (checkpoint) {
      // The recorded node calls back into this Transformer during backward, which every
      // training step runs before the model can go away.
      x = checkpointed(
          [this, i, cos, sin, mask](const at::Tensor& in) { return decoder_layer(i, in, cos, sin, mask, nullptr, true); },
          x, layers_[i].tensors());
    } else {
      x = decoder_layer(i, x, cos, sin, mask, cache, train);
    }
  }
  if (cache) cache->advance(T);
  ForwardOutput out;
  out.hidden = rms_norm(x, norm_, config_.rms_norm_eps, at::kFloat);
  if (compute_logits) out.logits = logits(out.hidden);
  return out;
}

at::Tensor Transformer::logits(const at::Tensor& hidden) const {
  const at::Tensor h = hidden.to(lm_head_.scalar_type());
  const at::Tensor out = project(h, lm_head_);
  if (!head_rows_.defined()) return out;
  return out.index_copy(-1, token_ids_, project(h, head_rows_));  // the trainable tokens' rows
}

}  // namespace lrem
