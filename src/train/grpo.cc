// Stage 2: GRPO on query-item pairs. For each query the current policy samples G chains of
// thought; each is rewarded for form, brevity and how well its `<emb>` state ranks the target
// among the batch's items; advantages are normalised within the query's group and drive a
// PPO-clip objective on the sampled tokens. Loss = lambda_grpo * GRPO + lambda_nce * InfoNCE
// of all G query embeddings against the target items (+ kl_coef * KL to a reference model).
//
// Sampling stops at `<emb>`, EOS or max_sample_tokens. Every sample is embedded as
// prompt + (its tokens before the first special token) + `</think><emb>`: for a well-formed
// sample that is exactly what was sampled, a malformed one still gets a usable embedding.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <optional>

#include "util/file_io.h"
#include "model/generation.h"
#include "lrem/error.h"
#include "lrem/model.h"
#include "lrem/runtime.h"
#include "lrem/train.h"
#include "model/model_access.h"
#include "train/batch.h"
#include "train/examples.h"
#include "train/losses.h"
#include "train/rewards.h"
#include "train/trainer.h"

namespace lrem {

namespace {

uint64_t mix(uint64_t h, uint64_t v) { return (h ^ (v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2))) * 0xBF58476D1CE4E5B9ull; }

}  // namespace

TrainResult grpo(const GrpoConfig& config) {
  config.validate("grpo config");
  set_num_threads(config.num_threads);
  ensure_directory(config.output_dir);
  const std::vector<train::Example> examples = train::read_examples(config.data, config.catalogue, false);
  train::DataParallel dp(config.world_size, config.rank, config.master_addr, config.master_port);
  Model model = train::load_lrem_model(config.model);
  std::optional<Model> reference;
  if (config.kl_coef > 0) {
    reference = train::load_lrem_model(config.reference_model.empty() ? config.model : config.reference_model);
    if (reference->config().vocab_size != model.config().vocab_size)
      throw InvalidArgument("grpo config: field 'reference_model' has another vocabulary than 'model'");
  }

  train::Trainer trainer(config, "grpo", model, examples.size(), dp);
  const Transformer& policy = ModelAccess::parts(model).transformer;
  const PromptFormat& format = ModelAccess::parts(model).prompt();
  const Tokenizer& tokenizer = model.tokenizer();
  const auto is_special = [&](int id) { return tokenizer.is_special(id); };
  const train::RewardWeights weights{config.reward_format, config.reward_length, config.reward_accuracy};
  const int G = config.group_size;

  return trainer.run([&](const std::vector<size_t>& batch, int64_t step, double loss_scale) {
    const int64_t B = int64_t(batch.size());
    std::vector<std::vector<int>> prompts, items;
    uint64_t seed = mix(mix(config.seed, uint64_t(step)), uint64_t(config.rank));
    for (size_t i : batch) {
      const std::vector<int> prompt = format.query_prompt(examples[i].query).ids;
      for (int g = 0; g < G; ++g) prompts.push_back(prompt);
      items.push_back(format.item(examples[i].item).ids);
      seed = mix(seed, i);
    }

    GenerationOptions sampling;
    sampling.max_new_tokens = config.max_sample_tokens;
    sampling.temperature = float(config.temperature);
    sampling.top_k = config.top_k;
    sampling.top_p = float(config.top_p);
    sampling.seed = seed;
    sampling.stop_ids = {format.emb_id(), tokenizer.eos_id()};
    std::vector<std::vector<int>> samples, embed_inputs;
    for (const Continuation& c : generate(policy, prompts, sampling)) samples.push_back(c.token_ids);
    for (size_t r = 0; r < samples.size(); ++r) {
      std::vector<int> row = prompts[r];
      for (int id : train::cot_tokens(samples[r], is_special)) row.push_back(id);
      row.push_back(format.think_close_id());
      row.push_back(format.emb_id());
      embed_inputs.push_back(std::move(row));
    }

    const at::Tensor query_emb = train::embed_rows(policy, embed_inputs);  // [B*G, H]
    const at::Tensor item_emb = train::embed_rows(policy, items);          // [B, H]

    // Rewards, from the embeddings as they are now (no gradient flows through rewards).
    std::vector<double> totals(samples.size());
    train::Metrics metrics;
    {
      at::NoGradGuard no_grad;
      const auto unit = [](const at::Tensor& x) { return x / x.norm(2, -1, true).clamp_min(1e-12); };
      const at::Tensor scores = at::matmul(unit(query_emb), unit(item_emb).t()).to(at::kFloat).contiguous();
      for (size_t r = 0; r < samples.size(); ++r) {
        const float* row = scores.data_ptr<float>() + r * B;
        train::Reward reward;
        reward.format = train::format_reward(samples[r], format.think_close_id(), format.emb_id(), is_special);
        reward.length = train::length_reward(samples[r], config.max_cot_tokens, is_special);
        reward.accuracy = train::accuracy_reward(std::vector<float>(row, row + B), int(r / G));
        reward.total = train::total_reward(reward, weights);
        totals[r] = reward.total;
        const double n = double(samples.size());
        metrics["reward"] += reward.total / n;
        metrics["reward_format"] += reward.format / n;
        metrics["reward_length"] += reward.length / n;
        metrics["reward_accuracy"] += reward.accuracy / n;
        metrics["cot_length"] += double(train::cot_tokens(samples[r], is_special).size()) / n;
      }
      metrics["well_formed"] = metrics["reward_format"];
    }
    const std::vector<double> advantages = train::group_advantages(totals, G);

    // PPO-clip on the sampled tokens, token-level mean. The sampling policy's log-probs are
    // these weights' (one update per sampled batch), under the sampling temperature.
    const train::TokenBatch rollout = train::make_batch(prompts, samples, 0);
    const auto out = policy.forward(rollout.input_ids, rollout.position_ids, rollout.attention_mask, nullptr, true);
    const at::Tensor logp = train::target_logprobs(out.logits / config.temperature, rollout.targets);
    const at::Tensor old_logp = logp.detach();
    const at::Tensor mask = rollout.loss_mask.to(logp.scalar_type());
    const at::Tensor adv = at::tensor(advantages, at::kDouble).to(logp.scalar_type()).unsqueeze(1);
    const at::Tensor ratio = at::exp(logp - old_logp);
    const at::Tensor clipped = at::clamp(ratio, 1.0 - config.clip_epsilon, 1.0 + config.clip_epsilon);
    const at::Tensor per_token = -at::min(ratio * adv, clipped * adv);
    at::Tensor pg_loss = (per_token * mask).sum() / mask.sum();
    if (reference) {
      at::Tensor ref_logp;
      {
        at::NoGradGuard no_grad;
        const auto ref = ModelAccess::parts(*reference).transformer.forward(rollout.input_ids, rollout.position_ids,
                                                               rollout.attention_mask, nullptr, true);
        ref_logp = train::target_logprobs(ref.logits / config.temperature, rollout.targets);
      }
      // k3 estimator of KL(policy || reference): unbiased and non-negative per token.
      const at::Tensor log_ratio = ref_logp - logp;
      const at::Tensor kl = ((at::exp(log_ratio) - log_ratio - 1) * mask).sum() / mask.sum();
      pg_loss = pg_loss + config.kl_coef * kl;
      metrics["kl"] = kl.item<double>();
    }

    const at::Tensor targets = at::arange(B, at::kLong).repeat_interleave(G);
    const train::InfoNce nce = train::info_nce(query_emb, item_emb, config.tau, targets);
    const at::Tensor loss = config.lambda_grpo * pg_loss + config.lambda_nce * nce.loss;
    (loss * loss_scale).backward();
    metrics["grpo_loss"] = pg_loss.item<double>();
    metrics["nce_loss"] = nce.loss.item<double>();
    metrics["nce_accuracy"] = nce.accuracy;
    metrics["loss"] = loss.item<double>();
    return metrics;
  });
}

}  // namespace lrem
