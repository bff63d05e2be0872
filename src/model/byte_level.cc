#include "model/byte_level.h"

#include <array>
#include <cstdint>

namespace lrem::byte_level {

namespace {

constexpr bool maps_to_itself(int byte) { return (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174; }

struct Alphabet {
  std::array<std::string, 256> spelling;    // byte -> UTF-8 of its code point
  std::array<int16_t, 324> byte_of_code{};  // code point -> byte, or -1

  Alphabet() {
    byte_of_code.fill(-1);
    int next = 256;
    for (int byte = 0; byte < 256; ++byte) {
      const int code = maps_to_itself(byte) ? byte : next++;
      byte_of_code[code] = static_cast<int16_t>(byte);
      // Every code point here is below U+0800: one or two UTF-8 bytes.
      spelling[byte] = code < 0x80 ? std::string(1, char(code))
                                   : std::string{char(0xC0 | (code >> 6)), char(0x80 | (code & 0x3F))};
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet table;
  return table;
}

}  // namespace

void encode(std::string_view bytes, std::string& out) {
  const Alphabet& a = alphabet();
  for (const char c : bytes) out += a.spelling[static_cast<uint8_t>(c)];
}

bool decode(std::string_view token, std::string& out) {
  const Alphabet& a = alphabet();
  const size_t start = out.size();
  for (size_t i = 0; i < token.size();) {
    const auto c = static_cast<uint8_t>(token[i]);
    int code = -1;
    if (c < 0x80) {
      code = c;
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < token.size()) {
      code = ((c & 0x1F) << 6) | (static_cast<uint8_t>(token[i + 1]) & 0x3F);
      i += 2;
    }
    if (code < 0 || code >= int(a.byte_of_code.size()) || a.byte_of_code[code] < 0) {
      out.resize(start);
      return false;
    }
    out += static_cast<char>(a.byte_of_code[code]);
  }
  return true;
}

}  // namespace lrem::byte_level
