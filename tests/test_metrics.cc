#include "lrem/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "lrem/error.h"

namespace lrem {
namespace {

EvaluationOptions small_options() {
  EvaluationOptions o;
  o.ks = {1, 3, 5};
  o.ndcg_k = 3;
  return o;
}

// q1 (category a): relevant 1 (rel 1), 2 (rel 1), 3 (rel 2); ranked 5, 1, 9, 3, 1 (repeat), -1 (padding), 2.
// q2 (category b): relevant 7; ranked first.
// q3: ranked, judged only as not relevant -> excluded.
// q4 (category a): judged, never ranked -> scores 0.
struct Fixture {
  std::vector<RankedList> rankings = {{"q1", {5, 1, 9, 3, 1, -1, 2}}, {"q2", {7}}, {"q3", {4, 6}}};
  std::vector<Qrel> qrels = {{"q1", 1, 1}, {"q1", 2, 1}, {"q1", 3, 2}, {"q2", 7, 1}, {"q3", 4, 0}, {"q4", 8, 1}};
  std::map<std::string, std::string> categories = {{"q1", "a"}, {"q2", "b"}, {"q4", "a"}};
};

const QueryMetrics& query(const MetricsReport& r, const std::string& id) {
  for (const auto& q : r.per_query) {
    if (q.query_id == id) return q;
  }
  throw std::runtime_error("no query " + id);
}

TEST(Metrics, PerQueryValuesMatchHandComputation) {
  Fixture f;
  auto report = evaluate(f.rankings, f.qrels, f.categories, small_options());
  const auto& q1 = query(report, "q1").metrics;
  // Cleaned ranking: 5, 1, 9, 3, 2.
  EXPECT_DOUBLE_EQ(q1.at("HitRate@1"), 0.0);
  EXPECT_DOUBLE_EQ(q1.at("HitRate@3"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(q1.at("HitRate@5"), 1.0);
  EXPECT_DOUBLE_EQ(q1.at("Precision@1"), 0.0);
  EXPECT_DOUBLE_EQ(q1.at("Precision@3"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(q1.at("Precision@5"), 3.0 / 5);
  EXPECT_DOUBLE_EQ(q1.at("MRR"), 0.5);
  // DCG@3: only item 1 (gain 2^1-1 = 1) at rank 2. Ideal: rel 2, 1, 1 at ranks 1-3.
  const double dcg = 1 / std::log2(3.0);
  const double idcg = 3 / std::log2(2.0) + 1 / std::log2(3.0) + 1 / std::log2(4.0);
  EXPECT_NEAR(q1.at("NDCG@3"), dcg / idcg, 1e-12);

  const auto& q2 = query(report, "q2").metrics;
  EXPECT_DOUBLE_EQ(q2.at("HitRate@1"), 1.0);
  EXPECT_DOUBLE_EQ(q2.at("Precision@5"), 1.0 / 5);  // K stays the denominator
  EXPECT_DOUBLE_EQ(q2.at("MRR"), 1.0);
  EXPECT_DOUBLE_EQ(q2.at("NDCG@3"), 1.0);

  const auto& q4 = query(report, "q4").metrics;
  EXPECT_DOUBLE_EQ(q4.at("HitRate@5"), 0.0);
  EXPECT_DOUBLE_EQ(q4.at("MRR"), 0.0);
  EXPECT_DOUBLE_EQ(q4.at("NDCG@3"), 0.0);
}

TEST(Metrics, QueriesWithoutRelevantOrRankingAreReported) {
  Fixture f;
  auto report = evaluate(f.rankings, f.qrels, f.categories, small_options());
  EXPECT_EQ(report.queries_without_relevant, std::vector<std::string>{"q3"});
  EXPECT_EQ(report.queries_without_ranking, std::vector<std::string>{"q4"});
  EXPECT_EQ(report.per_query.size(), 3u);
  EXPECT_THROW(query(report, "q3"), std::runtime_error);
}

TEST(Metrics, AggregatesPerCategoryAndOverall) {
  Fixture f;
  auto report = evaluate(f.rankings, f.qrels, f.categories, small_options());
  ASSERT_EQ(report.groups.size(), 3u);
  EXPECT_EQ(report.groups.at("overall").num_queries, 3);
  EXPECT_DOUBLE_EQ(report.groups.at("overall").metrics.at("MRR"), (0.5 + 1 + 0) / 3);
  EXPECT_DOUBLE_EQ(report.groups.at("overall").metrics.at("HitRate@5"), (1.0 + 1 + 0) / 3);
  EXPECT_EQ(report.groups.at("a").num_queries, 2);
  EXPECT_DOUBLE_EQ(report.groups.at("a").metrics.at("MRR"), 0.25);
  EXPECT_EQ(report.groups.at("b").num_queries, 1);
  EXPECT_DOUBLE_EQ(report.groups.at("b").metrics.at("HitRate@1"), 1.0);
}

TEST(Metrics, TiesFollowTheGivenOrder) {
  std::vector<Qrel> qrels = {{"q", 2, 1}};
  auto first = evaluate({{"q", {2, 1}}}, qrels, {}, small_options());
  auto second = evaluate({{"q", {1, 2}}}, qrels, {}, small_options());
  EXPECT_DOUBLE_EQ(first.groups.at("overall").metrics.at("MRR"), 1.0);
  EXPECT_DOUBLE_EQ(second.groups.at("overall").metrics.at("MRR"), 0.5);
  EXPECT_DOUBLE_EQ(second.groups.at("overall").metrics.at("NDCG@3"), 1 / std::log2(3.0));
}

TEST(Metrics, ThresholdDecidesRelevanceButNdcgStaysGraded) {
  Fixture f;
  auto options = small_options();
  options.relevance_threshold = 2;
  auto report = evaluate(f.rankings, f.qrels, f.categories, options);
  const auto& q1 = query(report, "q1").metrics;
  EXPECT_DOUBLE_EQ(q1.at("HitRate@3"), 0.0);  // item 3 (rel 2) is at rank 4
  EXPECT_DOUBLE_EQ(q1.at("HitRate@5"), 1.0);
  EXPECT_DOUBLE_EQ(q1.at("MRR"), 0.25);
  const double idcg = 3 / std::log2(2.0) + 1 / std::log2(3.0) + 1 / std::log2(4.0);
  EXPECT_NEAR(q1.at("NDCG@3"), (1 / std::log2(3.0)) / idcg, 1e-12);
  // q2 and q4 only have rel-1 judgements: no relevant item at threshold 2.
  EXPECT_EQ(report.queries_without_relevant, (std::vector<std::string>{"q2", "q3", "q4"}));
}

TEST(Metrics, RefusesInconsistentInput) {
  EXPECT_THROW(evaluate({{"q", {1}}, {"q", {2}}}, {{"q", 1, 1}}), InvalidArgument);
  EXPECT_THROW(evaluate({{"q", {1}}}, {{"q", 1, 1}, {"q", 1, 2}}), InvalidArgument);
  EvaluationOptions bad;
  bad.ks = {0};
  EXPECT_THROW(evaluate({}, {}, {}, bad), InvalidArgument);
  bad = {};
  bad.relevance_threshold = 0;
  EXPECT_THROW(evaluate({}, {}, {}, bad), InvalidArgument);
}

TEST(Metrics, EmptyInputGivesEmptyOverall) {
  auto report = evaluate({}, {});
  EXPECT_EQ(report.groups.at("overall").num_queries, 0);
  EXPECT_TRUE(report.groups.at("overall").metrics.empty());
  EXPECT_NE(report.format_table().find("overall"), std::string::npos);
}

TEST(Metrics, JsonAndTable) {
  Fixture f;
  auto report = evaluate(f.rankings, f.qrels, f.categories, small_options());
  auto json = nlohmann::json::parse(report.to_json(/*include_per_query=*/true));
  EXPECT_EQ(json["groups"]["overall"]["num_queries"], 3);
  EXPECT_DOUBLE_EQ(json["groups"]["a"]["MRR"].get<double>(), 0.25);
  EXPECT_EQ(json["metric_names"].size(), 3u + 3u + 2u);
  EXPECT_EQ(json["per_query"].size(), 3u);
  EXPECT_EQ(json["queries_without_ranking"][0], "q4");
  EXPECT_FALSE(nlohmann::json::parse(report.to_json()).contains("per_query"));

  const std::string table = report.format_table();
  EXPECT_EQ(table.rfind("group", 0), 0u);
  EXPECT_NE(table.find("HitRate@5"), std::string::npos);
  EXPECT_NE(table.find("0.2500"), std::string::npos);  // category a's MRR
  EXPECT_NE(table.find("1 ranked queries have no relevant judgement"), std::string::npos);
}

}  // namespace
}  // namespace lrem
