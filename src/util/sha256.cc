#include "util/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "lrem/error.h"

namespace lrem {

namespace {

// libcrypto fails only when it cannot allocate or its provider is missing: the machine's
// OpenSSL installation, not the caller's input, is at fault.
void check(int ok, const char* what) {
  if (ok != 1) throw Error(std::string("OpenSSL SHA-256: ") + what + " failed (is libcrypto installed correctly?)");
}

}  // namespace

void Sha256::FreeContext::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) throw Error("OpenSSL SHA-256: cannot allocate a digest context");
  check(EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr), "EVP_DigestInit_ex");
}

void Sha256::update(std::string_view data) { update(data.data(), data.size()); }

void Sha256::update(const void* data, size_t n) { check(EVP_DigestUpdate(ctx_.get(), data, n), "EVP_DigestUpdate"); }

std::array<uint8_t, 32> Sha256::finish() {
  std::array<uint8_t, 32> digest{};
  unsigned int size = 0;
  check(EVP_DigestFinal_ex(ctx_.get(), digest.data(), &size), "EVP_DigestFinal_ex");
  if (size != digest.size()) throw Error("OpenSSL SHA-256: digest of " + std::to_string(size) + " bytes, expected 32");
  return digest;
}

std::string Sha256::finish_hex() {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t byte : finish()) {
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 hasher;
  hasher.update(data);
  return hasher.finish_hex();
}

std::string sha256_file_hex(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw IoError("cannot open '" + path + "'");
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> close(f, &std::fclose);
  Sha256 hasher;
  std::vector<char> buf(size_t(1) << 20);
  while (const size_t n = std::fread(buf.data(), 1, buf.size(), f)) hasher.update(buf.data(), n);
  if (std::ferror(f)) throw IoError("cannot read '" + path + "'");
  return hasher.finish_hex();
}

}  // namespace lrem
