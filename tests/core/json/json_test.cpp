#include "chorus/json/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace chorus::json {
namespace {

std::string roundtrip(std::string_view text) {
  auto v = parse(text);
  EXPECT_TRUE(v.ok()) << text << ": " << (v.ok() ? "" : v.error().message);
  if (!v.ok()) return "<error>";
  auto s = stringify(v.value());
  EXPECT_TRUE(s.ok());
  return s.ok() ? s.value() : "<error>";
}

std::string num(double d) {
  std::string out;
  format_number(d, out);
  return out;
}

TEST(JsonParse, ScalarsAndContainers) {
  EXPECT_EQ(roundtrip(R"([null,true,false,0,-1,1.5,"x",{},[]])"), R"([null,true,false,0,-1,1.5,"x",{},[]])");
  EXPECT_EQ(roundtrip(R"({"a":{"b":[1,{"c":"d"}]}})"), R"({"a":{"b":[1,{"c":"d"}]}})");
  EXPECT_EQ(roundtrip(" [ 1 , 2 ] "), "[1,2]");
}

TEST(JsonParse, DuplicateKeysKeepFirstPositionLastValue) {
  EXPECT_EQ(roundtrip(R"({"a":1,"b":2,"a":3})"), R"({"a":3,"b":2})");
  std::string big = "{";
  for (int i = 0; i < 40; ++i) big += "\"k" + std::to_string(i % 20) + "\":" + std::to_string(i) + ",";
  big.back() = '}';
  auto v = parse(big);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->size(), 20u);
  EXPECT_EQ(v->find("k0")->as_number(), 20);
}

TEST(JsonParse, StringEscapesAndUnicode) {
  EXPECT_EQ(roundtrip(R"(["\u00e9\u20ac\ud83d\ude00"])"), "[\"é€😀\"]");
  EXPECT_EQ(roundtrip(R"(["a\"b\\c\/d\b\f\n\r\t"])"), R"(["a\"b\\c/d\b\f\n\r\t"])");
  // Escaped NUL is valid JSON and kept; other control characters come back as \u00xx.
  auto v = parse(R"(["\u0000\u001f"])");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)[0].as_string(), std::string("\0\x1f", 2));
  EXPECT_EQ(stringify(*v).value(), R"(["\u0000\u001f"])");
  EXPECT_EQ(roundtrip("[\"\xe2\x80\xa8\x7f\"]"), "[\"\xe2\x80\xa8\x7f\"]");  // U+2028 and DEL stay raw
}

TEST(JsonParse, RejectsMalformed) {
  for (const char* bad : {"",           " ",    "[",    "]",      "[1,]",       "{\"a\"}",   "{a:1}",       "[1 2]",
                          "nul",        "[01]", "[1.]", "[.5]",   "[1e]",       "[-]",       "[+1]",        "[NaN]",
                          "[Infinity]", "'x'",  "[1]x", "[1][2]", "{\"a\":1,}", "[\"\\x\"]", "[\"\\u12\"]", "[\"abc"}) {
    auto v = parse(bad);
    EXPECT_FALSE(v.ok()) << "accepted: " << bad;
    if (!v.ok()) {
      EXPECT_FALSE(v.error().message.empty());
    }
  }
}

TEST(JsonParse, RejectsNulAndInvalidUtf8) {
  EXPECT_FALSE(parse(std::string_view("[1]\0[2]", 7)).ok());
  EXPECT_FALSE(parse(std::string_view("[\"a\0b\"]", 7)).ok());
  EXPECT_FALSE(parse(std::string_view("\0", 1)).ok());
  for (const char* bad :
       {"[\"\xff\"]", "[\"\xc0\x80\"]", "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]", "[\"\xe2\x82\"]"}) {
    auto v = parse(bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.error().code, ErrorCode::kInvalidUtf8) << v.error().message;
  }
  // Raw control characters must be escaped (RFC 8259 §7).
  EXPECT_FALSE(parse("[\"a\nb\"]").ok());
}

TEST(JsonParse, RejectsLoneSurrogateEscapes) {
  EXPECT_FALSE(parse(R"(["\ud800"])").ok());
  EXPECT_FALSE(parse(R"(["\udc00"])").ok());
  EXPECT_FALSE(parse(R"(["\ud800x"])").ok());
  EXPECT_FALSE(parse(R"(["\udc00\ud800"])").ok());
  EXPECT_TRUE(parse(R"(["\uD83D\uDE00"])").ok());
}

TEST(JsonParse, DepthLimitAtAndPast) {
  Limits limits;
  std::string at(limits.max_json_depth, '[');
  at += std::string(limits.max_json_depth, ']');
  EXPECT_TRUE(parse(at, limits).ok());
  std::string past(limits.max_json_depth + 1, '[');
  past += std::string(limits.max_json_depth + 1, ']');
  auto v = parse(past, limits);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kLimitExceeded);
  EXPECT_NE(v.error().message.find("nesting"), std::string::npos);
}

TEST(JsonParse, MillionNestedBracketsFailFastWithoutRecursion) {
  std::string deep(1'000'000, '[');
  auto v = parse(deep);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kLimitExceeded);
  std::string objects;
  for (int i = 0; i < 200'000; ++i) objects += "{\"a\":";
  EXPECT_FALSE(parse(objects).ok());
}

TEST(JsonParse, SizeLimitAtAndPast) {
  Limits limits;
  limits.max_payload = 10;
  EXPECT_TRUE(parse("[\"123456\"]", limits).ok());  // 10 bytes
  auto v = parse("[\"1234567\"]", limits);          // 11 bytes
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kLimitExceeded);
}

TEST(JsonParse, NumberGuards) {
  // CVE-2024-38517's trigger and an absurd exponent: clean errors, no crash.
  auto cve = parse("[0.00000000001e-2147483639]");
  ASSERT_FALSE(cve.ok());
  EXPECT_EQ(cve.error().code, ErrorCode::kLimitExceeded);
  auto huge = parse("[1e999999999]");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code, ErrorCode::kLimitExceeded);
  // Exponent digits: 4 accepted, 5 rejected; leading zeros do not count.
  EXPECT_TRUE(parse("[1e-9999]").ok());
  EXPECT_FALSE(parse("[1e-10000]").ok());
  EXPECT_TRUE(parse("[1e0000300]").ok());
  // 1e309 fits the digit guard but overflows a double: out of range.
  auto inf = parse("[1e309]");
  ASSERT_FALSE(inf.ok());
  EXPECT_EQ(inf.error().message, "number out of range");
  // Literal length: 256 accepted, 257 rejected.
  Limits limits;
  std::string at = "[1." + std::string(limits.max_number_length - 2, '5') + "]";
  EXPECT_TRUE(parse(at, limits).ok());
  std::string past = "[1." + std::string(limits.max_number_length - 1, '5') + "]";
  EXPECT_FALSE(parse(past, limits).ok());
  // Numbers inside strings are not number literals.
  EXPECT_TRUE(parse("[\"1e999999999\"]").ok());
}

TEST(JsonParse, NumberConversionEdgeCases) {
  // Fuzzer finds: RapidJSON 1.1.0's own conversion got these wrong; Chorus converts itself.
  auto zeros = parse("[0e130,0.0e50,-0e40,0e-300,0.000000000000000000000000000000000000000e99]");
  ASSERT_TRUE(zeros.ok());
  for (const Value& v : zeros->as_array()) EXPECT_EQ(v.as_number(), 0.0);
  EXPECT_FALSE(parse("[10e308]").ok());
  EXPECT_FALSE(parse("[100e307]").ok());
  auto big = parse("[1" + std::string(60, '0') + "1e200]");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ((*big)[0].as_number(), 1e261);
  EXPECT_FALSE(parse("[1" + std::string(60, '0') + "1e308]").ok());
  EXPECT_EQ(parse("[1e-400]")->as_array()[0].as_number(), 0.0);
  EXPECT_TRUE(std::signbit(parse("[-1e-400]")->as_array()[0].as_number()));
  EXPECT_EQ(parse("[2.2250738585072011e-308]")->as_array()[0].as_number(), 2.2250738585072011e-308);
  EXPECT_EQ(parse("[4.9e-324]")->as_array()[0].as_number(), 4.9e-324);
  EXPECT_EQ(parse("[1.7976931348623157e308]")->as_array()[0].as_number(), 1.7976931348623157e308);
  EXPECT_EQ(parse("[0.1]")->as_array()[0].as_number(), 0.1);
}

TEST(JsonParse, NumbersAreJavaScriptDoubles) {
  auto v = parse("[9007199254740993, 1e-400, -0, 123456789012345678901234567890]");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)[0].as_number(), 9007199254740992.0);
  EXPECT_EQ((*v)[1].as_number(), 0.0);
  EXPECT_EQ((*v)[3].as_number(), 1.2345678901234568e29);
}

TEST(JsonFormat, MatchesJavaScriptNumberToString) {
  EXPECT_EQ(num(0), "0");
  EXPECT_EQ(num(-0.0), "0");
  EXPECT_EQ(num(1), "1");
  EXPECT_EQ(num(-42), "-42");
  EXPECT_EQ(num(0.1), "0.1");
  EXPECT_EQ(num(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(num(1.5e-7), "1.5e-7");
  EXPECT_EQ(num(1e-7), "1e-7");
  EXPECT_EQ(num(0.000001), "0.000001");
  EXPECT_EQ(num(1e21), "1e+21");
  EXPECT_EQ(num(1e20), "100000000000000000000");
  EXPECT_EQ(num(123456789012345680000.0), "123456789012345680000");
  EXPECT_EQ(num(18446744073709551616.0), "18446744073709552000");
  EXPECT_EQ(num(9007199254740991.0), "9007199254740991");
  EXPECT_EQ(num(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(num(5e-324), "5e-324");
  EXPECT_EQ(num(-1.25e-10), "-1.25e-10");
  EXPECT_EQ(num(123.456), "123.456");
  EXPECT_EQ(num(2.5e25), "2.5e+25");
  // Formatting one number must not depend on the previous one (stale-buffer regression).
  EXPECT_EQ(num(1e300), "1e+300");
  EXPECT_EQ(num(3.141592653589793), "3.141592653589793");
  EXPECT_EQ(num(2.225073858507201e-308), "2.225073858507201e-308");
}

TEST(JsonStringify, RejectsWhatJsonCannotCarry) {
  EXPECT_FALSE(stringify(Value(std::numeric_limits<double>::infinity())).ok());
  EXPECT_FALSE(stringify(Value(std::nan(""))).ok());
  EXPECT_FALSE(stringify(Value::binary("ab", 2)).ok());
  EXPECT_FALSE(stringify(Value(std::string("\xff"))).ok());
  Value deep;
  Value* cur = &deep;
  for (int i = 0; i < 200; ++i) cur = &cur->push_back(Value());
  EXPECT_FALSE(stringify(deep).ok());
  EXPECT_TRUE(stringify(deep, 300).ok());
}

}  // namespace
}  // namespace chorus::json
