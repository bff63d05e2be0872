// A SentencePiece tokenizer plus added special tokens (`<think>`, `</think>`, `<emb>`, ...)
// following the Hugging Face convention: added tokens take ids after the SentencePiece
// vocabulary and are recorded in tokenizer_config.json under `added_tokens_decoder`.
// Text is split on added-token strings first, so SentencePiece never splits them.
//
// SentencePiece runs in its own dynamic-linker namespace (see src/sentencepiece_library.h):
// its bundled protobuf would otherwise clash with libtorch's. None of that shows here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lrem {

struct AddedToken {
  int id = -1;
  std::string content;
  bool special = true;
};

struct TokenizerTrainOptions {
  int vocab_size = 4000;
  std::string model_type = "bpe";  // "bpe" or "unigram"
  double character_coverage = 1.0;
  bool byte_fallback = true;
  int num_threads = 0;  // 0: hardware concurrency
  int64_t input_sentence_size = 0;  // 0: use every line
  uint64_t seed = 0;  // SentencePiece's sampling of input sentences
};

class Tokenizer {
 public:
  // Loads `tokenizer.model`. If `tokenizer_config_path` names an existing file, its
  // `added_tokens_decoder` entries (ids >= the SentencePiece vocabulary) are registered.
  static Tokenizer load(const std::string& model_path, const std::string& tokenizer_config_path = "");
  // Loads from a Hugging Face model directory (tokenizer.model + optional tokenizer_config.json).
  static Tokenizer from_directory(const std::string& dir);

  // Trains a SentencePiece model on a text file (one sentence per line) and writes
  // `<output_prefix>.model` (and `.vocab`). Unk 0, BOS 1, EOS 2, PAD -1, as Llama.
  static void train(const std::string& corpus_path, const std::string& output_prefix,
                    const TokenizerTrainOptions& options = {});

  // Registers `content` as a special token if new; returns its id either way.
  int add_special_token(const std::string& content);
  // Writes tokenizer.model and tokenizer_config.json (added tokens, bos/eos, add_bos_token)
  // into `dir`, each atomically.
  void save(const std::string& dir) const;

  std::vector<int> encode(std::string_view text, bool add_bos = false, bool add_eos = false) const;
  std::vector<std::vector<int>> encode_batch(const std::vector<std::string>& texts, bool add_bos = false,
                                             bool add_eos = false) const;
  std::string decode(const std::vector<int>& ids, bool skip_special_tokens = false) const;

  int piece_to_id(std::string_view piece) const;  // -1 if unknown
  std::string id_to_piece(int id) const;         // throws InvalidArgument if out of range
  bool is_special(int id) const;                 // control tokens and added special tokens

  int vocab_size() const;            // SentencePiece pieces + added tokens
  int sentencepiece_size() const;    // SentencePiece pieces only
  int bos_id() const;
  int eos_id() const;
  int pad_id() const;  // -1 if none
  int unk_id() const;
  bool add_bos_token() const;  // from tokenizer_config.json (default true, as Llama)
  const std::vector<AddedToken>& added_tokens() const;

  Tokenizer(const Tokenizer&);
  Tokenizer& operator=(const Tokenizer&);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lrem
