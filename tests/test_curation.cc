// Triplet curation: the keyword rules, the difference-set filter with BM25 on a catalogue small
// enough to follow by hand, and the file-backed teacher.
#include "lrem/curation.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "lrem/error.h"
#include "test_support.h"

namespace lrem {
namespace {

TEST(CleanCot, DropsDuplicatesQueryWordsAndStopWords) {
  const std::vector<std::string> stop = {"the", "for"};
  EXPECT_EQ(clean_cot("warm jacket for winter", {"Coat", "coat", "the outerwear", "winter parka", "JACKET", "wool-blend", "for"},
                      stop),
            "Coat outerwear parka wool-blend");
  // A word survives while one of its tokens is new: "mid-range" after "mid" still adds "range".
  EXPECT_EQ(clean_cot("cheaper sofa", {"mid", "mid-range", "mid-range", "budget"}, stop), "mid mid-range budget");
  // Punctuation-only words and keywords made only of query words leave nothing.
  EXPECT_EQ(clean_cot("red shoes", {"--", "Red", "shoes!"}, {}), "");
  EXPECT_EQ(clean_cot("red shoes", {}, stop), "");
}

TEST(CleanCot, StopsAtTheBackbonesCotCapInItsTokens) {
  if (testing::fixture("stories260K").empty()) GTEST_SKIP() << "stories260K fixture missing";
  const Model backbone = testing::small_lrem_model(testing::fixture("stories260K"), 7, "{query}", 6);
  const std::vector<std::string> words = {"wool", "blend", "cardigan", "sweater", "knitwear", "outerwear", "layer"};
  const std::string uncapped = clean_cot("warm top", words, {});
  ASSERT_GT(backbone.tokenizer().encode(uncapped).size(), 6u);
  const std::string capped = clean_cot("warm top", words, {}, &backbone);
  EXPECT_LE(backbone.tokenizer().encode(capped).size(), 6u);
  EXPECT_FALSE(capped.empty());
  // Whole words, the longest prefix of the uncapped CoT that fits: one more word would not.
  ASSERT_EQ(uncapped.rfind(capped, 0), 0u);
  const std::string next = uncapped.substr(0, uncapped.find(' ', capped.size() + 1));
  EXPECT_GT(backbone.tokenizer().encode(next).size(), 6u);
}

// 1 and 2 share no word with the queries below except where noted; "oakbay" names two items.
ItemStore catalogue() {
  return ItemStore({{1, "Northwind Chesterfield Coat", "{}"},
                    {2, "Oakbay Parka", "{}"},
                    {3, "Oakbay Rain Poncho", "{}"},
                    {4, "Steel Hammer", "{}"},
                    {5, "Budget Claw Hammer", "{}"}});
}

struct Case {
  std::vector<Query> queries = {{"q1", "something warm for winter", "knowledge"},  // no title word
                                {"q2", "claw hammer", "lexical"},
                                {"q3", "rain gear", "synonym"},
                                {"q4", "winter coat", "lexical"},
                                {"q5", "umbrella", "lexical"}};
  std::vector<Qrel> qrels = {{"q1", 2, 1}, {"q2", 5, 2}, {"q3", 3, 1}, {"q4", 1, 1}, {"q4", 2, 1}, {"q4", 3, 0}};
  std::map<std::string, std::vector<std::string>> cots = {
      {"q1", {"parka", "coat"}},   // finds 1 and 2; only 2 is relevant
      {"q2", {"tool", "steel"}},   // finds 4, not relevant; 5 was found without the CoT
      {"q3", {"rain", "the"}},     // nothing left after the rules
      {"q4", {"parka", "poncho"}}, // the query finds 1; with the CoT also 2 (relevant) and 3 (grade 0)
  };                               // q5: the teacher has nothing
};

TEST(CurateTriplets, KeepsExactlyTheRelevantItemsTheCotAdds) {
  Case c;
  ItemStore items = catalogue();
  Bm25 bm25 = Bm25::from_items(items.items());
  std::vector<std::string> asked;
  Teacher teacher = [&](const Query& q) {
    asked.push_back(q.id);
    auto it = c.cots.find(q.id);
    return it == c.cots.end() ? std::vector<std::string>{} : it->second;
  };
  CurationOptions o;
  o.k = 3;
  CurationResult out = curate_triplets(c.queries, c.qrels, items, teacher, Bm25Baseline(bm25), o);

  EXPECT_EQ(asked, (std::vector<std::string>{"q1", "q2", "q3", "q4", "q5"}));
  ASSERT_EQ(out.triplets.size(), 2u);
  EXPECT_EQ(out.triplets[0].query_id, "q1");
  EXPECT_EQ(out.triplets[0].item_id, 2);
  EXPECT_EQ(out.triplets[0].cot, "parka coat");
  EXPECT_EQ(out.triplets[0].item, "Oakbay Parka");
  EXPECT_EQ(out.triplets[0].category, "knowledge");
  EXPECT_EQ(out.triplets[1].query_id, "q4");
  EXPECT_EQ(out.triplets[1].item_id, 2);
  EXPECT_EQ(out.triplets[1].cot, "parka poncho");
  EXPECT_EQ(out.stats.queries, 5u);
  EXPECT_EQ(out.stats.with_cot, 3u);  // q1, q2, q4
  EXPECT_EQ(out.stats.kept, 2u);
  EXPECT_EQ(out.stats.triplets, 2u);

  // k = 1: "Oakbay Parka" (the shortest title) outscores the other one-term matches, so both
  // CoTs still move item 2 into the top 1; q2's query alone already ranks item 5 first.
  o.k = 1;
  CurationResult top1 = curate_triplets(c.queries, c.qrels, items, teacher, Bm25Baseline(bm25), o);
  ASSERT_EQ(top1.triplets.size(), 2u);
  EXPECT_EQ(top1.triplets[1].query_id, "q4");
  EXPECT_EQ(top1.triplets[1].item_id, 2);

  // Stage-1 JSON Lines.
  testing::TempDir dir;
  out.save(dir.file("triplets.jsonl"));
  std::ifstream in(dir.file("triplets.jsonl"));
  std::string line;
  std::getline(in, line);
  auto row = nlohmann::json::parse(line);
  EXPECT_EQ(row["query"], "something warm for winter");
  EXPECT_EQ(row["cot"], "parka coat");
  EXPECT_EQ(row["item"], "Oakbay Parka");
  EXPECT_EQ(row["item_id"], 2);
  EXPECT_EQ(row["query_id"], "q1");
}

TEST(CurateTriplets, RefusesBadInput) {
  ItemStore items = catalogue();
  Bm25 bm25 = Bm25::from_items(items.items());
  Teacher none = [](const Query&) { return std::vector<std::string>{}; };
  CurationOptions o;
  o.k = 0;
  EXPECT_THROW(curate_triplets({}, {}, items, none, Bm25Baseline(bm25), o), InvalidArgument);
  EXPECT_THROW(curate_triplets({}, {}, items, Teacher(), Bm25Baseline(bm25)), InvalidArgument);
  EXPECT_THROW(curate_triplets({{"a", "x", ""}, {"a", "y", ""}}, {}, items, none, Bm25Baseline(bm25)), InvalidArgument);
  // A baseline whose ids are not in the catalogue is a mismatch, said so.
  Bm25 other = Bm25::from_items({{99, "Oakbay Parka", "{}"}});
  Teacher parka = [](const Query&) { return std::vector<std::string>{"parka"}; };
  EXPECT_THROW(curate_triplets({{"a", "warm", ""}}, {{"a", 99, 1}}, items, parka, Bm25Baseline(other)), FormatError);
}

TEST(ReadTeacherCots, MatchesByIdOrByQueryText) {
  testing::TempDir dir;
  {
    std::ofstream f(dir.file("cots.jsonl"));
    f << R"({"query_id": "q1", "cot": "parka coat"})" << "\n\n"
      << R"({"query_id": 7, "cot": "tool"})" << "\n"
      << R"({"query": "rain gear", "cot": "poncho raincoat", "item": "x"})" << "\n"
      << R"({"query": "rain gear", "cot": "poncho raincoat", "item": "y"})" << "\n";
  }
  Teacher t = read_teacher_cots(dir.file("cots.jsonl"));
  EXPECT_EQ(t({"q1", "anything", ""}), (std::vector<std::string>{"parka", "coat"}));
  EXPECT_EQ(t({"7", "anything", ""}), (std::vector<std::string>{"tool"}));
  EXPECT_EQ(t({"zz", "rain gear", ""}), (std::vector<std::string>{"poncho", "raincoat"}));
  EXPECT_TRUE(t({"zz", "unknown", ""}).empty());

  {
    std::ofstream f(dir.file("conflict.jsonl"));
    f << R"({"query_id": "q1", "cot": "a"})" << "\n" << R"({"query_id": "q1", "cot": "b"})" << "\n";
  }
  try {
    read_teacher_cots(dir.file("conflict.jsonl"));
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("conflict.jsonl:2"), std::string::npos) << e.what();
  }
  {
    std::ofstream f(dir.file("bad.jsonl"));
    f << R"({"cot": "a"})" << "\n";
  }
  EXPECT_THROW(read_teacher_cots(dir.file("bad.jsonl")), FormatError);
  EXPECT_THROW(read_teacher_cots(dir.file("missing.jsonl")), IoError);
}

}  // namespace
}  // namespace lrem
