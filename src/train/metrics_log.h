// The training record: metrics.jsonl (one JSON object per logged step, read by
// scripts/plot_metrics.py) and a progress line on stderr with rate and ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "lrem/train.h"

namespace lrem::train {

class MetricsLog {
 public:
  // Opens `path` for appending. After a resume from `resume_step`, records of later steps
  // (written by the interrupted run past its last checkpoint) are dropped first, so the log
  // reads as one uninterrupted run. `quiet` silences stderr; the callback still fires.
  MetricsLog(std::string path, std::string stage, int64_t total_steps, int64_t resume_step, bool quiet,
             ProgressCallback callback);

  // Records step `step` (optimiser steps done) with its metrics; returns the report.
  TrainProgress log(int64_t step, const std::map<std::string, double>& metrics);

 private:
  std::string path_, stage_;
  int64_t total_steps_, start_step_;
  bool quiet_;
  ProgressCallback callback_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace lrem::train
