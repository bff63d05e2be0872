// A Hugging Face `tokenizer.json` byte-level BPE tokenizer (GPT-2, Llama 3, Qwen2 style),
// the pipeline of the Rust `tokenizers` crate: added tokens are cut out of the raw text,
// the rest is normalized, pre-tokenized into words, and each word is encoded by the BPE
// model; the post-processor adds the template's special tokens and the decoder turns
// tokens back into text. Every part this file does not implement is refused when the
// file is loaded (FormatError naming the field), never approximated.
//
// Copies share the immutable pipeline; added tokens belong to each copy. A const
// BpeTokenizer may be used from many threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lrem/tokenizer.h"
#include "model/added_vocabulary.h"

namespace lrem {

class BpeTokenizer {
 public:
  // Reads a tokenizer.json and, if `config_path` is not empty, the model's
  // tokenizer_config.json for its `bos_token`, `eos_token`, `pad_token`, `add_bos_token` and
  // `add_eos_token` (its other fields are transformers' business). IoError if a file cannot
  // be read, FormatError as above or for a special token the tokenizer does not have.
  static BpeTokenizer load(const std::string& path, const std::string& config_path = "");

  // BOS and EOS: tokenizer_config.json's if it names them, else the single special token the
  // post-processor template puts before or after the text (-1 if none). add_bos/add_eos:
  // the config's add_bos_token/add_eos_token if given, else whether the template adds them.
  struct SpecialIds {
    int bos = -1, eos = -1, pad = -1;
    bool add_bos = false, add_eos = false;
  };
  const SpecialIds& special_ids() const;

  // Appends the ids of `text` (valid UTF-8, else InvalidArgument), without the
  // post-processor's special tokens.
  void encode(std::string_view text, std::vector<int>& ids) const;
  // The template's special tokens around a sequence (TemplateProcessing), possibly none.
  const std::vector<int>& template_prefix() const;
  const std::vector<int>& template_suffix() const;

  // Ids must be in [0, vocab_size()); ids no token has are skipped, as Hugging Face does.
  std::string decode(const std::vector<int>& ids, bool skip_special_tokens) const;

  // Appends a special token with the next free id (or the id of the vocabulary token with
  // that content) and returns its id; an existing added token returns its id.
  int add_special_token(const std::string& content);
  // Writes the tokenizer.json it was loaded from, with the tokens added since appended to
  // `added_tokens`, and the tokenizer_config.json it was loaded with (if any) to `config_path`.
  void save(const std::string& path, const std::string& config_path) const;

  int token_to_id(std::string_view token) const;  // -1 if unknown
  // "" for an id no token has; InvalidArgument outside [0, vocab_size()).
  std::string id_to_token(int id) const;
  bool is_special(int id) const;
  int vocab_size() const;  // 1 + the largest id of the vocabulary and the added tokens
  int model_size() const;  // entries of the BPE vocabulary
  int unk_id() const;
  const std::vector<AddedToken>& added_tokens() const { return added_sorted_; }

 private:
  struct Pipeline;
  explicit BpeTokenizer(std::shared_ptr<const Pipeline> pipeline);
  void register_token(AddedToken token);
  void encode_text(std::string_view text, std::vector<int>& ids) const;
  void check_id(int id) const;

  std::shared_ptr<const Pipeline> pipeline_;
  AddedVocabulary added_;
  std::vector<AddedToken> added_sorted_;  // added_ sorted by id
  std::vector<AddedToken> appended_;      // added after loading: save() appends them
};

}  // namespace lrem
