// One Engine.IO session on the server: its protocol state (core's engineio::ServerSession), its
// outbound queue with the per-connection bound, and the transports that carry it: polling
// requests on the front door, and its WebSocket, upgrade probe, SSE stream or held poll on an
// event loop.
//
// Threads: the session's state is under its mutex. Emits from any thread queue frames and ask
// the loop serving the current transport to write; the loop pulls from the queue in
// on_ws_fill / on_http_fill. Packets from the client are handled on the thread that read them
// (a loop for WebSocket frames, a CivetWeb worker for a polling POST).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chorus/engineio/outbox.h"
#include "front_door.h"

namespace chorus {

class EngineConnection final : public EngineLink,
                               public EngineSocket,
                               public WsConnection::Handler,
                               public HttpStreamConnection::Handler,
                               public std::enable_shared_from_this<EngineConnection> {
 public:
  EngineConnection(Civet* civet, std::string sid, Transport transport, std::shared_ptr<const SessionHandshake> hs,
                   const Limits& limits, std::vector<std::string> upgrades)
      : civet_(civet),
        sid_(sid),
        handshake_(std::move(hs)),
        session_(std::move(sid), transport, limits, now_ms(), std::move(upgrades)),
        outbox_(civet->server()->options.max_buffered_bytes) {}

  // EngineLink / EngineSocket
  const std::string& sid() const override { return sid_; }
  const std::string& id() const override { return sid_; }
  const std::shared_ptr<const SessionHandshake>& handshake() const override { return handshake_; }
  bool send(FramePtr frame) override;
  void send(std::string data, bool binary) override {
    send(binary ? [&] {
      auto f = std::make_shared<OutFrame>();
      f->bytes = data.size();
      f->parts.push_back(OutFrame::Part{true, std::move(data)});
      return FramePtr(f);
    }()
                : OutFrame::text("4" + data));
  }
  void close(const std::string& reason) override;
  void close_violation(const std::string& reason, const std::string& detail) override;
  void close() override { close("forced close"); }
  const char* transport() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return engineio::to_string(session_.transport());
  }

  void set_listener(std::shared_ptr<EngineListener> l) { listener_ = std::move(l); }
  // Ask the loops serving this session's connections to write (at most one request each
  // is outstanding, however many frames a broadcast adds meanwhile).
  void wake_locked() {
    if (ws_) ws_->request_flush();
    if (held_) held_->request_flush();
  }
  Packet open_packet() const {
    std::lock_guard<std::mutex> lock(mu_);
    return session_.open_packet();
  }

  // Transport entry points.
  void handle_poll(mg_connection* conn);
  void handle_post(mg_connection* conn);
  void handle_sse(mg_connection* conn);
  Status begin_upgrade(Transport to);
  void attach_ws(const std::shared_ptr<WsConnection>& ws, bool is_upgrade);
  // WsConnection::Handler (the session's WebSocket, or its upgrade probe; loop thread)
  void on_ws_message(WsConnection& ws, std::string_view data, bool binary) override;
  void on_ws_closed(WsConnection& ws, std::uint16_t code, const std::string& reason, bool error) override;
  void on_ws_fill(WsConnection& ws) override;
  // HttpStreamConnection::Handler (a held poll, or the SSE stream; loop thread)
  void on_http_fill(HttpStreamConnection& c) override;
  void on_http_closed(HttpStreamConnection& c, bool error) override;
  void on_timer();
  void schedule_timer_locked();
  void arm_heartbeat() {
    std::lock_guard<std::mutex> lock(mu_);
    schedule_timer_locked();
  }
  // Metrics: counts this session under its current transport and adds its queued bytes
  // (nothing once it has ended).
  void add_stats(std::array<std::size_t, Metrics::kTransports>& by_transport, std::size_t& queued_bytes) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    ++by_transport[static_cast<std::size_t>(session_.transport())];
    queued_bytes += outbox_.bytes();
  }
  bool polling_transport() const {
    std::lock_guard<std::mutex> lock(mu_);
    return session_.transport() == Transport::kPolling;
  }

 private:
  struct Deferred {  // work to do after releasing mu_
    std::vector<Packet> messages;
    std::vector<std::pair<std::shared_ptr<WsConnection>, Packet>> replies;
    std::shared_ptr<WsConnection> close_probe;
    bool closed = false;
    bool upgraded = false;
    std::string reason;
  };
  void apply_locked(const engineio::ServerSession::Output& out, const std::shared_ptr<WsConnection>& via, Deferred& d);
  bool finish_locked(const std::string& reason, Deferred& d);
  void run_deferred(Deferred& d);
  bool enqueue_locked(FramePtr frame, Deferred& d);
  // false: close this WebSocket (an abandoned probe).
  bool on_ws_packet(const std::shared_ptr<WsConnection>& ws, const Packet& packet);
  void on_ws_parse_error(const std::shared_ptr<WsConnection>& ws);
  std::string poll_body_locked();
  bool poll_ready_locked() const;
  void fill_sse_locked(HttpStreamConnection& c);
  Metrics& metrics() const { return civet_->server()->metrics; }
  std::shared_ptr<WsConnection> own(WsConnection& ws) const {  // ws_ or probe_, under mu_
    if (ws_.get() == &ws) return ws_;
    if (probe_.get() == &ws) return probe_;
    return nullptr;
  }

  Civet* civet_;
  const std::string sid_;
  const std::shared_ptr<const SessionHandshake> handshake_;
  std::shared_ptr<EngineListener> listener_;

  mutable std::mutex mu_;
  engineio::ServerSession session_;
  engineio::Outbox outbox_;  // bounded by ServerOptions::max_buffered_bytes
  bool release_poll_ = false;
  bool finished_ = false;
  bool server_closed_ = false;                  // closed by us: say goodbye on the transport
  std::shared_ptr<WsConnection> ws_;            // the session's WebSocket, once it uses one
  std::shared_ptr<WsConnection> probe_;         // a WebSocket probing an upgrade
  std::shared_ptr<HttpStreamConnection> held_;  // a held poll, or the SSE stream
  bool held_sse_ = false;
  std::string held_cors_;    // the held poll's CORS headers
  bool sse_paused_ = false;  // after the upgrade NOOP on SSE
  // The WebSocket Close sent after the last queued frame: 1000, or 1002 with a reason after
  // a protocol violation by the client.
  std::uint16_t ws_close_code_ = websocket::close_code::kNormal;
  std::string ws_close_reason_;
  TimerService::Id timer_ = 0;
  std::uint64_t timer_deadline_ = 0;
};

// Adapts the public EngineHandlers (Engine.IO-only mode) to EngineListener.
class EngineModeListener final : public EngineListener {
 public:
  EngineModeListener(EngineHandlers& h, std::weak_ptr<EngineConnection> socket) : h_(h), socket_(std::move(socket)) {}
  void on_message(const Packet& p) override {
    if (auto s = socket_.lock(); s && h_.on_message) h_.on_message(*s, p.data, p.binary);
  }
  void on_close(const std::string& reason) override {
    if (auto s = socket_.lock(); s && h_.on_close) h_.on_close(*s, reason);
  }

 private:
  EngineHandlers& h_;
  std::weak_ptr<EngineConnection> socket_;
};

}  // namespace chorus
