// How queries and items become token sequences. Training and inference both build their
// sequences here, from templates stored with the model (lrem_config.json), so they agree.
//
//   query (reason): BOS? prefix(query_template) query suffix(query_template) <think> CoT </think> <emb>
//   query (direct): BOS? prefix(query_template) query suffix(query_template) <think> </think> <emb>
//   item:           BOS? prefix(item_template) title suffix(item_template) <emb>
//
// Each template holds one placeholder ({query} or {title}). Template parts and the user text
// are tokenized separately, so the part before the placeholder is the same token sequence for
// every query and its keys/values can be computed once (the prefix cache).
#pragma once

#include <string>
#include <vector>

#include "lrem/tokenizer.h"

namespace lrem {

struct PromptConfig {
  std::string query_template = "{query}";
  std::string item_template = "{title}";
  std::string think_open = "<think>";
  std::string think_close = "</think>";
  std::string emb = "<emb>";
  int max_cot_tokens = 16;  // l: the CoT cap in tokens, for training and inference alike (model/cot.h)
  int max_query_tokens = 64;   // query text is truncated to this many tokens (documented limit)
  int max_item_tokens = 128;   // item title likewise

  static PromptConfig from_json(const std::string& text, const std::string& source = "lrem_config.json");
  std::string to_json() const;
  // Reads <dir>/lrem_config.json if present, else defaults.
  static PromptConfig load_or_default(const std::string& dir);
  void save(const std::string& dir) const;
  void validate() const;  // InvalidArgument for a template without its placeholder, caps <= 0
};

// Token ids of one rendered sequence, with the facts callers need about it.
struct PromptIds {
  std::vector<int> ids;
  bool truncated = false;  // the user text was cut to the configured limit
};

class PromptFormat {
 public:
  // Borrows `tokenizer`, which must outlive this PromptFormat and every copy of it (a
  // Model keeps its own pair together; a PromptFormat built over a temporary dangles).
  // Throws InvalidArgument if the tokenizer lacks any of the special tokens, saying how to add them.
  PromptFormat(const Tokenizer& tokenizer, PromptConfig config);
  PromptFormat(Tokenizer&&, PromptConfig) = delete;

  const PromptConfig& config() const { return config_; }
  int think_open_id() const { return think_open_; }
  int think_close_id() const { return think_close_; }
  int emb_id() const { return emb_; }

  // BOS? + template text before {query}. Identical for every query.
  std::vector<int> query_prefix() const;
  // Everything after the prefix up to and including <think>.
  PromptIds query_body(const std::string& query) const;
  // query_prefix() + query_body(query).
  PromptIds query_prompt(const std::string& query) const;
  // The CoT's tokens cut to max_cot_tokens (0: the config's), then </think> <emb>: the
  // supervised part in stage 1 and the tail of a query embedded with a given CoT, so both
  // obey the cap that generation obeys. `truncated`: the CoT was cut.
  PromptIds cot_completion(const std::string& cot, int max_cot_tokens = 0) const;
  // CoT token ids followed by </think> <emb>.
  std::vector<int> close_cot(std::vector<int> cot) const;
  // BOS? + item template around the title + <emb>.
  PromptIds item(const std::string& title) const;

 private:
  std::vector<int> encode_part(const std::string& text) const;
  const Tokenizer* tokenizer_;  // borrowed, see the constructor
  PromptConfig config_;
  std::string query_before_, query_after_, item_before_, item_after_;
  int think_open_, think_close_, emb_;
};

}  // namespace lrem
