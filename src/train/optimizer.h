// AdamW (Loshchilov & Hutter): Adam moments with bias correction and weight decay applied
// to the weights directly rather than through the gradient. Written in ATen ops so the
// state is plain named tensors that checkpoints store next to the model for exact resume.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lrem::train {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // applied to parameters with two or more dimensions only
};

class AdamW {
 public:
  // `params` are updated in place (they share storage with the model); their .grad() feeds step().
  AdamW(std::map<std::string, at::Tensor> params, AdamWOptions options);

  // One update with learning rate lr from the current gradients. Parameters without a
  // gradient (unused in the forward pass) are left alone but still count the step.
  void step(double lr);
  void zero_grad();
  int64_t steps() const { return step_; }

  // State as named tensors: "exp_avg/<param>", "exp_avg_sq/<param>" and "step".
  std::map<std::string, at::Tensor> state() const;
  // Restores a state from state(); FormatError naming `source` and the tensor when it does
  // not match these parameters.
  void load_state(const std::map<std::string, at::Tensor>& state, const std::string& source);

  // The state as one safetensors file (float32 moments, int64 step), written atomically.
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  std::map<std::string, at::Tensor> params_, exp_avg_, exp_avg_sq_;
  AdamWOptions options_;
  int64_t step_ = 0;
};

}  // namespace lrem::train
