#include "chorus/base64.h"

#include <gtest/gtest.h>

namespace chorus::base64 {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (auto [plain, coded] : vectors) {
    EXPECT_EQ(encode(plain), coded);
    auto d = decode(coded);
    ASSERT_TRUE(d.ok()) << coded;
    EXPECT_EQ(d.value(), plain);
  }
}

TEST(Base64, AllBytesRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(decode(encode(all)).value(), all);
}

TEST(Base64, UnpaddedFinalGroupAccepted) {
  EXPECT_EQ(decode("Zg").value(), "f");
  EXPECT_EQ(decode("Zm8").value(), "fo");
}

TEST(Base64, RejectsBadInput) {
  for (const char* bad : {"Z", "Zg=", "Z===", "Zm9v!", "Zm 9v", "Zm9v\n", "=Zm9", "Zg==Zg==", "Zh==", "Zm9=", "-_-_"}) {
    auto d = decode(bad);
    EXPECT_FALSE(d.ok()) << bad;
  }
}

}  // namespace
}  // namespace chorus::base64
