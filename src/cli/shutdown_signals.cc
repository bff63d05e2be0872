#include "cli/shutdown_signals.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "lrem/error.h"

namespace lrem::cli {

namespace {

// A signal handler can reach nothing but globals: this is the write end of the live
// instance's pipe (-1 when there is none). Lock-free atomics are async-signal-safe.
std::atomic<int> signal_pipe{-1};

// Written by the destructor to wake the watcher; no signal has number 0.
constexpr unsigned char kWake = 0;

extern "C" void forward_signal(int sig) {
  const int saved_errno = errno;
  const unsigned char byte = static_cast<unsigned char>(sig);
  const int fd = signal_pipe.load();
  if (fd >= 0) {
    // Non-blocking: if the pipe is full, a signal is already waiting to be read.
    [[maybe_unused]] const ssize_t n = ::write(fd, &byte, 1);
  }
  errno = saved_errno;
}

}  // namespace

ShutdownSignals::ShutdownSignals() {
  if (::pipe2(pipe_, O_CLOEXEC) != 0) throw IoError(std::string("cannot create a pipe: ") + std::strerror(errno));
  ::fcntl(pipe_[1], F_SETFL, O_NONBLOCK);
  int expected = -1;
  if (!signal_pipe.compare_exchange_strong(expected, pipe_[1])) {
    ::close(pipe_[0]);
    ::close(pipe_[1]);
    throw InvalidArgument("only one ShutdownSignals may exist at a time");
  }
  struct sigaction action {};
  action.sa_handler = forward_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, &previous_int_);
  ::sigaction(SIGTERM, &action, &previous_term_);
  watcher_ = std::thread([this] { watch(); });
}

ShutdownSignals::~ShutdownSignals() {
  ::sigaction(SIGINT, &previous_int_, nullptr);
  ::sigaction(SIGTERM, &previous_term_, nullptr);
  signal_pipe.store(-1);
  [[maybe_unused]] ssize_t n = ::write(pipe_[1], &kWake, 1);
  watcher_.join();
  ::close(pipe_[0]);
  ::close(pipe_[1]);
}

void ShutdownSignals::on_signal(std::function<void()> action) {
  std::lock_guard<std::mutex> lock(mu_);
  action_ = std::move(action);
  if (received_ && action_) action_();
}

void ShutdownSignals::watch() {
  for (;;) {
    unsigned char sig = kWake;
    const ssize_t n = ::read(pipe_[0], &sig, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 1 || sig == kWake) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (received_) {
      // The user insists: do not wait for a graceful stop.
      std::fprintf(stderr, "\nlrem: second signal, exiting now\n");
      std::_Exit(128 + sig);
    }
    received_ = true;
    if (action_) action_();
  }
}

}  // namespace lrem::cli
