#include "lrem/runtime.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <thread>

namespace lrem {

int set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  return at::get_num_threads();
}

int num_threads() { return at::get_num_threads(); }

}  // namespace lrem
