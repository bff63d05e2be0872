#include "util/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace lrem {
namespace {

// Test vectors from NIST FIPS 180-4 examples (SHA256.pdf) and the NIST CAVS byte tests.
TEST(Sha256, NistVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalUpdatesMatchOneShot) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += char(i * 7 + 3);
  // Chunk sizes straddle the 64-byte block and the 56-byte padding boundary.
  for (size_t chunk : {1, 7, 55, 56, 63, 64, 65, 200}) {
    Sha256 hasher;
    for (size_t at = 0; at < data.size(); at += chunk) hasher.update(std::string_view(data).substr(at, chunk));
    auto digest = hasher.finish();
    Sha256 once;
    once.update(data);
    EXPECT_EQ(digest, once.finish()) << "chunk " << chunk;
  }
}

}  // namespace
}  // namespace lrem
