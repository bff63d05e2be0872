// SentencePiece, reached through liblrem_sp.so in its own dynamic-linker namespace.
//
// Debian's libsentencepiece bundles protobuf 3.14 and exports it; libtorch links the
// system protobuf 3.21. In one symbol namespace the two crash (docs: STACK.md "Pitfall 1").
// So liblrem never links SentencePiece: on first use it dlmopen()s liblrem_sp.so
// (src/sentencepiece/sp_c_api.h) into a fresh namespace, once per process, and this class
// wraps its C interface.
//
// Where the library is looked for: $LREM_SP_LIBRARY if set, else liblrem_sp.so next to
// liblrem.so (the build tree's lib/, the install's libdir, or the Python package's rpath).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lrem/tokenizer.h"

struct lrem_sp_model;

namespace lrem {

// An immutable, loaded SentencePiece model. All methods are const and safe to call from
// many threads at once (SentencePiece's processor is), so tokenizers share one instance.
class SentencePieceModel {
 public:
  // Parses the bytes of a tokenizer.model file; FormatError naming `origin` if they are not
  // a SentencePiece model. IoError if liblrem_sp.so cannot be loaded.
  static std::shared_ptr<const SentencePieceModel> from_serialized(std::string_view bytes, const std::string& origin);
  // Trains on a corpus file (see Tokenizer::train); InvalidArgument if SentencePiece refuses.
  static std::shared_ptr<const SentencePieceModel> train(const std::string& corpus_path,
                                                         const TokenizerTrainOptions& options);

  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;
  ~SentencePieceModel();

  int size() const { return size_; }
  int unk_id() const { return unk_id_; }
  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  int pad_id() const { return pad_id_; }

  // Ids must be in [0, size()).
  bool is_control(int id) const;
  bool is_unknown(int id) const;
  bool is_byte(int id) const;
  float score(int id) const;
  std::string id_to_piece(int id) const;
  int piece_to_id(std::string_view piece) const;  // -1 if not in the vocabulary

  // Appends the ids of `text` to `ids`.
  void encode(std::string_view text, std::vector<int>& ids) const;
  // Ids must be in [0, size()).
  std::string decode(const int* ids, size_t count) const;
  // The bytes of a tokenizer.model file holding this model.
  std::string serialized() const;

 private:
  explicit SentencePieceModel(lrem_sp_model* handle);

  lrem_sp_model* handle_;
  int size_, unk_id_, bos_id_, eos_id_, pad_id_;
};

}  // namespace lrem
