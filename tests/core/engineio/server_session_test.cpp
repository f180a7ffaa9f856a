// engineio::ServerSession (heartbeat, upgrade, close reasons, polling request rules) and
// engineio::Outbox (bound, volatile policy, polling payloads, SSE framing).
#include <gtest/gtest.h>

#include "chorus/engineio/outbox.h"
#include "chorus/engineio/server_session.h"

namespace chorus::engineio {
namespace {

Limits limits() {
  Limits l;
  l.ping_interval_ms = 1000;
  l.ping_timeout_ms = 500;
  l.upgrade_timeout_ms = 300;
  return l;
}

ServerSession polling_session(std::uint64_t now = 0) {
  return ServerSession("sid1", Transport::kPolling, limits(), now, {"websocket"});
}

TEST(EngineioServerSession, OpenPacketAnnouncesTheHandshake) {
  ServerSession s = polling_session();
  Packet open = s.open_packet();
  EXPECT_EQ(open.type, PacketType::kOpen);
  EXPECT_EQ(open.data,
            "{\"sid\":\"sid1\",\"upgrades\":[\"websocket\"],\"pingInterval\":1000,\"pingTimeout\":500,"
            "\"maxPayload\":1000000}");
}

TEST(EngineioServerSession, PingsEveryIntervalAndTimesOutWithoutPong) {
  ServerSession s = polling_session(0);
  EXPECT_EQ(s.next_deadline(), 1000u);
  EXPECT_FALSE(s.on_timer(999).send_ping);
  EXPECT_TRUE(s.on_timer(1000).send_ping);
  EXPECT_EQ(s.next_deadline(), 1500u);
  // A pong: the next ping is an interval after it.
  s.on_packet(Transport::kPolling, Packet::text(PacketType::kPong, ""), 1200);
  EXPECT_EQ(s.next_deadline(), 2200u);
  EXPECT_TRUE(s.on_timer(2200).send_ping);
  auto t = s.on_timer(2700);
  EXPECT_TRUE(t.closed);
  EXPECT_EQ(s.close_reason(), CloseReason::kPingTimeout);
  EXPECT_TRUE(s.closed());
}

TEST(EngineioServerSession, OtherPacketsRefreshThePongTimeoutOnce) {
  ServerSession s = polling_session(0);
  ASSERT_TRUE(s.on_timer(1000).send_ping);
  s.on_packet(Transport::kPolling, Packet::text(PacketType::kMessage, "a"), 1400);
  EXPECT_EQ(s.next_deadline(), 1900u);
  s.on_packet(Transport::kPolling, Packet::text(PacketType::kMessage, "b"), 1800);
  EXPECT_EQ(s.next_deadline(), 1900u) << "refreshed once only";
  EXPECT_TRUE(s.on_timer(1900).closed);
}

TEST(EngineioServerSession, ClientPingAndOpenAreViolations) {
  ServerSession a = polling_session();
  EXPECT_TRUE(a.on_packet(Transport::kPolling, Packet::text(PacketType::kPing, ""), 1).closed);
  EXPECT_EQ(a.close_reason(), CloseReason::kTransportError);
  ServerSession b = polling_session();
  EXPECT_TRUE(b.on_packet(Transport::kPolling, Packet::text(PacketType::kOpen, ""), 1).closed);
  EXPECT_EQ(b.close_reason(), CloseReason::kParseError);
  ServerSession c = polling_session();
  auto out = c.on_packet(Transport::kPolling, Packet::text(PacketType::kClose, ""), 1);
  EXPECT_TRUE(out.closed);
  EXPECT_EQ(c.close_reason(), CloseReason::kTransportClose);
}

TEST(EngineioServerSession, UpgradeProbeThenSwitch) {
  ServerSession s = polling_session();
  ASSERT_TRUE(s.begin_upgrade(Transport::kWebSocket, 10));
  EXPECT_FALSE(s.begin_upgrade(Transport::kWebSocket, 11)) << "one probe at a time";
  auto probe = s.on_packet(Transport::kWebSocket, Packet::text(PacketType::kPing, "probe"), 20);
  ASSERT_EQ(probe.reply.size(), 1u);
  EXPECT_EQ(encode_text(probe.reply[0]), "3probe");
  EXPECT_TRUE(probe.release_poll);
  EXPECT_TRUE(s.probe_confirmed());
  auto up = s.on_packet(Transport::kWebSocket, Packet::text(PacketType::kUpgrade, ""), 30);
  EXPECT_TRUE(up.upgraded);
  EXPECT_EQ(s.transport(), Transport::kWebSocket);
  // A stale polling packet after the upgrade is ignored.
  auto stale = s.on_packet(Transport::kPolling, Packet::text(PacketType::kMessage, "x"), 40);
  EXPECT_TRUE(stale.messages.empty());
  EXPECT_FALSE(s.begin_upgrade(Transport::kWebSocket, 50)) << "already on the WebSocket";
}

TEST(EngineioServerSession, UpgradeAbandonedByTimeoutOrOtherPacket) {
  ServerSession s = polling_session();
  ASSERT_TRUE(s.begin_upgrade(Transport::kWebSocket, 0));
  EXPECT_EQ(s.next_deadline(), 300u);
  EXPECT_TRUE(s.on_timer(300).abandon_probe);
  EXPECT_EQ(s.transport(), Transport::kPolling);
  EXPECT_FALSE(s.closed());
  ASSERT_TRUE(s.begin_upgrade(Transport::kWebSocket, 400));
  EXPECT_TRUE(s.on_packet(Transport::kWebSocket, Packet::text(PacketType::kMessage, "x"), 410).abandon_probe);
  EXPECT_FALSE(s.closed());
}

TEST(EngineioServerSession, TransportCloseOfTheProbeKeepsTheSession) {
  ServerSession s = polling_session();
  ASSERT_TRUE(s.begin_upgrade(Transport::kWebSocket, 0));
  EXPECT_TRUE(s.on_transport_closed(Transport::kWebSocket, true).abandon_probe);
  EXPECT_FALSE(s.closed());
  EXPECT_TRUE(s.on_transport_closed(Transport::kPolling, true).closed);
  EXPECT_EQ(s.close_reason(), CloseReason::kTransportError);
}

TEST(EngineioServerSession, OneGetAndOnePostAtATime) {
  ServerSession s = polling_session();
  ASSERT_TRUE(s.begin_get());
  ASSERT_TRUE(s.begin_post());
  s.end_post();
  ASSERT_TRUE(s.begin_post()) << "a POST after the previous one ended";
  s.end_post();
  EXPECT_TRUE(s.get_pending());
  EXPECT_FALSE(s.begin_get()) << "a second GET while one is pending";
  EXPECT_EQ(s.close_reason(), CloseReason::kTransportError);

  ServerSession t = polling_session();
  ASSERT_TRUE(t.begin_post());
  EXPECT_FALSE(t.begin_post());
  EXPECT_EQ(t.close_reason(), CloseReason::kTransportError);
}

FramePtr frame(std::string text, bool is_volatile = false) {
  return OutFrame::text(std::move(text), is_volatile);
}

TEST(EngineioOutbox, VolatileOnlyWhenTheTransportCanTakeItAtOnce) {
  Outbox box(100);
  EXPECT_EQ(box.push(frame("4a", true), false), Outbox::Push::kDropped) << "no poll waiting";
  EXPECT_EQ(box.push(frame("4b", true), true), Outbox::Push::kQueued);
  EXPECT_EQ(box.push(frame("4c", true), true), Outbox::Push::kDropped) << "something is queued";
  EXPECT_EQ(box.push(frame("4d"), false), Outbox::Push::kQueued);
  EXPECT_EQ(box.frames(), 2u);
  EXPECT_EQ(box.bytes(), 4u);
}

TEST(EngineioOutbox, BoundShedsVolatileFramesFirstThenOverflows) {
  Outbox box(10);
  ASSERT_EQ(box.push(frame("4vvvv", true), true), Outbox::Push::kQueued);  // 5 bytes
  ASSERT_EQ(box.push(frame("4aaa"), true), Outbox::Push::kQueued);         // 9
  // 9 + 4 > 10: the volatile frame goes, then it fits.
  EXPECT_EQ(box.push(frame("4bbb"), true), Outbox::Push::kQueued);
  EXPECT_EQ(box.bytes(), 8u);
  EXPECT_EQ(box.pop()->parts[0].data, "4aaa");
  EXPECT_EQ(box.pop()->parts[0].data, "4bbb");
  ASSERT_EQ(box.push(frame("4123456"), true), Outbox::Push::kQueued);  // 7
  EXPECT_EQ(box.push(frame("4xyz"), true), Outbox::Push::kOverflow);   // 11: nothing to shed
  // At the limit exactly is fine; one frame larger than the bound goes when the queue is empty.
  Outbox empty(3);
  EXPECT_EQ(empty.push(frame("41234"), true), Outbox::Push::kQueued);
  // PINGs bypass the bound.
  empty.push_control(frame("2"));
  EXPECT_EQ(empty.frames(), 2u);
}

TEST(EngineioOutbox, PollingPayloads) {
  Outbox box(1000);
  EXPECT_EQ(box.take_payload(false), "6") << "an empty answer is a NOOP";
  EXPECT_EQ(box.take_payload(true), "1") << "a closed session answers CLOSE";
  auto bin = std::make_shared<OutFrame>();
  bin->parts = {{false, "451-[\"e\",{\"_placeholder\":true,\"num\":0}]"}, {true, std::string("\x01\x02", 2)}};
  bin->bytes = 40;
  box.push(frame("4hello"), true);
  box.push(bin, true);
  EXPECT_EQ(box.take_payload(true),
            "4hello\x1e"
            "451-[\"e\",{\"_placeholder\":true,\"num\":0}]\x1e"
            "bAQI=\x1e"
            "1");
  EXPECT_TRUE(box.empty());
  EXPECT_EQ(box.bytes(), 0u);
}

TEST(EngineioOutbox, SseEvents) {
  std::string out;
  append_sse_event(out, false, "4a\nb");
  EXPECT_EQ(out, "data: 4a\ndata: b\n\n");
  out.clear();
  append_sse_event(out, false, "4a\rb");
  EXPECT_EQ(out, "event: b64\ndata: NGENYg==\n\n");
  out.clear();
  append_sse_event(out, true, std::string("\xff", 1));
  EXPECT_EQ(out, "data: b/w==\n\n");
  Outbox box(1000);
  box.push(frame("4one"), true);
  box.push(frame("4two"), true);
  out.clear();
  box.take_sse(out, 1);  // stops once `out` reached its bound: one event
  EXPECT_EQ(out, "data: 4one\n\n");
  box.take_sse(out, 1000);
  EXPECT_EQ(out, "data: 4one\n\ndata: 4two\n\n");
}

}  // namespace
}  // namespace chorus::engineio
