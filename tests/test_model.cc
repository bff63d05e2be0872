// A Model never changes after construction: with_lrem_tokens and with_prompt_config return
// new models, and neither they nor loading another model disturb existing copies, the
// embedders made from them, or the process's compute thread count.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lrem/embedder.h"
#include "lrem/error.h"
#include "lrem/model.h"
#include "lrem/runtime.h"
#include "test_support.h"

namespace lrem {
namespace {

#define REQUIRE_FIXTURE() \
  if (testing::fixture("stories260K").empty()) GTEST_SKIP() << "stories260K fixture missing"

const std::vector<std::string> kQueries = {"red running shoes", "a gift for a toddler"};

// No CoT cache: every call recomputes, so equal results mean equal behaviour.
EmbedderOptions uncached() {
  EmbedderOptions o;
  o.cot_cache_capacity = 0;
  return o;
}

void expect_same(const Embeddings& a, const Embeddings& b) {
  EXPECT_EQ(a.cots, b.cots);
  EXPECT_EQ(a.data, b.data);
}

TEST(Model, EmbedderMadeBeforeWithPromptConfigKeepsItsBehaviour) {
  REQUIRE_FIXTURE();
  const Model m = testing::small_lrem_model(testing::fixture("stories260K"));
  const PromptConfig original = m.prompt_config();
  const Embedder before(m, uncached());
  const Embeddings expected = before.embed_queries(kQueries);

  PromptConfig changed = original;
  changed.query_template = "customer asks: {query}. think:";
  changed.max_cot_tokens = 3;
  const Model other = m.with_prompt_config(changed);

  EXPECT_EQ(other.prompt_config().query_template, changed.query_template);
  EXPECT_EQ(m.prompt_config().query_template, original.query_template);
  EXPECT_EQ(m.prompt_config().max_cot_tokens, original.max_cot_tokens);
  expect_same(before.embed_queries(kQueries), expected);
  expect_same(Embedder(m, uncached()).embed_queries(kQueries), expected);
  // The new prompt format is in effect for the new model: the change was not a no-op.
  EXPECT_NE(Embedder(other, uncached()).embed_queries(kQueries).data, expected.data);
  EXPECT_THROW(m.with_prompt_config(PromptConfig{"no placeholder"}), InvalidArgument);
}

TEST(Model, WithLremTokensLeavesTheOriginalAlone) {
  REQUIRE_FIXTURE();
  const Model plain = Model::load(testing::fixture("stories260K"));
  const int vocab = plain.tokenizer().vocab_size();
  const std::string fingerprint = plain.fingerprint();
  GenerationOptions greedy;
  greedy.max_new_tokens = 8;
  const std::string story = plain.generate("Once upon a time", greedy).text;

  const Model lrem = plain.with_lrem_tokens();
  EXPECT_EQ(lrem.tokenizer().vocab_size(), vocab + 3);
  EXPECT_EQ(lrem.config().vocab_size, vocab + 3);
  EXPECT_NO_THROW(Embedder{lrem});

  EXPECT_EQ(plain.tokenizer().vocab_size(), vocab);
  EXPECT_EQ(plain.config().vocab_size, vocab);
  EXPECT_EQ(plain.fingerprint(), fingerprint);
  EXPECT_EQ(plain.generate("Once upon a time", greedy).text, story);
  EXPECT_THROW(Embedder{plain}, InvalidArgument);
  // Adding tokens a model already has changes nothing.
  EXPECT_EQ(lrem.with_lrem_tokens().fingerprint(), lrem.fingerprint());
}

TEST(Model, LoadingModelsLeavesTheProcessThreadCountAndOtherModelsAlone) {
  REQUIRE_FIXTURE();
  for (const int threads : {1, 2}) {
    const int in_effect = set_num_threads(threads);  // OpenBLAS may cap it at the core count
    const Model fp32 = Model::load(testing::fixture("stories260K")).with_lrem_tokens();
    const Embeddings expected = Embedder(fp32, uncached()).embed_items({"red shoes", "a toy truck"});
    const Model bf16 = Model::load(testing::fixture("stories260K"), LoadOptions{"cpu", "bfloat16"});
    EXPECT_EQ(num_threads(), in_effect) << "loading a model changed the process's thread count";
    EXPECT_EQ(bf16.fingerprint(), Model::load(testing::fixture("stories260K")).fingerprint());
    expect_same(Embedder(fp32, uncached()).embed_items({"red shoes", "a toy truck"}), expected);
  }
  set_num_threads(1);
}

}  // namespace
}  // namespace lrem
