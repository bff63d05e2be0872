// An HTTP JSON search service over a Retriever (the API is documented in docs/SERVING.md).
//
//   lrem::Retriever retriever = lrem::Retriever::open("index", lrem::Model::load("model"));
//   lrem::ServerOptions options;
//   options.port = 0;                                 // any free port
//   lrem::Server server(retriever, options);
//   int port = server.bind();                         // IoError if the port is taken
//   std::thread t([&] { server.run(); });             // blocks until stop()
//   ...
//   server.stop();                                    // from any thread: drains, then run() returns
//   t.join();
//
// Endpoints: POST /search, POST /embed, GET /healthz, and the admin routes when enabled
// (ServerOptions::admin_token); the interfaces serving stacks expect:
// POST /v1/embeddings (OpenAI-compatible, Matryoshka `dimensions`), POST /v1/chat/completions
// (OpenAI-compatible generation with the served model, e.g. as the keyword teacher of
// lrem/teacher.h), GET /metrics (Prometheus text format); and GET /, a search page.
// Bad requests get 400, requests over a limit 413, multipart bodies 415, unknown paths 404,
// wrong methods 405, unexpected failures 500 (details go to stderr, never to the client);
// every body but /metrics' and the page's is JSON, errors as {"error": "..."}.
//
// Connections and threads: each open connection has its own thread, which only reads
// and writes; at most `threads` requests run the model at once (the retriever is
// thread-safe), and at most `max_queue` more wait for a slot; beyond that a request is shed
// at once with 503 and Retry-After. A client must deliver each request within
// request_timeout_ms and take the response within as much again; an idle connection is
// closed after idle_timeout_ms; beyond max_connections open connections the next get 503.
// So slow or idle clients never hold up others, and overload never builds an unbounded
// queue. stop() drains: the listening socket closes at once, requests in flight finish,
// and until they have, /healthz answers 503 "draining" and new requests on open
// connections get 503. The retriever must outlive the server.
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
  int max_queue = 64;                   // requests waiting for a compute slot; more get 503 + Retry-After at once
  std::string default_mode = "reason";  // QueryMode when a request names none
  std::string model_name;               // the model named in /v1/ answers; empty: the model's fingerprint
  // The bearer token of the admin routes (POST /admin/items/add|update|remove,
  // /admin/checkpoint: live catalogue updates). Empty: they do not exist (404). Requests
  // without "Authorization: Bearer <token>" get 401, with another token 403.
  std::string admin_token;
  bool quiet = false;                   // no access log on stderr
};

class Server {
 public:
  // InvalidArgument for a non-positive limit, a negative port, thread count or max_queue,
  // or an unknown default_mode.
  Server(const Retriever& retriever, ServerOptions options = {});
  // The same, and the admin routes may change the retriever's catalogue (add_items...).
  // Without admin_token it serves as the read-only server.
  Server(Retriever& retriever, ServerOptions options = {});
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
  // Drains: stops accepting connections, lets in-flight requests finish (meanwhile /healthz
  // answers 503 "draining" and new requests 503), then run() returns. Thread-safe and
  // idempotent; may be called before run() (which then returns at once) or from a
  // signal-watching thread.
  void stop();
  bool running() const;
  int port() const;  // the bound port, or 0 before bind()

 private:
  Server(const Retriever& retriever, Retriever* updatable, ServerOptions options);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lrem
