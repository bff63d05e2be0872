#include "train/rollout.h"

#include "model/generation.h"

namespace lrem::train {

std::vector<Rollout> sample_rollouts(const Transformer& policy, const PromptFormat& format, const Tokenizer& tokenizer,
                                     const std::vector<std::vector<int>>& prompts, const GenerationOptions& sampling,
                                     int max_cot_tokens) {
  const GenerationOptions options = cot_generation(sampling, max_cot_tokens, format.think_close_id());
  const auto is_special = [&](int id) { return tokenizer.is_special(id); };
  std::vector<Rollout> out;
  for (Continuation& c : generate(policy, prompts, options)) {
    CotEnding ending = end_cot(c.token_ids, max_cot_tokens, format.think_close_id(), is_special);
    out.push_back({std::move(c.token_ids), std::move(ending)});
  }
  return out;
}

std::vector<int> embedding_input(const std::vector<int>& prompt, const Rollout& rollout, const PromptFormat& format) {
  std::vector<int> row = prompt;
  const std::vector<int> tail = format.close_cot(rollout.ending.cot);
  row.insert(row.end(), tail.begin(), tail.end());
  return row;
}

}  // namespace lrem::train
