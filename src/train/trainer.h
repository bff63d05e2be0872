// The optimisation loop every stage shares: data order, gradient accumulation, the one
// gradient all-reduce, clipping, AdamW with the cosine schedule, logging, checkpoints and
// exact resume. A stage supplies only its micro-batch: loss, backward and metrics.
//
// Layout of output_dir:
//   checkpoint-<step>/   the model (Hugging Face layout), or with LoRA the adapter (PEFT layout),
//                        optimizer.safetensors and trainer_state.json (written last: a
//                        checkpoint without it is incomplete)
//   adapter/             with LoRA: the final adapter, unmerged
//   metrics.jsonl        one record per logged step
//   config.json, model.safetensors, tokenizer files: the final model
//
// The data order is a function of (seed, step) alone, so a resumed run sees the same batches
// as an uninterrupted one.
//
// A stage function: validate the config, set the thread count, join the process group
// (DataParallel), read its data, build the model, then Trainer(...).run(its micro-step).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lrem/model.h"
#include "lrem/train.h"
#include "model/distributed.h"
#include "train/optimizer.h"

namespace lrem::train {

using Metrics = std::map<std::string, double>;

// The config's process group when it sets world_size > 1; otherwise the one a launcher
// describes in the environment (torchrun, or RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT:
// DataParallel::from_environment), so one config file serves every rank; else one process.
std::unique_ptr<DataParallel> join_process_group(const TrainingConfig& config);

class Trainer {
 public:
  // Makes the model trainable (float32), restores the latest checkpoint of output_dir when
  // config.resume, gives every rank rank 0's weights and builds the optimiser.
  // num_examples: the dataset size the data order permutes. updates_per_step: optimiser
  // updates made on each step's batch (GRPO's ppo_epochs; 1 elsewhere), all at the step's lr.
  // With config.lora, the backbone is frozen and only an adapter trains (train/adapter.h):
  // checkpoints hold the adapter, recorded against base_model (the stage's starting model),
  // instead of the model, and the final model is the merged one.
  Trainer(const TrainingConfig& config, std::string stage, Model& model, size_t num_examples, DataParallel& dp,
          int updates_per_step = 1, std::string base_model = "");
  ~Trainer();

  // One micro-batch: its examples, for update `update` (0-based) of step `step`. The callee
  // back-propagates its loss times loss_scale and returns metrics to log (averaged over the
  // micro-batches and updates of a step). A step's updates see the same micro-batches.
  struct MicroBatch {
    const std::vector<size_t>& examples;
    int64_t step;
    int micro;
    int update;
    double loss_scale;
  };
  using MicroStep = std::function<Metrics(const MicroBatch& batch)>;
  TrainResult run(const MicroStep& micro_step);

  int64_t total_steps() const { return total_steps_; }
  int64_t start_step() const { return start_step_; }

  // The latest complete checkpoint directory in output_dir and its step ("" and 0 if none).
  static std::pair<std::string, int64_t> latest_checkpoint(const std::string& output_dir);

 private:
  std::vector<size_t> micro_batch(int64_t step, int micro);
  void save_checkpoint(int64_t step) const;

  const TrainingConfig& config_;
  std::string stage_;
  std::string base_model_;
  Model& model_;
  size_t num_examples_;
  int updates_per_step_;
  int64_t steps_per_epoch_, total_steps_, start_step_ = 0;
  DataParallel& dp_;
  std::unique_ptr<AdamW> optimizer_;
  int64_t order_epoch_ = -1;  // the epoch `order_` belongs to
  std::vector<size_t> order_;
};

// Loads a stage's starting model with the LREM special tokens (a plain LLM gets <think>,
// </think>, <emb>; a no-op for a model that has them).
Model load_lrem_model(const std::string& dir);

}  // namespace lrem::train
