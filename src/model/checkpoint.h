// Hugging Face checkpoints as maps of ATen tensors: model.safetensors, or shards listed in
// model.safetensors.index.json; and the parameter names/shapes of a Llama-family model.
// Internal header (torch).
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "lrem/config.h"

namespace lrem {

// Every tensor of one safetensors file, copied into memory the tensors own. Floating-point
// tensors (F16, BF16, F32, F64) are converted to compute_dtype; integer and bool tensors
// keep their type. FormatError for a corrupt file, IoError if it cannot be read.
std::map<std::string, at::Tensor> load_safetensors(const std::string& path, at::ScalarType compute_dtype = at::kFloat);

// The weights of a Hugging Face model directory: model.safetensors.index.json (sharded) if
// present, else model.safetensors. The index's shard names must be plain file names inside
// `dir`; every tensor it lists must be in its shard, and no tensor may be in two shards.
std::map<std::string, at::Tensor> load_checkpoint_tensors(const std::string& dir,
                                                          at::ScalarType compute_dtype = at::kFloat);

// Writes the weights as Hugging Face does: model.safetensors, or, when max_shard_bytes > 0
// and they do not fit in one shard, model-0000i-of-0000n.safetensors plus
// model.safetensors.index.json. Floating-point tensors are stored as save_dtype. Every
// tensor is converted before the first file is written, so bad input (undefined tensor,
// unsupported type) throws InvalidArgument and leaves the directory untouched; each file is
// written atomically, the index last, then files of the previous layout are removed.
void save_checkpoint_tensors(const std::string& dir, const std::map<std::string, at::Tensor>& tensors,
                             at::ScalarType save_dtype = at::kFloat, size_t max_shard_bytes = 0);

// Hugging Face Llama/Mistral/Qwen2 parameter names and shapes for a config:
// model.embed_tokens.weight [V, H]; per layer model.layers.{i}.self_attn.{q,k,v,o}_proj.weight
// (+ q/k/v biases if attention_bias), mlp.{gate,up,down}_proj.weight, input_layernorm.weight,
// post_attention_layernorm.weight; model.norm.weight; lm_head.weight unless tied.
std::map<std::string, std::vector<int64_t>> llama_parameter_shapes(const ModelConfig& config);

// Checks names and shapes against llama_parameter_shapes(config): FormatError naming `source`
// and the first missing, unexpected or mis-shaped tensor (and how many problems there are).
// A tied checkpoint that still carries lm_head.weight equal to the embedding (some exporters
// write both) is accepted and that redundant tensor dropped; a different one is an error.
void validate_parameters(std::map<std::string, at::Tensor>& tensors, const ModelConfig& config,
                         const std::string& source);

}  // namespace lrem
