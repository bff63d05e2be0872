// Stage 1 (cold start): on query-CoT-item triplets, next-token loss on the CoT (cut to the
// model's max_cot_tokens, the cap inference generates under) and the closing `</think><emb>`, plus InfoNCE between query and item `<emb>` states with in-batch
// (and optional hard) negatives. Loss = lambda_sft * SFT + lambda_nce * InfoNCE.
#include <ATen/ATen.h>

#include "util/file_io.h"
#include "lrem/model.h"
#include "lrem/runtime.h"
#include "lrem/train.h"
#include "model/model_access.h"
#include "train/batch.h"
#include "train/examples.h"
#include "train/losses.h"
#include "train/trainer.h"

namespace lrem {

TrainResult sft(const SftConfig& config) {
  config.validate("sft config");
  set_num_threads(config.num_threads);
  ensure_directory(config.output_dir);
  const std::vector<train::Example> examples = train::read_examples(config.data, config.catalogue, true);
  const std::unique_ptr<DataParallel> group = train::join_process_group(config);
  DataParallel& dp = *group;
  Model model = train::load_lrem_model(config.model);

  train::Trainer trainer(config, "sft", model, examples.size(), dp, 1, config.model);
  const Transformer& transformer = ModelAccess::parts(model).transformer;
  const PromptFormat& format = ModelAccess::parts(model).prompt();
  return trainer.run([&](const train::Trainer::MicroBatch& mb) {
    std::vector<std::vector<int>> prompts, completions, items, negatives;
    for (size_t i : mb.examples) {
      const train::Example& ex = examples[i];
      prompts.push_back(format.query_prompt(ex.query).ids);
      completions.push_back(format.cot_completion(ex.cot).ids);  // cut to max_cot_tokens, then closed
      items.push_back(format.item(ex.item).ids);
      for (size_t n = 0; n < ex.negatives.size() && n < size_t(config.max_hard_negatives); ++n)
        negatives.push_back(format.item(ex.negatives[n]).ids);
    }
    const train::TokenBatch queries = train::make_batch(prompts, completions, 0);
    const bool need_logits = config.lambda_sft > 0;
    const auto out = transformer.forward(queries.input_ids, queries.position_ids, queries.attention_mask, nullptr,
                                         need_logits);
    train::Metrics metrics;
    at::Tensor loss = at::zeros({}, out.hidden.options());
    if (need_logits) {
      const at::Tensor sft_loss = train::sft_loss(out.logits, queries.targets, queries.loss_mask);
      loss = loss + config.lambda_sft * sft_loss;
      metrics["sft_loss"] = sft_loss.item<double>();
    }
    if (config.lambda_nce > 0) {
      items.insert(items.end(), negatives.begin(), negatives.end());
      const train::InfoNce nce = train::info_nce(train::gather_rows(out.hidden, queries.last_index),
                                                 train::embed_rows(transformer, items), config.tau);
      loss = loss + config.lambda_nce * nce.loss;
      metrics["nce_loss"] = nce.loss.item<double>();
      metrics["accuracy"] = nce.accuracy;
    }
    (loss * mb.loss_scale).backward();
    metrics["loss"] = loss.item<double>();
    return metrics;
  });
}

}  // namespace lrem
