// The CoT rule (model/cot.h) on hand-written generations, GRPO rewards, the reward pool and
// group-normalised advantages.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>

#include "lrem/error.h"
#include "model/cot.h"
#include "train/reward_pool.h"
#include "train/rewards.h"

namespace lrem::train {
namespace {

// Ids: 100 = </think>, 101 = <emb>, 102 = <think>, 2 = EOS; plain tokens below 100.
constexpr int kClose = 100, kEmb = 101, kOpen = 102, kEos = 2;
bool special(int id) { return id >= 100 || id == kEos; }
CotEnding end(const std::vector<int>& generated, int cap = 4) { return end_cot(generated, cap, kClose, special); }

TEST(CotRule, GenerationStopsAtTheCloseOneTokenPastTheCap) {
  GenerationOptions sampling;
  sampling.temperature = 0.7f;
  sampling.seed = 9;
  const GenerationOptions o = cot_generation(sampling, 16, kClose);
  EXPECT_EQ(o.max_new_tokens, 17);  // a CoT of exactly l tokens still gets to write its </think>
  EXPECT_EQ(o.stop_ids, std::vector<int>{kClose});
  EXPECT_EQ(o.temperature, 0.7f);
  EXPECT_EQ(o.seed, 9u);
}

TEST(CotRule, ClosedOverLongAndMalformedEndings) {
  const CotEnding closed = end({10, 11, kClose});
  EXPECT_EQ(closed.cot, (std::vector<int>{10, 11}));
  EXPECT_TRUE(closed.closed && closed.well_formed);
  const CotEnding direct = end({kClose});
  EXPECT_TRUE(direct.cot.empty() && direct.well_formed);
  const CotEnding at_cap = end({10, 11, 12, 13, kClose});  // exactly l tokens, then </think>
  EXPECT_EQ(at_cap.cot.size(), 4u);
  EXPECT_TRUE(at_cap.closed && at_cap.well_formed);
  const CotEnding over = end({10, 11, 12, 13, 14});  // the cap hit: the token past it is dropped
  EXPECT_EQ(over.cot, (std::vector<int>{10, 11, 12, 13}));
  EXPECT_FALSE(over.closed || over.well_formed);
  const CotEnding stray = end({10, kEmb, kEos, kClose});  // closed, but special tokens inside
  EXPECT_EQ(stray.cot, (std::vector<int>{10, kEmb, kEos}));
  EXPECT_TRUE(stray.closed);
  EXPECT_FALSE(stray.well_formed);
  EXPECT_FALSE(end({10, kOpen, 11, kClose}).well_formed);
  // A </think> past the cap does not close (generation never gets there; the rule still holds).
  EXPECT_FALSE(end({10, 11, 12, 13, 14, kClose}).closed);
}

TEST(TrainRewards, FormatAndLengthFollowTheEnding) {
  const RewardWeights w;
  const Reward good = score(end({10, kClose}), 0.5, w);
  EXPECT_EQ(good.format, 1.0);
  EXPECT_EQ(good.length, 1.0);
  EXPECT_DOUBLE_EQ(good.total, 0.5 + 0.2 + 0.5);
  const Reward stray = score(end({10, kEmb, kClose}), 0.0, w);
  EXPECT_EQ(stray.format, 0.0);
  EXPECT_EQ(stray.length, 1.0);
  const Reward over = score(end({10, 11, 12, 13, 14}), 1.0, w);
  EXPECT_EQ(over.format, 0.0);
  EXPECT_EQ(over.length, 0.0);
  EXPECT_DOUBLE_EQ(over.total, 1.0);
  EXPECT_DOUBLE_EQ(score(end({kClose}), 0.5, {1.0, 1.0, 2.0}).total, 3.0);
}

TEST(TrainRewards, AccuracyFromTheTargetsRankWithTiesAgainstIt) {
  EXPECT_DOUBLE_EQ(accuracy_reward({0.9f, 0.1f, 0.2f, 0.3f}, 0), 1.0);  // rank 1
  EXPECT_NEAR(accuracy_reward({0.9f, 0.1f, 0.2f, 0.3f}, 1), 0.0, 1e-12);  // rank N
  EXPECT_NEAR(accuracy_reward({0.9f, 0.1f, 0.2f, 0.3f}, 2), 1 - std::log(3.0) / std::log(4.0), 1e-12);
  // A tie is not a win: an embedding that scores every item alike earns nothing.
  EXPECT_NEAR(accuracy_reward({0.5f, 0.5f, 0.1f}, 1), 1 - std::log(2.0) / std::log(3.0), 1e-12);
  EXPECT_NEAR(accuracy_reward({0.5f, 0.5f, 0.5f}, 0), 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(accuracy_reward({0.5f}, 0), 1.0);  // a pool of one
  EXPECT_THROW(accuracy_reward({0.5f, 0.2f}, 2), InvalidArgument);
  EXPECT_THROW(accuracy_reward({}, 0), InvalidArgument);
}

TEST(RewardPool, TheBatchsDistinctItemsThenExtrasFromTheCatalogue) {
  std::vector<std::string> catalogue;
  for (int i = 0; i < 300; ++i) catalogue.push_back("item " + std::to_string(i));
  const RewardPool pool(catalogue, 256);
  const std::vector<std::string> batch = {"item 3", "item 7", "item 3", "item 9"};
  const PoolDraw draw = pool.draw(batch, 42);
  EXPECT_EQ(draw.batch_rows, (std::vector<size_t>{0, 1, 3}));
  EXPECT_EQ(draw.slot, (std::vector<int>{0, 1, 0, 2}));
  ASSERT_EQ(draw.extras.size(), 256u);
  EXPECT_EQ(draw.size(), 259u);
  const std::set<std::string> extras(draw.extras.begin(), draw.extras.end());
  EXPECT_EQ(extras.size(), 256u);
  for (const std::string& t : {"item 3", "item 7", "item 9"}) EXPECT_FALSE(extras.count(t)) << t;
  EXPECT_EQ(pool.draw(batch, 42).extras, draw.extras);
  EXPECT_NE(pool.draw(batch, 43).extras, draw.extras);
  // Fewer candidates than asked: all the others.
  EXPECT_EQ(RewardPool({"a", "b", "c", "d"}, 256).draw({"b"}, 1).extras.size(), 3u);
  EXPECT_TRUE(RewardPool({}, 0).draw(batch, 1).extras.empty());
}

TEST(TrainRewards, GroupAdvantagesAreNormalisedPerGroup) {
  const std::vector<double> rewards = {1.0, 0.0, 0.5, 0.5, 2.0, 2.0, 2.0, 2.0, 0.3, 0.9, 0.1, 0.4};
  const auto adv = group_advantages(rewards, 4);
  ASSERT_EQ(adv.size(), rewards.size());
  for (size_t g = 0; g < 3; ++g) {
    double sum = 0, sq = 0;
    for (size_t i = 0; i < 4; ++i) {
      sum += adv[4 * g + i];
      sq += adv[4 * g + i] * adv[4 * g + i];
    }
    EXPECT_NEAR(sum, 0.0, 1e-9) << "group " << g;
    if (g != 1) EXPECT_NEAR(sq / 4, 1.0, 1e-4) << "unit variance, group " << g;
  }
  for (size_t i = 4; i < 8; ++i) EXPECT_EQ(adv[i], 0.0);  // equal rewards: no preference
  EXPECT_GT(adv[0], adv[2]);
  EXPECT_GT(adv[2], adv[1]);
  EXPECT_THROW(group_advantages({1.0, 2.0, 3.0}, 2), InvalidArgument);
}

}  // namespace
}  // namespace lrem::train
