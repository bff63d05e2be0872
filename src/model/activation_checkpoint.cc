#include "model/activation_checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

#include <mutex>

namespace lrem {

namespace {

using torch::autograd::variable_list;

// The default CPU generator's state (dropout draws from it).
at::Tensor generator_state() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_generator_state(const at::Tensor& state) {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

// next_edges()[0] leads to the input's producer, next_edges()[1 + j] to weight j's
// accumulator (an invalid edge for a tensor that needs no gradient).
class CheckpointBackward : public torch::autograd::Node {
 public:
  CheckpointBackward(Block block, at::Tensor input, std::vector<at::Tensor> weights, at::Tensor rng_state)
      : block_(std::move(block)), input_(std::move(input)), weights_(std::move(weights)),
        rng_state_(std::move(rng_state)) {
    add_next_edge(torch::autograd::impl::gradient_edge(input_));
    for (const at::Tensor& w : weights_)
      add_next_edge(w.defined() ? torch::autograd::impl::gradient_edge(w) : torch::autograd::Edge());
    input_ = input_.detach();
  }

  std::string name() const override { return "CheckpointBackward"; }

  variable_list apply(variable_list&& grads) override {
    // Rerun the block with gradients (backward runs with grad mode off) and the generator as
    // it was for the forward pass, then put the caller's generator state back.
    at::AutoGradMode enable_grad(true);
    const at::Tensor after_forward = generator_state();
    set_generator_state(rng_state_);
    const at::Tensor input = input_.detach().requires_grad_(task_should_compute_output(0));
    const at::Tensor output = block_(input);
    set_generator_state(after_forward);

    variable_list wanted;  // the inputs of torch::autograd::grad, in edge order
    std::vector<size_t> slots;
    if (input.requires_grad()) {
      wanted.push_back(input);
      slots.push_back(0);
    }
    for (size_t j = 0; j < weights_.size(); ++j) {
      if (task_should_compute_output(1 + j)) {
        wanted.push_back(weights_[j]);
        slots.push_back(1 + j);
      }
    }
    variable_list out(num_outputs());
    if (wanted.empty() || !grads[0].defined() || !output.requires_grad()) return out;
    const variable_list computed =
        torch::autograd::grad({output}, wanted, {grads[0]}, /*retain_graph=*/false, /*create_graph=*/false,
                              /*allow_unused=*/true);
    for (size_t k = 0; k < slots.size(); ++k) out[slots[k]] = computed[k];
    return out;
  }

  void release_variables() override {
    block_ = nullptr;
    input_.reset();
    weights_.clear();
  }

 private:
  Block block_;
  at::Tensor input_;
  std::vector<at::Tensor> weights_;
  at::Tensor rng_state_;
};

}  // namespace

at::Tensor checkpointed(Block block, const at::Tensor& input, const std::vector<at::Tensor>& weights) {
  bool needs_grad = at::GradMode::is_enabled() && input.requires_grad();
  for (const at::Tensor& w : weights) needs_grad = needs_grad || (at::GradMode::is_enabled() && w.defined() && w.requires_grad());
  if (!needs_grad) return block(input);
  at::Tensor rng_state = generator_state();
  at::Tensor output;
  {
    at::NoGradGuard no_grad;
    output = block(input.detach());
  }
  auto node = std::make_shared<CheckpointBackward>(std::move(block), input, weights, std::move(rng_state));
  torch::autograd::set_history(output, node);
  return output;
}

}  // namespace lrem
