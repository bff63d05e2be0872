// A LoRA adapter on disk, in PEFT's layout so that Hugging Face's peft library reads it:
//   adapter_config.json        peft_type LORA, r, lora_alpha, lora_dropout, target_modules,
//                              base_model_name_or_path, trainable_token_indices
//   adapter_model.safetensors  float32, "base_model.model." + the Transformer's adapter names
//                              (model/transformer.h, LoraSpec)
#pragma once

#include <map>
#include <string>

#include "lrem/prompt.h"
#include "lrem/train.h"
#include "model/transformer.h"

namespace lrem::train {

struct Adapter {
  LoraSpec spec;
  std::map<std::string, at::Tensor> tensors;  // named as Transformer::lora_parameters()
  std::string base_model;                     // base_model_name_or_path ("" when not recorded)
};

// The spec a run trains: its LoRA options, the LREM special tokens' rows trainable.
LoraSpec lora_spec(const LoraConfig& config, const PromptFormat& format);

// Writes the transformer's attached adapter into dir (created if needed); config first,
// tensors last, each atomically. InvalidArgument if it has none.
void save_adapter(const std::string& dir, const Transformer& transformer, const std::string& base_model);
// IoError when dir lacks either file; FormatError naming the file and field for anything
// lrem cannot apply (another peft_type, a bias other than "none", a regex target_modules...).
Adapter load_adapter(const std::string& dir);

}  // namespace lrem::train
