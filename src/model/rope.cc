#include "model/rope.h"

#include <cmath>

namespace lrem {

namespace {

// Python's `scalar / tensor` on a torch tensor is `tensor.reciprocal() * scalar`, which can
// differ from a true division in the last bit; HF's formulas are written that way.
at::Tensor scalar_over(double scalar, const at::Tensor& t) { return t.reciprocal() * scalar; }

// _compute_llama3_parameters: wavelengths longer than original / low_freq_factor are slowed
// by `factor`, shorter than original / high_freq_factor kept, and those between blended.
at::Tensor llama3_scaled(const at::Tensor& inv_freq, const RopeScaling& r) {
  const double original = double(r.original_max_position_embeddings);
  const double low_freq_wavelen = original / r.low_freq_factor;
  const double high_freq_wavelen = original / r.high_freq_factor;
  const at::Tensor wavelen = scalar_over(2 * M_PI, inv_freq);
  at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / r.factor, inv_freq);
  const at::Tensor smooth = (scalar_over(original, wavelen) - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
  const at::Tensor smoothed = (1 - smooth) * scaled / r.factor + smooth * scaled;
  const at::Tensor is_medium = (wavelen < high_freq_wavelen).logical_not() & (wavelen > low_freq_wavelen).logical_not();
  return at::where(is_medium, smoothed, scaled);
}

}  // namespace

at::Tensor rope_inverse_frequencies(const ModelConfig& config) {
  const int64_t dim = config.effective_head_dim();
  const at::Tensor exponents = at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) / double(dim);
  const at::Tensor inv_freq = scalar_over(1.0, at::pow(config.rope_theta, exponents));
  const RopeScaling& r = config.rope_scaling;
  if (r.type == "linear") return inv_freq / r.factor;
  if (r.type == "llama3") return llama3_scaled(inv_freq, r);
  return inv_freq;
}

}  // namespace lrem
