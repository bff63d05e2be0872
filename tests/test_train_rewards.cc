// GRPO rewards on hand-written samples and group-normalised advantages.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "lrem/error.h"
#include "train/rewards.h"

namespace lrem::train {
namespace {

// Ids: 100 = </think>, 101 = <emb>, 102 = <think>, 2 = EOS; plain tokens below 100.
constexpr int kClose = 100, kEmb = 101, kOpen = 102, kEos = 2;
bool special(int id) { return id >= 100 || id == kEos; }

TEST(TrainRewards, FormatAcceptsExactlyTheWellFormedShape) {
  EXPECT_EQ(format_reward({10, 11, 12, kClose, kEmb}, kClose, kEmb, special), 1.0);
  EXPECT_EQ(format_reward({kClose, kEmb}, kClose, kEmb, special), 1.0);  // direct: empty CoT
  EXPECT_EQ(format_reward({10, 11, 12}, kClose, kEmb, special), 0.0);      // cap hit, never closed
  EXPECT_EQ(format_reward({10, kClose}, kClose, kEmb, special), 0.0);      // no <emb>
  EXPECT_EQ(format_reward({10, kEmb}, kClose, kEmb, special), 0.0);        // <emb> without </think>
  EXPECT_EQ(format_reward({10, kOpen, 11, kClose, kEmb}, kClose, kEmb, special), 0.0);  // nested <think>
  EXPECT_EQ(format_reward({10, kEos}, kClose, kEmb, special), 0.0);
  EXPECT_EQ(format_reward({10, kClose, kEmb, 11}, kClose, kEmb, special), 0.0);  // trailing text
  EXPECT_EQ(format_reward({10, kClose, kClose, kEmb}, kClose, kEmb, special), 0.0);
  EXPECT_EQ(format_reward({}, kClose, kEmb, special), 0.0);
}

TEST(TrainRewards, LengthCountsOnlyTheCot) {
  std::vector<int> sixteen(16, 7), seventeen(17, 7);
  sixteen.insert(sixteen.end(), {kClose, kEmb});
  seventeen.insert(seventeen.end(), {kClose, kEmb});
  EXPECT_EQ(length_reward(sixteen, 16, special), 1.0);
  EXPECT_EQ(length_reward(seventeen, 16, special), 0.0);
  EXPECT_EQ(length_reward({kClose, kEmb}, 16, special), 1.0);
  EXPECT_EQ(cot_tokens({5, 6, kEos, 7}, special), (std::vector<int>{5, 6}));
}

TEST(TrainRewards, AccuracyFromTheTargetsRank) {
  EXPECT_DOUBLE_EQ(accuracy_reward({0.9f, 0.1f, 0.2f, 0.3f}, 0), 1.0);  // rank 1
  EXPECT_NEAR(accuracy_reward({0.9f, 0.1f, 0.2f, 0.3f}, 1), 0.0, 1e-12);  // rank N
  EXPECT_NEAR(accuracy_reward({0.9f, 0.1f, 0.2f, 0.3f}, 2), 1 - std::log(3.0) / std::log(4.0), 1e-12);
  EXPECT_DOUBLE_EQ(accuracy_reward({0.5f, 0.5f, 0.1f}, 1), 1.0);  // ties do not count against
  EXPECT_THROW(accuracy_reward({0.5f}, 0), InvalidArgument);
  EXPECT_THROW(accuracy_reward({0.5f, 0.2f}, 2), InvalidArgument);
}

TEST(TrainRewards, TotalIsTheWeightedSum) {
  Reward r;
  r.format = 1;
  r.length = 0;
  r.accuracy = 0.5;
  EXPECT_DOUBLE_EQ(total_reward(r, {}), 0.5 * 1 + 0.2 * 0 + 1.0 * 0.5);
  EXPECT_DOUBLE_EQ(total_reward(r, {1.0, 1.0, 2.0}), 2.0);
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
