// Process-wide compute settings: the one place where lrem's compute thread count is set.
// OpenBLAS and OpenMP keep one thread pool per process, shared by every Model and Embedder,
// so the count cannot belong to a model: loading a model never changes it. It is set only by
// set_num_threads (the CLI's --threads, Python's lrem.set_num_threads, and a training run,
// from its num_threads). Until then OpenBLAS's default applies (all cores).
#pragma once

namespace lrem {

// Sets the compute thread count; n <= 0 means hardware concurrency. With OpenBLAS (Debian's
// libtorch) these are OpenBLAS's GEMM threads and ATen's own pool keeps one thread, since two
// pools spinning on the same cores slow each other down; otherwise libtorch's intra-op count.
// Returns the count in effect afterwards.
int set_num_threads(int n = 0);
int num_threads();

}  // namespace lrem
