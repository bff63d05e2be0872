#include "train/rewards.h"

#include <cmath>

#include "lrem/error.h"

namespace lrem::train {

double accuracy_reward(const std::vector<float>& item_scores, int target) {
  const size_t n = item_scores.size();
  if (target < 0 || size_t(target) >= n)
    throw InvalidArgument("accuracy_reward: target index " + std::to_string(target) + " is outside the pool of " +
                          std::to_string(n) + " items");
  if (n == 1) return 1.0;
  size_t at_least = 0;
  for (size_t i = 0; i < n; ++i) at_least += i != size_t(target) && item_scores[i] >= item_scores[target];
  return 1.0 - std::log(double(1 + at_least)) / std::log(double(n));
}

Reward score(const CotEnding& ending, double accuracy, const RewardWeights& weights) {
  Reward r;
  r.format = ending.well_formed ? 1.0 : 0.0;
  r.length = ending.closed ? 1.0 : 0.0;
  r.accuracy = accuracy;
  r.total = weights.format * r.format + weights.length * r.length + weights.accuracy * r.accuracy;
  return r;
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
