// EngineConnection (engine_connection.h).
#include "engine_connection.h"

#include "chorus/base64.h"

namespace chorus {

// ---------------------------------------------------------------------------------------
// EngineConnection

bool EngineConnection::enqueue_locked(FramePtr frame, Deferred& d) {
  if (finished_) return false;
  // A volatile frame goes only when the transport can take it at once: the WebSocket, an SSE
  // stream, or a poll waiting.
  const bool ready = session_.transport() == Transport::kWebSocket || session_.get_pending() || (held_ && held_sse_);
  const std::size_t before = outbox_.frames();
  const engineio::Outbox::Push pushed = outbox_.push(std::move(frame), ready);
  // Volatile frames the push shed to make room count as dropped too.
  const std::size_t kept = outbox_.frames() - (pushed == engineio::Outbox::Push::kQueued ? 1 : 0);
  metrics().dropped(DropReason::kVolatile, before - kept);
  switch (pushed) {
    case engineio::Outbox::Push::kQueued:
      wake_locked();
      return true;
    case engineio::Outbox::Push::kDropped:
      metrics().dropped(DropReason::kVolatile);
      return false;
    case engineio::Outbox::Push::kOverflow:
      metrics().dropped(DropReason::kQueueFull);
      log(LogLevel::kInfo, "session " + sid_ + ": outbound queue over " +
                               std::to_string(civet_->server()->options.max_buffered_bytes) +
                               " bytes, closing (client not reading)");
      finish_locked("transport error", d);
      return false;
  }
  return false;
}

bool EngineConnection::send(FramePtr frame) {
  Deferred d;
  bool ok;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ok = enqueue_locked(std::move(frame), d);
  }
  if (d.closed) {
    // The queue overflowed: the session ends ("transport error"), but not inside the caller's
    // emit. Its disconnect handlers run on the timer thread, so an application (or Chorus
    // itself) that emits while holding a lock its disconnect path takes cannot deadlock.
    auto self = shared_from_this();
    civet_->server()->timers.schedule_in(std::chrono::milliseconds(0),
                                         [self, d = std::move(d)]() mutable { self->run_deferred(d); });
    return ok;
  }
  run_deferred(d);
  return ok;
}

void EngineConnection::close(const std::string& reason) {
  Deferred d;
  {
    std::lock_guard<std::mutex> lock(mu_);
    server_closed_ = true;
    const bool shutdown = reason == "server shutting down";
    session_.close(shutdown ? engineio::CloseReason::kServerShuttingDown : engineio::CloseReason::kForcedClose);
    if (shutdown && !finished_) ws_close_code_ = websocket::close_code::kGoingAway;  // RFC 6455 §7.4.1
    finish_locked(reason, d);
  }
  run_deferred(d);
}

void EngineConnection::close_violation(const std::string& reason, const std::string& detail) {
  Deferred d;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!finished_) {
      ws_close_code_ = websocket::close_code::kProtocolError;
      ws_close_reason_ = detail;
    }
    server_closed_ = true;
    session_.close(engineio::CloseReason::kForcedClose);
    finish_locked(reason, d);
  }
  run_deferred(d);
}

bool EngineConnection::finish_locked(const std::string& reason, Deferred& d) {
  if (finished_) return false;
  finished_ = true;
  d.closed = true;
  d.reason = reason;
  if (probe_) d.close_probe = std::move(probe_);
  wake_locked();  // what is queued, then the Close (WebSocket) or CLOSE (poll, SSE)
  return true;
}

void EngineConnection::run_deferred(Deferred& d) {
  // Replies go on the WebSocket whose packet is being handled, on its loop thread.
  for (auto& [ws, packet] : d.replies) {
    std::string text = engineio::encode_text(packet);
    metrics().bytes_sent(text.size());
    ws->send_text_copy(std::move(text));
  }
  if (!d.replies.empty()) d.replies.front().first->request_flush();
  if (d.close_probe) d.close_probe->close_async(websocket::close_code::kNormal, "upgrade abandoned");
  if (d.upgraded && listener_) listener_->on_upgrade("websocket");
  if (!d.messages.empty() && listener_) {
    for (const Packet& p : d.messages) listener_->on_message(p);
  }
  if (d.closed) {
    civet_->server()->timers.cancel(timer_);
    civet_->remove(sid_);
    log(LogLevel::kDebug, "session " + sid_ + " closed: " + d.reason);
    if (listener_) listener_->on_close(d.reason);
  }
}

void EngineConnection::apply_locked(const engineio::ServerSession::Output& out,
                                    const std::shared_ptr<WsConnection>& via, Deferred& d) {
  for (const Packet& p : out.reply) {
    if (via) d.replies.emplace_back(via, p);
  }
  if (out.release_poll) {
    release_poll_ = true;
  }
  if (out.upgraded) {
    ws_ = std::move(probe_);
    release_poll_ = true;  // a poll still held must return now
    ws_->request_flush();  // what waited for the upgrade
    d.upgraded = true;
  }
  if (out.abandon_probe && probe_) d.close_probe = std::move(probe_);
  for (const Packet& p : out.messages) d.messages.push_back(p);
  if (out.closed) finish_locked(engineio::to_string(session_.close_reason()), d);
  if (held_) held_->request_flush();  // a released poll, an SSE stream paused or ended
  schedule_timer_locked();
}

void EngineConnection::schedule_timer_locked() {
  std::uint64_t deadline = session_.next_deadline();
  if (finished_ || deadline == timer_deadline_) return;
  if (timer_ != 0) civet_->server()->timers.cancel(timer_);
  timer_deadline_ = deadline;
  std::weak_ptr<EngineConnection> weak = weak_from_this();
  timer_ = civet_->server()->timers.schedule(deadline, [weak] {
    if (auto self = weak.lock()) self->on_timer();
  });
}

void EngineConnection::on_timer() {
  Deferred d;
  {
    std::lock_guard<std::mutex> lock(mu_);
    timer_ = 0;
    timer_deadline_ = 0;
    if (finished_) return;
    auto t = session_.on_timer(now_ms());
    if (t.send_ping) {
      outbox_.push_control(OutFrame::text("2"));  // heartbeat bypasses the volatile/stall rules
      wake_locked();
    }
    if (t.abandon_probe && probe_) d.close_probe = std::move(probe_);
    if (t.closed) finish_locked(engineio::to_string(session_.close_reason()), d);
    if (t.abandon_probe && held_) held_->request_flush();  // SSE goes on after a failed probe
    schedule_timer_locked();
  }
  run_deferred(d);
}

// The body of a poll answer: what is queued, CLOSE when the session ended, NOOP when there is
// nothing and the poll must return (upgrade, stop).
std::string EngineConnection::poll_body_locked() {
  release_poll_ = false;
  return outbox_.take_payload(finished_);
}

bool EngineConnection::poll_ready_locked() const {
  // During a confirmed upgrade no poll is held: the reference answers each with a NOOP
  // (every 100 ms) so the client can switch without waiting for a heartbeat.
  return !outbox_.empty() || release_poll_ || finished_ || civet_->stopping() || session_.probe_confirmed();
}

void EngineConnection::handle_poll(mg_connection* conn) {
  std::string body;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (finished_ || session_.transport() != Transport::kPolling) {
      // A finished session is leaving the table (its removal may not have run yet): to the
      // client it is gone, as in the reference.
      const int code = finished_ ? kUnknownSid : kBadRequest;
      lock.unlock();
      civet_->respond_error(conn, 400, code);
      return;
    }
    if (!session_.begin_get()) {
      // Engine.IO: one pending GET per session ("overlap from client").
      Deferred d;
      finish_locked("transport error", d);
      lock.unlock();
      run_deferred(d);
      civet_->respond_error(conn, 400, kBadRequest);
      return;
    }
    if (poll_ready_locked()) {
      body = poll_body_locked();  // answered here: the connection stays keep-alive
      metrics().bytes_sent(body.size());
      session_.end_get();
    }  // else held: an event loop answers it when something comes
  }
  if (!body.empty()) {
    civet_->respond(conn, 200, "text/plain; charset=UTF-8", body);
    return;
  }
  // A held poll's answer says `Connection: close` (README, "Long-polling"): the loop writes
  // one response and does not parse HTTP.
  std::string head_extra = civet_->cors_headers(conn);
  auto stream = civet_->take_over_stream(conn, shared_from_this());
  if (!stream) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      session_.end_get();
    }
    civet_->respond_error(conn, 400, kBadRequest, "a poll cannot carry a chunked body", true);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  held_ = std::move(stream);
  held_sse_ = false;
  held_cors_ = std::move(head_extra);
  held_->request_flush();  // something may have come meanwhile
}

void EngineConnection::on_http_fill(HttpStreamConnection& c) {
  std::lock_guard<std::mutex> lock(mu_);
  if (held_.get() != &c) return;
  if (held_sse_) {
    fill_sse_locked(c);
    return;
  }
  if (!poll_ready_locked()) return;
  std::string body = poll_body_locked();
  session_.end_get();
  metrics().bytes_sent(body.size());
  c.queue_copy("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n" +
               held_cors_ + "Connection: close\r\n\r\n" + body);
  c.close_after_flush();
  held_.reset();
}

void EngineConnection::on_http_closed(HttpStreamConnection& c, bool error) {
  Deferred d;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (held_.get() != &c) return;
    held_.reset();
    if (held_sse_) {
      // The SSE stream is the session's transport: its end ends the session.
      if (!finished_ && session_.transport() == Transport::kSse) {
        apply_locked(session_.on_transport_closed(Transport::kSse, error), nullptr, d);
        if (!finished_) finish_locked("transport close", d);
      }
    } else {
      // A held poll whose client closed the connection before the answer: the client is
      // gone (a closed tab), and the session ends as the reference's does ("poll connection
      // closed prematurely": "transport error").
      session_.end_get();
      if (!finished_ && session_.transport() == Transport::kPolling) {
        apply_locked(session_.on_transport_closed(Transport::kPolling, true), nullptr, d);
        if (!finished_) finish_locked("transport error", d);
      }
    }
  }
  run_deferred(d);
}

void EngineConnection::handle_post(mg_connection* conn) {
  {
    Deferred d;
    bool reject = false;
    int code = kBadRequest;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) {
        reject = true;  // leaving the table: gone, as for handle_poll
        code = kUnknownSid;
      } else if (session_.transport() == Transport::kWebSocket) {
        reject = true;  // after an upgrade the reference answers stale polling requests 400
      } else if (!session_.begin_post()) {
        finish_locked("transport error", d);  // "data request overlap from client"
        reject = true;
      }
    }
    if (reject) {
      run_deferred(d);
      civet_->respond_error(conn, 400, code);
      return;
    }
  }
  const std::size_t limit = civet_->limits().max_payload;
  const std::uint32_t timeout_ms = civet_->server()->options.body_timeout_ms;
  std::string body;
  const BodyRead read = read_request_body(conn, civet_->server()->timers, limit, timeout_ms, body);
  Deferred d;
  if (read != BodyRead::kComplete) {
    // Nothing of an incomplete body runs; the session ends as the reference's does when
    // its data request fails ("transport error").
    {
      std::lock_guard<std::mutex> lock(mu_);
      session_.end_post();
      finish_locked("transport error", d);
    }
    run_deferred(d);
    if (read == BodyRead::kTooLarge) {
      civet_->respond_error(conn, 413, kBadRequest, "Payload too large", true);
      discard_request_body(conn, civet_->server()->timers);  // so the close does not reset the answer
    } else if (read == BodyRead::kTimedOut) {
      civet_->respond_error(conn, 408, kBadRequest, body_timeout_message(timeout_ms), true);
    } else {
      mg_disable_connection_keep_alive(conn);  // the client is gone
    }
    return;
  }
  metrics().bytes_received(body.size());
  auto packets = engineio::decode_payload(body, civet_->limits());
  if (!packets) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      session_.end_post();
      session_.close(engineio::CloseReason::kParseError);
      finish_locked("parse error", d);
    }
    run_deferred(d);
    civet_->respond_error(conn, 400, kBadRequest, packets.error().message);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::uint64_t now = now_ms();
    const Transport via = session_.transport();  // polling, or SSE's upstream
    for (const Packet& p : *packets) {
      if (finished_) break;
      apply_locked(session_.on_packet(via, p, now), nullptr, d);
    }
    session_.end_post();
  }
  run_deferred(d);
  civet_->respond(conn, 200, "text/html", "ok");
}

void EngineConnection::handle_sse(mg_connection* conn) {
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
      "Cache-Control: no-cache, no-transform\r\nX-Accel-Buffering: no\r\n"
      "Connection: close\r\n" +
      civet_->cors_headers(conn) + "\r\n";
  // retry: a reconnection hint for generic clients; the Chorus SDK reconnects itself.
  head += "retry: 2000\n\n";
  const std::size_t events_at = head.size();
  engineio::append_sse_event(head, false, engineio::encode_text(open_packet()));
  metrics().bytes_sent(head.size() - events_at);
  auto stream = civet_->take_over_stream(conn, shared_from_this(), std::move(head), true);
  Deferred d;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stream) {
      held_ = std::move(stream);
      held_sse_ = true;
      held_->request_flush();
    } else if (!finished_) {
      finish_locked("transport error", d);
    }
  }
  run_deferred(d);
}

// SSE framing of what is queued (loop thread, under mu_). After the upgrade NOOP the stream
// pauses, as a poll would: packets wait for the WebSocket, unless the probe fails.
void EngineConnection::fill_sse_locked(HttpStreamConnection& c) {
  if (sse_paused_ && !session_.upgrading_to()) sse_paused_ = false;
  std::string out;
  if (!sse_paused_ || finished_) outbox_.take_sse(out, Connection::kHighWater);
  bool end = false;
  if (finished_) {
    if (outbox_.empty()) {
      engineio::append_sse_event(out, false, "1");  // CLOSE
      end = true;
    }
  } else if (session_.transport() != Transport::kSse || civet_->stopping()) {
    end = true;  // upgraded: the WebSocket carries the session now
  } else if (release_poll_) {
    release_poll_ = false;
    engineio::append_sse_event(out, false, "6");  // NOOP during an upgrade, as polling gets
    sse_paused_ = true;
  }
  if (!out.empty()) {
    metrics().bytes_sent(out.size());
    c.queue_copy(std::move(out));
  }
  if (end) {
    held_.reset();
    c.close_after_flush();
  }
}

Status EngineConnection::begin_upgrade(Transport to) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return make_error(ErrorCode::kProtocol, "session closed");
  Status s = session_.begin_upgrade(to, now_ms());
  if (s) schedule_timer_locked();
  return s;
}

void EngineConnection::attach_ws(const std::shared_ptr<WsConnection>& ws, bool is_upgrade) {
  std::lock_guard<std::mutex> lock(mu_);
  if (is_upgrade) {
    probe_ = ws;
  } else {
    ws_ = ws;
  }
}

void EngineConnection::on_ws_message(WsConnection& wsc, std::string_view data, bool binary) {
  std::shared_ptr<WsConnection> ws;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ws = own(wsc);
  }
  if (!ws) {
    wsc.send_close(websocket::close_code::kNormal, "session closed");  // an abandoned probe
    return;
  }
  metrics().bytes_received(data.size());
  Packet packet;
  if (!binary) {
    auto p = engineio::decode_text(data);
    if (!p) {
      ws->send_close(websocket::close_code::kProtocolError, "invalid Engine.IO packet");
      on_ws_parse_error(ws);
      return;
    }
    packet = std::move(p).value();
  } else {
    packet = engineio::decode_binary(data);
  }
  if (!on_ws_packet(ws, packet)) ws->send_close(websocket::close_code::kNormal, {});
}

bool EngineConnection::on_ws_packet(const std::shared_ptr<WsConnection>& ws, const Packet& packet) {
  Deferred d;
  bool keep = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) {
      // Whatever still arrives is dropped: the session's own Close follows what is queued.
      return ws == ws_;
    }
    if (ws != ws_ && ws != probe_) return false;  // an abandoned probe
    auto out = session_.on_packet(Transport::kWebSocket, packet, now_ms());
    if (out.abandon_probe) keep = false;
    if (out.closed && packet.type != engineio::PacketType::kClose && ws == ws_) {
      // PING, OPEN or UPGRADE from the client: an Engine.IO protocol violation.
      ws_close_code_ = websocket::close_code::kProtocolError;
      ws_close_reason_ = std::string("unexpected Engine.IO packet type ") +
                         static_cast<char>('0' + static_cast<int>(packet.type)) + " from a client";
    }
    apply_locked(out, ws, d);
    if (d.close_probe == ws) d.close_probe.reset();  // closed below
  }
  run_deferred(d);
  // The session's own WebSocket gets its Close from on_ws_fill, after what is queued.
  return keep || ws == ws_;
}

void EngineConnection::on_ws_closed(WsConnection& wsc, std::uint16_t, const std::string&, bool error) {
  Deferred d;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (probe_.get() == &wsc) {
      probe_.reset();
      apply_locked(session_.on_transport_closed(Transport::kWebSocket, error), nullptr, d);
    } else if (ws_.get() == &wsc) {
      apply_locked(session_.on_transport_closed(Transport::kWebSocket, error), nullptr, d);
      if (!finished_) finish_locked(error ? "transport error" : "transport close", d);
    }
  }
  run_deferred(d);
}

void EngineConnection::on_ws_fill(WsConnection& ws) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ws_.get() != &ws) return;  // a probe gets only its replies
  while (!outbox_.empty() && ws.want_more()) {
    FramePtr frame = outbox_.pop();
    metrics().bytes_sent(frame->bytes);
    for (const OutFrame::Part& part : frame->parts) {
      ws.send_frame(part.binary ? websocket::Opcode::kBinary : websocket::Opcode::kText, frame, part.data);
    }
  }
  if (finished_ && outbox_.empty()) ws.send_close(ws_close_code_, ws_close_reason_);
}

void EngineConnection::on_ws_parse_error(const std::shared_ptr<WsConnection>& ws) {
  Deferred d;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ws == probe_) {
      probe_.reset();
      apply_locked(session_.on_transport_closed(Transport::kWebSocket, true), nullptr, d);
    } else if (ws == ws_ && !finished_) {
      session_.close(engineio::CloseReason::kParseError);
      finish_locked("parse error", d);
    }
  }
  run_deferred(d);
}

}  // namespace chorus
