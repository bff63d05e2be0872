// Token sequences to padded tensors. Every training input is `prompt + completion`: the
// completion's tokens are the supervised ones (the CoT and `</think><emb>` in stage 1, the
// sampled tokens in GRPO, a whole block in pretraining), the prompt is context only.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "model/transformer.h"

namespace lrem::train {

struct TokenBatch {
  at::Tensor input_ids;       // [B, T] int64, right-padded
  at::Tensor position_ids;    // [B, T] 0.. per row
  at::Tensor attention_mask;  // [B, T] 1 for real tokens, 0 for padding
  at::Tensor targets;         // [B, T] the next token (input shifted left by one); pad after the end
  at::Tensor loss_mask;       // [B, T] 1 where targets[b, t] is a completion token
  at::Tensor last_index;      // [B] position of each row's last real token (where `<emb>` sits)
};

// Rows are prompts[i] + completions[i]; completions may be empty (items: context only) and so
// may prompts (pretraining blocks: the first token has no prediction). pad_id fills padding
// (its value never matters: masks exclude it). InvalidArgument for mismatched counts or an
// empty row.
TokenBatch make_batch(const std::vector<std::vector<int>>& prompts, const std::vector<std::vector<int>>& completions,
                      int pad_id);

// hidden [B, T, H] at last_index [B] -> [B, H].
at::Tensor gather_rows(const at::Tensor& hidden, const at::Tensor& last_index);

// The final hidden state at each row's last token (the `<emb>` state of LREM sequences):
// rows [B] of token ids -> [B, H], differentiable.
at::Tensor embed_rows(const Transformer& model, const std::vector<std::vector<int>>& rows);

}  // namespace lrem::train
