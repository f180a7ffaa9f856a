#include "chorus/socketio/packet.h"

#include <gtest/gtest.h>

#include "chorus/json/json.h"

namespace chorus::socketio {
namespace {

Result<std::optional<Packet>> decode_one(std::string_view text, const Limits& limits = Limits{}) {
  Decoder d(limits);
  return d.feed_text(text);
}

Packet decode_ok(std::string_view text) {
  auto r = decode_one(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  if (!r.ok() || !r.value()) return Packet{};
  return **r;
}

void expect_reject(std::string_view text, const Limits& limits = Limits{}) {
  auto r = decode_one(text, limits);
  EXPECT_FALSE(r.ok()) << "accepted: " << text;
  if (!r.ok()) {
    EXPECT_FALSE(r.error().message.empty());
  }
}

std::string encode_text(const Packet& p) {
  auto e = encode(p);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
  return e.ok() ? e->text : "";
}

TEST(SocketioPacket, AllSevenTypesRoundTrip) {
  for (const char* text :
       {"0", "0{\"token\":\"abc\"}", "0/admin,", "0/admin,{\"x\":1}", "1", "1/admin,", "2[\"hello\",1]",
        "2/admin,[\"hello\"]", "213[\"hello\"]", "2/admin,13[\"hello\"]", "3[]", "31[\"ok\"]", "3/admin,1[\"ok\"]",
        "4{\"message\":\"nope\"}", "4\"nope\"", "4/admin,{\"message\":\"nope\",\"data\":{\"a\":1}}"}) {
    Packet p = decode_ok(text);
    EXPECT_EQ(encode_text(p), text);
  }
  Packet p = decode_ok("2/admin,13[\"hello\",{\"a\":[1,2]}]");
  EXPECT_EQ(p.type, PacketType::kEvent);
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_EQ(p.id, 13u);
  EXPECT_EQ((*p.data)[0].as_string(), "hello");
}

TEST(SocketioPacket, NamespaceWithoutCommaIsWholeRest) {
  Packet p = decode_ok("0/admin");
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_FALSE(p.data.has_value());
  // An EVENT whose namespace is not closed by ',' swallows its payload and has none left.
  expect_reject("2/admin[\"hello\"]");
}

TEST(SocketioPacket, NumberEventNameAccepted) {
  // socket.io-parser accepts a number as the event name; Chorus keeps it a number here.
  Packet p = decode_ok("2[1,\"x\"]");
  ASSERT_TRUE(p.data && p.data->is_array());
  EXPECT_TRUE(p.data->as_array()[0].is_number());
  EXPECT_EQ(p.data->as_array()[0].as_number(), 1);
  EXPECT_TRUE(decode_one("2[-1.5e300]").ok());
}

TEST(SocketioPacket, PayloadValidation) {
  expect_reject("0[]");
  expect_reject("0\"str\"");
  expect_reject("0 1");
  expect_reject("1{}");
  expect_reject("4[]");
  expect_reject("4 1");
  expect_reject("2");
  expect_reject("2[]");
  expect_reject("2{}");
  expect_reject("2[null]");
  expect_reject("2[true]");
  expect_reject("2[[\"x\"]]");
  expect_reject("2[{\"a\":1}]");
  expect_reject("3");
  expect_reject("3{}");
  expect_reject("3\"x\"");
  expect_reject("2[\"a\"");
  expect_reject("2 ");
  expect_reject("2 [\"a\"]");
  expect_reject("2/admin, [\"a\"]");
  expect_reject("2\t[\"a\"]");
}

TEST(SocketioPacket, ReservedEventNamesRejected) {
  for (const char* name :
       {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener", "error"}) {
    EXPECT_TRUE(is_reserved_event(name));
    std::string text = std::string("2[\"") + name + "\"]";
    expect_reject(text);
    Packet p{PacketType::kEvent, "/", std::nullopt, Value::array({name})};
    EXPECT_FALSE(encode(p).ok());
  }
  EXPECT_FALSE(is_reserved_event("message"));
}

TEST(SocketioPacket, AckIds) {
  EXPECT_EQ(decode_ok("29007199254740991[\"a\"]").id, kMaxAckId);
  expect_reject("29007199254740992[\"a\"]");
  expect_reject("212345678901234567890[\"a\"]");  // 20 digits
  Packet p{PacketType::kAck, "/", kMaxAckId + 1, Value::array({})};
  EXPECT_FALSE(encode(p).ok());
}

TEST(SocketioPacket, BadTypesAndText) {
  expect_reject("");
  expect_reject("7");
  expect_reject("9[\"a\"]");
  expect_reject("/");
  expect_reject("2[\"\xff\"]");
  expect_reject(std::string_view("2[\"a\0\"]", 7));
  expect_reject(std::string_view("2[\"a\"]\0", 7));
}

TEST(SocketioPacket, BinaryEventReassembly) {
  Decoder d;
  auto head = d.feed_text("52-[\"up\",{\"_placeholder\":true,\"num\":0},{\"x\":{\"_placeholder\":true,\"num\":1}}]");
  ASSERT_TRUE(head.ok());
  EXPECT_FALSE(head->has_value());
  EXPECT_TRUE(d.awaiting_attachments());
  auto first = d.feed_binary("\x01\x02");
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());
  auto done = d.feed_binary("\x03");
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(done->has_value());
  const Packet& p = **done;
  EXPECT_EQ(p.type, PacketType::kEvent);  // reassembled: an EVENT holding Binary values
  EXPECT_EQ((*p.data)[1].as_binary(), (Binary{1, 2}));
  EXPECT_EQ((*p.data)[2].find("x")->as_binary(), (Binary{3}));
  EXPECT_FALSE(d.awaiting_attachments());

  auto e = encode(p);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->text, "52-[\"up\",{\"_placeholder\":true,\"num\":0},{\"x\":{\"_placeholder\":true,\"num\":1}}]");
  ASSERT_EQ(e->attachments.size(), 2u);
}

TEST(SocketioPacket, EncodeTurnsBinaryIntoAttachments) {
  Packet p{PacketType::kEvent, "/files", 7, Value::array({"upload", Value::binary("\xde\xad", 2)})};
  auto e = encode(p);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->text, "51-/files,7[\"upload\",{\"_placeholder\":true,\"num\":0}]");
  ASSERT_EQ(e->attachments.size(), 1u);
  Packet ack{PacketType::kAck, "/", 7, Value::array({Value::binary("x", 1)})};
  EXPECT_EQ(encode(ack)->text, "61-7[{\"_placeholder\":true,\"num\":0}]");
  Packet connect{PacketType::kConnect, "/", std::nullopt, Value::object({{"b", Value::binary("x", 1)}})};
  EXPECT_FALSE(encode(connect).ok());
}

TEST(SocketioPacket, AttachmentCountRules) {
  Limits limits;
  std::string at = "5" + std::to_string(limits.max_attachments) + "-[\"a\"]";
  EXPECT_TRUE(decode_one(at, limits).ok());
  std::string past = "5" + std::to_string(limits.max_attachments + 1) + "-[\"a\"]";
  auto r = decode_one(past, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);
  expect_reject("599999999999999999999-[\"a\"]");
  expect_reject("5-1-[\"a\"]");
  expect_reject("5x-[\"a\"]");
  expect_reject("5-[\"a\"]");
  expect_reject("51[\"a\"]");
  expect_reject("5 1-[\"a\"]");
  expect_reject("51");
  expect_reject("50-[\"a\"]");  // at least one attachment, as the reference requires
}

TEST(SocketioPacket, PlaceholderRules) {
  auto with = [](const std::string& num) {
    Decoder d;
    auto h = d.feed_text("51-[\"a\",{\"_placeholder\":true,\"num\":" + num + "}]");
    if (!h.ok()) return false;
    auto b = d.feed_binary("x");
    return b.ok();
  };
  EXPECT_TRUE(with("0"));
  EXPECT_FALSE(with("1"));
  EXPECT_FALSE(with("-1"));
  EXPECT_FALSE(with("0.5"));
  EXPECT_FALSE(with("\"0\""));
  EXPECT_FALSE(with("null"));
  EXPECT_FALSE(with("1e300"));
  // Placeholders in packets that carry no attachments.
  expect_reject("2[\"a\",{\"_placeholder\":true,\"num\":0}]");
  expect_reject("3[{\"_placeholder\":true,\"num\":0}]");
  expect_reject("50-[\"a\",{\"_placeholder\":true,\"num\":0}]");
  // "_placeholder" that is not `true` is an ordinary object.
  EXPECT_TRUE(decode_one("2[\"a\",{\"_placeholder\":1,\"num\":0}]").ok());
}

TEST(SocketioPacket, DecoderOrderErrors) {
  Decoder d;
  EXPECT_FALSE(d.feed_binary("x").ok());
  ASSERT_TRUE(d.feed_text("51-[\"a\",{\"_placeholder\":true,\"num\":0}]").ok());
  EXPECT_FALSE(d.feed_text("2[\"a\"]").ok());
  d.reset();
  EXPECT_TRUE(d.feed_text("2[\"a\"]").ok());
}

TEST(SocketioPacket, HostileJsonInPayload) {
  expect_reject("2[\"a\"," + std::string(100000, '[') + "]");
  expect_reject("2[\"a\",0.00000000001e-2147483639]");
  expect_reject("2[\"a\",1e999999999]");
  Limits limits;
  limits.max_payload = 16;
  expect_reject("2[\"abcdefghijklmn\"]", limits);
}

}  // namespace
}  // namespace chorus::socketio
