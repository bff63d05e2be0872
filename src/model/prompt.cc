#include "lrem/prompt.h"

#include <filesystem>
#include <iterator>
#include <optional>
#include <nlohmann/json.hpp>

#include "lrem/error.h"
#include "util/file_io.h"
#include "util/json_reader.h"

namespace lrem {

namespace {

constexpr const char* kConfigFile = "lrem_config.json";

// Splits a template at its single placeholder; InvalidArgument if it is missing or repeated.
std::pair<std::string, std::string> split_template(const std::string& tmpl, const std::string& placeholder,
                                                   const std::string& field) {
  auto pos = tmpl.find(placeholder);
  if (pos == std::string::npos || tmpl.find(placeholder, pos + 1) != std::string::npos)
    throw InvalidArgument(field + " must contain " + placeholder + " exactly once, got \"" + tmpl + "\"");
  return {tmpl.substr(0, pos), tmpl.substr(pos + placeholder.size())};
}

// {task} in a query template becomes the configured task description.
std::string with_task(std::string tmpl, const std::string& task) {
  const std::string placeholder = "{task}";
  if (const auto pos = tmpl.find(placeholder); pos != std::string::npos) tmpl.replace(pos, placeholder.size(), task);
  return tmpl;
}

const char* const kPresets[] = {"plain", "qwen-chat", "llama3-chat", "qwen3-embedding"};

}  // namespace

std::vector<std::string> PromptConfig::preset_names() { return {std::begin(kPresets), std::end(kPresets)}; }

PromptConfig PromptConfig::preset(const std::string& name) {
  PromptConfig c;
  if (name == "plain") return c;
  if (name == "qwen-chat") {
    c.query_template = "<|im_start|>user\n{query}<|im_end|>\n<|im_start|>assistant\n";
    return c;
  }
  if (name == "llama3-chat") {
    c.query_template =
        "<|start_header_id|>user<|end_header_id|>\n\n{query}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return c;
  }
  if (name == "qwen3-embedding") {
    c.query_template = "Instruct: {task}\nQuery:{query}";
    c.task = "Given an e-commerce search query, retrieve relevant products";
    c.emb = "<|endoftext|>";
    c.think = false;
    return c;
  }
  std::string names;
  for (const char* preset : kPresets) names += std::string(names.empty() ? "" : ", ") + preset;
  throw InvalidArgument("unknown prompt preset '" + name + "'; the presets are " + names);
}

void PromptConfig::validate() const {
  split_template(query_template, "{query}", "query_template");
  if (query_template.find("{task}") != std::string::npos && task.empty())
    throw InvalidArgument("query_template has a {task} placeholder but task is empty; set task");
  split_template(item_template, "{title}", "item_template");
  if (max_cot_tokens <= 0) throw InvalidArgument("max_cot_tokens must be positive, got " + std::to_string(max_cot_tokens));
  if (max_query_tokens <= 0 || max_item_tokens <= 0)
    throw InvalidArgument("max_query_tokens and max_item_tokens must be positive");
  if (think_open.empty() || think_close.empty() || emb.empty())
    throw InvalidArgument("the special token strings (think_open, think_close, emb) must not be empty");
}

PromptConfig PromptConfig::from_json(const std::string& text, const std::string& source) {
  const JsonDocument document(text, source);
  const JsonValue fields = document.object();
  PromptConfig c;
  if (std::optional<JsonValue> name = fields.find("preset")) {
    try {
      c = preset(name->as_string());
    } catch (const InvalidArgument& e) {
      name->fail(e.what());
    }
  }
  fields.read("query_template", c.query_template);
  fields.read("item_template", c.item_template);
  fields.read("task", c.task);
  fields.read("think", c.think);
  fields.read("think_open", c.think_open);
  fields.read("think_close", c.think_close);
  fields.read("emb", c.emb);
  fields.read("max_cot_tokens", c.max_cot_tokens);
  fields.read("max_query_tokens", c.max_query_tokens);
  fields.read("max_item_tokens", c.max_item_tokens);
  try {
    c.validate();
  } catch (const InvalidArgument& e) {
    throw FormatError(source + ": " + e.what());
  }
  return c;
}

std::string PromptConfig::to_json() const {
  nlohmann::json j = {{"query_template", query_template}, {"item_template", item_template},
                      {"think_open", think_open},         {"think_close", think_close},
                      {"emb", emb},                       {"max_cot_tokens", max_cot_tokens},
                      {"max_query_tokens", max_query_tokens}, {"max_item_tokens", max_item_tokens}};
  // Written only when they differ from the defaults: a config without them serialises (and
  // so fingerprints, with the indexes built on it) as before they existed.
  if (!task.empty()) j["task"] = task;
  if (!think) j["think"] = false;
  return j.dump(2) + "\n";
}

PromptConfig PromptConfig::load_or_default(const std::string& dir) {
  auto path = (std::filesystem::path(dir) / kConfigFile).string();
  if (!std::filesystem::exists(path)) return {};
  return from_json(read_file(path, 1 << 20), path);
}

void PromptConfig::save(const std::string& dir) const {
  write_file_atomic((std::filesystem::path(dir) / kConfigFile).string(), to_json());
}

PromptFormat::PromptFormat(const Tokenizer& tokenizer, PromptConfig config)
    : tokenizer_(&tokenizer), config_(std::move(config)) {
  config_.validate();
  std::tie(query_before_, query_after_) =
      split_template(with_task(config_.query_template, config_.task), "{query}", "query_template");
  std::tie(item_before_, item_after_) = split_template(config_.item_template, "{title}", "item_template");
  auto special = [&](const std::string& s) {
    int id = tokenizer.piece_to_id(s);
    if (id < 0)
      throw InvalidArgument("the tokenizer has no special token " + s +
                            "; add the LREM tokens first (C++: Model::with_lrem_tokens(), Python: "
                            "model.with_lrem_tokens(), CLI: `lrem add-tokens`; `lrem train sft` adds them too) "
                            "and fine-tune the model");
    return id;
  };
  think_open_ = config_.think ? special(config_.think_open) : -1;
  think_close_ = config_.think ? special(config_.think_close) : -1;
  emb_ = special(config_.emb);
}

void PromptFormat::require_think(const std::string& what) const {
  if (!config_.think)
    throw InvalidArgument(what + " is not available: this model's prompt config is a direct embedder's "
                          "(lrem_config.json \"think\": false, no <think> section). Use direct mode, or give the "
                          "model an LREM prompt preset and its tokens (`lrem add-tokens --prompt-preset qwen-chat`) "
                          "and train it");
}

std::vector<int> PromptFormat::direct_tail() const {
  if (!config_.think) return {emb_};
  return {think_close_, emb_};
}

std::vector<int> PromptFormat::encode_part(const std::string& text) const {
  if (text.empty()) return {};
  return tokenizer_->encode(text);
}

std::vector<int> PromptFormat::query_prefix() const {
  std::vector<int> ids;
  if (tokenizer_->add_bos_token()) ids.push_back(tokenizer_->bos_id());
  auto before = encode_part(query_before_);
  ids.insert(ids.end(), before.begin(), before.end());
  return ids;
}

PromptIds PromptFormat::query_body(const std::string& query) const {
  PromptIds out;
  out.ids = encode_part(query);
  if (static_cast<int>(out.ids.size()) > config_.max_query_tokens) {
    out.ids.resize(config_.max_query_tokens);
    out.truncated = true;
  }
  auto after = encode_part(query_after_);
  out.ids.insert(out.ids.end(), after.begin(), after.end());
  if (config_.think) out.ids.push_back(think_open_);
  return out;
}

PromptIds PromptFormat::query_prompt(const std::string& query) const {
  PromptIds body = query_body(query);
  PromptIds out{query_prefix(), body.truncated};
  out.ids.insert(out.ids.end(), body.ids.begin(), body.ids.end());
  return out;
}

PromptIds PromptFormat::cot_completion(const std::string& cot, int max_cot_tokens) const {
  require_think("a chain of thought");
  const size_t cap = size_t(max_cot_tokens > 0 ? max_cot_tokens : config_.max_cot_tokens);
  PromptIds out;
  out.ids = encode_part(cot);
  out.truncated = out.ids.size() > cap;
  if (out.truncated) out.ids.resize(cap);
  out.ids = close_cot(std::move(out.ids));
  return out;
}

std::vector<int> PromptFormat::close_cot(std::vector<int> cot) const {
  require_think("a chain of thought");
  cot.push_back(think_close_);
  cot.push_back(emb_);
  return cot;
}

PromptIds PromptFormat::item(const std::string& title) const {
  PromptIds out;
  if (tokenizer_->add_bos_token()) out.ids.push_back(tokenizer_->bos_id());
  auto before = encode_part(item_before_);
  out.ids.insert(out.ids.end(), before.begin(), before.end());
  auto t = encode_part(title);
  if (static_cast<int>(t.size()) > config_.max_item_tokens) {
    t.resize(config_.max_item_tokens);
    out.truncated = true;
  }
  out.ids.insert(out.ids.end(), t.begin(), t.end());
  auto after = encode_part(item_after_);
  out.ids.insert(out.ids.end(), after.begin(), after.end());
  out.ids.push_back(emb_);
  return out;
}

}  // namespace lrem
