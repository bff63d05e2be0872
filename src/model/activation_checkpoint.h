// Activation (gradient) checkpointing: a block's intermediate activations are not kept for
// the backward pass but recomputed there, trading one more forward pass of the block for
// memory that no longer grows with the number of blocks times their internals. libtorch 1.13's
// C++ API has no torch.utils.checkpoint; this is its reentrant form.
// Internal header (torch).
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

namespace lrem {

using Block = std::function<at::Tensor(const at::Tensor&)>;

// block(input) computed without recording a graph; its output carries one autograd node
// that, during backward, reruns block with gradients on a detached copy of `input` and
// returns the gradients for `input` and for every tensor of `weights` that requires grad
// (the tensors block reads besides its input; gradients reach them as they would without
// checkpointing). The default CPU generator's state is restored for the rerun, so dropout
// draws the same masks. `block` must stay callable until backward has run.
at::Tensor checkpointed(Block block, const at::Tensor& input, const std::vector<at::Tensor>& weights);

}  // namespace lrem
