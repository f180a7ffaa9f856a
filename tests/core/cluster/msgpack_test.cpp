#include "chorus/cluster/msgpack.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include "core/cluster/hex.h"

namespace chorus::msgpack {
namespace {

using test::hex;
using test::unhex;

Value decoded(std::string_view hex_bytes, const Limits& limits = Limits{}) {
  auto v = decode(unhex(hex_bytes), limits);
  EXPECT_TRUE(v.ok()) << hex_bytes << ": " << (v.ok() ? "" : v.error().message);
  return v.ok() ? v.value() : Value("<error>");
}

Error failure(std::string_view bytes, const Limits& limits = Limits{}) {
  auto v = decode(bytes, limits);
  EXPECT_FALSE(v.ok()) << hex(bytes);
  return v.ok() ? Error{} : v.error();
}

// Encodes `number`, checks the bytes (notepack's, see tests/cluster_codec) and decodes them back.
void expect_number(double number, std::string_view expected_hex) {
  std::string bytes = encode(Value(number));
  EXPECT_EQ(hex(bytes), expected_hex) << number;
  auto back = decode(bytes);
  ASSERT_TRUE(back.ok()) << number;
  ASSERT_TRUE(back->is_number());
  EXPECT_EQ(back->as_number(), number);
}

TEST(Msgpack, UnsignedIntegersTakeTheSmallestForm) {
  expect_number(0, "00");
  expect_number(127, "7f");                                     // 2^7 - 1: positive fixint
  expect_number(128, "cc80");                                   // 2^7: uint 8
  expect_number(255, "ccff");                                   // 2^8 - 1
  expect_number(256, "cd0100");                                 // 2^8: uint 16
  expect_number(32767, "cd7fff");                               // 2^15 - 1
  expect_number(32768, "cd8000");                               // 2^15
  expect_number(65535, "cdffff");                               // 2^16 - 1
  expect_number(65536, "ce00010000");                           // 2^16: uint 32
  expect_number(2147483647, "ce7fffffff");                      // 2^31 - 1
  expect_number(2147483648.0, "ce80000000");                    // 2^31
  expect_number(4294967295.0, "ceffffffff");                    // 2^32 - 1
  expect_number(4294967296.0, "cf0000000100000000");            // 2^32: uint 64
  expect_number(9007199254740991.0, "cf001fffffffffffff");      // 2^53 - 1
  expect_number(9007199254740992.0, "cf0020000000000000");      // 2^53
  expect_number(9223372036854775808.0, "cf8000000000000000");   // 2^63
  expect_number(18446744073709549568.0, "cffffffffffffff800");  // the largest double below 2^64
  // 2^64 and beyond have no integer form: float64 (notepack would write a wrong uint 64).
  expect_number(18446744073709551616.0, "cb43f0000000000000");
  expect_number(1e300, "cb7e37e43c8800759c");
}

TEST(Msgpack, NegativeIntegersTakeTheSmallestForm) {
  expect_number(-1, "ff");
  expect_number(-32, "e0");                                      // negative fixint
  expect_number(-33, "d0df");                                    // int 8
  expect_number(-128, "d080");                                   // -2^7
  expect_number(-129, "d1ff7f");                                 // int 16
  expect_number(-32768, "d18000");                               // -2^15
  expect_number(-32769, "d2ffff7fff");                           // int 32
  expect_number(-2147483648.0, "d280000000");                    // -2^31
  expect_number(-2147483649.0, "d3ffffffff7fffffff");            // int 64
  expect_number(-4294967296.0, "d3ffffffff00000000");            // -2^32
  expect_number(-9007199254740992.0, "d3ffe0000000000000");      // -2^53
  expect_number(-9223372036854775808.0, "d38000000000000000");   // -2^63
  expect_number(-18446744073709551616.0, "cbc3f0000000000000");  // -2^64: float64
}

TEST(Msgpack, FloatsAndSpecialNumbers) {
  expect_number(1.5, "cb3ff8000000000000");
  expect_number(-0.25, "cbbfd0000000000000");
  expect_number(0.1, "cb3fb999999999999a");
  expect_number(5e-324, "cb0000000000000001");
  // -0 is an integer to notepack: 0.
  EXPECT_EQ(hex(encode(Value(-0.0))), "00");
  EXPECT_EQ(hex(encode(Value(std::numeric_limits<double>::quiet_NaN()))), "cb7ff8000000000000");
  EXPECT_EQ(hex(encode(Value(std::numeric_limits<double>::infinity()))), "cb7ff0000000000000");
  EXPECT_EQ(hex(encode(Value(-std::numeric_limits<double>::infinity()))), "cbfff0000000000000");
  // Non-finite numbers decode to null (JSON.stringify's form of them).
  EXPECT_TRUE(decoded("cb7ff8000000000000").is_null());
  EXPECT_TRUE(decoded("cb7ff0000000000000").is_null());
  EXPECT_TRUE(decoded("ca7f800000").is_null());  // float 32 infinity
  // Forms the encoder never writes decode as well: float 32, non-minimal ints, 64-bit extremes.
  EXPECT_EQ(decoded("ca3fc00000"), Value(1.5));
  EXPECT_EQ(decoded("cc05"), Value(5));
  EXPECT_EQ(decoded("cd0005"), Value(5));
  EXPECT_EQ(decoded("d0ff"), Value(-1));
  EXPECT_EQ(decoded("d3ffffffffffffffff"), Value(-1));
  EXPECT_EQ(decoded("cfffffffffffffffff"), Value(18446744073709551616.0));  // rounds as JS does
  EXPECT_EQ(decoded("cf0020000000000001"), Value(9007199254740992.0));      // 2^53 + 1 rounds to 2^53
}

TEST(Msgpack, NilBoolStr) {
  EXPECT_EQ(hex(encode(Value())), "c0");
  EXPECT_EQ(hex(encode(Value(false))), "c2");
  EXPECT_EQ(hex(encode(Value(true))), "c3");
  EXPECT_TRUE(decoded("c0").is_null());
  EXPECT_EQ(decoded("c2"), Value(false));
  EXPECT_EQ(decoded("c3"), Value(true));
  EXPECT_EQ(hex(encode(Value(""))), "a0");
  EXPECT_EQ(hex(encode(Value("\xC3\xA9"))), "a2c3a9");
  struct Case {
    std::size_t size;
    const char* header;
  };
  for (Case c : {Case{31, "bf"}, Case{32, "d920"}, Case{255, "d9ff"}, Case{256, "da0100"}, Case{65535, "daffff"},
                 Case{65536, "db00010000"}}) {
    std::string s(c.size, 'x');
    std::string bytes = encode(Value(s));
    EXPECT_EQ(hex(bytes.substr(0, bytes.size() - c.size)), c.header) << c.size;
    EXPECT_EQ(decode(bytes).value(), Value(s));
  }
}

TEST(Msgpack, StrIsNeverBin) {
  EXPECT_EQ(decoded("a3616263"), Value("abc"));
  EXPECT_EQ(decoded("d903616263"), Value("abc"));
  Value bin = decoded("c403616263");
  ASSERT_TRUE(bin.is_binary());
  EXPECT_EQ(bin.as_binary(), (Binary{'a', 'b', 'c'}));
  EXPECT_EQ(hex(encode(Value(Binary{}))), "c400");
  struct Case {
    std::size_t size;
    const char* header;
  };
  for (Case c : {Case{255, "c4ff"}, Case{256, "c50100"}, Case{65535, "c5ffff"}, Case{65536, "c600010000"}}) {
    Binary b(c.size, 7);
    std::string bytes = encode(Value(b));
    EXPECT_EQ(hex(bytes.substr(0, bytes.size() - c.size)), c.header) << c.size;
    EXPECT_EQ(decode(bytes).value(), Value(b));
  }
}

TEST(Msgpack, InvalidUtf8IsRefused) {
  EXPECT_EQ(failure(unhex("a1ff")).code, ErrorCode::kInvalidUtf8);
  EXPECT_EQ(failure(unhex("a2c080")).code, ErrorCode::kInvalidUtf8);      // overlong
  EXPECT_EQ(failure(unhex("a3eda080")).code, ErrorCode::kInvalidUtf8);    // surrogate
  EXPECT_EQ(failure(unhex("a2e282")).code, ErrorCode::kInvalidUtf8);      // cut short
  EXPECT_EQ(failure(unhex("81a1ffc0")).code, ErrorCode::kInvalidUtf8);    // in a map key
  EXPECT_EQ(failure(unhex("92a161a1ff")).code, ErrorCode::kInvalidUtf8);  // nested
  // The same bytes as bin are fine.
  EXPECT_TRUE(decoded("c401ff").is_binary());
}

TEST(Msgpack, ArraysAndMaps) {
  Value nested = Value::object({{"a", Value::array({1, "two", nullptr, true})}, {"b", Value::object()}});
  EXPECT_EQ(hex(encode(nested)), "82a1619401a374776fc0c3a16280");
  EXPECT_EQ(decoded("82a1619401a374776fc0c3a16280"), nested);
  for (std::size_t n : {15u, 16u, 65535u, 65536u}) {
    Array items(n, Value(1));
    std::string bytes = encode(Value(items));
    std::string header = n == 15 ? "9f" : n == 16 ? "dc0010" : n == 65535 ? "dcffff" : "dd00010000";
    EXPECT_EQ(hex(bytes.substr(0, header.size() / 2)), header);
    EXPECT_EQ(decode(bytes).value(), Value(items));

    Object members;
    for (std::size_t i = 0; i < n; ++i) members.push_back(Member{"k" + std::to_string(i), Value(static_cast<int>(i))});
    bytes = encode(Value(members));
    header = n == 15 ? "8f" : n == 16 ? "de0010" : n == 65535 ? "deffff" : "df00010000";
    EXPECT_EQ(hex(bytes.substr(0, header.size() / 2)), header);
    auto back = decode(bytes);
    ASSERT_TRUE(back.ok());
    ASSERT_TRUE(back->is_object());
    const Object& got = back->as_object();
    ASSERT_EQ(got.size(), n);  // compared member by member: Value's == is quadratic on objects
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(got[i].key, members[i].key);
      ASSERT_EQ(got[i].value, members[i].value);
    }
  }
}

TEST(Msgpack, MapKeysAsJavaScriptPropertyKeys) {
  // {1: "a", -2: "b", 1.5: "c", 2^53: "d"}: numbers become their JavaScript string form.
  Value v = decoded(
      "84"
      "01a161"
      "fea162"
      "cb3ff8000000000000a163"
      "cf0020000000000000a164");
  EXPECT_EQ(v, Value::object({{"1", "a"}, {"-2", "b"}, {"1.5", "c"}, {"9007199254740992", "d"}}));
  EXPECT_EQ(decoded("81cb7ff8000000000000c0"), Value::object({{"NaN", nullptr}}));
  // A repeated key keeps its first position and takes the last value (obj[key] = value).
  EXPECT_EQ(decoded("83a16101a16202a16103"), Value::object({{"a", 3}, {"b", 2}}));
  EXPECT_EQ(decoded("830101a161010102"), Value::object({{"1", 2}, {"a", 1}}));
  // Keys that are neither strings nor numbers are refused.
  EXPECT_EQ(failure(unhex("81c0c0")).code, ErrorCode::kInvalidPacket);
  EXPECT_EQ(failure(unhex("81c3c0")).code, ErrorCode::kInvalidPacket);
  EXPECT_EQ(failure(unhex("819000c0")).code, ErrorCode::kInvalidPacket);
  EXPECT_EQ(failure(unhex("81c401ffc0")).code, ErrorCode::kInvalidPacket);
}

TEST(Msgpack, DuplicateKeysInALargeMapStayLinear) {
  // 40000 pairs under one key: the last value wins, and the map is one member.
  std::string bytes = unhex("df00009c40");
  for (int i = 0; i < 40000; ++i) bytes += unhex("a16b") + encode(Value(i));
  auto v = decode(bytes);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value(), Value::object({{"k", 39999}}));
}

std::string nested_arrays(std::uint32_t depth) {
  return std::string(depth - 1, static_cast<char>(0x91)) + std::string(1, static_cast<char>(0x90));
}
std::string nested_maps(std::uint32_t depth) {
  std::string out;
  for (std::uint32_t i = 1; i < depth; ++i) out += unhex("81a161");
  return out + unhex("80");
}

TEST(Msgpack, NestingAtMaxJsonDepthAndPast) {
  Limits limits;
  ASSERT_EQ(limits.max_json_depth, 128u);
  EXPECT_TRUE(decode(nested_arrays(128)).ok());
  EXPECT_TRUE(decode(nested_maps(128)).ok());
  EXPECT_EQ(failure(nested_arrays(129)).code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(failure(nested_maps(129)).code, ErrorCode::kLimitExceeded);
  EXPECT_NE(failure(nested_arrays(129)).message.find("deeper than 128"), std::string::npos);
  // Far past the limit: refused without recursing.
  EXPECT_EQ(failure(nested_arrays(1'000'000)).code, ErrorCode::kLimitExceeded);

  limits.max_json_depth = 3;
  EXPECT_TRUE(decode(nested_arrays(3), limits).ok());
  EXPECT_EQ(failure(nested_arrays(4), limits).code, ErrorCode::kLimitExceeded);
  EXPECT_TRUE(decode(unhex("92") + nested_maps(2) + nested_arrays(2), limits).ok());
  EXPECT_EQ(failure(unhex("92c0") + nested_maps(3), limits).code, ErrorCode::kLimitExceeded);
}

TEST(Msgpack, MalformedInput) {
  EXPECT_EQ(failure("").code, ErrorCode::kInvalidPacket);
  // Trailing bytes.
  EXPECT_NE(failure(unhex("c0c0")).message.find("1 trailing bytes"), std::string::npos);
  EXPECT_FALSE(decode(unhex("90ffff")).ok());
  // Truncated, at every cut of a message holding every form.
  Value all = Value::array(
      {nullptr, true, 300, -70000, 1.5, "str", Value(Binary{1, 2}), Value::object({{"k", Value::array({1})}})});
  std::string bytes = encode(all);
  ASSERT_EQ(decode(bytes).value(), all);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_EQ(failure(bytes.substr(0, cut)).code, ErrorCode::kInvalidPacket) << cut;
  }
  // Lengths larger than the input: refused before anything is allocated for them.
  EXPECT_FALSE(decode(unhex("ddffffffff")).ok());
  EXPECT_FALSE(decode(unhex("dfffffffff")).ok());
  EXPECT_FALSE(decode(unhex("dbffffffff61")).ok());
  EXPECT_FALSE(decode(unhex("c6ffffffff01")).ok());
  EXPECT_FALSE(decode(unhex("c9ffffffff00")).ok());
  EXPECT_FALSE(decode(unhex("dc0010")).ok());
  // The reserved byte.
  EXPECT_EQ(failure(unhex("c1")).code, ErrorCode::kInvalidPacket);
  EXPECT_FALSE(decode(unhex("91c1")).ok());
}

TEST(Msgpack, TimestampExtAsJsonStringifyWritesADate) {
  // Bytes notepack writes for new Date(...): timestamp 32, 64 and 96.
  EXPECT_EQ(decoded("d6ff00000000"), Value("1970-01-01T00:00:00.000Z"));
  EXPECT_EQ(decoded("d7ff72ade9006b14d5a0"), Value("2026-12-06T03:25:20.481Z"));
  EXPECT_EQ(decoded("c70cff3b8b87c0ffffffffffffffff"), Value("1969-12-31T23:59:59.999Z"));
  EXPECT_EQ(decoded("c70cff000000000000003afff44180"), Value("+010000-01-01T00:00:00.000Z"));
  EXPECT_EQ(decoded("c70cff00000000fffffff184aa5080"), Value("-000001-01-01T00:00:00.000Z"));
  EXPECT_EQ(decoded("d6ffffffffff"), Value("2106-02-07T06:28:15.000Z"));  // the largest timestamp 32
  // Past the range of a JavaScript Date (±8.64e15 ms): an invalid date, null in JSON.
  EXPECT_TRUE(decoded("c70cff000000007fffffffffffffff").is_null());
  // Inside containers.
  EXPECT_EQ(decoded("81a174d6ff00000001"), Value::object({{"t", "1970-01-01T00:00:01.000Z"}}));
  // Other sizes of the timestamp type are not notepack's: refused.
  EXPECT_FALSE(decode(unhex("d4ff00")).ok());
  EXPECT_FALSE(decode(unhex("d5ff0000")).ok());
  EXPECT_FALSE(decode(unhex("d8ff00000000000000000000000000000000")).ok());
  EXPECT_FALSE(decode(unhex("c704ff00000000")).ok());
  EXPECT_FALSE(decode(unhex("c708ff0000000000000000")).ok());
}

TEST(Msgpack, LegacyExtZeroFormsAsNotepackReadsThem) {
  // fixext 1, type 0: undefined; null in an array, left out of a map, null alone.
  EXPECT_TRUE(decoded("d40000").is_null());
  EXPECT_EQ(decoded("92d4000001"), Value::array({nullptr, 1}));
  EXPECT_EQ(decoded("82a161d40000a16202"), Value::object({{"b", 2}}));
  // ... and a repeated key whose last value is undefined is left out too.
  EXPECT_EQ(decoded("83a16101a16202a161d40000"), Value::object({{"b", 2}}));
  // fixext 8, type 0: a Date in signed 64-bit milliseconds.
  EXPECT_EQ(decoded("d700000001a249627ae1"), Value("2026-12-06T03:25:20.481Z"));
  EXPECT_EQ(decoded("d700ffffffffffffffff"), Value("1969-12-31T23:59:59.999Z"));
  // ext 8/16/32, type 0: an ArrayBuffer.
  EXPECT_EQ(decoded("c70300010203"), Value(Binary{1, 2, 3}));
  EXPECT_EQ(decoded("c70000"), Value(Binary{}));
  EXPECT_EQ(decoded("c800020001ff"), Value(Binary{1, 0xff}));
  EXPECT_EQ(decoded("c9000000010007"), Value(Binary{7}));
  // ext 8 type 0 of 1 or 8 bytes is an ArrayBuffer, not the fixext forms.
  EXPECT_EQ(decoded("c7010005"), Value(Binary{5}));
  EXPECT_EQ(decoded("c708000102030405060708"), Value(Binary{1, 2, 3, 4, 5, 6, 7, 8}));
  // fixext 2/4/16 with type 0 are [type, Buffer] to notepack: refused.
  EXPECT_FALSE(decode(unhex("d5000000")).ok());
  EXPECT_FALSE(decode(unhex("d60000000000")).ok());
}

TEST(Msgpack, UnknownExtIsRefused) {
  for (const char* bytes :
       {"d40100", "d5020000", "d67f00000000", "d7800000000000000000", "c70105ff", "c8000105ff", "c90000000105ff"}) {
    Error e = failure(unhex(bytes));
    EXPECT_EQ(e.code, ErrorCode::kInvalidPacket) << bytes;
    EXPECT_NE(e.message.find("ext type"), std::string::npos) << e.message;
  }
}

TEST(Msgpack, RoundTrips) {
  Value v = Value::object({
      {"null", nullptr},
      {"bools", Value::array({true, false})},
      {"ints", Value::array({0, 1, -1, 127, 128, -33, 65536, -2147483649.0, 9007199254740992.0})},
      {"floats", Value::array({1.5, -0.1, 1e300, 5e-324})},
      {"text", "h\xC3\xA9llo \xF0\x9F\x98\x80"},
      {"bin", Value(Binary{0, 1, 0xfe, 0xff})},
      {"empty", Value::object({{"a", Value::array({})}, {"o", Value::object()}, {"s", ""}, {"b", Value(Binary{})}})},
      {"deep", Value::array({Value::array({Value::array({Value::object({{"x", 1}})})})})},
  });
  std::string bytes = encode(v);
  auto back = decode(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value(), v);
  EXPECT_EQ(encode(back.value()), bytes);
  // encode(value, out) appends.
  std::string out = "x";
  encode(Value(1), out);
  EXPECT_EQ(out, "x\x01");
}

// @msgpack/msgpack 2.8 (the streams adapter's codec) writes only safe integers as ints:
// encode([2 ** 53, -(2 ** 53), 2 ** 53 - 1]) in Node.
TEST(Msgpack, MsgpackJsDialectWritesOnlySafeIntegersAsInts) {
  Value v = Value::array({9007199254740992.0, -9007199254740992.0, 9007199254740991.0, -9007199254740991.0, -0.0});
  EXPECT_EQ(hex(encode(v, Dialect::kMsgpackJs)),
            "95cb4340000000000000cbc340000000000000cf001fffffffffffffd3ffe0000000000001"
            "00");
  EXPECT_EQ(hex(encode(v)), "95cf0020000000000000d3ffe0000000000000cf001fffffffffffffd3ffe000000000000100");
}

TEST(Msgpack, MsgpackJsDialectRefusesNotepacksLegacyExtAndTheProtoKey) {
  const std::string undefined_ext = unhex("d40000");
  EXPECT_TRUE(decode(undefined_ext).ok());
  EXPECT_FALSE(decode(undefined_ext, Limits{}, Dialect::kMsgpackJs).ok());
  const std::string legacy_buffer = unhex("c7020001ff");
  EXPECT_TRUE(decode(legacy_buffer).ok());
  EXPECT_FALSE(decode(legacy_buffer, Limits{}, Dialect::kMsgpackJs).ok());
  const std::string proto = unhex("81a95f5f70726f746f5f5f01");  // {"__proto__": 1}
  EXPECT_TRUE(decode(proto).ok());
  auto refused = decode(proto, Limits{}, Dialect::kMsgpackJs);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("__proto__"), std::string::npos);
  // The timestamp ext is a Date to both.
  auto date = decode(unhex("d6ff00000000"), Limits{}, Dialect::kMsgpackJs);
  ASSERT_TRUE(date.ok());
  EXPECT_EQ(date.value(), Value("1970-01-01T00:00:00.000Z"));
}

}  // namespace
}  // namespace chorus::msgpack
