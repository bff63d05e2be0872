// Int8Linear against the float32 product it approximates, with the error bound that follows
// from its quantisation steps: the weight is rounded by at most half its scale, the input
// by at most half the input's step, so |y_int8 - y| <= sum|x| s_w / 2 + sum|w| s_x / 2 +
// n s_w s_x / 4 per output.
#include "model/int8_linear.h"

#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include <limits>

namespace lrem {
namespace {

TEST(Int8Linear, WeightsUseThePerTensorSymmetricScaleOfPyTorchsDefaultDynamicQconfig) {
  const at::Tensor w = at::tensor({-2.55f, 0.0f, 1.0f, 0.3f}).view({2, 2});
  const at::Tensor q = quantize_weight_int8(w);
  EXPECT_EQ(q.scalar_type(), at::kQInt8);
  EXPECT_EQ(q.qscheme(), at::kPerTensorAffine);
  EXPECT_EQ(q.q_zero_point(), 0);
  EXPECT_FLOAT_EQ(float(q.q_scale()), 2.55f / 127.5f);  // MinMaxObserver: max |w| / ((127 - -128) / 2)
  EXPECT_LE(q.int_repr()[0][0].item<int>(), -127);  // the largest |w| takes the end of the range
  // All-zero weights: the scale floors at float32's epsilon, as the observer's does.
  EXPECT_FLOAT_EQ(float(quantize_weight_int8(at::zeros({2, 2})).q_scale()), std::numeric_limits<float>::epsilon());
}

TEST(Int8Linear, ComputesTheFloatProductWithinItsQuantisationError) {
  c10::InferenceMode guard;
  at::manual_seed(3);
  const int64_t in = 64, out = 48;
  const at::Tensor w = at::randn({out, in}) * 0.05, bias = at::randn({out}), x = at::randn({2, 5, in});
  const Int8Linear linear(w, bias);
  ASSERT_TRUE(linear.defined());
  const at::Tensor y = linear(x), expected = at::linear(x, w, bias);
  ASSERT_EQ(y.sizes(), expected.sizes());
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  // Input step: the range of x (with 0) over 127 levels (reduce_range, as PyTorch's dynamic Linear).
  const double s_w = quantize_weight_int8(w).q_scale();
  const double s_x = (std::max(x.max().item<double>(), 0.0) - std::min(x.min().item<double>(), 0.0)) / 127;
  const at::Tensor bound = x.abs().sum(-1, true) * (s_w / 2) + w.abs().sum(-1) * (s_x / 2) + in * s_w * s_x / 4;
  EXPECT_TRUE(((y - expected).abs() <= bound).all().item<bool>()) << (y - expected).abs().max().item<double>();
  EXPECT_FALSE(at::allclose(y, expected, 0, 1e-6)) << "int8 must actually change the arithmetic";
}

}  // namespace
}  // namespace lrem
