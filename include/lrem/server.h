// An HTTP JSON search service over a Retriever (the API is documented in docs/SERVING.md).
//
//   lrem::Retriever retriever = lrem::Retriever::open("index", lrem::Model::load("model"));
//   lrem::ServerOptions options;
//   options.port = 0;                                 // any free port
//   lrem::Server server(retriever, options);
//   int port = server.bind();                         // IoError if the port is taken
//   std::thread t([&] { server.run(); });             // blocks until stop()
//   ...
//   server.stop();                                    // from any thread
//   t.join();
//
// Endpoints: POST /search, POST /embed, GET /healthz, and POST /v1/chat/completions
// (OpenAI-compatible generation with the served model, e.g. as the keyword teacher of
// lrem/teacher.h). Bad requests get 400, requests over a
// limit 413, multipart bodies 415, unknown paths 404, wrong methods 405, too many open
// connections 503, unexpected failures 500 (details go to stderr, never to the client);
// every body is JSON, errors as {"error": "..."}.
//
// Connections and threads: each open connection has its own thread, which only reads
// and writes; at most `threads` requests run the model at once (the retriever is
// thread-safe), the others wait for a slot. A client must deliver each request within
// request_timeout_ms and take the response within as much again; an idle connection is
// closed after idle_timeout_ms; beyond max_connections open connections the next get 503.
// So slow or idle clients never hold up others. The retriever must outlive the server.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace lrem {

class Retriever;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                      // 0: let the system pick a free port (see Server::bind)
  int threads = 0;                      // requests computing at once; 0 = hardware concurrency (with the
                                        // embedder's batching: its batch_size, as they share forward passes)
  size_t max_body_bytes = size_t(1) << 20;  // larger request bodies get 413, whatever their Content-Type
  int max_k = 1000;                     // larger k gets 413
  int max_batch = 256;                  // more queries/texts in one request gets 413
  int max_results = 10000;              // queries x k of one /search over this gets 413 (bounds the response)
  int max_connections = 128;            // open connections beyond this get 503 and are closed
  int request_timeout_ms = 10000;       // to receive one whole request, and to send one response
  int idle_timeout_ms = 2000;           // a kept-alive connection with no new request is closed
  int max_query_bytes = 4096;           // a longer query or text gets 413
  int max_completion_tokens = 512;      // /v1/chat/completions: larger max_tokens gets 413; the default length
  std::string default_mode = "reason";  // QueryMode when a request names none
  bool quiet = false;                   // no access log on stderr
};

class Server {
 public:
  // InvalidArgument for a non-positive limit, a negative port or thread count, or an
  // unknown default_mode.
  Server(const Retriever& retriever, ServerOptions options = {});
  ~Server();  // stops the server if it is running; run() must have returned before the Server dies
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the listening socket and returns its port (the chosen one when options.port is 0).
  // IoError if the address cannot be bound (port taken, bad host); calling it again
  // returns the same port.
  int bind();
  // Serves until stop(); binds first if bind() was not called. A server runs once: after
  // run() returns, calling it again throws InvalidArgument.
  void run();
  // Makes run() return after in-flight requests finish. Thread-safe and idempotent; may be
  // called before run() (which then returns at once) or from a signal-watching thread.
  void stop();
  bool running() const;
  int port() const;  // the bound port, or 0 before bind()

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lrem
