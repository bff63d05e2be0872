// GRPO's rollouts follow inference's CoT rule (model/cot.h): for the same query and sampling
// draws, the CoT GRPO samples and the embedding it scores are the ones Embedder produces.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>

#include "lrem/embedder.h"
#include "lrem/train.h"
#include "model/model_access.h"
#include "model/model_impl.h"
#include "test_support.h"
#include "train/batch.h"
#include "train/rollout.h"

namespace lrem {
namespace {

// Rollouts of `queries` sampled as GRPO samples them; every one's CoT (decoded) and the
// unit-length embedding GRPO's accuracy reward is computed from must match Embedder's.
void expect_rollouts_match_embedder(const Model& m, const std::vector<std::string>& queries, float temperature) {
  const PromptFormat& format = ModelAccess::parts(m).prompt();
  const Tokenizer& tok = m.tokenizer();
  const int cap = m.prompt_config().max_cot_tokens;
  EmbedderOptions o;
  o.temperature = temperature;
  o.seed = 11;
  const Embeddings served = Embedder(m, o).embed_queries(queries, QueryMode::Reason);

  std::vector<std::vector<int>> prompts;
  for (const std::string& q : queries) prompts.push_back(format.query_prompt(q).ids);
  GenerationOptions sampling;
  sampling.temperature = temperature;
  sampling.seed = 11;
  const std::vector<train::Rollout> rollouts =
      train::sample_rollouts(ModelAccess::parts(m).transformer, format, tok, prompts, sampling, cap);
  ASSERT_EQ(rollouts.size(), queries.size());
  std::vector<std::vector<int>> inputs;
  for (size_t i = 0; i < rollouts.size(); ++i) inputs.push_back(train::embedding_input(prompts[i], rollouts[i], format));
  at::Tensor scored = train::embed_rows(ModelAccess::parts(m).transformer, inputs).detach().to(at::kFloat);
  scored = (scored / scored.norm(2, -1, true)).contiguous();
  for (size_t i = 0; i < queries.size(); ++i) {
    EXPECT_LE(rollouts[i].ending.cot.size(), size_t(cap));
    EXPECT_EQ(served.cots[i], tok.decode(rollouts[i].ending.cot, true)) << queries[i];
    for (int64_t d = 0; d < served.dim; ++d)
      EXPECT_NEAR(served.row(int64_t(i))[d], scored[int64_t(i)][d].item<float>(), 1e-4f) << queries[i] << " dim " << d;
  }
}

TEST(TrainRollouts, ScoredEmbeddingIsTheServedOneForOverLongCots) {
  if (testing::fixture("stories260K").empty()) GTEST_SKIP() << "stories260K fixture missing";
  // An untrained model never closes its CoT: every rollout is cut at the cap of 5 tokens.
  const Model m = testing::small_lrem_model(testing::fixture("stories260K"), 7, "search query: {query} ->", 5);
  const std::vector<std::string> queries = {"cheaper alternative to airpods", "toy truck", "sofa", "red shoes"};
  expect_rollouts_match_embedder(m, queries, 0.0f);
  expect_rollouts_match_embedder(m, queries, 1.0f);
}

TEST(TrainRollouts, ScoredEmbeddingIsTheServedOneForClosedCots) {
  if (testing::fixture("stories260K").empty()) GTEST_SKIP() << "stories260K fixture missing";
  // A few stage-1 steps teach a random model to close its CoT: "<think> sock </think><emb>".
  testing::TempDir dir;
  testing::small_lrem_model(testing::fixture("stories260K"), 7, "search query: {query} ->", 5).save(dir.file("base"));
  {
    std::ofstream data(dir.file("triplets.jsonl"));
    for (const char* q : {"warm feet", "cold toes", "winter feet", "wool for feet"})
      data << "{\"query\": \"" << q << "\", \"cot\": \"sock\", \"item\": \"grey sock\"}\n";
  }
  SftConfig c = testing::quick_sft(dir.file("base"), dir.file("triplets.jsonl"), dir.file("stage1"), 40, 1e-2);
  c.batch_size = 4;
  c.lambda_sft = 1.0;
  sft(c);
  const Model m = Model::load(dir.file("stage1"), LoadOptions{"cpu", "float32"});
  const std::vector<std::string> queries = {"warm feet", "cold toes", "socks please", "feet"};
  expect_rollouts_match_embedder(m, queries, 0.0f);
  const Embeddings served = Embedder(m).embed_queries(queries, QueryMode::Reason);
  EXPECT_EQ(served.cots[0], "sock");  // closed by the model, well inside the cap
}

}  // namespace
}  // namespace lrem
