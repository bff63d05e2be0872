#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include "lrem/error.h"

namespace lrem::train {

CosineSchedule::CosineSchedule(double peak, double min_ratio, int64_t warmup_steps, int64_t total_steps)
    : peak_(peak), floor_(peak * min_ratio), warmup_(warmup_steps), total_(total_steps) {
  if (!(peak > 0) || !(min_ratio >= 0 && min_ratio <= 1) || warmup_steps < 0 || total_steps < 1)
    throw InvalidArgument("CosineSchedule: need peak > 0, 0 <= min_ratio <= 1, warmup >= 0, total >= 1");
}

double CosineSchedule::lr(int64_t step) const {
  if (step < warmup_) return peak_ * double(step + 1) / double(warmup_);
  const int64_t decay_steps = total_ - warmup_ - 1;
  if (decay_steps <= 0) return peak_;
  const double progress = std::min(1.0, double(step - warmup_) / double(decay_steps));
  return floor_ + (peak_ - floor_) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace lrem::train
