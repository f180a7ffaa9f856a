#include "chorus/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace chorus::utf8 {
namespace {

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

// Encodes any value up to 0x1FFFFF the naive way (surrogates included), so the tests can
// build both valid text and RFC 3629 violations.
std::string encode(std::uint32_t cp) {
  std::string s;
  auto put = [&s](std::uint32_t b) { s.push_back(static_cast<char>(b)); };
  if (cp < 0x80) {
    put(cp);
  } else if (cp < 0x800) {
    put(0xC0 | (cp >> 6));
    put(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    put(0xE0 | (cp >> 12));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  } else {
    put(0xF0 | (cp >> 18));
    put(0x80 | ((cp >> 12) & 0x3F));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  }
  return s;
}

// Straightforward rule-by-rule decoder (RFC 3629 §3, §4) used as the oracle for the DFA.
bool reference_is_valid(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

const std::vector<std::string>& valid_samples() {
  static const std::vector<std::string> samples = {
      "",
      "hello, world",
      bytes({0x00}),
      bytes({0x7F}),
      bytes({0xC2, 0x80}),              // U+0080, smallest 2-byte
      bytes({0xC3, 0xA9}),              // é
      bytes({0xDF, 0xBF}),              // U+07FF, largest 2-byte
      bytes({0xE0, 0xA0, 0x80}),        // U+0800, smallest 3-byte
      bytes({0xE2, 0x82, 0xAC}),        // €
      bytes({0xED, 0x9F, 0xBF}),        // U+D7FF, just below the surrogates
      bytes({0xEE, 0x80, 0x80}),        // U+E000, just above the surrogates
      bytes({0xEF, 0xBF, 0xBF}),        // U+FFFF
      bytes({0xF0, 0x90, 0x80, 0x80}),  // U+10000, smallest 4-byte
      bytes({0xF0, 0x9F, 0x98, 0x80}),  // 😀
      bytes({0xF4, 0x8F, 0xBF, 0xBF}),  // U+10FFFF, largest code point
      "a\xC3\xA9z\xE2\x82\xAC\xF0\x9F\x98\x80!",
  };
  return samples;
}

const std::vector<std::string>& invalid_samples() {
  static const std::vector<std::string> samples = {
      bytes({0xC0, 0x80}),                          // overlong U+0000
      bytes({0xC1, 0xBF}),                          // overlong U+007F
      bytes({0xE0, 0x80, 0x80}),                    // overlong U+0000
      bytes({0xE0, 0x9F, 0xBF}),                    // overlong U+07FF
      bytes({0xF0, 0x80, 0x80, 0x80}),              // overlong U+0000
      bytes({0xF0, 0x8F, 0xBF, 0xBF}),              // overlong U+FFFF
      bytes({0xED, 0xA0, 0x80}),                    // U+D800, high surrogate
      bytes({0xED, 0xBF, 0xBF}),                    // U+DFFF, low surrogate
      bytes({0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80}),  // CESU-8 surrogate pair
      bytes({0xF4, 0x90, 0x80, 0x80}),              // U+110000
      bytes({0xF5, 0x80, 0x80, 0x80}),
      bytes({0xF7, 0xBF, 0xBF, 0xBF}),
      bytes({0xF8, 0x88, 0x80, 0x80, 0x80}),  // old 5-byte form
      bytes({0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}),
      bytes({0xFE}),
      bytes({0xFF}),
      bytes({0x80}),  // lone continuation
      bytes({0xBF}),
      bytes({0x41, 0x80, 0x41}),
      bytes({0xC3}),              // truncated 2-byte
      bytes({0xE2, 0x82}),        // truncated 3-byte
      bytes({0xF0, 0x9F, 0x98}),  // truncated 4-byte
      bytes({0xC3, 0x41}),        // lead then ASCII
      bytes({0xE2, 0x41, 0xAC}),
      bytes({0xF0, 0x9F, 0x41, 0x80}),
      "abc\xC3",  // truncated at the end of longer text
  };
  return samples;
}

TEST(Utf8Test, AcceptsAscii) {
  EXPECT_TRUE(is_valid(""));
  EXPECT_TRUE(is_valid("The quick brown fox"));
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  EXPECT_TRUE(is_valid(all));
}

TEST(Utf8Test, AcceptsValidSamples) {
  for (const auto& s : valid_samples()) EXPECT_TRUE(is_valid(s)) << testing::PrintToString(s);
}

TEST(Utf8Test, RejectsInvalidSamples) {
  for (const auto& s : invalid_samples()) EXPECT_FALSE(is_valid(s)) << testing::PrintToString(s);
}

TEST(Utf8Test, RejectsEveryLeadByteF5ToFF) {
  for (int lead = 0xF5; lead <= 0xFF; ++lead) {
    EXPECT_FALSE(is_valid(bytes({lead}))) << lead;
    EXPECT_FALSE(is_valid(bytes({lead, 0x80, 0x80, 0x80}))) << lead;
  }
}

TEST(Utf8Test, AcceptsEveryScalarValueAndRejectsEverySurrogate) {
  for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const std::string s = encode(cp);
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    ASSERT_EQ(is_valid(s), !surrogate) << std::hex << cp;
    if (!surrogate) {
      ASSERT_EQ(utf16_length(s), cp >= 0x10000 ? 2u : 1u) << std::hex << cp;
    }
  }
  EXPECT_FALSE(is_valid(encode(0x110000)));
  EXPECT_FALSE(is_valid(encode(0x1FFFFF)));
}

TEST(Utf8Test, MatchesReferenceOnAllOneAndTwoByteSequences) {
  for (int a = 0; a < 256; ++a) {
    ASSERT_EQ(is_valid(bytes({a})), reference_is_valid(bytes({a}))) << a;
    for (int b = 0; b < 256; ++b) {
      const std::string s = bytes({a, b});
      ASSERT_EQ(is_valid(s), reference_is_valid(s)) << a << " " << b;
    }
  }
}

TEST(Utf8Test, MatchesReferenceOnMultiByteLeads) {
  // Every 3-byte sequence with a 3-byte lead, and every 4-byte lead/second-byte pair with
  // tails around the continuation-range edges: covers each DFA state's full transition row.
  for (int a = 0xE0; a <= 0xEF; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (int c = 0; c < 256; ++c) {
        const std::string s = bytes({a, b, c});
        ASSERT_EQ(is_valid(s), reference_is_valid(s)) << a << " " << b << " " << c;
      }
    }
  }
  const int tails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
  for (int a = 0xF0; a <= 0xFF; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (int c : tails) {
        for (int d : tails) {
          const std::string s = bytes({a, b, c, d});
          ASSERT_EQ(is_valid(s), reference_is_valid(s)) << a << " " << b << " " << c << " " << d;
        }
      }
    }
  }
}

TEST(Utf8ValidatorTest, FeedReportsPrefixValidityAndCompleteReportsTheWhole) {
  Validator v;
  EXPECT_TRUE(v.complete());  // nothing fed yet is trivially complete
  EXPECT_TRUE(v.feed(bytes({0xF0, 0x9F})));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed(bytes({0x98})));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed(bytes({0x80})));
  EXPECT_TRUE(v.complete());
  EXPECT_TRUE(v.feed(""));
  EXPECT_TRUE(v.complete());
}

TEST(Utf8ValidatorTest, FailsOnTheFirstByteThatCannotStartValidText) {
  Validator overlong;
  EXPECT_TRUE(overlong.feed(bytes({0xE0})));
  EXPECT_FALSE(overlong.feed(bytes({0x80})));  // E0 80 can only be an overlong

  Validator surrogate;
  EXPECT_TRUE(surrogate.feed(bytes({0xED})));
  EXPECT_FALSE(surrogate.feed(bytes({0xA0})));

  Validator too_big;
  EXPECT_TRUE(too_big.feed(bytes({0xF4})));
  EXPECT_FALSE(too_big.feed(bytes({0x90})));

  Validator lead;
  EXPECT_FALSE(lead.feed(bytes({0xC0})));
}

TEST(Utf8ValidatorTest, StaysRejectedUntilReset) {
  Validator v;
  EXPECT_FALSE(v.feed(bytes({0xFF})));
  EXPECT_FALSE(v.complete());
  EXPECT_FALSE(v.feed("plain ascii"));
  EXPECT_FALSE(v.complete());
  v.reset();
  EXPECT_TRUE(v.complete());
  EXPECT_TRUE(v.feed("plain ascii"));
  EXPECT_TRUE(v.complete());
}

// Feeding any chunking must agree with the one-shot answer.
bool fed_in_pieces(const std::string& s, const std::vector<std::size_t>& cuts) {
  Validator v;
  std::size_t from = 0;
  bool ok = true;
  for (std::size_t cut : cuts) {
    ok = v.feed(std::string_view(s).substr(from, cut - from)) && ok;
    from = cut;
  }
  ok = v.feed(std::string_view(s).substr(from)) && ok;
  return ok && v.complete();
}

TEST(Utf8ValidatorTest, IncrementalFeedingAgreesAtEverySplitPosition) {
  std::vector<std::string> all = valid_samples();
  all.insert(all.end(), invalid_samples().begin(), invalid_samples().end());
  for (const auto& s : all) {
    const bool expected = is_valid(s);
    for (std::size_t i = 0; i <= s.size(); ++i) {
      EXPECT_EQ(fed_in_pieces(s, {i}), expected) << testing::PrintToString(s) << " @" << i;
      for (std::size_t j = i; j <= s.size(); ++j) {
        EXPECT_EQ(fed_in_pieces(s, {i, j}), expected) << testing::PrintToString(s) << " @" << i << "," << j;
      }
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < s.size(); ++i) every.push_back(i);
    EXPECT_EQ(fed_in_pieces(s, every), expected) << testing::PrintToString(s) << " byte-wise";
  }
}

TEST(Utf8Test, Utf16LengthCountsCodeUnitsLikeJavaScript) {
  EXPECT_EQ(utf16_length(""), 0u);
  EXPECT_EQ(utf16_length("hello"), 5u);
  EXPECT_EQ(utf16_length("\xC3\xA9"), 1u);          // é
  EXPECT_EQ(utf16_length("\xE2\x82\xAC"), 1u);      // €
  EXPECT_EQ(utf16_length("\xEF\xBF\xBF"), 1u);      // U+FFFF, last BMP code point
  EXPECT_EQ(utf16_length("\xF0\x9F\x98\x80"), 2u);  // 😀: a surrogate pair
  EXPECT_EQ(utf16_length("\xF4\x8F\xBF\xBF"), 2u);  // U+10FFFF
  EXPECT_EQ(utf16_length("a\xF0\x9F\x98\x80"
                         "b\xE2\x82\xAC"),
            5u);
  // 👍🏽 is two non-BMP code points: "👍🏽".length === 4 in JavaScript.
  EXPECT_EQ(utf16_length("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"), 4u);
}

}  // namespace
}  // namespace chorus::utf8
