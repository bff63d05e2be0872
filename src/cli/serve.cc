// lrem serve: the HTTP search service (docs/SERVING.md) until SIGINT or SIGTERM, which drain it:
// requests in flight finish, then the process exits 0.
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/embedder_options.h"
#include "cli/malloc_settings.h"
#include "cli/shutdown_signals.h"
#include "lrem/error.h"
#include "lrem/retriever.h"
#include "lrem/server.h"
#include "util/file_io.h"

namespace lrem::cli {

namespace {

// Routes shutdown signals to server.stop() for as long as the server exists.
class StopOnSignal {
 public:
  StopOnSignal(ShutdownSignals& signals, Server& server) : signals_(signals) {
    signals_.on_signal([&server] { server.stop(); });
  }
  ~StopOnSignal() { signals_.on_signal({}); }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  ShutdownSignals& signals_;
};

// The file's first line, which must hold a token of at least 16 characters.
std::string read_admin_token(const std::string& path) {
  std::string token = read_file(path, 1 << 16);
  token = token.substr(0, token.find('\n'));
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.size() < 16)
    throw InvalidArgument("--admin-token-file '" + path + "': the token on its first line has " +
                          std::to_string(token.size()) + " characters; use at least 16 random ones "
                          "(e.g. `head -c 24 /dev/urandom | base64 > " + path + "`)");
  return token;
}

}  // namespace

void add_serve(CLI::App& app) {
  struct Args {
    EmbedderArgs common;
    std::string index, items, admin_token_file;
    bool mmap = false;
    ServerOptions server;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "serve",
      "Serve search over HTTP: POST /search, POST /embed, GET /healthz, POST /v1/embeddings, "
      "POST /v1/chat/completions, GET /metrics, and a search page at GET /");
  args->common.add_to(cmd);
  ServerOptions& s = args->server;
  cmd->add_option("--index", args->index, "Index directory from `lrem index build`")->required();
  cmd->add_option("--items", args->items, "Items JSONL; default the catalogue saved with the index");
  cmd->add_flag("--mmap", args->mmap,
                "Map the IVF index's inverted lists from disk instead of reading them (bounded memory, read-only; "
                "docs/SCALE.md)");
  cmd->add_option("--host", s.host, "Address to listen on (0.0.0.0 for every interface)")->capture_default_str();
  cmd->add_option("--port", s.port, "TCP port; 0 picks a free one")->capture_default_str();
  // --threads (from the embedder options) sets each request's compute threads; this is how
  // many requests compute at once.
  cmd->add_option("--http-threads", s.threads, "Requests running the model at once; 0 = all cores")
      ->capture_default_str();
  cmd->add_option("--max-queue", s.max_queue,
                  "Requests that may wait for a compute slot; more are refused at once with 503 and Retry-After")
      ->capture_default_str();
  cmd->add_option("--served-model-name", s.model_name,
                  "The model name /v1/ answers report; default the --model directory's name");
  EmbedderOptions& e = args->common.embedder;
  // On by default for serving (the library's default stays off): concurrent requests gain and
  // a lone one loses nothing (docs/SERVING.md, "Continuous batching").
  e.batching = true;
  cmd->add_flag("--batching,!--no-batching", e.batching,
                "Continuous batching: concurrent requests share the model's forward passes (up to --batch-size "
                "sequences; reason-mode queries join and leave at each decode step)")
      ->capture_default_str();
  cmd->add_option("--max-wait-ms", e.max_wait_ms,
                  "With batching: how long an idle model waits for more requests before it starts")
      ->capture_default_str();
  cmd->add_option("--max-connections", s.max_connections, "Open connections served at once; more get 503")
      ->capture_default_str();
  cmd->add_option("--request-timeout-ms", s.request_timeout_ms,
                  "Time a client has to send one whole request, and to take one response")
      ->capture_default_str();
  cmd->add_option("--idle-timeout-ms", s.idle_timeout_ms, "A connection idle this long between requests is closed")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", s.max_body_bytes, "Larger request bodies get 413")->capture_default_str();
  cmd->add_option("--max-k", s.max_k, "Largest k a request may ask for")->capture_default_str();
  cmd->add_option("--max-batch", s.max_batch, "Most queries or texts in one request")->capture_default_str();
  cmd->add_option("--max-results", s.max_results, "Most hits one /search may return: queries x k")
      ->capture_default_str();
  cmd->add_option("--max-query-bytes", s.max_query_bytes, "Longest query or text, in bytes")->capture_default_str();
  cmd->add_option("--max-completion-tokens", s.max_completion_tokens,
                  "POST /v1/chat/completions: largest max_tokens, and the length when a request names none")
      ->capture_default_str();
  cmd->add_option("--admin-token-file", args->admin_token_file,
                  "Enable the admin routes (POST /admin/items/add|update|remove, /admin/checkpoint: live catalogue "
                  "updates) for clients sending this file's token as \"Authorization: Bearer <token>\"; off without it");
  cmd->add_option("--mode", s.default_mode, "Query mode when a request names none: reason, direct or auto (needs the index's router.json)")
      ->capture_default_str();
  cmd->callback([args] {
    // First, so the thread pools that loading starts inherit the blocked signals.
    ShutdownSignals signals;
    limit_malloc_arenas();
    EmbedderArgs embedder_args = args->common;
    embedder_args.quiet = true;  // per-request progress lines would drown the access log
    Retriever retriever = Retriever::open(args->index, embedder_args.make_embedder(), args->items, args->mmap);
    ServerOptions options = args->server;
    if (!args->admin_token_file.empty()) options.admin_token = read_admin_token(args->admin_token_file);
    options.quiet = args->common.quiet;
    if (options.model_name.empty()) {
      const std::filesystem::path dir = std::filesystem::path(args->common.model).lexically_normal();
      options.model_name = (dir.has_filename() ? dir : dir.parent_path()).filename().string();
    }
    Server server(retriever, options);
    const int port = server.bind();
    StopOnSignal stop_on_signal(signals, server);
    std::cout << "lrem serve: listening on http://" << options.host << ":" << port << " ("
              << retriever.items().size() << " items)" << std::endl;
    server.run();
    std::cerr << "lrem serve: stopped" << std::endl;
  });
}

}  // namespace lrem::cli
