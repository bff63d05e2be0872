// evaluate_system: BM25 on a corpus small enough to score by hand, an embedding retriever
// against brute force, and the CoT-source ablations.
#include "lrem/evaluation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "lrem/error.h"
#include "test_support.h"

namespace lrem {
namespace {

ItemStore tiny_items() {
  return ItemStore({{1, "red running shoes", "{}"},
                    {2, "blue running shoes", "{}"},
                    {3, "oak dining table", "{}"},
                    {4, "steel claw hammer", "{}"}});
}

TEST(EvaluateSystem, Bm25OnATinyCorpusMatchesHandComputedMetrics) {
  ItemStore items = tiny_items();
  Bm25 bm25 = Bm25::from_items(items.items());
  std::vector<Query> queries = {{"q1", "running shoes", "lexical"},
                                {"q2", "table", "knowledge"},
                                {"q3", "hammer oak", "knowledge"},
                                {"q4", "claw", "knowledge"}};  // judged, but nothing relevant
  std::vector<Qrel> qrels = {{"q1", 1, 1}, {"q1", 2, 1}, {"q2", 3, 2}, {"q3", 4, 1},
                             {"q4", 4, 0}, {"q9", 1, 1}};  // q9 is not evaluated: ignored
  SystemEvaluationOptions o;
  o.metrics.ks = {1, 2};
  o.metrics.ndcg_k = 2;
  EvaluationRun run = evaluate_system(bm25, queries, qrels, o);

  EXPECT_EQ(run.system, "bm25");
  ASSERT_EQ(run.queries.size(), 4u);
  // Ties (same idf, same length) go to the smaller id.
  EXPECT_EQ(run.queries[0].item_ids, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(run.queries[1].item_ids, (std::vector<int64_t>{3}));
  EXPECT_EQ(run.queries[2].item_ids, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(run.queries[2].scores.size(), 2u);
  EXPECT_EQ(run.queries[2].scores[0], run.queries[2].scores[1]);
  EXPECT_EQ(run.queries[1].category, "knowledge");

  const auto& overall = run.report.groups.at("overall");
  EXPECT_EQ(overall.num_queries, 3);
  // HitRate@1: q1 1/2, q2 1, q3 0. HitRate@2: 1, 1, 1. MRR: 1, 1, 1/2.
  EXPECT_DOUBLE_EQ(overall.metrics.at("HitRate@1"), 0.5);
  EXPECT_DOUBLE_EQ(overall.metrics.at("HitRate@2"), 1.0);
  EXPECT_DOUBLE_EQ(overall.metrics.at("Precision@2"), (1.0 + 0.5 + 0.5) / 3);
  EXPECT_DOUBLE_EQ(overall.metrics.at("MRR"), 2.5 / 3);
  // NDCG@2 of q3: gain 1 at rank 2 over the ideal gain 1 at rank 1.
  EXPECT_DOUBLE_EQ(run.report.groups.at("knowledge").metrics.at("NDCG@2"), (1.0 + 1 / std::log2(3.0)) / 2);
  EXPECT_EQ(run.report.groups.at("lexical").num_queries, 1);
  EXPECT_EQ(run.report.queries_without_relevant, (std::vector<std::string>{"q4"}));
  EXPECT_TRUE(run.report.queries_without_ranking.empty());
}

TEST(EvaluateSystem, RecallIsAnAliasOfHitRate) {
  ItemStore items = tiny_items();
  Bm25 bm25 = Bm25::from_items(items.items());
  EvaluationRun run = evaluate_system(bm25, {{"q1", "running shoes", ""}}, {{"q1", 1, 1}, {"q1", 3, 1}});
  const auto& m = run.report.groups.at("overall").metrics;
  for (int k : {1, 5, 10, 50, 100}) {
    const std::string K = std::to_string(k);
    ASSERT_TRUE(m.count("Recall@" + K));
    EXPECT_EQ(m.at("Recall@" + K), m.at("HitRate@" + K));
  }
  EXPECT_DOUBLE_EQ(m.at("Recall@5"), 0.5);
  auto json = nlohmann::json::parse(run.to_json(true));
  EXPECT_EQ(json["groups"]["overall"]["Recall@10"], json["groups"]["overall"]["HitRate@10"]);
  EXPECT_EQ(json["per_query"][0]["Recall@1"], 1.0 / 2);
  EXPECT_EQ(json["system"], "bm25");
  // Not a separate column of the table.
  EXPECT_EQ(std::count(run.report.metric_names.begin(), run.report.metric_names.end(), "Recall@10"), 0);
}

// The one rule the CLI and Python share: direct mode means no CoT.
TEST(EvaluateSystem, DirectModeHasOnlyTheEmptyCot) {
  for (CotSource source : {CotSource::Generated, CotSource::Empty, CotSource::Random, CotSource::Query})
    EXPECT_EQ(cot_source_for(QueryMode::Reason, source), source);
  EXPECT_EQ(cot_source_for(QueryMode::Direct, CotSource::Generated), CotSource::Empty);
  EXPECT_EQ(cot_source_for(QueryMode::Direct, CotSource::Empty), CotSource::Empty);
  EXPECT_THROW(cot_source_for(QueryMode::Direct, CotSource::Random), InvalidArgument);
  EXPECT_THROW(cot_source_for(QueryMode::Direct, CotSource::Query), InvalidArgument);
}

TEST(EvaluateSystem, DepthChunksProgressAndOutputs) {
  ItemStore items = tiny_items();
  Bm25 bm25 = Bm25::from_items(items.items());
  std::vector<Query> queries = {{"a", "running shoes", ""}, {"b", "oak table", ""}, {"c", "hammer", ""}};
  std::vector<Qrel> qrels = {{"a", 2, 1}, {"b", 3, 1}, {"c", 4, 1}};
  SystemEvaluationOptions o;
  o.metrics.ks = {1};
  o.metrics.ndcg_k = 1;
  EvaluationRun one = evaluate_system(bm25, queries, qrels, o);  // depth 0: the largest K
  for (const QueryRun& q : one.queries) EXPECT_LE(q.item_ids.size(), 1u);
  EXPECT_DOUBLE_EQ(one.report.groups.at("overall").metrics.at("MRR"), 2.0 / 3);  // "a" ranks 2 second: cut

  o.depth = 10;
  o.chunk_size = 2;
  std::vector<std::pair<size_t, size_t>> calls;
  o.progress = [&](size_t done, size_t total) { calls.push_back({done, total}); };
  EvaluationRun deep = evaluate_system(bm25, queries, qrels, o);
  EXPECT_EQ(calls, (std::vector<std::pair<size_t, size_t>>{{2, 3}, {3, 3}}));
  EXPECT_EQ(deep.queries[0].item_ids, (std::vector<int64_t>{1, 2}));
  EXPECT_DOUBLE_EQ(deep.report.groups.at("overall").metrics.at("MRR"), (0.5 + 1 + 1) / 3);

  std::istringstream lines(deep.rankings_jsonl());
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(lines, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1]["query_id"], "b");
  EXPECT_EQ(rows[1]["item_ids"][0], 3);

  EXPECT_THROW(evaluate_system(bm25, {{"a", "x", ""}, {"a", "y", ""}}, {}), InvalidArgument);
  o.depth = -1;
  EXPECT_THROW(evaluate_system(bm25, queries, qrels, o), InvalidArgument);
  EXPECT_THROW(parse_cot_source("teacher"), InvalidArgument);
  EXPECT_EQ(parse_cot_source("random"), CotSource::Random);
}

// --- embedding systems --------------------------------------------------------------------

#define REQUIRE_FIXTURE()                     \
  if (testing::fixture("stories260K").empty()) \
  GTEST_SKIP() << "stories260K fixture missing"

struct EmbeddingSetup {
  Model model = testing::small_lrem_model(testing::fixture("stories260K"), 5, "search query: {query} ->", 6);
  ItemStore items{{{10, "Navy Wool Cardigan", "{}"},
                   {11, "Steel Claw Hammer", "{}"},
                   {12, "Oak Dining Table", "{}"},
                   {13, "Red Running Shoes", "{}"},
                   {14, "Copper Tea Kettle", "{}"},
                   {15, "Walnut Bookshelf", "{}"}}};
  std::vector<Query> queries = {{"q1", "warm sweater", "lexical"},
                                {"q2", "tool for nails", "knowledge"},
                                {"q3", "something to boil water", "knowledge"}};
  std::vector<Qrel> qrels = {{"q1", 10, 2}, {"q2", 11, 1}, {"q3", 14, 1}, {"q3", 12, 1}};

  Retriever retriever() const { return Retriever(Embedder(model), build_index(Embedder(model), items), items); }
};

// Rankings by brute force: every item scored against every query embedding.
std::vector<RankedList> brute_force(const Embeddings& q, const Embeddings& it, const ItemStore& items,
                                    const std::vector<Query>& queries) {
  std::vector<RankedList> out;
  for (int64_t i = 0; i < q.rows; ++i) {
    std::vector<std::pair<float, int64_t>> scored;
    for (int64_t j = 0; j < it.rows; ++j) {
      float s = 0;
      for (int64_t d = 0; d < q.dim; ++d) s += q.row(i)[d] * it.row(j)[d];
      scored.push_back({-s, items.items()[j].id});
    }
    std::sort(scored.begin(), scored.end());
    RankedList r{queries[i].id, {}};
    for (const auto& [s, id] : scored) r.item_ids.push_back(id);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> texts_of(const std::vector<Query>& queries) {
  std::vector<std::string> t;
  for (const Query& q : queries) t.push_back(q.text);
  return t;
}

void expect_same_rankings(const EvaluationRun& run, const std::vector<RankedList>& want) {
  ASSERT_EQ(run.queries.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(run.queries[i].item_ids, want[i].item_ids) << "query " << i;
}

TEST(EvaluateSystem, FlatRetrieverEqualsBruteForce) {
  REQUIRE_FIXTURE();
  EmbeddingSetup s;
  Retriever r = s.retriever();
  Embedder e(s.model);
  Embeddings items = e.embed_items(s.items.titles());
  std::map<std::string, std::string> categories;
  for (const Query& q : s.queries) categories[q.id] = q.category;

  SystemEvaluationOptions o;
  o.metrics.ks = {1, 3};
  o.metrics.ndcg_k = 3;
  o.depth = 6;
  for (CotSource source : {CotSource::Generated, CotSource::Empty}) {
    o.cot_source = source;
    EvaluationRun run = evaluate_system(r, s.queries, s.qrels, o);
    Embeddings q = e.embed_queries(texts_of(s.queries), source == CotSource::Empty ? QueryMode::Direct : QueryMode::Reason);
    std::vector<RankedList> want = brute_force(q, items, s.items, s.queries);
    expect_same_rankings(run, want);
    MetricsReport expected = evaluate(want, s.qrels, categories, o.metrics);
    for (const auto& [group, metrics] : expected.groups) {
      for (const auto& [name, value] : metrics.metrics)
        EXPECT_DOUBLE_EQ(run.report.groups.at(group).metrics.at(name), value) << group << " " << name;
    }
    for (size_t i = 0; i < s.queries.size(); ++i) EXPECT_EQ(run.queries[i].cot, q.cots[i]);
    EXPECT_NE(run.system.find(std::string("cot=") + to_string(source)), std::string::npos) << run.system;
  }
}

TEST(EvaluateSystem, CotSourcesChangeOnlyTheCot) {
  REQUIRE_FIXTURE();
  EmbeddingSetup s;
  Retriever r = s.retriever();
  Embedder e(s.model);
  Embeddings items = e.embed_items(s.items.titles());
  const std::vector<std::string> texts = texts_of(s.queries);
  const std::vector<std::string> generated = e.embed_queries(texts, QueryMode::Reason).cots;
  SystemEvaluationOptions o;
  o.depth = 6;

  // Query-CoT: the query itself is the CoT, embedded exactly as a forced CoT (cut, like every
  // CoT, to the model's max_cot_tokens: 6 here).
  o.cot_source = CotSource::Query;
  EvaluationRun query_run = evaluate_system(r, s.queries, s.qrels, o);
  const Embeddings forced = e.embed_queries_with_cots(texts, texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(query_run.queries[i].cot, forced.cots[i]);
    EXPECT_EQ(texts[i].rfind(forced.cots[i], 0), 0u) << "a prefix of the query: " << forced.cots[i];
  }
  expect_same_rankings(query_run, brute_force(forced, items, s.items, s.queries));

  // Random-CoT: as many catalogue words as the generated CoT has, seeded, reproducible.
  std::set<std::string> vocabulary;
  for (const std::string& t : s.items.titles())
    for (const std::string& w : bm25_tokenize(t)) vocabulary.insert(w);
  o.cot_source = CotSource::Random;
  o.seed = 1;
  EvaluationRun random_run = evaluate_system(r, s.queries, s.qrels, o);
  EvaluationRun again = evaluate_system(r, s.queries, s.qrels, o);
  o.seed = 2;
  EvaluationRun other_seed = evaluate_system(r, s.queries, s.qrels, o);
  std::vector<std::string> random_cots;
  bool seed_matters = false;
  size_t words = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string& cot = random_run.queries[i].cot;
    random_cots.push_back(cot);
    std::istringstream gen(generated[i]), rnd(cot);
    std::vector<std::string> gen_words{std::istream_iterator<std::string>(gen), {}};
    std::vector<std::string> rnd_words{std::istream_iterator<std::string>(rnd), {}};
    EXPECT_EQ(rnd_words.size(), gen_words.size()) << generated[i] << " vs " << cot;
    words += rnd_words.size();
    for (const std::string& w : rnd_words) EXPECT_TRUE(vocabulary.count(w)) << w;
    EXPECT_EQ(again.queries[i].cot, cot);
    seed_matters |= other_seed.queries[i].cot != cot;
  }
  ASSERT_GT(words, 0u) << "the generated CoTs have no words, so this test checks nothing";
  EXPECT_TRUE(seed_matters);
  expect_same_rankings(random_run, brute_force(e.embed_queries_with_cots(texts, random_cots), items, s.items, s.queries));
}

}  // namespace
}  // namespace lrem
