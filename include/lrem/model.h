// A loaded model: configuration, tokenizer, prompt format and the transformer weights.
// Copies are cheap and share the weights (which are read-only during inference), so one
// Model can serve many embedders, retrievers and threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lrem/config.h"
#include "lrem/generation.h"
#include "lrem/prompt.h"
#include "lrem/tokenizer.h"

namespace lrem {

struct LoadOptions {
  std::string device = "cpu";    // any torch device string ("cuda:0" with a CUDA libtorch)
  // Compute dtype of the matrix products and the KV cache: float32, bfloat16, float16 (CUDA
  // only). The residual stream, norms, softmax and returned embeddings stay float32. bfloat16
  // pays on CPUs with AVX512-BF16 or AMX (about 4x the float32 GEMM rate, bench/levers.md).
  std::string dtype = "float32";
  int num_threads = 0;            // intra-op threads; 0 = hardware concurrency
};

class Model {
 public:
  // Loads a Hugging Face directory: config.json, model.safetensors (or sharded with
  // model.safetensors.index.json), tokenizer.model, optional tokenizer_config.json,
  // generation_config.json and lrem_config.json.
  static Model load(const std::string& dir, const LoadOptions& options = {});
  // A randomly initialised model (for training from scratch, tests and benchmarks).
  static Model random(const ModelConfig& config, const Tokenizer& tokenizer, uint64_t seed = 0,
                      const LoadOptions& options = {});

  // Writes the Hugging Face layout atomically, file by file.
  void save(const std::string& dir) const;

  // Adds `<think>`, `</think>`, `<emb>` (or those named by prompt_config()) as special tokens
  // if missing, growing the embedding rows. Needed once before LREM training on a plain LLM.
  void add_lrem_tokens();

  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const;
  const PromptConfig& prompt_config() const;
  void set_prompt_config(const PromptConfig& config);
  // A stable hash of the weights and tokenizer: indexes remember which model built them.
  std::string fingerprint() const;

  Generation generate(const std::string& prompt, const GenerationOptions& options = {}) const;
  std::vector<Generation> generate(const std::vector<std::string>& prompts, const GenerationOptions& options = {}) const;

  struct Impl;
  // For lrem's own components (embedder, training); not part of the stable API.
  Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace lrem
