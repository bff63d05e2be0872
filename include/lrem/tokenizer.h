// A tokenizer in one of the two Hugging Face formats:
// - SentencePiece (`tokenizer.model`, Llama 1/2 style) plus added special tokens
//   (`<think>`, `</think>`, `<emb>`, ...) recorded in tokenizer_config.json under
//   `added_tokens_decoder`; added tokens take ids after the SentencePiece vocabulary.
//   SentencePiece runs in its own dynamic-linker namespace (see
//   src/model/sentencepiece_library.h): its bundled protobuf would otherwise clash with
//   libtorch's.
// - A fast-tokenizer `tokenizer.json` with a byte-level BPE model (GPT-2, Llama 3, Qwen2),
//   following the Rust `tokenizers` pipeline (src/model/bpe_tokenizer.h); parts of the
//   format it does not implement are refused when loading, never approximated.
// Either way, text is split on added-token strings first, so they are never split.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lrem {

// One entry of tokenizer_config.json's `added_tokens_decoder` or tokenizer.json's
// `added_tokens`. Ids below the base vocabulary size name an existing piece (Llama lists
// `<s>` as 1); the others follow it.
struct AddedToken {
  int id = -1;
  std::string content;
  bool special = true;  // skipped by decode(..., skip_special_tokens=true)
  bool lstrip = false;  // when matched, swallows the whitespace to its left
  bool rstrip = false;  // ... and to its right
  // tokenizer.json only (SentencePiece tokenizers ignore them):
  bool single_word = false;  // matches only where no word character touches it
  bool normalized = false;   // matched in the normalized text instead of the raw text
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

class BpeTokenizer;

class Tokenizer {
 public:
  // Loads a Hugging Face `tokenizer.json` when `model_path` ends in ".json" (then
  // `tokenizer_config_path` must be empty). Otherwise loads `tokenizer.model` and, if
  // `tokenizer_config_path` is not empty, that
  // tokenizer_config.json: `added_tokens_decoder`, `add_bos_token`, `add_eos_token` and
  // `bos_token`/`eos_token`/`unk_token`/`pad_token` (strings or {"content": ...}).
  // IoError if a file cannot be read; FormatError naming the file if it is malformed, an
  // added token contradicts the SentencePiece piece with its id, or the added ids beyond
  // the SentencePiece vocabulary leave a gap.
  static Tokenizer load(const std::string& model_path, const std::string& tokenizer_config_path = "");
  // Loads from a Hugging Face model directory: tokenizer.json if present (as Hugging Face's
  // fast tokenizers prefer it), else tokenizer.model + optional tokenizer_config.json.
  static Tokenizer from_directory(const std::string& dir);

  // Trains a SentencePiece model on a text file (one sentence per line), writes
  // `<output_prefix>.model` and `<output_prefix>.vocab` (piece<TAB>score per line) and
  // returns the tokenizer. Llama's conventions: unk 0, BOS 1, EOS 2, no PAD; text is not
  // normalized, so decode(encode(x)) == x. IoError if the corpus cannot be read,
  // InvalidArgument for bad options or if SentencePiece refuses (e.g. vocab_size too large).
  static Tokenizer train(const std::string& corpus_path, const std::string& output_prefix,
                         const TokenizerTrainOptions& options = {});

  // Registers `content` as a special token if new and returns its id: the next id after
  // the vocabulary, or the id of the base-vocabulary piece spelled `content` (then encode
  // starts matching it in text). InvalidArgument if `content` is empty.
  int add_special_token(const std::string& content);
  // Writes tokenizer.model and tokenizer_config.json (added tokens, bos/eos, add_bos_token)
  // into `dir`, each atomically; a tokenizer.json tokenizer writes its tokenizer.json
  // instead, with the special tokens added since loading appended to `added_tokens`.
  void save(const std::string& dir) const;

  // Splits `text` on added-token strings (leftmost, then longest match), so those become
  // their single ids, and encodes the text between them with SentencePiece or BPE.
  // InvalidArgument if add_bos/add_eos is asked of a tokenizer without BOS/EOS, or (BPE
  // only) if `text` is not valid UTF-8.
  std::vector<int> encode(std::string_view text, bool add_bos = false, bool add_eos = false) const;
  // encode() plus the special tokens the tokenizer itself asks for, as Hugging Face's
  // `add_special_tokens=True`: tokenizer.json's post-processor template (Llama 3 puts
  // <|begin_of_text|> first), or add_bos_token/add_eos_token of tokenizer_config.json.
  std::vector<int> encode_with_special_tokens(std::string_view text) const;
  std::vector<std::vector<int>> encode_batch(const std::vector<std::string>& texts, bool add_bos = false,
                                             bool add_eos = false) const;
  // Control tokens (`<s>`) and added tokens are written as their text, or left out when
  // skip_special_tokens and is_special(id). InvalidArgument for ids outside [0, vocab_size()).
  std::string decode(const std::vector<int>& ids, bool skip_special_tokens = false) const;

  int piece_to_id(std::string_view piece) const;  // -1 if unknown
  std::string id_to_piece(int id) const;         // throws InvalidArgument if out of range
  bool is_special(int id) const;                 // control tokens and added special tokens

  int vocab_size() const;            // 1 + the largest id: base pieces + added tokens
  int sentencepiece_size() const;    // the base vocabulary only (SentencePiece or BPE pieces)
  // For tokenizer.json, BOS and EOS are the single special tokens its template puts
  // before and after the text (-1 if none); it has no PAD.
  int bos_id() const;
  int eos_id() const;
  int pad_id() const;  // -1 if none
  int unk_id() const;  // -1 if none
  bool add_bos_token() const;  // tokenizer_config.json (default true, as Llama), or the template has a BOS
  bool add_eos_token() const;  // tokenizer_config.json (default false), or the template has an EOS
  const std::vector<AddedToken>& added_tokens() const;  // sorted by id

  // Copies share the immutable SentencePiece or BPE model; added tokens belong to each copy.
  // A const Tokenizer may be used from many threads at once. A moved-from Tokenizer may
  // only be assigned to or destroyed.
  Tokenizer(const Tokenizer&);
  Tokenizer& operator=(const Tokenizer&);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

 private:
  struct Impl;  // the SentencePiece tokenizer
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  explicit Tokenizer(std::unique_ptr<BpeTokenizer> bpe);
  // Exactly one is set. Every method dispatches on bpe_ first, in tokenizer.cc.
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<BpeTokenizer> bpe_;
};

}  // namespace lrem
