// Process-wide compute settings. libtorch defaults to one thread on some machines,
// so lrem sets the intra-op thread count explicitly.
#pragma once

namespace lrem {

// Sets the compute thread count; n <= 0 means hardware concurrency. With OpenBLAS (Debian's
// libtorch) these are OpenBLAS's GEMM threads and ATen's own pool keeps one thread, since two
// pools spinning on the same cores slow each other down; otherwise libtorch's intra-op count.
// Returns the count in effect afterwards.
int set_num_threads(int n = 0);
int num_threads();

}  // namespace lrem
