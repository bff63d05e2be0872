// A linear layer with int8 weights and dynamically quantised activations, computed by
// libtorch's own quantised kernels (the `quantized::linear_prepack` / `linear_dynamic`
// operators that torch.ao.quantization.quantize_dynamic uses), so lrem's int8 is PyTorch's
// int8 on the same weights. Weights are quantised as quantize_dynamic's default qconfig does
// (MinMaxObserver, per-tensor symmetric qint8); each call quantises its float32 input to
// uint8 with the input's own range (reduce_range, as PyTorch's dynamic Linear) and returns
// float32. Inference only: no autograd.
// Internal header: torch does not appear in lrem's public headers.
#pragma once

#include <ATen/ATen.h>
#include <ATen/native/quantized/PackedParams.h>

namespace lrem {

class Int8Linear {
 public:
  Int8Linear() = default;
  // weight [out, in] and optional bias [out], any float dtype. Throws InvalidArgument when
  // this libtorch has neither of the x86 quantised engines (FBGEMM, oneDNN).
  Int8Linear(const at::Tensor& weight, const at::Tensor& bias);

  bool defined() const { return bool(packed_); }
  // x [..., in] float32 -> [..., out] float32.
  at::Tensor operator()(const at::Tensor& x) const;

 private:
  c10::intrusive_ptr<LinearPackedParamsBase> packed_;
};

// The int8 weight of `weight` as quantize_dynamic's default weight observer makes it:
// scale = max(|min(w, 0)|, max(w, 0)) / 127.5 (at least float32's epsilon), zero point 0.
at::Tensor quantize_weight_int8(const at::Tensor& weight);

}  // namespace lrem
