// The training objectives: autograd gradients of SFT and InfoNCE through a tiny causal LM
// match central finite differences (double precision), the SFT mask covers exactly the completion,
// and the optimiser, schedule and clipping behave as specified.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <functional>
#include <map>

#include "lrem/error.h"
#include "test_support.h"
#include "train/batch.h"
#include "train/losses.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace lrem::train {
namespace {

// A tiny causal LM in double precision: h_t = tanh(mean(E[x_1..t]) W), logits = h U^T.
// (lrem's Transformer keeps norms and attention scores in float32 like Hugging Face, which
// is too coarse for finite differences; the losses only see hidden states and logits.)
struct TinyLm {
  std::map<std::string, at::Tensor> params;
  explicit TinyLm(uint64_t seed) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    auto init = [&](std::vector<int64_t> shape) {
      return at::empty(shape, at::kDouble).normal_(0.0, 0.5, gen).set_requires_grad(true);
    };
    params = {{"E", init({24, 8})}, {"W", init({8, 8})}, {"U", init({24, 8})}};
  }
  // [B, T] ids -> hidden [B, T, H] and logits [B, T, V].
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& ids) const {
    const at::Tensor x = params.at("E").index_select(0, ids.view(-1)).view({ids.size(0), ids.size(1), -1});
    const at::Tensor counts = at::arange(1, ids.size(1) + 1, at::kDouble).view({1, -1, 1});
    const at::Tensor hidden = at::tanh(at::matmul(x.cumsum(1) / counts, params.at("W")));
    return {hidden, at::matmul(hidden, params.at("U").t())};
  }
};

// Compares d loss / d param from autograd with central differences at every coordinate of
// the named parameters.
void expect_gradients_match(const TinyLm& model, const std::vector<std::string>& names,
                            const std::function<at::Tensor()>& loss_fn) {
  loss_fn().backward();
  const double h = 1e-6;
  for (const std::string& name : names) {
    const at::Tensor& p = model.params.at(name);
    ASSERT_TRUE(p.grad().defined()) << name;
    at::Tensor flat = p.detach().view(-1);
    const at::Tensor grad = p.grad().view(-1);
    double max_abs = 0;
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double saved = flat[i].item<double>();
      double up, down;
      {
        at::NoGradGuard no_grad;
        flat[i].fill_(saved + h);
        up = loss_fn().item<double>();
        flat[i].fill_(saved - h);
        down = loss_fn().item<double>();
        flat[i].fill_(saved);
      }
      const double numeric = (up - down) / (2 * h);
      max_abs = std::max(max_abs, std::abs(numeric));
      EXPECT_NEAR(grad[i].item<double>(), numeric, 1e-7 + 1e-6 * std::abs(numeric)) << name << "[" << i << "]";
    }
    EXPECT_GT(max_abs, 1e-3) << name << " should influence the loss";
  }
}

TEST(TrainLosses, SftGradientMatchesFiniteDifferences) {
  const TinyLm model(3);
  const TokenBatch batch = make_batch({{1, 5, 6, 7}, {1, 9}}, {{20, 21, 22}, {10, 11, 12, 13}}, 0);
  auto loss = [&] { return sft_loss(model.forward(batch.input_ids).second, batch.targets, batch.loss_mask); };
  expect_gradients_match(model, {"E", "W", "U"}, loss);
}

TEST(TrainLosses, InfoNceGradientMatchesFiniteDifferences) {
  const TinyLm model(4);
  const TokenBatch queries = make_batch({{1, 3, 4, 5}, {1, 6, 7}, {1, 8}}, {{20, 21, 23}, {22, 23}, {23}}, 0);
  const TokenBatch items = make_batch({{1, 9, 23}, {1, 10, 11, 23}, {1, 12, 23}}, {{}, {}, {}}, 0);
  auto embed = [&](const TokenBatch& b) { return gather_rows(model.forward(b.input_ids).first, b.last_index); };
  auto loss = [&] { return info_nce(embed(queries), embed(items), 0.5).loss; };
  expect_gradients_match(model, {"E", "W"}, loss);  // the output head U does not reach embeddings
}

TEST(TrainLosses, InfoNceMatchesItsDefinition) {
  const at::Tensor q = at::randn({3, 5}, at::kDouble);
  const at::Tensor d = at::randn({4, 5}, at::kDouble);  // the 4th row: a hard negative
  const double tau = 0.1;
  const InfoNce result = info_nce(q, d, tau);
  double expected = 0;
  int correct = 0;
  for (int i = 0; i < 3; ++i) {
    std::vector<double> s(4);
    for (int j = 0; j < 4; ++j)
      s[j] = (q[i] * d[j]).sum().item<double>() / (q[i].norm().item<double>() * d[j].norm().item<double>()) / tau;
    double z = 0;
    for (double v : s) z += std::exp(v);
    expected += -(s[i] - std::log(z)) / 3;
    correct += std::max_element(s.begin(), s.end()) - s.begin() == i;
  }
  EXPECT_NEAR(result.loss.item<double>(), expected, 1e-10);
  EXPECT_DOUBLE_EQ(result.accuracy, correct / 3.0);
  // Explicit targets: several queries may share one candidate (GRPO's G samples per item).
  const InfoNce grouped = info_nce(at::cat({q, q}), d, tau, at::tensor({0, 1, 2, 0, 1, 2}, at::kLong));
  EXPECT_NEAR(grouped.loss.item<double>(), expected, 1e-10);
  EXPECT_THROW(info_nce(q, d, 0.0), InvalidArgument);
  EXPECT_THROW(info_nce(q, d, tau, at::tensor({0, 1, 7}, at::kLong)), InvalidArgument);
}

TEST(TrainLosses, SftMaskCoversExactlyTheCompletion) {
  // Prompt "BOS q q <think>", completion "c c </think> <emb>" (ids chosen distinct).
  const std::vector<int> prompt = {1, 40, 41, 50}, completion = {60, 61, 51, 52};
  const TokenBatch b = make_batch({prompt, {1, 42, 50}}, {completion, {62, 51, 52}}, 0);
  ASSERT_EQ(b.input_ids.size(1), 8);
  // Row 0: positions 3..6 predict 60, 61, 51, 52; nothing else is supervised.
  std::vector<int64_t> supervised, targets;
  for (int64_t t = 0; t < 8; ++t) {
    if (b.loss_mask[0][t].item<int64_t>()) {
      supervised.push_back(t);
      targets.push_back(b.targets[0][t].item<int64_t>());
    }
  }
  EXPECT_EQ(supervised, (std::vector<int64_t>{3, 4, 5, 6}));
  EXPECT_EQ(targets, (std::vector<int64_t>{60, 61, 51, 52}));
  // Row 1 is shorter: supervised 2..4, padding (5..7) neither attended nor supervised.
  EXPECT_EQ(b.loss_mask[1].sum().item<int64_t>(), 3);
  EXPECT_EQ(b.loss_mask[1][2].item<int64_t>(), 1);
  EXPECT_EQ(b.attention_mask[1].sum().item<int64_t>(), 6);
  EXPECT_EQ(b.last_index[0].item<int64_t>(), 7);
  EXPECT_EQ(b.last_index[1].item<int64_t>(), 5);
  EXPECT_EQ(b.input_ids[1][5].item<int64_t>(), 52);
  // Items (no completion) supervise nothing, and sft_loss refuses an empty mask.
  const TokenBatch items = make_batch({{1, 2, 52}}, {{}}, 0);
  EXPECT_EQ(items.loss_mask.sum().item<int64_t>(), 0);
  EXPECT_THROW(sft_loss(at::zeros({1, 3, 60}), items.targets, items.loss_mask), InvalidArgument);
}

TEST(TrainLosses, AdamWFirstStepMovesEachWeightByLr) {
  // With bias correction the first Adam step is lr * sign(g) (up to eps); decay shrinks
  // matrices only.
  at::Tensor w = at::full({2, 2}, 1.0, at::kDouble).set_requires_grad(true);
  at::Tensor b = at::full({2}, 1.0, at::kDouble).set_requires_grad(true);
  AdamW opt({{"w", w}, {"b", b}}, AdamWOptions{0.9, 0.999, 1e-12, 0.5});
  (w * at::tensor({1.0, -2.0, 3.0, -4.0}, at::kDouble).view({2, 2})).sum().add((b * 5.0).sum()).backward();
  opt.step(0.1);
  EXPECT_NEAR(w[0][0].item<double>(), 1.0 * (1 - 0.05) - 0.1, 1e-9);
  EXPECT_NEAR(w[0][1].item<double>(), 1.0 * (1 - 0.05) + 0.1, 1e-9);
  EXPECT_NEAR(b[0].item<double>(), 1.0 - 0.1, 1e-9);
  EXPECT_EQ(opt.steps(), 1);
}

TEST(TrainLosses, AdamWStateRoundTripsThroughAFile) {
  lrem::testing::TempDir dir;
  at::Tensor w = at::randn({3, 4}).set_requires_grad(true);
  AdamW a({{"w", w}}, {});
  for (int i = 0; i < 3; ++i) {
    a.zero_grad();
    (w * w).sum().backward();
    a.step(0.01);
  }
  a.save(dir.file("opt.safetensors"));
  at::Tensor w2 = w.detach().clone().set_requires_grad(true);
  AdamW b({{"w", w2}}, {});
  b.load(dir.file("opt.safetensors"));
  EXPECT_EQ(b.steps(), 3);
  for (AdamW* o : {&a, &b}) {
    o->zero_grad();
    at::Tensor& p = o == &a ? w : w2;
    (p * p).sum().backward();
    o->step(0.01);
  }
  EXPECT_TRUE(at::equal(w, w2));
  AdamW other({{"v", at::zeros({3, 4}).set_requires_grad(true)}}, {});
  EXPECT_THROW(other.load(dir.file("opt.safetensors")), FormatError);
}

TEST(TrainLosses, ScheduleWarmsUpThenDecaysToTheFloor) {
  const CosineSchedule s(1.0, 0.1, 4, 25);
  EXPECT_DOUBLE_EQ(s.lr(0), 0.25);
  EXPECT_DOUBLE_EQ(s.lr(3), 1.0);
  EXPECT_NEAR(s.lr(4), 1.0, 1e-12);
  EXPECT_NEAR(s.lr(14), 0.55, 1e-12);  // halfway through the decay
  EXPECT_NEAR(s.lr(24), 0.1, 1e-12);
  for (int64_t t = 4; t < 24; ++t) EXPECT_GT(s.lr(t), s.lr(t + 1));
}

TEST(TrainLosses, ClipGradNormScalesToTheLimit) {
  at::Tensor a = at::zeros({2}).set_requires_grad(true), b = at::zeros({1}).set_requires_grad(true);
  (a * at::tensor({3.0f, 0.0f})).sum().add((b * 4.0f).sum()).backward();
  const double before = clip_grad_norm({{"a", a}, {"b", b}}, 1.0);
  EXPECT_NEAR(before, 5.0, 1e-6);
  EXPECT_NEAR(a.grad()[0].item<double>(), 0.6, 1e-5);
  EXPECT_NEAR(b.grad()[0].item<double>(), 0.8, 1e-5);
  EXPECT_NEAR(clip_grad_norm({{"a", a}, {"b", b}}, 10.0), 1.0, 1e-5);
  EXPECT_NEAR(b.grad()[0].item<double>(), 0.8, 1e-5);
}

}  // namespace
}  // namespace lrem::train
