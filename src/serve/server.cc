#include "lrem/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "lrem/error.h"
#include "lrem/retriever.h"
#include "retrieval/search_json.h"
#include "serve/server_request.h"

namespace lrem {

namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double millis_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Model output (CoTs) may hold byte sequences that are not UTF-8; they are sent with U+FFFD
// in their place rather than failing the request.
std::string dump(const json& body) { return body.dump(-1, ' ', false, json::error_handler_t::replace); }

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void reply_error(httplib::Response& res, int status, const std::string& message) {
  reply(res, status, json{{"error", message}});
}

// The endpoints and the one method each accepts (HEAD is served as GET by httplib).
struct Route {
  const char* path;
  const char* method;
};
constexpr Route kRoutes[] = {{"/search", "POST"}, {"/embed", "POST"}, {"/healthz", "GET"}};

const Route* find_route(const std::string& path) {
  for (const Route& r : kRoutes)
    if (path == r.path) return &r;
  return nullptr;
}

// Request paths are client-controlled; keep control bytes out of the log.
std::string printable(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

// httplib listens with a backlog of 5, compiled into Debian's library: a burst of more
// concurrent connects than that gets SYNs dropped and the clients retry only after a
// second. Linux lets listen() be called again on the bound socket to raise it.
class HttpServer : public httplib::Server {
 public:
  bool raise_backlog(int backlog) { return ::listen(svr_sock_, backlog) == 0; }
};
constexpr int kListenBacklog = 1024;

// httplib handles each request start to finish on one worker thread, and gives the logger
// no timing; the pre-routing hook stamps the start here and the logger consumes it.
thread_local std::optional<Clock::time_point> request_start;

}  // namespace

struct Server::Impl {
  const Retriever& retriever;
  const ServerOptions options;
  const std::string fingerprint;
  HttpServer http;

  enum class Phase { Idle, Running, Finished };
  mutable std::mutex mu;
  Phase phase = Phase::Idle;
  bool stop_requested = false;
  int port = 0;

  Impl(const Retriever& r, ServerOptions o)
      : retriever(r),
        options(std::move(o)),
        fingerprint(r.embedder().model().fingerprint()) {
    configure();
  }

  void configure();
  void search(const httplib::Request& req, httplib::Response& res) const;
  void embed(const httplib::Request& req, httplib::Response& res) const;
  void healthz(httplib::Response& res) const;

  // Runs an endpoint, turning lrem's errors into their status codes. Anything else is a
  // server fault: logged in full, reported to the client only as "internal error".
  template <class Endpoint>
  httplib::Server::Handler guarded(Endpoint endpoint) const {
    return [endpoint](const httplib::Request& req, httplib::Response& res) {
      try {
        endpoint(req, res);
      } catch (const LimitExceeded& e) {
        reply_error(res, 413, e.what());
      } catch (const InvalidArgument& e) {
        reply_error(res, 400, e.what());
      } catch (const FormatError& e) {
        reply_error(res, 400, e.what());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "lrem serve: internal error on %s %s: %s\n", req.method.c_str(),
                     printable(req.path).c_str(), e.what());
        reply_error(res, 500, "internal error");
      }
    };
  }
};

void Server::Impl::configure() {
  const int threads = options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http.set_payload_max_length(options.max_body_bytes);
  http.set_tcp_nodelay(true);
  // An idle keep-alive connection holds a worker and delays shutdown until it times out.
  http.set_keep_alive_timeout(2);
  // httplib's default may set SO_REUSEPORT, which lets a second server share a port that is
  // in use; SO_REUSEADDR alone allows quick restarts but makes a taken port fail to bind.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  http.Post("/search", guarded([this](const httplib::Request& req, httplib::Response& res) { search(req, res); }));
  http.Post("/embed", guarded([this](const httplib::Request& req, httplib::Response& res) { embed(req, res); }));
  http.Get("/healthz", guarded([this](const httplib::Request&, httplib::Response& res) { healthz(res); }));

  http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    request_start = Clock::now();
    const Route* route = find_route(req.path);
    const bool allowed = !route || req.method == route->method ||
                         (req.method == "HEAD" && std::strcmp(route->method, "GET") == 0);
    if (allowed) return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("Allow", route->method);
    reply_error(res, 405, std::string(req.path) + " accepts " + route->method + " only");
    return httplib::Server::HandlerResponse::Handled;
  });
  // Statuses httplib sets itself (404, 413 for the body size, 400 for a malformed request)
  // come without a body; give them the same JSON shape as the endpoints' errors.
  http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    switch (res.status) {
      case 404:
        reply_error(res, 404, "no endpoint " + req.path + "; use POST /search, POST /embed or GET /healthz");
        break;
      case 413:
        reply_error(res, 413, "the request body is over the limit of " + std::to_string(options.max_body_bytes) +
                                  " bytes");
        break;
      case 400:
        reply_error(res, 400, "malformed HTTP request");
        break;
      default:
        reply_error(res, res.status, "HTTP error " + std::to_string(res.status));
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, const std::exception_ptr&) {
    std::fprintf(stderr, "lrem serve: internal error on %s %s\n", req.method.c_str(), printable(req.path).c_str());
    reply_error(res, 500, "internal error");
  });
  if (!options.quiet) {
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      std::string took = "-";
      if (request_start) took = std::to_string(millis_since(*request_start)) + "ms";
      request_start.reset();
      std::fprintf(stderr, "%s %s %d %s\n", printable(req.method).c_str(), printable(req.path).c_str(), res.status,
                   took.c_str());
    });
  }
}

void Server::Impl::search(const httplib::Request& req, httplib::Response& res) const {
  const auto start = Clock::now();
  const SearchRequest request = parse_search_request(req.body, options);
  std::vector<SearchResponse> found = retriever.search_many(request.queries, request.k, request.mode);
  json out;
  if (request.batch) {
    json results = json::array();
    for (const SearchResponse& r : found) results.push_back(search_response_json(r, retriever.items()));
    out = json{{"results", std::move(results)}};
  } else {
    out = search_response_json(found.front(), retriever.items());
  }
  out["took_ms"] = millis_since(start);
  reply(res, 200, out);
}

void Server::Impl::embed(const httplib::Request& req, httplib::Response& res) const {
  const EmbedRequest request = parse_embed_request(req.body, options);
  const Embedder& embedder = retriever.embedder();
  const Embeddings e = request.items ? embedder.embed_items(request.texts) : embedder.embed_queries(request.texts, request.mode);
  json rows = json::array();
  for (int64_t i = 0; i < e.rows; ++i) rows.push_back(std::vector<float>(e.row(i), e.row(i) + e.dim));
  reply(res, 200,
        json{{"dim", e.dim}, {"embeddings", std::move(rows)}, {"cots", e.cots}, {"truncated", e.truncated}});
}

void Server::Impl::healthz(httplib::Response& res) const {
  reply(res, 200,
        json{{"status", "ok"}, {"items", retriever.items().size()}, {"dim", retriever.embedder().dim()},
             {"model", fingerprint}, {"index", retriever.index().factory()}});
}

namespace {

void check_positive(long long value, const char* name) {
  if (value <= 0) throw InvalidArgument(std::string("ServerOptions.") + name + " must be positive, got " +
                                        std::to_string(value));
}

ServerOptions validated(ServerOptions o) {
  if (o.port < 0 || o.port > 65535)
    throw InvalidArgument("ServerOptions.port must be in [0, 65535] (0 picks a free port), got " + std::to_string(o.port));
  if (o.threads < 0) throw InvalidArgument("ServerOptions.threads must be >= 0 (0 = all cores), got " + std::to_string(o.threads));
  check_positive(static_cast<long long>(o.max_body_bytes), "max_body_bytes");
  check_positive(o.max_k, "max_k");
  check_positive(o.max_batch, "max_batch");
  check_positive(o.max_query_bytes, "max_query_bytes");
  parse_query_mode(o.default_mode);
  if (o.max_k > Index::kMaxK)
    throw InvalidArgument("ServerOptions.max_k must be at most " + std::to_string(Index::kMaxK));
  return o;
}

}  // namespace

Server::Server(const Retriever& retriever, ServerOptions options)
    : impl_(std::make_unique<Impl>(retriever, validated(std::move(options)))) {}

Server::~Server() { stop(); }

int Server::bind() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->port != 0) return impl_->port;
  if (impl_->phase != Impl::Phase::Idle) throw InvalidArgument("this server has already run; create a new one");
  const ServerOptions& o = impl_->options;
  errno = 0;
  const int port = o.port == 0 ? impl_->http.bind_to_any_port(o.host)
                               : (impl_->http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port <= 0 || !impl_->http.raise_backlog(kListenBacklog)) {
    const std::string reason = errno != 0 ? std::string(": ") + std::strerror(errno) : std::string();
    throw IoError("cannot listen on " + o.host + ":" + std::to_string(o.port) + reason +
                  " (is another server using the port? port 0 picks a free one)");
  }
  impl_->port = port;
  return port;
}

void Server::run() {
  bind();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->phase != Impl::Phase::Idle) throw InvalidArgument("this server has already run; create a new one");
    impl_->phase = impl_->stop_requested ? Impl::Phase::Finished : Impl::Phase::Running;
    if (impl_->phase == Impl::Phase::Finished) return;
  }
  impl_->http.listen_after_bind();
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->phase = Impl::Phase::Finished;
}

void Server::stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop_requested = true;
    if (impl_->phase != Impl::Phase::Running) return;
  }
  // run() has committed to listening; httplib's stop() only takes effect once its accept
  // loop has started, so wait for that (or for run() to have finished already).
  while (!impl_->http.is_running()) {
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      if (impl_->phase != Impl::Phase::Running) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl_->http.stop();
}

bool Server::running() const { return impl_->http.is_running(); }

int Server::port() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->port;
}

}  // namespace lrem
