// Stage 2: GRPO on query-item pairs. For each query the policy samples G chains of thought
// under the CoT rule inference uses (model/cot.h); each is rewarded for form, brevity and how
// well its `<emb>` state ranks the target among a pool of items (train/reward_pool.h);
// advantages are normalised within the query's group. Then ppo_epochs updates on that batch
// of the PPO-clip objective against the sampling policy's log-probabilities (taken before the
// first update), averaged per sequence then over sequences (or over all tokens), plus kl_coef
// times the k3 estimate of KL to a frozen reference model. Loss = lambda_grpo * GRPO +
// lambda_nce * InfoNCE of all G query embeddings against the target items.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "lrem/dataset.h"
#include "lrem/error.h"
#include "lrem/model.h"
#include "lrem/runtime.h"
#include "lrem/train.h"
#include "model/model_access.h"
#include "train/batch.h"
#include "train/examples.h"
#include "train/losses.h"
#include "train/reward_pool.h"
#include "train/rewards.h"
#include "train/rollout.h"
#include "train/trainer.h"
#include "util/file_io.h"

namespace lrem {

namespace {

uint64_t mix(uint64_t h, uint64_t v) { return (h ^ (v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2))) * 0xBF58476D1CE4E5B9ull; }

at::Tensor unit_rows(const at::Tensor& x) { return x / x.norm(2, -1, true).clamp_min(1e-12); }

// What a micro-batch's updates share: sampled once, before the first update.
struct SampledBatch {
  std::vector<std::vector<int>> prompts, items;  // per rollout; per query
  std::vector<train::Rollout> rollouts;
  std::vector<double> advantages;
  at::Tensor old_logp;        // [B*G, T] the sampling policy's log-probabilities
  train::Metrics rewards;     // the reward statistics, logged with every update
};

// Titles the reward pool's extra items are drawn from: the catalogue, else the data's items.
std::vector<std::string> pool_candidates(const GrpoConfig& config, const std::vector<train::Example>& examples) {
  if (config.reward_pool_extra_items == 0) return {};
  if (!config.catalogue.empty()) return ItemStore::load(config.catalogue).titles();
  std::vector<std::string> titles;
  for (const train::Example& ex : examples) titles.push_back(ex.item);
  return titles;
}

// Mean of per-token values [R, T] under mask: per sequence then over sequences, or over all tokens.
at::Tensor aggregate(const at::Tensor& per_token, const at::Tensor& mask, bool per_sequence) {
  if (per_sequence) return ((per_token * mask).sum(1) / mask.sum(1).clamp_min(1)).mean();
  return (per_token * mask).sum() / mask.sum().clamp_min(1);
}

void add_distribution(train::Metrics& metrics, const std::vector<double>& rewards, int group_size) {
  const double n = double(rewards.size());
  double mean = 0, sq = 0;
  for (double r : rewards) mean += r / n;
  for (double r : rewards) sq += (r - mean) * (r - mean) / n;
  metrics["reward"] = mean;
  metrics["reward_std"] = std::sqrt(sq);
  metrics["reward_min"] = *std::min_element(rewards.begin(), rewards.end());
  metrics["reward_max"] = *std::max_element(rewards.begin(), rewards.end());
  double flat = 0;
  for (size_t start = 0; start < rewards.size(); start += size_t(group_size)) {
    const auto [lo, hi] = std::minmax_element(rewards.begin() + start, rewards.begin() + start + group_size);
    flat += *lo == *hi;
  }
  metrics["zero_variance_groups"] = flat / (n / group_size);
}

}  // namespace

TrainResult grpo(const GrpoConfig& config) {
  config.validate("grpo config");
  set_num_threads(config.num_threads);
  ensure_directory(config.output_dir);
  const std::vector<train::Example> examples = train::read_examples(config.data, config.catalogue, false);
  const std::unique_ptr<DataParallel> group = train::join_process_group(config);
  DataParallel& dp = *group;
  Model model = train::load_lrem_model(config.model);
  std::optional<Model> reference;  // frozen: loaded only when the KL term is on
  if (config.kl_coef > 0) {
    reference = train::load_lrem_model(config.reference_model.empty() ? config.model : config.reference_model);
    if (reference->config().vocab_size != model.config().vocab_size)
      throw InvalidArgument("grpo config: field 'reference_model' has another vocabulary than 'model'");
  }

  train::Trainer trainer(config, "grpo", model, examples.size(), dp, config.ppo_epochs, config.model);
  const Transformer& policy = ModelAccess::parts(model).transformer;
  const PromptFormat& format = ModelAccess::parts(model).prompt();
  const Tokenizer& tokenizer = model.tokenizer();
  const int max_cot = model.prompt_config().max_cot_tokens;
  const train::RewardWeights weights{config.reward_format, config.reward_length, config.reward_accuracy};
  const train::RewardPool pool(pool_candidates(config, examples), config.reward_pool_extra_items);
  const bool per_sequence = config.loss_aggregation == "sequence";
  const int G = config.group_size;
  std::vector<SampledBatch> sampled(size_t(config.grad_accum));

  return trainer.run([&](const train::Trainer::MicroBatch& mb) {
    const int64_t B = int64_t(mb.examples.size());
    SampledBatch& s = sampled[size_t(mb.micro)];
    uint64_t seed = mix(mix(config.seed, uint64_t(mb.step)), uint64_t(dp.rank()));
    if (mb.update == 0) {
      s = SampledBatch{};
      for (size_t i : mb.examples) {
        const std::vector<int> prompt = format.query_prompt(examples[i].query).ids;
        for (int g = 0; g < G; ++g) s.prompts.push_back(prompt);
        s.items.push_back(format.item(examples[i].item).ids);
        seed = mix(seed, i);
      }
      GenerationOptions sampling;
      sampling.temperature = float(config.temperature);
      sampling.top_k = config.top_k;
      sampling.top_p = float(config.top_p);
      sampling.seed = seed;
      s.rollouts = train::sample_rollouts(policy, format, tokenizer, s.prompts, sampling, max_cot);
    }

    std::vector<std::vector<int>> embed_inputs, actions;
    for (size_t r = 0; r < s.rollouts.size(); ++r) {
      embed_inputs.push_back(train::embedding_input(s.prompts[r], s.rollouts[r], format));
      actions.push_back(s.rollouts[r].sampled);
    }
    const at::Tensor query_emb = train::embed_rows(policy, embed_inputs);  // [B*G, H]
    const at::Tensor item_emb = train::embed_rows(policy, s.items);         // [B, H]
    const train::TokenBatch batch = train::make_batch(s.prompts, actions, 0);
    const auto out = policy.forward(batch.input_ids, batch.position_ids, batch.attention_mask, nullptr, true);
    const at::Tensor logp = train::target_logprobs(out.logits / config.temperature, batch.targets);

    if (mb.update == 0) {
      // Rewards from the embeddings before any update; no gradient flows through them.
      at::NoGradGuard no_grad;
      s.old_logp = logp.detach();
      const at::Tensor global_ids =
          dp.all_gather(at::tensor(std::vector<int64_t>(mb.examples.begin(), mb.examples.end()), at::kLong));
      const at::Tensor global_items = dp.all_gather(item_emb);
      std::vector<std::string> titles;
      for (int64_t i = 0; i < global_ids.size(0); ++i) titles.push_back(examples[size_t(global_ids[i].item<int64_t>())].item);
      const train::PoolDraw draw = pool.draw(titles, mix(seed, 0x9001));
      at::Tensor pool_emb = global_items.index_select(
          0, at::tensor(std::vector<int64_t>(draw.batch_rows.begin(), draw.batch_rows.end()), at::kLong));
      if (!draw.extras.empty()) {
        std::vector<std::vector<int>> extra_rows;
        for (const std::string& t : draw.extras) extra_rows.push_back(format.item(t).ids);
        pool_emb = at::cat({pool_emb, train::embed_rows(policy, extra_rows)});
      }
      const at::Tensor scores = at::matmul(unit_rows(query_emb), unit_rows(pool_emb).t()).to(at::kFloat).contiguous();
      const int64_t N = scores.size(1);
      std::vector<double> totals(s.rollouts.size());
      train::Metrics& m = s.rewards;
      const double n = double(totals.size());
      for (size_t r = 0; r < totals.size(); ++r) {
        const float* row = scores.data_ptr<float>() + int64_t(r) * N;
        const int target = draw.slot[size_t(dp.rank() * B) + r / size_t(G)];
        const train::Reward reward =
            train::score(s.rollouts[r].ending, train::accuracy_reward(std::vector<float>(row, row + N), target), weights);
        totals[r] = reward.total;
        m["reward_format"] += reward.format / n;
        m["reward_length"] += reward.length / n;
        m["reward_accuracy"] += reward.accuracy / n;
        m["cot_length"] += double(s.rollouts[r].ending.cot.size()) / n;
      }
      m["well_formed"] = m["reward_format"];
      m["reward_pool_size"] = double(N);
      add_distribution(m, totals, G);
      s.advantages = train::group_advantages(totals, G);
    }

    // PPO-clip: ratio against the sampling policy, at the sampling temperature.
    const at::Tensor mask = batch.loss_mask.to(logp.scalar_type());
    const at::Tensor adv = at::tensor(s.advantages, at::kDouble).to(logp.scalar_type()).unsqueeze(1);
    const at::Tensor ratio = at::exp(logp - s.old_logp);
    const at::Tensor clipped = at::clamp(ratio, 1.0 - config.clip_epsilon, 1.0 + config.clip_epsilon);
    at::Tensor per_token = -at::min(ratio * adv, clipped * adv);
    train::Metrics metrics = s.rewards;
    {
      at::NoGradGuard no_grad;
      // Tokens whose clipped term is the one taken: their gradient is cut off.
      const at::Tensor binds = ((adv > 0) & (ratio > 1.0 + config.clip_epsilon)) |
                               ((adv < 0) & (ratio < 1.0 - config.clip_epsilon));
      metrics["clip_fraction"] = ((binds.to(mask.scalar_type()) * mask).sum() / mask.sum()).item<double>();
    }
    if (reference) {
      at::Tensor ref_logp;
      {
        at::NoGradGuard no_grad;
        const auto ref = ModelAccess::parts(*reference).transformer.forward(batch.input_ids, batch.position_ids,
                                                               batch.attention_mask, nullptr, true);
        ref_logp = train::target_logprobs(ref.logits / config.temperature, batch.targets);
      }
      // k3 estimator of KL(policy || reference): unbiased and non-negative per token.
      const at::Tensor log_ratio = ref_logp - logp;
      const at::Tensor kl = at::exp(log_ratio) - log_ratio - 1;
      per_token = per_token + config.kl_coef * kl;
      metrics["kl"] = aggregate(kl.detach(), mask, per_sequence).item<double>();
    }
    const at::Tensor pg_loss = aggregate(per_token, mask, per_sequence);

    const at::Tensor targets = at::arange(B, at::kLong).repeat_interleave(G);
    const train::InfoNce nce = train::info_nce(query_emb, item_emb, config.tau, targets);
    const at::Tensor loss = config.lambda_grpo * pg_loss + config.lambda_nce * nce.loss;
    (loss * mb.loss_scale).backward();
    metrics["grpo_loss"] = pg_loss.item<double>();
    metrics["nce_loss"] = nce.loss.item<double>();
    metrics["nce_accuracy"] = nce.accuracy;
    metrics["loss"] = loss.item<double>();
    return metrics;
  });
}

}  // namespace lrem
