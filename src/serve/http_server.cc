#include "serve/http_server.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace lrem {

namespace {

using Clock = std::chrono::steady_clock;

// How often a connection waiting for its next request checks whether the server stops.
constexpr std::chrono::milliseconds kStopCheck{50};
// Task-queue threads beyond max_connections: they only send 503 and close, so a few suffice.
constexpr int kRefusingThreads = 4;

// Waits until `sock` is ready for `events` or `deadline` passes.
bool wait_until(socket_t sock, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{sock, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;  // POLLHUP/POLLERR too: the next recv/send reports them
    if (n == 0 || errno != EINTR) return false;
  }
}

void address_of(socket_t sock, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  auto* a = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? ::getpeername(sock, a, &len) : ::getsockname(sock, a, &len)) != 0) return;
  char host[NI_MAXHOST], service[NI_MAXSERV];
  if (::getnameinfo(a, len, host, sizeof(host), service, sizeof(service), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return;
  ip = host;
  port = std::atoi(service);
}

// A socket whose reads must all complete by the request's deadline, and whose writes by
// the response's (which starts with the first write), however the bytes trickle in or out.
class DeadlineStream : public httplib::Stream {
 public:
  DeadlineStream(socket_t sock, std::chrono::milliseconds timeout) : sock_(sock), timeout_(timeout) {}

  void start_request() {
    read_deadline_ = Clock::now() + timeout_;
    write_deadline_.reset();
  }

  bool is_readable() const override { return wait_until(sock_, POLLIN, read_deadline_); }
  bool is_writable() const override {
    if (!write_deadline_) write_deadline_ = Clock::now() + timeout_;
    return wait_until(sock_, POLLOUT, *write_deadline_);
  }

  // httplib reads request lines a byte at a time; a buffer saves a recv() per byte.
  ssize_t read(char* ptr, size_t size) override {
    if (buffered_ == consumed_) {
      if (!is_readable()) return -1;
      const ssize_t n = retry_eintr([&] { return ::recv(sock_, buffer_, sizeof(buffer_), 0); });
      if (n <= 0) return n;
      buffered_ = static_cast<size_t>(n);
      consumed_ = 0;
    }
    const size_t n = std::min(size, buffered_ - consumed_);
    std::memcpy(ptr, buffer_ + consumed_, n);
    consumed_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    return retry_eintr([&] { return ::send(sock_, ptr, size, MSG_NOSIGNAL); });
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(sock_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(sock_, false, ip, port); }
  socket_t socket() const override { return sock_; }

  bool has_buffered_bytes() const { return consumed_ < buffered_; }

 private:
  template <class Call>
  static ssize_t retry_eintr(Call call) {
    ssize_t n;
    do n = call();
    while (n < 0 && errno == EINTR);
    return n;
  }

  const socket_t sock_;
  const std::chrono::milliseconds timeout_;
  Clock::time_point read_deadline_;
  mutable std::optional<Clock::time_point> write_deadline_;
  char buffer_[4096];
  size_t buffered_ = 0, consumed_ = 0;
};

// One unit of `count` for as long as it lives.
class Counted {
 public:
  explicit Counted(std::atomic<int>& count) : count_(count), now_(++count) {}
  ~Counted() { --count_; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  int now() const { return now_; }  // the count including this one, when it was taken

 private:
  std::atomic<int>& count_;
  const int now_;
};

void refuse(socket_t sock, int max_connections) {
  const std::string body = "{\"error\": \"the server is at its limit of " + std::to_string(max_connections) +
                           " open connections; retry later\"}";
  const std::string response =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  // A fresh socket's send buffer has room; never wait for a client here.
  (void)::send(sock, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

HttpServer::HttpServer(const ConnectionLimits& limits) : limits_(limits) {
  const size_t threads = static_cast<size_t>(limits.max_connections) + kRefusingThreads;
  new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  set_keep_alive_timeout(std::max<time_t>(1, limits.idle_timeout.count() / 1000));  // for the Keep-Alive header
}

bool HttpServer::raise_backlog(int backlog) { return ::listen(svr_sock_, backlog) == 0; }

bool HttpServer::process_and_close_socket(socket_t sock) {
  const Counted open(open_);
  if (open.now() <= limits_.max_connections) {
    serve(sock);
  } else {
    ++refused_;
    refuse(sock, limits_.max_connections);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return true;
}

void HttpServer::serve(socket_t sock) {
  DeadlineStream stream(sock, limits_.request_timeout);
  const auto stopping = [this] { return svr_sock_ == INVALID_SOCKET; };  // httplib's stop() clears it
  const auto drained = [&] { return stopping() && in_flight_ == 0; };
  // httplib announces keep_alive_max_count_ in its Keep-Alive header; the loop keeps to it.
  for (size_t served = 0; served < keep_alive_max_count_; ++served) {
    // Idle until the next request starts (or a pipelined one is already buffered).
    const auto idle_until = Clock::now() + limits_.idle_timeout;
    bool ready = stream.has_buffered_bytes();
    while (!ready && !drained() && Clock::now() < idle_until)
      ready = wait_until(sock, POLLIN, std::min(idle_until, Clock::now() + kStopCheck));
    if (!ready) return;
    stream.start_request();
    bool closed = false;
    const bool last = stopping() || served + 1 == keep_alive_max_count_;
    const Counted in_flight(in_flight_);
    if (!process_request(stream, last, closed, nullptr) || closed) return;
  }
}

}  // namespace lrem
