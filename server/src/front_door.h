// Chorus's front door on CivetWeb 1.15 (DESIGN.md §3): a small fixed pool of CivetWeb workers
// accepts connections, completes TLS handshakes, parses requests, serves static files, REST
// routes, CORS, Engine.IO handshakes and polling POSTs. Long-lived connections (WebSockets,
// SSE streams, held polls) are taken over (mg_takeover_connection, Chorus's CivetWeb patch) and
// handed to an event loop. The front_door*.cpp and engine_connection.cpp files are the only
// ones that include civetweb.h.
#pragma once

#include <civetweb.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chorus/engineio/server_session.h"
#include "connection.h"
#include "event_loop.h"
#include "internal.h"

namespace chorus {

using engineio::Packet;
using engineio::PacketType;
using engineio::Transport;

// Engine.IO error codes and messages (reference server's Server.errors).
enum EioError {
  kUnknownTransport = 0,
  kUnknownSid = 1,
  kBadHandshakeMethod = 2,
  kBadRequest = 3,
  kForbidden = 4,
  kUnsupportedProtocolVersion = 5
};
const char* eio_error_message(int code);

std::string lower(std::string s);
std::unordered_map<std::string, std::string> parse_query(const char* qs);
std::string query_value(const std::unordered_map<std::string, std::string>& q, const char* key);
// Whether `list` (a comma-separated header value) holds `token`, case-insensitively.
bool has_token(std::string_view list, std::string_view token);

enum class BodyRead { kComplete, kTooLarge, kTimedOut, kGone };
// Reads the request body into `body`: at most `limit` bytes (refused, kTooLarge, without
// buffering more), all of it within `timeout_ms` (kTimedOut: a slow or short body), or the
// client went away (kGone).
BodyRead read_request_body(mg_connection* conn, TimerService& timers, std::size_t limit, std::uint32_t timeout_ms,
                           std::string& body);
// After a refusal (413) has been written: reads and drops what is left of the body (at most
// 16 MiB, for at most 2 s) so that closing the connection does not reset it before the client
// has read the answer (a close with unread input sends a TCP RST, and the client sees EPIPE or
// ECONNRESET instead of the status).
void discard_request_body(mg_connection* conn, TimerService& timers);
std::string body_timeout_message(std::uint32_t timeout_ms);
// Wakes workers blocked in a body read at their deadline (a signal; see front_door.cpp).
void install_body_wake();

// A connection CivetWeb handed over (mg_takeover_connection): its socket, its TLS session
// (null over plain TCP), the bytes CivetWeb read past the request, the client's address.
struct TakenOver {
  int sock = -1;
  SSL* ssl = nullptr;
  std::string buffered;
  std::string peer;
};
// Nullopt (logged, naming `what`) when CivetWeb cannot hand it over.
std::optional<TakenOver> take_over(mg_connection* conn, const char* what);

Handshake make_handshake(const mg_connection* conn);
// What a session keeps of its handshake request; built into a Handshake only when asked for,
// or at once when allow_request must see it (nullptr: allow_request refused it, `refused`).
std::shared_ptr<const SessionHandshake> session_handshake(const mg_connection* conn, const ServerImpl& server,
                                                          std::optional<std::string>& refused);
HttpRequest make_request(const mg_connection* conn);

class Civet;
class EngineConnection;
class ParkedConnection;  // front_door_park.cpp

// The largest request head (request line and headers) the front door reads: CivetWeb's
// max_request_size. Larger: 431 and the connection closes.
constexpr std::size_t kMaxRequestHead = 16 * 1024;

// A parked connection given back to CivetWeb (mg_resume_connection), until a worker is done.
struct Resumed {
  mg_parked parked{};
  std::string bytes;    // parked.buffered points here
  std::string address;  // counted in Civet::addresses_
};

// Counts per remote address, shared with the slots handed out (which may outlive the Civet).
struct AddressCounts {
  std::mutex mu;
  std::unordered_map<std::string, std::size_t> counts;
};
struct RawWsRoute {
  Civet* civet;
  const WebSocketHandlers* handlers;
  // Sec-WebSocket-Protocol: the route's own list (CivetWeb would echo any offer without one).
  std::vector<const char*> names;
  mg_websocket_subprotocols subprotocols{0, nullptr};
};
struct SseRouteData {
  Civet* civet;
  std::size_t index;
};
using MountData = SseRouteData;

// What the WebSocket handshake decided, kept until the connection is ready to take over.
struct WsPending {
  bool is_upgrade = false;
  std::string sid;      // for an upgrade: the session to join
  std::string refused;  // non-empty: closed right after the handshake (1002), with this reason
  std::shared_ptr<const SessionHandshake> handshake;
};

class Civet final : public CivetTransport {
 public:
  explicit Civet(ServerImpl* server) : server_(server) {}
  ~Civet() override { stop(); }

  Status start() override;
  void stop() override;
  int port() const override { return port_; }
  std::size_t capacity() const override { return max_sessions_; }
  std::size_t io_threads() const override { return loops_ ? loops_->size() : 0; }
  std::size_t session_count() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return sessions_.size();
  }
  void connection_stats(std::array<std::size_t, Metrics::kTransports>& by_transport,
                        std::size_t& queued_bytes) const override;

  ServerImpl* server() const { return server_; }
  const Limits& limits() const { return server_->options.limits; }
  void remove(const std::string& sid) {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.erase(sid);
  }
  std::shared_ptr<EngineConnection> find(const std::string& sid) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(sid);
    return it == sessions_.end() ? nullptr : it->second;
  }
  // A new Engine.IO session; null when refused, with `refusal` saying why (the connection
  // limit, or too many sessions from the address not in a namespace yet).
  std::shared_ptr<EngineConnection> create_session(Transport transport, std::shared_ptr<const SessionHandshake> hs,
                                                   std::string* refusal = nullptr);
  // Whether a Socket.IO session from `address` would be refused by
  // max_pending_sessions_per_address.
  bool pending_sessions_full(const std::string& address) const;
  // Raw WebSockets, plain SSE streams and feeds hold a worker each, as sessions do: they all
  // count against max_connections. reserve_slot() is false at the limit; release_slot()
  // gives a reserved slot back.
  bool reserve_slot() {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || sessions_.size() + raw_slots_ >= max_sessions_) return false;
    ++raw_slots_;
    return true;
  }
  void release_slot() {
    std::lock_guard<std::mutex> lock(mu_);
    --raw_slots_;
  }
  // A raw WebSocket accepted by its connect handler but not (yet) ready: when its handshake
  // cannot be written, CivetWeb calls no close handler, so connection_close cleans up.
  void raw_pending(const mg_connection* conn, bool pending) {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending)
      raw_pending_.insert(conn);
    else
      raw_pending_.erase(conn);
  }
  bool take_raw_pending(const mg_connection* conn) {
    std::lock_guard<std::mutex> lock(mu_);
    return raw_pending_.erase(conn) != 0;
  }
  bool at_limit() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sessions_.size() + raw_slots_ >= max_sessions_;
  }
  // 503 for a raw route, feed or raw WebSocket at the connection limit.
  int respond_at_limit(mg_connection* conn) const {
    HttpResponse r;
    r.error(503, "server at connection limit");
    std::string out = render_response(r, cors_headers(conn));
    mg_write(conn, out.data(), out.size());
    return 503;
  }
  std::string cors_headers(const mg_connection* conn) const;
  // The `Connection` header of a response: "close" when the connection ends after it (the
  // request asked for it, HTTP/1.0 without keep-alive, a protocol upgrade, server stopping,
  // or `close` because Chorus ends it: a body left unread), and then CivetWeb is told so;
  // "keep-alive" otherwise. A client never reuses a socket the server is closing.
  std::string connection_header(mg_connection* conn, bool close = false) const;
  void respond(mg_connection* conn, int status, const char* type, std::string_view body, const std::string& extra = {},
               bool close = false) const;
  void respond_error(mg_connection* conn, int status, int code, const std::string& message = {},
                     bool close = false) const;
  std::vector<std::string> upgrades_for(Transport t) const;
  bool transport_enabled(const std::string& name) const;

  EventLoop& next_loop() { return loops_->next(); }
  // Connections the event loops serve (taken over from CivetWeb; parked ones not counted).
  std::size_t taken_over() const {
    std::size_t n = 0;
    for (std::size_t i = 0; loops_ && i < loops_->size(); ++i) n += loops_->at(i).watched();
    const std::size_t parked = parked_.load(std::memory_order_relaxed);
    return n > parked ? n - parked : 0;
  }

  // Parking (front_door_park.cpp). CivetWeb's park_connection: takes `parked` into a
  // ParkedConnection on an event loop (0), or leaves it to CivetWeb (stopping).
  int park(const mg_parked& parked, bool fresh);
  enum class Resume { kQueued, kWaitSlot, kBusy };
  // Loop thread: gives a parked connection whose head arrived (`head`, emptied when queued)
  // back to CivetWeb's workers. kWaitSlot at max_pending_per_address: `who` waits in line
  // for a slot of its address (ParkedConnection::grant_slot, then again with `reserved`).
  // kBusy when CivetWeb cannot queue it. Unless kQueued, the caller keeps the connection.
  Resume resume(const std::shared_ptr<ParkedConnection>& who, int fd, SSL* ssl, bool is_ssl, std::string& head,
                const std::string& address, bool reserved);
  // A slot granted to a connection that no longer wants it.
  void release_slot(const std::string& address);
  // CivetWeb's resumed_done: a worker is done with a resumed connection.
  void resumed_done(mg_parked* parked);
  bool stopping() const { return stopping_.load(); }
  // Takes `conn` over into an event loop as a response the loop completes (a held poll) or
  // streams (SSE, with a keep-alive comment every 15 s): `head` goes first. Null when CivetWeb
  // cannot hand it over (a chunked request body still being read).
  std::shared_ptr<HttpStreamConnection> take_over_stream(mg_connection* conn,
                                                         std::shared_ptr<HttpStreamConnection::Handler> handler,
                                                         std::string head = {}, bool sse = false);
  std::string sse_head(const mg_connection* conn, const std::string& first_chunk) const;
  int stream_plain_sse(mg_connection* conn, const std::shared_ptr<SseStreamImpl>& stream,
                       const std::string& first_chunk);
  int on_begin_request(mg_connection* conn);
  void on_connection_close(mg_connection* conn);
  int check_path(mg_connection* conn);
  bool claimed(std::string_view uri) const;
  int on_mount(mg_connection* conn, std::size_t index);
  int on_route(mg_connection* conn);
  int on_feed(mg_connection* conn);
  int on_sse_route(mg_connection* conn, std::size_t index);
  const std::atomic<bool>& stopping_flag() const { return stopping_; }
  // Open plain SSE streams and feeds, woken by stop().
  void track_stream(const std::shared_ptr<SseStreamImpl>& s) {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.erase(std::remove_if(streams_.begin(), streams_.end(), [](const auto& w) { return w.expired(); }),
                   streams_.end());
    streams_.push_back(s);
  }

  // CivetWeb callbacks.
  int on_http(mg_connection* conn);
  int on_ws_connect(const mg_connection* conn);
  void on_ws_ready(mg_connection* conn);
  int on_ws_data(mg_connection* conn, int bits, char* data, std::size_t len);
  void on_ws_close(const mg_connection* conn);

 private:
  ServerImpl* server_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<EngineConnection>> sessions_;
  std::unique_ptr<LoopGroup> loops_;
  std::size_t max_sessions_ = 0;
  std::size_t raw_slots_ = 0;                             // under mu_
  std::unordered_set<const mg_connection*> raw_pending_;  // under mu_
  std::string route_;
  std::vector<std::unique_ptr<SseRouteData>> sse_data_;
  std::vector<std::unique_ptr<MountData>> mount_data_;
  std::vector<std::weak_ptr<SseStreamImpl>> streams_;
  std::vector<std::unique_ptr<RawWsRoute>> ws_data_;
  std::atomic<bool> stopping_{false};

  // Parking (front_door_park.cpp).
  friend class ParkedConnection;
  void free_unclaimed();
  std::atomic<std::size_t> parked_{0};  // ParkedConnections registered on the loops
  mutable std::mutex park_mu_;
  mg_context* resume_ctx_ = nullptr;  // under park_mu_
  struct AddressSlots {
    std::size_t in_workers = 0;                           // resumed, not done (or granted)
    std::deque<std::weak_ptr<ParkedConnection>> waiting;  // heads arrived, in line for a slot
  };
  void release_slot_locked(const std::string& address);
  std::unordered_map<std::string, AddressSlots> addresses_;           // under park_mu_
  std::unordered_map<mg_parked*, std::unique_ptr<Resumed>> resumed_;  // under park_mu_
  std::shared_ptr<AddressCounts> pending_sessions_ = std::make_shared<AddressCounts>();
};

// CivetWeb's parking callbacks (front_door_park.cpp).
int park_cb(const mg_context* ctx, const mg_parked* parked, int fresh);
void resumed_done_cb(const mg_context* ctx, mg_parked* parked);

// CivetWeb callbacks of plain WebSocket routes (front_door_routes.cpp).
int raw_ws_connect(const mg_connection* conn, void* cbdata);
void raw_ws_ready(mg_connection* conn, void* cbdata);
int raw_ws_data(mg_connection* conn, int bits, char* data, std::size_t len, void* cbdata);
void raw_ws_close(const mg_connection* conn, void* cbdata);
// Frees what raw_ws_connect kept for a handshake that failed.
void raw_ws_abandoned(const mg_connection* conn);

}  // namespace chorus
