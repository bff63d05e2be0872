#include "train/rewards.h"

#include <cmath>

#include "lrem/error.h"

namespace lrem::train {

std::vector<int> cot_tokens(const std::vector<int>& sample, const std::function<bool(int)>& is_special) {
  std::vector<int> cot;
  for (int id : sample) {
    if (is_special(id)) break;
    cot.push_back(id);
  }
  return cot;
}

double format_reward(const std::vector<int>& sample, int think_close_id, int emb_id,
                     const std::function<bool(int)>& is_special) {
  const size_t n = cot_tokens(sample, is_special).size();
  const bool ok = sample.size() == n + 2 && sample[n] == think_close_id && sample[n + 1] == emb_id;
  return ok ? 1.0 : 0.0;
}

double length_reward(const std::vector<int>& sample, int max_cot_tokens, const std::function<bool(int)>& is_special) {
  return cot_tokens(sample, is_special).size() <= size_t(std::max(0, max_cot_tokens)) ? 1.0 : 0.0;
}

double accuracy_reward(const std::vector<float>& item_scores, int target) {
  const size_t n = item_scores.size();
  if (n < 2) throw InvalidArgument("accuracy_reward: needs at least 2 items in the batch, got " + std::to_string(n));
  if (target < 0 || size_t(target) >= n) throw InvalidArgument("accuracy_reward: target index out of range");
  size_t higher = 0;
  for (float s : item_scores) higher += s > item_scores[target];
  return 1.0 - std::log(double(1 + higher)) / std::log(double(n));
}

double total_reward(const Reward& parts, const RewardWeights& weights) {
  return weights.format * parts.format + weights.length * parts.length + weights.accuracy * parts.accuracy;
}

std::vector<double> group_advantages(const std::vector<double>& rewards, int group_size, double eps) {
  if (group_size < 1 || rewards.size() % size_t(group_size) != 0)
    throw InvalidArgument("group_advantages: reward count is not a multiple of the group size");
  std::vector<double> adv(rewards.size());
  for (size_t start = 0; start < rewards.size(); start += group_size) {
    double mean = 0, var = 0;
    for (int i = 0; i < group_size; ++i) mean += rewards[start + i];
    mean /= group_size;
    for (int i = 0; i < group_size; ++i) var += (rewards[start + i] - mean) * (rewards[start + i] - mean);
    const double std = std::sqrt(var / group_size);
    for (int i = 0; i < group_size; ++i) adv[start + i] = std > 0 ? (rewards[start + i] - mean) / (std + eps) : 0.0;
  }
  return adv;
}

}  // namespace lrem::train
