// How a Python call runs lrem's compute: without the GIL, sharing the cores with the other
// Python threads that compute at the same time, and interruptible by Ctrl-C.
#pragma once

#include <cstddef>
#include <functional>

#include "bindings.h"

namespace lrem::python {

// Held for the duration of one compute call from Python (construct with the GIL held).
// The compute threads (OpenBLAS's GEMM pool) are process-wide: when several Python threads
// compute at once, each would start that many threads on the same cores, and the pools
// spin against each other (4 Python threads searching ran 20-35x slower than the same
// searches made one after another). So while more than one call is inside, every call
// runs on one compute thread, and the count in effect before is restored when the last
// one leaves.
class ComputeCall {
 public:
  ComputeCall();
  ~ComputeCall();
  ComputeCall(const ComputeCall&) = delete;
  ComputeCall& operator=(const ComputeCall&) = delete;

 private:
  py::gil_scoped_release release_;
};

// The embedder's between-batches callback for embedders made from Python: it takes the
// GIL and runs Python's pending signal handlers, so Ctrl-C raises KeyboardInterrupt out of
// a long embed call after the current batch rather than when the call ends; with `show`
// it also prints progress to stderr.
std::function<void(size_t, size_t)> between_batches(bool show);

}  // namespace lrem::python
