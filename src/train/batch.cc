#include "train/batch.h"

#include <algorithm>

#include "lrem/error.h"

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
  TokenBatch batch;
  batch.input_ids = at::full({rows, width}, int64_t(pad_id), at::kLong);
  batch.targets = at::full({rows, width}, int64_t(pad_id), at::kLong);
  batch.attention_mask = at::zeros({rows, width}, at::kLong);
  batch.loss_mask = at::zeros({rows, width}, at::kLong);
  batch.position_ids = at::arange(width, at::kLong).unsqueeze(0).repeat({rows, 1});
  batch.last_index = at::empty({rows}, at::kLong);
  auto ids = batch.input_ids.accessor<int64_t, 2>();
  auto targets = batch.targets.accessor<int64_t, 2>();
  auto attention = batch.attention_mask.accessor<int64_t, 2>();
  auto supervised = batch.loss_mask.accessor<int64_t, 2>();
  auto last = batch.last_index.accessor<int64_t, 1>();
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t prompt_len = int64_t(prompts[b].size());
    const int64_t len = prompt_len + int64_t(completions[b].size());
    auto token = [&](int64_t t) { return t < prompt_len ? prompts[b][t] : completions[b][t - prompt_len]; };
    for (int64_t t = 0; t < len; ++t) {
      ids[b][t] = token(t);
      attention[b][t] = 1;
      if (t + 1 < len) {
        targets[b][t] = token(t + 1);
        supervised[b][t] = t + 1 >= prompt_len;
      }
    }
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
