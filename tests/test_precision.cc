// bfloat16 inference against float32 on real trained weights: the shipped LREM demo model
// (embeddings, CoTs) and the stories260K fixture (free-running greedy text). bfloat16 keeps
// 8 significant bits, so every GEMM input is rounded by up to 2^-9 (0.2%); lrem keeps the
// residual stream, norms, softmax and returned embeddings in float32, so these errors do
// not compound across layers and the embeddings stay within a small angle of float32.
// int8 (PyTorch's dynamic quantisation) rounds each projection's weights to 255 levels per
// tensor and its input to 128 levels per call: about 1% noise per projection, so its bounds
// are looser.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <numeric>

#include "lrem/embedder.h"
#include "lrem/error.h"
#include "model/model_access.h"
#include "test_support.h"

namespace lrem {
namespace {

// The trained demo model shipped in models/ (skips loudly when absent).
std::string demo_model_dir() {
  const std::string dir = std::string(LREM_SOURCE_DIR) + "/models/lrem-demo";
  if (!std::ifstream(dir + "/model.safetensors")) {
    std::cerr << "SKIP: " << dir << " not found (the trained demo model ships in models/)\n";
    return "";
  }
  return dir;
}

Model load(const std::string& dir, const std::string& dtype) {
  LoadOptions options;
  options.dtype = dtype;
  return Model::load(dir, options);
}

// Row-wise cosine of two embedding sets (rows are L2-normalised: a dot product).
std::vector<double> cosines(const Embeddings& a, const Embeddings& b) {
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.dim, b.dim);
  std::vector<double> out;
  for (int64_t i = 0; i < a.rows; ++i)
    out.push_back(std::inner_product(a.row(i), a.row(i) + a.dim, b.row(i), 0.0));
  return out;
}

double minimum(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

const std::vector<std::string> kTitles = {
    "red leather ankle boots",     "stainless steel claw hammer", "wooden rocking chair",
    "plush teddy bear",            "glass storage jar with lid",  "cotton crew neck t-shirt",
    "cordless electric drill",     "folding camping stool",       "ceramic coffee mug",
    "waterproof hiking sandals",   "oak bookshelf five shelves",  "wind-up toy robot",
};
const std::vector<std::string> kQueries = {
    "something to keep my feet warm in winter", "tool for driving nails",  "a seat that rocks",
    "soft toy for a toddler",                   "container for cookies",   "shirt for summer",
    "gift for someone who does woodwork",       "where to sit when camping",
};

TEST(Precision, Float16IsRefusedOnTheCpuWithAHint) {
  const std::string dir = demo_model_dir();
  if (dir.empty()) GTEST_SKIP();
  try {
    load(dir, "float16");
    FAIL() << "float16 on the CPU should be refused";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("bfloat16"), std::string::npos) << e.what();
  }
}

TEST(Precision, Bfloat16KeepsActivationsAndEmbeddingsInFloat32) {
  const std::string dir = demo_model_dir();
  if (dir.empty()) GTEST_SKIP();
  const Model model = load(dir, "bfloat16");
  const Transformer& tf = ModelAccess::parts(model).transformer;
  for (const auto& [name, tensor] : tf.parameters()) EXPECT_EQ(tensor.scalar_type(), at::kBFloat16) << name;
  c10::InferenceMode guard;
  const at::Tensor ids = at::arange(5, 12, at::kLong).unsqueeze(0);
  const ForwardOutput out = tf.forward(ids, at::arange(7, at::kLong).unsqueeze(0), {}, nullptr, true);
  EXPECT_EQ(out.hidden.scalar_type(), at::kFloat);
  EXPECT_EQ(out.logits.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(out.hidden.isfinite().all().item<bool>());
}

TEST(Precision, Bfloat16LoadKeepsTheCheckpointsFingerprint) {
  const std::string dir = demo_model_dir();
  if (dir.empty()) GTEST_SKIP();
  // Indexes check the fingerprint: one built in float32 must accept the same model in bfloat16.
  EXPECT_EQ(load(dir, "float32").fingerprint(), load(dir, "bfloat16").fingerprint());
}

// Direct embeddings of the demo model in `dtype` against float32: every item's and query's
// cosine must reach its bound, and every item must stay nearer its own float32 embedding
// than any other item's (what retrieval needs).
void expect_direct_embeddings_close(const std::string& dtype, double item_bound, double query_bound) {
  const std::string dir = demo_model_dir();
  if (dir.empty()) GTEST_SKIP();
  const Embedder fp32(load(dir, "float32")), other(load(dir, dtype));
  const Embeddings a = fp32.embed_items(kTitles), b = other.embed_items(kTitles);
  const auto items = cosines(a, b);
  const auto queries = cosines(fp32.embed_queries(kQueries, QueryMode::Direct),
                               other.embed_queries(kQueries, QueryMode::Direct));
  std::cout << dtype << " vs float32 cosine: items min " << minimum(items) << ", direct queries min "
            << minimum(queries) << "\n";
  EXPECT_GE(minimum(items), item_bound);
  EXPECT_GE(minimum(queries), query_bound);
  EXPECT_LT(minimum(items), 1.0) << dtype << " must actually change the arithmetic";
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = 0; j < a.rows; ++j)
      if (j != i) EXPECT_GT(items[i], std::inner_product(a.row(j), a.row(j) + a.dim, b.row(i), 0.0)) << kTitles[i];
}

// Reason mode in `dtype` against float32: at least `min_same` of the CoTs the same, and
// those queries' embeddings (same tokens fed) within `bound`. Greedy decoding follows the
// argmax; a near-tie can flip under rounding and change the rest of a CoT.
void expect_same_chains_of_thought(const std::string& dtype, size_t min_same, double bound) {
  const std::string dir = demo_model_dir();
  if (dir.empty()) GTEST_SKIP();
  const Embedder fp32(load(dir, "float32")), other(load(dir, dtype));
  const Embeddings a = fp32.embed_queries(kQueries, QueryMode::Reason);
  const Embeddings b = other.embed_queries(kQueries, QueryMode::Reason);
  const auto cos = cosines(a, b);
  size_t same = 0;
  for (int64_t i = 0; i < a.rows; ++i) {
    std::cout << "float32 CoT '" << a.cots[i] << "' | " << dtype << " CoT '" << b.cots[i] << "' | cosine " << cos[i]
              << "\n";
    if (a.cots[i] != b.cots[i]) continue;
    ++same;
    EXPECT_GE(cos[i], bound) << kQueries[i];
  }
  EXPECT_GE(same, min_same) << same << " of " << kQueries.size() << " CoTs agree";
}

// 0.999 is an angle of 2.6 degrees, far below the distance between different items'
// embeddings in this model; bf16 rounding alone (0.2% per GEMM input) stays well inside it.
TEST(Precision, Bfloat16DirectEmbeddingsMatchFloat32) { expect_direct_embeddings_close("bfloat16", 0.999, 0.999); }

TEST(Precision, Bfloat16ReasonModeMostlyWritesTheSameChainOfThought) {
  expect_same_chains_of_thought("bfloat16", kQueries.size() * 3 / 4, 0.999);
}

TEST(Precision, Int8KeepsFloat32WeightsActivationsAndTheCheckpointsFingerprint) {
  const std::string dir = demo_model_dir();
  if (dir.empty()) GTEST_SKIP();
  const Model model = load(dir, "int8");
  const Transformer& tf = ModelAccess::parts(model).transformer;
  EXPECT_TRUE(tf.int8());
  for (const auto& [name, tensor] : tf.parameters()) EXPECT_EQ(tensor.scalar_type(), at::kFloat) << name;
  EXPECT_EQ(model.fingerprint(), load(dir, "float32").fingerprint());
  c10::InferenceMode guard;
  const ForwardOutput out = tf.forward(at::arange(5, 12, at::kLong).unsqueeze(0), at::arange(7, at::kLong).unsqueeze(0),
                                       {}, nullptr, true);
  EXPECT_EQ(out.hidden.scalar_type(), at::kFloat);
  EXPECT_EQ(out.logits.scalar_type(), at::kFloat);
  EXPECT_TRUE(out.hidden.isfinite().all().item<bool>());
}

// int8 moves this small model's embeddings much more than bf16 (measured 2026-12-01: items
// 0.66-0.94, direct queries 0.958-0.979; the demo's hidden size is 128, so each projection
// sums few products and its rounding noise averages out less). The bounds leave a margin
// below those figures; the item bound is still above the closest pair of different items
// (0.55), and every item stays nearest its own float32 embedding.
TEST(Precision, Int8DirectEmbeddingsStayNearFloat32) { expect_direct_embeddings_close("int8", 0.6, 0.93); }

// int8 changes 5 of the 8 CoTs here (measured 2026-12-01): the CoT cost shows in the demo
// benchmark's reason-mode scores (docs/BENCHMARKS.md). Those that agree stay within 0.99.
TEST(Precision, Int8ReasonModeWritesSomeOfTheSameChainsOfThought) {
  expect_same_chains_of_thought("int8", 2, 0.98);
}

TEST(Precision, Int8ModelsRefuseTraining) {
  const std::string dir = demo_model_dir();
  if (dir.empty()) GTEST_SKIP();
  Model model = load(dir, "int8");
  Transformer& tf = ModelAccess::trainable_parts(model).transformer;
  try {
    tf.set_requires_grad(true);
    FAIL() << "training an int8 model should be refused";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("load it in float32"), std::string::npos) << e.what();
  }
}

TEST(Precision, Bfloat16GreedyTextOfAPretrainedModelAgreesAtFirst) {
  const std::string dir = testing::fixture("stories260K");
  if (dir.empty()) GTEST_SKIP();
  GenerationOptions greedy;
  greedy.max_new_tokens = 64;
  const Generation a = load(dir, "float32").generate("Once upon a time", greedy);
  const Generation b = load(dir, "bfloat16").generate("Once upon a time", greedy);
  size_t agree = 0;
  while (agree < a.token_ids.size() && agree < b.token_ids.size() && a.token_ids[agree] == b.token_ids[agree]) ++agree;
  std::cout << "fp32: " << a.text << "\nbf16: " << b.text << "\nfirst " << agree << " tokens agree\n";
  // Some greedy steps of this model have a top-1 margin of only 0.004 (STACK.md), within
  // bf16's rounding of the logits, so only a prefix is guaranteed to match.
  EXPECT_GE(agree, 32u);
}

}  // namespace
}  // namespace lrem
