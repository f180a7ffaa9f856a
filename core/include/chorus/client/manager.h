// Socket.IO v5 client: socket.io-client's Manager and its Sockets, without any I/O.
//
// One Manager holds one Engine.IO connection (client::Engine) at a time and multiplexes
// namespaces over it; each namespace is a socket, named by its namespace string. Behaviour
// follows socket.io-client 4.x:
//  - connecting: when the engine opens, every active socket sends CONNECT with its auth
//    (or asks the adapter for it: kAuthRequest) and, after a recovered session, {pid,
//    offset}; the server answers CONNECT {sid[, pid]} (kConnect) or CONNECT_ERROR
//    {message, data} (kConnectError; the socket becomes inactive);
//  - emits: while the socket is not connected they wait in a send buffer (volatile ones are
//    dropped unless the transport is writable); events received before CONNECT completes
//    are delivered after it;
//  - acks: an emit with a token gets an ack id; the reply is reported as kAck with the
//    token. With a timeout (per emit or SocketOptions::ack_timeout_ms) the reply must come
//    in time ("operation has timed out"); acks still waiting when the connection drops fail
//    with "socket has been disconnected" if they take an error (kAck.flag);
//  - retries (SocketOptions::retries > 0): emits go through a queue, one in flight at a
//    time, re-sent after a timeout or a reconnection until acked or retries + 1 tries;
//  - reconnection: after a connection loss (not after a client or server disconnect), with
//    Backoff(reconnection_delay_ms, reconnection_delay_max_ms, randomization_factor), at
//    most reconnection_attempts times; kReconnectAttempt / kReconnect / kReconnectError /
//    kReconnectFailed;
//  - disconnect reasons (kDisconnect): "io server disconnect", "io client disconnect",
//    "ping timeout", "transport close", "transport error", "parse error" (a Socket.IO
//    packet the core cannot decode), "forced close" (Manager::close()).
// Errors from the server's side never escape as anything but these actions.
//
// Thread-safety: none; one thread (or one JavaScript event loop) drives a Manager.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chorus/client/action.h"
#include "chorus/client/backoff.h"
#include "chorus/client/engine.h"
#include "chorus/socketio/packet.h"

namespace chorus::client {

struct SocketOptions {
  std::optional<Value> auth;   // CONNECT payload (an object), unless auth_callback
  bool auth_callback = false;  // ask the adapter (kAuthRequest) before each CONNECT
  std::uint32_t retries = 0;
  std::optional<std::uint32_t> ack_timeout_ms;
};

struct ManagerOptions {
  EngineOptions engine;
  bool reconnection = true;
  std::uint32_t reconnection_attempts = UINT32_MAX;  // UINT32_MAX: no limit (Infinity)
  std::uint32_t reconnection_delay_ms = 1'000;
  std::uint32_t reconnection_delay_max_ms = 5'000;
  double randomization_factor = 0.5;
  std::optional<std::uint32_t> timeout_ms = 20'000;  // engine open; nullopt: none
  std::function<double()> random;                    // [0, 1); default: fixed-seed xorshift
};

struct EmitOptions {
  std::uint64_t token = 0;                  // nonzero: report the reply as kAck(token)
  bool with_error = false;                  // the callback takes an error first
  std::optional<std::uint32_t> timeout_ms;  // socket.timeout(ms)
  bool is_volatile = false;
};

class Manager {
 public:
  enum class ReadyState : std::uint8_t { kClosed, kOpening, kOpen };

  explicit Manager(ManagerOptions options);

  // socket.io-client Manager.open(): no-op while opening or open.
  void open(std::uint64_t now_ms);
  // Manager.close() / disconnect(): no reconnection; active sockets get "forced close".
  void close(std::uint64_t now_ms);
  void set_reconnection(bool reconnection, std::uint32_t attempts, std::uint32_t delay_ms, std::uint32_t delay_max_ms,
                        double randomization_factor, std::optional<std::uint32_t> timeout_ms);

  // Registers namespace `nsp` (no-op if known). Namespaces start with '/'.
  void add_socket(const std::string& nsp, SocketOptions options);
  // Socket.connect(): subscribes the socket, opens the manager if needed.
  void connect(const std::string& nsp, std::uint64_t now_ms);
  // Socket.disconnect(): DISCONNECT if connected, unsubscribes; the last active socket
  // closes the manager.
  void disconnect(const std::string& nsp, std::uint64_t now_ms);
  // The answer to kAuthRequest; `auth` must be an object (anything else sends none).
  void provide_auth(const std::string& nsp, std::optional<Value> auth, std::uint64_t now_ms);
  // `args`: [event name, ...arguments]. Fails on an unknown namespace or an invalid event.
  Status emit(const std::string& nsp, Value args, const EmitOptions& options, std::uint64_t now_ms);
  // Replies to a server event that asked for an ack (kEvent with flag).
  Status ack(const std::string& nsp, std::uint64_t id, Value args, std::uint64_t now_ms);
  // Report outgoing events (kOutgoing) for onAnyOutgoing listeners.
  void set_notify_outgoing(const std::string& nsp, bool notify);

  // --- adapter events (see Engine) --------------------------------------------------------
  void on_transport_open(std::uint32_t transport, std::uint64_t now_ms);
  void on_text(std::uint32_t transport, std::string_view text, std::uint64_t now_ms);
  void on_binary(std::uint32_t transport, std::string_view bytes, std::uint64_t now_ms);
  void on_transport_close(std::uint32_t transport, bool error, std::string_view description, std::uint64_t now_ms);
  void on_http_response(std::uint32_t transport, Engine::Http request, bool ok, std::string_view body,
                        std::uint64_t now_ms);
  void on_timer(std::uint64_t now_ms);

  std::optional<Action> next_action();
  std::uint64_t next_deadline() const;

  ReadyState ready_state() const { return ready_; }
  bool reconnecting() const { return reconnecting_; }
  const Engine* engine() const { return engine_.get(); }
  bool connected(const std::string& nsp) const;
  bool active(const std::string& nsp) const;

 private:
  struct AckEntry {
    std::uint64_t token = 0;
    bool with_error = false;
    std::optional<std::uint64_t> queue_seq;  // a retries-queue packet
    std::uint64_t deadline = kNever;
  };
  struct Queued {
    std::uint64_t seq = 0;
    Value args;
    std::uint64_t token = 0;
    std::optional<std::uint32_t> timeout_ms;
    std::uint32_t tries = 0;
    bool pending = false;
  };
  struct SocketState {
    std::string nsp;
    SocketOptions options;
    bool active = false;
    bool connected = false;
    bool connect_sent = false;
    bool awaiting_auth = false;
    bool notify_outgoing = false;
    std::string id;
    std::optional<std::string> pid;  // connection state recovery
    std::optional<std::string> offset;
    std::uint64_t next_ack_id = 0;
    std::map<std::uint64_t, AckEntry> acks;
    std::vector<socketio::Packet> send_buffer;
    std::vector<socketio::Packet> receive_buffer;
    std::deque<Queued> queue;
    std::uint64_t queue_seq = 0;
  };

  SocketState* find(const std::string& nsp);
  const SocketState* find(const std::string& nsp) const;
  void open_engine(std::uint64_t now_ms, bool for_reconnect);
  void retire_engine(std::uint64_t now_ms);
  void pump(std::uint64_t now_ms);
  void update_timer(bool force);
  void handle_engine_event(Action action, std::uint64_t now_ms);
  void on_open(std::uint64_t now_ms);
  void open_failed(const std::string& message, const std::string& description, std::uint64_t now_ms);
  void on_close(const std::string& reason, const std::string& description, std::uint64_t now_ms);
  void reconnect(std::uint64_t now_ms);
  void on_packet(socketio::Packet packet, std::uint64_t now_ms);

  void socket_open(SocketState& s, std::uint64_t now_ms);
  void send_connect(SocketState& s, std::optional<Value> auth, std::uint64_t now_ms);
  void socket_connected(SocketState& s, std::string sid, std::optional<std::string> pid, std::uint64_t now_ms);
  void socket_closed(SocketState& s, const std::string& reason, const std::string& description);
  void destroy(SocketState& s, std::uint64_t now_ms);
  void deliver_event(SocketState& s, socketio::Packet packet);
  void emit_packet(SocketState& s, Value args, const EmitOptions& options, std::optional<std::uint64_t> queue_seq,
                   std::uint64_t now_ms);
  void send_packet(const socketio::Packet& packet, std::uint64_t now_ms);
  void notify_outgoing(SocketState& s, const socketio::Packet& packet);
  void ack_result(SocketState& s, const AckEntry& entry, const std::string& error, std::optional<Value> args,
                  std::uint64_t now_ms);
  void queue_result(SocketState& s, std::uint64_t seq, const std::string& error, std::optional<Value> args,
                    std::uint64_t now_ms);
  void drain_queue(SocketState& s, bool force, std::uint64_t now_ms);
  void clear_acks(SocketState& s, std::uint64_t now_ms);
  void push_ack(SocketState& s, std::uint64_t token, bool with_error, const std::string& error,
                std::optional<Value> args);
  void push(Action a) { actions_.push_back(std::move(a)); }
  double random();

  ManagerOptions options_;
  Backoff backoff_;
  ReadyState ready_ = ReadyState::kClosed;
  std::unique_ptr<Engine> engine_;
  std::vector<std::unique_ptr<Engine>> retiring_;
  std::uint32_t next_transport_id_ = 1;
  bool skip_reconnect_ = false;
  bool reconnecting_ = false;
  bool open_for_reconnect_ = false;
  std::uint64_t open_deadline_ = kNever;
  std::uint64_t reconnect_deadline_ = kNever;
  socketio::Decoder decoder_;
  Limits outgoing_limits_;
  std::vector<std::unique_ptr<SocketState>> sockets_;  // in creation order, as the reference
  std::deque<Action> actions_;
  std::uint64_t announced_deadline_ = kNever;
  std::uint64_t rng_state_ = 0x9E3779B97F4A7C15ull;
};

}  // namespace chorus::client
