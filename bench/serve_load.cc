// Item 6: `lrem serve` end to end, under a load generator on loopback.
//
//   bench_serve_load --lrem build/bin/lrem --model DIR --index DIR --queries queries_test.jsonl
//       [--label demo] [--clients 1,4,16] [--modes reason,direct] [--endpoints search,embed]
//       [--batches 1] [--in-flight 4,16] [--traffic distinct|zipf] [--requests 400] [--seconds 20]
//       [--threads 1] [--http-threads N] [--k 10] [--batching off,on] [--batching-threads N]
//
// Every cell (endpoint, mode, clients, batch) starts its own `lrem serve --port 0` (the banner
// names the port the system picked), waits for GET /healthz, sends two warm-up requests whose
// text is not among the measured queries, then lets `clients` threads send requests (one
// connection per request, as independent callers would) until `requests` are done or
// `seconds` have passed, and stops the server (SIGTERM, then SIGKILL after 10 s). The server
// is started with PR_SET_PDEATHSIG, so it dies with this program even if this program is
// killed; no server outlives a run.
//
// Traffic: `distinct` (the default and the headline figure) sends each test query once, so
// with a fresh server per cell the CoT cache never hits: every reason-mode request generates
// its chain of thought. `zipf` draws queries with probability proportional to 1/rank, the
// repeats a real query stream has; the record says what share of requests repeated an
// earlier query. `batches` > 1 sends that many queries per request (`queries` / `texts`
// arrays), which the server embeds together. `--in-flight q` replaces `--clients`: for each
// batch b dividing q it runs q / b clients, so q queries are in flight in every cell and the
// batched and unbatched cells run back to back; q / b = 2 clients with batch b is what a
// micro-batching queue feeding the server's 2 workers would do, so it bounds that lever.
//
// `--batching off,on` runs every cell once per arm, back to back, so both arms see the same
// machine load: `off` is the server as above (`--no-batching`, --threads per request and
// --http-threads requests computing at once), `on` is `--batching`, whose shared forward passes
// (one at a time) use --batching-threads compute threads (default: --threads). On a
// loaded machine a second compute thread costs more than it gives: each parallel region
// waits for a thread the other jobs have descheduled (2 threads made the 1-client p50 2.5x
// worse at load average 10), so the default gives the arms the same threads per forward.
//
// One JSON line per cell: throughput (queries/s and requests/s), queries per CPU-second of
// the server, request latency p50/p99, the server's CPU use (cores busy), errors, the load
// average.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <thread>

#include <httplib.h>

#include "bench_common.h"
#include "lrem/error.h"

using namespace lrem;
using json = nlohmann::json;

namespace {

// CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat.
double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  // Field 2 (the command) may hold spaces; fields 14 and 15 (utime, stime) follow its ')'.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A running `lrem serve` child. The destructor stops it (SIGTERM, SIGKILL after 10 s) and
// reaps it, so no exit path, error included, leaves a server behind.
class ServerProcess {
 public:
  ServerProcess(const std::string& lrem, const std::vector<std::string>& serve_args, double startup_seconds) {
    if (access(lrem.c_str(), X_OK) != 0) throw IoError("serve_load: '" + lrem + "' is not an executable (pass --lrem)");
    std::vector<std::string> argv_strings = {lrem, "serve"};
    argv_strings.insert(argv_strings.end(), serve_args.begin(), serve_args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) throw IoError("serve_load: pipe failed");
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) {
      close(out[0]);
      close(out[1]);
      throw IoError("serve_load: fork failed");
    }
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
      dup2(out[1], STDOUT_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    stdout_fd_ = out[0];
    port_ = read_port(startup_seconds);
    wait_healthy(startup_seconds);
  }

  ~ServerProcess() {
    if (pid_ > 0) stop();
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  double cpu_seconds() const { return process_cpu_seconds(pid_); }

  // Throws if the server has exited on its own (a crash during the load).
  void check_alive() {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw IoError("serve_load: lrem serve exited during the run (status " + std::to_string(status) +
                    "); see its stderr above");
    }
  }

 private:
  // Reads the banner "lrem serve: listening on http://HOST:PORT (N items)".
  int read_port(double seconds) {
    const double deadline = bench::now_seconds() + seconds;
    std::string text;
    while (text.find('\n') == std::string::npos) {
      const double left = deadline - bench::now_seconds();
      if (left <= 0) throw IoError("serve_load: lrem serve printed no banner within " + std::to_string(seconds) + " s");
      pollfd p{stdout_fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left * 1000) + 1) <= 0) continue;
      char buf[256];
      const ssize_t got = read(stdout_fd_, buf, sizeof buf);
      if (got <= 0) throw IoError("serve_load: lrem serve exited before listening; see its stderr above");
      text.append(buf, size_t(got));
    }
    const size_t at = text.find("http://");
    const size_t colon = at == std::string::npos ? at : text.find(':', at + 7);
    if (colon == std::string::npos) throw FormatError("serve_load: unexpected banner from lrem serve: " + text);
    return std::stoi(text.substr(colon + 1));
  }

  void wait_healthy(double seconds) {
    const double deadline = bench::now_seconds() + seconds;
    httplib::Client client("127.0.0.1", port_);
    while (bench::now_seconds() < deadline) {
      check_alive();
      if (auto res = client.Get("/healthz"); res && res->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw IoError("serve_load: GET /healthz did not answer 200 within " + std::to_string(seconds) + " s");
  }

  void stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
};

// The query texts of each request, fixed before the clock starts.
struct Traffic {
  std::vector<std::vector<std::string>> requests;
  double repeat_fraction = 0;  // share of requests whose first query was sent before
};

Traffic make_traffic(const std::vector<std::string>& queries, const std::string& kind, int64_t requests, int batch) {
  Traffic t;
  if (kind == "distinct") {
    const int64_t n = std::min<int64_t>(requests, static_cast<int64_t>(queries.size()) / batch);
    for (int64_t r = 0; r < n; ++r) {
      t.requests.emplace_back(queries.begin() + r * batch, queries.begin() + (r + 1) * batch);
    }
    return t;
  }
  if (kind != "zipf") throw InvalidArgument("--traffic must be distinct or zipf, got '" + kind + "'");
  std::mt19937_64 rng(13);
  std::vector<size_t> rank_to_query(queries.size());
  std::iota(rank_to_query.begin(), rank_to_query.end(), 0);
  std::shuffle(rank_to_query.begin(), rank_to_query.end(), rng);
  std::vector<double> weights(queries.size());
  for (size_t r = 0; r < weights.size(); ++r) weights[r] = 1.0 / static_cast<double>(r + 1);
  std::discrete_distribution<size_t> rank(weights.begin(), weights.end());
  std::set<size_t> seen;
  for (int64_t r = 0; r < requests; ++r) {
    std::vector<std::string> texts;
    for (int b = 0; b < batch; ++b) {
      const size_t q = rank_to_query[rank(rng)];
      if (b == 0 && !seen.insert(q).second) t.repeat_fraction += 1;
      texts.push_back(queries[q]);
    }
    t.requests.push_back(std::move(texts));
  }
  t.repeat_fraction /= static_cast<double>(requests);
  return t;
}

std::string request_body(const std::string& endpoint, const std::string& mode, const std::vector<std::string>& texts,
                         int k) {
  json body = {{"mode", mode}};
  if (endpoint == "embed") {
    body["texts"] = texts;
    body["kind"] = "query";
  } else {
    if (texts.size() == 1) {
      body["query"] = texts[0];
    } else {
      body["queries"] = texts;
    }
    body["k"] = k;
  }
  return body.dump();
}

struct CellResult {
  std::vector<double> latencies;  // seconds, one per completed request
  double wall_seconds = 0;
  int64_t errors = 0;
  std::string first_error;
  bool time_bounded = false;
};

// `clients` threads send the bodies in order, each taking the next unsent one, until all are
// sent or `seconds` have passed.
CellResult drive(int port, const std::string& path, const std::vector<std::string>& bodies, int clients,
                 double seconds) {
  CellResult out;
  std::mutex mu;
  std::atomic<size_t> next{0};
  const double start = bench::now_seconds(), deadline = start + seconds;
  double last_done = start;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(std::chrono::seconds(300));
      for (size_t i; (i = next++) < bodies.size();) {
        if (bench::now_seconds() >= deadline) {
          std::lock_guard lock(mu);
          out.time_bounded = true;
          break;
        }
        const double t0 = bench::now_seconds();
        const httplib::Result res = client.Post(path, bodies[i], "application/json");
        const double t1 = bench::now_seconds();
        std::lock_guard lock(mu);
        if (res && res->status == 200) {
          out.latencies.push_back(t1 - t0);
        } else {
          ++out.errors;
          if (out.first_error.empty()) {
            out.first_error = res ? std::to_string(res->status) + " " + res->body : httplib::to_string(res.error());
          }
        }
        last_done = std::max(last_done, t1);
      }
    });
  }
  for (auto& t : threads) t.join();
  out.wall_seconds = last_done - start;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  // A client whose server vanished must get an error, not a SIGPIPE that ends the program
  // before the server is reaped.
  signal(SIGPIPE, SIG_IGN);
  return bench::run_main("bench_serve_load", [&] {
    const bench::Args args(argc, argv,
                           {"lrem", "model", "index", "queries", "label", "clients", "modes", "endpoints", "batches",
                            "in-flight", "traffic", "requests", "seconds", "threads", "http-threads", "k",
                            "startup-seconds", "batching", "batching-threads"});
    const std::string lrem = args.required("lrem"), model = args.required("model"), index = args.required("index");
    const std::string label = args.str("label", "model"), traffic_kind = args.str("traffic", "distinct");
    const std::vector<std::string> queries = bench::read_jsonl_strings(args.required("queries"), "text");
    const int64_t requests = args.integer("requests", 400), threads = args.integer("threads", 1);
    const int64_t http_threads = args.integer("http-threads", std::thread::hardware_concurrency());
    const int64_t batching_threads = args.integer("batching-threads", threads);
    const double seconds = args.number("seconds", 20), startup = args.number("startup-seconds", 300);
    const int k = static_cast<int>(args.integer("k", 10));
    auto list = [&](const std::string& key, const std::string& fallback) {
      std::vector<std::string> out;
      std::stringstream in(args.str(key, fallback));
      for (std::string part; std::getline(in, part, ',');) out.push_back(part);
      return out;
    };

    // (clients, batch) cells: --clients x --batches, or --in-flight q split as q / b clients.
    std::vector<std::pair<int64_t, int64_t>> cells;
    for (const int64_t batch : args.integers("batches", {1})) {
      for (const int64_t clients : args.integers("clients", {1, 4, 16})) cells.emplace_back(clients, batch);
    }
    if (!args.str("in-flight", "").empty()) {
      cells.clear();
      for (const int64_t q : args.integers("in-flight", {})) {
        for (const int64_t batch : args.integers("batches", {1})) {
          if (q % batch == 0) cells.emplace_back(q / batch, batch);
        }
      }
    }
    for (const std::string& endpoint : list("endpoints", "search")) {
      if (endpoint != "search" && endpoint != "embed") {
        throw InvalidArgument("--endpoints takes search and/or embed, got '" + endpoint + "'");
      }
      for (const std::string& mode : list("modes", "reason,direct")) {
        for (const auto& [clients, batch] : cells) {
          for (const std::string& arm : list("batching", "off")) {
            if (arm != "off" && arm != "on") throw InvalidArgument("--batching takes off and/or on, got '" + arm + "'");
            const bool batching = arm == "on";
            const Traffic traffic = make_traffic(queries, traffic_kind, requests, static_cast<int>(batch));
            std::vector<std::string> bodies;
            for (const auto& texts : traffic.requests) bodies.push_back(request_body(endpoint, mode, texts, k));

            const int64_t compute_threads = batching ? batching_threads : threads;
            const int64_t request_slots = batching ? 0 : http_threads;  // 0: as many as the batch holds
            ServerProcess server(lrem,
                                 {"--model", model, "--index", index, "--port", "0", "--quiet", "--threads",
                                  std::to_string(compute_threads), "--http-threads", std::to_string(request_slots),
                                  batching ? "--batching" : "--no-batching"},
                                 startup);
            const std::string path = "/" + endpoint;
            const std::vector<std::string> warmup(static_cast<size_t>(batch), "warm-up request, not measured");
            (void)drive(server.port(), path, {request_body(endpoint, mode, warmup, k)}, 1, seconds);
            const double cpu0 = server.cpu_seconds();
            const CellResult r = drive(server.port(), path, bodies, static_cast<int>(clients), seconds);
            const double cpu = server.cpu_seconds() - cpu0;
            server.check_alive();
            if (r.latencies.empty()) throw IoError("serve_load: no request succeeded: " + r.first_error);
            const double done = static_cast<double>(r.latencies.size());
            bench::emit({{"bench", "serve"},
                         {"label", label},
                         {"endpoint", endpoint},
                         {"mode", mode},
                         {"clients", clients},
                         {"batch", batch},
                         {"batching", batching},
                         {"traffic", traffic_kind},
                         {"repeat_fraction", traffic.repeat_fraction},
                         {"requests", r.latencies.size()},
                         {"time_bounded", r.time_bounded},
                         {"errors", r.errors},
                         {"first_error", r.first_error},
                         {"seconds", r.wall_seconds},
                         {"requests_per_s", done / r.wall_seconds},
                         {"queries_per_s", done * static_cast<double>(batch) / r.wall_seconds},
                         {"p50_ms", 1e3 * bench::percentile(r.latencies, 50)},
                         {"p99_ms", 1e3 * bench::percentile(r.latencies, 99)},
                         {"mean_ms", 1e3 * std::accumulate(r.latencies.begin(), r.latencies.end(), 0.0) / done},
                         {"server_cores_busy", cpu / r.wall_seconds},
                         {"queries_per_cpu_s", done * static_cast<double>(batch) / cpu},
                         {"server_threads", compute_threads},
                         {"server_http_threads", request_slots},
                         {"logical_cores", std::thread::hardware_concurrency()},
                         {"load_average_1min", bench::load_average_1min()}});
          }
        }
      }
    }
  });
}
