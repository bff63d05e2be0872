// SHA-256 (FIPS 180-4). Index files carry their digest in meta.json so a truncated or
// corrupted file is refused before FAISS ever parses it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace lrem {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  void update(const void* data, size_t n);
  // The digest of everything passed to update(). The object must not be used afterwards.
  std::array<uint8_t, 32> finish();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// Lower-case hexadecimal digest of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace lrem
