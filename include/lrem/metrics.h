// Offline retrieval metrics over ranked lists and relevance judgements (qrels).
//
// For one query with ranking r_1, r_2, ... and judgements rel(item) (unjudged = 0), an item
// is relevant when rel >= relevance_threshold (default 1), and R is the set of relevant items:
//
//   HitRate@K   |top K ∩ R| / |R|, as the LREM paper defines it.
//   Recall@K    the same value under IR's usual name: the paper's HitRate@K IS recall@K.
//               It is an alias key in every metrics map and JSON group (so users looking
//               for recall find it) but not a column of metric_names or the table.
//   Precision@K |top K ∩ R| / K (K stays the denominator when the ranking is shorter).
//   MRR         1 / rank of the first relevant item in the whole ranking; 0 if none.
//   NDCG@N      DCG@N / IDCG@N with DCG@N = sum_{i<=N} (2^rel(r_i) - 1) / log2(i + 1). Gains
//               are graded and use every judgement with rel > 0 (also those below the
//               threshold); IDCG@N is the DCG of all judged items sorted by relevance.
//
// Rankings are used exactly as given: ties in the retriever's scores are whatever order it
// returned. Negative ids (padding from Index::search) are dropped and only the first
// occurrence of a repeated item counts, so positions are those of the cleaned list.
//
// Queries enter the averages when they have at least one relevant item. Judged queries with
// no ranked list are evaluated as empty rankings (they score 0: the system returned nothing)
// and listed in queries_without_ranking. Ranked queries with no relevant judgement are left
// out of every average and listed in queries_without_relevant.
//
// Averages are per query (macro), over "overall" and over each category; queries absent
// from `query_category` (or with category "") only count towards "overall".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lrem/dataset.h"

namespace lrem {

struct RankedList {
  std::string query_id;
  std::vector<int64_t> item_ids;  // best first
};

struct EvaluationOptions {
  std::vector<int> ks = {1, 5, 10, 50, 100};  // cut-offs for HitRate@K and Precision@K
  int ndcg_k = 10;
  int relevance_threshold = 1;  // >= 1
};

struct QueryMetrics {
  std::string query_id;
  std::string category;
  std::map<std::string, double> metrics;
};

struct GroupMetrics {
  int64_t num_queries = 0;
  std::map<std::string, double> metrics;  // empty when num_queries == 0
};

struct MetricsReport {
  static constexpr const char* kOverall = "overall";

  std::vector<std::string> metric_names;        // column order: HitRate@K..., Precision@K..., MRR, NDCG@N
  std::map<std::string, GroupMetrics> groups;   // "overall" plus one entry per category
  std::vector<QueryMetrics> per_query;          // every averaged query, sorted by id
  std::vector<std::string> queries_without_relevant;
  std::vector<std::string> queries_without_ranking;

  // {"metric_names": [...], "groups": {"overall": {"num_queries": n, "HitRate@10": x, ...}},
  //  "queries_without_relevant": [...], "queries_without_ranking": [...]}, plus "per_query"
  // when asked.
  std::string to_json(bool include_per_query = false, int indent = 2) const;
  // A fixed-width table: one row per group ("overall" first), one column per metric.
  std::string format_table() const;
};

// InvalidArgument for a query ranked twice, an item judged twice for one query, or bad options.
MetricsReport evaluate(const std::vector<RankedList>& rankings, const std::vector<Qrel>& qrels,
                       const std::map<std::string, std::string>& query_category = {},
                       const EvaluationOptions& options = {});

}  // namespace lrem
