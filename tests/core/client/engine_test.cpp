#include "chorus/client/engine.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace chorus::client {
namespace {

constexpr const char* kHandshake =
    R"(0{"sid":"s1","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})";
constexpr const char* kHandshakeNoUpgrade =
    R"(0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})";

EngineOptions options(std::vector<Transport> transports) {
  EngineOptions o;
  o.host = "127.0.0.1:3000";
  o.transports = std::move(transports);
  o.timestamp_requests = false;
  return o;
}

std::vector<Action> drain(Engine& e) {
  std::vector<Action> out;
  while (auto a = e.next_action()) out.push_back(std::move(*a));
  return out;
}

const Action* find(const std::vector<Action>& actions, ActionType type) {
  for (const Action& a : actions) {
    if (a.type == type) return &a;
  }
  return nullptr;
}

std::size_t count(const std::vector<Action>& actions, ActionType type) {
  return static_cast<std::size_t>(
      std::count_if(actions.begin(), actions.end(), [type](const Action& a) { return a.type == type; }));
}

// An engine opened over polling with the handshake answered at t=0.
struct PollingEngine {
  Engine e{options({Transport::kPolling, Transport::kWebSocket}), 10};
  std::vector<Action> after_open;
  explicit PollingEngine(const char* handshake = kHandshakeNoUpgrade) {
    e.open(0);
    drain(e);
    e.on_http_response(10, Engine::Http::kGet, true, handshake, 0);
    after_open = drain(e);
  }
};

TEST(ClientEngine, PollingHandshakeThenLongPoll) {
  Engine e(options({Transport::kPolling}), 10);
  e.open(0);
  auto a = drain(e);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].type, ActionType::kHttpGet);
  EXPECT_EQ(a[0].transport, 10u);
  EXPECT_EQ(a[0].url, "http://127.0.0.1:3000/socket.io/?EIO=4&transport=polling");
  e.on_http_response(10, Engine::Http::kGet, true, kHandshake, 5);
  a = drain(e);
  const Action* open = find(a, ActionType::kEngineOpen);
  ASSERT_NE(open, nullptr);
  EXPECT_EQ(open->sid, "s1");
  EXPECT_EQ(open->kind, Transport::kPolling);
  const Action* get = find(a, ActionType::kHttpGet);
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->url, "http://127.0.0.1:3000/socket.io/?EIO=4&transport=polling&sid=s1");
  // websocket is offered but not among the transports: no probe.
  EXPECT_EQ(find(a, ActionType::kOpenWebSocket), nullptr);
  EXPECT_EQ(e.state(), Engine::State::kOpen);
  EXPECT_EQ(e.next_deadline(), 5u + 45000u);
}

TEST(ClientEngine, UrlCarriesQueryPathSchemeAndEscapedSid) {
  EngineOptions o = options({Transport::kWebSocket});
  o.secure = true;
  o.path = "/rt/";
  o.query = "token=a%20b";
  Engine e(std::move(o), 1);
  e.open(0);
  auto a = drain(e);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].type, ActionType::kOpenWebSocket);
  EXPECT_EQ(a[0].url, "wss://127.0.0.1:3000/rt/?token=a%20b&EIO=4&transport=websocket");

  Engine p(options({Transport::kPolling}), 1);
  p.open(0);
  drain(p);
  p.on_http_response(1, Engine::Http::kGet, true, R"(0{"sid":"a+b/c=","upgrades":[],"pingInterval":1,"pingTimeout":1})",
                     0);
  auto b = drain(p);
  EXPECT_EQ(find(b, ActionType::kHttpGet)->url,
            "http://127.0.0.1:3000/socket.io/?EIO=4&transport=polling&sid=a%2Bb%2Fc%3D");

  EngineOptions stamped = options({Transport::kPolling});
  stamped.timestamp_requests = true;
  Engine t(std::move(stamped), 1);
  t.open(0);
  auto c = drain(t);
  EXPECT_NE(c[0].url.find("&t="), std::string::npos);
}

TEST(ClientEngine, HeartbeatTimeoutIsIntervalPlusTimeoutWithoutPing) {
  PollingEngine p;
  p.e.on_timer(44'999);
  EXPECT_EQ(count(drain(p.e), ActionType::kEngineClose), 0u);
  // A ping answers with a pong (POST) and re-arms the deadline.
  p.e.on_http_response(10, Engine::Http::kGet, true, "2", 40'000);
  auto a = drain(p.e);
  const Action* post = find(a, ActionType::kHttpPost);
  ASSERT_NE(post, nullptr);
  EXPECT_EQ(post->data, "3");
  EXPECT_EQ(p.e.next_deadline(), 85'000u);
  p.e.on_timer(84'999);
  EXPECT_EQ(p.e.state(), Engine::State::kOpen);
  p.e.on_timer(85'000);
  a = drain(p.e);
  const Action* close = find(a, ActionType::kEngineClose);
  ASSERT_NE(close, nullptr);
  EXPECT_EQ(close->reason, "ping timeout");
  EXPECT_NE(find(a, ActionType::kCloseTransport), nullptr);
  EXPECT_EQ(p.e.next_deadline(), kNever);
}

TEST(ClientEngine, PollingPayloadEncodingOnePostAtATime) {
  PollingEngine p;
  p.e.send(engineio::Packet::text(engineio::PacketType::kMessage, "a"), 1);
  auto a = drain(p.e);
  ASSERT_EQ(count(a, ActionType::kHttpPost), 1u);
  EXPECT_EQ(find(a, ActionType::kHttpPost)->data, "4a");
  EXPECT_FALSE(p.e.writable());
  p.e.send(engineio::Packet::text(engineio::PacketType::kMessage, "b"), 1);
  p.e.send(engineio::Packet::bytes(std::string("\x01\x02\x03", 3)), 1);
  p.e.send(engineio::Packet::text(engineio::PacketType::kMessage, "c"), 1);
  EXPECT_EQ(count(drain(p.e), ActionType::kHttpPost), 0u);
  p.e.on_http_response(10, Engine::Http::kPost, true, "ok", 2);
  a = drain(p.e);
  ASSERT_EQ(count(a, ActionType::kHttpPost), 1u);
  EXPECT_EQ(find(a, ActionType::kHttpPost)->data,
            "4b\x1e"
            "bAQID\x1e"
            "4c");
}

TEST(ClientEngine, PostsRespectTheServersMaxPayload) {
  PollingEngine p(R"(0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":7})");
  p.e.send(engineio::Packet::text(engineio::PacketType::kMessage, "0123456789"), 1);  // alone, oversize
  p.e.send(engineio::Packet::text(engineio::PacketType::kMessage, "ab"), 1);
  p.e.send(engineio::Packet::text(engineio::PacketType::kMessage, "cd"), 1);
  p.e.send(engineio::Packet::text(engineio::PacketType::kMessage, "ef"), 1);
  auto a = drain(p.e);
  EXPECT_EQ(find(a, ActionType::kHttpPost)->data, "40123456789");
  p.e.on_http_response(10, Engine::Http::kPost, true, "ok", 2);
  a = drain(p.e);
  EXPECT_EQ(find(a, ActionType::kHttpPost)->data,
            "4ab\x1e"
            "4cd");  // 7 bytes: at the limit
  p.e.on_http_response(10, Engine::Http::kPost, true, "ok", 3);
  a = drain(p.e);
  EXPECT_EQ(find(a, ActionType::kHttpPost)->data, "4ef");
}

TEST(ClientEngine, UpgradeProbeFromPolling) {
  PollingEngine p(kHandshake);
  const Action* probe = find(p.after_open, ActionType::kOpenWebSocket);
  ASSERT_NE(probe, nullptr);
  EXPECT_EQ(probe->url, "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket&sid=s1");
  std::uint32_t ws = probe->transport;
  EXPECT_NE(ws, 10u);
  p.e.on_transport_open(ws, 1);
  auto a = drain(p.e);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].type, ActionType::kSendText);
  EXPECT_EQ(a[0].data, "2probe");
  // Writes still go over polling until the switch.
  p.e.send(engineio::Packet::text(engineio::PacketType::kMessage, "x"), 1);
  EXPECT_EQ(find(drain(p.e), ActionType::kHttpPost)->data, "4x");
  p.e.on_text(ws, "3probe", 2);
  EXPECT_TRUE(drain(p.e).empty());  // a GET and a POST are still out: pausing
  EXPECT_FALSE(p.e.writable());
  p.e.send(engineio::Packet::text(engineio::PacketType::kMessage, "held"), 2);
  EXPECT_TRUE(drain(p.e).empty());
  p.e.on_http_response(10, Engine::Http::kPost, true, "ok", 3);
  EXPECT_TRUE(drain(p.e).empty());
  // The server releases the held GET with a NOOP: no new GET, the switch happens.
  p.e.on_http_response(10, Engine::Http::kGet, true, "6", 4);
  a = drain(p.e);
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].type, ActionType::kCloseTransport);
  EXPECT_EQ(a[0].transport, 10u);
  EXPECT_EQ(a[1].type, ActionType::kSendText);
  EXPECT_EQ(a[1].data, "5");
  EXPECT_EQ(a[2].type, ActionType::kEngineUpgrade);
  EXPECT_EQ(a[2].kind, Transport::kWebSocket);
  EXPECT_EQ(a[3].type, ActionType::kSendText);
  EXPECT_EQ(a[3].data, "4held");
  EXPECT_EQ(p.e.transport(), Transport::kWebSocket);
  // Binary goes out as a binary frame now; polling events are stale.
  p.e.send(engineio::Packet::bytes("\xff"), 5);
  a = drain(p.e);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].type, ActionType::kSendBinary);
  EXPECT_EQ(a[0].data, "\xff");
  p.e.on_http_response(10, Engine::Http::kGet, true, "1", 6);
  EXPECT_EQ(p.e.state(), Engine::State::kOpen);
  p.e.on_text(ws, "2", 7);
  EXPECT_EQ(find(drain(p.e), ActionType::kSendText)->data, "3");
}

TEST(ClientEngine, NoNewPollOnceTheProbeIsOut) {
  PollingEngine p(kHandshake);
  std::uint32_t ws = find(p.after_open, ActionType::kOpenWebSocket)->transport;
  p.e.on_transport_open(ws, 1);
  drain(p.e);
  // The server releases the held GET for the upgrade: no new GET before "3probe".
  p.e.on_http_response(10, Engine::Http::kGet, true, "6", 2);
  EXPECT_EQ(find(drain(p.e), ActionType::kHttpGet), nullptr);
  p.e.on_text(ws, "3probe", 3);
  auto a = drain(p.e);
  EXPECT_NE(find(a, ActionType::kEngineUpgrade), nullptr);
  // A failed probe resumes polling.
  PollingEngine q(kHandshake);
  std::uint32_t ws2 = find(q.after_open, ActionType::kOpenWebSocket)->transport;
  q.e.on_transport_open(ws2, 1);
  q.e.on_http_response(10, Engine::Http::kGet, true, "6", 2);
  drain(q.e);
  q.e.on_transport_close(ws2, true, "", 3);
  a = drain(q.e);
  EXPECT_NE(find(a, ActionType::kEngineUpgradeError), nullptr);
  EXPECT_NE(find(a, ActionType::kHttpGet), nullptr);
}

TEST(ClientEngine, FailedProbeKeepsPolling) {
  PollingEngine p(kHandshake);
  std::uint32_t ws = find(p.after_open, ActionType::kOpenWebSocket)->transport;
  p.e.on_transport_open(ws, 1);
  drain(p.e);
  p.e.on_text(ws, "3nope", 2);
  auto a = drain(p.e);
  EXPECT_NE(find(a, ActionType::kEngineUpgradeError), nullptr);
  EXPECT_EQ(find(a, ActionType::kCloseTransport)->transport, ws);
  EXPECT_EQ(p.e.transport(), Transport::kPolling);
  // A probe that closes before answering also just fails the upgrade.
  PollingEngine q(kHandshake);
  std::uint32_t ws2 = find(q.after_open, ActionType::kOpenWebSocket)->transport;
  q.e.on_transport_close(ws2, true, "refused", 1);
  EXPECT_NE(find(drain(q.e), ActionType::kEngineUpgradeError), nullptr);
  EXPECT_EQ(q.e.state(), Engine::State::kOpen);
  // Paused then failed: polling resumes with a new GET.
  PollingEngine r(kHandshake);
  std::uint32_t ws3 = find(r.after_open, ActionType::kOpenWebSocket)->transport;
  r.e.on_transport_open(ws3, 1);
  r.e.on_text(ws3, "3probe", 2);  // pausing: the GET is still out
  drain(r.e);
  r.e.on_transport_close(ws3, false, "", 3);
  EXPECT_NE(find(drain(r.e), ActionType::kEngineUpgradeError), nullptr);
  r.e.on_http_response(10, Engine::Http::kGet, true, "6", 4);
  auto b = drain(r.e);
  EXPECT_NE(find(b, ActionType::kHttpGet), nullptr);
  EXPECT_EQ(r.e.transport(), Transport::kPolling);
}

TEST(ClientEngine, UpgradeDisabledOrNotOffered) {
  EngineOptions o = options({Transport::kPolling, Transport::kWebSocket});
  o.upgrade = false;
  Engine e(std::move(o), 1);
  e.open(0);
  drain(e);
  e.on_http_response(1, Engine::Http::kGet, true, kHandshake, 0);
  EXPECT_EQ(find(drain(e), ActionType::kOpenWebSocket), nullptr);
  PollingEngine p(kHandshakeNoUpgrade);
  EXPECT_EQ(find(p.after_open, ActionType::kOpenWebSocket), nullptr);
}

TEST(ClientEngine, WebSocketSession) {
  Engine e(options({Transport::kWebSocket}), 1);
  e.open(0);
  drain(e);
  e.send(engineio::Packet::text(engineio::PacketType::kMessage, "early"), 0);  // before the handshake
  e.on_transport_open(1, 1);
  EXPECT_TRUE(drain(e).empty());
  e.on_text(1, kHandshake, 2);
  auto a = drain(e);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].type, ActionType::kEngineOpen);
  EXPECT_EQ(a[1].type, ActionType::kSendText);
  EXPECT_EQ(a[1].data, "4early");
  EXPECT_TRUE(e.writable());
  e.on_text(1, "4hello", 3);
  e.on_binary(1, std::string("\x00\x01", 2), 3);
  a = drain(e);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].type, ActionType::kEngineMessage);
  EXPECT_EQ(a[0].data, "hello");
  EXPECT_FALSE(a[0].flag);
  EXPECT_TRUE(a[1].flag);
  EXPECT_EQ(a[1].data, std::string("\x00\x01", 2));
  // Server CLOSE packet.
  e.on_text(1, "1", 4);
  a = drain(e);
  EXPECT_EQ(find(a, ActionType::kEngineClose)->reason, "transport close");
  // Closed: inputs are ignored.
  e.on_text(1, "4late", 5);
  EXPECT_TRUE(drain(e).empty());
}

TEST(ClientEngine, TransportCloseAndErrorReasons) {
  Engine e(options({Transport::kWebSocket}), 1);
  e.open(0);
  e.on_transport_open(1, 0);
  e.on_text(1, kHandshake, 0);
  drain(e);
  e.on_transport_close(1, false, "code 1006", 1);
  auto a = drain(e);
  EXPECT_EQ(find(a, ActionType::kEngineClose)->reason, "transport close");
  EXPECT_EQ(find(a, ActionType::kEngineError), nullptr);

  Engine f(options({Transport::kWebSocket}), 1);
  f.open(0);
  f.on_transport_open(1, 0);
  f.on_text(1, kHandshake, 0);
  drain(f);
  f.on_transport_close(1, true, "boom", 1);
  a = drain(f);
  EXPECT_EQ(find(a, ActionType::kEngineError)->reason, "websocket error");
  EXPECT_EQ(find(a, ActionType::kEngineClose)->reason, "transport error");
}

TEST(ClientEngine, FallsBackInTheConfiguredOrderWhileOpening) {
  Engine e(options({Transport::kWebSocket, Transport::kSse, Transport::kPolling}), 1);
  e.open(0);
  auto a = drain(e);
  EXPECT_EQ(a[0].type, ActionType::kOpenWebSocket);
  e.on_transport_close(a[0].transport, true, "blocked", 1);
  a = drain(e);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].type, ActionType::kCloseTransport);
  EXPECT_EQ(a[1].type, ActionType::kOpenEventSource);
  EXPECT_EQ(a[1].url, "http://127.0.0.1:3000/socket.io/?EIO=4&transport=sse");
  e.on_transport_close(a[1].transport, true, "no sse", 2);
  a = drain(e);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1].type, ActionType::kHttpGet);
  e.on_http_response(a[1].transport, Engine::Http::kGet, false, "HTTP 400", 3);
  a = drain(e);
  EXPECT_EQ(find(a, ActionType::kEngineError)->reason, "xhr poll error");
  EXPECT_EQ(find(a, ActionType::kEngineClose)->reason, "transport error");

  EngineOptions single = options({Transport::kWebSocket, Transport::kPolling});
  single.try_all_transports = false;
  Engine g(std::move(single), 1);
  g.open(0);
  drain(g);
  g.on_transport_close(1, true, "", 1);
  EXPECT_EQ(find(drain(g), ActionType::kEngineError)->reason, "websocket error");
}

TEST(ClientEngine, BadServerInputEndsWithAReason) {
  struct Case {
    const char* input;
    const char* message;
  };
  for (const Case& c : {Case{"4hello", "parser error"}, Case{"0{}", "parser error"}, Case{"0not json", "parser error"},
                        Case{R"(0{"sid":"s","upgrades":[],"pingInterval":-1,"pingTimeout":1})", "parser error"},
                        Case{"9", "parser error"}, Case{"", "parser error"}}) {
    Engine e(options({Transport::kWebSocket}), 1);
    e.open(0);
    e.on_transport_open(1, 0);
    drain(e);
    e.on_text(1, c.input, 1);
    auto a = drain(e);
    const Action* err = find(a, ActionType::kEngineError);
    ASSERT_NE(err, nullptr) << c.input;
    EXPECT_EQ(err->reason, c.message) << c.input;
    EXPECT_FALSE(err->description.empty());
    EXPECT_EQ(find(a, ActionType::kEngineClose)->reason, "transport error");
  }
  // After the handshake: an unknown type, a second OPEN, an UPGRADE.
  for (const char* input : {"x", "0{}", "5", "bnot base64!"}) {
    Engine e(options({Transport::kWebSocket}), 1);
    e.open(0);
    e.on_transport_open(1, 0);
    e.on_text(1, kHandshake, 0);
    drain(e);
    e.on_text(1, input, 1);
    EXPECT_EQ(find(drain(e), ActionType::kEngineClose)->reason, "transport error") << input;
  }
  // Polling: a broken payload (stray separator).
  PollingEngine p;
  p.e.on_http_response(10, Engine::Http::kGet, true,
                       "4a\x1e\x1e"
                       "4b",
                       1);
  EXPECT_EQ(find(drain(p.e), ActionType::kEngineError)->reason, "parser error");
}

TEST(ClientEngine, IncomingSizeLimitAtAndPastIt) {
  EngineOptions o = options({Transport::kWebSocket});
  o.limits.max_payload = 100;
  Engine f(o, 1);
  f.open(0);
  f.on_transport_open(1, 0);
  f.on_text(1, kHandshake, 0);
  drain(f);
  f.on_text(1, "4" + std::string(99, 'a'), 1);  // 100 bytes: at the limit
  EXPECT_EQ(count(drain(f), ActionType::kEngineMessage), 1u);
  f.on_binary(1, std::string(100, 'b'), 1);
  EXPECT_EQ(count(drain(f), ActionType::kEngineMessage), 1u);
  f.on_text(1, "4" + std::string(100, 'a'), 2);  // 101 bytes: past it
  auto a = drain(f);
  EXPECT_EQ(find(a, ActionType::kEngineError)->reason, "payload too large");
  EXPECT_EQ(find(a, ActionType::kEngineClose)->reason, "transport error");

  EngineOptions po = options({Transport::kPolling});
  po.limits.max_payload = 200;
  Engine g(po, 1);
  g.open(0);
  drain(g);
  g.on_http_response(1, Engine::Http::kGet, true, kHandshakeNoUpgrade, 0);
  drain(g);
  g.on_http_response(1, Engine::Http::kGet, true, "4" + std::string(200, 'a'), 1);
  EXPECT_EQ(find(drain(g), ActionType::kEngineError)->reason, "payload too large");
}

TEST(ClientEngine, SseSessionAndUpgrade) {
  Engine e(options({Transport::kSse, Transport::kWebSocket}), 1);
  e.open(0);
  auto a = drain(e);
  ASSERT_EQ(a[0].type, ActionType::kOpenEventSource);
  e.on_transport_open(1, 0);
  e.on_text(1, kHandshake, 0);
  a = drain(e);
  ASSERT_NE(find(a, ActionType::kEngineOpen), nullptr);
  std::uint32_t ws = find(a, ActionType::kOpenWebSocket)->transport;
  // Writes are POSTs on the SSE transport's URL.
  e.send(engineio::Packet::text(engineio::PacketType::kMessage, "up"), 1);
  a = drain(e);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].type, ActionType::kHttpPost);
  EXPECT_EQ(a[0].url, "http://127.0.0.1:3000/socket.io/?EIO=4&transport=sse&sid=s1");
  e.on_http_response(1, Engine::Http::kPost, true, "ok", 1);
  e.on_text(1, "4down", 2);
  EXPECT_EQ(find(drain(e), ActionType::kEngineMessage)->data, "down");
  // Probe; once no POST is out, "5" goes at once and the stream is drained.
  e.on_transport_open(ws, 3);
  drain(e);
  e.send(engineio::Packet::text(engineio::PacketType::kMessage, "late-up"), 3);
  drain(e);  // a POST is out
  e.on_text(ws, "3probe", 4);
  EXPECT_TRUE(drain(e).empty());
  e.on_http_response(1, Engine::Http::kPost, true, "ok", 4);
  a = drain(e);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].data, "5");
  EXPECT_EQ(a[1].type, ActionType::kEngineUpgrade);
  EXPECT_EQ(e.transport(), Transport::kWebSocket);
  EXPECT_EQ(e.next_deadline(), 4u + 1000u);
  // What the server wrote on the stream before reading "5" still arrives, in order: the
  // WebSocket's packets wait for the stream's end.
  e.on_text(ws, "4from-ws", 5);
  EXPECT_TRUE(drain(e).empty());
  e.on_text(1, "6", 5);
  e.on_text(1, "4from-sse", 5);
  a = drain(e);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].data, "from-sse");
  e.on_transport_close(1, false, "stream ended", 6);
  a = drain(e);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].type, ActionType::kCloseTransport);
  EXPECT_EQ(a[1].data, "from-ws");
  e.on_text(ws, "4next", 7);
  EXPECT_EQ(find(drain(e), ActionType::kEngineMessage)->data, "next");

  // A stream the server does not end is dropped after sse_drain_timeout_ms.
  Engine f(options({Transport::kSse, Transport::kWebSocket}), 1);
  f.open(0);
  f.on_transport_open(1, 0);
  f.on_text(1, kHandshake, 0);
  ws = find(drain(f), ActionType::kOpenWebSocket)->transport;
  f.on_transport_open(ws, 1);
  f.on_text(ws, "3probe", 2);
  f.on_text(ws, "4held", 3);
  drain(f);
  f.on_timer(1001);
  EXPECT_TRUE(drain(f).empty());
  f.on_timer(1002);
  a = drain(f);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].type, ActionType::kCloseTransport);
  EXPECT_EQ(a[1].data, "held");
}

TEST(ClientEngine, ClientCloseFlushesThenPostsClose) {
  PollingEngine p;
  p.e.send(engineio::Packet::text(engineio::PacketType::kMessage, "a"), 1);
  p.e.send(engineio::Packet::text(engineio::PacketType::kMessage, "b"), 1);
  drain(p.e);  // "4a" in flight, "4b" waiting
  p.e.close(2);
  EXPECT_EQ(p.e.state(), Engine::State::kClosing);
  EXPECT_TRUE(drain(p.e).empty());
  p.e.on_http_response(10, Engine::Http::kPost, true, "ok", 3);
  auto a = drain(p.e);
  EXPECT_EQ(find(a, ActionType::kHttpPost)->data, "4b");
  p.e.on_http_response(10, Engine::Http::kPost, true, "ok", 4);
  a = drain(p.e);
  ASSERT_GE(a.size(), 3u);
  EXPECT_EQ(a[0].type, ActionType::kHttpPost);
  EXPECT_EQ(a[0].data, "1");
  EXPECT_EQ(find(a, ActionType::kCloseTransport)->transport, 10u);
  EXPECT_EQ(find(a, ActionType::kEngineClose)->reason, "forced close");
  EXPECT_TRUE(p.e.finished());

  Engine w(options({Transport::kWebSocket}), 1);
  w.open(0);
  w.on_transport_open(1, 0);
  w.on_text(1, kHandshake, 0);
  drain(w);
  w.close(1);
  a = drain(w);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].type, ActionType::kCloseTransport);
  EXPECT_EQ(a[1].reason, "forced close");
}

}  // namespace
}  // namespace chorus::client
