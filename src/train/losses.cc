#include "train/losses.h"

#include <ATen/core/grad_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include <cmath>

#include "lrem/error.h"

namespace lrem::train {

namespace {

// bfloat16 (mixed precision) becomes float32; float32 and float64 stay as they are.
at::Tensor at_least_float32(const at::Tensor& t) {
  return at::isFloatingType(t.scalar_type()) && c10::elementSize(t.scalar_type()) < 4 ? t.to(at::kFloat) : t;
}

}  // namespace

at::Tensor target_logprobs(const at::Tensor& logits, const at::Tensor& targets) {
  // gather needs a valid index; callers mask out whatever padding maps to.
  const at::Tensor safe_targets = targets.clamp(0, logits.size(-1) - 1).unsqueeze(-1);
  // float32 even when the logits come out of bfloat16 products: a bfloat16 softmax over the
  // vocabulary would round the loss to about 3 digits.
  return at::log_softmax(at_least_float32(logits), -1).gather(-1, safe_targets).squeeze(-1);
}

at::Tensor sft_loss(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& mask) {
  if (logits.dim() != 3 || targets.sizes() != logits.sizes().slice(0, 2) || mask.sizes() != targets.sizes())
    throw InvalidArgument("sft_loss: expected logits [B, T, V] with targets and mask [B, T]");
  const at::Tensor weight = mask.to(logits.scalar_type());
  const double count = weight.sum().item<double>();
  if (count <= 0) throw InvalidArgument("sft_loss: the mask selects no token to supervise");
  return -(target_logprobs(logits, targets) * weight).sum() / count;
}

InfoNce info_nce(const at::Tensor& queries, const at::Tensor& candidates, double tau, const at::Tensor& targets) {
  if (queries.dim() != 2 || candidates.dim() != 2 || queries.size(1) != candidates.size(1))
    throw InvalidArgument("info_nce: expected queries [Nq, H] and candidates [Nc, H]");
  if (!(tau > 0)) throw InvalidArgument("info_nce: tau must be > 0");
  at::Tensor labels = targets.defined() ? targets : at::arange(queries.size(0), queries.options().dtype(at::kLong));
  if (labels.dim() != 1 || labels.size(0) != queries.size(0))
    throw InvalidArgument("info_nce: targets must hold one candidate row per query");
  if (labels.numel() > 0 && (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= candidates.size(0)))
    throw InvalidArgument("info_nce: a target row lies outside the candidates");
  // Scores of tau 0.05 reach 20, where bfloat16 steps by 0.125: under mixed precision the
  // similarities are computed in float32 all the same (autocast off in this scope).
  const c10::impl::ExcludeDispatchKeyGuard full_precision(c10::DispatchKey::AutocastCPU);
  const at::Tensor q32 = at_least_float32(queries), c32 = at_least_float32(candidates);
  // eps guards the norm of an all-zero state, as torch.nn.functional.normalize does.
  const at::Tensor q = q32 / q32.norm(2, -1, true).clamp_min(1e-12);
  const at::Tensor c = c32 / c32.norm(2, -1, true).clamp_min(1e-12);
  const at::Tensor scores = at::matmul(q, c.t()) / tau;
  InfoNce out;
  out.loss = -at::log_softmax(scores, -1).gather(1, labels.unsqueeze(1)).mean();
  {
    at::NoGradGuard no_grad;
    out.accuracy = scores.argmax(1).eq(labels).to(at::kDouble).mean().item<double>();
  }
  return out;
}

double clip_grad_norm(const std::map<std::string, at::Tensor>& params, double max_norm) {
  at::NoGradGuard no_grad;
  double sum_sq = 0;
  for (const auto& [name, p] : params)
    if (p.grad().defined()) sum_sq += p.grad().to(at::kDouble).pow(2).sum().item<double>();
  const double norm = std::sqrt(sum_sq);
  if (max_norm > 0 && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (const auto& [name, p] : params)
      if (p.grad().defined()) p.grad().mul_(scale);
  }
  return norm;
}

}  // namespace lrem::train
