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

// One entry of tokenizer_config.json's `added_tokens_decoder`. Ids below the SentencePiece
// vocabulary size name an existing piece (Llama lists `<s>` as 1); the others follow it.
struct AddedToken {
  int id = -1;
  std::string content;
  bool special = true;  // skipped by decode(..., skip_special_tokens=true)
  bool lstrip = false;  // when matched, swallows the whitespace to its left
  bool rstrip = false;  // ... and to its right
};

struct TokenizerTrainOptions {
  int vocab_size = 4000;
  std::string model_type = "bpe";  // "bpe" or "unigram"
  double character_coverage = 1.0;
  bool byte_fallback = true;
  int num_threads = 0;  // 0: hardware concurrency
  int64_t input_sentence_size = 0;  // 0: use every line
  uint32_t seed = 0;  // SentencePiece's sampling of input sentences
};

class Tokenizer {
 public:
  // Loads `tokenizer.model` and, if `tokenizer_config_path` is not empty, that
  // tokenizer_config.json: `added_tokens_decoder`, `add_bos_token`, `add_eos_token` and
  // `bos_token`/`eos_token`/`unk_token`/`pad_token` (strings or {"content": ...}).
  // IoError if a file cannot be read; FormatError naming the file if it is malformed, an
  // added token contradicts the SentencePiece piece with its id, or the added ids beyond
  // the SentencePiece vocabulary leave a gap.
  static Tokenizer load(const std::string& model_path, const std::string& tokenizer_config_path = "");
  // Loads from a Hugging Face model directory (tokenizer.model + optional tokenizer_config.json).
  static Tokenizer from_directory(const std::string& dir);

  // Trains a SentencePiece model on a text file (one sentence per line), writes
  // `<output_prefix>.model` and `<output_prefix>.vocab` (piece<TAB>score per line) and
  // returns the tokenizer. Llama's conventions: unk 0, BOS 1, EOS 2, no PAD; text is not
  // normalized, so decode(encode(x)) == x. IoError if the corpus cannot be read,
  // InvalidArgument for bad options or if SentencePiece refuses (e.g. vocab_size too large).
  static Tokenizer train(const std::string& corpus_path, const std::string& output_prefix,
                         const TokenizerTrainOptions& options = {});

  // Registers `content` as a special token if new and returns its id: the next id after
  // the vocabulary, or the id of the SentencePiece piece spelled `content` (then encode
  // starts matching it in text). InvalidArgument if `content` is empty.
  int add_special_token(const std::string& content);
  // Writes tokenizer.model and tokenizer_config.json (added tokens, bos/eos, add_bos_token)
  // into `dir`, each atomically.
  void save(const std::string& dir) const;

  // Splits `text` on added-token strings (leftmost, then longest match), so those become
  // their single ids, and encodes the text between them with SentencePiece.
  // InvalidArgument if add_bos/add_eos is asked of a tokenizer without BOS/EOS.
  std::vector<int> encode(std::string_view text, bool add_bos = false, bool add_eos = false) const;
  std::vector<std::vector<int>> encode_batch(const std::vector<std::string>& texts, bool add_bos = false,
                                             bool add_eos = false) const;
  // Control tokens (`<s>`) and added tokens are written as their text, or left out when
  // skip_special_tokens and is_special(id). InvalidArgument for ids outside [0, vocab_size()).
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
  bool add_eos_token() const;  // from tokenizer_config.json (default false)
  const std::vector<AddedToken>& added_tokens() const;  // sorted by id

  // Copies share the immutable SentencePiece model; added tokens belong to each copy.
  // A const Tokenizer may be used from many threads at once. A moved-from Tokenizer may
  // only be assigned to or destroyed.
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
