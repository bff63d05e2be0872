#include "lrem/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <thread>

namespace lrem {

namespace {

// OpenBLAS's thread-count setter when libtorch's BLAS is OpenBLAS (Debian's libtorch), else
// null. Looked up at run time so lrem neither links OpenBLAS nor requires it.
using SetThreads = void (*)(int);
using GetThreads = int (*)();

void* openblas_symbol(const char* name) {
  if (void* symbol = dlsym(RTLD_DEFAULT, name)) return symbol;
  // Inside a Python extension libtorch's dependencies are not in the global scope.
  void* handle = dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_NOLOAD);
  return handle ? dlsym(handle, name) : nullptr;
}

}  // namespace

// With OpenBLAS, GEMMs run on OpenBLAS's own thread pool and ATen's OpenMP pool only splits
// elementwise ops. Two pools spinning on the same cores starve each other: on a 2-core
// machine item encoding ran 1.7-6x slower with 2 ATen + 2 OpenBLAS threads than with 1 + 2
// (docs/BENCHMARKS.md). So the threads go to OpenBLAS and ATen keeps one.
int set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (auto set_blas = reinterpret_cast<SetThreads>(openblas_symbol("openblas_set_num_threads"))) {
    set_blas(n);
    at::set_num_threads(1);
    return num_threads();
  }
  at::set_num_threads(n);
  return num_threads();
}

int num_threads() {
  if (auto get_blas = reinterpret_cast<GetThreads>(openblas_symbol("openblas_get_num_threads"))) return get_blas();
  return at::get_num_threads();
}

}  // namespace lrem
