// The one rule for how a query's chain of thought ends, shared by inference (Embedder) and
// GRPO, so the embedding a policy is rewarded for in training is the one it serves.
//
// After `<think>` the model generates at most max_cot_tokens + 1 tokens, stopping at `</think>`:
//   closed:    it wrote `</think>` among them: the CoT is everything before it (<= max_cot_tokens);
//   over-long: it did not: the CoT is its first max_cot_tokens tokens, the token past the cap
//              is dropped.
// Either way the sequence goes on `CoT </think> <emb>` (the model's own `</think>` when it wrote
// one) and the embedding is the state at `<emb>`. A CoT holding special tokens the model wrote
// (`<emb>`, EOS, ...) is embedded as written and only counts as malformed.
//
// max_cot_tokens is the model's lrem_config.json value (PromptConfig), counted in the
// backbone's tokens; stage-1 targets are cut to it too (PromptFormat::cot_completion).
#pragma once

#include <functional>
#include <vector>

#include "lrem/generation.h"

namespace lrem {

struct CotEnding {
  std::vector<int> cot;      // at most max_cot_tokens ids
  bool closed = false;       // the model wrote `</think>` within the cap
  bool well_formed = false;  // closed, and no special token inside the CoT
};

// The generation options of the rule: max_new_tokens = max_cot_tokens + 1, stop at `</think>`;
// `sampling` supplies temperature, top_k, top_p and seed.
GenerationOptions cot_generation(const GenerationOptions& sampling, int max_cot_tokens, int think_close_id);

// Applies the rule to what generation produced (Continuation::token_ids).
CotEnding end_cot(const std::vector<int>& generated, int max_cot_tokens, int think_close_id,
                  const std::function<bool(int)>& is_special);

}  // namespace lrem
