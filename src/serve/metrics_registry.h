// Counters, gauges and histograms rendered in Prometheus's text exposition format 0.0.4
// (what GET /metrics serves; the names are listed in docs/SERVING.md, "Metrics").
//
//   MetricsRegistry metrics;
//   MetricsRegistry::Counter& ok = metrics.counter("lrem_http_requests_total", "Requests answered.",
//                                                  {{"route", "/search"}, {"status", "200"}});
//   ok.inc();                                  // lock-free; safe from any thread
//   metrics.gauge_from("lrem_queue_depth", "Waiting requests.", {}, [&] { return queue.size(); });
//   std::string page = metrics.render();
//
// Looking a series up (counter(), gauge(), histogram()) takes a lock and creates it on first
// use; the returned reference stays valid for the registry's lifetime, so hot paths look up
// once and then only touch atomics. A name keeps the type and help it was first given
// (InvalidArgument if asked as another type). Label values are escaped; label names and
// metric names are the caller's constants, never client input.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace lrem {

class MetricsRegistry {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  class Counter {
   public:
    void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    uint64_t value() const { return value_.load(std::memory_order_relaxed); }

   private:
    std::atomic<uint64_t> value_{0};
  };

  class Gauge {
   public:
    void add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
    void set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
    int64_t value() const { return value_.load(std::memory_order_relaxed); }

   private:
    std::atomic<int64_t> value_{0};
  };

  // Cumulative buckets with the given upper bounds (ascending; +Inf is implied).
  class Histogram {
   public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);

   private:
    friend class MetricsRegistry;
    const std::vector<double> bounds_;
    std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; last is +Inf
    std::atomic<double> sum_{0.0};
  };

  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  // `bounds` applies when the series is created; InvalidArgument if empty or not ascending.
  Histogram& histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                       const Labels& labels = {});
  // A series whose value is read from `read` at each render(), for figures another object
  // already keeps (a cache's hit count, a queue's length). `read` must outlive the registry's
  // use and be thread-safe.
  void counter_from(const std::string& name, const std::string& help, const Labels& labels,
                    std::function<double()> read);
  void gauge_from(const std::string& name, const std::string& help, const Labels& labels,
                  std::function<double()> read);

  // Every family in name order, each with its # HELP and # TYPE lines, series in label order.
  std::string render() const;

 private:
  enum class Type { Counter, Gauge, Histogram };
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> read;
  };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, Series> series;  // by rendered label set, e.g. {route="/search"}
  };

  Series& series(const std::string& name, const std::string& help, Type type, const Labels& labels);
  void read_from(const std::string& name, const std::string& help, Type type, const Labels& labels,
                 std::function<double()> read);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace lrem
