#include "chorus/engineio/packet.h"

#include <gtest/gtest.h>

namespace chorus::engineio {
namespace {

TEST(EngineioPacket, DecodesAllSevenTypes) {
  const char* names[] = {"open", "close", "ping", "pong", "message", "upgrade", "noop"};
  for (int t = 0; t <= 6; ++t) {
    std::string text = std::to_string(t) + "data";
    auto p = decode_text(text);
    ASSERT_TRUE(p.ok()) << text;
    EXPECT_EQ(static_cast<int>(p->type), t);
    EXPECT_EQ(p->data, "data");
    EXPECT_FALSE(p->binary);
    EXPECT_STREQ(to_string(p->type), names[t]);
    EXPECT_EQ(encode_text(*p), text);
  }
  auto probe = decode_text("2probe");
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->type, PacketType::kPing);
  EXPECT_EQ(probe->data, "probe");
  auto bare = decode_text("4");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->data, "");
}

TEST(EngineioPacket, BinaryAsBase64) {
  auto p = decode_text("bAQID");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->binary);
  EXPECT_EQ(p->type, PacketType::kMessage);
  EXPECT_EQ(p->data, std::string("\x01\x02\x03"));
  EXPECT_EQ(encode_text(*p), "bAQID");
  auto empty = decode_text("b");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->binary);
  EXPECT_EQ(empty->data, "");
  Packet raw = decode_binary(std::string_view("\x00\xff", 2));
  EXPECT_TRUE(raw.binary);
  EXPECT_EQ(raw.data.size(), 2u);
}

TEST(EngineioPacket, RejectsBadPackets) {
  for (const char* bad : {"", "7", "9", "/", "x", "-1", " 4", "b!!!!", "bA", "bAQ=D"}) {
    auto p = decode_text(bad);
    ASSERT_FALSE(p.ok()) << "accepted: " << bad;
    EXPECT_FALSE(p.error().message.empty());
  }
  EXPECT_NE(decode_text("7").error().message.find("unknown Engine.IO packet type"), std::string::npos);
  EXPECT_EQ(decode_text("4\xff").error().code, ErrorCode::kInvalidUtf8);
  EXPECT_FALSE(decode_text(std::string_view("\0", 1)).ok());
}

TEST(EngineioPayload, SplitsOnRecordSeparator) {
  auto ps = decode_payload(
      "4hello\x1e"
      "2\x1e"
      "bAQID");
  ASSERT_TRUE(ps.ok());
  ASSERT_EQ(ps->size(), 3u);
  EXPECT_EQ((*ps)[0], Packet::text(PacketType::kMessage, "hello"));
  EXPECT_EQ((*ps)[1], Packet::text(PacketType::kPing));
  EXPECT_EQ((*ps)[2], Packet::bytes("\x01\x02\x03"));
  std::string out;
  encode_payload(*ps, out);
  EXPECT_EQ(out,
            "4hello\x1e"
            "2\x1e"
            "bAQID");
}

TEST(EngineioPayload, RejectsStraySeparatorsAndBadItems) {
  for (const char* bad : {"", "\x1e", "4a\x1e",
                          "\x1e"
                          "4a",
                          "4a\x1e\x1e"
                          "4b",
                          "4a\x1e"
                          "7",
                          "4a\x1e"
                          "b!"}) {
    auto ps = decode_payload(bad);
    EXPECT_FALSE(ps.ok()) << "accepted payload of size " << std::string_view(bad).size();
  }
}

TEST(EngineioPayload, MaxPayloadAtAndPast) {
  Limits limits;
  std::string at = "4" + std::string(limits.max_payload - 1, 'x');
  EXPECT_TRUE(decode_payload(at, limits).ok());
  std::string past = at + "x";
  auto ps = decode_payload(past, limits);
  ASSERT_FALSE(ps.ok());
  EXPECT_EQ(ps.error().code, ErrorCode::kLimitExceeded);
}

TEST(EngineioHandshake, RoundTrip) {
  Handshake h{"abc123", {"websocket"}, 25000, 20000, 1000000};
  std::string text = encode_handshake(h);
  EXPECT_EQ(
      text,
      R"({"sid":"abc123","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})");
  auto back = parse_handshake(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), h);
}

TEST(EngineioHandshake, RejectsIncompleteOrWrongTypes) {
  for (const char* bad :
       {"", "[]", "{}", R"({"sid":"a"})", R"({"sid":"","upgrades":[],"pingInterval":1,"pingTimeout":1})",
        R"({"sid":"a","upgrades":[1],"pingInterval":1,"pingTimeout":1})",
        R"({"sid":"a","upgrades":[],"pingInterval":-1,"pingTimeout":1})",
        R"({"sid":"a","upgrades":[],"pingInterval":1.5,"pingTimeout":1})",
        R"({"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":"1"})",
        R"({"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":-5})"}) {
    EXPECT_FALSE(parse_handshake(bad).ok()) << bad;
  }
  EXPECT_TRUE(parse_handshake(R"({"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":1})").ok());
}

}  // namespace
}  // namespace chorus::engineio
