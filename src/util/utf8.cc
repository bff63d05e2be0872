#include "util/utf8.h"

#include <unicode/utf8.h>

#include <cstdint>

namespace lrem {

// ICU's U8_NEXT implements the same definition of well-formed UTF-8 (Unicode Table 3-7).
// On an ill-formed sequence it yields a negative code point and steps over its maximal
// subpart, which is exactly the unit one U+FFFD replaces.
size_t find_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const size_t start = i;
    UChar32 c;
    U8_NEXT(s, i, n, c);
    if (c < 0) return start;
  }
  return std::string_view::npos;
}

std::string replace_invalid_utf8(std::string_view bytes) {
  const auto* s = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  std::string out;
  out.reserve(n);
  size_t i = 0;
  while (i < n) {
    const size_t start = i;
    UChar32 c;
    U8_NEXT(s, i, n, c);
    if (c < 0) out += "\xEF\xBF\xBD";
    else out.append(bytes.data() + start, i - start);
  }
  return out;
}

}  // namespace lrem
