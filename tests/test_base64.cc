// base64_encode against RFC 4648's test vectors.
#include "util/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace lrem {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const auto enc = [](const std::string& s) { return base64_encode(s.data(), s.size()); };
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg==");
  EXPECT_EQ(enc("fo"), "Zm8=");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("foob"), "Zm9vYg==");
  EXPECT_EQ(enc("fooba"), "Zm9vYmE=");
  EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
  const unsigned char high[] = {0xff, 0xfe, 0x00, 0x80};
  EXPECT_EQ(base64_encode(high, sizeof(high)), "//4AgA==");
}

}  // namespace
}  // namespace lrem
