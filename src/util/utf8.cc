#include "util/utf8.h"

#include <unicode/utf8.h>

#include <cstdint>

namespace lrem {

// ICU's U8_NEXT implements the same definition of well-formed UTF-8 (Unicode Table 3-7)
// and yields a negative code point for an ill-formed sequence.
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

}  // namespace lrem
