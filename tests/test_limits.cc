// The documented limits (docs/RELIABILITY.md lists them with their defaults): exceeding
// one is a clear LimitExceeded (HTTP 413 in the server, see test_server.cc), or for the
// query length a truncation the result reports; never an allocation of whatever the input
// asked for.
#include <gtest/gtest.h>

#include <string>

#include "lrem/dataset.h"
#include "lrem/embedder.h"
#include "lrem/error.h"
#include "lrem/retriever.h"
#include "lrem/safetensors.h"
#include "serve/server_request.h"
#include "test_support.h"

namespace lrem {
namespace {

Model small_model() { return testing::small_lrem_model(testing::fixture("stories260K")); }

#define REQUIRE_FIXTURE() \
  if (testing::fixture("stories260K").empty()) GTEST_SKIP() << "stories260K fixture missing"

// A CoT cap larger than the model's context (max_position_embeddings 256 here) is refused
// when the embedder is made, before any KV cache is sized from it; the same cap read from a
// model's lrem_config.json is refused the same way.
TEST(Limits, CotCapBeyondTheContextIsRefusedUpFront) {
  REQUIRE_FIXTURE();
  Model m = small_model();
  EmbedderOptions huge;
  huge.max_cot_tokens = 2'000'000'000;
  EXPECT_THROW(Embedder(m, huge), LimitExceeded);
  PromptConfig p = m.prompt_config();
  p.max_cot_tokens = 1'000'000;
  m = m.with_prompt_config(p);
  EXPECT_THROW(Embedder{m}, LimitExceeded);
  EmbedderOptions fits;
  fits.max_cot_tokens = 8;
  EXPECT_EQ(Embedder(m, fits).embed_queries({"red shoes"}).rows, 1);
}

// Queries are cut to max_query_tokens (default 64) and the response says so.
TEST(Limits, LongQueriesAreTruncatedAndFlagged) {
  REQUIRE_FIXTURE();
  const Embedder e(small_model());
  ItemStore items({{1, "red shoes", "{}"}, {2, "blue hat", "{}"}});
  const Retriever r(e, build_index(e, items), items);
  std::string query;
  for (int i = 0; i < 5000; ++i) query += "shoes ";
  const SearchResponse res = r.search(query, 2, QueryMode::Direct);
  EXPECT_TRUE(res.truncated);
  EXPECT_EQ(res.hits.size(), 2u);
  EXPECT_FALSE(r.search("shoes", 2, QueryMode::Direct).truncated);
}

// k is capped by Index::kMaxK in the library and by ServerOptions::max_k in the server.
TEST(Limits, KAboveTheCapIsLimitExceeded) {
  REQUIRE_FIXTURE();
  const Embedder e(small_model());
  ItemStore items({{1, "red shoes", "{}"}});
  const Retriever r(e, build_index(e, items), items);
  EXPECT_THROW(r.search("shoes", Index::kMaxK + 1, QueryMode::Direct), LimitExceeded);
  EXPECT_EQ(r.search("shoes", Index::kMaxK, QueryMode::Direct).hits.size(), 1u);
  ServerOptions o;
  EXPECT_THROW(parse_search_request(R"({"query": "a", "k": 1001})", o), LimitExceeded);
  EXPECT_EQ(parse_search_request(R"({"query": "a", "k": 1000})", o).k, 1000);
}

// The server's batch and text caps apply before any text is copied out of the body.
TEST(Limits, ServerBatchAndTextCaps) {
  ServerOptions o;
  o.max_batch = 2;
  o.max_query_bytes = 8;
  EXPECT_THROW(parse_embed_request(R"({"texts": ["a", "b", "c"]})", o), LimitExceeded);
  EXPECT_THROW(parse_search_request(R"({"query": "123456789"})", o), LimitExceeded);
  EXPECT_EQ(parse_embed_request(R"({"texts": ["a", "12345678"]})", o).texts.size(), 2u);
}

// Files from outside: a JSON Lines line over max_line_bytes and a safetensors header over
// kMaxSafetensorsHeaderBytes are refused without reading them into memory.
TEST(Limits, OversizedLinesAndHeadersAreRefused) {
  EXPECT_THROW(parse_items(R"({"id": 1, "title": ")" + std::string(200, 'x') + "\"}\n", "items.jsonl", 100),
               LimitExceeded);
  EXPECT_EQ(parse_items(R"({"id": 1, "title": "x"})", "items.jsonl", 100).size(), 1u);
  uint8_t header[16] = {0};
  const uint64_t n = kMaxSafetensorsHeaderBytes + 1;
  for (int i = 0; i < 8; ++i) header[i] = uint8_t(n >> (8 * i));
  EXPECT_THROW(parse_safetensors_header(header, sizeof header, "huge.safetensors"), FormatError);
}

}  // namespace
}  // namespace lrem
