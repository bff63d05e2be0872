// GRPO rewards for a sampled chain of thought, and group-normalised advantages.
//
// A sample is what the policy generated after the prompt's `<think>`. It is well formed iff
// it is `c_1 ... c_n </think> <emb>` where no c_i is a special token (n = 0 is allowed:
// the direct mode `<think></think><emb>`) and nothing follows `<emb>`. Sampling stops at
// `<emb>`, EOS or the token cap, so a sample that ends otherwise is malformed.
#pragma once

#include <functional>
#include <vector>

namespace lrem::train {

struct RewardWeights {
  double format = 0.5;
  double length = 0.2;
  double accuracy = 1.0;
};

struct Reward {
  double format = 0, length = 0, accuracy = 0, total = 0;
};

// The part of a sample before the first special token: the CoT of a well-formed sample, and
// the salvaged CoT that a malformed one is embedded with.
std::vector<int> cot_tokens(const std::vector<int>& sample, const std::function<bool(int)>& is_special);

// 1 if well formed (see above), else 0.
double format_reward(const std::vector<int>& sample, int think_close_id, int emb_id,
                     const std::function<bool(int)>& is_special);
// 1 if the CoT (cot_tokens) has at most max_cot_tokens tokens, else 0.
double length_reward(const std::vector<int>& sample, int max_cot_tokens, const std::function<bool(int)>& is_special);
// 1 - log(rank) / log(n) for rank = 1 + the number of the n batch items scoring strictly
// higher than the target item; InvalidArgument unless n >= 2 and 0 <= target < n.
double accuracy_reward(const std::vector<float>& item_scores, int target);

double total_reward(const Reward& parts, const RewardWeights& weights);

// (r - mean) / (std + eps) within each consecutive group of group_size rewards (population
// std). A group whose rewards are all equal gets zeros: it carries no preference.
std::vector<double> group_advantages(const std::vector<double>& rewards, int group_size, double eps = 1e-6);

}  // namespace lrem::train
