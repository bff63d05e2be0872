#include "train/optimizer.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <cstring>

#include "lrem/error.h"
#include "lrem/safetensors.h"

namespace lrem::train {

AdamW::AdamW(std::map<std::string, at::Tensor> params, AdamWOptions options)
    : params_(std::move(params)), options_(options) {
  for (const auto& [name, p] : params_) {
    exp_avg_[name] = at::zeros_like(p, at::MemoryFormat::Contiguous);
    exp_avg_sq_[name] = at::zeros_like(p, at::MemoryFormat::Contiguous);
  }
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  ++step_;
  const double bias1 = 1.0 - std::pow(options_.beta1, double(step_));
  const double bias2 = 1.0 - std::pow(options_.beta2, double(step_));
  for (auto& [name, p] : params_) {
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    at::Tensor& m = exp_avg_[name];
    at::Tensor& v = exp_avg_sq_[name];
    if (options_.weight_decay > 0 && p.dim() >= 2) p.mul_(1.0 - lr * options_.weight_decay);
    m.mul_(options_.beta1).add_(g, 1.0 - options_.beta1);
    v.mul_(options_.beta2).addcmul_(g, g, 1.0 - options_.beta2);
    const at::Tensor denom = (v.sqrt() / std::sqrt(bias2)).add_(options_.eps);
    p.addcdiv_(m, denom, -lr / bias1);
  }
}

void AdamW::zero_grad() {
  for (auto& [name, p] : params_) {
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
  }
}

std::map<std::string, at::Tensor> AdamW::state() const {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, m] : exp_avg_) out["exp_avg/" + name] = m;
  for (const auto& [name, v] : exp_avg_sq_) out["exp_avg_sq/" + name] = v;
  out["step"] = at::full({1}, step_, at::kLong);
  return out;
}

void AdamW::load_state(const std::map<std::string, at::Tensor>& state, const std::string& source) {
  auto fetch = [&](const std::string& key, const at::Tensor& like) {
    auto it = state.find(key);
    if (it == state.end()) throw FormatError(source + ": optimiser state lacks tensor '" + key + "'");
    if (it->second.sizes() != like.sizes())
      throw FormatError(source + ": optimiser tensor '" + key + "' has the wrong shape for this model");
    return it->second.to(like.options()).contiguous();
  };
  if (state.size() != 2 * params_.size() + 1)
    throw FormatError(source + ": optimiser state holds " + std::to_string(state.size()) + " tensors, expected " +
                      std::to_string(2 * params_.size() + 1) + " for this model");
  std::map<std::string, at::Tensor> m, v;
  for (const auto& [name, p] : params_) {
    m[name] = fetch("exp_avg/" + name, p);
    v[name] = fetch("exp_avg_sq/" + name, p);
  }
  auto it = state.find("step");
  if (it == state.end() || it->second.numel() != 1) throw FormatError(source + ": optimiser state lacks 'step'");
  step_ = it->second.to(at::kLong).item<int64_t>();
  exp_avg_ = std::move(m);
  exp_avg_sq_ = std::move(v);
}

void AdamW::save(const std::string& path) const {
  // Moments stay float32 whatever the parameters' dtype: resume must be exact.
  std::map<std::string, at::Tensor> tensors = state();
  std::vector<TensorView> views;
  for (auto& [name, t] : tensors) {
    const bool is_step = name == "step";
    t = t.to(is_step ? at::kLong : at::kFloat).contiguous();
    views.push_back({name, is_step ? DType::I64 : DType::F32, t.sizes().vec(), t.data_ptr(),
                     size_t(t.numel()) * t.element_size()});
  }
  write_safetensors(path, views);
}

void AdamW::load(const std::string& path) {
  const SafetensorsFile file(path);
  std::map<std::string, at::Tensor> tensors;
  for (const TensorInfo& info : file.header().tensors) {
    if (info.dtype != DType::F32 && info.dtype != DType::I64)
      throw FormatError(path + ": optimiser tensor '" + info.name + "' has type " + dtype_name(info.dtype) +
                        ", expected F32 (or I64 for step)");
    const auto type = info.dtype == DType::F32 ? at::kFloat : at::kLong;
    at::Tensor t = at::empty(info.shape, type);
    std::memcpy(t.data_ptr(), file.data(info), info.nbytes());
    tensors[info.name] = t;
  }
  load_state(tensors, path);
}

}  // namespace lrem::train
