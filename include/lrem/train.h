// Training: pretraining a Llama-family backbone, LREM stage 1 (SFT + InfoNCE on
// query-CoT-item triplets) and stage 2 (GRPO on query-item pairs).
//
// Each stage reads the data files its config names, trains, writes Hugging Face checkpoints
// (config.json, model.safetensors, tokenizer files, lrem_config.json) into output_dir and
// returns a summary. Runs are deterministic for a given seed and thread count; periodic
// checkpoints carry the optimiser state so `resume` continues exactly where a run stopped.
// docs/TRAINING.md explains every option.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lrem/config.h"

namespace lrem {

// One progress report, emitted every `log_every` optimiser steps.
struct TrainProgress {
  std::string stage;  // "pretrain", "sft" or "grpo"
  int64_t step = 0;   // optimiser steps done
  int64_t total_steps = 0;
  double steps_per_second = 0;
  double eta_seconds = 0;
  std::map<std::string, double> metrics;  // loss, lr and the stage's own terms
};
using ProgressCallback = std::function<void(const TrainProgress&)>;

// LoRA (low-rank adapters) for the fine-tuning stages: the backbone's weights stay frozen
// and only rank-r factors on the chosen projections of every layer, plus the embedding rows
// of the LREM special tokens (<think>, </think>, <emb>), are trained, so the optimiser holds
// a few MB instead of 8 bytes per backbone parameter. Checkpoints hold the adapter (PEFT's
// adapter_config.json + adapter_model.safetensors); the final model is merged into the
// weights, with the adapter kept in output_dir/adapter. docs/TRAINING.md.
struct LoraConfig {
  int r = 0;  // rank; 0: no adapters (full fine-tuning)
  double alpha = 16;   // the update is scaled by alpha / r
  double dropout = 0;  // on each adapter's input, while training
  std::vector<std::string> target_modules = {"q_proj", "k_proj", "v_proj", "o_proj",
                                             "gate_proj", "up_proj", "down_proj"};
  bool enabled() const { return r > 0; }
};

// Options every stage shares. One optimiser step consumes
// batch_size * grad_accum * world_size examples (the global batch).
struct TrainingConfig {
  std::string output_dir;  // required: checkpoints, final model, metrics.jsonl
  uint64_t seed = 0;
  double lr = 3e-4;
  double min_lr_ratio = 0.0;  // the cosine decays to lr * min_lr_ratio (the paper: to 0)
  double warmup_ratio = 0.03;
  int epochs = 1;
  int64_t max_steps = 0;  // > 0: stop after this many optimiser steps (overrides epochs)
  int batch_size = 8;     // examples per micro-batch and process
  int grad_accum = 1;     // micro-batches per optimiser step
  double clip_norm = 1.0;  // <= 0: no clipping
  double weight_decay = 0.01;  // decoupled (AdamW); matrices only, not norms
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.95;
  double adam_eps = 1e-8;
  int64_t save_every = 0;  // > 0: checkpoint every this many steps (the final one always)
  int64_t log_every = 10;
  bool resume = false;     // continue from the latest checkpoint in output_dir
  int num_threads = 0;     // for the run, process-wide (lrem::set_num_threads); 0: hardware concurrency
  // Recompute each layer's activations in backward instead of keeping them: activation
  // memory of about one layer instead of all, for roughly a third more compute per step.
  bool gradient_checkpointing = false;
  // "bfloat16": the matrix products run in bfloat16 (libtorch's CPU autocast) while weights,
  // gradients, optimiser state and losses stay float32. Pays on CPUs with bfloat16 kernels
  // (AVX512-BF16, AMX); see docs/TRAINING.md, "Mixed precision".
  std::string precision = "float32";
  LoraConfig lora;         // stage 1 and 2 only
  bool quiet = false;      // no progress line on stderr
  // Data parallelism over processes (c10d, Gloo backend): rank 0 hosts the rendezvous. With
  // world_size 1 a launcher's environment (torchrun, WORLD_SIZE/RANK/MASTER_*) sets the group.
  int world_size = 1;
  int rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;

  ProgressCallback on_progress;  // optional; not part of the JSON

  void validate(const std::string& source) const;  // InvalidArgument naming the field
};

struct PretrainConfig : TrainingConfig {
  std::string corpus;  // required: UTF-8 text, one document per line
  // Continued (domain-adaptive) pretraining: a model directory whose weights, tokenizer,
  // architecture and lrem_config.json the run starts from. It then owns all of them, so the
  // fields below up to `model` must be left unset (a config that sets both is an error).
  std::string init_model;
  // Tokenizer: an existing tokenizer.model (or model directory); empty trains a SentencePiece
  // model on the corpus with the options below.
  std::string tokenizer;
  int vocab_size = 4000;
  std::string tokenizer_type = "bpe";  // bpe or unigram
  // Architecture (Hugging Face config.json fields); vocab_size comes from the tokenizer.
  ModelConfig model = small_model();
  int seq_len = 256;  // tokens per packed training block

  static ModelConfig small_model();
  static PretrainConfig from_json(const std::string& text, const std::string& source = "config");
  void validate(const std::string& source) const;
};

struct SftConfig : TrainingConfig {
  std::string model;  // required: starting model directory (a pretrained backbone)
  std::string data;   // required: JSONL {"query", "cot", "item" | "item_id", optional "negatives", "category"}
  std::string catalogue;  // JSONL {"id", "title"}: resolves "item_id" (and ids in "negatives")
  double lambda_sft = 0.1;
  double lambda_nce = 1.0;
  double tau = 0.05;
  int max_hard_negatives = 0;  // per triplet, taken from "negatives"; 0 ignores them

  SftConfig() { lr = 1e-5; }  // the paper's stage-1 rate
  static SftConfig from_json(const std::string& text, const std::string& source = "config");
  void validate(const std::string& source) const;
};

struct GrpoConfig : TrainingConfig {
  std::string model;  // required: the stage-1 model directory
  std::string data;   // required: JSONL {"query", "item" | "item_id", optional "category"}
  std::string catalogue;
  // The CoT cap l is the model's: max_cot_tokens in its lrem_config.json (as at inference).
  int group_size = 8;            // G: CoTs sampled per query
  double temperature = 1.0;
  int top_k = 0;
  double top_p = 1.0;
  double reward_format = 0.5;
  double reward_length = 0.2;
  double reward_accuracy = 1.0;
  // The accuracy reward ranks the target among the batch's distinct items (all ranks') plus
  // this many other items drawn from the catalogue (else from the data's items) each step.
  int reward_pool_extra_items = 0;
  int ppo_epochs = 1;            // mu: optimiser updates per sampled batch
  double clip_epsilon = 0.2;
  std::string loss_aggregation = "sequence";  // "sequence": mean per CoT, then over CoTs; "token": over all tokens
  double lambda_grpo = 1.0;
  double lambda_nce = 0.1;
  double tau = 0.05;
  double kl_coef = 0.0;          // > 0: k3 KL penalty towards a frozen reference_model
  std::string reference_model;   // defaults to `model` when kl_coef > 0

  GrpoConfig() { lr = 1e-6; batch_size = 4; }  // the paper's stage-2 rate
  static GrpoConfig from_json(const std::string& text, const std::string& source = "config");
  void validate(const std::string& source) const;
};

struct TrainResult {
  int64_t steps = 0;         // optimiser steps in total (including those before a resume)
  double wall_seconds = 0;   // of this invocation
  std::map<std::string, double> final_metrics;  // the last logged values
  std::string output_dir;    // holds the final model
};

// Merges a LoRA adapter directory (a LoRA run's checkpoint-<step> or output_dir/adapter) into
// its base model and writes a plain Hugging Face directory (float32) to out_dir. The base is
// base_model, else the adapter's base_model_name_or_path; it gets the LREM tokens first, as
// training gave them.
void merge_adapter(const std::string& adapter_dir, const std::string& out_dir, const std::string& base_model = "");

TrainResult pretrain(const PretrainConfig& config);
TrainResult sft(const SftConfig& config);
TrainResult grpo(const GrpoConfig& config);

}  // namespace lrem
