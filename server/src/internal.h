// Internal plumbing of the Chorus server: outbound frames, the Engine.IO link between the
// transport adapter and the Socket.IO layer, timers, and the room adapter.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chorus/engineio/outbox.h"
#include "chorus/engineio/packet.h"
#include "chorus/server.h"
#include "chorus/socketio/packet.h"
#include "chorus/socketio/recovery.h"
#include "connection.h"
#include "metrics.h"
#include "timer_queue.h"

namespace chorus {

struct StreamRestore;  // cluster.h

std::uint64_t now_ms();   // steady clock
std::int64_t epoch_ms();  // wall clock, ms since 1970
// JavaScript's forms of a date (UTC): Date.prototype.toJSON, 2026-12-06T14:20:01.123Z, and
// Date.prototype.toString, as socket.io writes handshake.time on a machine set to UTC.
std::string iso_date(std::int64_t epoch_ms);
std::string js_date(std::int64_t epoch_ms);
// A string map as a JSON object, keys sorted.
Value string_map_to_object(const std::unordered_map<std::string, std::string>& m);
void log(LogLevel level, const std::string& message);
void set_log_level(LogLevel level);
// The format and sink of ServerOptions (the last server constructed sets them for the process).
void set_log_output(ServerOptions::LogFormat format, std::function<void(LogLevel, const std::string&)> sink);

// One outbound Engine.IO unit, encoded once and shared by every recipient of a broadcast
// (core: engineio/outbox.h).
using OutFrame = engineio::OutFrame;
using FramePtr = engineio::FramePtr;
// An encoded Socket.IO packet as Engine.IO MESSAGE packets.
FramePtr message_frame(const socketio::EncodedPacket& packet, bool is_volatile = false);

// A session's handshake as received, kept compact: the Handshake (maps of headers and query)
// is built the first time something asks for it (a middleware, an application reading
// socket.handshake()), and kept. An idle connection that nobody inspects never pays for the
// maps. Thread-safe.
class SessionHandshake {
 public:
  struct Raw {
    std::string headers;  // "Name\0value\0" for each header, as received
    std::string target;   // the request target: path, then '?' and the query when there is one
    std::string address;  // remote IP
    bool secure = false;
    std::int64_t issued_ms = 0;  // epoch milliseconds
  };
  explicit SessionHandshake(Raw raw) : raw_(std::move(raw)) {}
  // Built already (an allow_request check saw it).
  explicit SessionHandshake(Handshake built) {
    raw_.address = built.address;
    built_ = std::make_unique<const Handshake>(std::move(built));
  }
  const std::string& address() const { return raw_.address; }
  const Handshake& get() const {
    std::call_once(once_, [this] {
      if (!built_) built_ = std::make_unique<const Handshake>(build(raw_));
    });
    return *built_;
  }
  // The Handshake of `raw` (front_door.cpp); its auth is {}.
  static Handshake build(const Raw& raw);

 private:
  Raw raw_;
  mutable std::once_flag once_;
  mutable std::unique_ptr<const Handshake> built_;
};

// The Socket.IO layer's view of an Engine.IO session (implemented by the transport adapter).
class EngineLink {
 public:
  virtual ~EngineLink() = default;
  virtual const std::string& sid() const = 0;
  // Queues a frame; false when the session is closed or the frame was dropped (volatile).
  virtual bool send(FramePtr frame) = 0;
  // Server-side close with a Socket.IO-visible reason ("forced close", ...).
  virtual void close(const std::string& reason) = 0;
  // The same, because the peer broke the protocol: a WebSocket is closed with 1002 and
  // `detail` (README, "WebSocket close codes").
  virtual void close_violation(const std::string& reason, const std::string& detail) = 0;
  // Shared by the session's sockets (auth: {}).
  virtual const std::shared_ptr<const SessionHandshake>& handshake() const = 0;
  // The transport carrying the session now ("polling", "websocket", "sse").
  virtual const char* transport() const { return "polling"; }
};

// What the transport adapter tells the layer above about a session.
class EngineListener {
 public:
  virtual ~EngineListener() = default;
  virtual void on_message(const engineio::Packet& packet) = 0;
  virtual void on_close(const std::string& reason) = 0;
  // Keeps `slot` until the session joins a namespace or closes (a per-address count of
  // sessions not in a namespace yet). Dropped at once by listeners without namespaces.
  virtual void hold_until_joined(std::shared_ptr<void> slot) { (void)slot; }
  // The session moved to another transport (the polling -> WebSocket upgrade).
  virtual void on_upgrade(const char* transport) { (void)transport; }
};

// One thread running callbacks at deadlines (heartbeats, ack and connect timeouts).
class TimerService {
 public:
  using Id = std::uint64_t;
  TimerService();
  ~TimerService();
  Id schedule(std::uint64_t deadline_ms, std::function<void()> fn);
  Id schedule_in(std::chrono::milliseconds delay, std::function<void()> fn) {
    return schedule(now_ms() + static_cast<std::uint64_t>(delay.count()), std::move(fn));
  }
  void cancel(Id id);
  void stop();

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  TimerQueue queue_;
  bool stop_ = false;
  std::thread thread_;
};

// Room membership for one namespace (in-memory; a multi-node adapter can extend it).
class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual void add_all(const std::string& sid, const std::set<std::string>& rooms) = 0;
  virtual void del(const std::string& sid, const std::string& room) = 0;
  virtual void del_all(const std::string& sid) = 0;
  virtual std::set<std::string> socket_rooms(const std::string& sid) const = 0;
  // Ids of the local sockets matching `opts` (rooms: union; except: rooms and ids removed).
  virtual std::vector<std::string> select(const BroadcastOptions& opts) const = 0;
  // Every room with a local socket in it, sockets' own rooms included.
  virtual std::vector<std::string> all_rooms() const = 0;
  virtual bool has_room(const std::string& room) const = 0;
  // Rooms with a local socket in them, not counting the sockets' own rooms (metrics).
  virtual std::size_t room_count() const = 0;
};
std::unique_ptr<Adapter> make_in_memory_adapter();

class NamespaceImpl : public std::enable_shared_from_this<NamespaceImpl> {
 public:
  NamespaceImpl(ServerImpl* owner, std::string ns_name);

  ServerImpl* server;
  const std::string name;
  std::unique_ptr<Adapter> adapter = make_in_memory_adapter();
  bool is_admin = false;  // the Admin UI's namespace: its own traffic is not reported to it

  mutable std::mutex mu;
  std::vector<Middleware> middlewares;
  std::vector<std::function<void(Socket&)>> connection_handlers;
  std::unordered_map<std::string, std::shared_ptr<Socket>> sockets;
  // Dynamic namespaces: a parent has a predicate and children.
  NamespacePredicate predicate;
  std::vector<std::shared_ptr<NamespaceImpl>> children;
  std::weak_ptr<NamespaceImpl> parent;

  // Ack ids of packets sent in this namespace (one counter, as socket.io's nsp._ids: a
  // broadcast with acks shares one id among its targets).
  std::atomic<std::uint64_t> next_ack_id{0};
  // Handlers of server-side events (Namespace::on_server_event).
  std::unordered_map<std::string, EventHandler> server_event_handlers;
  std::vector<AnyHandler> any_server_event_handlers;

  // Connection state recovery (when enabled): offsets, kept packets and sessions. Held across
  // a whole local delivery, so that a socket being restored gets each packet exactly once
  // (replayed, or delivered live).
  std::mutex recovery_mu;
  std::unique_ptr<socketio::RecoveryStore> recovery;
  // An event to one socket through the recovery store (its offset appended).
  bool emit_recoverable(const std::string& sid, ClientConnection& client, Array args_with_event);
  // Keeps a socket's session for its client's return.
  void persist_session(Socket& socket);
  // Drops expired sessions and old packets.
  void prune_recovery(std::uint64_t now);
  // Connection state recovery through the streams adapter (cluster.h): offsets are stream ids,
  // sessions are kept in Redis, and `recovery` stays null.
  bool stream_recovery = false;
  bool recovers() const { return recovery || stream_recovery; }

  // To this node's matching sockets (a namespace with sockets, not a parent), encoded once,
  // with `offset` as the last argument when given.
  bool deliver(const Array& args_with_event, const BroadcastOptions& opts, const std::optional<std::string>& offset);
  // The end of every local delivery: one frame (encoded once) queued to each matching socket
  // but `exclude_sid`, timed from `started` (metrics) and reported to a watching Admin UI.
  void send_to_selected(const FramePtr& frame, const BroadcastOptions& opts, const std::string* exclude_sid,
                        const Array& args_with_event, std::chrono::steady_clock::time_point started);
  // Tells the Admin UI (when one watches) of a broadcast's event to each of `ids`.
  void report_sent(const Array& args_with_event, const std::vector<std::string>& ids, const std::string* exclude_sid);

  // Encodes once and queues to every matching socket (and children's, for a parent); unless
  // opts.local, publishes it to the other nodes of the cluster too.
  bool broadcast(const Args& args_with_event, const BroadcastOptions& opts, const std::string* exclude_sid);
  // A broadcast with acks to this node's matching sockets: `on_count` gets their number
  // before any is sent, `on_ack` each one's first ack argument, until `timeout_ms`. False
  // when the packet cannot be encoded (no callback runs).
  bool broadcast_with_ack_local(const Args& args_with_event, const BroadcastOptions& opts, std::uint32_t timeout_ms,
                                const std::function<void(std::uint64_t)>& on_count, std::function<void(Value)> on_ack);
  void local_join_leave(const BroadcastOptions& opts, const std::vector<std::string>& rooms, bool join);
  void local_disconnect(const BroadcastOptions& opts, bool close);
  // A server-side event from another node; `answer` (when set) sends the first ack argument
  // back, once (null when no handler is registered, so the requester never waits in vain).
  void on_server_side_emit(Array args_with_event, std::function<void(Value)> answer);
  std::vector<std::shared_ptr<Socket>> select_sockets(const BroadcastOptions& opts);
  std::shared_ptr<Socket> find_socket(const std::string& sid);
  // Runs middleware, then connects the socket (or refuses it with CONNECT_ERROR).
  void run_middleware(std::shared_ptr<Socket> socket, std::size_t index);
  // Runs middleware from `index` and reports the outcome (nullopt: every one passed).
  void authorize(std::shared_ptr<Socket> socket, std::size_t index,
                 std::function<void(std::optional<ConnectError>)> done);
  void add_socket(const std::shared_ptr<Socket>& socket);
  // The streams mode's end of add_socket (on the Redis thread for a restored socket): joins
  // its rooms, replays `missed` (nullopt: not recovered), sends the CONNECT reply, runs the
  // connection handlers.
  void attach_stream_socket(const std::shared_ptr<Socket>& socket, const std::shared_ptr<ClientConnection>& client,
                            const std::shared_ptr<StreamRestore>& restore, std::optional<std::vector<Array>> missed,
                            const std::vector<std::function<void(Socket&)>>& handlers);
  void remove_socket(const std::string& sid);
};

// The Socket.IO side of one Engine.IO session: decoding, namespace sockets.
class ClientConnection : public EngineListener, public std::enable_shared_from_this<ClientConnection> {
 public:
  ClientConnection(ServerImpl* server, std::shared_ptr<EngineLink> engine);
  void start();  // arms the connect timeout

  void on_message(const engineio::Packet& packet) override;
  void on_close(const std::string& reason) override;
  void hold_until_joined(std::shared_ptr<void> slot) override;
  void on_upgrade(const char* transport) override;
  // The Engine.IO session id and its current transport ("" and "polling" once it is gone).
  std::string engine_id() const;
  const char* transport() const;

  bool send(const socketio::Packet& packet, bool is_volatile = false);
  bool send_frame(FramePtr frame);  // counted as sent when queued
  void close(const std::string& reason) {
    if (auto engine = engine_.lock()) engine->close(reason);
  }
  void close_violation(const std::string& reason, const std::string& detail) {
    if (auto engine = engine_.lock()) engine->close_violation(reason, detail);
  }
  void detach(const std::string& nsp);  // a socket left its namespace

 private:
  void handle(socketio::Packet packet);
  void connect(const std::string& nsp, Value auth);
  // The socket of a CONNECT, once it is known which session (if any) it takes over.
  void open_socket(const std::string& nsp, const std::shared_ptr<NamespaceImpl>& ns, std::shared_ptr<Handshake> own,
                   std::string sid, std::optional<std::string> restore_pid, std::optional<std::string> restore_offset,
                   std::shared_ptr<StreamRestore> stream_restore);

  ServerImpl* server_;
  // Weak: the session owns this listener; a strong reference back would be a cycle.
  std::weak_ptr<EngineLink> engine_;
  std::shared_ptr<const SessionHandshake> handshake_;
  std::mutex dispatch_mu_;  // one packet of this connection handled at a time
  socketio::Decoder decoder_;
  std::mutex mu_;
  // By namespace; a client joins one or a few (a vector costs less than a hash map).
  std::vector<std::pair<std::string, std::shared_ptr<Socket>>> sockets_;
  bool closed_ = false;
  bool ever_connected_ = false;
  std::shared_ptr<void> pending_slot_;  // until a namespace is joined (hold_until_joined)
  TimerService::Id connect_timer_ = 0;
};

// ---------------------------------------------------------------------------------------
// Raw routes and feeds (routes.cpp): transport-free logic over a tiny I/O interface.

// Writes of one held HTTP response (the CivetWeb adapter implements it).
class HttpIo {
 public:
  virtual ~HttpIo() = default;
  virtual bool write(std::string_view data) = 0;
  virtual std::string cors_headers() const = 0;
};

struct RouteSpec {
  std::string method;
  std::vector<std::string> segments;  // "api", "items", ":id"
  HttpHandler handler;
  std::size_t max_body;
};
// Matches `path` against a route's segments, filling `params`.
bool match_route(const RouteSpec& route, std::string_view path, std::unordered_map<std::string, std::string>& params);
std::vector<std::string> split_path(std::string_view path);
// A complete HTTP/1.1 response (status line, headers, body) for `response`.
std::string render_response(const HttpResponse& response, const std::string& cors, bool head_only = false);

// A plain SSE stream: a queue filled from any thread, drained by its connection's event loop.
class SseStreamImpl final : public SseStream,
                            public HttpStreamConnection::Handler,
                            public std::enable_shared_from_this<SseStreamImpl> {
 public:
  SseStreamImpl(HttpRequest request, std::size_t max_queue_bytes)
      : request_(std::move(request)), max_queue_(max_queue_bytes) {}
  bool send(std::string_view event, std::string_view data, std::string_view id = {}) override;
  bool closed() const override;
  void close() override;
  const HttpRequest& request() const override { return request_; }
  void on_close(std::function<void()> handler) override;

  bool push_raw(std::string text);  // pre-rendered SSE text
  // The connection that carries the stream (its head is queued already); `on_end` runs once
  // when the stream ends.
  void attach(std::shared_ptr<HttpStreamConnection> connection, std::function<void()> on_end);
  // HttpStreamConnection::Handler (loop thread)
  void on_http_fill(HttpStreamConnection& c) override;
  void on_http_closed(HttpStreamConnection& c, bool error) override;

 private:
  void wake();
  HttpRequest request_;
  std::size_t max_queue_;
  mutable std::mutex mu_;
  std::string pending_;
  bool closed_ = false;
  bool ended_ = false;
  std::shared_ptr<HttpStreamConnection> connection_;
  std::function<void()> on_end_;
  std::vector<std::function<void()>> on_close_;
};

// Appends one SSE event (`event:`, `data:` lines split at line ends, `id:`).
void append_sse(std::string& out, std::string_view event, std::string_view data, std::string_view id);

// Per-room history and live followers of plain SSE feeds.
class FeedHub {
 public:
  FeedHub(std::size_t history, std::size_t max_queue) : history_(history), max_queue_(max_queue) {}
  // A broadcast of `args_with_event` to `rooms` of namespace `nsp`.
  void publish(const std::string& nsp, const std::set<std::string>& rooms, const Args& args_with_event);
  // The backlog (replay after `last_id`, or a reset event) and live delivery from then on.
  std::string subscribe(const std::string& nsp, const std::string& room, std::optional<std::uint64_t> last_id,
                        const std::shared_ptr<SseStreamImpl>& stream);
  std::size_t max_queue() const { return max_queue_; }

 private:
  struct Event {
    std::uint64_t id;
    std::string text;  // rendered SSE event
  };
  struct Room {
    std::uint64_t next_id = 1;
    std::deque<Event> history;
    std::vector<std::weak_ptr<SseStreamImpl>> followers;
  };
  std::size_t history_;
  std::size_t max_queue_;
  std::mutex mu_;
  std::unordered_map<std::string, Room> rooms_;  // key: nsp + '\n' + room
  std::atomic<std::size_t> followed_{0};
};

// The front door on CivetWeb (front_door.h).
class CivetTransport {
 public:
  virtual ~CivetTransport() = default;
  virtual Status start() = 0;
  virtual void stop() = 0;
  virtual int port() const = 0;
  virtual std::size_t capacity() const = 0;
  virtual std::size_t io_threads() const = 0;
  virtual std::size_t session_count() const = 0;
  // Metrics: open sessions by their current transport (engineio::Transport order), and the
  // bytes waiting in their outbound queues. Each session is read under its own lock.
  virtual void connection_stats(std::array<std::size_t, Metrics::kTransports>& by_transport,
                                std::size_t& queued_bytes) const = 0;
};
std::unique_ptr<CivetTransport> make_civet_transport(ServerImpl* server);

class Cluster;
class AdminUi;  // admin.h
// Node's shape of a fetched socket ({id, handshake, rooms, data}) and back (cluster.cpp).
Value socket_to_wire(Socket& socket, bool admin);
std::optional<RemoteSocket> socket_from_wire(const std::shared_ptr<NamespaceImpl>& ns, const Value& v);

class ServerImpl {
 public:
  explicit ServerImpl(ServerOptions options);
  ~ServerImpl();

  // The Redis adapter, from start() on when options.redis.url is set (kept until destruction,
  // so that any thread may use it; stop() only disconnects it).
  std::unique_ptr<Cluster> cluster;
  // The Admin UI (options.admin.enabled), and whether its hooks report: an Admin UI socket is
  // connected here, or other nodes' UIs may be watching (a cluster). Hooks load it relaxed.
  std::unique_ptr<AdminUi> admin;
  std::atomic<bool> admin_watching{false};
  bool admin_watched() const { return admin_watching.load(std::memory_order_relaxed); }

  ServerOptions options;
  // Counters of the traffic (metrics.h), an embedder's own families (served with Chorus's at
  // options.metrics_path), and Chorus's families for an embedder's own exposer.
  Metrics metrics;
  std::shared_ptr<prometheus::Registry> metrics_registry;
  std::shared_ptr<prometheus::Collectable> metrics_collectable;
  bool metrics_route_added = false;
  TimerService timers;
  std::atomic<std::uint64_t> id_counter{0};
  std::string new_id();  // random, URL-safe, 20 chars

  std::mutex ns_mu;
  std::map<std::string, std::unique_ptr<Namespace>> namespaces;
  std::vector<std::unique_ptr<Namespace>> parents;
  // The namespace for a CONNECT, creating a dynamic child when a parent matches.
  std::shared_ptr<NamespaceImpl> resolve_namespace(const std::string& name, const Value& auth);
  Namespace& of(const std::string& name);

  EngineHandlers engine_handlers;
  bool engine_mode = false;
  std::function<std::optional<std::string>(const Handshake&)> allow_request;

  // Called by the transport for every new Engine.IO session.
  std::shared_ptr<EngineListener> on_engine_open(const std::shared_ptr<EngineLink>& link);

  std::unique_ptr<CivetTransport> transport;
  // Connection state recovery: drops expired sessions and old packets every 10 s.
  void sweep_recovery();
  std::atomic<bool> stop_requested{false};

  std::vector<RouteSpec> routes;
  std::vector<std::pair<std::string, std::function<void(const std::shared_ptr<SseStream>&)>>> sse_routes;
  std::vector<std::pair<std::string, WebSocketHandlers>> ws_routes;
  FeedHub feeds{options.feed_history, options.max_feed_queue_bytes};
  // Runs `ns`'s middleware for a feed request; nullopt when it lets the request through.
  std::optional<ConnectError> authorize_feed(const std::shared_ptr<NamespaceImpl>& ns, Handshake handshake);
};

}  // namespace chorus
