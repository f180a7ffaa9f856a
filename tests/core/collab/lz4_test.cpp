// The LZ4 block codec of the collab encoding (core/src/collab/lz4.h): round trips of every
// kind of input, a block written by hand from the format's description, and the
// decompressor's refusal of truncated, corrupted and lying blocks.
#include "collab/lz4.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

namespace chorus::collab::detail {
namespace {

std::string round_trip(const std::string& input) {
  std::string block = lz4_compress(input);
  auto back = lz4_decompress(block, input.size());
  EXPECT_TRUE(back.ok()) << (back.ok() ? "" : back.error().message);
  return back.ok() ? back.value() : std::string("<failed>");
}

std::string english(std::size_t n, unsigned seed) {
  static const char* kWords[] = {"the ", "collaborative ", "editor ", "keeps ",    "every ",      "character ",
                                 "in ",  "order, ",        "and ",    "replicas ", "converge.\n", "\\section{"};
  std::mt19937 rng(seed);
  std::string out;
  while (out.size() < n) out += kWords[rng() % 12];
  out.resize(n);
  return out;
}

TEST(Lz4, RoundTripsEveryKindOfInput) {
  std::mt19937 rng(1);
  std::string random_bytes(10'000, '\0');
  for (char& c : random_bytes) c = static_cast<char>(rng());
  for (const std::string& input :
       {std::string(), std::string("a"), std::string("abcdefghijkl"), std::string("abcdefghijklm"),
        std::string(100'000, 'a'), random_bytes, english(200'000, 2), std::string(70'000, '\0') + "tail"}) {
    EXPECT_EQ(round_trip(input), input) << input.size();
  }
  // Every length around the format's boundaries (15 literals, 12-byte end rule, 64 KiB window).
  for (std::size_t n = 0; n < 300; ++n) EXPECT_EQ(round_trip(english(n, 3)), english(n, 3)) << n;
  std::string far = english(70'000, 4);
  far += far.substr(0, 5000);  // a repeat just past the window: literals, still correct
  EXPECT_EQ(round_trip(far), far);
}

TEST(Lz4, TextShrinks) {
  const std::string text = english(100'000, 5);
  EXPECT_LT(lz4_compress(text).size(), text.size() / 3);
  EXPECT_LT(lz4_compress(std::string(100'000, 'x')).size(), 500u);
}

TEST(Lz4, ReadsABlockWrittenFromTheFormatDescription) {
  // "abc" then a match of 9 at offset 3 (token 0x35: 3 literals, 9 - 4 = 5), then the last
  // five literals (token 0x50).
  const std::string block = std::string(
      "\x35"
      "abc"
      "\x03\x00"
      "\x50"
      "xyzw1",
      12);
  auto out = lz4_decompress(block, 17);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out.value(), "abcabcabcabcxyzw1");
  // Extended lengths: token 0xFF, then 15 + 5 literals and a match of 4 + 15 + 1 at offset 1.
  const std::string literals(20, 'q');
  const std::string extended = std::string("\xFF\x05", 2) + literals + std::string("\x01\x00\x01", 3) +
                               "\x50"
                               "12345";
  out = lz4_decompress(extended, 20 + 20 + 5);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out.value(), std::string(40, 'q') + "12345");
}

TEST(Lz4, RefusesBadBlocks) {
  const std::string input = english(5'000, 6);
  const std::string block = lz4_compress(input);
  for (std::size_t n = 0; n < block.size(); ++n) {
    EXPECT_FALSE(lz4_decompress(block.substr(0, n), input.size()).ok()) << n;
  }
  EXPECT_FALSE(lz4_decompress(block, input.size() + 1).ok());  // shorter than declared
  EXPECT_FALSE(lz4_decompress(block, input.size() - 1).ok());  // longer than declared
  EXPECT_FALSE(lz4_decompress(std::string("\x35"
                                          "abc"
                                          "\x00\x00"
                                          "\x50"
                                          "xyzw1",
                                          12),
                              17)
                   .ok());  // offset 0
  EXPECT_FALSE(lz4_decompress(std::string("\x35"
                                          "abc"
                                          "\x04\x00"
                                          "\x50"
                                          "xyzw1",
                                          12),
                              17)
                   .ok());                                                           // before the start
  EXPECT_FALSE(lz4_decompress(std::string("\xF0\xFF\xFF\xFF", 4), 1'000'000).ok());  // literals past the end
  // Random corruption: an error or exactly the declared size, never a crash or an overrun.
  std::mt19937_64 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::string bad = block;
    for (int i = 0; i < 1 + static_cast<int>(rng() % 4); ++i)
      bad[rng() % bad.size()] ^= static_cast<char>(1u << (rng() % 8));
    auto out = lz4_decompress(bad, input.size());
    if (out.ok()) EXPECT_EQ(out.value().size(), input.size());
  }
}

}  // namespace
}  // namespace chorus::collab::detail
