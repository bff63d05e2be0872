// Mean pooling and forced chains of thought (Embedder::embed_queries_with_cots) against a slow
// reference: one full forward pass over the whole sequence, no cache of any kind.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "lrem/embedder.h"
#include "lrem/error.h"
#include "model/model_access.h"
#include "test_support.h"

namespace lrem {
namespace {

#define REQUIRE_FIXTURE()                     \
  if (testing::fixture("stories260K").empty()) \
  GTEST_SKIP() << "stories260K fixture missing"

// Final hidden states of `ids` from one full forward pass: [T, hidden].
at::Tensor full_hidden(const Model& m, const std::vector<int>& ids) {
  const int64_t n = static_cast<int64_t>(ids.size());
  at::Tensor input = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0);
  return ModelAccess::parts(m).transformer.forward(input, at::arange(n, at::kLong).unsqueeze(0), at::Tensor(), nullptr, false).hidden[0];
}

std::vector<float> normalised(at::Tensor v) {
  v = (v / v.norm()).contiguous();
  return std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
}

std::vector<float> reference(const Model& m, const std::vector<int>& ids, Pooling pooling) {
  c10::InferenceMode guard;
  at::Tensor h = full_hidden(m, ids);
  return normalised(pooling == Pooling::Mean ? h.mean(0) : h[h.size(0) - 1]);
}

// Greedy CoT ids after `prompt` (which ends at <think>), by full forwards; stops at </think>.
std::vector<int> greedy_cot(const Model& m, std::vector<int> ids, int max_tokens) {
  c10::InferenceMode guard;
  const int close = ModelAccess::parts(m).prompt().think_close_id();
  std::vector<int> cot;
  for (int step = 0; step < max_tokens; ++step) {
    const int64_t n = static_cast<int64_t>(ids.size());
    at::Tensor input = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0);
    at::Tensor logits =
        ModelAccess::parts(m).transformer.forward(input, at::arange(n, at::kLong).unsqueeze(0), at::Tensor(), nullptr, true).logits;
    const int next = static_cast<int>(logits[0][n - 1].argmax().item<int64_t>());
    if (next == close) break;
    ids.push_back(next);
    cot.push_back(next);
  }
  return cot;
}

std::vector<int> concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void expect_close(const float* a, const std::vector<float>& b, float tol = 1e-4f) {
  for (size_t i = 0; i < b.size(); ++i) ASSERT_NEAR(a[i], b[i], tol) << "dimension " << i;
}

TEST(EmbedderPooling, ParsesNames) {
  EXPECT_EQ(parse_pooling("last"), Pooling::Last);
  EXPECT_EQ(parse_pooling("mean"), Pooling::Mean);
  EXPECT_STREQ(to_string(Pooling::Mean), "mean");
  EXPECT_THROW(parse_pooling("max"), InvalidArgument);
}

TEST(EmbedderPooling, MeanPoolingAveragesEveryRealToken) {
  REQUIRE_FIXTURE();
  Model m = testing::small_lrem_model(testing::fixture("stories260K"), 11, "search query: {query} ->", 5);
  const PromptFormat& p = ModelAccess::parts(m).prompt();
  EmbedderOptions o;
  o.pooling = Pooling::Mean;
  o.batch_size = 2;  // rows of different lengths share a padded batch
  Embedder mean(m, o);

  std::vector<std::string> titles = {"Navy Wool Cardigan", "x", "Premium Oak Dining Table with Six Matching Chairs"};
  Embeddings items = mean.embed_items(titles);
  for (size_t i = 0; i < titles.size(); ++i) expect_close(items.row(i), reference(m, p.item(titles[i]).ids, Pooling::Mean));

  std::vector<std::string> qs = {"red shoes", "a warm knitted jacket for winter evenings", "tea"};
  Embeddings direct = mean.embed_queries(qs, QueryMode::Direct);
  Embeddings reason = mean.embed_queries(qs, QueryMode::Reason);
  Embeddings last = Embedder(m).embed_queries(qs, QueryMode::Reason);
  for (size_t i = 0; i < qs.size(); ++i) {
    const std::vector<int> prompt = p.query_prompt(qs[i]).ids;
    expect_close(direct.row(i), reference(m, concat(prompt, {p.think_close_id(), p.emb_id()}), Pooling::Mean));
    // Pooling does not change the reasoning; the mean then covers the CoT too.
    EXPECT_EQ(reason.cots[i], last.cots[i]);
    const std::vector<int> cot = greedy_cot(m, prompt, 5);
    expect_close(reason.row(i),
                 reference(m, concat(concat(prompt, cot), {p.think_close_id(), p.emb_id()}), Pooling::Mean));
  }
  // Different poolings really give different vectors.
  Embeddings last_items = Embedder(m).embed_items(titles);
  float dot = 0;
  for (int64_t d = 0; d < items.dim; ++d) dot += items.row(0)[d] * last_items.row(0)[d];
  EXPECT_LT(dot, 0.999f);
}

TEST(EmbedderForcedCots, EqualFullForwardOverTheGivenCot) {
  REQUIRE_FIXTURE();
  Model m = testing::small_lrem_model(testing::fixture("stories260K"), 7, "search query: {query} ->", 32);
  const PromptFormat& p = ModelAccess::parts(m).prompt();
  std::vector<std::string> qs = {"cheaper alternative to airpods", "toy truck", "sofa"};
  std::vector<std::string> cots = {"earbuds budget wireless", "", "couch living room furniture"};
  for (Pooling pooling : {Pooling::Last, Pooling::Mean}) {
    EmbedderOptions o;
    o.pooling = pooling;
    Embeddings out = Embedder(m, o).embed_queries_with_cots(qs, cots);
    for (size_t i = 0; i < qs.size(); ++i) {
      expect_close(out.row(i), reference(m, concat(p.query_prompt(qs[i]).ids, p.cot_completion(cots[i]).ids), pooling));
      EXPECT_EQ(out.cots[i], cots[i]);
    }
  }
  // The empty CoT is direct mode.
  Embedder e(m);
  Embeddings forced = e.embed_queries_with_cots({"toy truck"}, {""});
  Embeddings direct = e.embed_queries({"toy truck"}, QueryMode::Direct);
  expect_close(forced.row(0), direct.data, 1e-5f);
}

TEST(EmbedderForcedCots, AreCutToTheCapAsStageOneCutsItsTargets) {
  REQUIRE_FIXTURE();
  Model m = testing::small_lrem_model(testing::fixture("stories260K"), 7, "search query: {query} ->", 4);
  const PromptFormat& p = ModelAccess::parts(m).prompt();
  const std::string cot = "one two three four five six seven eight nine ten";
  const std::vector<int> ids = m.tokenizer().encode(cot);
  ASSERT_GT(ids.size(), 4u);
  const PromptIds tail = p.cot_completion(cot);
  EXPECT_TRUE(tail.truncated);
  EXPECT_EQ(tail.ids, concat({ids.begin(), ids.begin() + 4}, {p.think_close_id(), p.emb_id()}));
  Embeddings out = Embedder(m).embed_queries_with_cots({"numbers"}, {cot});
  EXPECT_EQ(out.cots[0], m.tokenizer().decode({ids.begin(), ids.begin() + 4}, true));
  EXPECT_TRUE(out.truncated[0]);
  expect_close(out.row(0), reference(m, concat(p.query_prompt("numbers").ids, tail.ids), Pooling::Last));
  // The whole CoT would give another vector.
  const std::vector<float> whole =
      reference(m, concat(p.query_prompt("numbers").ids, p.close_cot(ids)), Pooling::Last);
  float dot = 0;
  for (size_t d = 0; d < whole.size(); ++d) dot += out.row(0)[d] * whole[d];
  EXPECT_LT(dot, 0.9999f);
}

TEST(EmbedderForcedCots, GivenTheGeneratedCotsReproducesReasonMode) {
  REQUIRE_FIXTURE();
  // The pretrained fixture writes English; its CoTs start a new word (as trained CoTs do), so
  // their decoded text re-tokenizes to the same ids.
  const Model m = Model::load(testing::fixture("stories260K")).with_lrem_tokens();
  std::vector<std::string> qs = {"Once upon a time,", "The little dog was", "Lily wanted to"};
  Embedder e(m);
  Embeddings reason = e.embed_queries(qs, QueryMode::Reason);
  Embeddings forced = e.embed_queries_with_cots(qs, reason.cots);
  for (size_t i = 0; i < qs.size(); ++i) {
    EXPECT_FALSE(reason.cots[i].empty());
    EXPECT_EQ(forced.cots[i], reason.cots[i]);
    expect_close(forced.row(i), std::vector<float>(reason.row(i), reason.row(i) + reason.dim));
  }
}

TEST(EmbedderForcedCots, BadInputIsAClearError) {
  REQUIRE_FIXTURE();
  Model m = testing::small_lrem_model(testing::fixture("stories260K"));
  Embedder e(m);
  EXPECT_THROW(e.embed_queries_with_cots({"a", "b"}, {"x"}), InvalidArgument);
  EXPECT_THROW(e.embed_queries_with_cots({""}, {"x"}), InvalidArgument);
  EXPECT_THROW(e.embed_queries_with_cots({"a"}, {std::string("caf\xc3", 4)}), InvalidArgument);
}

}  // namespace
}  // namespace lrem
