#include "compute_call.h"

#include <mutex>

#include "lrem/runtime.h"
#include "util/progress.h"

namespace lrem::python {

namespace {

// The compute threads are one process-wide setting, so who is computing is too.
struct Callers {
  std::mutex mu;
  int inside = 0;
  int threads = 0;  // the count to restore when the last caller leaves
};

Callers& callers() {
  static Callers c;
  return c;
}

}  // namespace

ComputeCall::ComputeCall() {
  Callers& c = callers();
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.inside++ == 0)
    c.threads = num_threads();
  else if (c.inside == 2 && c.threads > 1)
    set_num_threads(1);
}

ComputeCall::~ComputeCall() {
  Callers& c = callers();
  std::lock_guard<std::mutex> lock(c.mu);
  if (--c.inside == 0 && num_threads() != c.threads) set_num_threads(c.threads);
}

std::function<void(size_t, size_t)> between_batches(bool show) {
  std::function<void(size_t, size_t)> report = show ? progress_reporter("embedded") : nullptr;
  return [report](size_t done, size_t total) {
    if (report) report(done, total);
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  };
}

}  // namespace lrem::python
