// What a Model is made of. Internal: lrem's embedder and training code reach it through
// ModelAccess (model/model_access.h).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "lrem/model.h"
#include "model/checkpoint.h"
#include "model/transformer.h"

namespace lrem {

struct Model::Impl {
  Impl(ModelConfig cfg, Tokenizer tok, PromptConfig prompt_cfg, const at::TensorOptions& options)
      : config(std::move(cfg)), tokenizer(std::move(tok)), prompt_config(std::move(prompt_cfg)),
        transformer(config, options) {}
  // A model made from another one's parts (Model::with_*): the transformer's tensors are
  // shared, nothing else is.
  Impl(ModelConfig cfg, Tokenizer tok, PromptConfig prompt_cfg, Transformer tf)
      : config(std::move(cfg)), tokenizer(std::move(tok)), prompt_config(std::move(prompt_cfg)),
        transformer(std::move(tf)) {}

  ModelConfig config;
  Tokenizer tokenizer;
  PromptConfig prompt_config;
  Transformer transformer;

  // The prompt format needs the LREM special tokens; a plain LLM has none until
  // with_lrem_tokens(), so it is built on first use. Throws InvalidArgument explaining the fix.
  const PromptFormat& prompt() const;
  // Call after training changed the weights in place: drops the cached prompt format and
  // fingerprint.
  void invalidate();

  // A hash of the config, prompt config, tokenizer and the transformer's weights; a model
  // loaded in a lower-precision dtype keeps the hash of its checkpoint's float32 values
  // (fingerprint_checkpoint: every parameter's float32 values, by name, streamed from the
  // files), so indexes built with float32 accept it.
  std::string fingerprint() const;
  void fingerprint_checkpoint(const CheckpointReader& checkpoint);

 private:
  mutable std::mutex mutex_;
  mutable std::optional<PromptFormat> prompt_;
  mutable std::string fingerprint_;
};

// Parses the dtype names accepted in LoadOptions ("float32", "bfloat16", "float16").
at::ScalarType parse_dtype(const std::string& name);

}  // namespace lrem
