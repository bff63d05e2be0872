// The training objectives: masked next-token cross-entropy (SFT, pretraining), InfoNCE with
// in-batch negatives, and gradient-norm clipping.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

namespace lrem::train {

// log p(targets[b, t]) under logits[b, t]: [B, T]. Targets outside the vocabulary (padding
// such as -1) give an arbitrary finite value; mask them out.
at::Tensor target_logprobs(const at::Tensor& logits, const at::Tensor& targets);

// Cross-entropy of logits [B, T, V] against targets [B, T] (int64), averaged over the
// positions where mask [B, T] is nonzero. logits[b, t] predicts targets[b, t]: callers pass
// targets already shifted by one. Throws InvalidArgument when the mask selects nothing.
at::Tensor sft_loss(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& mask);

struct InfoNce {
  at::Tensor loss;     // scalar, differentiable
  double accuracy = 0;  // share of queries whose most similar candidate is their target
};

// InfoNCE over cosine similarity / tau. queries [Nq, H]; candidates [Nc, H] (the batch's
// items, then any extra hard negatives); targets [Nq] int64: the candidate row each query
// belongs to (undefined: query i <-> candidate i). Every other candidate is a negative.
InfoNce info_nce(const at::Tensor& queries, const at::Tensor& candidates, double tau,
                 const at::Tensor& targets = {});

// Scales every gradient so their joint L2 norm is at most max_norm; returns the norm
// before clipping. Parameters without a gradient are skipped.
double clip_grad_norm(const std::map<std::string, at::Tensor>& params, double max_norm);

}  // namespace lrem::train
