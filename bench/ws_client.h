// The load generator's client side: many Socket.IO clients over raw WebSocket connections,
// driven by one epoll loop on one thread (non-blocking POSIX sockets, no client library).
//
// Each connection goes straight to the WebSocket transport (over TLS with set_tls: OpenSSL,
// non-blocking, no certificate check, a full handshake per connection):
//   GET /socket.io/?EIO=4&transport=websocket  -> 101, Sec-WebSocket-Accept checked
//   <- "0{...}" (Engine.IO OPEN)  -> "40"  <- "40{...}" (Socket.IO CONNECT): ready
// and answers Engine.IO pings ("2") with pongs ("3"). Frames sent are masked (RFC 6455 §5.3);
// Engine.IO / Socket.IO packets go through the Chorus core codecs.
//
// Thread-safety: none; one Driver and its connections belong to one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/socketio/packet.h"
#include "chorus/value.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace chorus::bench {

// CLOCK_MONOTONIC, nanoseconds.
std::int64_t now_ns();

enum class ConnState {
  kTcpConnecting,
  kTlsHandshake,
  kUpgrading,
  kEngineOpen,
  kNamespaceConnect,
  kReady,
  kClosing,
  kClosed
};

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;           // with TLS
  bool tls_want_write = false;  // the TLS handshake waits for the socket to be writable
  std::size_t id = 0;           // creation order
  std::size_t slot = 0;         // index in the driver's table
  int port = 0;                 // the server port it connected to
  ConnState state = ConnState::kTcpConnecting;
  std::string expected_accept;
  std::string in;
  std::size_t in_off = 0;
  std::string out;
  std::size_t out_off = 0;
  bool epollout = false;
  bool close_sent = false;
  std::string message;  // fragmented WebSocket message being reassembled
  int message_opcode = 0;
  socketio::Decoder decoder;
  std::uint64_t next_ack_id = 0;
  std::deque<std::pair<std::uint64_t, std::int64_t>> pending_acks;  // ack id, caller's stamp
  std::int64_t started_ns = 0;
  std::int64_t ready_ns = 0;
  std::int64_t closing_deadline_ns = 0;
  std::int64_t user = 0;  // free for the scenario
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual void on_ready(Conn&) {}
  virtual void on_event(Conn&, const std::string& /*event*/, const Value& /*args array*/) {}
  virtual void on_ack(Conn&, std::uint64_t /*id*/, std::int64_t /*stamp*/) {}
  // clean: the close this side asked for completed; otherwise an error or a server close.
  virtual void on_closed(Conn&, bool /*clean*/, const std::string& /*why*/) {}
};

struct DriverStats {
  std::uint64_t connect_failures = 0;
  std::uint64_t protocol_errors = 0;
  std::uint64_t unexpected_closes = 0;
  std::uint64_t pings_answered = 0;
  std::string last_error;
};

class Driver {
 public:
  Driver(std::string host, int port, Handler* handler);
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Starts a connection (to `port`, or to the driver's port when 0); the handler's on_ready
  // fires once the namespace is joined.
  Conn* open(int port = 0);
  // Sends "41" (namespace disconnect) and a WebSocket close (1000), then waits for the server
  // to end the TCP connection (at most 2 s) so that TIME_WAIT stays on the server side.
  void close(Conn& conn);
  // Drops the connection at once (no close handshake).
  void abort(Conn& conn, const std::string& why, bool error);

  // Emits `event` with `args`; with `ack`, asks for an acknowledgement and hands `stamp`
  // back in on_ack.
  bool emit(Conn& conn, std::string_view event, Array args, bool ack, std::int64_t stamp);
  // The same with the event array already in JSON (`["event",arg...]`): the hot senders
  // skip building and serialising a Value.
  bool emit_json(Conn& conn, std::string_view array_json, bool ack, std::int64_t stamp);

  // Runs the loop until `deadline_ns`, or until `done()` returns true (checked after each
  // batch of events). `tick`, when set, is called whenever its due time is reached and
  // returns the next due time (INT64_MAX: none); a due time before the deadline is always
  // served before the deadline returns.
  void run_until(std::int64_t deadline_ns, const std::function<bool()>& done = {});
  void set_ticker(std::function<std::int64_t(std::int64_t now)> tick, std::int64_t first_due_ns);
  void clear_ticker();

  // Connections that follow speak TLS (wss). Returns false (and says why in
  // stats().last_error) when OpenSSL cannot set up a client context.
  bool set_tls(bool on);
  // Connections that follow bind to these source addresses in turn (the kernel still picks
  // the port, per destination: IP_BIND_ADDRESS_NO_PORT), so that more connections than one
  // address has ephemeral ports can be open at once. Empty: no bind.
  void set_source_addresses(std::vector<std::string> addresses) { sources_ = std::move(addresses); }

  // Without the namespace CONNECT ("40"), a connection is ready at the Engine.IO OPEN
  // (isolates Engine.IO-level costs from Socket.IO ones).
  void set_engine_only(bool on) { engine_only_ = on; }

  std::size_t open_count() const { return open_count_; }
  std::size_t ready_count() const { return ready_count_; }
  const DriverStats& stats() const { return stats_; }

 private:
  void on_readable(Conn& conn);
  void on_writable(Conn& conn);
  void on_connected(Conn& conn);
  void start_upgrade(Conn& conn);
  void tls_handshake(Conn& conn);
  // send(2) / recv(2), or SSL_write / SSL_read: -1 with errno EAGAIN when the socket (or
  // TLS) must wait, 0 at the end of the stream.
  long io_send(Conn& conn, const char* data, std::size_t size);
  long io_recv(Conn& conn, char* data, std::size_t size);
  bool parse_upgrade(Conn& conn);
  void parse_frames(Conn& conn);
  void on_message(Conn& conn, int opcode, std::string_view payload);
  void on_engine_text(Conn& conn, std::string_view text);
  void on_socket_packet(Conn& conn, socketio::Packet& packet);
  void ack_received(Conn& conn, std::uint64_t id);
  void send_frame(Conn& conn, int opcode, std::string_view payload);
  void send_engine_text(Conn& conn, std::string_view text);
  void flush(Conn& conn);
  void update_epoll(Conn& conn);
  void finish(Conn& conn, bool clean, const std::string& why);
  void fail(Conn& conn, const std::string& why);
  void reap();
  void check_closing(std::int64_t now);

  std::string host_;
  int port_;
  Handler* handler_;
  int epfd_ = -1;
  std::uint64_t rng_;
  bool engine_only_ = false;
  SSL_CTX* tls_ = nullptr;
  std::vector<std::string> sources_;
  std::size_t next_source_ = 0;
  std::size_t next_id_ = 0;
  std::size_t open_count_ = 0;
  std::size_t ready_count_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;  // live connections (unordered)
  std::vector<std::unique_ptr<Conn>> dead_;   // closed in this batch, freed after it
  std::vector<Conn*> closing_;
  std::function<std::int64_t(std::int64_t)> tick_;
  std::int64_t tick_due_ = INT64_MAX;
  DriverStats stats_;
  std::vector<char> read_buf_;
};

}  // namespace chorus::bench
