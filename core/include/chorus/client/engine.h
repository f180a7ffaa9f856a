// Engine.IO v4 client session: the protocol state of one connection to a server, without
// any I/O (the client twin of engineio::ServerSession).
//
// It opens the first transport of EngineOptions::transports and falls back to the next one
// when a transport fails before the handshake (try_all_transports). Then:
//  - handshake: the first packet must be OPEN with a valid handshake (sid, upgrades,
//    pingInterval, pingTimeout[, maxPayload]); anything else is an error;
//  - heartbeat: the server pings; each ping is answered with a pong and re-arms the
//    deadline pingInterval + pingTimeout ("ping timeout" when it passes without a ping);
//  - upgrade: from polling or SSE, when the server offers "websocket" and it is among the
//    transports, a WebSocket is probed ("2probe" -> "3probe"; polling sends no new GET once
//    "2probe" is out); the old transport is then paused (in-flight GET and POST finished) and
//    "5" is sent on the WebSocket, which carries everything after. A polling transport is
//    closed at once; an SSE stream is drained: what the server wrote on it before reading
//    "5" is still delivered, and WebSocket packets wait until the stream ends (or
//    sse_drain_timeout_ms), so the order is the server's. A failed probe leaves the session
//    on its transport;
//  - writes: WebSocket frames are sent at once; polling and SSE send one POST at a time,
//    packets joined by 0x1E, at most the server's maxPayload per POST (one packet always);
//  - limits: a WebSocket message, SSE event or polling body larger than
//    options.limits.max_payload is a transport error.
// Errors end the session with reason "transport error" (kEngineError then kEngineClose);
// other reasons are "transport close" (server CLOSE or transport closed), "ping timeout",
// "forced close" (close()).
//
// Thread-safety: none; one thread (or one JavaScript event loop) drives an Engine.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/client/action.h"
#include "chorus/engineio/packet.h"
#include "chorus/limits.h"

namespace chorus::client {

// Limits for a client: a server may legitimately send far more than it accepts, so the
// largest message or polling body taken from it defaults to 10 MB (10x the reference
// server's maxPayload); the other limits are Limits' defaults.
Limits client_limits();

struct EngineOptions {
  bool secure = false;  // https / wss
  std::string host;     // "example.com", "127.0.0.1:8080", "[::1]:80"
  std::string path = "/socket.io/";
  std::string query;  // extra query, already percent-encoded ("a=1&b=2")
  std::vector<Transport> transports{Transport::kPolling, Transport::kWebSocket};
  bool upgrade = true;             // probe WebSocket when the server offers it
  bool try_all_transports = true;  // fall back to the next transport while opening
  bool timestamp_requests = true;  // cache-busting "t" on HTTP requests
  std::uint32_t sse_drain_timeout_ms = 1'000;
  Limits limits = client_limits();
};

class Engine {
 public:
  enum class State : std::uint8_t { kIdle, kOpening, kOpen, kClosing, kClosed };
  enum class Http : std::uint8_t { kGet, kPost };

  // Transport ids are first_transport_id, first_transport_id + 1, ...: an engine opens at
  // most transports.size() + 1 of them (one per fallback, one probe).
  Engine(EngineOptions options, std::uint32_t first_transport_id);

  void open(std::uint64_t now_ms);
  // Client close ("forced close"): pending writes are flushed first on polling/SSE, then a
  // CLOSE packet is posted; a WebSocket is simply closed.
  void close(std::uint64_t now_ms);

  // Socket.IO data: a MESSAGE packet (text or binary). Buffered until writable; dropped
  // once closing.
  void send(engineio::Packet packet, std::uint64_t now_ms);

  // --- adapter events -------------------------------------------------------------------
  // Whether `transport` belongs to this engine (the Manager routes events with it).
  bool owns(std::uint32_t transport) const;
  void on_transport_open(std::uint32_t transport, std::uint64_t now_ms);
  void on_text(std::uint32_t transport, std::string_view text, std::uint64_t now_ms);
  void on_binary(std::uint32_t transport, std::string_view bytes, std::uint64_t now_ms);
  // `error`: the connection failed (WebSocket/EventSource error) rather than closed.
  void on_transport_close(std::uint32_t transport, bool error, std::string_view description, std::uint64_t now_ms);
  // The answer to a kHttpGet / kHttpPost. `ok`: HTTP 200 and a body read in full; otherwise
  // `body` may describe the failure.
  void on_http_response(std::uint32_t transport, Http request, bool ok, std::string_view body, std::uint64_t now_ms);
  void on_timer(std::uint64_t now_ms);

  std::optional<Action> next_action();
  std::uint64_t next_deadline() const;

  State state() const { return state_; }
  const std::string& sid() const { return sid_; }
  const engineio::Handshake& handshake() const { return handshake_; }
  std::optional<Transport> transport() const;
  bool upgrading() const { return probe_.has_value(); }
  // socket.io-client's `transport.writable`: a write would go out now.
  bool writable() const;
  // The heartbeat deadline passed (the timer may not have run yet).
  bool ping_expired(std::uint64_t now_ms) const { return state_ == State::kOpen && now_ms >= ping_deadline_; }
  // Nothing more will happen: closed, and no POST still owed to the server.
  bool finished() const { return state_ == State::kClosed; }

 private:
  struct Conn {
    std::uint32_t id = 0;
    Transport kind = Transport::kPolling;
    bool open = false;            // WebSocket/EventSource open event seen (polling: always)
    bool get_in_flight = false;   // polling
    bool post_in_flight = false;  // polling, SSE
  };

  std::string url(Transport kind, bool with_sid);
  void start_transport(std::uint64_t now_ms);
  void issue_get(Conn& conn);
  void handle_packet(const engineio::Packet& packet, std::uint64_t now_ms);
  void handle_probe_packet(const engineio::Packet& packet, std::uint64_t now_ms);
  void handshake(std::string_view data, std::uint64_t now_ms);
  void maybe_probe();
  void probe_failed(std::string message);
  void check_pause(std::uint64_t now_ms);
  void flush();
  void end_drain(std::uint64_t now_ms);
  void receive(const engineio::Packet& packet, std::uint64_t now_ms);
  void finish_close_if_drained();
  void fail(std::string message, std::string description, std::uint64_t now_ms);
  void finish(std::string reason, std::string description);
  void close_conn(const Conn& conn);
  void emit(Action action) { actions_.push_back(std::move(action)); }

  EngineOptions options_;
  std::uint32_t next_id_;
  std::size_t transport_index_ = 0;
  State state_ = State::kIdle;
  std::string sid_;
  engineio::Handshake handshake_;
  std::optional<Conn> cur_;
  std::optional<Conn> probe_;
  bool pausing_ = false;                // "3probe" received: pausing cur_ before switching
  std::optional<Conn> drain_;           // the SSE stream left behind by an upgrade
  std::vector<engineio::Packet> held_;  // WebSocket packets waiting for the drain
  std::uint64_t drain_deadline_ = kNever;
  std::uint64_t ping_deadline_ = kNever;
  std::vector<engineio::Packet> write_buffer_;
  std::uint32_t stamp_ = 0;
  std::deque<Action> actions_;
};

}  // namespace chorus::client
