// Chorus server: a Socket.IO v4-compatible realtime server embedded in any C++ program.
//
//   chorus::ServerOptions opts;
//   opts.port = 8080;
//   opts.document_root = "demo";
//   chorus::Server server(opts);
//   server.of("/").on_connection([](chorus::Socket& s) {
//     s.on("msg", [&s](const chorus::Args& a, chorus::Ack ack) {
//       s.to("room1").emit("msg", a);
//       ack({true});
//     });
//   });
//   server.run();  // or start() and keep going
//
// Transports: HTTP long-polling, WebSocket (with the polling -> WebSocket upgrade) and SSE,
// speaking Engine.IO protocol 4 and Socket.IO protocol 5.
//
// Threading (README, "How the server is built"): CivetWeb's fixed pool of workers
// (ServerOptions::http_threads) answers short requests; open connections (WebSockets, SSE
// streams, held polls) live on Chorus's event loops (ServerOptions::io_threads), one loop per
// connection. No thread is held per connection.
//  - Handlers of one connection (middleware, on_connection, events, acks received, disconnect)
//    run one at a time: on its loop's thread for what arrives over a WebSocket, on a worker
//    for a polling POST, or, for asynchronous middleware, on the thread that calls `next`.
//    A handler that blocks delays the other connections of its loop: hand slow work to
//    threads of your own.
//  - Ack timeouts and heartbeats run on the server's timer thread, as do the disconnect
//    handlers of a connection closed because its outbound queue overflowed (never inside the
//    emit that overflowed it).
//  - Every emit, broadcast, join/leave, disconnect and server-side operation is safe from any
//    thread. Emitting never blocks on the network: a broadcast is encoded once and queued to
//    each connection, whose loop writes it; a client that stops reading fills only its own
//    queue (limit: ServerOptions::max_buffered_bytes; volatile packets are dropped first,
//    then the connection is closed with reason "transport error").
//  - Keep a socket beyond its handler with `socket.shared()`; after disconnect its emits are
//    ignored.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chorus/error.h"
#include "chorus/limits.h"
#include "chorus/value.h"

namespace prometheus {  // prometheus-cpp (Debian's prometheus-cpp-dev), for the metrics API
class Collectable;
class Registry;
}  // namespace prometheus

namespace chorus {

using Args = std::vector<Value>;

enum class LogLevel { kError, kWarn, kInfo, kDebug };

// A folder served under a URL prefix: GET and HEAD of regular files only (no listing, no
// index page). With `files`, only those paths below the folder (e.g. "chorus.mjs"); without,
// every regular file below it.
struct StaticMount {
  std::string prefix;     // "/chorus/"
  std::string directory;  // absolute, or relative to the working directory
  std::vector<std::string> files;
  // Served for the prefix itself ("/admin/"), e.g. "index.html". Empty: none.
  std::string index;
};

// Several nodes sharing rooms, broadcasts and server-side operations through Redis, speaking
// the protocol of @socket.io/redis-adapter 8 (classic pub/sub), so that Chorus and Node
// socket.io nodes can form one cluster (README, "Several nodes").
struct RedisAdapterOptions {
  // Which protocol the nodes speak (README, "Several nodes"):
  // - kClassic: @socket.io/redis-adapter 8 (pub/sub; each node recovers its own clients only);
  // - kStreams: @socket.io/redis-streams-adapter 0.3 (broadcasts through a Redis stream,
  //   sessions in Redis keys): a client that dropped recovers on any node. Every broadcast and
  //   every recoverable emit is written to Redis first.
  enum class Kind { kClassic, kStreams };
  Kind adapter = Kind::kClassic;
  // redis://[[user]:password@]host[:port][/db]. Empty: this server is a single node.
  std::string url;
  // AUTH password when it should not sit in the URL (overrides the URL's).
  std::string password;
  // Channel prefix, as the Node adapter's `key` option: every node of a cluster uses the same.
  std::string key = "socket.io";
  // How long fetch_sockets, server_side_emit with ack and all_rooms wait for other nodes
  // (the Node adapter's requestsTimeout).
  std::uint32_t requests_timeout_ms = 5'000;
  // Bytes waiting to be written to Redis before further publishes are dropped (counted).
  std::size_t max_pending_bytes = std::size_t{64} << 20;
  // kStreams: the stream (the Node adapter's streamName; streamCount is 1), its approximate
  // length cap (maxLen, XADD MAXLEN ~), entries read per XREAD (readCount), and the prefix of
  // the session keys (sessionKeyPrefix). Every node of a cluster uses the same.
  std::string stream_name = "socket.io";
  std::uint64_t stream_max_len = 10'000;
  std::uint32_t stream_read_count = 100;
  std::string session_key_prefix = "sio:session:";
};

// Connection state recovery (socket.io 4.6+; README, "Connection state recovery"): a client
// whose transport dropped comes back within max_disconnection_ms with the same socket id, its
// rooms and data, and the events it missed; Socket::recovered() tells. Costs: every
// non-volatile event without an ack carries its offset as a last argument, and each namespace
// keeps the packets it sent for max_disconnection_ms (at most max_stored_packets).
struct ConnectionStateRecoveryOptions {
  bool enabled = false;
  std::uint32_t max_disconnection_ms = 120'000;
  // A recovered socket skips the namespace's middleware (as socket.io's default).
  bool skip_middlewares = true;
  // Packets kept per namespace for replay; a client whose offset is older gets a fresh session.
  std::size_t max_stored_packets = 100'000;
  // Packets replayed to one client at most; more missed than this: a fresh session.
  std::size_t max_replayed_packets = 10'000;
};

// The server side of the Socket.IO Admin UI (@socket.io/admin-ui 0.5; README, "Operating
// Chorus"): the official UI connects to `namespace_name` and inspects and drives the server (a
// whole cluster, through the Redis adapter). Costs the traffic one relaxed atomic load per
// hook while no UI watches.
struct AdminOptions {
  bool enabled = false;
  // Basic auth: the UI's username and a bcrypt hash of its password ($2a$, $2b$ or $2y$, as
  // bcryptjs or `htpasswd -B` make them). Both empty: refused by start() unless no_auth.
  std::string username;
  std::string password_hash;
  bool no_auth = false;  // anyone who reaches the server may use the UI (explicit opt-in)
  // The UI inspects only: its commands (emit, join, leave, disconnect) are not offered.
  bool readonly = false;
  std::string namespace_name = "/admin";
  std::string server_id;                    // how this node appears in the UI; empty: the host name
  std::uint32_t stats_interval_ms = 2'000;  // server_stats (the UI marks a node down after 10 s)
  // A successful login gets a session id that the UI presents on reconnects instead of the
  // password; sessions last session_ttl_ms, at most max_sessions kept (the oldest go first).
  std::uint32_t session_ttl_ms = 86'400'000;
  std::size_t max_sessions = 1'000;
  // Password checks (bcrypt, deliberately slow) run on one thread of their own; logins
  // waiting past this many are refused with "too many login attempts".
  std::size_t max_pending_logins = 16;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                   // 0: pick a free port (see Server::port())
  std::string path = "/socket.io/";  // Engine.IO endpoint
  std::string document_root;         // static files (GET and HEAD); empty: none
  // Extra static folders under their own URL prefixes.
  std::vector<StaticMount> mounts;
  // CORS: origins allowed to call the endpoint from a browser ("*" for any). Empty: no CORS
  // headers at all (same-origin only).
  std::vector<std::string> cors_origins;
  // Lets the allowed origins send cookies/credentials. Needs an explicit allow-list: with "*"
  // (or "null", the origin of sandboxed frames and local files) any site could act as the
  // user, so start() refuses that configuration.
  bool cors_credentials = false;
  Limits limits;
  // Connections held open at once: Engine.IO sessions, plain WebSockets (Server::websocket),
  // plain SSE streams (Server::sse) and feeds together. Past it: 503. start() raises the
  // soft open-file limit to the hard limit and serves fewer (a warning, Server::capacity())
  // when even that is too low.
  std::size_t max_connections = 100'000;
  // CivetWeb workers: short requests only (handshakes, polling POSTs, routes, static files).
  std::size_t http_threads = 32;
  // The front door's treatment of idle and slow clients (README, "The front door"). A
  // connection waiting for a request head holds no worker: it is parked on an event loop until
  // the head has arrived whole.
  // An idle keep-alive connection (nothing of a next request yet) is closed after this.
  std::uint32_t keep_alive_timeout_ms = 5'000;
  // A request head must arrive whole within this (counted from the accept for a new
  // connection, from its first byte for the next request on a kept-alive one): else 408
  // with `Connection: close`, or a silent close when nothing came at all.
  std::uint32_t header_timeout_ms = 5'000;
  // Connections from one remote address a CivetWeb worker may serve at once (its request
  // head arrived; parked and taken-over connections do not count): past it, 503 with
  // `Connection: close` at once, so that slow bodies from one address cannot take the pool.
  std::size_t max_pending_per_address = 8;
  // Socket.IO sessions from one remote address that have not joined a namespace yet (the
  // connect timeout ends them): past it, the handshake is answered 503 as at
  // max_connections.
  std::size_t max_pending_sessions_per_address = 1'000;
  // Transports accepted. Handshakes offer the upgrade to "websocket" from polling and SSE;
  // "sse" is chosen by the client only (it never appears in `upgrades`).
  std::vector<std::string> transports = {"polling", "websocket", "sse"};
  // Event loop threads serving open connections (WebSockets, SSE streams, held polls); each
  // connection stays on one. 0: one per core the process may run on (its CPU affinity).
  std::size_t io_threads = 0;
  // Outbound bytes queued for one connection before it is considered stalled.
  std::size_t max_buffered_bytes = std::size_t{4} << 20;
  // A request body (polling POST, route) must arrive whole within this time, or the request
  // is answered 408 with `Connection: close` and nothing in it runs. CivetWeb's own request
  // timeout (headers, one blocked read or write) is set to the same value.
  std::uint32_t body_timeout_ms = 10'000;
  // PEM file holding certificate and private key: serve https/wss only.
  std::string tls_certificate;
  // Plain SSE feeds: GET <feeds_path><room>[?nsp=/name&token=...] follows a room with a bare
  // EventSource (event: name, data: JSON arguments, id: per-room offset). Empty: off.
  std::string feeds_path = "/feeds/";
  std::size_t feed_history = 1000;                          // events kept per followed room, for Last-Event-ID resume
  std::size_t max_feed_queue_bytes = std::size_t{1} << 20;  // a feed reader that falls further behind is dropped
  LogLevel log_level = LogLevel::kInfo;
  // How log lines are written to stderr: kText, `chorus [warn] message`; kJson, one object per
  // line, {"time":"2026-12-06T14:20:01.123Z","level":"warn","msg":"message"} (for log
  // collectors). Ignored when log_sink is set.
  enum class LogFormat { kText, kJson };
  LogFormat log_format = LogFormat::kText;
  // Where log lines go instead of stderr (the embedding application's logger). Called on the
  // thread that logs, one line at a time (serialized), for levels up to log_level.
  std::function<void(LogLevel, const std::string& message)> log_sink;
  // GET here answers the server's Prometheus metrics (text format 0.0.4; README, "Operating
  // Chorus"), e.g. "/metrics". Empty: not served (Server::metrics_text() still works).
  std::string metrics_path;
  RedisAdapterOptions redis;
  ConnectionStateRecoveryOptions connection_state_recovery;
  AdminOptions admin;
};

class Socket;
class Namespace;
class Server;
class ServerImpl;
class NamespaceImpl;
class ClientConnection;
class SessionHandshake;

// What a middleware passes to `next` to refuse a connection: the client gets CONNECT_ERROR
// {"message": message, "data": data} (socket.io-client: `connect_error` with err.message
// and err.data).
struct ConnectError {
  std::string message;
  Value data;
};

using Next = std::function<void(std::optional<ConnectError>)>;
using Middleware = std::function<void(Socket&, Next)>;

// The acknowledgement callback handed to an event handler. Calling it sends an ACK with the
// given arguments; only the first call counts; calling it when the client asked for no ack
// does nothing. Copyable; safe from any thread.
class Ack {
 public:
  Ack() = default;
  bool requested() const { return static_cast<bool>(send_); }
  void operator()(Args args = {}) const;
  template <class... T,
            class = std::enable_if_t<(sizeof...(T) > 0) &&
                                     !(sizeof...(T) == 1 && (std::is_same_v<std::decay_t<T>, Args> && ...))>>
  void operator()(T&&... values) const {
    (*this)(Args{Value(std::forward<T>(values))...});
  }

 private:
  friend class Socket;
  friend class NamespaceImpl;
  std::shared_ptr<std::function<void(Args)>> send_;
};

// Error passed to emit-with-ack callbacks: "operation has timed out" or "socket has been
// disconnected".
struct AckError {
  std::string message;
};
using AckCallback = std::function<void(std::optional<AckError>, Args)>;

// The connection details socket.io calls `socket.handshake`.
struct Handshake {
  std::unordered_map<std::string, std::string> headers;  // lower-case names
  std::unordered_map<std::string, std::string> query;
  Value auth;           // the CONNECT payload (an object, or null)
  std::string address;  // remote IP
  std::string url;
  bool secure = false;
  std::int64_t issued_ms = 0;  // epoch milliseconds
};

// Targets of a broadcast: rooms to include (none = every socket of the namespace), rooms
// and socket ids to exclude.
struct BroadcastOptions {
  std::set<std::string> rooms;
  std::set<std::string> except;
  bool is_volatile = false;
  bool local = false;  // this node only (matters with a multi-node adapter)
};

class RemoteSocket;
// The outcome of a cluster-wide request: the responses that arrived, and an error when some
// node did not answer in time ("timeout reached: only N responses received out of M").
using FetchCallback = std::function<void(std::optional<AckError>, std::vector<RemoteSocket>)>;

// socket.to("a").except("b").emit(...), server.of("/").in("r").disconnect_sockets(), ...
// With a Redis adapter, every operation reaches the sockets of every node (unless local()).
class BroadcastOperator {
 public:
  BroadcastOperator to(std::string room) const;
  BroadcastOperator in(std::string room) const { return to(std::move(room)); }
  BroadcastOperator except(std::string room_or_id) const;
  BroadcastOperator volatile_() const;
  BroadcastOperator local() const;
  // How long emit_with_ack waits for every client's ack (default 5 s).
  BroadcastOperator timeout(std::chrono::milliseconds timeout) const;

  // Encodes the packet once and queues it for every target. Returns false when the
  // arguments cannot be encoded (reserved event name, non-finite number, ...).
  bool emit(std::string_view event, Args args = {}) const;
  template <class... T>
  bool emit(std::string_view event, T&&... values) const {
    return emit(event, Args{Value(std::forward<T>(values))...});
  }
  // Broadcast with acks: `callback` gets the first argument of every target client's ack,
  // once all have answered (on every node), or an AckError "operation has timed out: ..."
  // (saying how many nodes never answered and how many clients did not ack) with those that
  // did. Returns false when the arguments cannot be encoded (callback not called).
  bool emit_with_ack(std::string_view event, Args args, AckCallback callback) const;

  // The matching sockets of every node (this node's first). Blocks until every other node
  // answered or requests_timeout_ms passed (then: those that arrived, and a warning logged);
  // prefer the callback form in handlers, which never blocks.
  std::vector<RemoteSocket> fetch_sockets() const;
  void fetch_sockets(FetchCallback callback) const;
  void sockets_join(const std::vector<std::string>& rooms) const;
  void sockets_leave(const std::vector<std::string>& rooms) const;
  void disconnect_sockets(bool close = false) const;

 private:
  friend class Namespace;
  friend class Socket;
  friend class RemoteSocket;
  BroadcastOperator(std::shared_ptr<NamespaceImpl> ns, BroadcastOptions opts)
      : ns_(std::move(ns)), opts_(std::move(opts)) {}
  std::shared_ptr<NamespaceImpl> ns_;
  BroadcastOptions opts_;
  std::chrono::milliseconds timeout_{5'000};
};

// Handler for an event: called with the arguments and an Ack (Ack::requested() tells
// whether the client asked for one).
using EventHandler = std::function<void(const Args&, Ack)>;
using AnyHandler = std::function<void(const std::string& event, const Args&)>;

class Socket : public std::enable_shared_from_this<Socket> {
 public:
  const std::string& id() const { return id_; }
  const std::string& nsp() const;
  const Handshake& handshake() const;
  bool connected() const;
  // This socket took over a session whose transport had dropped (connection state recovery):
  // same id, rooms and data, and the missed events were sent before the CONNECT reply.
  bool recovered() const { return recovered_; }
  std::shared_ptr<Socket> shared() { return shared_from_this(); }

  // Per-socket application data (socket.data); touch it from the connection's handlers
  // or guard it yourself. With a Redis adapter, another node's fetch_sockets copies it on the
  // adapter's thread: set it in middleware or on_connection, before anyone can fetch it, and
  // replace it whole rather than editing it in place afterwards.
  Value& data() { return data_; }
  // Sets one field of data() (made an object first if it is not one) and tells a watching
  // Admin UI (socket_updated with the new data), as `socket.data.key = value` does in a
  // Node server under the Admin UI's instrument. Edits made through data() are not reported.
  void set_data(const std::string& key, Value value);

  // on("event", [](const Args&, Ack) {...}) or on("event", [](const Args&) {...}).
  void on(std::string event, EventHandler handler);
  template <class F,
            class = std::enable_if_t<std::is_invocable_v<F, const Args&> && !std::is_invocable_v<F, const Args&, Ack>>>
  void on(std::string event, F handler) {
    on(std::move(event), EventHandler([h = std::move(handler)](const Args& a, Ack) { h(a); }));
  }
  void on_any(AnyHandler handler);
  // reason: "client namespace disconnect", "server namespace disconnect", "transport close",
  // "transport error", "ping timeout", "parse error", "forced close",
  // "forced server close", "server shutting down".
  void on_disconnecting(std::function<void(const std::string& reason)> handler);
  void on_disconnect(std::function<void(const std::string& reason)> handler);

  bool emit(std::string_view event, Args args = {});
  template <class... T>
  bool emit(std::string_view event, T&&... values) {
    return emit(event, Args{Value(std::forward<T>(values))...});
  }
  // The callback gets the client's ack arguments, or an AckError after `timeout`
  // (or when the socket disconnects first).
  bool emit_with_ack(std::string_view event, Args args, std::chrono::milliseconds timeout, AckCallback callback);

  void join(std::string room);
  void join(const std::vector<std::string>& rooms);
  void leave(const std::string& room);
  std::set<std::string> rooms() const;

  // Broadcast to others: every socket in the room(s) but this one.
  BroadcastOperator to(std::string room);
  BroadcastOperator in(std::string room) { return to(std::move(room)); }
  BroadcastOperator except(std::string room);
  BroadcastOperator broadcast();

  // Leaves the namespace ("server namespace disconnect"); with close = true, closes the
  // whole connection ("forced server close").
  void disconnect(bool close = false);

  // Internal.
  // `shared`: the connection's handshake; `own`: this socket's, when its auth differs.
  Socket(std::string id, std::shared_ptr<NamespaceImpl> ns, std::shared_ptr<ClientConnection> client,
         std::shared_ptr<const SessionHandshake> shared, std::shared_ptr<const Handshake> own);
  ~Socket();

 private:
  friend class NamespaceImpl;
  friend class ClientConnection;
  friend class AdminUi;
  void on_packet_event(std::string event, Args args, std::optional<std::uint64_t> id);
  void on_packet_ack(std::uint64_t id, Args args);
  void on_close(const std::string& reason, bool notify_client);
  void send_ack(std::uint64_t id, Args args);

  std::string id_;
  std::shared_ptr<NamespaceImpl> ns_;
  std::weak_ptr<ClientConnection> client_;
  std::shared_ptr<const SessionHandshake> shared_handshake_;
  std::shared_ptr<const Handshake> own_handshake_;
  Value data_;
  std::string pid_;                     // connection state recovery: the session's private id
  std::uint64_t connected_offset_ = 0;  // the namespace's last offset when it connected
  bool recovered_ = false;
  struct State;
  std::unique_ptr<State> state_;
};

// A socket as fetch_sockets returns it: on this node (socket() is the live Socket) or on
// another node of the cluster (a copy of its id, handshake, rooms and data, taken when it was
// fetched). emit, join, leave and disconnect act on it wherever it is.
class RemoteSocket {
 public:
  const std::string& id() const { return id_; }
  const Handshake& handshake() const { return *handshake_; }
  const std::set<std::string>& rooms() const { return rooms_; }
  const Value& data() const { return data_; }
  bool is_local() const { return static_cast<bool>(local_); }
  const std::shared_ptr<Socket>& socket() const { return local_; }  // null when remote

  bool emit(std::string_view event, Args args = {}) const;
  template <class... T>
  bool emit(std::string_view event, T&&... values) const {
    return emit(event, Args{Value(std::forward<T>(values))...});
  }
  // The callback gets the client's ack arguments (from another node: its first argument
  // only, as the cluster protocol carries), or an AckError after `timeout`.
  bool emit_with_ack(std::string_view event, Args args, std::chrono::milliseconds timeout, AckCallback callback) const;
  void join(const std::vector<std::string>& rooms) const;
  void leave(const std::vector<std::string>& rooms) const;
  void disconnect(bool close = false) const;

  // Internal.
  RemoteSocket(std::shared_ptr<NamespaceImpl> ns, std::string id, std::shared_ptr<const Handshake> handshake,
               std::set<std::string> rooms, Value data, std::shared_ptr<Socket> local)
      : ns_(std::move(ns)),
        id_(std::move(id)),
        handshake_(std::move(handshake)),
        rooms_(std::move(rooms)),
        data_(std::move(data)),
        local_(std::move(local)) {}

 private:
  BroadcastOperator self() const;
  std::shared_ptr<NamespaceImpl> ns_;
  std::string id_;
  std::shared_ptr<const Handshake> handshake_;
  std::set<std::string> rooms_;
  Value data_;
  std::shared_ptr<Socket> local_;
};

class Namespace {
 public:
  const std::string& name() const;

  void use(Middleware middleware);
  void on_connection(std::function<void(Socket&)> handler);

  // Every socket of the namespace (on every node): the operator to narrow with to/except.
  BroadcastOperator all() const;
  BroadcastOperator to(std::string room) const;
  BroadcastOperator in(std::string room) const { return to(std::move(room)); }
  BroadcastOperator except(std::string room) const;
  BroadcastOperator volatile_() const;
  BroadcastOperator local() const;
  bool emit(std::string_view event, Args args = {}) const;
  template <class... T>
  bool emit(std::string_view event, T&&... values) const {
    return emit(event, Args{Value(std::forward<T>(values))...});
  }
  BroadcastOperator timeout(std::chrono::milliseconds timeout) const;
  std::vector<RemoteSocket> fetch_sockets() const;
  void fetch_sockets(FetchCallback callback) const;
  void sockets_join(const std::vector<std::string>& rooms) const;
  void sockets_leave(const std::vector<std::string>& rooms) const;
  void disconnect_sockets(bool close = false) const;
  std::size_t socket_count() const;  // this node's

  // Server-side events between the nodes of a cluster (socket.io's serverSideEmit): a
  // handler registered with on_server_event runs on every other node, on the adapter's
  // thread; its Ack sends its first argument back. Without a Redis adapter there are no
  // other nodes: emits go nowhere and acks complete at once with no responses.
  void on_server_event(std::string event, EventHandler handler);
  // Every server-side event (before its own handler, if any), as on_any for a socket.
  void on_any_server_event(AnyHandler handler);
  bool server_side_emit(std::string_view event, Args args = {}) const;
  // `callback` gets one response per other node (the first argument of its ack), or an
  // AckError "timeout reached: only N responses received out of M" after `timeout`.
  void server_side_emit_with_ack(std::string_view event, Args args, std::chrono::milliseconds timeout,
                                 AckCallback callback) const;
  // Every room of every node (socket ids included, as socket.io lists them).
  void all_rooms(std::function<void(std::optional<AckError>, std::set<std::string>)> callback) const;

  // Internal.
  explicit Namespace(std::shared_ptr<NamespaceImpl> impl) : impl_(std::move(impl)) {}
  const std::shared_ptr<NamespaceImpl>& impl() const { return impl_; }

 private:
  std::shared_ptr<NamespaceImpl> impl_;
};

// Engine.IO-level access, below Socket.IO (used by tests and raw echo apps).
class EngineSocket {
 public:
  virtual ~EngineSocket() = default;
  virtual const std::string& id() const = 0;
  virtual void send(std::string data, bool binary) = 0;
  virtual void close() = 0;
};
struct EngineHandlers {
  std::function<void(EngineSocket&)> on_open;
  std::function<void(EngineSocket&, const std::string& data, bool binary)> on_message;
  std::function<void(EngineSocket&, const std::string& reason)> on_close;
};

// ---------------------------------------------------------------------------------------
// Raw routes beside realtime: REST handlers, plain SSE streams, plain WebSockets.

struct HttpRequest {
  std::string method;
  std::string path;
  std::unordered_map<std::string, std::string> params;  // ":name" segments of the pattern
  std::unordered_map<std::string, std::string> query;
  std::unordered_map<std::string, std::string> headers;  // lower-case names
  std::string body;                                      // at most the route's body limit
  std::string address;
  // The body as JSON (Limits apply); an error says what is wrong with it.
  Result<Value> json() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  void json(const Value& value, int status_code = 200);
  void text(std::string text, int status_code = 200);
  // {"error": message} with the status.
  void error(int status_code, const std::string& message);
};
using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

// A plain Server-Sent Events stream. Safe from any thread; sends are queued (a reader that
// falls behind by more than max_feed_queue_bytes is dropped) and written by the event loop
// serving the stream.
class SseStream {
 public:
  virtual ~SseStream() = default;
  // event: optional name; data may hold newlines (sent as several data: lines); id optional.
  virtual bool send(std::string_view event, std::string_view data, std::string_view id = {}) = 0;
  virtual bool closed() const = 0;  // the client went away (or close() was called)
  virtual void close() = 0;
  virtual const HttpRequest& request() const = 0;
  // Called once, on the stream's event loop thread, when the stream has ended.
  virtual void on_close(std::function<void()> handler) = 0;
};

// A plain WebSocket connection (RFC 6455, checked by Chorus). Safe from any thread; sends are
// queued (past max_buffered_bytes the connection is closed with 1008) and written by the event
// loop serving it, where on_message and on_close run too (on_open runs before any message).
class WebSocketConnection {
 public:
  virtual ~WebSocketConnection() = default;
  virtual bool send_text(std::string_view text) = 0;
  virtual bool send_binary(std::string_view bytes) = 0;
  virtual void close(std::uint16_t code = 1000, std::string_view reason = {}) = 0;
  virtual const HttpRequest& request() const = 0;
  // The subprotocol agreed in the handshake (one of WebSocketHandlers::subprotocols), or "".
  virtual const std::string& subprotocol() const = 0;
};
struct WebSocketHandlers {
  // Subprotocols the route speaks (Sec-WebSocket-Protocol, RFC 6455 §4.2.2): the first one the
  // client offers that is listed here is agreed and echoed; with none listed, none is echoed.
  std::vector<std::string> subprotocols;
  std::function<void(const std::shared_ptr<WebSocketConnection>&)> on_open;
  std::function<void(const std::shared_ptr<WebSocketConnection>&, const std::string& data, bool binary)> on_message;
  std::function<void(const std::shared_ptr<WebSocketConnection>&, std::uint16_t code, const std::string& reason)>
      on_close;
};

// The disconnect reasons after which connection state recovery keeps a socket's session for
// its client's return (socket.io's RECOVERABLE_DISCONNECT_REASONS): the transport went away
// ("transport close", "transport error", "ping timeout", "forced close", "forced server close",
// "server shutting down"), not the client or the application.
bool disconnect_keeps_session(std::string_view reason);

// Decides whether a namespace name that no static namespace claims may be created
// (socket.io's dynamic namespaces): io.of(/^\/room-\d+$/) or io.of(predicate).
using NamespacePredicate = std::function<bool(const std::string& name, const Value& auth)>;

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();  // stops the server
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The namespace with this name, created on first use. "/" exists from the start.
  Namespace& of(const std::string& name);
  // A parent for dynamic namespaces: every matching name becomes a child namespace that
  // shares the parent's middleware and connection handlers; broadcasting on the parent
  // reaches all children.
  Namespace& of(NamespacePredicate predicate);
  Namespace& of(const std::regex& pattern);

  // Main namespace shortcuts (io.on("connection"), io.use, io.to(...)...).
  void use(Middleware middleware) { of("/").use(std::move(middleware)); }
  void on_connection(std::function<void(Socket&)> handler) { of("/").on_connection(std::move(handler)); }
  BroadcastOperator to(std::string room) { return of("/").to(std::move(room)); }
  bool emit(std::string_view event, Args args = {}) { return of("/").emit(event, std::move(args)); }

  // Raw routes, registered before start(). Patterns are paths with ":name" segments
  // ("/api/items/:id"); a request body above `max_body` bytes gets 413, never a handler call.
  void route(std::string method, std::string pattern, HttpHandler handler, std::size_t max_body = 1'000'000);
  void sse(std::string path, std::function<void(const std::shared_ptr<SseStream>&)> on_open);
  void websocket(std::string path, WebSocketHandlers handlers);

  // Engine.IO-only mode: when set before start(), Socket.IO is bypassed.
  void set_engine_handlers(EngineHandlers handlers);
  // Refuse Engine.IO handshakes (HTTP 403, Engine.IO code 4 "Forbidden") when this returns
  // an error message; called with the handshake request's headers and query.
  void allow_request(std::function<std::optional<std::string>(const Handshake&)> check);

  // Starts listening; returns an error (port in use, bad certificate...) instead of throwing.
  Status start();
  // start() if needed, then block until stop() (from another thread or a signal handler
  // via request_stop()).
  Status run();
  void request_stop();  // async-signal-safe
  void stop();          // closes every session ("server shutting down") and joins threads
  int port() const;     // the bound port, after start()
  const ServerOptions& options() const;

  std::size_t connection_count() const;  // open Engine.IO sessions
  // After start(): connections it will hold at once (max_connections, or less when the
  // open-file limit is lower), and its event loop threads.
  std::size_t capacity() const;
  std::size_t io_threads() const;
  // With a Redis adapter: both Redis connections are up and every subscription is in place
  // (false while Redis is unreachable; the node then serves its own clients alone).
  bool cluster_connected() const;

  // Metrics (README, "Operating Chorus"). Counting costs the traffic no lock and no
  // allocation; these read it, any thread, at any time.
  // The text that options().metrics_path serves: Chorus's families (chorus_*), then those
  // added to metrics_registry().
  std::string metrics_text() const;
  // A registry for the application's own families (include <prometheus/registry.h> and
  // link prometheus-cpp-core): served at metrics_path with Chorus's. Names starting with
  // "chorus_" are Chorus's.
  std::shared_ptr<prometheus::Registry> metrics_registry() const;
  // Chorus's families as a prometheus-cpp Collectable, for a program that serves metrics its
  // own way (e.g. prometheus::Exposer::RegisterCollectable). It yields nothing once this
  // Server is destroyed.
  std::shared_ptr<prometheus::Collectable> metrics_collectable() const;

  ServerImpl& impl() { return *impl_; }

 private:
  std::unique_ptr<ServerImpl> impl_;
};

// The checks start() makes on a configuration before anything listens: an error names the
// option and the fix (e.g. cors_credentials with "*").
Status check_options(const ServerOptions& options);

// Makes SIGINT and SIGTERM call server.request_stop() (for programs that own the process).
void stop_on_signals(Server& server);

}  // namespace chorus
