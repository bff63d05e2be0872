// SHA-256 (FIPS 180-4), computed by OpenSSL's libcrypto. Index files carry their digest in
// meta.json so a truncated or corrupted file is refused before FAISS ever parses it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace lrem {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  void update(const void* data, size_t n);
  // The digest of everything passed to update(). The object must not be used afterwards.
  std::array<uint8_t, 32> finish();
  // The same as lower-case hexadecimal.
  std::string finish_hex();

 private:
  struct FreeContext {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, FreeContext> ctx_;
};

// Lower-case hexadecimal digest of `data`.
std::string sha256_hex(std::string_view data);
// ... of the file at `path`, read in blocks; IoError if it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace lrem
