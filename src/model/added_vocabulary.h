// A tokenizer.json's `added_tokens`: strings that are cut out of the text before
// normalization and pre-tokenization and become their own ids, with Hugging Face's rules:
// leftmost-longest match; tokens with `normalized: false` are matched in the raw text,
// those with `normalized: true` in the normalized text between them; `single_word` only
// matches outside words; `lstrip`/`rstrip` swallow the whitespace beside the match.
#pragma once

#include <bitset>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lrem/tokenizer.h"

namespace lrem {

class TextNormalizer;

class AddedVocabulary {
 public:
  // One piece of a split text: an added token, or text between tokens.
  struct Segment {
    std::string_view text;
    const AddedToken* token = nullptr;
  };

  // Registers a token; the caller has checked that its id and content are new. The
  // normalizer (may be null) spells the pattern of a `normalized` token.
  void add(AddedToken token, const TextNormalizer* normalizer);

  // Cuts `text` at the tokens of one kind (normalized or not). Views point into `text`.
  void split(std::string_view text, bool normalized, std::vector<Segment>& out) const;

  const AddedToken* find(int id) const;
  const AddedToken* find(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }  // in the order added
  int end_id() const { return end_id_; }  // 1 + the largest id, 0 if empty

 private:
  struct Pattern {
    std::string text;
    size_t token;  // index into tokens_
  };
  struct Matcher {
    std::vector<Pattern> longest_first;
    std::bitset<256> first_bytes;  // a cheap "nothing starts here"
  };
  // The longest pattern starting at text[pos], or nullptr.
  static const Pattern* match_at(const Matcher& matcher, std::string_view text, size_t pos);

  std::vector<AddedToken> tokens_;
  std::unordered_map<int, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_content_;
  Matcher raw_, normalized_;
  int end_id_ = 0;
};

}  // namespace lrem
