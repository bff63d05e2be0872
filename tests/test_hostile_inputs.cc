// Regression tests for what fuzzing (scripts/fuzz.sh) and review of the parsers found:
// each input once escaped as something other than an lrem::Error or was silently misread.
// The fuzz reproducers also sit in tests/fuzz/corpus/ so every fuzz run replays them.
#include <gtest/gtest.h>

#include <string>

#include "retrieval/index_meta.h"
#include "lrem/config.h"
#include "lrem/dataset.h"
#include "lrem/error.h"
#include "lrem/prompt.h"
#include "serve/server_request.h"

namespace lrem {
namespace {

// fuzz_jsonl crash: a number too large for a double ("8e444") made nlohmann throw
// out_of_range, which the readers did not catch (only parse_error was).
TEST(HostileInputs, NumberOverflowInJsonLinesIsAFormatError) {
  EXPECT_THROW(parse_items("8e444\n", "items.jsonl"), FormatError);
  EXPECT_THROW(parse_queries(R"({"id": "q", "text": "t", "x": 1e999})", "queries.jsonl"), FormatError);
  try {
    parse_qrels("\n\n-1e400\n", "qrels.jsonl");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("qrels.jsonl line 3"), std::string::npos) << e.what();
  }
}

// The same number in the other JSON parsers: a FormatError naming the file, and for an HTTP
// body an InvalidArgument (400) rather than an unexpected exception (500).
TEST(HostileInputs, NumberOverflowElsewhereIsAClearError) {
  EXPECT_THROW(ModelConfig::from_json(R"({"hidden_size": 1e999})", "config.json"), FormatError);
  EXPECT_THROW(PromptConfig::from_json(R"({"max_cot_tokens": 1e999})", "lrem_config.json"), FormatError);
  EXPECT_THROW(IndexMeta::parse(R"({"format_version": 1e999})", "meta.json", 1), FormatError);
  EXPECT_THROW(parse_search_request(R"({"query": "shoes", "k": 1e999})", ServerOptions{}), InvalidArgument);
  EXPECT_THROW(parse_embed_request(R"({"texts": ["a"], "x": -1e999})", ServerOptions{}), InvalidArgument);
}

// Review: integers that do not fit an int were narrowed silently (2^32 + 16 read as 16).
TEST(HostileInputs, OutOfRangeIntegersAreRefusedNotWrapped) {
  EXPECT_THROW(PromptConfig::from_json(R"({"max_cot_tokens": 4294967312})", "lrem_config.json"), FormatError);
  EXPECT_THROW(PromptConfig::from_json(R"({"max_query_tokens": 18446744073709551615})", "c.json"), FormatError);
  EXPECT_EQ(PromptConfig::from_json(R"({"max_cot_tokens": 2147483647})", "c.json").max_cot_tokens, 2147483647);
}

// Review: meta.json's integers went through get<int>() (undefined for 1e300 as a double)
// and a negative count or a malformed digest was only noticed later, if at all.
TEST(HostileInputs, IndexMetaFieldsAreCheckedExactly) {
  const std::string digest(64, 'a');
  auto meta = [&](const std::string& dim, const std::string& count, const std::string& sha) {
    return R"({"format_version": 1, "dim": )" + dim + R"(, "metric": "ip", "factory": "Flat",
              "model_fingerprint": "m", "count": )" + count + R"(, "created": "x", "index_sha256": ")" + sha + "\"}";
  };
  EXPECT_EQ(IndexMeta::parse(meta("8", "3", digest), "meta.json", 1).dim, 8);
  EXPECT_THROW(IndexMeta::parse(meta("1e300", "3", digest), "meta.json", 1), FormatError);
  EXPECT_THROW(IndexMeta::parse(meta("8.5", "3", digest), "meta.json", 1), FormatError);
  EXPECT_THROW(IndexMeta::parse(meta("4294967304", "3", digest), "meta.json", 1), FormatError);
  EXPECT_THROW(IndexMeta::parse(meta("8", "-1", digest), "meta.json", 1), FormatError);
  EXPECT_THROW(IndexMeta::parse(meta("8", "3", "not-a-digest"), "meta.json", 1), FormatError);
  EXPECT_THROW(IndexMeta::parse(meta("8", "3", std::string(64, 'G')), "meta.json", 1), FormatError);
}

}  // namespace
}  // namespace lrem
