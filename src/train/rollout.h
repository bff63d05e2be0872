// GRPO's rollouts: chains of thought sampled from the policy under the CoT rule inference
// uses (model/cot.h). The policy gradient scores every sampled token; the embedding (and so
// the accuracy reward) is the `<emb>` state of exactly the sequence Embedder feeds for the
// same CoT, so the policy is rewarded for the embedding it will serve.
#pragma once

#include <vector>

#include "lrem/generation.h"
#include "lrem/prompt.h"
#include "lrem/tokenizer.h"
#include "model/cot.h"
#include "model/transformer.h"

namespace lrem::train {

struct Rollout {
  std::vector<int> sampled;  // every generated token (the actions), the one past the cap included
  CotEnding ending;
};

// One rollout per prompt (a query prompt ending at `<think>`), drawn with `sampling`'s
// temperature, top_k, top_p and seed; max_cot_tokens: the model's prompt config value.
std::vector<Rollout> sample_rollouts(const Transformer& policy, const PromptFormat& format, const Tokenizer& tokenizer,
                                     const std::vector<std::vector<int>>& prompts, const GenerationOptions& sampling,
                                     int max_cot_tokens);

// prompt + CoT + `</think><emb>`: the sequence whose final (`<emb>`) state embeds the rollout.
std::vector<int> embedding_input(const std::vector<int>& prompt, const Rollout& rollout, const PromptFormat& format);

}  // namespace lrem::train
