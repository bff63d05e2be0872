// Continuous batching (EmbedderOptions::batching) against the unbatched embedder on the real
// stories260K model: whatever joins or leaves a running batch, each query gets the CoT and
// the embedding it gets alone.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "lrem/embedder.h"
#include "lrem/error.h"
#include "test_support.h"

namespace lrem {
namespace {

Model make_model() { return testing::small_lrem_model(testing::fixture("stories260K"), 7, "search query: {query} ->"); }

#define REQUIRE_FIXTURE()                                        \
  if (testing::fixture("stories260K").empty()) GTEST_SKIP() << "stories260K fixture missing"

void expect_same(const Embeddings& got, int64_t row, const Embeddings& want, const std::string& what) {
  ASSERT_EQ(got.dim, want.dim);
  EXPECT_EQ(got.cots[row], want.cots[0]) << what;
  for (int64_t j = 0; j < got.dim; ++j) ASSERT_NEAR(got.row(row)[j], want.row(0)[j], 1e-4f) << what << ", dimension " << j;
}

EmbedderOptions batched(EmbedderOptions o = {}) {
  o.batching = true;
  o.cot_cache_capacity = 0;  // every query generates
  return o;
}

// Threads submit reason-mode queries (of different lengths, so rows start and end at
// different positions), direct-mode queries and items at staggered times; some calls carry
// two queries. Every result equals the unbatched embedder's for that text alone.
TEST(EmbedderBatching, StaggeredConcurrentCallsEqualUnbatched) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  EmbedderOptions plain;
  plain.max_cot_tokens = 12;
  plain.cot_cache_capacity = 0;
  const Embedder alone(m, plain);
  const Embedder shared(m, batched(plain));
  const std::vector<std::string> queries = {"sofa",        "a warm knitted jacket for cold winter evenings",
                                            "hammer",      "gift for a toddler who loves trucks",
                                            "blue jeans",  "shampoo without sulfates for curly hair",
                                            "lamp",        "kettle"};
  const std::vector<std::string> items = {"Navy Wool Cardigan", "Budget Steel Hammer, 16 oz", "Red Kettle"};
  const int kThreads = 8;
  std::vector<Embeddings> reason(kThreads), direct(kThreads), item(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::this_thread::sleep_for(std::chrono::milliseconds(3 * t));
      if (t % 3 == 2) reason[t] = shared.embed_queries({queries[t], queries[(t + 3) % kThreads]});
      else reason[t] = shared.embed_queries({queries[t]});
      direct[t] = shared.embed_queries({queries[t]}, QueryMode::Direct);
      item[t] = shared.embed_items({items[t % items.size()]});
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    expect_same(reason[t], 0, alone.embed_queries({queries[t]}), "reason: " + queries[t]);
    if (t % 3 == 2) expect_same(reason[t], 1, alone.embed_queries({queries[(t + 3) % kThreads]}), "second query");
    expect_same(direct[t], 0, alone.embed_queries({queries[t]}, QueryMode::Direct), "direct: " + queries[t]);
    expect_same(item[t], 0, alone.embed_items({items[t % items.size()]}), "item");
  }
  const BatchingStats s = shared.batching_stats();
  EXPECT_EQ(s.sequences, uint64_t(kThreads + kThreads / 3) + 2 * kThreads);
  EXPECT_GT(s.decode_steps, 0u);
  EXPECT_EQ(alone.batching_stats().sequences, 0u);
}

// The queries of one call start together and finish at different steps: they decode in one
// batch (more than one row per step), and leave it one by one with their own results.
TEST(EmbedderBatching, QueriesShareDecodeSteps) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  EmbedderOptions plain;
  plain.max_cot_tokens = 10;
  const std::vector<std::string> queries = {"toy truck", "cheaper alternative to airpods", "tea", "red shoes"};
  const Embedder shared(m, batched(plain));
  const Embeddings got = shared.embed_queries(queries);
  for (size_t i = 0; i < queries.size(); ++i) expect_same(got, int64_t(i), Embedder(m, plain).embed_queries({queries[i]}), queries[i]);
  const BatchingStats s = shared.batching_stats();
  EXPECT_EQ(s.sequences, queries.size());
  EXPECT_EQ(s.prefills, 1u);
  EXPECT_GT(s.decode_rows, s.decode_steps) << "no step decoded two rows";
  EXPECT_LE(s.decode_steps, uint64_t(plain.max_cot_tokens + 1));
}

// A sampled CoT draws from the query's own generator, as when the query is embedded alone,
// whatever else shares the batch.
TEST(EmbedderBatching, SampledCotsEqualAlone) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  EmbedderOptions plain;
  plain.temperature = 0.9f;
  plain.top_k = 40;
  plain.seed = 5;
  plain.max_cot_tokens = 8;
  const Embedder shared(m, batched(plain));
  const std::vector<std::string> queries = {"warm socks", "gift for a toddler who loves trucks", "lamp"};
  const Embeddings got = shared.embed_queries(queries);
  for (size_t i = 0; i < queries.size(); ++i) expect_same(got, int64_t(i), Embedder(m, plain).embed_queries({queries[i]}), queries[i]);
}

size_t threads_of_this_process() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// A call that finds the model idle computes on its own thread: there is no worker thread to
// hand it to. With one, every request waited for two cross-thread wake-ups (to the worker and
// back), which on a busy machine made the demo model's 1-client p50 half as long again
// (docs/SERVING.md, "Continuous batching").
TEST(EmbedderBatching, LoneCallsComputeOnTheCallersThread) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  EmbedderOptions plain;
  plain.max_cot_tokens = 6;
  Embedder(m, plain).embed_queries({"sofa"});  // the thread pools libtorch starts on first use exist now
  const size_t before = threads_of_this_process();
  const Embedder shared(m, batched(plain));
  const Embeddings reason = shared.embed_queries({"warm socks"});
  EXPECT_EQ(shared.embed_queries({"lamp"}, QueryMode::Direct).rows, 1);
  EXPECT_EQ(threads_of_this_process(), before) << "the batching embedder started a thread";
  expect_same(reason, 0, Embedder(m, plain).embed_queries({"warm socks"}), "reason");
  EXPECT_EQ(shared.batching_stats().sequences, 2u);
}

TEST(EmbedderBatching, BadOptionsAndInputAreClearErrors) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  EmbedderOptions bad = batched();
  bad.max_wait_ms = -1;
  EXPECT_THROW(Embedder(m, bad), InvalidArgument);
  const Embedder shared(m, batched());
  EXPECT_THROW(shared.embed_queries({""}), InvalidArgument);
  EXPECT_EQ(shared.embed_queries({"sofa"}).rows, 1);  // batching goes on after a refused call
}

}  // namespace
}  // namespace lrem
