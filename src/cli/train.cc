// lrem train pretrain|sft|grpo --config FILE.json [--resume] [--gradient-checkpointing]
// [--world-size N --rank R]: runs a training stage; the JSON keys are the fields of the
// stage's config (docs/TRAINING.md). lrem train merge --adapter DIR --out DIR [--base DIR]:
// a LoRA adapter merged into its base model.
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "util/file_io.h"
#include "lrem/train.h"
#include "train/metrics_log.h"

namespace lrem::cli {

namespace {

struct TrainArgs {
  std::string config;
  bool resume = false, gradient_checkpointing = false;
  int world_size = 0, rank = -1, threads = -1;
  std::optional<uint64_t> seed;
};

template <typename Config>
Config load_config(const TrainArgs& args) {
  Config config = Config::from_json(read_file(args.config), args.config);
  // Command-line switches override the file (one file can serve every rank).
  if (args.resume) config.resume = true;
  if (args.gradient_checkpointing) config.gradient_checkpointing = true;
  if (args.world_size > 0) config.world_size = args.world_size;
  if (args.rank >= 0) config.rank = args.rank;
  if (args.threads >= 0) config.num_threads = args.threads;
  if (args.seed) config.seed = *args.seed;
  config.validate(args.config);
  return config;
}

void report(const TrainResult& r) {
  std::cout << "trained " << r.steps << " steps in " << train::format_duration(r.wall_seconds) << "; model in "
            << r.output_dir << "\n";
  for (const auto& [k, v] : r.final_metrics) std::cout << "  " << k << " = " << v << "\n";
}

}  // namespace

void add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a model: pretrain, sft (stage 1) or grpo (stage 2); merge a LoRA adapter");
  cmd->require_subcommand(1);
  const std::pair<const char*, const char*> stages[] = {
      {"pretrain", "Train a tokenizer and a Llama-family model from scratch on a text corpus"},
      {"sft", "Stage 1: SFT on chains of thought + InfoNCE on query-CoT-item triplets"},
      {"grpo", "Stage 2: GRPO with format, length and accuracy rewards on query-item pairs"}};
  for (const auto& [name, help] : stages) {
    auto args = std::make_shared<TrainArgs>();
    auto* sub = cmd->add_subcommand(name, help);
    sub->add_option("--config", args->config, "JSON file with the stage's options")->required()->check(CLI::ExistingFile);
    sub->add_flag("--resume", args->resume, "Continue from the latest checkpoint in output_dir");
    sub->add_flag("--gradient-checkpointing", args->gradient_checkpointing,
                  "Recompute activations in backward to save memory (overrides the config)");
    sub->add_option("--world-size", args->world_size, "Data-parallel processes (overrides the config)");
    sub->add_option("--rank", args->rank, "This process's rank (overrides the config)");
    sub->add_option("--threads", args->threads, "Compute threads; 0 = all cores (overrides the config)");
    sub->add_option("--seed", args->seed, "Seed of data order, initialisation and sampling (overrides the config)");
    const std::string stage = name;
    sub->callback([args, stage] {
      if (stage == "pretrain") report(pretrain(load_config<PretrainConfig>(*args)));
      if (stage == "sft") report(sft(load_config<SftConfig>(*args)));
      if (stage == "grpo") report(grpo(load_config<GrpoConfig>(*args)));
    });
  }

  struct MergeArgs {
    std::string adapter, out, base;
  };
  auto merge = std::make_shared<MergeArgs>();
  auto* sub = cmd->add_subcommand("merge", "Merge a LoRA adapter (a checkpoint of a LoRA run) into its base model");
  sub->add_option("--adapter", merge->adapter, "Adapter directory (adapter_config.json, adapter_model.safetensors)")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--out", merge->out, "Where to write the merged Hugging Face directory")->required();
  sub->add_option("--base", merge->base, "Base model directory (default: the adapter's base_model_name_or_path)");
  sub->callback([merge] {
    merge_adapter(merge->adapter, merge->out, merge->base);
    std::cout << "merged " << merge->adapter << " into " << merge->out << "\n";
  });
}

}  // namespace lrem::cli
