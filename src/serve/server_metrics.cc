#include "serve/server_metrics.h"

namespace lrem {

namespace {

// Seconds: from a cached direct query (about a millisecond) to a long chat completion.
const std::vector<double> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,  0.5,    1,     2.5,  5,     10,   30};
// Sequences per batch, up to the largest max_batch worth telling apart.
const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256};

}  // namespace

ServerMetrics::ServerMetrics() {
  // Present from the first scrape, so rates and ratios have a zero to start from.
  for (QueryMode mode : {QueryMode::Reason, QueryMode::Direct}) {
    queries(mode, mode, 0);
    queries(QueryMode::Auto, mode, 0);
  }
  batch_size("request");
}

void ServerMetrics::answered(const std::string& route, int status, std::optional<double> seconds) {
  registry_
      .counter("lrem_http_requests_total", "HTTP requests answered, by route and status.",
               {{"route", route}, {"status", std::to_string(status)}})
      .inc();
  if (seconds)
    registry_
        .histogram("lrem_http_request_duration_seconds",
                   "Time from routing a request to its response being ready to send, by route.", kLatencyBounds,
                   {{"route", route}})
        .observe(*seconds);
}

void ServerMetrics::queries(QueryMode requested, QueryMode ran, size_t n) {
  registry_
      .counter("lrem_queries_total", "Queries embedded, by the mode asked for and the mode that ran.",
               {{"requested", to_string(requested)}, {"ran", to_string(ran)}})
      .inc(n);
}

MetricsRegistry::Histogram& ServerMetrics::batch_size(const std::string& stage) {
  return registry_.histogram("lrem_batch_size", "Sequences per batch, by stage (request: queries or texts per request).",
                             kBatchBounds, {{"stage", stage}});
}

}  // namespace lrem
