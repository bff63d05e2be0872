// The embedder against a slow reference: every embedding must equal a full forward over the
// whole text without any cache (no KV cache reuse, no prefix cache, no CoT cache).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <thread>

#include "lrem/embedder.h"
#include "lrem/error.h"
#include "lrem/retriever.h"
#include "model/model_access.h"
#include "test_support.h"

namespace lrem {
namespace {

Model make_model(const std::string& query_template = "search query: {query} ->") {
  return testing::small_lrem_model(testing::fixture("stories260K"), 7, query_template);
}

// Hidden state at the last token of `ids`, from one full forward pass, normalised.
std::vector<float> reference_embedding(const Model& m, const std::vector<int>& ids) {
  c10::InferenceMode guard;
  const Transformer& tf = ModelAccess::parts(m).transformer;
  const int64_t n = static_cast<int64_t>(ids.size());
  at::Tensor input = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0);
  at::Tensor pos = at::arange(n, at::kLong).unsqueeze(0);
  at::Tensor h = tf.forward(input, pos, at::Tensor(), nullptr, false).hidden[0][n - 1];
  h = h / h.norm();
  return std::vector<float>(h.data_ptr<float>(), h.data_ptr<float>() + h.numel());
}

void expect_close(const float* a, const std::vector<float>& b, float tol = 1e-4f) {
  for (size_t i = 0; i < b.size(); ++i) ASSERT_NEAR(a[i], b[i], tol) << "dimension " << i;
}

#define REQUIRE_FIXTURE()                                        \
  if (testing::fixture("stories260K").empty()) GTEST_SKIP() << "stories260K fixture missing"

TEST(Embedder, DirectQueryEqualsFullForward) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  Embedder e(m);
  std::vector<std::string> qs = {"red shoes", "a warm knitted jacket for winter evenings", "tea"};
  Embeddings out = e.embed_queries(qs, QueryMode::Direct);
  const PromptFormat& p = ModelAccess::parts(m).prompt();
  for (size_t i = 0; i < qs.size(); ++i) {
    std::vector<int> ids = p.query_prompt(qs[i]).ids;
    ids.push_back(p.think_close_id());
    ids.push_back(p.emb_id());
    expect_close(out.row(i), reference_embedding(m, ids));
    EXPECT_EQ(out.cots[i], "");
  }
}

TEST(Embedder, ReasonQueryEqualsFullForwardOverItsCot) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  EmbedderOptions o;
  o.max_cot_tokens = 6;
  Embedder e(m, o);
  std::vector<std::string> qs = {"cheaper alternative to airpods", "shampoo without sulfates", "toy truck"};
  Embeddings out = e.embed_queries(qs, QueryMode::Reason);
  const PromptFormat& p = ModelAccess::parts(m).prompt();
  const Tokenizer& tok = m.tokenizer();
  for (size_t i = 0; i < qs.size(); ++i) {
    // Regenerate the CoT greedily with plain full forwards, then embed the whole text.
    std::vector<int> ids = p.query_prompt(qs[i]).ids;
    std::vector<int> cot;
    {
      c10::InferenceMode guard;
      const Transformer& tf = ModelAccess::parts(m).transformer;
      for (int step = 0; step < 6; ++step) {
        const int64_t n = static_cast<int64_t>(ids.size());
        at::Tensor input = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0);
        at::Tensor logits = tf.forward(input, at::arange(n, at::kLong).unsqueeze(0), at::Tensor(), nullptr, true).logits;
        int next = static_cast<int>(logits[0][n - 1].argmax().item<int64_t>());
        ids.push_back(next);
        if (next == p.think_close_id()) break;
        cot.push_back(next);
      }
    }
    if (ids.back() != p.think_close_id()) ids.push_back(p.think_close_id());
    ids.push_back(p.emb_id());
    EXPECT_EQ(out.cots[i], tok.decode(cot, true));
    EXPECT_LE(cot.size(), 6u);
    expect_close(out.row(i), reference_embedding(m, ids));
  }
}

TEST(Embedder, ItemsEqualFullForwardAndBatchingChangesNothing) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  std::vector<std::string> titles = {"Navy Wool Cardigan", "Budget Steel Hammer, 16 oz", "x",
                                     "Premium Oak Dining Table with Six Matching Chairs", "Red Kettle"};
  EmbedderOptions o;
  o.batch_size = 2;
  Embeddings batched = Embedder(m, o).embed_items(titles);
  const PromptFormat& p = ModelAccess::parts(m).prompt();
  for (size_t i = 0; i < titles.size(); ++i) {
    expect_close(batched.row(i), reference_embedding(m, p.item(titles[i]).ids));
    Embeddings one = Embedder(m).embed_items({titles[i]});
    expect_close(batched.row(i), std::vector<float>(one.row(0), one.row(0) + one.dim), 1e-5f);
  }
}

TEST(Embedder, BatchEqualsOneByOneAndCachesChangeNothing) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  std::vector<std::string> qs = {"gift for a toddler who loves trucks", "sofa", "warm socks for hiking",
                                 "gift for a toddler who loves trucks"};
  EmbedderOptions plain;
  plain.prefix_cache = false;
  plain.cot_cache_capacity = 0;
  Embedder reference(m, plain);
  Embedder cached(m);  // prefix cache + CoT cache on
  Embeddings batch = cached.embed_queries(qs);
  Embeddings again = cached.embed_queries(qs);  // every query now a cache hit
  CacheStats s = cached.cot_cache_stats();
  EXPECT_EQ(s.size, 3u);
  EXPECT_GE(s.hits, 4u);
  for (size_t i = 0; i < qs.size(); ++i) {
    Embeddings one = reference.embed_queries({qs[i]});
    EXPECT_EQ(batch.cots[i], one.cots[0]);
    EXPECT_EQ(again.cots[i], one.cots[0]);
    std::vector<float> want(one.row(0), one.row(0) + one.dim);
    expect_close(batch.row(i), want, 1e-5f);
    expect_close(again.row(i), want, 1e-5f);
  }
}

TEST(Embedder, OutputDimTruncatesThenNormalises) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  EmbedderOptions o;
  o.output_dim = 16;
  Embeddings small = Embedder(m, o).embed_items({"Red Kettle"});
  Embeddings full = Embedder(m).embed_items({"Red Kettle"});
  ASSERT_EQ(small.dim, 16);
  at::Tensor f = at::from_blob(full.data.data(), {full.dim}).narrow(0, 0, 16);
  f = f / f.norm();
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(small.data[i], f[i].item<float>(), 1e-5);
}

TEST(Embedder, BadInputIsAClearError) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  Embedder e(m);
  EXPECT_THROW(e.embed_queries({""}), InvalidArgument);
  EXPECT_THROW(e.embed_queries({"  \t\n"}), InvalidArgument);
  EXPECT_THROW(e.embed_queries({std::string("caf\xc3", 4)}), InvalidArgument);
  EXPECT_THROW(e.embed_items({""}), InvalidArgument);
  EmbedderOptions bad;
  bad.output_dim = 1000;
  EXPECT_THROW(Embedder(m, bad), InvalidArgument);
  // A long query is cut to max_query_tokens and says so.
  std::string lng;
  for (int i = 0; i < 200; ++i) lng += "word ";
  Embeddings out = e.embed_queries({lng}, QueryMode::Direct);
  EXPECT_TRUE(out.truncated[0]);
  EXPECT_FALSE(e.embed_queries({"word"}, QueryMode::Direct).truncated[0]);
}

TEST(Embedder, ModelWithoutLremTokensIsRefusedWithAHint) {
  std::string dir = testing::fixture("stories260K");
  if (dir.empty()) GTEST_SKIP();
  Model plain = Model::load(dir);
  try {
    Embedder e(plain);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& err) {
    EXPECT_NE(std::string(err.what()).find("with_lrem_tokens"), std::string::npos) << err.what();
  }
}

TEST(Embedder, ConcurrentCallsEqualSerial) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  Embedder e(m);
  std::vector<std::string> qs = {"sofa", "hammer", "warm socks", "blue jeans", "lamp", "kettle", "piano", "ring"};
  std::vector<Embeddings> serial;
  for (const auto& q : qs) serial.push_back(Embedder(m).embed_queries({q}));
  std::vector<Embeddings> parallel(qs.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < qs.size(); ++t)
    threads.emplace_back([&, t] { parallel[t] = e.embed_queries({qs[t]}); });
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < qs.size(); ++t) {
    EXPECT_EQ(parallel[t].cots[0], serial[t].cots[0]);
    expect_close(parallel[t].row(0), serial[t].data, 1e-5f);
  }
}

TEST(Retriever, FindsItemsAndReportsTheCot) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  Embedder e(m);
  ItemStore items({{10, "Navy Wool Cardigan", "{}"}, {11, "Steel Claw Hammer", "{\"brand\":\"Acme\"}"},
                   {12, "Oak Dining Table", "{}"}});
  Index index = build_index(e, items, "Flat");
  EXPECT_EQ(index.size(), 3);
  EXPECT_EQ(index.model_fingerprint(), m.fingerprint());
  Retriever r(Embedder(m), std::move(index), items);
  // An item's own title, embedded as an item, is its own nearest neighbour; as a query its
  // embedding differs, so check the ranking against brute force instead.
  SearchResponse res = r.search("claw hammer", 2, QueryMode::Reason);
  ASSERT_EQ(res.hits.size(), 2u);
  Embeddings q = e.embed_queries({"claw hammer"});
  Embeddings it = e.embed_items(items.titles());
  std::vector<std::pair<float, int64_t>> scored;
  for (int64_t i = 0; i < it.rows; ++i) {
    float s = 0;
    for (int64_t d = 0; d < it.dim; ++d) s += q.row(0)[d] * it.row(i)[d];
    scored.push_back({-s, items.items()[i].id});
  }
  std::sort(scored.begin(), scored.end());
  EXPECT_EQ(res.hits[0].id, scored[0].second);
  EXPECT_EQ(res.hits[1].id, scored[1].second);
  EXPECT_NEAR(res.hits[0].score, -scored[0].first, 1e-4);
  EXPECT_EQ(res.cot, q.cots[0]);
  EXPECT_EQ(r.search("claw hammer", 50).hits.size(), 3u);  // k above the catalogue size
  EXPECT_THROW(r.search("claw hammer", 0), InvalidArgument);
  EXPECT_THROW(r.search("", 3), InvalidArgument);
}

TEST(Retriever, RefusesAnIndexFromAnotherModel) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  Model other = make_model("find: {query}");
  ItemStore items({{1, "Red Kettle", "{}"}});
  Index index = build_index(Embedder(other), items);
  EXPECT_THROW(Retriever(Embedder(m), std::move(index), items), FormatError);
  // The same model pooled another way is another embedding space.
  EmbedderOptions mean;
  mean.pooling = Pooling::Mean;
  EXPECT_EQ(Embedder(m).fingerprint(), m.fingerprint());  // indexes saved before stay valid
  EXPECT_NE(Embedder(m, mean).fingerprint(), m.fingerprint());
  EXPECT_THROW(Retriever(Embedder(m, mean), build_index(Embedder(m), items), items), FormatError);
  EXPECT_THROW(Retriever(Embedder(m), build_index(Embedder(m, mean), items), items), FormatError);
  EXPECT_NO_THROW(Retriever(Embedder(m, mean), build_index(Embedder(m, mean), items), items));
  EXPECT_THROW(build_index(Embedder(m), ItemStore()), InvalidArgument);
}


// Mode auto: each query keeps its direct results when the best of them scores at least the
// threshold, and is answered exactly as reason mode answers it otherwise.
TEST(Retriever, AutoModeReasonsOnlyBelowTheThreshold) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  ItemStore items({{10, "Navy Wool Cardigan", "{}"}, {11, "Steel Claw Hammer", "{}"}, {12, "Oak Dining Table", "{}"},
                   {13, "Wooden Toy Truck", "{}"}, {14, "Red Running Shoes", "{}"}});
  auto index = std::make_shared<Index>(build_index(Embedder(m), items));
  const std::vector<std::string> queries = {"claw hammer", "a gift for a toddler", "table for six", "warm jumper"};
  Retriever plain(Embedder(m), index, items);
  EXPECT_THROW(plain.search(queries[0], 3, QueryMode::Auto), InvalidArgument);  // no threshold: refused
  EXPECT_THROW(Embedder(m).embed_queries(queries, QueryMode::Auto), InvalidArgument);

  const std::vector<SearchResponse> direct = plain.search_many(queries, 3, QueryMode::Direct);
  const std::vector<SearchResponse> reason = plain.search_many(queries, 3, QueryMode::Reason);
  std::vector<float> best;
  for (const SearchResponse& r : direct) best.push_back(r.hits.front().score);
  std::vector<float> sorted = best;
  std::sort(sorted.begin(), sorted.end());
  ASSERT_LT(sorted[1], sorted[2]) << "the test needs distinct best scores";
  // Half-way between the second and third best scores: two queries reason, two stay direct.
  const float threshold = (sorted[1] + sorted[2]) / 2;
  Retriever routed(Embedder(m), index, items, AutoRouting{threshold});
  const std::vector<SearchResponse> got = routed.search_many(queries, 3, QueryMode::Auto);
  int reasoned = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    const SearchResponse& want = best[i] < threshold ? reason[i] : direct[i];
    reasoned += best[i] < threshold;
    EXPECT_EQ(got[i].mode, want.mode) << queries[i];
    EXPECT_EQ(got[i].cot, want.cot) << queries[i];
    ASSERT_EQ(got[i].hits.size(), want.hits.size());
    for (size_t j = 0; j < want.hits.size(); ++j) {
      EXPECT_EQ(got[i].hits[j].id, want.hits[j].id);
      EXPECT_NEAR(got[i].hits[j].score, want.hits[j].score, 1e-5);
    }
  }
  EXPECT_EQ(reasoned, 2);
  EXPECT_EQ(routed.search(queries[0], 3, QueryMode::Auto).mode, best[0] < threshold ? QueryMode::Reason : QueryMode::Direct);
  // Thresholds at the ends: -1 never reasons; above every score always does.
  Retriever never(Embedder(m), index, items, AutoRouting{-1.0f});
  for (const SearchResponse& r : never.search_many(queries, 3, QueryMode::Auto)) EXPECT_EQ(r.mode, QueryMode::Direct);
  Retriever always(Embedder(m), index, items, AutoRouting{1.0f});
  for (const SearchResponse& r : always.search_many(queries, 3, QueryMode::Auto)) EXPECT_EQ(r.mode, QueryMode::Reason);
}

TEST(Retriever, OpenReadsTheRouterOfTheIndexDirectory) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  ItemStore items({{1, "Red Kettle", "{}"}, {2, "Blue Teapot", "{}"}});
  testing::TempDir dir;
  const std::string index_dir = dir.path() + "/index";
  save_index(build_index(Embedder(m), items), items, index_dir);
  EXPECT_FALSE(Retriever::open(index_dir, m).routing().has_value());
  EXPECT_THROW(Retriever::open(index_dir, m).search("kettle", 1, QueryMode::Auto), InvalidArgument);
  auto write_router = [&](const std::string& text) { std::ofstream(index_dir + "/router.json") << text; };
  write_router(R"({"min_direct_score": -1, "chosen_on": "dev"})");
  const Retriever r = Retriever::open(index_dir, m);
  ASSERT_TRUE(r.routing().has_value());
  EXPECT_FLOAT_EQ(r.routing()->min_direct_score, -1.0f);
  EXPECT_EQ(r.search("kettle", 1, QueryMode::Auto).mode, QueryMode::Direct);
  for (const char* bad : {R"({"min_direct_score": 1.5})", R"({"min_direct_score": "high"})", R"({})", "[1]", "{"}) {
    write_router(bad);
    try {
      Retriever::open(index_dir, m);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("router.json"), std::string::npos) << e.what();
    }
  }
}

TEST(Retriever, RefusesAnAutoThresholdThatIsNoCosine) {
  REQUIRE_FIXTURE();
  Model m = make_model();
  ItemStore items({{1, "Red Kettle", "{}"}});
  const Embedder e(m);
  const auto index = std::make_shared<Index>(build_index(e, items));
  // NaN would never reason and 5 would always reason: both are typing mistakes, not thresholds.
  for (float bad : {std::nanf(""), 5.0f, -1.5f, std::numeric_limits<float>::infinity()}) {
    try {
      Retriever(e, index, items, AutoRouting{bad});
      ADD_FAILURE() << "accepted " << bad;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("[-1, 1]"), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(Retriever(e, index, items, AutoRouting{1.0f}));
}

}  // namespace
}  // namespace lrem
