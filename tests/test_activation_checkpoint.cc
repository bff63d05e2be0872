// Gradient checkpointing changes what backward keeps, never what it computes: every
// parameter's gradient equals the one without it, on each tiny architecture, with LoRA
// adapters and with LoRA dropout (whose masks the rerun must draw again).
#include "model/activation_checkpoint.h"

#include <gtest/gtest.h>

#include <ATen/Context.h>
#include <torch/csrc/autograd/function.h>

#include <set>

#include "tiny_llama.h"

namespace lrem {
namespace {

using testing::random_ids;
using testing::tiny_model;
using testing::tiny_variants;

// Whether the graph behind `t` holds a node called `name`.
bool graph_has(const at::Tensor& t, const std::string& name) {
  std::vector<torch::autograd::Node*> todo = {t.grad_fn().get()};
  std::set<torch::autograd::Node*> seen;
  while (!todo.empty()) {
    torch::autograd::Node* node = todo.back();
    todo.pop_back();
    if (!node || !seen.insert(node).second) continue;
    if (node->name() == name) return true;
    for (const auto& edge : node->next_edges()) todo.push_back(edge.function.get());
  }
  return false;
}

struct Setup {
  bool lora = false;
  double dropout = 0;
};

// Gradients of a loss over logits and hidden states (with a padded row) by parameter name.
std::map<std::string, at::Tensor> gradients(const ModelConfig& config, const Setup& setup, bool checkpointing) {
  Transformer model = tiny_model(config);
  model.set_requires_grad(!setup.lora);
  if (setup.lora) {
    LoraSpec spec;
    spec.r = 4;
    spec.dropout = setup.dropout;
    spec.target_modules = LoraSpec::all_modules();
    spec.token_ids = {3, 7};
    // B starts at zero: give it values (through a fresh adapter's names and shapes) so that
    // every adapter path carries gradient to A.
    Transformer fresh = model;
    fresh.attach_lora(spec, {}, 11);
    std::map<std::string, at::Tensor> tensors;
    for (const auto& [name, t] : fresh.lora_parameters()) tensors[name] = t.detach() + 0.05;
    model.attach_lora(spec, tensors, 0);
  }
  model.set_gradient_checkpointing(checkpointing);
  const at::Tensor ids = random_ids(2, 9, config.vocab_size, 3).index_fill_(1, at::tensor({int64_t(2)}), 7);
  const at::Tensor positions = at::arange(9).repeat({2, 1});
  at::Tensor mask = at::ones({2, 9}, at::kLong);
  mask[1].narrow(0, 6, 3).fill_(0);
  at::manual_seed(5);  // dropout masks
  const ForwardOutput out = model.forward(ids, positions, mask, nullptr);
  EXPECT_EQ(graph_has(out.hidden, "CheckpointBackward"), checkpointing);
  const at::Tensor weights = at::sin(at::arange(out.logits.numel()).to(at::kFloat)).view(out.logits.sizes());
  ((out.logits * weights).sum() + out.hidden.pow(2).mean()).backward();
  std::map<std::string, at::Tensor> grads;
  for (const auto& [name, p] : model.trainable_parameters()) {
    EXPECT_TRUE(p.grad().defined()) << name;
    if (p.grad().defined()) grads[name] = p.grad().clone();
  }
  return grads;
}

void expect_same_gradients(const Setup& setup) {
  for (const ModelConfig& config : tiny_variants()) {
    const auto plain = gradients(config, setup, false), checkpointed = gradients(config, setup, true);
    ASSERT_EQ(plain.size(), checkpointed.size());
    for (const auto& [name, g] : plain) {
      EXPECT_GT(g.abs().max().item<float>(), 0.0f) << name;
      EXPECT_TRUE(at::allclose(g, checkpointed.at(name), 1e-4, 1e-6))
          << name << ": max difference " << (g - checkpointed.at(name)).abs().max().item<float>();
    }
  }
}

TEST(ActivationCheckpoint, FullFineTuningGradientsEqualThoseWithoutIt) { expect_same_gradients({}); }

TEST(ActivationCheckpoint, LoraGradientsEqualThoseWithoutIt) { expect_same_gradients({/*lora=*/true, 0.0}); }

TEST(ActivationCheckpoint, DropoutMasksAreDrawnAgainInTheRerun) { expect_same_gradients({/*lora=*/true, 0.3}); }

TEST(ActivationCheckpoint, InferenceRecordsNothing) {
  Transformer model = tiny_model(testing::tiny_config());
  model.set_requires_grad(true);
  model.set_gradient_checkpointing(true);
  at::NoGradGuard no_grad;
  const ForwardOutput out = model.forward(random_ids(1, 5, 50, 1), at::arange(5).view({1, 5}), {}, nullptr);
  EXPECT_FALSE(out.hidden.requires_grad());
}

}  // namespace
}  // namespace lrem
