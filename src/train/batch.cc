#include "train/batch.h"

#include <algorithm>

#include "lrem/error.h"
#include "model/padding.h"

namespace lrem::train {

TokenBatch make_batch(const std::vector<std::vector<int>>& prompts, const std::vector<std::vector<int>>& completions,
                      int pad_id) {
  if (prompts.size() != completions.size() || prompts.empty())
    throw InvalidArgument("make_batch: need as many prompts as completions, at least one");
  const int64_t rows = int64_t(prompts.size());
  int64_t width = 0;
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t len = int64_t(prompts[b].size() + completions[b].size());
    if (len == 0) throw InvalidArgument("make_batch: row " + std::to_string(b) + " is empty");
    width = std::max(width, len);
  }
  std::vector<std::vector<int>> inputs(rows), next(rows);
  for (int64_t b = 0; b < rows; ++b) {
    inputs[b] = prompts[b];
    inputs[b].insert(inputs[b].end(), completions[b].begin(), completions[b].end());
    next[b].assign(inputs[b].begin() + 1, inputs[b].end());
  }
  const PaddedRows padded = pad_rows(inputs, PadSide::Right, pad_id);
  TokenBatch batch;
  batch.input_ids = padded.ids;
  batch.attention_mask = padded.mask;
  batch.targets = at::full({rows, width}, int64_t(pad_id), at::kLong);
  batch.targets.narrow(1, 0, width - 1).copy_(pad_rows(next, PadSide::Right, pad_id).ids.narrow(1, 0, width - 1));
  batch.loss_mask = at::zeros({rows, width}, at::kLong);
  batch.position_ids = at::arange(width, at::kLong).unsqueeze(0).repeat({rows, 1});
  batch.last_index = at::empty({rows}, at::kLong);
  auto supervised = batch.loss_mask.accessor<int64_t, 2>();
  auto last = batch.last_index.accessor<int64_t, 1>();
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t len = int64_t(inputs[b].size());
    // The targets from the completion's first token on are supervised.
    for (int64_t t = std::max<int64_t>(int64_t(prompts[b].size()) - 1, 0); t + 1 < len; ++t) supervised[b][t] = 1;
    last[b] = len - 1;
  }
  return batch;
}

at::Tensor gather_rows(const at::Tensor& hidden, const at::Tensor& last_index) {
  const at::Tensor index = last_index.view({-1, 1, 1}).expand({hidden.size(0), 1, hidden.size(2)});
  return hidden.gather(1, index).squeeze(1);
}

at::Tensor embed_rows(const Transformer& model, const std::vector<std::vector<int>>& rows) {
  const TokenBatch batch = make_batch(rows, std::vector<std::vector<int>>(rows.size()), 0);
  const auto out = model.forward(batch.input_ids, batch.position_ids, batch.attention_mask, nullptr, false);
  return gather_rows(out.hidden, batch.last_index);
}

}  // namespace lrem::train
