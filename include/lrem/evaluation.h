// Evaluating a retrieval system on judged queries: every query is run (in batches), its
// ranking and CoT are kept, and the rankings are scored with lrem::evaluate (metrics.h) per
// category and overall.
//
//   auto run = lrem::evaluate_system(retriever, lrem::read_queries("queries_test.jsonl"),
//                                    lrem::read_qrels("qrels_test.jsonl"));
//   std::cout << run.report.format_table();
//
// Two kinds of system over the same catalogue: an embedding retriever (any model, pooling
// and CoT source: LREM, the direct-embedding baseline, the ablations) and BM25.
//
// CoT sources (the paper's ablations), for embedding retrievers:
//   generated  the model writes its CoT (LREM's reason mode)
//   empty      no CoT: <think></think><emb>, i.e. direct mode (Empty-CoT)
//   random     the model's CoT is generated, then replaced by as many words (whitespace-separated)
//              drawn uniformly from the catalogue's vocabulary (the BM25 analyzer's tokens of all
//              titles), seeded per query from `seed` and the query id (Random-CoT)
//   query      the query text itself is the CoT (Query-CoT)
// Forced CoTs (random, query) go through Embedder::embed_queries_with_cots and are used whole.
//
// Only the judgements of the given queries count; a query without any relevant judgement is
// run but left out of the averages (listed in report.queries_without_relevant).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lrem/bm25.h"
#include "lrem/dataset.h"
#include "lrem/metrics.h"
#include "lrem/retriever.h"

namespace lrem {

// Auto: mode auto (Retriever::search), generated CoTs where the router reasons, none elsewhere.
enum class CotSource { Generated, Empty, Random, Query, Auto };

// "generated" / "empty" / "random" / "query"; InvalidArgument otherwise.
CotSource parse_cot_source(const std::string& name);
const char* to_string(CotSource source);

// The CoT source a query mode allows: direct mode has no CoT, so it is Empty (and asking it
// for a random or query CoT is an InvalidArgument); reason mode keeps `requested`; auto
// mode is Auto and takes only generated CoTs.
CotSource cot_source_for(QueryMode mode, CotSource requested);

struct SystemEvaluationOptions {
  CotSource cot_source = CotSource::Generated;  // embedding systems only
  EvaluationOptions metrics;                    // cut-offs, NDCG depth, relevance threshold
  int depth = 0;          // ranking length kept per query (MRR looks this deep); 0 = the largest K
  uint64_t seed = 0;      // for the random CoT source
  size_t chunk_size = 256;  // queries per retrieval step (one progress report each)
  // Called after each chunk: (queries done, total).
  std::function<void(size_t, size_t)> progress;
};

struct QueryRun {
  std::string query_id;
  std::string category;
  std::string cot;                // the CoT the query was embedded with ("" for BM25 and empty)
  std::string mode;               // embedding systems: the mode that ran, "reason" or "direct"
  std::vector<int64_t> item_ids;  // best first, at most `depth`
  std::vector<float> scores;      // cosine similarity, or the BM25 score
};

struct EvaluationRun {
  std::string system;              // what ran, e.g. "bm25" or "embedding cot=generated pooling=last max_cot=16"
  MetricsReport report;
  std::vector<QueryRun> queries;   // in input order
  double seconds = 0;              // wall time of retrieval (embedding + search), not scoring

  // One JSON object per query and line: {"query_id", "category", "cot", "item_ids", "scores"}.
  std::string rankings_jsonl() const;
  // report.to_json plus "system", "seconds" and "queries_per_second".
  std::string to_json(bool include_per_query = false, int indent = 2) const;
};

// InvalidArgument for an empty query, a repeated query id, a repeated judgement or bad options.
EvaluationRun evaluate_system(const Retriever& retriever, const std::vector<Query>& queries,
                              const std::vector<Qrel>& qrels, const SystemEvaluationOptions& options = {});
EvaluationRun evaluate_system(const Bm25& bm25, const std::vector<Query>& queries, const std::vector<Qrel>& qrels,
                              const SystemEvaluationOptions& options = {});

}  // namespace lrem
