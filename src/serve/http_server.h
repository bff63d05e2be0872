// cpp-httplib's routing and request parsing with lrem's own connection handling, so that
// slow or idle clients cannot starve others (docs/SERVING.md, "Connections and timeouts").
//
// httplib serves each connection start to finish on one task-queue thread, and its read
// timeout applies to each recv(): a client sending one byte a second never trips it and
// holds its thread for as long as it likes. Here each connection gets:
//   - a deadline for receiving a whole request (line, headers and body) and another for
//     sending the whole response, so trickling clients are cut off;
//   - an idle (keep-alive) timeout between requests;
//   - a place among at most max_connections open connections; the next ones get 503 at once.
// The task queue has a thread per allowed connection (plus a few that only turn the excess
// away), so the accept loop never waits behind a busy connection. How many requests run
// the model at once is the caller's business (Server's compute slots), not this class's.
//
// Draining: stop() closes the listening socket at once, but connections stay open for as
// long as any request is in progress, so a kept-alive client can still ask (a last request
// each, answered with Connection: close) whether the server is draining. Once no request is
// in progress, idle connections close and listen() returns.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace lrem {

struct ConnectionLimits {
  int max_connections = 128;
  std::chrono::milliseconds request_timeout{10000};  // to receive one request; to send one response
  std::chrono::milliseconds idle_timeout{2000};      // between requests on a kept-alive connection
};

class HttpServer : public httplib::Server {
 public:
  explicit HttpServer(const ConnectionLimits& limits);
  // httplib listens with a backlog of 5, compiled into Debian's library: a burst of more
  // concurrent connects than that gets SYNs dropped and the clients retry only after a
  // second. Linux lets listen() be called again on the bound socket to raise it.
  bool raise_backlog(int backlog);
  // Requests being read, handled or answered now.
  int in_flight() const { return in_flight_.load(); }
  // Connections answered 503 and closed for being over max_connections, since construction.
  uint64_t refused() const { return refused_.load(); }

 private:
  bool process_and_close_socket(socket_t sock) override;
  void serve(socket_t sock);

  const ConnectionLimits limits_;
  std::atomic<int> open_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace lrem
