// Learning-rate schedule: linear warmup to the peak, then cosine decay to a floor.
#pragma once

#include <cstdint>

namespace lrem::train {

class CosineSchedule {
 public:
  // warmup_steps of linear rise (step 0 already gets peak / warmup_steps, never 0), then a
  // half cosine from peak to peak * min_ratio reached at the last step (total_steps - 1).
  CosineSchedule(double peak, double min_ratio, int64_t warmup_steps, int64_t total_steps);

  double lr(int64_t step) const;

 private:
  double peak_, floor_;
  int64_t warmup_, total_;
};

}  // namespace lrem::train
