// A connection taken over from CivetWeb (mg_takeover_connection) and served by one
// EventLoop: non-blocking reads and writes, plain TCP or a TLS session, an outbound queue
// written with one writev() per loop iteration, and an orderly or abrupt close.
//
// Threads: everything here runs on the connection's loop thread except request_flush(),
// post() and the Source callbacks' callers (see below). Data from other threads does not go
// through this class: the owner (an Engine.IO session, a plain WebSocket, an SSE stream) keeps
// its own queue under its own lock, with its own bound, and fills this connection's outbound
// queue from it in fill() when the loop flushes. The loop pulls only while fewer than
// kHighWater bytes wait for the kernel, so a client that stops reading backs up into its
// owner's bounded queue (volatile packets dropped first, then the connection closed) and
// costs nobody else anything.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "chorus/util/ring_queue.h"
#include "chorus/websocket/frame_encoder.h"
#include "chorus/websocket/frame_parser.h"
#include "event_loop.h"

typedef struct ssl_st SSL;

namespace chorus {

class Connection : public LoopWatcher, public LoopFlushable, public std::enable_shared_from_this<Connection> {
 public:
  // One piece of outbound data: up to 10 header bytes of its own, then a view into bytes
  // kept alive by `owner` (shared by every recipient of a broadcast).
  struct Chunk {
    std::shared_ptr<const void> owner;
    std::string_view data;
    websocket::FrameHeader head;
  };
  // Pull more while fewer bytes than this wait for the kernel.
  static constexpr std::size_t kHighWater = 256 * 1024;

  Connection(EventLoop& loop, int fd, SSL* ssl, std::string peer);
  ~Connection() override;

  // Loop thread: registers the socket and handles `initial` (bytes CivetWeb read past the
  // request) as if just received. Called once, through EventLoop::post.
  void open(std::string initial);

  // Any thread: the loop calls fill() and writes at its next iteration.
  void request_flush();
  EventLoop& loop() { return loop_; }
  const std::string& peer() const { return peer_; }
  bool is_open() const { return state_ == State::kOpen; }
  bool tls() const { return ssl_ != nullptr; }

  // Loop thread.
  void queue(Chunk chunk);
  void queue_copy(std::string bytes);  // owns a copy
  std::size_t queued_bytes() const { return out_bytes_; }
  bool want_more() const { return out_bytes_ < kHighWater; }
  // Write what is queued, then end the connection: half-close and wait up to `linger_ms`
  // for the peer to close (its bytes are read and dropped), then close.
  void close_after_flush(std::uint32_t linger_ms = 2000);
  // Close at once; queued bytes are dropped.
  void close_now();

  // LoopWatcher, LoopFlushable
  void on_events(std::uint32_t events) override;
  void on_loop_stop() override;
  void flush() override;

 protected:
  // Loop thread. Bytes received (mutable: a WebSocket unmasks in place).
  virtual void on_bytes(char* data, std::size_t size) = 0;
  // The peer ended its side (EOF) or the connection failed (`error`: a reset, a TLS
  // failure, a write error). The connection closes right after.
  virtual void on_peer_gone(bool error) = 0;
  // Move the owner's queued data into this connection (queue()), while want_more().
  virtual void fill() {}
  // Once, when the connection is closed for good.
  virtual void on_closed() {}
  // Once, registered and ready (loop thread).
  virtual void on_open() {}
  bool closing() const { return state_ != State::kOpen; }

 private:
  enum class State : std::uint8_t { kOpen, kDraining, kLingering, kClosed };
  void read_ready();
  void write_ready();
  bool write_plain();
  bool write_tls();
  void after_write();
  void update_interest();
  void fail(bool error);

  EventLoop& loop_;
  int fd_;
  SSL* ssl_;
  std::string peer_;
  State state_ = State::kOpen;
  bool registered_ = false;
  bool in_write_ = false;       // inside write_ready()
  bool want_out_ = false;       // the kernel buffer was full: EPOLLOUT will tell
  bool tls_want_read_ = false;  // SSL_write wants the peer's bytes first
  std::atomic<bool> flush_requested_{false};
  RingQueue<Chunk> out_;
  std::size_t out_bytes_ = 0;
  std::size_t head_offset_ = 0;  // written bytes of out_.front() (its head, then its data)
  std::string tls_pending_;      // bytes handed to SSL_write that must be offered again
  std::uint32_t linger_ms_ = 0;
  EventLoop::TimerId linger_timer_ = 0;
  std::shared_ptr<Connection> self_;  // the loop's reference while registered
};

// A WebSocket after its handshake: RFC 6455 frames in (FrameParser: limits, unmasking,
// fragments, UTF-8) and out (frame_encoder.h), pings answered, the close handshake.
class WsConnection final : public Connection {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // Loop thread. A complete message (text already valid UTF-8).
    virtual void on_ws_message(WsConnection& ws, std::string_view data, bool binary) = 0;
    // Loop thread, once: the WebSocket ended. `code`: the peer's close code (1005 when it
    // gave none), ours when we failed it (1002, 1007, 1009), 1006 without a Close.
    // `error`: Chorus failed the connection (a frame broke the rules, a write failed).
    virtual void on_ws_closed(WsConnection& ws, std::uint16_t code, const std::string& reason, bool error) = 0;
    // Loop thread: queue outbound frames (send_text/send_binary/send_close) while want_more().
    virtual void on_ws_fill(WsConnection&) {}
  };

  WsConnection(EventLoop& loop, int fd, SSL* ssl, std::string peer, const Limits& limits,
               std::shared_ptr<Handler> handler);

  // Loop thread. `owner` keeps `payload` alive (a broadcast's shared frame).
  void send_frame(websocket::Opcode opcode, std::shared_ptr<const void> owner, std::string_view payload);
  void send_text_copy(std::string text);
  // Our Close (once): queued after what is queued; then we wait for the peer's Close.
  void send_close(std::uint16_t code, std::string_view reason);
  bool close_sent() const { return close_sent_; }

  // Any thread: send_close on the loop.
  void close_async(std::uint16_t code, std::string reason);
  // Before open(): who gets the messages (none: they are dropped).
  void set_handler(std::shared_ptr<Handler> handler) { handler_ = std::move(handler); }

 protected:
  void on_bytes(char* data, std::size_t size) override;
  void on_peer_gone(bool error) override;
  void fill() override;
  void on_closed() override;

 private:
  void report(std::uint16_t code, const std::string& reason, bool error);

  websocket::FrameParser parser_;
  std::shared_ptr<Handler> handler_;
  bool close_sent_ = false;
  bool reported_ = false;
};

// An HTTP response the loop streams or completes: an SSE stream, a held long-poll. Bytes from
// the client are not expected and are dropped (a pipelined request after a held poll: the
// response says `Connection: close`).
class HttpStreamConnection final : public Connection {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void on_http_fill(HttpStreamConnection&) = 0;                // loop thread, while want_more()
    virtual void on_http_closed(HttpStreamConnection&, bool error) = 0;  // loop thread, once
  };
  HttpStreamConnection(EventLoop& loop, int fd, SSL* ssl, std::string peer, std::shared_ptr<Handler> handler);
  // Before open(): write `text` every `interval_ms` (an SSE comment that keeps proxies from
  // dropping a quiet stream, and shows a vanished client).
  void set_keepalive(std::uint32_t interval_ms, std::string text) {
    keepalive_ms_ = interval_ms;
    keepalive_text_ = std::move(text);
  }

 protected:
  void on_open() override;
  void on_bytes(char*, std::size_t) override {}
  void on_peer_gone(bool error) override;
  void fill() override;
  void on_closed() override;

 private:
  void arm_keepalive();
  std::shared_ptr<Handler> handler_;
  bool reported_ = false;
  std::uint32_t keepalive_ms_ = 0;
  std::string keepalive_text_;
};

}  // namespace chorus
