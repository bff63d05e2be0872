// Tiny random Llama-family models for the transformer and generation tests.
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lrem/config.h"
#include "model/transformer.h"

namespace lrem::testing {

// hidden 32, 2 layers, 4 heads over 2 kv heads (GQA), vocab 50.
inline ModelConfig tiny_config(bool attention_bias = false, bool tied = true) {
  ModelConfig c;
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-5;
  c.attention_bias = attention_bias;
  c.tie_word_embeddings = tied;
  return c;
}

// Qwen3-style: per-head q/k RMSNorm and a head_dim (12) other than hidden / heads (8).
inline ModelConfig tiny_qwen3_config() {
  ModelConfig c = tiny_config(false, /*tied=*/false);
  c.model_type = "qwen3";
  c.head_dim = 12;
  return c;
}

// The variants every behaviour is checked on: plain tied, Qwen2-style q/k/v bias, untied
// lm_head, Qwen3-style q/k norms.
inline std::vector<ModelConfig> tiny_variants() {
  return {tiny_config(), tiny_config(/*attention_bias=*/true), tiny_config(false, /*tied=*/false), tiny_qwen3_config()};
}

// A random model whose weights are large enough (std 0.2 instead of 0.02) that attention
// patterns and logits differ clearly between positions: comparisons that pass on it mean something.
inline Transformer tiny_model(const ModelConfig& config, uint64_t seed = 7) {
  Transformer model(config);
  model.init_random(seed);
  std::map<std::string, at::Tensor> scaled;
  for (const auto& [name, tensor] : model.parameters()) {
    const bool is_norm = name.find("norm") != std::string::npos;
    scaled[name] = is_norm ? tensor + 0.1 * at::arange(tensor.numel()).to(at::kFloat) / tensor.numel() : tensor * 10;
  }
  if (config.attention_bias)
    for (auto& [name, tensor] : scaled)
      if (name.find(".bias") != std::string::npos) tensor = 0.1 * at::sin(at::arange(tensor.numel()).to(at::kFloat));
  model.load_parameters(scaled, "tiny_model");
  return model;
}

// [rows, n] random token ids in [0, vocab), deterministic.
inline at::Tensor random_ids(int64_t rows, int64_t n, int64_t vocab, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(vocab, {rows, n}, gen, at::kLong);
}

}  // namespace lrem::testing
