#include "model/added_vocabulary.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>

#include "model/text_normalizer.h"

namespace lrem {

namespace {

// Rust regex's \w: Alphabetic, marks, decimal digits, connector punctuation, join controls.
bool is_word_character(UChar32 c) {
  if (u_hasBinaryProperty(c, UCHAR_ALPHABETIC) || u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL)) return true;
  switch (u_charType(c)) {
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
    case U_DECIMAL_DIGIT_NUMBER:
    case U_CONNECTOR_PUNCTUATION: return true;
    default: return false;
  }
}

UChar32 code_point_before(std::string_view text, size_t end) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  int32_t i = int32_t(end);
  UChar32 c;
  U8_PREV(s, 0, i, c);
  return c;
}

UChar32 code_point_at(std::string_view text, size_t start) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  int32_t i = int32_t(start);
  UChar32 c;
  U8_NEXT(s, i, int32_t(text.size()), c);
  return c;
}

// Where the run of Unicode whitespace that ends at `end` begins.
size_t whitespace_start_before(std::string_view text, size_t end) {
  while (end > 0) {
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    int32_t i = int32_t(end);
    UChar32 c;
    U8_PREV(s, 0, i, c);
    if (!u_isUWhiteSpace(c)) break;
    end = size_t(i);
  }
  return end;
}

// Where the run of Unicode whitespace that starts at `start` ends.
size_t whitespace_end_after(std::string_view text, size_t start) {
  while (start < text.size()) {
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    int32_t i = int32_t(start);
    UChar32 c;
    U8_NEXT(s, i, int32_t(text.size()), c);
    if (!u_isUWhiteSpace(c)) break;
    start = size_t(i);
  }
  return start;
}

}  // namespace

void AddedVocabulary::add(AddedToken token, const TextNormalizer* normalizer) {
  const size_t index = tokens_.size();
  by_id_[token.id] = index;
  by_content_[token.content] = index;
  end_id_ = std::max(end_id_, token.id + 1);
  Pattern pattern{token.content, index};
  if (token.normalized && normalizer) normalizer->apply(pattern.text);
  Matcher& matcher = token.normalized ? normalized_ : raw_;
  tokens_.push_back(std::move(token));
  if (pattern.text.empty()) return;
  matcher.first_bytes.set(static_cast<unsigned char>(pattern.text[0]));
  const auto at = std::upper_bound(matcher.longest_first.begin(), matcher.longest_first.end(), pattern.text.size(),
                                   [](size_t size, const Pattern& p) { return size > p.text.size(); });
  matcher.longest_first.insert(at, std::move(pattern));
}

const AddedVocabulary::Pattern* AddedVocabulary::match_at(const Matcher& matcher, std::string_view text, size_t pos) {
  if (!matcher.first_bytes.test(static_cast<unsigned char>(text[pos]))) return nullptr;
  for (const Pattern& pattern : matcher.longest_first)
    if (text.compare(pos, pattern.text.size(), pattern.text) == 0) return &pattern;
  return nullptr;
}

void AddedVocabulary::split(std::string_view text, bool normalized, std::vector<Segment>& out) const {
  const Matcher& matcher = normalized ? normalized_ : raw_;
  size_t emitted = 0;  // text before this is in `out`
  size_t pos = 0;
  while (pos < text.size()) {
    const Pattern* pattern = matcher.longest_first.empty() ? nullptr : match_at(matcher, text, pos);
    if (!pattern) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[pattern->token];
    size_t start = pos, stop = pos + pattern->text.size();
    pos = stop;  // a discarded match still consumes its text, as the Aho-Corasick scan does
    if (token.single_word && ((start > 0 && is_word_character(code_point_before(text, start))) ||
                              (stop < text.size() && is_word_character(code_point_at(text, stop)))))
      continue;
    if (token.lstrip) start = std::max(whitespace_start_before(text, start), emitted);
    if (token.rstrip) pos = stop = whitespace_end_after(text, stop);
    if (start > emitted) out.push_back({text.substr(emitted, start - emitted), nullptr});
    out.push_back({text.substr(start, stop - start), &token});
    emitted = stop;
  }
  if (emitted < text.size()) out.push_back({text.substr(emitted), nullptr});
}

const AddedToken* AddedVocabulary::find(int id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  const auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

}  // namespace lrem
