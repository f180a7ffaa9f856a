#include "chorus/client/manager.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "chorus/json/json.h"

namespace chorus::client {
namespace {

constexpr const char* kHandshake =
    R"(0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})";

Value json(std::string_view text) {
  auto v = json::parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? *v : Value();
}

// Drives a Manager over WebSocket, playing the server by hand.
struct Harness {
  Manager m;
  std::uint64_t now = 0;
  std::uint32_t ws = 0;  // current WebSocket transport id
  std::vector<Action> actions;
  std::vector<std::string> sent;  // text frames sent on `ws`
  std::vector<std::string> binaries_sent;
  std::uint64_t timer = kNever;

  static ManagerOptions opts() {
    ManagerOptions o;
    o.engine.host = "h";
    o.engine.transports = {Transport::kWebSocket};
    o.random = [] { return 0.0; };  // jitter 0.5, draw 0: no deviation
    return o;
  }
  explicit Harness(ManagerOptions o = opts()) : m(std::move(o)) {}

  void drain() {
    while (auto a = m.next_action()) {
      if (a->type == ActionType::kOpenWebSocket) ws = a->transport;
      if (a->type == ActionType::kSendText && a->transport == ws) sent.push_back(a->data);
      if (a->type == ActionType::kSendBinary && a->transport == ws) binaries_sent.push_back(a->data);
      if (a->type == ActionType::kSetTimer) timer = a->number;
      actions.push_back(std::move(*a));
    }
  }
  std::vector<Action> take() {
    drain();
    std::vector<Action> out = std::move(actions);
    actions.clear();
    return out;
  }
  std::vector<std::string> take_sent() {
    drain();
    std::vector<std::string> out = std::move(sent);
    sent.clear();
    return out;
  }
  // Opens the engine: transport open + handshake.
  void engine_up() {
    drain();
    m.on_transport_open(ws, now);
    m.on_text(ws, kHandshake, now);
    drain();
  }
  void server(std::string_view text) {
    m.on_text(ws, text, now);
    drain();
  }
  void server_binary(std::string_view bytes) {
    m.on_binary(ws, bytes, now);
    drain();
  }
  void advance(std::uint64_t ms) {
    drain();
    now += ms;
    if (now >= timer) m.on_timer(now);
    drain();
  }
  // Connects "/" and answers CONNECT.
  void connected(const std::string& nsp = "/", const std::string& sid = "S1") {
    m.add_socket(nsp, SocketOptions{});
    m.connect(nsp, now);
    engine_up();
    m.connect(nsp, now);
    drain();
    server(std::string("40") + (nsp == "/" ? "" : nsp + ",") + R"({"sid":")" + sid + "\"}");
    take_sent();
    take();
  }
};

const Action* find(const std::vector<Action>& actions, ActionType type, std::size_t nth = 0) {
  for (const Action& a : actions) {
    if (a.type == type && nth-- == 0) return &a;
  }
  return nullptr;
}

std::vector<ActionType> user_events(const std::vector<Action>& actions) {
  std::vector<ActionType> out;
  for (const Action& a : actions) {
    if (a.type >= ActionType::kManagerOpen) out.push_back(a.type);
  }
  return out;
}

TEST(ClientManager, ConnectsSendsConnectWithAuthAndReportsTheSid) {
  Harness h;
  SocketOptions so;
  so.auth = json(R"({"token":"abc"})");
  h.m.add_socket("/", so);
  h.m.connect("/", 0);
  auto a = h.take();
  ASSERT_NE(find(a, ActionType::kOpenWebSocket), nullptr);
  EXPECT_EQ(find(a, ActionType::kOpenWebSocket)->url, "ws://h/socket.io/?EIO=4&transport=websocket");
  EXPECT_EQ(h.timer, 20'000u);  // the open timeout
  h.m.on_transport_open(h.ws, 1);
  h.m.on_text(h.ws, kHandshake, 1);
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(40{"token":"abc"})"}));
  h.server(R"(40{"sid":"S1"})");
  a = h.take();
  const Action* c = find(a, ActionType::kConnect);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->nsp, "/");
  EXPECT_EQ(c->sid, "S1");
  EXPECT_FALSE(c->flag);
  EXPECT_TRUE(h.m.connected("/"));
  EXPECT_EQ(h.timer, 1u + 45'000u);  // now the heartbeat
}

TEST(ClientManager, EventsBothWaysWithAcks) {
  Harness h;
  h.connected();
  EmitOptions with_ack;
  with_ack.token = 7;
  ASSERT_TRUE(h.m.emit("/", json(R"(["hello",1,{"a":[true,null]}])"), with_ack, h.now).ok());
  ASSERT_TRUE(h.m.emit("/", json(R"(["plain"])"), EmitOptions{}, h.now).ok());
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(420["hello",1,{"a":[true,null]}])", R"(42["plain"])"}));
  h.server(R"(430["ok",2])");
  auto a = h.take();
  const Action* ack = find(a, ActionType::kAck);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->number, 7u);
  EXPECT_FALSE(ack->flag);
  EXPECT_EQ(ack->reason, "");
  EXPECT_EQ(ack->data, R"(["ok",2])");
  // A second reply to the same id is ignored.
  h.server(R"(430["again"])");
  EXPECT_EQ(find(h.take(), ActionType::kAck), nullptr);
  // Server event asking for an ack.
  h.server(R"(4212["question","x"])");
  a = h.take();
  const Action* ev = find(a, ActionType::kEvent);
  ASSERT_NE(ev, nullptr);
  EXPECT_EQ(ev->data, R"(["question","x"])");
  EXPECT_TRUE(ev->flag);
  EXPECT_EQ(ev->number, 12u);
  ASSERT_TRUE(h.m.ack("/", 12, json(R"(["answer"])"), h.now).ok());
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(4312["answer"])"}));
  // Reserved names are refused.
  EXPECT_FALSE(h.m.emit("/", json(R"(["disconnect"])"), EmitOptions{}, h.now).ok());
  EXPECT_FALSE(h.m.emit("/", json(R"([1])"), EmitOptions{}, h.now).ok());
  EXPECT_FALSE(h.m.emit("/nope", json(R"(["x"])"), EmitOptions{}, h.now).ok());
}

TEST(ClientManager, BinaryBothWays) {
  Harness h;
  h.connected();
  Value args = Value::array({"bin", Value::object({{"data", Value::binary("\x01\x02", 2)}})});
  ASSERT_TRUE(h.m.emit("/", args, EmitOptions{}, h.now).ok());
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(451-["bin",{"data":{"_placeholder":true,"num":0}}])"}));
  EXPECT_EQ(h.binaries_sent, (std::vector<std::string>{std::string("\x01\x02", 2)}));
  h.server(R"(451-["bin-back",{"_placeholder":true,"num":0}])");
  EXPECT_EQ(find(h.take(), ActionType::kEvent), nullptr);  // waiting for the attachment
  h.server_binary(std::string("\xff\x00", 2));
  auto a = h.take();
  const Action* ev = find(a, ActionType::kEvent);
  ASSERT_NE(ev, nullptr);
  EXPECT_EQ(ev->data, R"(["bin-back",{"_placeholder":true,"num":0}])");
  ASSERT_EQ(ev->binaries.size(), 1u);
  EXPECT_EQ(ev->binaries[0], (Binary{0xff, 0x00}));
}

TEST(ClientManager, AckTimeoutAndErrorFirstFlag) {
  Harness h;
  h.connected();
  EmitOptions o;
  o.token = 1;
  o.timeout_ms = 500;
  ASSERT_TRUE(h.m.emit("/", json(R"(["slow"])"), o, h.now).ok());
  h.drain();
  EXPECT_EQ(h.timer, h.now + 500);
  h.advance(499);
  EXPECT_EQ(find(h.take(), ActionType::kAck), nullptr);
  h.advance(1);
  auto a = h.take();
  const Action* ack = find(a, ActionType::kAck);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->reason, "operation has timed out");
  EXPECT_TRUE(ack->flag);
  // The late reply is ignored.
  h.server(R"(430["late"])");
  EXPECT_EQ(find(h.take(), ActionType::kAck), nullptr);
  // In time: success, still error-first.
  o.token = 2;
  ASSERT_TRUE(h.m.emit("/", json(R"(["fast"])"), o, h.now).ok());
  h.server(R"(431[1])");
  a = h.take();
  ack = find(a, ActionType::kAck);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->number, 2u);
  EXPECT_EQ(ack->reason, "");
  EXPECT_TRUE(ack->flag);
}

TEST(ClientManager, EmitsWhileDisconnectedAreBufferedVolatileOnesDropped) {
  Harness h;
  h.m.add_socket("/", SocketOptions{});
  EmitOptions vol;
  vol.is_volatile = true;
  ASSERT_TRUE(h.m.emit("/", json(R"(["early",1])"), EmitOptions{}, 0).ok());
  ASSERT_TRUE(h.m.emit("/", json(R"(["gone"])"), vol, 0).ok());
  h.m.connect("/", 0);
  h.engine_up();
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{"40"}));
  ASSERT_TRUE(h.m.emit("/", json(R"(["early",2])"), EmitOptions{}, 0).ok());
  h.server(R"(40{"sid":"S"})");
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(42["early",1])", R"(42["early",2])"}));
  ASSERT_TRUE(h.m.emit("/", json(R"(["now"])"), vol, 0).ok());
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(42["now"])"}));
}

TEST(ClientManager, EventsBeforeConnectAreDeliveredAfterIt) {
  Harness h;
  h.m.add_socket("/", SocketOptions{});
  h.m.connect("/", 0);
  h.engine_up();
  h.server(R"(42["first"])");
  EXPECT_EQ(find(h.take(), ActionType::kEvent), nullptr);
  h.server(R"(40{"sid":"S"})");
  auto ev = user_events(h.take());
  EXPECT_EQ(ev, (std::vector<ActionType>{ActionType::kEvent, ActionType::kConnect}));
}

TEST(ClientManager, NamespacesShareOneEngine) {
  Harness h;
  h.connected("/");
  SocketOptions so;
  so.auth = json(R"({"token":"letmein"})");
  h.m.add_socket("/admin", so);
  h.m.connect("/admin", h.now);
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(40/admin,{"token":"letmein"})"}));
  EXPECT_EQ(find(h.actions, ActionType::kOpenWebSocket), nullptr);
  h.server(R"(40/admin,{"sid":"A1"})");
  auto taken_c = h.take();
  const Action* c = find(taken_c, ActionType::kConnect);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->nsp, "/admin");
  ASSERT_TRUE(h.m.emit("/admin", json(R"(["x"])"), EmitOptions{}, h.now).ok());
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(42/admin,["x"])"}));
  h.server(R"(42/admin,["y"])");
  EXPECT_EQ(find(h.take(), ActionType::kEvent)->nsp, "/admin");
  // An event for a namespace nobody joined is ignored.
  h.server(R"(42/other,["z"])");
  EXPECT_EQ(find(h.take(), ActionType::kEvent), nullptr);
}

TEST(ClientManager, ConnectErrorCarriesMessageAndData) {
  Harness h;
  h.connected("/");
  h.m.add_socket("/admin", SocketOptions{});
  h.m.connect("/admin", h.now);
  h.take();
  h.server(R"(44/admin,{"message":"not authorized","data":{"code":403}})");
  auto a = h.take();
  const Action* e = find(a, ActionType::kConnectError);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->nsp, "/admin");
  EXPECT_EQ(e->reason, "not authorized");
  EXPECT_EQ(e->data, R"({"code":403})");
  EXPECT_FALSE(h.m.active("/admin"));
  EXPECT_TRUE(h.m.connected("/"));  // the other namespace is untouched
  // A refused main namespace, being the last active socket, closes the manager for good.
  Harness g;
  g.m.add_socket("/", SocketOptions{});
  g.m.connect("/", 0);
  g.engine_up();
  g.server(R"(44{"message":"no"})");
  a = g.take();
  EXPECT_NE(find(a, ActionType::kCloseTransport), nullptr);
  EXPECT_EQ(g.m.ready_state(), Manager::ReadyState::kClosed);
  EXPECT_FALSE(g.m.reconnecting());
}

TEST(ClientManager, AuthCallbackIsAskedBeforeEachConnect) {
  Harness h;
  SocketOptions so;
  so.auth_callback = true;
  h.m.add_socket("/", so);
  h.m.connect("/", 0);
  h.engine_up();
  auto a = h.take();
  ASSERT_NE(find(a, ActionType::kAuthRequest), nullptr);
  EXPECT_TRUE(h.take_sent().empty());
  h.m.provide_auth("/", json(R"({"t":1})"), 0);
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(40{"t":1})"}));
  h.m.provide_auth("/", json(R"({"t":2})"), 0);  // not asked: ignored
  EXPECT_TRUE(h.take_sent().empty());
}

TEST(ClientManager, ServerDisconnectDoesNotReconnect) {
  Harness h;
  h.connected();
  h.server("41");
  auto a = h.take();
  const Action* d = find(a, ActionType::kDisconnect);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, "io server disconnect");
  EXPECT_FALSE(h.m.reconnecting());
  EXPECT_EQ(h.m.ready_state(), Manager::ReadyState::kClosed);
  EXPECT_NE(find(a, ActionType::kCloseTransport), nullptr);
}

TEST(ClientManager, ClientDisconnectSendsDisconnectAndFailsPendingAcks) {
  Harness h;
  h.connected();
  EmitOptions o;
  o.token = 3;
  o.with_error = true;  // emitWithAck
  ASSERT_TRUE(h.m.emit("/", json(R"(["pending"])"), o, h.now).ok());
  EmitOptions plain;
  plain.token = 4;
  ASSERT_TRUE(h.m.emit("/", json(R"(["pending2"])"), plain, h.now).ok());
  h.take_sent();
  h.m.disconnect("/", h.now);
  auto a = h.take();
  const Action* d = find(a, ActionType::kDisconnect);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, "io client disconnect");
  const Action* ack = find(a, ActionType::kAck);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->number, 3u);
  EXPECT_EQ(ack->reason, "socket has been disconnected");
  EXPECT_EQ(find(a, ActionType::kAck, 1), nullptr);  // a plain ack is dropped silently
  EXPECT_FALSE(h.m.reconnecting());
}

TEST(ClientManager, ClientDisconnectSendsTheDisconnectPacket) {
  Harness h;
  h.connected();
  h.take_sent();
  h.m.disconnect("/", h.now);
  h.drain();
  EXPECT_EQ(h.sent, (std::vector<std::string>{"41"}));
}

TEST(ClientManager, TransportCloseReconnectsWithBackoffAndResendsBuffered) {
  Harness h;
  h.connected();
  std::uint32_t first_ws = h.ws;
  h.m.on_transport_close(h.ws, false, "", h.now);
  auto a = h.take();
  EXPECT_EQ(find(a, ActionType::kDisconnect)->reason, "transport close");
  EXPECT_EQ(find(a, ActionType::kManagerClose)->reason, "transport close");
  EXPECT_TRUE(h.m.reconnecting());
  EXPECT_EQ(h.timer, h.now + 1000);  // reconnectionDelay, draw 0 -> minus 0
  ASSERT_TRUE(h.m.emit("/", json(R"(["while-down"])"), EmitOptions{}, h.now).ok());
  h.advance(999);
  EXPECT_EQ(find(h.take(), ActionType::kReconnectAttempt), nullptr);
  h.advance(1);
  a = h.take();
  ASSERT_NE(find(a, ActionType::kReconnectAttempt), nullptr);
  EXPECT_EQ(find(a, ActionType::kReconnectAttempt)->number, 1u);
  EXPECT_NE(h.ws, first_ws);
  h.take_sent();
  h.m.on_transport_open(h.ws, h.now);
  h.m.on_text(h.ws, kHandshake, h.now);
  a = h.take();
  EXPECT_EQ(find(a, ActionType::kReconnect)->number, 1u);
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{"40"}));
  h.server(R"(40{"sid":"S2"})");
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(42["while-down"])"}));
  EXPECT_FALSE(h.m.reconnecting());
}

TEST(ClientManager, ReconnectionAttemptsThenFailed) {
  ManagerOptions o = Harness::opts();
  o.reconnection_attempts = 2;
  o.reconnection_delay_ms = 100;
  o.reconnection_delay_max_ms = 150;
  Harness h(o);
  h.connected();
  h.m.on_transport_close(h.ws, true, "reset", h.now);
  auto a = h.take();
  EXPECT_EQ(find(a, ActionType::kDisconnect)->reason, "transport error");
  h.advance(100);
  ASSERT_NE(find(h.take(), ActionType::kReconnectAttempt), nullptr);
  h.m.on_transport_close(h.ws, true, "refused", h.now);  // attempt 1 fails while opening
  a = h.take();
  EXPECT_EQ(find(a, ActionType::kReconnectError)->reason, "websocket error");
  EXPECT_EQ(find(a, ActionType::kConnectError)->reason, "websocket error");
  EXPECT_EQ(h.timer, h.now + 150);  // 200 capped at 150
  h.advance(150);
  EXPECT_EQ(find(h.take(), ActionType::kReconnectAttempt)->number, 2u);
  h.m.on_transport_close(h.ws, true, "refused", h.now);
  a = h.take();
  EXPECT_NE(find(a, ActionType::kReconnectError), nullptr);
  EXPECT_NE(find(a, ActionType::kReconnectFailed), nullptr);
  EXPECT_FALSE(h.m.reconnecting());
  EXPECT_EQ(h.timer, kNever);
}

TEST(ClientManager, FirstOpenFailureStartsReconnecting) {
  Harness h;
  h.m.add_socket("/", SocketOptions{});
  h.m.connect("/", 0);
  h.drain();
  h.m.on_transport_close(h.ws, true, "refused", 0);
  auto a = h.take();
  EXPECT_EQ(find(a, ActionType::kManagerError)->reason, "websocket error");
  EXPECT_EQ(find(a, ActionType::kConnectError)->reason, "websocket error");
  EXPECT_EQ(find(a, ActionType::kReconnectError), nullptr);
  EXPECT_TRUE(h.m.reconnecting());
}

TEST(ClientManager, OpenTimeout) {
  ManagerOptions o = Harness::opts();
  o.timeout_ms = 300;
  o.reconnection = false;
  Harness h(o);
  h.m.add_socket("/", SocketOptions{});
  h.m.connect("/", 0);
  h.drain();
  h.advance(300);
  auto a = h.take();
  EXPECT_EQ(find(a, ActionType::kConnectError)->reason, "timeout");
  EXPECT_NE(find(a, ActionType::kCloseTransport), nullptr);
}

TEST(ClientManager, PingTimeoutAndParseErrorReasons) {
  Harness h;
  h.connected();
  h.advance(45'000);
  EXPECT_EQ(find(h.take(), ActionType::kDisconnect)->reason, "ping timeout");

  Harness p;
  p.connected();
  p.server(R"(42["broken")");
  auto a = p.take();
  const Action* d = find(a, ActionType::kDisconnect);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, "parse error");
  EXPECT_FALSE(d->description.empty());
  EXPECT_TRUE(p.m.reconnecting());

  Harness b;
  b.connected();
  b.server_binary("\x01");  // an attachment nobody announced
  EXPECT_EQ(find(b.take(), ActionType::kDisconnect)->reason, "parse error");
}

TEST(ClientManager, ManagerCloseIsForcedCloseWithoutReconnection) {
  Harness h;
  h.connected();
  h.m.close(h.now);
  auto a = h.take();
  EXPECT_EQ(find(a, ActionType::kDisconnect)->reason, "forced close");
  EXPECT_FALSE(h.m.reconnecting());
}

TEST(ClientManager, RetriesResendAfterTimeoutAndAfterReconnection) {
  Harness h;
  SocketOptions so;
  so.retries = 2;
  so.ack_timeout_ms = 100;
  h.m.add_socket("/", so);
  h.m.connect("/", 0);
  h.engine_up();
  h.server(R"(40{"sid":"S"})");
  h.take_sent();
  EmitOptions o;
  o.token = 9;
  ASSERT_TRUE(h.m.emit("/", json(R"(["job",1])"), o, h.now).ok());
  ASSERT_TRUE(h.m.emit("/", json(R"(["job",2])"), EmitOptions{}, h.now).ok());
  // One in flight at a time.
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(420["job",1])"}));
  h.advance(100);
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(421["job",1])"}));  // retry 1
  // Connection lost: the in-flight packet is re-sent after reconnection.
  h.m.on_transport_close(h.ws, false, "", h.now);
  h.drain();
  h.advance(1000);
  h.take_sent();
  h.m.on_transport_open(h.ws, h.now);
  h.m.on_text(h.ws, kHandshake, h.now);
  h.server(R"(40{"sid":"S2"})");
  auto sent = h.take_sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0], "40");
  EXPECT_EQ(sent[1], R"(422["job",1])");
  // Out of tries: the callback gets the error, the next packet goes.
  h.advance(100);
  auto a = h.take();
  const Action* ack = find(a, ActionType::kAck);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->number, 9u);
  EXPECT_EQ(ack->reason, "operation has timed out");
  // The next one goes in the same step.
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(423["job",2])"}));
  h.server(R"(433["done"])");
  EXPECT_EQ(find(h.take(), ActionType::kAck), nullptr);  // no callback for job 2
}

TEST(ClientManager, RecoveredSessionSendsPidAndOffset) {
  Harness h;
  h.m.add_socket("/", SocketOptions{});
  h.m.connect("/", 0);
  h.engine_up();
  h.server(R"(40{"sid":"S","pid":"P"})");
  h.server(R"(42["msg","off-1"])");
  h.m.on_transport_close(h.ws, false, "", h.now);
  h.advance(1000);
  h.take_sent();
  h.m.on_transport_open(h.ws, h.now);
  h.m.on_text(h.ws, kHandshake, h.now);
  EXPECT_EQ(h.take_sent(), (std::vector<std::string>{R"(40{"pid":"P","offset":"off-1"})"}));
  h.take();
  h.server(R"(40{"sid":"S","pid":"P"})");
  auto taken_c = h.take();
  const Action* c = find(taken_c, ActionType::kConnect);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->flag);
}

TEST(ClientManager, OutgoingEventsReportedOnRequest) {
  Harness h;
  h.connected();
  h.m.set_notify_outgoing("/", true);
  ASSERT_TRUE(h.m.emit("/", json(R"(["out",1])"), EmitOptions{}, h.now).ok());
  auto taken_o = h.take();
  const Action* o = find(taken_o, ActionType::kOutgoing);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->data, R"(["out",1])");
}

TEST(ClientManager, BadServerInputNeverEscapes) {
  // Whatever the server sends, the outcome is one of the documented actions.
  for (const char* input : {"4", "49", "42", "42[]", "42[1]", "42{}", "40", "40[]", "44", "44[1]", "43x", "451-[]",
                            "46", R"(42["a",{"_placeholder":true,"num":0}])", "4\xff", R"(40{"sid":5})"}) {
    Harness h;
    h.connected();
    h.server(input);
    for (const Action& a : h.take()) {
      EXPECT_NE(a.type, ActionType::kNone) << input;
    }
  }
  // CONNECT without a sid: the v2-server message.
  Harness h;
  h.m.add_socket("/", SocketOptions{});
  h.m.connect("/", 0);
  h.engine_up();
  h.server("40");
  auto taken_e = h.take();
  const Action* e = find(taken_e, ActionType::kConnectError);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->reason.find("v2.x"), std::string::npos);
}

TEST(ClientManager, PollingManagerFlushesDisconnectBeforeClosing) {
  ManagerOptions o = Harness::opts();
  o.engine.transports = {Transport::kPolling};
  Manager m(o);
  m.add_socket("/", SocketOptions{});
  m.connect("/", 0);
  std::vector<Action> a;
  auto drain = [&] {
    a.clear();
    while (auto x = m.next_action()) a.push_back(std::move(*x));
  };
  drain();
  std::uint32_t t = find(a, ActionType::kHttpGet)->transport;
  m.on_http_response(t, Engine::Http::kGet, true, kHandshake, 0);
  drain();
  EXPECT_EQ(find(a, ActionType::kHttpPost)->data, "40");
  m.on_http_response(t, Engine::Http::kPost, true, "ok", 0);
  m.on_http_response(t, Engine::Http::kGet, true, R"(40{"sid":"S"})", 0);
  drain();
  ASSERT_TRUE(m.emit("/", json(R"(["x"])"), EmitOptions{}, 0).ok());
  m.disconnect("/", 0);
  drain();
  // "42" is in flight; DISCONNECT waits for it, then the CLOSE packet.
  ASSERT_NE(find(a, ActionType::kHttpPost), nullptr);
  EXPECT_EQ(find(a, ActionType::kHttpPost)->data, R"(42["x"])");
  m.on_http_response(t, Engine::Http::kPost, true, "ok", 1);
  drain();
  EXPECT_EQ(find(a, ActionType::kHttpPost)->data, "41");
  m.on_http_response(t, Engine::Http::kPost, true, "ok", 2);
  drain();
  EXPECT_EQ(find(a, ActionType::kHttpPost)->data, "1");
  EXPECT_NE(find(a, ActionType::kCloseTransport), nullptr);
  EXPECT_EQ(m.next_deadline(), kNever);
}

}  // namespace
}  // namespace chorus::client
