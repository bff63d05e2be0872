// A loaded model: configuration, tokenizer, prompt format and the transformer weights.
// A Model never changes after construction: operations that would change it return a new
// Model and leave every existing copy (and the embedders built from it) as it was. Copies
// are cheap and share the weights, so one Model can serve many embedders, retrievers and
// threads.
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
  // int8 (CPU, inference only): the layers' projections run on int8 weights with activations
  // quantised on the fly, PyTorch's dynamic quantisation with PyTorch's kernels; everything
  // else is float32 and the float32 weights are kept (docs/BENCHMARKS.md: speed, accuracy).
  std::string dtype = "float32";
  // A prompt preset (PromptConfig::preset: plain, qwen-chat, llama3-chat, qwen3-embedding) to
  // use instead of the directory's lrem_config.json; empty: the directory's (or the defaults).
  std::string prompt_preset;
  // The compute thread count is process-wide (one OpenBLAS/OpenMP pool per process): set it
  // with lrem::set_num_threads (lrem/runtime.h), not per model.
};

class Model {
 public:
  // Loads a Hugging Face directory: config.json, model.safetensors (or sharded with
  // model.safetensors.index.json), tokenizer.json or tokenizer.model, optional
  // tokenizer_config.json and lrem_config.json. InvalidArgument for an unknown prompt preset.
  static Model load(const std::string& dir, const LoadOptions& options = {});
  // A randomly initialised model (for training from scratch, tests and benchmarks).
  static Model random(const ModelConfig& config, const Tokenizer& tokenizer, uint64_t seed = 0,
                      const LoadOptions& options = {});

  // Writes the Hugging Face layout atomically, file by file.
  void save(const std::string& dir) const;

  // This model with `<think>`, `</think>`, `<emb>` (or those named by prompt_config(); no
  // think tokens for a direct embedder's) added as special tokens where missing, the
  // embedding rows grown to match (new rows start at the mean of the existing ones). Tokens
  // the tokenizer already has keep their ids (Qwen3's <think>, </think>). Needed once before
  // LREM training on a plain LLM.
  Model with_lrem_tokens() const;
  // This model with another prompt format (templates, special tokens, CoT and length caps);
  // InvalidArgument if `config` is invalid. The weights are shared.
  Model with_prompt_config(const PromptConfig& config) const;

  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const;
  const PromptConfig& prompt_config() const;
  // A stable hash of the weights and tokenizer: indexes remember which model built them.
  std::string fingerprint() const;

  Generation generate(const std::string& prompt, const GenerationOptions& options = {}) const;
  std::vector<Generation> generate(const std::vector<std::string>& prompts, const GenerationOptions& options = {}) const;

 private:
  struct Impl;
  friend struct ModelAccess;  // lrem's own components (embedder, training)
  explicit Model(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace lrem
