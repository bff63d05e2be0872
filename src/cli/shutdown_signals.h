// SIGINT/SIGTERM turned into an ordinary function call on a dedicated thread, so shutdown
// work (stopping a server) never runs inside a signal handler.
//
// The handler only writes the signal number to a pipe (the self-pipe pattern); a watcher
// thread reads it and runs the action. Blocking the signals and using sigwait is not enough
// here: libraries start threads before main() (with the signals unblocked), and the kernel
// may deliver a process-directed signal to any of them.
#pragma once

#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX struct sigaction, which <csignal> need not declare

#include <functional>
#include <mutex>
#include <thread>

namespace lrem::cli {

class ShutdownSignals {
 public:
  // Installs the handlers (replacing any, including an inherited "ignore") and starts the
  // watcher. One instance at a time: InvalidArgument if another is alive. A second signal
  // ends the process at once.
  ShutdownSignals();
  // Restores the previous handlers, then wakes and joins the watcher.
  ~ShutdownSignals();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Runs `action` on the watcher thread when a signal arrives, or right away (on this
  // thread) if one already has. Actions run under a lock, so once on_signal({}) returns the
  // previous action is neither running nor will run: clear it before what it uses dies.
  void on_signal(std::function<void()> action);

 private:
  void watch();

  int pipe_[2] = {-1, -1};
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
  std::mutex mu_;
  std::function<void()> action_;
  bool received_ = false;
  std::thread watcher_;
};

}  // namespace lrem::cli
