// GPT-2's byte-level alphabet: a reversible map from each of the 256 byte values to a
// printable code point, so that any byte string becomes text a BPE vocabulary can spell
// (space becomes "Ġ", newline "Ċ"). Printable Latin-1 bytes map to themselves; the other
// 68 take U+0100 upwards in byte order.
#pragma once

#include <string>
#include <string_view>

namespace lrem::byte_level {

// Appends the byte-level spelling (UTF-8) of `bytes` to `out`.
void encode(std::string_view bytes, std::string& out);

// Appends the bytes that the byte-level text `token` spells. False (and `out` unchanged) if
// some character of `token` is not in the alphabet.
bool decode(std::string_view token, std::string& out);

}  // namespace lrem::byte_level
