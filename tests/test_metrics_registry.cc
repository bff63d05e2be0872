// The Prometheus registry behind GET /metrics: exact text for known values, cumulative
// histograms, label escaping, and counts that add up under concurrent updates.
#include "serve/metrics_registry.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "lrem/error.h"

namespace lrem {
namespace {

TEST(MetricsRegistry, RendersCountersGaugesAndFunctionsInTheTextFormat) {
  MetricsRegistry m;
  m.counter("requests_total", "Requests.", {{"route", "/a"}, {"status", "200"}}).inc(3);
  m.counter("requests_total", "ignored: the first help stays", {{"route", "/a"}, {"status", "404"}}).inc();
  m.gauge("in_flight", "Now.").set(2);
  int depth = 5;
  m.gauge_from("queue_depth", "Waiting.", {}, [&] { return depth; });
  depth = 7;  // read at render time
  EXPECT_EQ(m.render(),
            "# HELP in_flight Now.\n"
            "# TYPE in_flight gauge\n"
            "in_flight 2\n"
            "# HELP queue_depth Waiting.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth 7\n"
            "# HELP requests_total Requests.\n"
            "# TYPE requests_total counter\n"
            "requests_total{route=\"/a\",status=\"200\"} 3\n"
            "requests_total{route=\"/a\",status=\"404\"} 1\n");
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricsRegistry m;
  MetricsRegistry::Histogram& h = m.histogram("latency_seconds", "Latency.", {0.125, 0.5, 1}, {{"route", "/s"}});
  for (double v : {0.0625, 0.125, 0.25, 0.75, 3.0}) h.observe(v);  // exact in binary, so the sum is too
  EXPECT_EQ(m.render(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{route=\"/s\",le=\"0.125\"} 2\n"
            "latency_seconds_bucket{route=\"/s\",le=\"0.5\"} 3\n"
            "latency_seconds_bucket{route=\"/s\",le=\"1\"} 4\n"
            "latency_seconds_bucket{route=\"/s\",le=\"+Inf\"} 5\n"
            "latency_seconds_sum{route=\"/s\"} 4.1875\n"
            "latency_seconds_count{route=\"/s\"} 5\n");
}

TEST(MetricsRegistry, EscapesLabelValuesAndHelp) {
  MetricsRegistry m;
  m.counter("c_total", "a \\ b\nc", {{"v", "q\"uo\\te\nnl"}}).inc();
  EXPECT_EQ(m.render(),
            "# HELP c_total a \\\\ b\\nc\n"
            "# TYPE c_total counter\n"
            "c_total{v=\"q\\\"uo\\\\te\\nnl\"} 1\n");
}

TEST(MetricsRegistry, ASeriesIsCreatedOnceAndTypesDoNotMix) {
  MetricsRegistry m;
  MetricsRegistry::Counter& a = m.counter("x_total", "X.", {{"k", "1"}});
  EXPECT_EQ(&a, &m.counter("x_total", "X.", {{"k", "1"}}));
  EXPECT_NE(&a, &m.counter("x_total", "X.", {{"k", "2"}}));
  EXPECT_THROW(m.gauge("x_total", "X."), InvalidArgument);
  EXPECT_THROW(m.histogram("h", "H.", {}), InvalidArgument);
  EXPECT_THROW(m.histogram("h", "H.", {1, 1}), InvalidArgument);
  m.gauge_from("g", "G.", {}, [] { return 1.0; });
  EXPECT_THROW(m.gauge("g", "G."), InvalidArgument);
}

TEST(MetricsRegistry, ConcurrentUpdatesAllCount) {
  MetricsRegistry m;
  constexpr int kThreads = 8, kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&m, t] {
      for (int i = 0; i < kEach; ++i) {
        // Looked up every time, as the server does per request, racing the creation.
        m.counter("n_total", "N.", {{"parity", std::to_string(t % 2)}}).inc();
        m.histogram("h", "H.", {1, 2}).observe(1.5);
      }
    });
  for (std::thread& t : threads) t.join();
  const std::string text = m.render();
  EXPECT_NE(text.find("n_total{parity=\"0\"} 80000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("n_total{parity=\"1\"} 80000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"2\"} 160000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_sum 240000\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace lrem
