// The figures `lrem serve` publishes at GET /metrics, over one MetricsRegistry (the names and
// their meaning are listed in docs/SERVING.md, "Metrics"). Figures other objects keep (the
// compute queue, the CoT cache, open connections) are read from them at each scrape.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "lrem/embedder.h"
#include "serve/metrics_registry.h"

namespace lrem {

class ServerMetrics {
 public:
  ServerMetrics();

  // One answered request, by route (a served path, or "other": never the client's path) and
  // status; its latency, when known, goes into the route's histogram.
  void answered(const std::string& route, int status, std::optional<double> seconds);
  // `n` queries asked for in mode `requested` that ran in mode `ran` (auto runs as reason
  // or direct).
  void queries(QueryMode requested, QueryMode ran, size_t n);
  // The sizes of the batches a stage ran, as lrem_batch_size{stage}: "request" counts the
  // queries or texts of each request; a batching scheduler records its own stages (e.g.
  // "decode_step", the sequences in each decode step) through the same histogram.
  MetricsRegistry::Histogram& batch_size(const std::string& stage);

  MetricsRegistry& registry() { return registry_; }
  std::string render() const { return registry_.render(); }

 private:
  MetricsRegistry registry_;
};

}  // namespace lrem
