#include "util/progress.h"

#include <chrono>
#include <cstdio>

namespace lrem {

std::function<void(size_t, size_t)> progress_reporter(const std::string& label) {
  const auto start = std::chrono::steady_clock::now();
  const std::string prefix = label.empty() ? "" : label + " ";
  return [start, prefix](size_t done, size_t total) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = secs > 0 ? done / secs : 0.0;
    const double eta = rate > 0 ? (total - done) / rate : 0.0;
    std::fprintf(stderr, "\r  %s%zu/%zu (%.0f/s, ETA %.0fs)%s", prefix.c_str(), done, total, rate, eta,
                 done >= total ? "\n" : "");
    std::fflush(stderr);
  };
}

}  // namespace lrem
