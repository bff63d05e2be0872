#include "train/adapter.h"

#include <filesystem>

#include "lrem/error.h"
#include "model/checkpoint.h"
#include "model/model_access.h"
#include "train/trainer.h"
#include "util/file_io.h"
#include "util/json_reader.h"

namespace lrem::train {

namespace fs = std::filesystem;

namespace {

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";
constexpr const char* kPrefix = "base_model.model.";  // PEFT's wrapper around the Hugging Face model

std::vector<int64_t> read_ids(const JsonValue& v) {
  std::vector<int64_t> ids;
  for (const JsonValue& e : v.elements()) ids.push_back(e.as_int(0));
  return ids;
}

}  // namespace

LoraSpec lora_spec(const LoraConfig& config, const PromptFormat& format) {
  LoraSpec spec;
  spec.r = config.r;
  spec.alpha = config.alpha;
  spec.dropout = config.dropout;
  spec.target_modules = config.target_modules;
  spec.token_ids = {format.think_open_id(), format.think_close_id(), format.emb_id()};
  return spec;
}

void save_adapter(const std::string& dir, const Transformer& transformer, const std::string& base_model) {
  const LoraSpec* spec = transformer.lora();
  if (!spec) throw InvalidArgument("save_adapter: the model has no LoRA adapter attached");
  ensure_directory(dir);
  Json config = {{"peft_type", "LORA"},
                 {"task_type", "CAUSAL_LM"},
                 {"base_model_name_or_path", base_model},
                 {"r", spec->r},
                 {"lora_alpha", spec->alpha},
                 {"lora_dropout", spec->dropout},
                 {"target_modules", spec->target_modules},
                 {"bias", "none"},
                 {"fan_in_fan_out", false},
                 {"inference_mode", true}};
  if (!spec->token_ids.empty()) {
    Json indices = {{"embed_tokens", spec->token_ids}};
    if (!transformer.config().tie_word_embeddings) indices["lm_head"] = spec->token_ids;
    config["trainable_token_indices"] = indices;
  }
  write_file_atomic((fs::path(dir) / kConfigFile).string(), config.dump(2) + "\n");
  std::map<std::string, at::Tensor> tensors;
  for (const auto& [name, t] : transformer.lora_parameters()) tensors[kPrefix + name] = t;
  write_tensor_file((fs::path(dir) / kWeightsFile).string(), tensors);
}

Adapter load_adapter(const std::string& dir) {
  const std::string config_path = (fs::path(dir) / kConfigFile).string();
  const std::string weights_path = (fs::path(dir) / kWeightsFile).string();
  if (!fs::exists(config_path) || !fs::exists(weights_path))
    throw IoError("'" + dir + "' is not a LoRA adapter: expected " + kConfigFile + " and " + kWeightsFile);
  const JsonDocument document = JsonDocument::load(config_path);
  const JsonValue root = document.object();
  if (root.get_string("peft_type", "") != "LORA") root.at("peft_type").expected("\"LORA\"");
  if (root.get_string("bias", "none") != "none") root.at("bias").expected("\"none\" (lrem adapters train no biases)");
  Adapter adapter;
  adapter.base_model = root.get_string("base_model_name_or_path", "");
  adapter.spec.r = root.at("r").as_int(1);
  adapter.spec.alpha = root.get_double("lora_alpha", 8);
  adapter.spec.dropout = root.get_double("lora_dropout", 0);
  const JsonValue targets = root.at("target_modules");
  if (!targets.is_array()) targets.expected("a list of module names (a regular expression is not supported)");
  adapter.spec.target_modules = targets.as_strings();
  if (std::optional<JsonValue> tokens = root.find("trainable_token_indices"); tokens && !tokens->is_null()) {
    // A list means the embedding's rows; a map names the module (an untied lm_head repeats them).
    adapter.spec.token_ids = tokens->is_array() ? read_ids(*tokens) : read_ids(tokens->at("embed_tokens"));
    if (std::optional<JsonValue> head = tokens->is_object() ? tokens->find("lm_head") : std::nullopt;
        head && read_ids(*head) != adapter.spec.token_ids)
      head->expected("the same token ids as embed_tokens");
  }
  for (auto& [name, t] : read_tensor_file(weights_path)) {
    if (name.rfind(kPrefix, 0) != 0)
      throw FormatError(weights_path + ": tensor '" + name + "' does not start with '" + kPrefix + "'");
    adapter.tensors[name.substr(std::string(kPrefix).size())] = t;
  }
  return adapter;
}

}  // namespace lrem::train

namespace lrem {

void merge_adapter(const std::string& adapter_dir, const std::string& out_dir, const std::string& base_model) {
  train::Adapter adapter = train::load_adapter(adapter_dir);
  const std::string base = base_model.empty() ? adapter.base_model : base_model;
  if (base.empty())
    throw InvalidArgument(adapter_dir + ": the adapter does not name its base model (base_model_name_or_path): "
                          "give the base model directory");
  Model model = train::load_lrem_model(base);
  auto& parts = ModelAccess::trainable_parts(model);
  parts.transformer.attach_lora(adapter.spec, adapter.tensors, 0);
  parts.transformer.merge_lora();
  parts.config.torch_dtype = "float32";  // as training writes its models
  parts.invalidate();
  model.save(out_dir);
}

}  // namespace lrem
