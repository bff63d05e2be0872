#include "cli/malloc_settings.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace lrem::cli {

namespace {

bool set_in_environment(const char* variable) { return std::getenv(variable) || std::getenv("GLIBC_TUNABLES"); }

}  // namespace

void tune_malloc_for_batch_jobs() {
  if (!set_in_environment("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 32 << 20);
  if (!set_in_environment("MALLOC_TRIM_THRESHOLD_")) mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

void limit_malloc_arenas() {
  if (!set_in_environment("MALLOC_ARENA_MAX"))
    mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
}

}  // namespace lrem::cli
