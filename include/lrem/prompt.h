// How queries and items become token sequences. Training and inference both build their
// sequences here, from templates stored with the model (lrem_config.json), so they agree.
//
//   query (reason): BOS? prefix(query_template) query suffix(query_template) <think> CoT </think> <emb>
//   query (direct): BOS? prefix(query_template) query suffix(query_template) <think> </think> <emb>
//   item:           BOS? prefix(item_template) title suffix(item_template) <emb>
//
// A direct embedder in its own convention (Qwen3-Embedding: `think` false, `emb` its
// <|endoftext|>) has no think section: queries are BOS? prefix query suffix <emb> and
// reason mode is refused; its embedding is still the last token's final state, L2-normalised.
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
  // Replaces {task} in query_template (an instruction embedder's task description).
  std::string task;
  std::string think_open = "<think>";
  std::string think_close = "</think>";
  std::string emb = "<emb>";  // the token whose final hidden state is the embedding
  // false: a direct embedder (see the top of this file); true: LREM's <think> ... </think>.
  bool think = true;
  int max_cot_tokens = 16;  // l: the CoT cap in tokens, for training and inference alike (model/cot.h)
  int max_query_tokens = 64;   // query text is truncated to this many tokens (documented limit)
  int max_item_tokens = 128;   // item title likewise

  // The named presets, each a complete config:
  //   plain            {query} / {title}, LREM tokens (the default)
  //   qwen-chat        Qwen2/2.5/3 chat turn: <|im_start|>user\n{query}<|im_end|>\n<|im_start|>assistant\n
  //   llama3-chat      Llama 3 chat turn with its <|start_header_id|> ... <|eot_id|> header tokens
  //   qwen3-embedding  Qwen3-Embedding's convention: "Instruct: {task}\nQuery:{query}" for queries,
  //                    the bare title for items, <|endoftext|> last, no think section
  // InvalidArgument naming the valid presets for any other name.
  static PromptConfig preset(const std::string& name);
  static std::vector<std::string> preset_names();

  // lrem_config.json: the fields above; a "preset" member, if any, supplies the defaults.
  static PromptConfig from_json(const std::string& text, const std::string& source = "lrem_config.json");
  std::string to_json() const;
  // Reads <dir>/lrem_config.json if present, else defaults.
  static PromptConfig load_or_default(const std::string& dir);
  void save(const std::string& dir) const;
  // InvalidArgument for a template without its placeholder, {task} without a task, caps <= 0.
  void validate() const;
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
  // Throws InvalidArgument if the tokenizer lacks any of the special tokens (the think
  // tokens only when config.think), saying how to add them.
  PromptFormat(const Tokenizer& tokenizer, PromptConfig config);
  PromptFormat(Tokenizer&&, PromptConfig) = delete;

  const PromptConfig& config() const { return config_; }
  int think_open_id() const { return think_open_; }    // -1 without a think section
  int think_close_id() const { return think_close_; }  // likewise
  int emb_id() const { return emb_; }

  // BOS? + template text before {query}. Identical for every query.
  std::vector<int> query_prefix() const;
  // Everything after the prefix up to and including <think> (up to the template's end
  // without a think section).
  PromptIds query_body(const std::string& query) const;
  // What follows query_body in direct mode: </think> <emb>, or <emb> alone without a think section.
  std::vector<int> direct_tail() const;
  // InvalidArgument saying what to do if this format has no think section (a direct
  // embedder); `what` names the refused operation.
  void require_think(const std::string& what) const;
  // query_prefix() + query_body(query).
  PromptIds query_prompt(const std::string& query) const;
  // The CoT's tokens cut to max_cot_tokens (0: the config's), then </think> <emb>: the
  // supervised part in stage 1 and the tail of a query embedded with a given CoT, so both
  // obey the cap that generation obeys. `truncated`: the CoT was cut. Needs a think section.
  PromptIds cot_completion(const std::string& cot, int max_cot_tokens = 0) const;
  // CoT token ids followed by </think> <emb>. Needs a think section.
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
