// Hugging Face checkpoints as maps of ATen tensors: model.safetensors, or shards listed in
// model.safetensors.index.json; and the parameter names/shapes of a Llama-family model.
// Internal header (torch).
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lrem/config.h"
#include "lrem/safetensors.h"

namespace lrem {

// The tensors of a Hugging Face model directory, opened but not yet read: the shards that
// model.safetensors.index.json lists if present, else model.safetensors. Shard names must be
// plain file names inside the directory; every tensor the index lists must be in its shard,
// and no tensor may be in two shards. Files are mapped read-only and each tensor is copied
// out on request, after which its pages are returned to the OS: loading a model this way
// holds every weight once, in the compute dtype, plus at most one tensor in flight.
// IoError if the directory has neither file, FormatError for a corrupt file or index.
class CheckpointReader {
 public:
  explicit CheckpointReader(const std::string& dir);

  // The tensor in memory it owns. Floating-point tensors (F16, BF16, F32, F64) are converted
  // to `dtype` (which must be floating); integer and bool tensors keep their type.
  // InvalidArgument for an unknown name.
  at::Tensor read(const std::string& name, at::ScalarType dtype) const;
  // Passes the values of a floating-point tensor to `visit` as consecutive float32 chunks of
  // at most `chunk_elements` values, so a float32 view of a large tensor (to hash it, say)
  // never exists in full.
  void read_float32_chunks(const std::string& name, const std::function<void(const at::Tensor&)>& visit,
                           int64_t chunk_elements = int64_t(1) << 22) const;
  // Every tensor, read one after another as read() does.
  std::map<std::string, at::Tensor> read_all(at::ScalarType dtype) const;

 private:
  struct Location {
    size_t file, tensor;  // files_[file].header().tensors[tensor]
  };
  const TensorInfo& info(const Location& where) const { return files_[where.file].header().tensors[where.tensor]; }
  const Location& locate(const std::string& name) const;
  void open_sharded(const std::string& index);

  std::string dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, Location> tensors_;
};

// CheckpointReader(dir).read_all(compute_dtype).
std::map<std::string, at::Tensor> load_checkpoint_tensors(const std::string& dir,
                                                          at::ScalarType compute_dtype = at::kFloat);

// One safetensors file (an adapter's, say) as tensors in memory they own; floating-point
// tensors converted to `dtype`. IoError / FormatError as SafetensorsFile.
std::map<std::string, at::Tensor> read_tensor_file(const std::string& path, at::ScalarType dtype = at::kFloat);
// Writes tensors to one safetensors file atomically, floating-point ones as save_dtype.
void write_tensor_file(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                       at::ScalarType save_dtype = at::kFloat);

// Writes the weights as Hugging Face does: model.safetensors, or, when max_shard_bytes > 0
// and they do not fit in one shard, model-0000i-of-0000n.safetensors plus
// model.safetensors.index.json. Floating-point tensors are stored as save_dtype. Every
// tensor is converted before the first file is written, so bad input (undefined tensor,
// unsupported type) throws InvalidArgument and leaves the directory untouched; each file is
// written atomically, the index last, then files of the previous layout are removed.
void save_checkpoint_tensors(const std::string& dir, const std::map<std::string, at::Tensor>& tensors,
                             at::ScalarType save_dtype = at::kFloat, size_t max_shard_bytes = 0);

// Hugging Face Llama/Mistral/Qwen2/Qwen3 parameter names and shapes for a config:
// model.embed_tokens.weight [V, H]; per layer model.layers.{i}.self_attn.{q,k,v,o}_proj.weight
// (+ q/k/v biases if attention_bias, + self_attn.{q,k}_norm.weight [head_dim] for Qwen3),
// mlp.{gate,up,down}_proj.weight, input_layernorm.weight,
// post_attention_layernorm.weight; model.norm.weight; lm_head.weight unless tied.
std::map<std::string, std::vector<int64_t>> llama_parameter_shapes(const ModelConfig& config);

// Checks names and shapes against llama_parameter_shapes(config): FormatError naming `source`
// and the first missing, unexpected or mis-shaped tensor (and how many problems there are).
// A tied checkpoint that still carries lm_head.weight equal to the embedding (some exporters
// write both) is accepted and that redundant tensor dropped; a different one is an error.
void validate_parameters(std::map<std::string, at::Tensor>& tensors, const ModelConfig& config,
                         const std::string& source);

}  // namespace lrem
