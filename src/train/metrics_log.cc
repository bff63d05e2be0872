#include "train/metrics_log.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "util/file_io.h"
#include "lrem/error.h"

namespace lrem::train {

namespace {

// Keeps the records of steps <= last_step; a torn final line (a crash mid-write) is dropped.
void truncate_after(const std::string& path, int64_t last_step) {
  if (!std::filesystem::exists(path)) return;
  std::istringstream in(read_file(path));
  std::string kept, line;
  while (std::getline(in, line)) {
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.contains("step")) continue;
    if (record["step"].get<int64_t>() <= last_step) kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

}  // namespace

MetricsLog::MetricsLog(std::string path, std::string stage, int64_t total_steps, int64_t resume_step, bool quiet,
                       ProgressCallback callback)
    : path_(std::move(path)),
      stage_(std::move(stage)),
      total_steps_(total_steps),
      start_step_(resume_step),
      quiet_(quiet),
      callback_(std::move(callback)) {
  if (resume_step > 0) {
    truncate_after(path_, resume_step);
  } else {
    write_file_atomic(path_, "");
  }
}

TrainProgress MetricsLog::log(int64_t step, const std::map<std::string, double>& metrics) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  TrainProgress p;
  p.stage = stage_;
  p.step = step;
  p.total_steps = total_steps_;
  p.metrics = metrics;
  p.steps_per_second = elapsed > 0 ? double(step - start_step_) / elapsed : 0;
  p.eta_seconds = p.steps_per_second > 0 ? double(total_steps_ - step) / p.steps_per_second : 0;

  nlohmann::json record = {{"stage", stage_}, {"step", step}, {"elapsed", elapsed}};
  for (const auto& [k, v] : metrics) record[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  // Appending one short line is not atomic like a checkpoint, but truncate_after drops a torn one.
  std::FILE* f = std::fopen(path_.c_str(), "a");
  if (!f) throw IoError("cannot append to the metrics log " + path_);
  const std::string line = record.dump() + "\n";
  const bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
  if (std::fclose(f) != 0 || !ok) throw IoError("cannot write the metrics log " + path_);

  if (!quiet_) {
    std::ostringstream msg;
    msg << "[" << stage_ << "] step " << step << "/" << total_steps_;
    for (const char* key : {"loss", "lr"}) {
      auto it = metrics.find(key);
      if (it != metrics.end()) msg << " " << key << " " << it->second;
    }
    char rate[64];
    std::snprintf(rate, sizeof rate, " | %.2f steps/s, ETA %s", p.steps_per_second,
                  format_duration(p.eta_seconds).c_str());
    std::fprintf(stderr, "%s%s\n", msg.str().c_str(), rate);
  }
  if (callback_) callback_(p);
  return p;
}

std::string format_duration(double seconds) {
  const int64_t s = int64_t(std::llround(std::max(0.0, seconds)));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", (long long)s);
  }
  return buf;
}

}  // namespace lrem::train
