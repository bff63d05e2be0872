// GRPO rewards of a sampled chain of thought, and group-normalised advantages.
//
// A sample ends by the CoT rule inference uses (model/cot.h): the model writes at most
// max_cot_tokens tokens and closes them with `</think>`, else the cap closes them for it;
// `<emb>` always follows. Its rewards:
//   format   1 iff well formed: the model wrote `</think>` within the cap and no special token
//            before it (the direct mode `<think></think><emb>` included);
//   length   1 iff the model ended its CoT within max_cot_tokens tokens (closed);
//   accuracy 1 - log(rank) / log(N): the target's rank among a pool of N items by cosine to
//            the sample's `<emb>` state (RewardPool).
#pragma once

#include <vector>

#include "model/cot.h"

namespace lrem::train {

struct RewardWeights {
  double format = 0.5;
  double length = 0.2;
  double accuracy = 1.0;
};

struct Reward {
  double format = 0, length = 0, accuracy = 0, total = 0;
};

// rank = 1 + the number of other items scoring at least as high as the target (ties count
// against it); n = item_scores.size(). A pool of one item ranks it first (1).
// InvalidArgument unless 0 <= target < n.
double accuracy_reward(const std::vector<float>& item_scores, int target);

// The three parts and their weighted sum.
Reward score(const CotEnding& ending, double accuracy, const RewardWeights& weights);

// (r - mean) / (std + eps) within each consecutive group of group_size rewards (population
// std). A group whose rewards are all equal gets zeros: it carries no preference.
std::vector<double> group_advantages(const std::vector<double>& rewards, int group_size, double eps = 1e-6);

}  // namespace lrem::train
