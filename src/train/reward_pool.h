// The items GRPO's accuracy reward ranks each target among: the distinct items of the whole
// batch (every rank's micro-batch, all-gathered) and `extra_items` further items drawn from the
// catalogue each step, so N can be far larger than the batch (the reward then still tells
// good CoTs from merely passable ones). An item appears once: a duplicate of the target is
// not a competitor, while any other item scoring as high as the target counts against it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lrem::train {

struct PoolDraw {
  std::vector<size_t> batch_rows;   // per distinct batch item (pool index 0..): its first batch row
  std::vector<int> slot;            // per batch row: the pool index of its item
  std::vector<std::string> extras;  // pool indices batch_rows.size()...: the extra items
  size_t size() const { return batch_rows.size() + extras.size(); }
};

class RewardPool {
 public:
  // candidates: the titles extras are drawn from (the catalogue, else the data's items).
  RewardPool(std::vector<std::string> candidates, int extra_items);

  // The pool for a batch whose rows target `batch_titles`; extras are distinct, not in the
  // batch, and a function of `seed` (fewer when the candidates run out).
  PoolDraw draw(const std::vector<std::string>& batch_titles, uint64_t seed) const;

 private:
  std::vector<std::string> candidates_;
  int extra_items_;
};

}  // namespace lrem::train
