// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
// Text from files and callers is checked once at the boundary so everything inside can
// assume valid UTF-8 (nlohmann::json, for one, throws when dumping invalid strings).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lrem {

// Byte offset of the first invalid sequence, or npos if `text` is valid UTF-8.
size_t find_invalid_utf8(std::string_view text);

// `bytes` with every invalid sequence replaced by U+FFFD, one per maximal subpart (what
// Rust's String::from_utf8_lossy and Python's errors="replace" do).
std::string replace_invalid_utf8(std::string_view bytes);

inline bool is_valid_utf8(std::string_view text) { return find_invalid_utf8(text) == std::string_view::npos; }

}  // namespace lrem
