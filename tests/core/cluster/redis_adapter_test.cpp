#include "chorus/cluster/redis_adapter.h"

#include <gtest/gtest.h>

#include <string>

#include "chorus/cluster/msgpack.h"
#include "chorus/json/json.h"
#include "core/cluster/hex.h"

namespace chorus::cluster {
namespace {

using test::hex;
using test::unhex;

Request request(std::string_view bytes) {
  auto r = decode_request(bytes);
  EXPECT_TRUE(r.ok()) << bytes << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : Request{};
}

Response response(std::string_view bytes) {
  auto r = decode_response(bytes);
  EXPECT_TRUE(r.ok()) << bytes << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : Response{};
}

std::vector<std::string> strings(std::initializer_list<const char*> items) {
  return std::vector<std::string>(items.begin(), items.end());
}

// The observed messages of the research file (socketio-cluster-protocols.md §1.1, §2),
// re-encoded by notepack.io for the msgpack ones.
constexpr const char* kRoomBroadcast =
    "93a63153564e664883a47479706502a46461746193a568656c6c6fa5776f726c64c403010203a36e7370a12f83a5726f6f6d7391a5726f6f"
    "6d31a665786365707490a5666c61677380";
constexpr const char* kVolatileBroadcast =
    "93a63153564e664883a47479706502a46461746192a5706c61696e81a16101a36e7370a12f83a5726f6f6d7390a665786365707491a5726f"
    "6f6d32a5666c61677381a8766f6c6174696c65c3";
constexpr const char* kEmitterBroadcast =
    "93a7656d697474657283a47479706502a46461746193a46e657773a26869c40109a36e7370a12f83a5726f6f6d7391a5726f6f6d31a5666c"
    "61677380a665786365707490";
constexpr const char* kBroadcastWithAck =
    "85a3756964a63153564e6648a9726571756573744964a6504951586c73a47479706507a67061636b657483a47479706502a46461746192a3"
    "61736b2aa36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd07d0";
constexpr const char* kBroadcastAck =
    "83a47479706509a9726571756573744964a6504951586c73a67061636b6574a9616e737765722d3432";

TEST(RedisAdapterChannels, NamesAsNodeBuildsThem) {
  EXPECT_EQ(broadcast_channel("socket.io", "/"), "socket.io#/#");
  EXPECT_EQ(room_channel("socket.io", "/", "room1"), "socket.io#/#room1#");
  EXPECT_EQ(broadcast_pattern("socket.io", "/chat"), "socket.io#/chat#*");
  EXPECT_EQ(request_channel("socket.io", "/"), "socket.io-request#/#");
  EXPECT_EQ(response_channel("socket.io", "/"), "socket.io-response#/#");
  EXPECT_EQ(response_channel("socket.io", "/", "1SVNfH"), "socket.io-response#/#1SVNfH#");
  EXPECT_EQ(request_channel("app", "/admin"), "app-request#/admin#");
}

TEST(RedisAdapterChannels, RoomOfABroadcastChannel) {
  EXPECT_EQ(channel_room("socket.io#/#", "socket.io", "/"), "");
  EXPECT_EQ(channel_room("socket.io#/#room1#", "socket.io", "/"), "room1");
  EXPECT_EQ(channel_room("socket.io#/#a#b#", "socket.io", "/"), "a#b");
  EXPECT_EQ(channel_room("socket.io#/#42#", "socket.io", "/"), "42");
  EXPECT_EQ(channel_room("socket.io#/#room1", "socket.io", "/"), std::nullopt);  // no closing '#'
  EXPECT_EQ(channel_room("socket.io#/chat#", "socket.io", "/"), std::nullopt);   // another namespace
  EXPECT_EQ(channel_room("socket.io#/#x#", "other", "/"), std::nullopt);         // another key
  EXPECT_EQ(channel_room("socket.io-request#/#", "socket.io", "/"), std::nullopt);
  EXPECT_EQ(channel_room("socket.io#/", "socket.io", "/"), std::nullopt);
}

TEST(RedisAdapterBroadcast, ObservedRoomBroadcastDecodesAndEncodesByteExact) {
  auto b = decode_broadcast(unhex(kRoomBroadcast));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->uid, "1SVNfH");
  EXPECT_EQ(b->nsp, "/");
  EXPECT_EQ(b->packet_type, 2);
  EXPECT_EQ(Value(b->data), Value::array({"hello", "world", Value(Binary{1, 2, 3})}));
  EXPECT_EQ(b->opts.rooms, strings({"room1"}));
  EXPECT_TRUE(b->opts.except.empty());
  EXPECT_FALSE(b->opts.flags.is_volatile);
  EXPECT_FALSE(b->opts.flags.compress);
  EXPECT_FALSE(b->opts.flags.timeout_ms);
  EXPECT_EQ(hex(encode_broadcast(b.value())), kRoomBroadcast);
}

TEST(RedisAdapterBroadcast, ObservedVolatileBroadcast) {
  auto b = decode_broadcast(unhex(kVolatileBroadcast));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(Value(b->data), Value::array({"plain", Value::object({{"a", 1}})}));
  EXPECT_TRUE(b->opts.rooms.empty());
  EXPECT_EQ(b->opts.except, strings({"room2"}));
  EXPECT_TRUE(b->opts.flags.is_volatile);
  EXPECT_EQ(hex(encode_broadcast(b.value())), kVolatileBroadcast);
}

TEST(RedisAdapterBroadcast, EmitterBroadcastWithItsFieldOrder) {
  // The emitter writes {rooms, flags, except}: read whatever the order.
  auto b = decode_broadcast(unhex(kEmitterBroadcast));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->uid, "emitter");
  EXPECT_EQ(Value(b->data), Value::array({"news", "hi", Value(Binary{9})}));
  EXPECT_EQ(b->opts.rooms, strings({"room1"}));
  // Chorus writes Node's adapter order.
  std::string again = encode_broadcast(b.value());
  EXPECT_EQ(decode_broadcast(again)->opts.rooms, strings({"room1"}));
}

TEST(RedisAdapterBroadcast, FlagsAndNumericRooms) {
  Value message = Value::array({"abc", Value::object({{"type", 2}, {"data", Value::array({"ev", 1})}}),
                                Value::object({{"rooms", Value::array({42, "r", 1.5, -3})},
                                               {"except", Value::array({7})},
                                               {"flags", Value::object({{"volatile", true},
                                                                        {"compress", false},
                                                                        {"timeout", 2000},
                                                                        {"expectSingleResponse", true},
                                                                        {"local", true},
                                                                        {"unknown", Value::array({})}})}})});
  auto b = decode_broadcast(msgpack::encode(message));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->nsp, "/");  // absent: "/"
  EXPECT_EQ(b->opts.rooms, strings({"42", "r", "1.5", "-3"}));
  EXPECT_EQ(b->opts.except, strings({"7"}));
  EXPECT_TRUE(b->opts.flags.is_volatile);
  EXPECT_EQ(b->opts.flags.compress, false);
  EXPECT_EQ(b->opts.flags.timeout_ms, 2000u);
  EXPECT_TRUE(b->opts.flags.expect_single_response);
  // Unknown flags (and `local`) are never sent.
  auto again = msgpack::decode(encode_broadcast(b.value()));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(hex(msgpack::encode(*(*again)[2].find("flags"))),
            hex(msgpack::encode(Value::object(
                {{"expectSingleResponse", true}, {"volatile", true}, {"compress", false}, {"timeout", 2000}}))));
  // Absent rooms/except/flags are empty.
  message[2] = Value::object();
  b = decode_broadcast(msgpack::encode(message));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_TRUE(b->opts.rooms.empty());
  EXPECT_FALSE(b->opts.flags.is_volatile);
}

TEST(RedisAdapterBroadcast, BinaryEventAndNamespace) {
  Broadcast b;
  b.uid = "node-1";
  b.nsp = "/chat";
  b.packet_type = 5;
  b.data = {Value("file"), Value(Binary{0, 255})};
  b.opts.rooms = {"a", "b"};
  b.opts.flags.timeout_ms = 5000;
  auto back = decode_broadcast(encode_broadcast(b));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->packet_type, 5);
  EXPECT_EQ(back->nsp, "/chat");
  EXPECT_EQ(Value(back->data), Value(b.data));
  EXPECT_EQ(back->opts.rooms, b.opts.rooms);
  EXPECT_EQ(back->opts.flags.timeout_ms, 5000u);
}

TEST(RedisAdapterBroadcast, WrongShapesAreErrors) {
  auto fails = [](const Value& message) {
    auto b = decode_broadcast(msgpack::encode(message));
    EXPECT_FALSE(b.ok()) << json::stringify(message).value();
  };
  Value packet = Value::object({{"type", 2}, {"data", Value::array({"ev"})}, {"nsp", "/"}});
  Value opts = Value::object({{"rooms", Value::array({})}, {"except", Value::array({})}, {"flags", Value::object()}});
  ASSERT_TRUE(decode_broadcast(msgpack::encode(Value::array({"u", packet, opts}))).ok());
  fails(Value::object());
  fails(Value::array({"u", packet}));
  fails(Value::array({"u", packet, opts, 1}));
  fails(Value::array({1, packet, opts}));
  fails(Value::array({"u", "packet", opts}));
  fails(Value::array({"u", packet, "opts"}));
  fails(Value::array({"u", packet, nullptr}));
  for (Value bad_type : {Value(3), Value(2.5), Value("2"), Value()}) {
    Value p = packet;
    p.set("type", bad_type);
    fails(Value::array({"u", p, opts}));
  }
  for (Value bad_data : {Value::array({}), Value::array({1}), Value("ev"), Value()}) {
    Value p = packet;
    p.set("data", bad_data);
    fails(Value::array({"u", p, opts}));
  }
  Value p = packet;
  p.set("nsp", nullptr);
  fails(Value::array({"u", p, opts}));
  for (const char* key : {"rooms", "except"}) {
    for (Value bad_rooms : {Value("r"), Value::array({true}), Value::array({Value::array({})})}) {
      Value o = opts;
      o.set(key, bad_rooms);
      fails(Value::array({"u", packet, o}));
    }
  }
  for (Member bad_flag : {Member{"volatile", 1}, Member{"compress", "no"}, Member{"timeout", -1},
                          Member{"timeout", "1"}, Member{"expectSingleResponse", 0}}) {
    Value o = opts;
    o.find("flags")->set(bad_flag.key, bad_flag.value);
    fails(Value::array({"u", packet, o}));
  }
  Value o = opts;
  o.set("flags", 1);
  fails(Value::array({"u", packet, o}));
  // Not msgpack, or JSON (broadcast channels are always msgpack).
  EXPECT_FALSE(decode_broadcast("").ok());
  EXPECT_FALSE(decode_broadcast(unhex("93")).ok());
  EXPECT_FALSE(decode_broadcast(R"(["u",{"type":2,"data":["ev"]},{}])").ok());
  EXPECT_FALSE(decode_broadcast(unhex(kRoomBroadcast) + std::string(1, '\0')).ok());
}

TEST(RedisAdapterRequest, ObservedNodeRequests) {
  Request r = request(R"({"uid":"1SVNfH","requestId":"XKWnyP","type":5,"opts":{"rooms":["room1"],"except":[]}})");
  EXPECT_EQ(r.type, RequestType::kRemoteFetch);
  EXPECT_EQ(r.uid, "1SVNfH");
  EXPECT_EQ(r.request_id, "XKWnyP");
  EXPECT_EQ(r.opts.rooms, strings({"room1"}));

  r = request(R"({"uid":"1SVNfH","type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room2"]})");
  EXPECT_EQ(r.type, RequestType::kRemoteJoin);
  EXPECT_EQ(r.request_id, "");
  EXPECT_EQ(r.opts.rooms, strings({"room1"}));
  EXPECT_EQ(r.rooms, strings({"room2"}));

  r = request(R"({"uid":"1SVNfH","requestId":"okZs1P","type":6,"data":["hello-servers",1,"x"]})");
  EXPECT_EQ(r.type, RequestType::kServerSideEmit);
  EXPECT_EQ(r.request_id, "okZs1P");
  EXPECT_EQ(Value(r.data), Value::array({"hello-servers", 1, "x"}));

  r = request(unhex(kBroadcastWithAck));
  EXPECT_EQ(r.type, RequestType::kBroadcast);
  EXPECT_EQ(r.uid, "1SVNfH");
  EXPECT_EQ(r.request_id, "PIQXls");
  EXPECT_EQ(Value(r.packet_data), Value::array({"ask", 42}));
  EXPECT_EQ(r.packet_nsp, "/");
  EXPECT_EQ(r.opts.flags.timeout_ms, 2000u);

  r = request(R"({"uid":"1SVNfH","requestId":"Qo1aQv","type":1})");
  EXPECT_EQ(r.type, RequestType::kAllRooms);
  EXPECT_EQ(r.request_id, "Qo1aQv");

  r = request(R"({"uid":"1SVNfH","type":4,"opts":{"rooms":["rLj1"],"except":[]},"close":true})");
  EXPECT_EQ(r.type, RequestType::kRemoteDisconnect);
  EXPECT_TRUE(r.close);
  EXPECT_EQ(r.opts.rooms, strings({"rLj1"}));

  r = request(R"({"uid":"1SVNfH","requestId":"a","type":3,"opts":{"rooms":[],"except":["x"]},"rooms":["r"]})");
  EXPECT_EQ(r.type, RequestType::kRemoteLeave);
  EXPECT_EQ(r.opts.except, strings({"x"}));

  r = request(R"({"uid":"old","requestId":"s1","type":0,"rooms":["a",5]})");
  EXPECT_EQ(r.type, RequestType::kSockets);
  EXPECT_EQ(r.rooms, strings({"a", "5"}));
  r = request(R"({"uid":"old","requestId":"s1","type":0})");
  EXPECT_TRUE(r.rooms.empty());
}

TEST(RedisAdapterRequest, EmitterFormsWithoutUid) {
  Request r = request(R"({"type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room3"]})");
  EXPECT_EQ(r.type, RequestType::kRemoteJoin);
  EXPECT_EQ(r.uid, "");
  EXPECT_EQ(r.rooms, strings({"room3"}));
  r = request(R"({"type":4,"opts":{"rooms":[],"except":[]},"close":true})");
  EXPECT_EQ(r.type, RequestType::kRemoteDisconnect);
  EXPECT_TRUE(r.close);
  r = request(R"({"type":4,"opts":{"rooms":[],"except":[]}})");
  EXPECT_FALSE(r.close);
  r = request(R"({"uid":"emitter","type":6,"data":["ping-servers",5]})");
  EXPECT_EQ(r.type, RequestType::kServerSideEmit);
  EXPECT_EQ(r.uid, "emitter");
  EXPECT_EQ(r.request_id, "");
  // Encoded back byte-exact (Chorus writes the uid only when it has one).
  EXPECT_EQ(encode_request(request(R"({"type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room3"]})")),
            R"({"type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room3"]})");
  EXPECT_EQ(encode_request(request(R"({"type":4,"opts":{"rooms":[],"except":[]},"close":true})")),
            R"({"type":4,"opts":{"rooms":[],"except":[]},"close":true})");
  EXPECT_EQ(encode_request(request(R"({"uid":"emitter","type":6,"data":["ping-servers",5]})")),
            R"({"uid":"emitter","type":6,"data":["ping-servers",5]})");
}

TEST(RedisAdapterRequest, LegacyForms) {
  Request r = request(R"({"uid":"u","requestId":"q","type":2,"sid":"abc","room":"r1"})");
  EXPECT_EQ(r.type, RequestType::kRemoteJoin);
  EXPECT_EQ(r.legacy_sid, "abc");
  EXPECT_EQ(r.legacy_room, "r1");
  EXPECT_EQ(r.request_id, "q");
  r = request(R"({"uid":"u","requestId":"q","type":3,"sid":"abc","room":12})");
  EXPECT_EQ(r.type, RequestType::kRemoteLeave);
  EXPECT_EQ(r.legacy_room, "12");
  r = request(R"({"uid":"u","requestId":"q","type":4,"sid":"abc","close":true})");
  EXPECT_EQ(r.type, RequestType::kRemoteDisconnect);
  EXPECT_EQ(r.legacy_sid, "abc");
  EXPECT_TRUE(r.close);
  EXPECT_EQ(encode_request(request(R"({"uid":"u","requestId":"q","type":2,"sid":"abc","room":"r1"})")),
            R"({"uid":"u","requestId":"q","type":2,"sid":"abc","room":"r1"})");
  EXPECT_EQ(encode_request(r), R"({"uid":"u","requestId":"q","type":4,"sid":"abc","close":true})");
  // The legacy form needs its fields.
  EXPECT_FALSE(decode_request(R"({"uid":"u","type":2,"sid":"abc","room":"r1"})").ok());
  EXPECT_FALSE(decode_request(R"({"uid":"u","requestId":"q","type":2,"room":"r1"})").ok());
  EXPECT_FALSE(decode_request(R"({"uid":"u","requestId":"q","type":2,"sid":"abc"})").ok());
  EXPECT_FALSE(decode_request(R"({"uid":"u","requestId":"q","type":3,"sid":"abc","room":null})").ok());
}

TEST(RedisAdapterRequest, RoomsToJoinMayBeOneRoom) {
  // socket.join() takes one room as well as an array.
  Request r = request(R"({"type":2,"opts":{"rooms":[],"except":[]},"rooms":"solo"})");
  EXPECT_EQ(r.rooms, strings({"solo"}));
  r = request(R"({"type":3,"opts":{"rooms":[],"except":[]},"rooms":7})");
  EXPECT_EQ(r.rooms, strings({"7"}));
  EXPECT_FALSE(decode_request(R"({"type":2,"opts":{"rooms":[],"except":[]}})").ok());
  EXPECT_FALSE(decode_request(R"({"type":2,"opts":{"rooms":[],"except":[]},"rooms":{}})").ok());
}

TEST(RedisAdapterRequest, EveryTypeRoundTripsInNodesFieldOrder) {
  Request r;
  r.uid = "me";
  r.request_id = "rq";
  r.type = RequestType::kSockets;
  r.rooms = {"a"};
  EXPECT_EQ(encode_request(r), R"({"uid":"me","requestId":"rq","type":0,"rooms":["a"]})");
  r.type = RequestType::kAllRooms;
  EXPECT_EQ(encode_request(r), R"({"uid":"me","requestId":"rq","type":1})");
  r.type = RequestType::kRemoteJoin;
  r.opts.rooms = {"x"};
  r.opts.except = {"y"};
  r.opts.flags.is_volatile = true;  // requests 2-5 carry no flags
  EXPECT_EQ(encode_request(r), R"({"uid":"me","type":2,"opts":{"rooms":["x"],"except":["y"]},"rooms":["a"]})");
  r.type = RequestType::kRemoteLeave;
  EXPECT_EQ(encode_request(r), R"({"uid":"me","type":3,"opts":{"rooms":["x"],"except":["y"]},"rooms":["a"]})");
  r.type = RequestType::kRemoteDisconnect;
  r.close = true;
  EXPECT_EQ(encode_request(r), R"({"uid":"me","type":4,"opts":{"rooms":["x"],"except":["y"]},"close":true})");
  r.type = RequestType::kRemoteFetch;
  EXPECT_EQ(encode_request(r), R"({"uid":"me","requestId":"rq","type":5,"opts":{"rooms":["x"],"except":["y"]}})");
  r.type = RequestType::kServerSideEmit;
  r.data = {Value("ev"), Value(1), Value(Binary{1, 2})};
  EXPECT_EQ(encode_request(r),
            R"({"uid":"me","requestId":"rq","type":6,"data":["ev",1,{"type":"Buffer","data":[1,2]}]})");
  r.request_id.clear();
  EXPECT_EQ(encode_request(r), R"({"uid":"me","type":6,"data":["ev",1,{"type":"Buffer","data":[1,2]}]})");

  // Every type decodes back to what was encoded.
  for (RequestType type : {RequestType::kSockets, RequestType::kAllRooms, RequestType::kRemoteJoin,
                           RequestType::kRemoteLeave, RequestType::kRemoteDisconnect, RequestType::kRemoteFetch,
                           RequestType::kServerSideEmit, RequestType::kBroadcast}) {
    Request q;
    q.type = type;
    q.uid = "me";
    q.request_id = "rq";
    q.rooms = {"a", "b"};
    q.opts.rooms = {"x"};
    q.opts.except = {"y"};
    q.close = true;
    q.data = {Value("ev"), Value(2)};
    q.packet_data = {Value("ask"), Value(Binary{3})};
    q.packet_nsp = "/chat";
    q.opts.flags.timeout_ms = 1500;
    std::string bytes = encode_request(q);
    EXPECT_EQ(bytes[0] == '{', type != RequestType::kBroadcast) << static_cast<int>(type);
    auto back = decode_request(bytes);
    ASSERT_TRUE(back.ok()) << bytes << ": " << back.error().message;
    EXPECT_EQ(back->type, type);
    EXPECT_EQ(back->uid, "me");
    bool has_id =
        type != RequestType::kRemoteJoin && type != RequestType::kRemoteLeave && type != RequestType::kRemoteDisconnect;
    EXPECT_EQ(back->request_id, has_id ? "rq" : "");
    if (type == RequestType::kSockets || type == RequestType::kRemoteJoin || type == RequestType::kRemoteLeave) {
      EXPECT_EQ(back->rooms, q.rooms);
    }
    if (type >= RequestType::kRemoteJoin && type != RequestType::kServerSideEmit) {
      EXPECT_EQ(back->opts.rooms, q.opts.rooms);
      EXPECT_EQ(back->opts.except, q.opts.except);
    }
    EXPECT_EQ(back->close, type == RequestType::kRemoteDisconnect);
    EXPECT_EQ(Value(back->data), type == RequestType::kServerSideEmit ? Value(q.data) : Value(Array{}));
    if (type == RequestType::kBroadcast) {
      EXPECT_EQ(Value(back->packet_data), Value(q.packet_data));
      EXPECT_EQ(back->packet_nsp, "/chat");
      EXPECT_EQ(back->opts.flags.timeout_ms, 1500u);
    }
  }
}

TEST(RedisAdapterRequest, BroadcastWithAckIsMsgpackByteExact) {
  Request r = request(unhex(kBroadcastWithAck));
  EXPECT_EQ(hex(encode_request(r)), kBroadcastWithAck);
  // JSON is accepted for it too (the first byte decides).
  r = request(
      R"({"uid":"u","requestId":"q","type":7,"packet":{"type":2,"data":["e"]},"opts":{"rooms":[],"except":[],"flags":{"timeout":10}}})");
  EXPECT_EQ(r.packet_nsp, "/");
  EXPECT_EQ(r.opts.flags.timeout_ms, 10u);
}

TEST(RedisAdapterRequest, MsgpackRequestsOfOtherTypes) {
  Value v = Value::object({{"uid", "u"},
                           {"requestId", "q"},
                           {"type", 5},
                           {"opts", Value::object({{"rooms", Value::array({1})}, {"except", Value::array({})}})}});
  Request r = request(msgpack::encode(v));
  EXPECT_EQ(r.type, RequestType::kRemoteFetch);
  EXPECT_EQ(r.opts.rooms, strings({"1"}));
}

TEST(RedisAdapterRequest, WrongShapesAreErrors) {
  for (const char* bad : {
           "",
           "{",
           "{}",
           "[1]",
           R"({"type":"1","requestId":"q"})",
           R"({"type":8,"requestId":"q"})",
           R"({"type":9,"requestId":"q"})",
           R"({"type":-1,"requestId":"q"})",
           R"({"type":1.5,"requestId":"q"})",
           R"({"type":1})",
           R"({"type":1,"requestId":3})",
           R"({"type":1,"requestId":"q","uid":5})",
           R"({"type":0,"requestId":"q","rooms":"a"})",
           R"({"type":2,"opts":[],"rooms":["a"]})",
           R"({"type":2,"opts":{"rooms":"a"},"rooms":["a"]})",
           R"({"type":2,"opts":{"rooms":[]},"rooms":[null]})",
           R"({"type":4,"opts":{"rooms":[]},"close":"yes"})",
           R"({"type":5,"requestId":"q"})",
           R"({"type":5,"opts":{}})",
           R"({"type":6,"data":[]})",
           R"({"type":6,"data":[1]})",
           R"({"type":6})",
           R"({"type":7,"requestId":"q","opts":{}})",
           R"({"type":7,"requestId":"q","packet":{"type":2,"data":["e"]}})",
           R"({"type":7,"requestId":"q","packet":{"type":3,"data":["e"]},"opts":{}})",
           R"({"type":7,"packet":{"type":2,"data":["e"]},"opts":{}})",
       }) {
    EXPECT_FALSE(decode_request(bad).ok()) << bad;
  }
  // msgpack that is not a map, or not msgpack at all.
  EXPECT_FALSE(decode_request(msgpack::encode(Value::array({1}))).ok());
  EXPECT_FALSE(decode_request(unhex("c1")).ok());
  EXPECT_FALSE(decode_request(unhex(kBroadcastWithAck).substr(0, 20)).ok());
}

TEST(RedisAdapterResponse, ObservedNodeResponses) {
  Response r = response(
      R"({"requestId":"XKWnyP","sockets":[{"id":"rLj1","handshake":{"headers":{},"time":"Sun Dec 06 2026","address":"::ffff:127.0.0.1","xdomain":false,"secure":false,"issued":1796527520481,"url":"/socket.io/?EIO=4&transport=websocket","query":{},"auth":{"token":"t0k"}},"rooms":["rLj1","room1"],"data":{"user":"B-user"}}]})");
  EXPECT_EQ(r.type, RequestType::kRemoteFetch);
  EXPECT_EQ(r.request_id, "XKWnyP");
  ASSERT_EQ(r.sockets.size(), 1u);
  EXPECT_EQ(r.sockets[0].find("id")->as_string(), "rLj1");
  EXPECT_EQ(*r.sockets[0].find("data"), Value::object({{"user", "B-user"}}));

  r = response(R"({"type":6,"requestId":"okZs1P","data":"B-reply"})");
  EXPECT_EQ(r.type, RequestType::kServerSideEmit);
  EXPECT_EQ(r.data, Value("B-reply"));
  r = response(R"({"type":6,"requestId":"okZs1P"})");  // the ack's argument was undefined
  EXPECT_TRUE(r.data.is_null());

  r = response(R"({"type":8,"requestId":"PIQXls","clientCount":1})");
  EXPECT_EQ(r.type, RequestType::kBroadcastClientCount);
  EXPECT_EQ(r.client_count, 1u);
  r = response(R"({"type":8,"requestId":"PIQXls","clientCount":0})");
  EXPECT_EQ(r.client_count, 0u);

  r = response(unhex(kBroadcastAck));
  EXPECT_EQ(r.type, RequestType::kBroadcastAck);
  EXPECT_EQ(r.request_id, "PIQXls");
  EXPECT_EQ(r.packet, Value("answer-42"));
  EXPECT_EQ(hex(encode_response(r)), kBroadcastAck);

  r = response(R"({"requestId":"Qo1aQv","rooms":["a",3]})");
  EXPECT_EQ(r.type, RequestType::kAllRooms);
  EXPECT_EQ(Value(r.rooms), Value::array({"a", "3"}));

  r = response(R"({"requestId":"s","sockets":["id1","id2"]})");
  EXPECT_EQ(r.type, RequestType::kSockets);
  EXPECT_EQ(Value(r.sockets), Value::array({"id1", "id2"}));
  r = response(R"({"requestId":"s","sockets":[]})");
  EXPECT_EQ(r.type, RequestType::kRemoteFetch);

  r = response(R"({"requestId":"legacy"})");
  EXPECT_EQ(r.type, RequestType::kRemoteJoin);
  EXPECT_EQ(r.request_id, "legacy");
}

TEST(RedisAdapterResponse, EveryTypeEncodesAsNodeWritesIt) {
  Response r;
  r.request_id = "q";
  r.type = RequestType::kSockets;
  r.sockets = {Value("a"), Value("b")};
  EXPECT_EQ(encode_response(r), R"({"requestId":"q","sockets":["a","b"]})");
  r.type = RequestType::kAllRooms;
  r.rooms = {Value("r1")};
  EXPECT_EQ(encode_response(r), R"({"requestId":"q","rooms":["r1"]})");
  r.type = RequestType::kRemoteFetch;
  r.sockets = {Value::object({{"id", "s1"},
                              {"handshake", Value::object()},
                              {"rooms", Value::array({"s1"})},
                              {"data", Value::object({{"avatar", Value(Binary{255})}})}})};
  EXPECT_EQ(
      encode_response(r),
      R"({"requestId":"q","sockets":[{"id":"s1","handshake":{},"rooms":["s1"],"data":{"avatar":{"type":"Buffer","data":[255]}}}]})");
  r.type = RequestType::kServerSideEmit;
  r.data = Value::array({1, 2});
  EXPECT_EQ(encode_response(r), R"({"type":6,"requestId":"q","data":[1,2]})");
  r.data = Value(std::numeric_limits<double>::infinity());
  EXPECT_EQ(encode_response(r), R"({"type":6,"requestId":"q","data":null})");
  r.data = Value("bad \xff utf-8");
  EXPECT_EQ(encode_response(r), "{\"type\":6,\"requestId\":\"q\",\"data\":\"bad \xEF\xBF\xBD utf-8\"}");
  r.type = RequestType::kBroadcastClientCount;
  r.client_count = 0;
  EXPECT_EQ(encode_response(r), R"({"type":8,"requestId":"q","clientCount":0})");
  r.client_count = 12;
  EXPECT_EQ(encode_response(r), R"({"type":8,"requestId":"q","clientCount":12})");
  r.type = RequestType::kBroadcastAck;
  r.packet = Value(Binary{1, 2, 3});
  std::string bytes = encode_response(r);
  EXPECT_NE(bytes[0], '{');
  Response back = response(bytes);
  EXPECT_EQ(back.type, RequestType::kBroadcastAck);
  EXPECT_EQ(back.packet, Value(Binary{1, 2, 3}));
  for (RequestType legacy : {RequestType::kRemoteJoin, RequestType::kRemoteLeave, RequestType::kRemoteDisconnect}) {
    r.type = legacy;
    EXPECT_EQ(encode_response(r), R"({"requestId":"q"})");
  }
}

TEST(RedisAdapterResponse, WrongShapesAreErrors) {
  for (const char* bad : {
           "",
           "{}",
           R"({"rooms":[]})",
           R"({"requestId":1,"rooms":[]})",
           R"({"requestId":"q","type":7})",
           R"({"requestId":"q","type":"8","clientCount":1})",
           R"({"requestId":"q","type":8})",
           R"({"requestId":"q","type":8,"clientCount":-1})",
           R"({"requestId":"q","type":8,"clientCount":1.5})",
           R"({"requestId":"q","type":8,"clientCount":"1"})",
           R"({"requestId":"q","sockets":{}})",
           R"({"requestId":"q","sockets":["a",{}]})",
           R"({"requestId":"q","sockets":[1]})",
           R"({"requestId":"q","rooms":null})",
           R"({"requestId":"q","rooms":[true]})",
       }) {
    EXPECT_FALSE(decode_response(bad).ok()) << bad;
  }
  EXPECT_FALSE(decode_response(msgpack::encode(Value::array({}))).ok());
}

TEST(RedisAdapterMessages, NestingLimitAppliesToJsonAndMsgpack) {
  Limits limits;
  limits.max_json_depth = 4;
  // {"requestId":"q","type":6,"data":[[[ ]]]}: 4 levels, then 5.
  EXPECT_TRUE(decode_response(R"({"requestId":"q","type":6,"data":[[[]]]})", limits).ok());
  EXPECT_EQ(decode_response(R"({"requestId":"q","type":6,"data":[[[[]]]]})", limits).error().code,
            ErrorCode::kLimitExceeded);
  Value deep = Value::array({Value::array({Value::array({})})});
  Value ack = Value::object({{"type", 9}, {"requestId", "q"}, {"packet", deep}});
  EXPECT_TRUE(decode_response(msgpack::encode(ack), limits).ok());
  ack.set("packet", Value::array({deep}));
  EXPECT_EQ(decode_response(msgpack::encode(ack), limits).error().code, ErrorCode::kLimitExceeded);
  // Cluster messages are not client input: a JSON reply larger than max_payload is read.
  limits = Limits{};
  limits.max_payload = 64;
  std::string big = R"({"requestId":"q","rooms":[")" + std::string(1000, 'r') + R"("]})";
  EXPECT_TRUE(decode_response(big, limits).ok());
}

}  // namespace
}  // namespace chorus::cluster
