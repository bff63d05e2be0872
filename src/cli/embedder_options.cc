#include "cli/embedder_options.h"

#include "lrem/runtime.h"
#include "util/progress.h"

namespace lrem::cli {

void LoadArgs::add_to(CLI::App* cmd) {
  cmd->add_option("--threads", threads, "Compute threads of this process; 0 = all cores")->capture_default_str();
  cmd->add_option("--dtype", options.dtype,
                  "Compute dtype: float32, bfloat16, float16 (CUDA), int8 (int8 weights, CPU inference)")
      ->capture_default_str();
  add_prompt_preset(cmd, options.prompt_preset);
}

void add_prompt_preset(CLI::App* cmd, std::string& preset) {
  std::string names;
  for (const std::string& name : PromptConfig::preset_names()) names += (names.empty() ? "" : ", ") + name;
  cmd->add_option("--prompt-preset", preset,
                  "Prompt format instead of the model's lrem_config.json: " + names + " (README: prompt format)");
}

Model LoadArgs::load(const std::string& dir) const {
  set_num_threads(threads);
  return Model::load(dir, options);
}

void EmbedderArgs::add_to(CLI::App* cmd) {
  cmd->add_option("--model", model, "Model directory (Hugging Face layout with LREM tokens)")->required();
  load.add_to(cmd);
  cmd->add_option("--batch-size", embedder.batch_size, "Sequences per forward pass")->capture_default_str();
  cmd->add_option("--max-cot-tokens", embedder.max_cot_tokens, "Cap on CoT tokens; 0 = the model's setting")
      ->capture_default_str();
  cmd->add_option("--output-dim", embedder.output_dim, "Truncate embeddings to this size; 0 = full")
      ->capture_default_str();
  cmd->add_option("--temperature", embedder.temperature, "CoT sampling temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--seed", embedder.seed, "Seed for CoT sampling")->capture_default_str();
  cmd->add_option_function<std::string>(
         "--pooling", [this](const std::string& name) { embedder.pooling = parse_pooling(name); },
         "Embedding: last (the <emb> state, LREM) or mean (mean over all tokens)")
      ->default_str("last");
  cmd->add_flag("--quiet", quiet, "No progress output");
}

Embedder EmbedderArgs::make_embedder() const {
  EmbedderOptions options = embedder;
  if (!quiet) options.progress = progress_reporter("embedded");
  return Embedder(load.load(model), options);
}

}  // namespace lrem::cli
