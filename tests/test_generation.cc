#include "model/generation.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "model/checkpoint.h"
#include "lrem/error.h"
#include "test_support.h"
#include "tiny_llama.h"

namespace lrem {
namespace {

using testing::tiny_config;
using testing::tiny_model;
using testing::tiny_variants;

std::vector<std::vector<int>> random_prompts(const std::vector<int>& lengths, int vocab, uint64_t seed) {
  std::vector<std::vector<int>> prompts;
  for (size_t i = 0; i < lengths.size(); ++i) {
    const at::Tensor ids = testing::random_ids(1, lengths[i], vocab, seed + i);
    prompts.emplace_back(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + lengths[i]);
  }
  return prompts;
}

GenerationOptions greedy(int n, std::vector<int> stop_ids = {}) {
  GenerationOptions o;
  o.max_new_tokens = n;
  o.stop_ids = std::move(stop_ids);
  return o;
}

GenerationOptions sampling(int n, uint64_t seed, float temperature = 1.0f, int top_k = 0, float top_p = 1.0f) {
  GenerationOptions o = greedy(n);
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  o.seed = seed;
  return o;
}

// Full forward over the whole sequence (no cache) for its last position.
at::Tensor full_forward(const Transformer& model, const std::vector<int>& ids, bool want_logits) {
  const int64_t n = static_cast<int64_t>(ids.size());
  const at::Tensor input = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0);
  const auto out = model.forward(input, at::arange(n, at::kLong).unsqueeze(0), {}, nullptr, want_logits);
  return (want_logits ? out.logits : out.hidden)[0][n - 1];
}

// Greedy decoding that recomputes everything from scratch at every step.
std::vector<int> greedy_without_cache(const Transformer& model, std::vector<int> ids, int n) {
  const size_t prompt = ids.size();
  for (int i = 0; i < n; ++i) ids.push_back(static_cast<int>(full_forward(model, ids, true).argmax().item<int64_t>()));
  return std::vector<int>(ids.begin() + prompt, ids.end());
}

class Generation : public ::testing::Test {
 protected:
  c10::InferenceMode inference_;
};

TEST_F(Generation, GreedyEqualsArgmaxOfFullForwardAndBatchEqualsAlone) {
  for (const auto& config : tiny_variants()) {
    const Transformer model = tiny_model(config);
    const auto prompts = random_prompts({1, 5, 9}, 50, 20);
    const auto batch = generate(model, prompts, greedy(12));
    ASSERT_EQ(batch.size(), 3u);
    for (size_t i = 0; i < prompts.size(); ++i) {
      const auto alone = generate(model, {prompts[i]}, greedy(12));
      EXPECT_EQ(batch[i].token_ids, alone[0].token_ids) << "prompt " << i;
      EXPECT_EQ(batch[i].token_ids, greedy_without_cache(model, prompts[i], 12)) << "prompt " << i;
      EXPECT_EQ(batch[i].finish_reason, "length");
    }
  }
}

TEST_F(Generation, SamplingIsReproduciblePerSeed) {
  const Transformer model = tiny_model(tiny_config());
  const auto prompts = random_prompts({3, 6}, 50, 30);
  const auto a = generate(model, prompts, sampling(20, 1)), b = generate(model, prompts, sampling(20, 1)),
             c = generate(model, prompts, sampling(20, 2));
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(a[i].token_ids, b[i].token_ids);
    EXPECT_EQ(a[i].token_ids.size(), 20u);
  }
  EXPECT_TRUE(a[0].token_ids != c[0].token_ids || a[1].token_ids != c[1].token_ids);
}

TEST_F(Generation, TopKOneAndTinyTopPEqualGreedy) {
  const Transformer model = tiny_model(tiny_config(true));
  const auto prompts = random_prompts({2, 7}, 50, 40);
  const auto expected = generate(model, prompts, greedy(15));
  const auto top_k = generate(model, prompts, sampling(15, 3, 1.5f, /*top_k=*/1));
  const auto top_p = generate(model, prompts, sampling(15, 3, 1.5f, 0, /*top_p=*/1e-6f));
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(top_k[i].token_ids, expected[i].token_ids);
    EXPECT_EQ(top_p[i].token_ids, expected[i].token_ids);
  }
  // Plain sampling at a high temperature does leave the greedy path.
  const auto hot = generate(model, prompts, sampling(15, 3, 5.0f));
  EXPECT_TRUE(hot[0].token_ids != expected[0].token_ids || hot[1].token_ids != expected[1].token_ids);
}

TEST_F(Generation, SamplerFiltersTopKAndNucleus) {
  // Probabilities 0.5, 0.3, 0.15, 0.05 for tokens 0..3.
  const at::Tensor logits = at::log(at::tensor({0.5f, 0.3f, 0.15f, 0.05f})).unsqueeze(0);
  auto counts = [&](const GenerationOptions& options) {
    Sampler sampler(options);
    std::vector<int> seen(4, 0);
    for (int i = 0; i < 2000; ++i) ++seen.at(sampler.next(logits).at(0));
    return seen;
  };
  const auto top2 = counts(sampling(1, 5, 1.0f, /*top_k=*/2));
  EXPECT_EQ(top2[2] + top2[3], 0);
  EXPECT_NEAR(top2[0] / 2000.0, 0.5 / 0.8, 0.05);
  // The smallest set reaching 0.6 is {0, 1}; reaching 0.81 needs token 2 as well.
  const auto nucleus = counts(sampling(1, 5, 1.0f, 0, /*top_p=*/0.6f));
  EXPECT_EQ(nucleus[2] + nucleus[3], 0);
  EXPECT_GT(nucleus[1], 0);
  const auto wider = counts(sampling(1, 5, 1.0f, 0, /*top_p=*/0.81f));
  EXPECT_GT(wider[2], 0);
  EXPECT_EQ(wider[3], 0);
  const auto all = counts(sampling(1, 5));
  EXPECT_GT(all[3], 0);
}

TEST_F(Generation, StopIdsEndRowsEarlyWhileOthersContinue) {
  const Transformer model = tiny_model(tiny_config());
  const auto prompts = random_prompts({4, 2, 6}, 50, 50);
  const auto free_run = generate(model, prompts, greedy(10));
  // Stop on the token row 0 emits third, unless it appears earlier.
  const int stop = free_run[0].token_ids[2];
  const auto stopped = generate(model, prompts, greedy(10, {stop}));
  int n_stopped = 0, n_length = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto& full = free_run[i].token_ids;
    const auto hit = std::find(full.begin(), full.end(), stop);
    const std::vector<int> expected(full.begin(), hit == full.end() ? full.end() : hit + 1);
    EXPECT_EQ(stopped[i].token_ids, expected) << "row " << i;
    EXPECT_EQ(stopped[i].finish_reason, hit == full.end() ? "length" : "stop") << "row " << i;
    (hit == full.end() ? n_length : n_stopped)++;
  }
  EXPECT_LE(stopped[0].token_ids.size(), 3u);
  EXPECT_GE(n_stopped, 1);
  EXPECT_GE(n_length, 1) << "no row continued past another row's stop";
}

TEST_F(Generation, MaxNewTokensIsRespected) {
  const Transformer model = tiny_model(tiny_config());
  const auto prompts = random_prompts({3, 1}, 50, 60);
  for (int n : {0, 1, 3}) {
    for (const auto& c : generate(model, prompts, greedy(n))) {
      EXPECT_EQ(static_cast<int>(c.token_ids.size()), n);
      EXPECT_EQ(c.finish_reason, "length");
    }
  }
}

// The embedder's flow: a shared prefix computed once, bodies of different lengths appended,
// a chain of thought generated, forced tokens appended, the last hidden state read.
TEST_F(Generation, DecoderPiecesComposeLikeOneSequence) {
  for (const auto& config : tiny_variants()) {
    const Transformer model = tiny_model(config);
    const std::vector<int> prefix = {1, 7, 8};
    const auto bodies = random_prompts({2, 5, 1}, 45, 70);
    const int close = 47, emb = 48;

    Decoder shared(model, 1, 3);
    shared.append({prefix});
    Decoder d = shared.expand(3, 3 + 5 + 8 + 2);
    d.append(bodies);
    const auto cot = generate(d, greedy(8, {close}));
    EXPECT_TRUE(d.has_queued());
    EXPECT_THROW(d.last_hidden(), InvalidArgument);
    std::vector<std::vector<int>> forced;
    for (const auto& c : cot) forced.push_back(c.finish_reason == "stop" ? std::vector<int>{emb} : std::vector<int>{close, emb});
    const at::Tensor hidden = d.append(forced);
    ASSERT_EQ(hidden.sizes(), (at::IntArrayRef{3, config.hidden_size}));

    for (size_t i = 0; i < bodies.size(); ++i) {
      std::vector<int> prompt = prefix;
      prompt.insert(prompt.end(), bodies[i].begin(), bodies[i].end());
      EXPECT_EQ(cot[i].token_ids, greedy_without_cache(model, prompt, static_cast<int>(cot[i].token_ids.size())));
      std::vector<int> all = prompt;
      all.insert(all.end(), cot[i].token_ids.begin(), cot[i].token_ids.end());
      all.insert(all.end(), forced[i].begin(), forced[i].end());
      EXPECT_EQ(d.row_length(i), static_cast<int64_t>(all.size()));
      EXPECT_LT((hidden[i] - full_forward(model, all, false)).abs().max().item<double>(), 1e-5) << "row " << i;
    }
  }
}

// Continuous batching's decoder operations: rows prefilled apart join a running batch
// (shorter and longer than it, so both the in-place and the rebuilding join run), finished
// rows leave, reserve() drops the positions nobody uses any more; at every step each row's
// state equals one full forward over that row's own tokens.
TEST_F(Generation, RowsJoinAndLeaveARunningBatchAsIfAlone) {
  for (const auto& config : tiny_variants()) {
    const Transformer model = tiny_model(config);
    const auto prompts = random_prompts({4, 2, 9, 1, 3}, 50, 90);
    std::vector<std::vector<int>> seqs;  // each live row's tokens so far, in row order
    auto check = [&](const Decoder& d, const char* when) {
      ASSERT_EQ(d.batch(), static_cast<int64_t>(seqs.size())) << when;
      for (size_t i = 0; i < seqs.size(); ++i) {
        EXPECT_EQ(d.row_length(int64_t(i)), static_cast<int64_t>(seqs[i].size())) << when << ", row " << i;
        EXPECT_LT((d.last_hidden()[int64_t(i)] - full_forward(model, seqs[i], false)).abs().max().item<double>(), 1e-5)
            << when << ", row " << i;
      }
    };
    auto step = [&](Decoder& d, int token) {  // one new token per row (differing per row)
      std::vector<std::vector<int>> feed;
      for (size_t i = 0; i < seqs.size(); ++i) {
        feed.push_back({(token + int(i)) % 50});
        seqs[i].push_back(feed.back()[0]);
      }
      d.reserve(1);
      d.append(feed);
    };
    auto prefill = [&](const std::vector<std::vector<int>>& rows) {
      size_t longest = 0;
      for (const auto& r : rows) longest = std::max(longest, r.size());
      Decoder d(model, int64_t(rows.size()), int64_t(longest));
      d.append(rows);
      return d;
    };

    Decoder running = prefill({prompts[0], prompts[1]});
    seqs = {prompts[0], prompts[1]};
    check(running, "prefill");
    step(running, 11);
    step(running, 12);
    check(running, "two steps");
    running.join(prefill({prompts[3]}));  // shorter than the batch: copied into spare room
    seqs.push_back(prompts[3]);
    check(running, "a short row joined");
    step(running, 13);
    running.join(prefill({prompts[2], prompts[4]}));  // longer than the batch: rebuilt
    seqs.push_back(prompts[2]);
    seqs.push_back(prompts[4]);
    check(running, "a long row joined");
    step(running, 14);
    running.keep_rows({1, 3});  // the oldest row and the first short one leave
    seqs = {seqs[1], seqs[3]};
    check(running, "rows left");
    const int64_t capacity = running.capacity();
    for (int t = 0; t < capacity + 2; ++t) step(running, 15 + t);  // past the capacity: reserve() makes room
    check(running, "many steps");
    running.keep_rows({});
    seqs.clear();
    running.join(prefill({prompts[0]}));  // an emptied batch takes new rows
    seqs.push_back(prompts[0]);
    step(running, 3);
    check(running, "after emptying");
    EXPECT_THROW(running.keep_rows({1}), InvalidArgument);
  }
}

TEST_F(Generation, RejectsBadOptionsAndOverflow) {
  const Transformer model = tiny_model(tiny_config());
  const auto prompts = random_prompts({3}, 50, 80);
  EXPECT_THROW(generate(model, prompts, sampling(4, 0, -1.0f)), InvalidArgument);
  EXPECT_THROW(generate(model, prompts, sampling(4, 0, 1.0f, -1)), InvalidArgument);
  EXPECT_THROW(generate(model, prompts, sampling(4, 0, 1.0f, 0, 0.0f)), InvalidArgument);
  EXPECT_THROW(generate(model, prompts, greedy(-1)), InvalidArgument);
  EXPECT_THROW(generate(model, {{}}, greedy(4)), InvalidArgument);
  EXPECT_THROW(generate(model, prompts, greedy(63)), LimitExceeded);  // positions 0..64 > 64 positions
  EXPECT_EQ(generate(model, prompts, greedy(62))[0].token_ids.size(), 62u);  // positions 0..63 fit

  Decoder d(model, 1, 5);
  d.append(prompts);
  EXPECT_THROW(generate(d, greedy(4)), LimitExceeded);
  EXPECT_EQ(generate(d, greedy(3))[0].token_ids.size(), 3u);
  EXPECT_THROW(d.append({{1, 2}}), LimitExceeded);  // queued token + 2 > capacity
  EXPECT_THROW(d.append({{1}, {2}}), InvalidArgument);
  Decoder empty(model, 2, 4);
  EXPECT_THROW(generate(empty, greedy(2)), InvalidArgument);
}

// The real pretrained tiny Llama against the independent numpy implementation.
TEST_F(Generation, Stories260KMatchesNumpyReference) {
  const std::string dir = testing::fixture("stories260K");
  if (dir.empty()) GTEST_SKIP() << "fixture stories260K absent";
  const ModelConfig config = ModelConfig::load(dir + "/config.json");
  Transformer model(config);
  model.load_parameters(load_checkpoint_tensors(dir), dir);
  // BOS + "Once upon a time" (spm_encode --model=stories260K/tokenizer.model --output_format=id).
  const std::vector<int> prompt = {1, 403, 407, 261, 378};

  // /usr/bin/python3 tests/python/reference_llama.py --model ../shared/fixtures/stories260K \
  //   --prompt-ids 1,403,407,261,378 --logits     (these ids' values, printed to 6 decimals)
  const std::vector<std::pair<int, float>> reference_logits = {
      {0, -10.136575f}, {1, -5.329464f},  {2, -10.138083f}, {13, -1.140564f}, {100, -10.136501f},
      {261, 7.630400f}, {383, 14.281255f}, {432, 17.799397f}, {511, -8.076282f}};
  const at::Tensor logits = full_forward(model, prompt, true);
  for (const auto& [id, value] : reference_logits) EXPECT_NEAR(logits[id].item<float>(), value, 1e-4) << "token " << id;

  // /usr/bin/python3 tests/python/reference_llama.py --model ../shared/fixtures/stories260K \
  //   --prompt-ids 1,403,407,261,378 -n 100
  // ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. ...")
  const std::vector<int> expected = {
      432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292,
      411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426,
      338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13,  438, 310,
      439, 419, 357, 336, 432, 313, 438, 310, 432, 278, 316, 439, 419, 298, 414, 267, 265, 282, 295, 433,
      426, 436, 317, 286, 296, 418, 269, 279, 292, 416, 439, 413, 409, 416, 327, 263, 415, 294, 267, 400};
  const auto start = std::chrono::steady_clock::now();
  const auto out = generate(model, {prompt}, greedy(100));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(out[0].token_ids, expected);
  std::cout << "[ INFO     ] stories260K greedy: " << 100 / seconds << " tokens/s (batch 1, " << at::get_num_threads()
            << " thread(s))\n";
}

}  // namespace
}  // namespace lrem
