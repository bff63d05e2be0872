#include "lrem/bm25.h"

#include <gtest/gtest.h>

#include <cmath>

#include "lrem/error.h"

namespace lrem {
namespace {

// Three titles: lengths 2, 3, 3 tokens, so avgdl = 8/3; N = 3.
Bm25 three_documents(Bm25Options options = {}) {
  return Bm25({1, 2, 3}, {"Red shoes", "red red HAT", "blue running-shoes"}, std::move(options));
}

// One BM25 term contribution, written out from the formula with the default k1/b.
double term(double df, double tf, double length) {
  const double n = 3, avgdl = 8.0 / 3, k1 = 1.2, b = 0.75;
  const double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
  return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avgdl));
}

TEST(Bm25, Analyzer) {
  EXPECT_EQ(bm25_tokenize("Red, RUNNING-shoes 42x!"), (std::vector<std::string>{"red", "running", "shoes", "42x"}));
  EXPECT_EQ(bm25_tokenize("Caf\xc3\xa9 \xc3\x89t\xc3\xa9"), (std::vector<std::string>{"caf\xc3\xa9", "\xc3\x89t\xc3\xa9"}));
  EXPECT_TRUE(bm25_tokenize(" ,.;  ").empty());
  Bm25 with_stops({1}, {"the hat"}, Bm25Options{1.2, 0.75, english_stop_words()});
  EXPECT_EQ(with_stops.analyze("The Hat of THE cat"), (std::vector<std::string>{"hat", "cat"}));
}

TEST(Bm25, HandCheckedScores) {
  auto bm25 = three_documents();
  EXPECT_EQ(bm25.size(), 3u);
  EXPECT_EQ(bm25.vocabulary_size(), 5u);  // red shoes hat blue running

  auto r = bm25.search("red shoes", 10);
  ASSERT_EQ(r.ids, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_NEAR(r.scores[0], term(2, 1, 2) + term(2, 1, 2), 1e-12);  // red + shoes
  EXPECT_NEAR(r.scores[1], term(2, 2, 3), 1e-12);                  // red twice
  EXPECT_NEAR(r.scores[2], term(2, 1, 3), 1e-12);                  // shoes

  // A rarer term weighs more: "hat" (df 1) beats "red" (df 2) in the same document.
  auto hat = bm25.search("hat", 10);
  ASSERT_EQ(hat.ids, std::vector<int64_t>{2});
  EXPECT_NEAR(hat.scores[0], term(1, 1, 3), 1e-12);
  EXPECT_GT(term(1, 1, 3), term(2, 1, 3));
}

TEST(Bm25, RepeatedQueryTermsCountOnce) {
  auto bm25 = three_documents();
  auto once = bm25.search("blue", 3);
  auto twice = bm25.search("blue BLUE blue", 3);
  EXPECT_EQ(once.ids, twice.ids);
  EXPECT_EQ(once.scores, twice.scores);
}

TEST(Bm25, ParametersChangeScores) {
  // b = 0: no length normalisation, so one "shoes" scores the same in documents 1 and 3.
  auto flat = three_documents(Bm25Options{1.2, 0.0, {}});
  auto r = flat.search("shoes", 5);
  ASSERT_EQ(r.ids, (std::vector<int64_t>{1, 3}));
  EXPECT_DOUBLE_EQ(r.scores[0], r.scores[1]);
  EXPECT_THROW(three_documents(Bm25Options{-1, 0.75, {}}), InvalidArgument);
  EXPECT_THROW(three_documents(Bm25Options{1.2, 1.5, {}}), InvalidArgument);
}

TEST(Bm25, TiesBreakBySmallerIdAndKTruncates) {
  Bm25 bm25({30, 10, 20, 40}, {"lamp", "lamp", "lamp", "desk"});
  auto r = bm25.search("lamp", 2);
  EXPECT_EQ(r.ids, (std::vector<int64_t>{10, 20}));
  EXPECT_TRUE(bm25.search("sofa", 5).ids.empty());
  EXPECT_TRUE(bm25.search("", 5).ids.empty());
  EXPECT_THROW(bm25.search("lamp", 0), InvalidArgument);
}

TEST(Bm25, RejectsBadCorpus) {
  EXPECT_THROW(Bm25({1, 2}, {"a"}), InvalidArgument);
  EXPECT_THROW(Bm25({1, 1}, {"a", "b"}), InvalidArgument);
  EXPECT_THROW(Bm25({-1}, {"a"}), InvalidArgument);
}

TEST(Bm25, SearchManyMatchesSearch) {
  std::vector<Item> items;
  const char* words[] = {"red", "blue", "lamp", "desk", "chair", "oak", "steel", "soft"};
  for (int i = 0; i < 200; ++i) {
    items.push_back({i, std::string(words[i % 8]) + " " + words[(i / 8) % 8] + " " + words[(i * 7) % 8], "{}"});
  }
  auto bm25 = Bm25::from_items(items);
  std::vector<std::string> queries = {"red lamp", "oak desk", "soft steel chair", "nothing", "blue"};
  auto batched = bm25.search_many(queries, 7, 4);
  ASSERT_EQ(batched.size(), queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    auto single = bm25.search(queries[i], 7);
    EXPECT_EQ(batched[i].ids, single.ids);
    EXPECT_EQ(batched[i].scores, single.scores);
  }
  EXPECT_EQ(batched[0].ids.size(), 7u);
}

}  // namespace
}  // namespace lrem
