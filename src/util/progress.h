// The one progress display of long runs (embedding a catalogue, evaluating, curating), for
// the CLI and the Python bindings alike.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace lrem {

// A callback for the library's (done, total) progress hooks that redraws one stderr line,
// "\r  <label> done/total (rate/s, ETA s)", and ends it when done reaches total. The rate is
// timed from the reporter's creation.
std::function<void(size_t done, size_t total)> progress_reporter(const std::string& label);

}  // namespace lrem
