#include "train/reward_pool.h"

#include <algorithm>
#include <iterator>
#include <random>
#include <unordered_map>

#include "lrem/error.h"

namespace lrem::train {

RewardPool::RewardPool(std::vector<std::string> candidates, int extra_items)
    : candidates_(std::move(candidates)), extra_items_(extra_items) {
  if (extra_items < 0) throw InvalidArgument("reward pool: extra_items must be >= 0");
  // Distinct titles, in a fixed order, so a draw depends on the seed alone.
  std::sort(candidates_.begin(), candidates_.end());
  candidates_.erase(std::unique(candidates_.begin(), candidates_.end()), candidates_.end());
}

PoolDraw RewardPool::draw(const std::vector<std::string>& batch_titles, uint64_t seed) const {
  PoolDraw out;
  std::unordered_map<std::string, int> index;
  for (size_t row = 0; row < batch_titles.size(); ++row) {
    auto [it, inserted] = index.emplace(batch_titles[row], int(out.batch_rows.size()));
    if (inserted) out.batch_rows.push_back(row);
    out.slot.push_back(it->second);
  }
  if (extra_items_ == 0) return out;
  // A sample of extra_items + batch size candidates holds at least extra_items outside the batch.
  std::vector<std::string> sampled;
  std::mt19937_64 rng(seed);
  std::sample(candidates_.begin(), candidates_.end(), std::back_inserter(sampled),
              size_t(extra_items_) + out.batch_rows.size(), rng);
  std::shuffle(sampled.begin(), sampled.end(), rng);
  for (std::string& title : sampled) {
    if (out.extras.size() == size_t(extra_items_)) break;
    if (!index.count(title)) out.extras.push_back(std::move(title));
  }
  return out;
}

}  // namespace lrem::train
