#include "cli/embedder_options.h"

#include "lrem/runtime.h"

#include <chrono>
#include <cstdio>

namespace lrem::cli {

void EmbedderArgs::add_to(CLI::App* cmd) {
  cmd->add_option("--model", model, "Model directory (Hugging Face layout with LREM tokens)")->required();
  cmd->add_option("--threads", threads, "Compute threads; 0 = all cores")->capture_default_str();
  cmd->add_option("--dtype", load.dtype, "Compute dtype: float32, bfloat16, float16")->capture_default_str();
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

std::function<void(size_t, size_t)> progress_printer() {
  auto start = std::chrono::steady_clock::now();
  return [start](size_t done, size_t total) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double rate = secs > 0 ? done / secs : 0.0;
    double eta = rate > 0 ? (total - done) / rate : 0.0;
    std::fprintf(stderr, "\r  %zu/%zu (%.0f/s, ETA %.0fs)%s", done, total, rate, eta, done == total ? "\n" : "");
    std::fflush(stderr);
  };
}

Embedder EmbedderArgs::make_embedder() const {
  EmbedderOptions options = embedder;
  if (!quiet) options.progress = progress_printer();
  set_num_threads(threads);
  return Embedder(Model::load(model, load), options);
}

}  // namespace lrem::cli
