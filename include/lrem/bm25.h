// Okapi BM25 over item titles: the lexical baseline the embedding retriever is compared to.
//
// Analyzer (bm25_tokenize): ASCII letters are lower-cased; ASCII letters and digits and every
// byte >= 0x80 (so UTF-8 words stay whole, unnormalised) form tokens; every other byte
// separates them. Tokens found in the optional stop list are dropped, from documents and
// queries alike.
//
// Score of document d for query q, summed over the DISTINCT terms t of q:
//   idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))
//   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))   (Lucene's always-positive variant)
// with tf the count of t in d, |d| the token count of d and avgdl the mean over the corpus.
//
// The index is immutable once built, so search() and search_many() may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lrem/dataset.h"

namespace lrem {

struct Bm25Options {
  double k1 = 1.2;   // >= 0: term-frequency saturation
  double b = 0.75;   // in [0, 1]: document-length normalisation
  std::vector<std::string> stop_words;  // compared after analysis (lower-case)
};

// A small English stop list (articles, pronouns, prepositions...) to put in Bm25Options.
const std::vector<std::string>& english_stop_words();

// The analyzer, without stop-word removal.
std::vector<std::string> bm25_tokenize(std::string_view text);

// Only documents sharing a term with the query, best first; ties by smaller id. May hold
// fewer than k entries (no padding).
struct Bm25Result {
  std::vector<int64_t> ids;
  std::vector<double> scores;
};

class Bm25 {
 public:
  // InvalidArgument for mismatched sizes, a negative or duplicate id, or bad options.
  Bm25(const std::vector<int64_t>& ids, const std::vector<std::string>& texts, Bm25Options options = {});
  static Bm25 from_items(const std::vector<Item>& items, Bm25Options options = {});
  ~Bm25();
  Bm25(Bm25&&) noexcept;
  Bm25& operator=(Bm25&&) noexcept;

  // k <= 0: InvalidArgument. A query with no indexed term returns an empty result.
  Bm25Result search(std::string_view query, int k) const;
  // One result per query, in order; spread over num_threads threads (0: hardware concurrency).
  std::vector<Bm25Result> search_many(const std::vector<std::string>& queries, int k, int num_threads = 0) const;

  size_t size() const;             // documents
  size_t vocabulary_size() const;  // distinct terms
  const Bm25Options& options() const;
  // bm25_tokenize followed by this index's stop list.
  std::vector<std::string> analyze(std::string_view text) const;

 private:
  struct Data;
  std::unique_ptr<const Data> data_;
};

}  // namespace lrem
