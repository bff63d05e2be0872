#include "util/utf8.h"

#include <cstdint>

namespace lrem {

namespace {

// The length (1-4) of the valid sequence starting at s[i], or 0 if there is none; then
// `maximal_subpart` is the length of the longest prefix of a valid sequence found there
// (at least 1), the unit that one U+FFFD replaces (Unicode "maximal subpart" practice).
size_t sequence_at(const uint8_t* s, size_t n, size_t i, size_t& maximal_subpart) {
  const uint8_t c = s[i];
  maximal_subpart = 1;
  if (c < 0x80) return 1;
  // Sequence length and the allowed range of the second byte (Unicode Table 3-7).
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + 1 >= n || s[i + 1] < lo || s[i + 1] > hi) return 0;
  for (size_t j = 2; j < len; ++j) {
    maximal_subpart = j;
    if (i + j >= n || (s[i + j] & 0xC0) != 0x80) return 0;
  }
  return len;
}

}  // namespace

size_t find_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  size_t bad;
  for (size_t i = 0; i < text.size();) {
    const size_t len = sequence_at(s, text.size(), i, bad);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

std::string replace_invalid_utf8(std::string_view bytes) {
  const auto* s = reinterpret_cast<const uint8_t*>(bytes.data());
  std::string out;
  out.reserve(bytes.size());
  size_t bad;
  for (size_t i = 0; i < bytes.size();) {
    const size_t len = sequence_at(s, bytes.size(), i, bad);
    if (len > 0) {
      out.append(bytes.data() + i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += bad;
    }
  }
  return out;
}

}  // namespace lrem
