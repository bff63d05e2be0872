// Curating stage-1 training triplets (query, CoT, item) as the LREM paper does, on any data:
//
//   1. a teacher writes keywords for each query (an LLM: KeywordTeacher in lrem/teacher.h; a
//      knowledge base; a file of CoTs);
//   2. rules clean them (clean_cot): words already used are dropped (duplicates), as are words
//      the query contains and words of a stop list, all compared through the BM25 analyzer;
//      given the backbone, the CoT is capped at its max_cot_tokens tokens;
//   3. a baseline retriever (BM25, or a direct-mode embedder) fetches the top k items for the
//      query alone and for "query CoT";
//   4. D = top-k(query + CoT) \ top-k(query), restricted to the query's relevant items: the
//      items the CoT helped find. Queries with an empty D are dropped; every item of D (in
//      the order the query + CoT retrieval ranked them) becomes a triplet.
//
//   auto bm25 = lrem::Bm25::from_items(items.items());
//   auto out = lrem::curate_triplets(queries, qrels, items, lrem::read_teacher_cots("cots.jsonl"),
//                                    lrem::Bm25Baseline(bm25));
//   out.save("triplets.jsonl");  // stage-1 JSON Lines
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lrem/bm25.h"
#include "lrem/dataset.h"
#include "lrem/model.h"
#include "lrem/retriever.h"

namespace lrem {

// Keywords (words or short phrases) for a query; may be empty. Called once per query, in
// order, on the calling thread.
using Teacher = std::function<std::vector<std::string>(const Query& query)>;

// A teacher reading CoTs from JSON Lines, one object per line with a "cot" string and either
// "query_id" (string or integer, matched to Query::id) or "query" (matched to the query text),
// so a triplets file such as the benchmark's triplets_train.jsonl serves as is. Repeated keys
// must carry the same CoT. The CoT is split into whitespace-separated keywords; queries the
// file does not cover get none. FormatError (file, line, problem) for a malformed line.
Teacher read_teacher_cots(const std::string& path);

// What curation compares: the same retriever with and without the CoT.
class BaselineRetriever {
 public:
  virtual ~BaselineRetriever() = default;
  // The top-k item ids for each text, best first (fewer if fewer match).
  virtual std::vector<std::vector<int64_t>> search_many(const std::vector<std::string>& texts, int k) const = 0;
};

// BM25 over the catalogue. The index must outlive this object.
class Bm25Baseline final : public BaselineRetriever {
 public:
  explicit Bm25Baseline(const Bm25& bm25) : bm25_(&bm25) {}
  std::vector<std::vector<int64_t>> search_many(const std::vector<std::string>& texts, int k) const override;

 private:
  const Bm25* bm25_;
};

// An embedding retriever in direct mode (the text, then <think></think><emb>). The retriever
// must outlive this object.
class DirectEmbeddingBaseline final : public BaselineRetriever {
 public:
  explicit DirectEmbeddingBaseline(const Retriever& retriever) : retriever_(&retriever) {}
  std::vector<std::vector<int64_t>> search_many(const std::vector<std::string>& texts, int k) const override;

 private:
  const Retriever* retriever_;
};

struct CurationOptions {
  int k = 50;  // baseline depth
  std::vector<std::string> stop_words = english_stop_words();  // compared after the BM25 analyzer
  int relevance_threshold = 1;  // a qrel counts as relevant at this grade or above
  size_t chunk_size = 256;      // queries per baseline step (one progress report each)
  const Model* backbone = nullptr;  // the model to be trained: caps CoTs in its tokens (clean_cot)
  std::function<void(size_t, size_t)> progress;  // (queries done, total)
};

// The rules of step 2, exposed for reuse and tests. Keywords are split into words; a word is
// kept (as written) unless every one of its analyzed tokens is a stop word, appears in the
// query, or appeared in a word kept before. Returns the kept words joined by single spaces.
// With a backbone, words stop before the CoT would exceed its max_cot_tokens (lrem_config.json)
// in its tokenizer's tokens: the cap stage 1 and inference apply, met here on a word boundary.
std::string clean_cot(const std::string& query, const std::vector<std::string>& keywords,
                      const std::vector<std::string>& stop_words, const Model* backbone = nullptr);

struct CuratedTriplet {
  std::string query_id;
  std::string query;
  std::string category;
  std::string cot;
  int64_t item_id = -1;
  std::string item;  // the item's title
};

struct CurationStats {
  size_t queries = 0;   // given
  size_t with_cot = 0;  // whose cleaned CoT is not empty
  size_t kept = 0;      // whose difference set D is not empty
  size_t triplets = 0;
};

struct CurationResult {
  std::vector<CuratedTriplet> triplets;  // in query order, then D's order
  CurationStats stats;

  // Stage-1 JSON Lines (train.h reads "query", "cot", "item", "category"; "query_id" and
  // "item_id" come along): one triplet per line.
  std::string to_jsonl() const;
  void save(const std::string& path) const;  // atomically
};

// InvalidArgument for k < 1, a threshold < 1, chunk_size 0 or a repeated query id; an item id
// in the baseline's results that is not in `items` is a FormatError.
CurationResult curate_triplets(const std::vector<Query>& queries, const std::vector<Qrel>& qrels,
                               const ItemStore& items, const Teacher& teacher, const BaselineRetriever& baseline,
                               const CurationOptions& options = {});

}  // namespace lrem
