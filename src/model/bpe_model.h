// The `model` of a Hugging Face tokenizer.json when its type is BPE: a vocabulary, ranked
// merges, and the options byte_fallback, unk_token, fuse_unk and ignore_merges. A word
// (one pre-tokenized piece) is split into characters and the adjacent pair with the best
// rank is merged until none applies, exactly as the Rust `tokenizers` crate does it.
//
// Immutable after construction except for a bounded word cache, which is internally
// synchronized: a const BpeModel may be used from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/json_reader.h"

namespace lrem {

class BpeModel {
 public:
  // `model` is tokenizer.json's "model" object. FormatError naming the field for any other
  // model type, dropout, continuing_subword_prefix or end_of_word_suffix, a merge whose
  // parts or result are not in the vocabulary, or duplicate ids.
  explicit BpeModel(const JsonValue& model);
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;
  ~BpeModel();

  // Appends the ids of one word.
  void encode_word(std::string_view word, std::vector<int>& ids) const;

  int token_to_id(std::string_view token) const;  // -1 if not in the vocabulary
  // The token with this id, or nullptr if none (ids may leave gaps).
  const std::string* id_to_token(int id) const;
  int size() const { return size_; }                      // vocabulary entries
  int end_id() const { return int(tokens_by_id_.size()); }  // 1 + the largest id
  int unk_id() const { return unk_id_; }                  // -1 if none

 private:
  struct Merge {
    int rank;
    int new_id;
  };
  struct CacheEntry;

  const Merge* find_merge(int left, int right) const;
  void merge_word(std::string_view word, std::vector<int>& ids) const;

  std::vector<std::string> tokens_by_id_;               // never resized after construction
  std::vector<bool> has_id_;
  std::unordered_map<std::string_view, int> ids_;       // views into tokens_by_id_
  std::unordered_map<uint64_t, Merge> merges_;          // key: left id << 32 | right id
  std::vector<int> byte_ids_;                           // "<0xAB>" tokens by byte value, -1 if absent
  int size_ = 0;
  int unk_id_ = -1;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;

  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string_view, std::unique_ptr<CacheEntry>> cache_;  // views into entries
};

}  // namespace lrem
