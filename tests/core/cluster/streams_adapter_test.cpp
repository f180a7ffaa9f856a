#include "chorus/cluster/streams_adapter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chorus/base64.h"
#include "chorus/cluster/msgpack.h"
#include "core/cluster/hex.h"

namespace chorus::cluster::streams {
namespace {

using test::hex;
using test::unhex;

ClusterMessage entry(const Fields& fields) {
  auto m = decode_entry(fields);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return m.ok() ? m.value() : ClusterMessage{};
}

Fields plain(MessageType type, std::string data) {
  return {{"uid", "4f34aa0011223344"},
          {"nsp", "/"},
          {"type", std::to_string(static_cast<int>(type))},
          {"data", std::move(data)}};
}

// The research notes' observed XADD of io.to("room1").emit("e1", "first").
TEST(StreamsAdapter, ObservedBroadcastEntryDecodesAndEncodesBackToTheSameFields) {
  const Fields observed =
      plain(MessageType::kBroadcast,
            R"({"packet":{"type":2,"data":["e1","first"]},"opts":{"rooms":["room1"],"except":[],"flags":{}}})");
  ClusterMessage m = entry(observed);
  EXPECT_EQ(m.type, MessageType::kBroadcast);
  EXPECT_EQ(m.uid, "4f34aa0011223344");
  EXPECT_EQ(m.nsp, "/");
  const auto& d = std::get<BroadcastData>(m.data);
  EXPECT_EQ(d.packet.type, 2);
  EXPECT_EQ(Value(d.packet.data), Value::array({"e1", "first"}));
  EXPECT_FALSE(d.packet.nsp);
  EXPECT_FALSE(d.request_id);
  EXPECT_EQ(d.opts.rooms, std::vector<std::string>{"room1"});
  EXPECT_FALSE(is_ephemeral(m));
  EXPECT_EQ(encode_entry(m), observed);
}

// The observed XADD of emit("bin", Buffer[1, 2]): data is base64 of @msgpack/msgpack.
TEST(StreamsAdapter, BinaryBroadcastEntryIsBase64Msgpack) {
  const std::string observed = "gqZwYWNrZXSCpHR5cGUCpGRhdGGSo2JpbsQCAQKkb3B0c4Olcm9vbXOQpmV4Y2VwdJClZmxhZ3OA";
  ClusterMessage m = entry(plain(MessageType::kBroadcast, observed));
  const auto& d = std::get<BroadcastData>(m.data);
  ASSERT_EQ(d.packet.data.size(), 2u);
  EXPECT_EQ(d.packet.data[1], Value::binary("\x01\x02", 2));
  EXPECT_EQ(encode_entry(m)[3].second, observed);
  // onlyPlaintext: JSON, the Buffer as JSON.stringify writes it.
  EXPECT_EQ(encode_entry(m, EntryOptions{true})[3].second,
            R"({"packet":{"type":2,"data":["bin",{"type":"Buffer","data":[1,2]}]},"opts":{"rooms":[],"except":[],)"
            R"("flags":{}}})");
}

TEST(StreamsAdapter, BinaryInATypeThatCannotCarryItIsJson) {
  ClusterMessage m{MessageType::kSocketsJoin, SocketsRoomsData{Opts{{"a"}, {}, {}}, {"b"}}, "u", "/"};
  EXPECT_EQ(encode_entry(m)[3].second, R"({"opts":{"rooms":["a"],"except":[],"flags":{}},"rooms":["b"]})");
}

TEST(StreamsAdapter, EveryTypeRoundTripsThroughEntriesAndPubSub) {
  Opts opts{{"r1"}, {"r2"}, {}};
  opts.flags.timeout_ms = 2000;
  Packet packet{2, Array{"ev", 1, Value::binary("\x07", 1)}, std::nullopt, std::nullopt};
  const std::vector<ClusterMessage> messages = {
      {MessageType::kInitialHeartbeat, NoData{}, "a1", "/"},
      {MessageType::kHeartbeat, NoData{}, "a1", "/"},
      {MessageType::kBroadcast, BroadcastData{packet, std::nullopt, opts}, "a1", "/chat"},
      {MessageType::kBroadcast, BroadcastData{packet, std::string("req"), opts}, "a1", "/"},
      {MessageType::kSocketsJoin, SocketsRoomsData{opts, {"x", "y"}}, "a1", "/"},
      {MessageType::kSocketsLeave, SocketsRoomsData{opts, {"x"}}, "a1", "/"},
      {MessageType::kDisconnectSockets, DisconnectSocketsData{opts, true}, "a1", "/"},
      {MessageType::kDisconnectSockets, DisconnectSocketsData{opts, std::nullopt}, "a1", "/"},
      {MessageType::kFetchSockets, FetchSocketsData{opts, "req"}, "a1", "/"},
      {MessageType::kFetchSocketsResponse,
       FetchSocketsResponseData{"req", Array{Value::object({{"id", "s1"}, {"rooms", Value::array({"s1"})}})}}, "b2",
       "/"},
      {MessageType::kServerSideEmit, ServerSideEmitData{std::nullopt, Array{"hello", 1}}, "a1", "/"},
      {MessageType::kServerSideEmit, ServerSideEmitData{std::string("req"), Array{"hello"}}, "a1", "/"},
      {MessageType::kServerSideEmitResponse, ServerSideEmitResponseData{"req", Value("reply")}, "b2", "/"},
      {MessageType::kBroadcastClientCount, BroadcastClientCountData{"req", 0}, "b2", "/"},
      {MessageType::kBroadcastAck, BroadcastAckData{"req", Value::binary("\x01", 1)}, "b2", "/"},
      {MessageType::kAdapterClose, NoData{}, "a1", "/"},
  };
  for (const ClusterMessage& m : messages) {
    SCOPED_TRACE(static_cast<int>(m.type));
    Fields fields = encode_entry(m);
    EXPECT_EQ(fields.size(), std::holds_alternative<NoData>(m.data) ? 3u : 4u);
    auto back = decode_entry(fields);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(encode_entry(back.value()), fields);
    EXPECT_EQ(back->data.index(), m.data.index());

    std::string bytes = encode_pubsub(m);
    auto again = decode_pubsub(bytes);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(encode_pubsub(again.value()), bytes);
    EXPECT_EQ(again->uid, m.uid);
    EXPECT_EQ(again->nsp, m.nsp);
  }
}

TEST(StreamsAdapter, PubSubBytesAreMsgpackJsBytes) {
  // @msgpack/msgpack 2.8's encode({type: 9, data: {requestId: "d1ce", packet: ["hello", 1]},
  // uid: "1f025d5681a9e81e", nsp: "/"}).
  const std::string js =
      "84a47479706509a46461746182a9726571756573744964a464316365a67061636b657492a568656c6c6f01a3756964b03166303235643536"
      "3831613965383165a36e7370a12f";
  auto m = decode_pubsub(unhex(js));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->type, MessageType::kServerSideEmit);
  EXPECT_TRUE(is_ephemeral(m.value()));
  EXPECT_EQ(std::get<ServerSideEmitData>(m->data).request_id, "d1ce");
  EXPECT_EQ(hex(encode_pubsub(m.value())), js);
}

TEST(StreamsAdapter, UndefinedMembersWrittenAsNilReadAsAbsent) {
  // {type: 6, data: {opts: {rooms: [], except: [], flags: {}}, close: undefined}, uid, nsp}
  Value v = Value::object({{"type", 6},
                           {"data", Value::object({{"opts", Value::object({{"rooms", Value::array()},
                                                                           {"except", Value::array()},
                                                                           {"flags", Value::object()}})},
                                                   {"close", Value()}})},
                           {"uid", "u"},
                           {"nsp", "/"}});
  auto m = decode_pubsub(msgpack::encode(v, msgpack::Dialect::kMsgpackJs));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_FALSE(std::get<DisconnectSocketsData>(m->data).close);
}

TEST(StreamsAdapter, BadEntriesAreRefusedWithAReason) {
  const std::vector<std::pair<Fields, std::string>> cases = {
      {{{"uid", "u"}, {"type", "3"}}, "no nsp"},
      {{{"uid", "u"}, {"nsp", ""}, {"type", "3"}}, "no nsp"},
      {{{"nsp", "/"}, {"type", "3"}}, "no uid"},
      {{{"uid", "u"}, {"nsp", "/"}, {"type", "14"}}, "type"},
      {{{"uid", "u"}, {"nsp", "/"}, {"type", "0"}}, "type"},
      {{{"uid", "u"}, {"nsp", "/"}, {"type", "3x"}}, "type"},
      {{{"uid", "u"}, {"nsp", "/"}}, "type"},
      {{{"uid", "u"}, {"nsp", "/"}, {"type", "3"}}, "data is not an object"},
      {plain(MessageType::kBroadcast, "{not json"), ""},
      {plain(MessageType::kBroadcast, "***"), "neither JSON nor base64"},
      {plain(MessageType::kBroadcast, base64::encode("\xc1")), "msgpack"},
      {plain(MessageType::kBroadcast, R"({"packet":{"type":3,"data":["e"]},"opts":{}})"), "packet.type"},
      {plain(MessageType::kBroadcast, R"({"packet":{"type":2,"data":[1]},"opts":{}})"), "event name"},
      {plain(MessageType::kBroadcast, R"({"packet":{"type":2,"data":["e"]}})"), "opts"},
      {plain(MessageType::kSocketsJoin, R"({"opts":{},"rooms":"a"})"), "rooms"},
      {plain(MessageType::kDisconnectSockets, R"({"opts":{},"close":1})"), "close"},
      {plain(MessageType::kFetchSockets, R"({"opts":{}})"), "requestId"},
      {plain(MessageType::kFetchSocketsResponse, R"({"requestId":"r","sockets":[1]})"), "sockets"},
      {plain(MessageType::kServerSideEmit, R"({"packet":[]})"), "packet"},
      {plain(MessageType::kBroadcastClientCount, R"({"requestId":"r","clientCount":-1})"), "clientCount"},
      {plain(MessageType::kBroadcastClientCount, R"({"requestId":"r","clientCount":1.5})"), "clientCount"},
      {plain(MessageType::kBroadcastAck, R"({"packet":1})"), "requestId"},
  };
  for (const auto& [fields, reason] : cases) {
    auto m = decode_entry(fields);
    ASSERT_FALSE(m.ok()) << reason;
    EXPECT_NE(m.error().message.find(reason), std::string::npos) << m.error().message;
  }
  EXPECT_FALSE(decode_entry(std::vector<std::string>{"uid", "u", "nsp"}).ok());
}

TEST(StreamsAdapter, FlatFieldListsAndRepeatedFields) {
  auto m = decode_entry(std::vector<std::string>{"uid", "u", "nsp", "/x", "type", "2", "nsp", "/", "extra", "1"});
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->nsp, "/");
  EXPECT_EQ(m->type, MessageType::kHeartbeat);
}

TEST(StreamsAdapter, BadPubSubMessagesAreRefused) {
  EXPECT_FALSE(decode_pubsub("").ok());
  EXPECT_FALSE(decode_pubsub(msgpack::encode(Value::array({1}))).ok());
  EXPECT_FALSE(decode_pubsub(msgpack::encode(Value::object({{"type", 2}, {"nsp", "/"}}))).ok());
  EXPECT_FALSE(decode_pubsub(msgpack::encode(Value::object({{"type", 2}, {"uid", "u"}}))).ok());
  EXPECT_FALSE(decode_pubsub(msgpack::encode(Value::object({{"type", 14}, {"uid", "u"}, {"nsp", "/"}}))).ok());
  EXPECT_FALSE(decode_pubsub(msgpack::encode(Value::object({{"type", 7}, {"uid", "u"}, {"nsp", "/"}}))).ok());
  // notepack's legacy ext 0 is not something @msgpack/msgpack reads as a value.
  EXPECT_FALSE(decode_pubsub(unhex("83a474797065") + unhex("02a3756964d40000a36e7370a12f")).ok());
  EXPECT_TRUE(decode_pubsub(unhex("83a47479706502a3756964a175a36e7370a12f")).ok());
}

TEST(StreamsAdapter, Channels) {
  EXPECT_EQ(public_channel("socket.io", "/"), "socket.io#/#");
  EXPECT_EQ(private_channel("socket.io", "/chat", "1f025d5681a9e81e"), "socket.io#/chat#1f025d5681a9e81e#");
  EXPECT_EQ(server_count_command("socket.io", "/"), (std::vector<std::string>{"PUBSUB", "NUMSUB", "socket.io#/#"}));
  EXPECT_EQ(server_count_command("p", "/", true), (std::vector<std::string>{"PUBSUB", "SHARDNUMSUB", "p#/#"}));
}

// The research notes' streamCount 4 run: /chat hashes to 46457863 (stream 3), /notifications
// to -1014064871 (stream -3, which no node reads).
TEST(StreamsAdapter, StreamNameFollowsJavaScriptsHashCode) {
  EXPECT_EQ(js_hash_code("/chat"), 46457863);
  EXPECT_EQ(js_hash_code("/notifications"), -1014064871);
  EXPECT_EQ(js_hash_code(""), 0);
  EXPECT_EQ(js_hash_code("\xF0\x9F\x98\x80"), 0xd83d * 31 + 0xde00);  // U+1F600: two UTF-16 units
  EXPECT_EQ(stream_name("socket.io", 1, "/chat"), "socket.io");
  EXPECT_EQ(stream_name("socket.io", 4, "/chat"), "socket.io-3");
  EXPECT_EQ(stream_name("socket.io", 4, "/notifications"), "socket.io--3");
  EXPECT_EQ(xadd_command("s", 10000, {{"uid", "u"}, {"nsp", "/"}}),
            (std::vector<std::string>{"XADD", "s", "MAXLEN", "~", "10000", "*", "uid", "u", "nsp", "/"}));
}

// The session of the research notes' cross-node recovery: {sid, pid, rooms: [sid, "room1"],
// data: {n: 7}}, as @msgpack/msgpack and base64 write it.
TEST(StreamsAdapter, SessionBlob) {
  const std::string js =
      "hKNzaWS0ckxqMUFBQUFBQUFBQUFBQUFBQUGjcGlktHBpZHBpZHBpZHBpZHBpZHBpZHBppXJvb21zkrRyTGoxQUFBQUFBQUFBQUFBQUFBQaVyb29t"
      "MaRkYXRhgaFuBw==";
  auto s = decode_session(js);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->sid, "rLj1AAAAAAAAAAAAAAAA");
  EXPECT_EQ(s->pid, "pidpidpidpidpidpidpi");
  EXPECT_EQ(s->rooms, (std::vector<std::string>{"rLj1AAAAAAAAAAAAAAAA", "room1"}));
  EXPECT_EQ(s->data, Value::object({{"n", 7}}));
  EXPECT_EQ(encode_session(s.value()), js);
  EXPECT_EQ(session_key("sio:session:", "pid"), "sio:session:pid");

  EXPECT_FALSE(decode_session("!!").ok());
  EXPECT_FALSE(decode_session(base64::encode(msgpack::encode(Value::array()))).ok());
  EXPECT_FALSE(
      decode_session(base64::encode(msgpack::encode(Value::object({{"sid", "s"}, {"rooms", Value::array()}})))).ok());
  EXPECT_FALSE(
      decode_session(base64::encode(msgpack::encode(Value::object({{"sid", "s"}, {"pid", "p"}, {"rooms", "r"}}))))
          .ok());
  auto no_data = decode_session(
      base64::encode(msgpack::encode(Value::object({{"sid", "s"}, {"pid", "p"}, {"rooms", Value::array({1})}}))));
  ASSERT_TRUE(no_data.ok());
  EXPECT_EQ(no_data->rooms, std::vector<std::string>{"1"});
  EXPECT_TRUE(no_data->data.is_null());
}

TEST(StreamsAdapter, Offsets) {
  auto id = parse_offset("1796527547537-0");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->ms, 1796527547537u);
  EXPECT_EQ(id->seq, 0u);
  EXPECT_EQ(to_string(*next_id(*id)), "1796527547537-1");
  for (const char* bad : {"", "-", "1-", "-1", "1", "1-2-3", "a-1", "1-b", " 1-1", "1-1 ", "+1-1", "1.0-1",
                          "18446744073709551616-0", "0-18446744073709551616"}) {
    EXPECT_FALSE(parse_offset(bad)) << bad;
  }
  auto max_seq = parse_offset("5-18446744073709551615");
  ASSERT_TRUE(max_seq);
  EXPECT_EQ(to_string(*next_id(*max_seq)), "6-0");
  // Past 2^53 Node's parseInt loses precision; Chorus does not.
  EXPECT_EQ(to_string(*next_id(*parse_offset("1-9007199254740993"))), "1-9007199254740994");
  EXPECT_FALSE(next_id(*parse_offset("18446744073709551615-18446744073709551615")));
  EXPECT_EQ(to_string(*parse_offset("007-01")), "7-1");
}

TEST(StreamsAdapter, ShouldReplay) {
  auto broadcast = [](std::vector<std::string> rooms, std::vector<std::string> except) {
    return ClusterMessage{MessageType::kBroadcast,
                          BroadcastData{Packet{2, Array{"e"}, std::nullopt, std::nullopt}, std::nullopt,
                                        Opts{std::move(rooms), std::move(except), {}}},
                          "u", "/"};
  };
  const std::vector<std::string> session = {"sid1", "room1"};
  EXPECT_TRUE(should_replay(broadcast({}, {}), "/", session));
  EXPECT_TRUE(should_replay(broadcast({"room1"}, {}), "/", session));
  EXPECT_TRUE(should_replay(broadcast({"sid1", "other"}, {}), "/", session));
  EXPECT_FALSE(should_replay(broadcast({"other"}, {}), "/", session));
  EXPECT_FALSE(should_replay(broadcast({}, {"room1"}), "/", session));
  EXPECT_FALSE(should_replay(broadcast({"room1"}, {"sid1"}), "/", session));
  EXPECT_FALSE(should_replay(broadcast({}, {}), "/chat", session));
  ClusterMessage m = broadcast({}, {});
  std::get<BroadcastData>(m.data).opts.flags.is_volatile = true;
  EXPECT_FALSE(should_replay(m, "/", session));  // Node 0.3 replays it
  m = broadcast({}, {});
  std::get<BroadcastData>(m.data).request_id = "r";
  EXPECT_FALSE(should_replay(m, "/", session));
  m = broadcast({}, {});
  m.type = MessageType::kSocketsJoin;
  m.data = SocketsRoomsData{};
  EXPECT_FALSE(should_replay(m, "/", session));
}

TEST(StreamsAdapter, Ephemeral) {
  EXPECT_TRUE(is_ephemeral({MessageType::kFetchSockets, FetchSocketsData{}, "u", "/"}));
  EXPECT_TRUE(is_ephemeral({MessageType::kServerSideEmit, ServerSideEmitData{}, "u", "/"}));
  EXPECT_TRUE(is_ephemeral({MessageType::kBroadcastAck, BroadcastAckData{}, "u", "/"}));
  EXPECT_FALSE(is_ephemeral({MessageType::kSocketsJoin, SocketsRoomsData{}, "u", "/"}));
  EXPECT_FALSE(is_ephemeral({MessageType::kHeartbeat, NoData{}, "u", "/"}));
}

}  // namespace
}  // namespace chorus::cluster::streams
