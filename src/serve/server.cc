#include "lrem/server.h"

#include <httplib.h>
#include <malloc.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "lrem/error.h"
#include "lrem/retriever.h"
#include "lrem/tokenizer.h"
#include "model/chat_format.h"
#include "retrieval/search_json.h"
#include "serve/compute_slots.h"
#include "serve/http_server.h"
#include "serve/search_page.h"
#include "serve/server_metrics.h"
#include "serve/server_request.h"
#include "util/base64.h"

namespace lrem {

namespace {

using json = OrderedJson;
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
constexpr Route kRoutes[] = {{"/", "GET"},
                             {"/search", "POST"},
                             {"/embed", "POST"},
                             {"/healthz", "GET"},
                             {"/metrics", "GET"},
                             {"/v1/embeddings", "POST"},
                             {"/v1/chat/completions", "POST"},
                             {"/admin/items/add", "POST"},
                             {"/admin/items/update", "POST"},
                             {"/admin/items/remove", "POST"},
                             {"/admin/checkpoint", "POST"}};

bool is_admin_path(const std::string& path) { return path.rfind("/admin/", 0) == 0; }

// Compares the whole strings whatever their contents, so the time taken does not tell a
// client how much of a guessed token was right.
bool same_token(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % std::max<size_t>(b.size(), 1)]);
  return diff == 0 && !b.empty();
}

const Route* find_route(const std::string& path) {
  for (const Route& r : kRoutes)
    if (path == r.path) return &r;
  return nullptr;
}

// The route a request counts under in the metrics: never the client's own path, which
// would let clients mint series without bound.
std::string route_label(const std::string& path) {
  const Route* route = find_route(path);
  return route ? route->path : "other";
}

// What a client told to come back later (shedding, draining) is told to wait, in seconds.
constexpr const char* kRetryAfterSeconds = "1";

void reply_unavailable(httplib::Response& res, const std::string& message) {
  res.set_header("Retry-After", kRetryAfterSeconds);
  reply_error(res, 503, message);
}

// Request paths are client-controlled; keep control bytes out of the log.
std::string printable(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

constexpr int kListenBacklog = 1024;

// glibc keeps what a thread freed in that thread's arena; after building a response this
// large, hand the memory back to the system rather than let each connection thread's arena
// hold its high-water mark.
constexpr size_t kTrimAfterBytes = size_t(1) << 20;

int hardware_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

// With batching, requests share the embedder's forward passes: as many may wait in its
// batch as it decodes at once.
int compute_slots(const ServerOptions& o, const EmbedderOptions& e) {
  if (o.threads > 0) return o.threads;
  return e.batching ? std::max(e.batch_size, hardware_threads()) : hardware_threads();
}

ConnectionLimits connection_limits(const ServerOptions& o) {
  ConnectionLimits limits;
  limits.max_connections = o.max_connections;
  limits.request_timeout = std::chrono::milliseconds(o.request_timeout_ms);
  limits.idle_timeout = std::chrono::milliseconds(o.idle_timeout_ms);
  return limits;
}

// httplib handles each request start to finish on one worker thread, and gives the logger
// no timing; the pre-routing hook stamps the start here and the logger consumes it.
thread_local std::optional<Clock::time_point> request_start;

}  // namespace

struct Server::Impl {
  const Retriever& retriever;
  Retriever* const updatable;  // the same retriever when the admin routes may change it
  const ServerOptions options;
  const std::string fingerprint;
  const std::string model_name;  // what /v1/ answers name as the model
  HttpServer http;
  mutable ComputeSlots compute;
  mutable ServerMetrics metrics;
  const ChatFormat chat_format;
  mutable std::atomic<uint64_t> completions{0};  // numbers the chat completions' ids
  std::atomic<bool> draining{false};               // stop() was called: finish what runs, take nothing new

  enum class Phase { Idle, Running, Finished };
  mutable std::mutex mu;
  Phase phase = Phase::Idle;
  bool stop_requested = false;
  int port = 0;

  Impl(const Retriever& r, Retriever* u, ServerOptions o)
      : retriever(r),
        updatable(u),
        options(std::move(o)),
        fingerprint(r.embedder().model().fingerprint()),
        model_name(options.model_name.empty() ? fingerprint : options.model_name),
        http(connection_limits(options)),
        compute(compute_slots(options, r.embedder().options()), options.max_queue),
        chat_format(ChatFormat::for_tokenizer(r.embedder().model().tokenizer())) {
    configure();
    observe();
  }

  void configure();
  void observe();
  void search(const std::string& body, httplib::Response& res) const;
  Embeddings embeddings(const EmbedRequest& request) const;
  void embed(const std::string& body, httplib::Response& res) const;
  void openai_embeddings(const std::string& body, httplib::Response& res) const;
  void chat(const std::string& body, httplib::Response& res) const;
  std::optional<std::string> read_body(const httplib::Request& req, httplib::Response& res,
                                       const httplib::ContentReader& read) const;
  void healthz(httplib::Response& res) const;
  void admin(const std::string& path, const std::string& body, httplib::Response& res) const;
  // 401 without a bearer token, 403 with another one; false once it has answered so.
  bool authorized(const httplib::Request& req, httplib::Response& res) const;

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

  // A POST endpoint taking the JSON body; it runs holding a compute slot. When every slot
  // is busy and max_queue requests already wait for one, or the server is draining, it is
  // answered 503 at once.
  template <class Endpoint>
  httplib::Server::HandlerWithContentReader with_body(Endpoint endpoint) const {
    return [this, endpoint](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
      // Before the body: a request whose headers arrived before the drain began is in
      // flight, and finishes however slowly its body follows.
      if (draining) return reply_unavailable(res, "the server is shutting down; send the request to another instance");
      const std::optional<std::string> body = read_body(req, res, read);
      if (!body) return;
      const ComputeSlots::Turn turn(compute);
      if (!turn)
        return reply_unavailable(res, "all " + std::to_string(compute.slots()) + " compute slots are busy and " +
                                          std::to_string(compute.max_queue()) +
                                          " requests are already waiting; retry later");
      guarded([&](const httplib::Request&, httplib::Response& r) { endpoint(*body, r); })(req, res);
    };
  }
};

// The body is read here rather than by httplib, which would cap a body sent as
// application/x-www-form-urlencoded (curl -d's default) at 8,192 bytes, compiled into
// Debian's library, and parse it as a form; the body is JSON whatever the Content-Type says.
std::optional<std::string> Server::Impl::read_body(const httplib::Request& req, httplib::Response& res,
                                                   const httplib::ContentReader& read) const {
  if (req.is_multipart_form_data()) {
    reply_error(res, 415, "multipart/form-data is not accepted; send the JSON body as is (application/json)");
    return std::nullopt;
  }
  std::string body;
  bool over = false;
  const bool complete = read([&](const char* data, size_t n) {
    over = body.size() + n > options.max_body_bytes;
    if (!over) body.append(data, n);
    return !over;
  });
  if (over || res.status == 413) {  // 413: httplib saw a Content-Length over the limit
    reply_error(res, 413, "the request body is over the limit of " + std::to_string(options.max_body_bytes) + " bytes");
    return std::nullopt;
  }
  if (!complete) {
    reply_error(res, 400, "the request body was not received in full within " +
                              std::to_string(options.request_timeout_ms) + " ms");
    return std::nullopt;
  }
  return body;
}

void Server::Impl::configure() {
  http.set_payload_max_length(options.max_body_bytes);
  http.set_tcp_nodelay(true);
  // httplib's default may set SO_REUSEPORT, which lets a second server share a port that is
  // in use; SO_REUSEADDR alone allows quick restarts but makes a taken port fail to bind.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  http.Post("/search", with_body([this](const std::string& body, httplib::Response& res) { search(body, res); }));
  http.Post("/embed", with_body([this](const std::string& body, httplib::Response& res) { embed(body, res); }));
  http.Post("/v1/embeddings",
            with_body([this](const std::string& body, httplib::Response& res) { openai_embeddings(body, res); }));
  http.Post("/v1/chat/completions",
            with_body([this](const std::string& body, httplib::Response& res) { chat(body, res); }));
  if (!options.admin_token.empty()) {
    for (const Route& route : kRoutes) {
      if (!is_admin_path(route.path)) continue;
      const std::string path = route.path;
      auto endpoint = with_body([this, path](const std::string& body, httplib::Response& res) { admin(path, body, res); });
      http.Post(route.path, [this, endpoint](const httplib::Request& req, httplib::Response& res,
                                             const httplib::ContentReader& read) {
        if (authorized(req, res)) endpoint(req, res, read);
      });
    }
  }
  http.Get("/healthz", guarded([this](const httplib::Request&, httplib::Response& res) { healthz(res); }));
  http.Get("/metrics", guarded([this](const httplib::Request&, httplib::Response& res) {
             res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
           }));
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(search_page_html(), "text/html; charset=utf-8");
  });

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    request_start = Clock::now();
    const Route* route = options.admin_token.empty() && is_admin_path(req.path) ? nullptr : find_route(req.path);
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
        reply_error(res, 404, "no endpoint " + req.path +
                                  "; use POST /search, POST /embed, POST /v1/embeddings, POST /v1/chat/completions, "
                                  "GET /healthz, GET /metrics or GET / (the search page)");
        break;
      case 413:  // a body on a path that takes none, read by httplib
        reply_error(res, 413, "the request body is too large for " + req.method + " " + printable(req.path) +
                                  " (POST endpoints take up to " +
                                  std::to_string(options.max_body_bytes) + " bytes)");
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
  // Called with the final status, before the response is written: counted here rather than
  // in the logger, so a client that has its answer sees it counted in /metrics.
  http.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    std::optional<double> seconds;
    if (request_start) seconds = millis_since(*request_start) / 1000;
    metrics.answered(route_label(req.path), res.status, seconds);
  });
  // Called once the response is sent.
  http.set_logger([quiet = options.quiet](const httplib::Request& req, const httplib::Response& res) {
    if (res.body.size() > kTrimAfterBytes) malloc_trim(0);
    std::string took = "-";
    if (request_start) took = std::to_string(millis_since(*request_start)) + "ms";
    request_start.reset();
    if (!quiet)
      std::fprintf(stderr, "%s %s %d %s\n", printable(req.method).c_str(), printable(req.path).c_str(), res.status,
                   took.c_str());
  });
}

// Figures other parts keep, read at each scrape of GET /metrics.
void Server::Impl::observe() {
  MetricsRegistry& r = metrics.registry();
  r.gauge_from("lrem_http_requests_in_flight", "Requests being read, computed or answered now.", {},
               [this] { return http.in_flight(); });
  r.counter_from("lrem_http_connections_refused_total",
                 "Connections answered 503 and closed for being over --max-connections.", {},
                 [this] { return static_cast<double>(http.refused()); });
  r.gauge_from("lrem_compute_slots", "Requests that may run the model at once (--http-threads).", {},
               [this] { return compute.slots(); });
  r.gauge_from("lrem_compute_slots_busy", "Requests running the model now.", {}, [this] { return compute.busy(); });
  r.gauge_from("lrem_compute_queue_depth", "Requests waiting for a compute slot.", {},
               [this] { return compute.waiting(); });
  r.gauge_from("lrem_compute_queue_limit", "Most requests that may wait (--max-queue); more are shed with 503.", {},
               [this] { return compute.max_queue(); });
  r.gauge_from("lrem_draining", "1 once shutdown has begun (requests in flight finish, new ones get 503).", {},
               [this] { return draining ? 1 : 0; });
  const Embedder& embedder = retriever.embedder();
  r.counter_from("lrem_cot_cache_hits_total", "Reason-mode queries answered from the CoT cache.", {},
                 [&embedder] { return static_cast<double>(embedder.cot_cache_stats().hits); });
  r.counter_from("lrem_cot_cache_misses_total", "Reason-mode queries that generated their CoT.", {},
                 [&embedder] { return static_cast<double>(embedder.cot_cache_stats().misses); });
  r.gauge_from("lrem_cot_cache_entries", "CoTs held in the cache.", {},
               [&embedder] { return static_cast<double>(embedder.cot_cache_stats().size); });
}

void Server::Impl::search(const std::string& body, httplib::Response& res) const {
  const auto start = Clock::now();
  const SearchRequest request = parse_search_request(body, options);
  const size_t results = request.queries.size() * static_cast<size_t>(request.k);
  if (results > static_cast<size_t>(options.max_results))
    throw LimitExceeded(std::to_string(request.queries.size()) + " queries x k " + std::to_string(request.k) + " = " +
                        std::to_string(results) + " results, over the limit of " +
                        std::to_string(options.max_results) + " per request; lower k or split the batch");
  metrics.batch_size("request").observe(static_cast<double>(request.queries.size()));
  std::vector<SearchResponse> found = retriever.search_many(request.queries, request.k, request.mode);
  for (const SearchResponse& r : found) metrics.queries(request.mode, r.mode, 1);
  json out;
  if (request.batch) {
    json results = json::array();
    for (const SearchResponse& r : found) results.push_back(search_response_json(r));
    out = json{{"results", std::move(results)}};
  } else {
    out = search_response_json(found.front());
  }
  out["took_ms"] = millis_since(start);
  reply(res, 200, out);
}

// The one path from texts to vectors of POST /embed and POST /v1/embeddings.
Embeddings Server::Impl::embeddings(const EmbedRequest& request) const {
  const Embedder& embedder = retriever.embedder();
  metrics.batch_size("request").observe(static_cast<double>(request.texts.size()));
  if (request.items) return embedder.embed_items(request.texts);
  Embeddings e = embedder.embed_queries(request.texts, request.mode);
  metrics.queries(request.mode, request.mode, request.texts.size());
  return e;
}

void Server::Impl::embed(const std::string& body, httplib::Response& res) const {
  const Embeddings e = embeddings(parse_embed_request(body, options));
  json rows = json::array();
  for (int64_t i = 0; i < e.rows; ++i) rows.push_back(std::vector<float>(e.row(i), e.row(i) + e.dim));
  reply(res, 200,
        json{{"dim", e.dim}, {"embeddings", std::move(rows)}, {"cots", e.cots}, {"truncated", e.truncated}});
}

namespace {

// The first `dim` values of a unit vector, scaled back to unit length: Matryoshka
// truncation, the same vector the embedder gives with output_dim = dim.
std::vector<float> truncated(const float* row, int64_t full, int64_t dim) {
  std::vector<float> out(row, row + dim);
  if (dim == full) return out;
  double norm = 0;
  for (float v : out) norm += double(v) * v;
  const float scale = static_cast<float>(1 / std::max(std::sqrt(norm), 1e-12));
  for (float& v : out) v *= scale;
  return out;
}

// OpenAI's base64 encoding: the float32 values' little-endian bytes.
std::string base64_floats(const std::vector<float>& values) {
  std::string bytes;
  bytes.reserve(values.size() * 4);
  for (float v : values) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int shift = 0; shift < 32; shift += 8) bytes += static_cast<char>((bits >> shift) & 0xff);
  }
  return base64_encode(bytes.data(), bytes.size());
}

}  // namespace

// OpenAI's embeddings API over the /embed path: texts are queries (reason or direct, per
// "mode" or the server's default) unless "kind": "item"; usage counts the texts' tokens.
void Server::Impl::openai_embeddings(const std::string& body, httplib::Response& res) const {
  const EmbeddingsRequest request = parse_embeddings_request(body, options, retriever.embedder().dim());
  const Embeddings e = embeddings(request.embed);
  const int64_t dim = request.dimensions > 0 ? request.dimensions : e.dim;
  const Tokenizer& tokenizer = retriever.embedder().model().tokenizer();
  json data = json::array();
  size_t tokens = 0;
  for (int64_t i = 0; i < e.rows; ++i) {
    const std::vector<float> row = truncated(e.row(i), e.dim, dim);
    data.push_back(json{{"object", "embedding"},
                        {"index", i},
                        {"embedding", request.base64 ? json(base64_floats(row)) : json(row)}});
    tokens += tokenizer.encode(request.embed.texts[static_cast<size_t>(i)]).size();
  }
  reply(res, 200,
        json{{"object", "list"},
             {"data", std::move(data)},
             {"model", model_name},
             {"usage", json{{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
}

// One reply, generated with the served model from the conversation rendered in the chat
// format its tokenizer implies (model/chat_format.h); OpenAI's response shape.
void Server::Impl::chat(const std::string& body, httplib::Response& res) const {
  const ChatRequest request = parse_chat_request(body, options);
  const Model& model = retriever.embedder().model();
  GenerationOptions g;
  g.max_new_tokens = request.max_tokens > 0 ? request.max_tokens : options.max_completion_tokens;
  g.temperature = request.temperature;
  g.top_p = request.top_p;
  g.seed = request.seed;
  g.stop_ids = chat_format.stop_ids();
  const Generation out = model.generate(chat_format.render(request.messages), g);
  std::string content = out.text;
  std::string finish_reason = out.finish_reason;
  for (const std::string& stop : request.stop) {
    const size_t at = stop.empty() ? std::string::npos : content.find(stop);
    if (at == std::string::npos) continue;
    content.resize(at);
    finish_reason = "stop";
  }
  const size_t prompt_tokens = out.prompt_ids.size();
  const size_t completion_tokens = out.token_ids.size();
  reply(res, 200,
        json{{"id", "chatcmpl-" + std::to_string(++completions)},
             {"object", "chat.completion"},
             {"created", static_cast<int64_t>(std::time(nullptr))},
             {"model", request.model.empty() ? model_name : request.model},
             {"choices", json::array({json{{"index", 0},
                                           {"message", json{{"role", "assistant"}, {"content", content}}},
                                           {"finish_reason", finish_reason}}})},
             {"usage", json{{"prompt_tokens", prompt_tokens},
                            {"completion_tokens", completion_tokens},
                            {"total_tokens", prompt_tokens + completion_tokens}}}});
}

bool Server::Impl::authorized(const httplib::Request& req, httplib::Response& res) const {
  const std::string header = req.get_header_value("Authorization");
  const std::string scheme = "Bearer ";
  if (header.rfind(scheme, 0) != 0) {
    res.set_header("WWW-Authenticate", "Bearer");
    reply_error(res, 401, "the admin routes need the header \"Authorization: Bearer <token>\" (lrem serve --admin-token-file)");
    return false;
  }
  if (!same_token(header.substr(scheme.size()), options.admin_token)) {
    reply_error(res, 403, "the admin token is not this server's");
    return false;
  }
  return true;
}

// Live catalogue updates; each is all or nothing, and durable once answered when the server
// serves an index directory's own catalogue.
void Server::Impl::admin(const std::string& path, const std::string& body, httplib::Response& res) const {
  Retriever& r = *updatable;
  json out;
  if (path == "/admin/checkpoint") {
    r.checkpoint();
    out["checkpointed"] = true;
  } else if (path == "/admin/items/remove") {
    const AdminItemsRequest request = parse_admin_items_request(body, options, /*removal=*/true);
    r.remove_items(request.ids);
    out["removed"] = request.ids.size();
  } else {
    const bool add = path == "/admin/items/add";
    const AdminItemsRequest request = parse_admin_items_request(body, options, /*removal=*/false);
    add ? r.add_items(request.items) : r.update_items(request.items);
    out[add ? "added" : "updated"] = request.items.size();
  }
  out["items"] = r.items().size();
  reply(res, 200, out);
}

// 503 while draining, so load balancers stop sending traffic; the body is the same.
void Server::Impl::healthz(httplib::Response& res) const {
  reply(res, draining ? 503 : 200,
        json{{"status", draining ? "draining" : "ok"}, {"items", retriever.items().size()}, {"dim", retriever.embedder().dim()},
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
  if (o.threads < 0) throw InvalidArgument("ServerOptions.threads must be >= 0 (0 = hardware concurrency), got " + std::to_string(o.threads));
  check_positive(static_cast<long long>(o.max_body_bytes), "max_body_bytes");
  check_positive(o.max_k, "max_k");
  check_positive(o.max_batch, "max_batch");
  check_positive(o.max_query_bytes, "max_query_bytes");
  check_positive(o.max_results, "max_results");
  check_positive(o.max_connections, "max_connections");
  check_positive(o.max_completion_tokens, "max_completion_tokens");
  check_positive(o.request_timeout_ms, "request_timeout_ms");
  check_positive(o.idle_timeout_ms, "idle_timeout_ms");
  if (o.max_queue < 0)
    throw InvalidArgument("ServerOptions.max_queue must be >= 0 (0: never wait for a slot), got " +
                          std::to_string(o.max_queue));
  parse_query_mode(o.default_mode);
  if (o.max_k > Index::kMaxK)
    throw InvalidArgument("ServerOptions.max_k must be at most " + std::to_string(Index::kMaxK));
  return o;
}

}  // namespace

Server::Server(const Retriever& retriever, ServerOptions options) : Server(retriever, nullptr, std::move(options)) {}

Server::Server(Retriever& retriever, ServerOptions options) : Server(retriever, &retriever, std::move(options)) {}

Server::Server(const Retriever& retriever, Retriever* updatable, ServerOptions options) {
  if (parse_query_mode(options.default_mode) == QueryMode::Auto && !retriever.routing())
    throw InvalidArgument("default mode \"auto\" needs the index's router.json (scripts/fit_router.py writes it); "
                          "serve with --mode reason or direct, or fit a router first");
  if (!options.admin_token.empty() && !updatable)
    throw InvalidArgument("ServerOptions.admin_token: the admin routes change the catalogue, so the server needs a "
                          "Retriever it may change (pass a non-const Retriever)");
  impl_ = std::make_unique<Impl>(retriever, updatable, validated(std::move(options)));
}

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
  impl_->draining = true;
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
