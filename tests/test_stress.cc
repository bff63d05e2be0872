// Bounded stress tests for long-lived services: many threads searching and embedding
// through one Retriever while another thread adds and removes items in the shared index,
// and many HTTP clients on one Server. Every answer must equal the serial answer, and the
// resident memory must stay flat once warmed up (no growth per request).
//
// LREM_STRESS_SECONDS sets each test's duration (default 4); docs/RELIABILITY.md records
// a long run.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lrem/error.h"
#include "lrem/retriever.h"
#include "lrem/server.h"
#include "test_support.h"

namespace lrem {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

std::chrono::milliseconds duration() {
  const char* env = std::getenv("LREM_STRESS_SECONDS");
  const double s = env && std::atof(env) > 0 ? std::atof(env) : 4.0;
  return std::chrono::milliseconds(int64_t(s * 1000));
}

// Resident set size in MiB, from /proc/self/statm.
double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// Growth allowed between the warmed-up and the final RSS: allocator caches settle within a
// few MiB, while a leak of even one small buffer per request grows by far more over
// thousands of requests.
constexpr double kMaxGrowthMib = 24.0;

const std::vector<std::string> kTitles = {
    "Red Running Shoes",  "Navy Wool Cardigan",   "Steel Claw Hammer", "Wooden Toy Truck",  "Oak Dining Table",
    "Stainless Kettle",   "Leather Hiking Boots", "Plush Teddy Bear",  "Cotton Beach Towel", "Glass Flower Vase",
    "Ceramic Soup Bowl",  "Bamboo Cutting Board", "Wool Winter Socks", "Brass Desk Lamp",    "Canvas Tote Bag",
    "Silver Fountain Pen"};
const std::vector<std::string> kQueries = {"boots for hiking", "soft toy",      "dining furniture", "boiling water",
                                           "knitwear",         "hammer",        "running gear",     "a gift for a writer",
                                           "something to carry books", "warm feet"};
constexpr int kK = 5;

QueryMode mode_of(size_t q) { return q % 3 == 0 ? QueryMode::Reason : QueryMode::Direct; }

ItemStore catalogue() {
  std::vector<Item> items;
  for (size_t i = 0; i < kTitles.size(); ++i) items.push_back({int64_t(i), kTitles[i], "{}"});
  return ItemStore(std::move(items));
}

void expect_same(const SearchResponse& got, const SearchResponse& want, const std::string& where) {
  ASSERT_EQ(got.hits.size(), want.hits.size()) << where;
  EXPECT_EQ(got.cot, want.cot) << where;
  for (size_t i = 0; i < want.hits.size(); ++i) {
    EXPECT_EQ(got.hits[i].id, want.hits[i].id) << where << " rank " << i;
    EXPECT_NEAR(got.hits[i].score, want.hits[i].score, 1e-5) << where << " rank " << i;
  }
}

// Unit vectors that can never enter any checked query's top k: each scores below every
// query's k-th best score (by a margin) for all queries, so adding and removing them while
// searching leaves the expected answers unchanged.
std::vector<float> far_vectors(const Embeddings& queries, const std::vector<SearchResponse>& want, int n) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> out;
  const int64_t dim = queries.dim;
  while (int64_t(out.size()) < n * dim) {
    std::vector<float> v(dim);
    double norm = 0;
    for (float& f : v) norm += double(f = normal(rng)) * f;
    for (float& f : v) f = float(f / std::sqrt(norm));
    bool far = true;
    for (int64_t q = 0; q < queries.rows && far; ++q) {
      double dot = 0;
      for (int64_t j = 0; j < dim; ++j) dot += double(v[j]) * queries.row(q)[j];
      far = dot < want[q].hits.back().score - 0.05;
    }
    if (far) out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

class Stress : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = testing::fixture("stories260K");
    if (dir.empty()) GTEST_SKIP();
    // No CoT cache: every reason-mode search really generates, concurrently.
    EmbedderOptions options;
    options.cot_cache_capacity = 0;
    embedder_ = std::make_unique<Embedder>(testing::small_lrem_model(dir, 11), options);
    index_ = std::make_shared<Index>(build_index(*embedder_, catalogue()));
    retriever_ = std::make_unique<Retriever>(*embedder_, index_, catalogue());
    for (size_t q = 0; q < kQueries.size(); ++q) want_.push_back(retriever_->search(kQueries[q], kK, mode_of(q)));
  }

  std::unique_ptr<Embedder> embedder_;
  std::shared_ptr<Index> index_;
  std::unique_ptr<Retriever> retriever_;
  std::vector<SearchResponse> want_;
};

TEST_F(Stress, SearchEmbedAndIndexUpdatesFromManyThreads) {
  // The queries' embeddings as the index sees them, to choose vectors that stay out of every top k.
  Embeddings all;
  all.dim = embedder_->dim();
  for (size_t q = 0; q < kQueries.size(); ++q) {
    const Embeddings e = embedder_->embed_queries({kQueries[q]}, mode_of(q));
    all.data.insert(all.data.end(), e.data.begin(), e.data.end());
    ++all.rows;
  }
  const int kFar = 64;
  const std::vector<float> far = far_vectors(all, want_, kFar);
  const Embeddings items_want = embedder_->embed_items(kTitles);

  std::atomic<bool> stop{false};
  std::atomic<int64_t> searches{0}, embeds{0}, updates{0};
  auto searcher = [&](int t) {
    for (size_t i = t; !stop; ++i) {
      const size_t q = i % kQueries.size();
      expect_same(retriever_->search(kQueries[q], kK, mode_of(q)), want_[q], kQueries[q]);
      ++searches;
    }
  };
  auto embedder = [&] {
    while (!stop) {
      const Embeddings e = embedder_->embed_items(kTitles);
      ASSERT_EQ(e.data.size(), items_want.data.size());
      for (size_t j = 0; j < e.data.size(); ++j) ASSERT_NEAR(e.data[j], items_want.data[j], 1e-6);
      ++embeds;
    }
  };
  auto updater = [&] {
    std::vector<int64_t> ids(kFar);
    for (int64_t round = 0; !stop; ++round) {
      for (int i = 0; i < kFar; ++i) ids[i] = 1000 + round * kFar + i;  // fresh ids each round
      index_->add(far.data(), ids.data(), kFar, /*normalized=*/true);
      EXPECT_EQ(index_->remove(ids.data(), kFar), kFar);
      ++updates;
    }
  };
  auto run_for = [&](std::chrono::milliseconds how_long) {
    stop = false;
    std::vector<std::future<void>> workers;
    for (int t = 0; t < 4; ++t) workers.push_back(std::async(std::launch::async, searcher, t));
    workers.push_back(std::async(std::launch::async, embedder));
    workers.push_back(std::async(std::launch::async, updater));
    std::this_thread::sleep_for(how_long);
    stop = true;
    for (auto& w : workers) w.get();
  };

  run_for(duration() / 4);  // warm-up: thread arenas, FAISS and torch buffers
  const double warm = rss_mib();
  const int64_t warm_searches = searches;
  run_for(duration());
  const double end = rss_mib();
  std::printf("[ stress ] %lld searches, %lld item batches, %lld add+remove rounds; RSS %.1f -> %.1f MiB\n",
              static_cast<long long>(searches.load()), static_cast<long long>(embeds.load()),
              static_cast<long long>(updates.load()), warm, end);
  EXPECT_GT(searches - warm_searches, 0);
  EXPECT_GT(updates.load(), 0);
  EXPECT_EQ(index_->size(), int64_t(kTitles.size()));
  if (testing::kRssIsMeaningful) EXPECT_LT(end - warm, kMaxGrowthMib) << "resident memory grew during the run";
}

TEST_F(Stress, ManyHttpClients) {
  ServerOptions options;
  options.port = 0;
  options.threads = 4;
  options.quiet = true;
  Server server(*retriever_, options);
  const int port = server.bind();
  auto running = std::async(std::launch::async, [&] { server.run(); });
  while (!server.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  std::atomic<bool> stop{false};
  std::atomic<int64_t> requests{0};
  auto client = [&](int t) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(60));
    for (size_t i = t; !stop; ++i) {
      const size_t q = i % kQueries.size();
      const json body = {{"query", kQueries[q]}, {"k", kK}, {"mode", to_string(mode_of(q))}};
      const httplib::Result res = c.Post("/search", body.dump(), "application/json");
      ASSERT_TRUE(res) << httplib::to_string(res.error());
      ASSERT_EQ(res->status, 200) << res->body;
      const json got = json::parse(res->body);
      ASSERT_EQ(got.at("hits").size(), want_[q].hits.size());
      EXPECT_EQ(got.at("cot"), want_[q].cot);
      for (size_t r = 0; r < want_[q].hits.size(); ++r) {
        EXPECT_EQ(got["hits"][r].at("id").get<int64_t>(), want_[q].hits[r].id);
        EXPECT_NEAR(got["hits"][r].at("score").get<double>(), want_[q].hits[r].score, 1e-5);
      }
      // An over-limit request in the mix must be refused without disturbing the others.
      if (i % 7 == 0) {
        const httplib::Result big = c.Post("/search", json{{"query", "x"}, {"k", options.max_k + 1}}.dump(), "application/json");
        ASSERT_TRUE(big);
        EXPECT_EQ(big->status, 413);
      }
      ++requests;
    }
  };
  auto run_for = [&](std::chrono::milliseconds how_long) {
    stop = false;
    std::vector<std::future<void>> clients;
    for (int t = 0; t < 8; ++t) clients.push_back(std::async(std::launch::async, client, t));
    std::this_thread::sleep_for(how_long);
    stop = true;
    for (auto& c : clients) c.get();
  };
  run_for(duration() / 4);
  const double warm = rss_mib();
  run_for(duration());
  const double end = rss_mib();
  server.stop();
  running.get();
  std::printf("[ stress ] %lld HTTP requests from 8 clients; RSS %.1f -> %.1f MiB\n",
              static_cast<long long>(requests.load()), warm, end);
  EXPECT_GT(requests.load(), 0);
  if (testing::kRssIsMeaningful) EXPECT_LT(end - warm, kMaxGrowthMib) << "resident memory grew during the run";
}

}  // namespace
}  // namespace lrem
