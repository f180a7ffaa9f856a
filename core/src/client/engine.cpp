#include "chorus/client/engine.h"

#include <algorithm>

namespace chorus::client {

using engineio::Packet;
using engineio::PacketType;

Limits client_limits() {
  Limits l;
  l.max_payload = 10'000'000;
  return l;
}

namespace {

// RFC 3986 §2.3: everything but unreserved characters is percent-encoded.
void append_encoded(std::string_view text, std::string& out) {
  static const char kHex[] = "0123456789ABCDEF";
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

const char* error_name(Transport kind) {
  // The messages socket.io-client gives its TransportErrors.
  switch (kind) {
    case Transport::kWebSocket:
      return "websocket error";
    case Transport::kSse:
      return "sse error";
    case Transport::kPolling:
      return "xhr poll error";
  }
  return "transport error";
}

Action io(ActionType type, std::uint32_t transport) {
  Action a;
  a.type = type;
  a.transport = transport;
  return a;
}

}  // namespace

Engine::Engine(EngineOptions options, std::uint32_t first_transport_id)
    : options_(std::move(options)), next_id_(first_transport_id) {
  // A transport listed twice would only repeat a failure.
  std::vector<Transport> unique;
  for (Transport t : options_.transports) {
    if (std::find(unique.begin(), unique.end(), t) == unique.end()) unique.push_back(t);
  }
  options_.transports = std::move(unique);
}

bool Engine::owns(std::uint32_t transport) const {
  return (cur_ && cur_->id == transport) || (probe_ && probe_->id == transport) || (drain_ && drain_->id == transport);
}

std::optional<Transport> Engine::transport() const {
  if (!cur_) return std::nullopt;
  return cur_->kind;
}

bool Engine::writable() const {
  return state_ == State::kOpen && cur_ && cur_->open && !pausing_ &&
         (cur_->kind == Transport::kWebSocket || !cur_->post_in_flight);
}

std::optional<Action> Engine::next_action() {
  if (actions_.empty()) return std::nullopt;
  Action a = std::move(actions_.front());
  actions_.pop_front();
  return a;
}

std::uint64_t Engine::next_deadline() const {
  std::uint64_t d = kNever;
  if (state_ == State::kOpen || state_ == State::kClosing) d = ping_deadline_;
  if (drain_) d = std::min(d, drain_deadline_);
  return d;
}

std::string Engine::url(Transport kind, bool with_sid) {
  std::string u;
  bool ws = kind == Transport::kWebSocket;
  u += ws ? (options_.secure ? "wss://" : "ws://") : (options_.secure ? "https://" : "http://");
  u += options_.host;
  u += options_.path;
  u.push_back('?');
  if (!options_.query.empty()) {
    u += options_.query;
    u.push_back('&');
  }
  u += "EIO=4&transport=";
  u += engineio::to_string(kind);
  if (with_sid && !sid_.empty()) {
    u += "&sid=";
    append_encoded(sid_, u);
  }
  if (!ws && options_.timestamp_requests) {
    // Cache busting, as engine.io-client's "t": unique per request of this engine.
    u += "&t=" + std::to_string(stamp_++) + "-" + std::to_string(next_id_);
  }
  return u;
}

void Engine::open(std::uint64_t now_ms) {
  if (state_ != State::kIdle) return;
  state_ = State::kOpening;
  if (options_.transports.empty()) {
    emit([] {
      Action a;
      a.type = ActionType::kEngineError;
      a.reason = "no transport to try";
      return a;
    }());
    finish("transport error", "no transport to try");
    return;
  }
  start_transport(now_ms);
}

void Engine::start_transport(std::uint64_t /*now_ms*/) {
  Conn c;
  c.id = next_id_++;
  c.kind = options_.transports[transport_index_];
  cur_ = c;
  switch (c.kind) {
    case Transport::kWebSocket: {
      Action a = io(ActionType::kOpenWebSocket, c.id);
      a.kind = c.kind;
      a.url = url(c.kind, false);
      emit(std::move(a));
      break;
    }
    case Transport::kSse: {
      Action a = io(ActionType::kOpenEventSource, c.id);
      a.kind = c.kind;
      a.url = url(c.kind, false);
      emit(std::move(a));
      break;
    }
    case Transport::kPolling:
      // Engine.IO v4 "Transports": the handshake comes back on the first GET.
      cur_->open = true;
      issue_get(*cur_);
      break;
  }
}

void Engine::issue_get(Conn& conn) {
  conn.get_in_flight = true;
  Action a = io(ActionType::kHttpGet, conn.id);
  a.kind = conn.kind;
  a.url = url(conn.kind, true);
  emit(std::move(a));
}

void Engine::send(Packet packet, std::uint64_t /*now_ms*/) {
  if (state_ != State::kOpening && state_ != State::kOpen) return;
  write_buffer_.push_back(std::move(packet));
  flush();
}

void Engine::flush() {
  if ((state_ != State::kOpen && state_ != State::kClosing) || !cur_ || !cur_->open || pausing_ ||
      write_buffer_.empty()) {
    return;
  }
  if (cur_->kind == Transport::kWebSocket) {
    for (Packet& p : write_buffer_) {
      if (p.binary) {
        Action a = io(ActionType::kSendBinary, cur_->id);
        a.data = std::move(p.data);
        emit(std::move(a));
      } else {
        Action a = io(ActionType::kSendText, cur_->id);
        engineio::encode_text(p, a.data);
        emit(std::move(a));
      }
    }
    write_buffer_.clear();
    return;
  }
  if (cur_->post_in_flight) return;
  // Engine.IO v4 payload: packets joined by 0x1E, within the server's maxPayload (as
  // engine.io-client's getWritablePackets: always at least one packet).
  std::string body;
  std::size_t taken = 0;
  for (const Packet& p : write_buffer_) {
    std::string item = engineio::encode_text(p);
    std::size_t size = body.size() + (taken ? 1 : 0) + item.size();
    if (taken && size > handshake_.max_payload) break;
    if (taken) body.push_back(engineio::kRecordSeparator);
    body += item;
    ++taken;
  }
  write_buffer_.erase(write_buffer_.begin(), write_buffer_.begin() + static_cast<std::ptrdiff_t>(taken));
  cur_->post_in_flight = true;
  Action a = io(ActionType::kHttpPost, cur_->id);
  a.kind = cur_->kind;
  a.url = url(cur_->kind, true);
  a.data = std::move(body);
  emit(std::move(a));
}

void Engine::close(std::uint64_t /*now_ms*/) {
  switch (state_) {
    case State::kIdle:
      state_ = State::kClosed;
      return;
    case State::kOpening:
      finish("forced close", "");
      return;
    case State::kOpen:
      state_ = State::kClosing;
      if (probe_) {
        close_conn(*probe_);
        probe_.reset();
      }
      pausing_ = false;
      flush();
      finish_close_if_drained();
      return;
    case State::kClosing:
    case State::kClosed:
      return;
  }
}

void Engine::finish_close_if_drained() {
  if (state_ != State::kClosing || !cur_) return;
  if (cur_->kind != Transport::kWebSocket) {
    if (!write_buffer_.empty() || cur_->post_in_flight) return;
    // Engine.IO v4: an HTTP transport says goodbye with a CLOSE packet.
    Action a = io(ActionType::kHttpPost, cur_->id);
    a.kind = cur_->kind;
    a.url = url(cur_->kind, true);
    a.data = "1";
    emit(std::move(a));
  }
  finish("forced close", "");
}

void Engine::close_conn(const Conn& conn) {
  Action a = io(ActionType::kCloseTransport, conn.id);
  a.kind = conn.kind;
  emit(std::move(a));
}

void Engine::finish(std::string reason, std::string description) {
  if (state_ == State::kClosed) return;
  if (probe_) close_conn(*probe_);
  if (drain_) close_conn(*drain_);
  if (cur_) close_conn(*cur_);
  probe_.reset();
  drain_.reset();
  held_.clear();
  drain_deadline_ = kNever;
  cur_.reset();
  state_ = State::kClosed;
  pausing_ = false;
  ping_deadline_ = kNever;
  write_buffer_.clear();
  Action a;
  a.type = ActionType::kEngineClose;
  a.reason = std::move(reason);
  a.description = std::move(description);
  emit(std::move(a));
}

void Engine::fail(std::string message, std::string description, std::uint64_t now_ms) {
  if (state_ == State::kClosed || state_ == State::kIdle) return;
  if (state_ == State::kClosing) {
    finish("forced close", "");
    return;
  }
  if (state_ == State::kOpening && options_.try_all_transports && transport_index_ + 1 < options_.transports.size()) {
    // socket.io-client's tryAllTransports: the next transport in the configured order.
    if (cur_) close_conn(*cur_);
    cur_.reset();
    ++transport_index_;
    start_transport(now_ms);
    return;
  }
  Action a;
  a.type = ActionType::kEngineError;
  a.reason = message;
  a.description = description;
  emit(std::move(a));
  finish("transport error", description.empty() ? std::move(message) : std::move(description));
}

void Engine::on_transport_open(std::uint32_t transport, std::uint64_t /*now_ms*/) {
  if (state_ == State::kClosed) return;
  if (cur_ && cur_->id == transport) {
    cur_->open = true;  // the handshake (OPEN packet) comes next
    flush();
    return;
  }
  if (probe_ && probe_->id == transport && !probe_->open) {
    probe_->open = true;
    // Engine.IO v4 "Upgrade": the probe.
    Action a = io(ActionType::kSendText, probe_->id);
    a.data = "2probe";
    emit(std::move(a));
  }
}

void Engine::on_text(std::uint32_t transport, std::string_view text, std::uint64_t now_ms) {
  if (state_ == State::kClosed || state_ == State::kIdle) return;
  bool is_probe = probe_ && probe_->id == transport;
  bool is_drain = drain_ && drain_->id == transport;
  if (!is_probe && !is_drain && !(cur_ && cur_->id == transport)) return;
  if (is_probe) {
    auto p = engineio::decode_text(text);
    if (!p || text.size() > options_.limits.max_payload) {
      probe_failed("probe error");
      return;
    }
    handle_probe_packet(*p, now_ms);
    return;
  }
  if (text.size() > options_.limits.max_payload) {
    fail("payload too large",
         "message of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
             std::to_string(options_.limits.max_payload),
         now_ms);
    return;
  }
  auto p = engineio::decode_text(text);
  if (!p) {
    fail("parser error", p.error().message, now_ms);
    return;
  }
  if (is_drain) {
    handle_packet(*p, now_ms);
    return;
  }
  receive(*p, now_ms);
}

void Engine::receive(const Packet& packet, std::uint64_t now_ms) {
  // While an SSE stream drains, the WebSocket's packets come after everything on it.
  if (drain_) {
    held_.push_back(packet);
    return;
  }
  handle_packet(packet, now_ms);
}

void Engine::end_drain(std::uint64_t now_ms) {
  if (!drain_) return;
  close_conn(*drain_);
  drain_.reset();
  drain_deadline_ = kNever;
  std::vector<Packet> held = std::move(held_);
  held_.clear();
  for (const Packet& p : held) {
    if (state_ != State::kOpen) return;
    handle_packet(p, now_ms);
  }
}

void Engine::on_binary(std::uint32_t transport, std::string_view bytes, std::uint64_t now_ms) {
  if (state_ == State::kClosed || state_ == State::kIdle) return;
  if (probe_ && probe_->id == transport) {
    probe_failed("probe error");
    return;
  }
  if (!cur_ || cur_->id != transport) return;
  if (bytes.size() > options_.limits.max_payload) {
    fail("payload too large",
         "message of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
             std::to_string(options_.limits.max_payload),
         now_ms);
    return;
  }
  receive(engineio::decode_binary(bytes), now_ms);
}

void Engine::on_transport_close(std::uint32_t transport, bool error, std::string_view description,
                                std::uint64_t now_ms) {
  if (state_ == State::kClosed || state_ == State::kIdle) return;
  if (probe_ && probe_->id == transport) {
    probe_failed("probe error: transport closed");
    return;
  }
  if (drain_ && drain_->id == transport) {
    end_drain(now_ms);  // the server ended the old stream: the upgrade is complete
    return;
  }
  if (!cur_ || cur_->id != transport) return;
  if (state_ == State::kClosing) {
    finish("forced close", "");
    return;
  }
  if (error || state_ == State::kOpening) {
    fail(error_name(cur_->kind), std::string(description), now_ms);
    return;
  }
  finish("transport close", std::string(description));
}

void Engine::on_http_response(std::uint32_t transport, Http request, bool ok, std::string_view body,
                              std::uint64_t now_ms) {
  if (state_ == State::kClosed || state_ == State::kIdle || !cur_ || cur_->id != transport) return;
  if (request == Http::kPost) {
    if (!cur_->post_in_flight) return;
    cur_->post_in_flight = false;
    if (!ok) {
      fail("xhr post error", std::string(body), now_ms);
      return;
    }
    flush();
    check_pause(now_ms);
    finish_close_if_drained();
    return;
  }
  if (cur_->kind != Transport::kPolling || !cur_->get_in_flight) return;
  cur_->get_in_flight = false;
  if (!ok) {
    fail("xhr poll error", std::string(body), now_ms);
    return;
  }
  auto packets = engineio::decode_payload(body, options_.limits);
  if (!packets) {
    fail(packets.error().code == ErrorCode::kLimitExceeded ? "payload too large" : "parser error",
         packets.error().message, now_ms);
    return;
  }
  const std::uint32_t id = cur_->id;
  for (const Packet& p : *packets) {
    handle_packet(p, now_ms);
    if (!cur_ || cur_->id != id || state_ == State::kClosed) return;
  }
  if (state_ == State::kClosing) {
    finish_close_if_drained();
    return;
  }
  if (pausing_) {
    check_pause(now_ms);
    return;
  }
  // Once "2probe" is out, no new GET: the server released the held one for the upgrade, and
  // a GET sent now could be held until its next ping (a server need not release twice),
  // stalling the switch. Polling resumes if the probe fails.
  if (probe_ && probe_->open) return;
  if ((state_ == State::kOpen || state_ == State::kOpening) && cur_ && cur_->id == id && !cur_->get_in_flight) {
    issue_get(*cur_);
  }
}

void Engine::handle_packet(const Packet& packet, std::uint64_t now_ms) {
  if (state_ == State::kOpening) {
    if (packet.type != PacketType::kOpen || packet.binary) {
      fail("parser error", std::string("expected the OPEN packet, got ") + engineio::to_string(packet.type), now_ms);
      return;
    }
    handshake(packet.data, now_ms);
    return;
  }
  if (state_ != State::kOpen) return;  // closing: the Manager no longer listens
  if (packet.binary) {
    Action a;
    a.type = ActionType::kEngineMessage;
    a.data = packet.data;
    a.flag = true;
    emit(std::move(a));
    return;
  }
  switch (packet.type) {
    case PacketType::kPing:
      // Engine.IO v4 "Heartbeat": answer, and expect the next ping within
      // pingInterval + pingTimeout.
      ping_deadline_ = now_ms + handshake_.ping_interval_ms + handshake_.ping_timeout_ms;
      write_buffer_.push_back(Packet::text(PacketType::kPong, packet.data));
      flush();
      return;
    case PacketType::kMessage: {
      Action a;
      a.type = ActionType::kEngineMessage;
      a.data = packet.data;
      emit(std::move(a));
      return;
    }
    case PacketType::kClose:
      finish("transport close", "the server sent CLOSE");
      return;
    case PacketType::kNoop:
      return;
    case PacketType::kPong:
      return;  // v4 servers do not ping back; harmless
    case PacketType::kOpen:
    case PacketType::kUpgrade:
      fail("parser error", std::string("unexpected ") + engineio::to_string(packet.type) + " packet", now_ms);
      return;
  }
}

void Engine::handshake(std::string_view data, std::uint64_t now_ms) {
  auto h = engineio::parse_handshake(data, options_.limits);
  if (!h) {
    fail("parser error", "invalid handshake: " + h.error().message, now_ms);
    return;
  }
  handshake_ = std::move(h).value();
  if (handshake_.max_payload == 0) handshake_.max_payload = 1;
  sid_ = handshake_.sid;
  state_ = State::kOpen;
  ping_deadline_ = now_ms + handshake_.ping_interval_ms + handshake_.ping_timeout_ms;
  Action a;
  a.type = ActionType::kEngineOpen;
  a.sid = sid_;
  a.kind = cur_->kind;
  emit(std::move(a));
  flush();
  maybe_probe();
}

void Engine::maybe_probe() {
  if (!options_.upgrade || !cur_ || cur_->kind == Transport::kWebSocket || probe_) return;
  const auto& t = options_.transports;
  const auto& u = handshake_.upgrades;
  if (std::find(t.begin(), t.end(), Transport::kWebSocket) == t.end()) return;
  if (std::find(u.begin(), u.end(), "websocket") == u.end()) return;
  Conn c;
  c.id = next_id_++;
  c.kind = Transport::kWebSocket;
  probe_ = c;
  Action a = io(ActionType::kOpenWebSocket, c.id);
  a.kind = c.kind;
  a.url = url(c.kind, true);
  emit(std::move(a));
}

void Engine::handle_probe_packet(const Packet& packet, std::uint64_t now_ms) {
  if (!pausing_ && !packet.binary && packet.type == PacketType::kPong && packet.data == "probe") {
    pausing_ = true;
    check_pause(now_ms);
    return;
  }
  probe_failed("probe error");
}

void Engine::check_pause(std::uint64_t now_ms) {
  if (!pausing_ || !cur_ || !probe_ || state_ != State::kOpen) return;
  bool paused = !cur_->post_in_flight && !(cur_->kind == Transport::kPolling && cur_->get_in_flight);
  if (!paused) return;
  if (cur_->kind == Transport::kSse) {
    // The server may still write to the stream until it reads "5": drain it.
    drain_ = cur_;
    drain_deadline_ = now_ms + options_.sse_drain_timeout_ms;
  } else {
    close_conn(*cur_);
  }
  cur_ = probe_;
  probe_.reset();
  pausing_ = false;
  Action a = io(ActionType::kSendText, cur_->id);
  a.data = "5";
  emit(std::move(a));
  Action up;
  up.type = ActionType::kEngineUpgrade;
  up.kind = cur_->kind;
  emit(std::move(up));
  flush();
}

void Engine::probe_failed(std::string message) {
  if (!probe_) return;
  close_conn(*probe_);
  probe_.reset();
  bool was_pausing = pausing_;
  pausing_ = false;
  Action a;
  a.type = ActionType::kEngineUpgradeError;
  a.reason = std::move(message);
  emit(std::move(a));
  if (cur_ && state_ == State::kOpen) {
    if (cur_->kind == Transport::kPolling && !cur_->get_in_flight) issue_get(*cur_);
    if (was_pausing) flush();
  }
}

void Engine::on_timer(std::uint64_t now_ms) {
  if (state_ == State::kOpen && now_ms >= ping_deadline_) {
    finish("ping timeout", "");
    return;
  }
  if (state_ == State::kClosing && now_ms >= ping_deadline_) {
    // A close still waiting for a POST: give up on it once the server would have dropped us.
    finish("forced close", "");
    return;
  }
  if (drain_ && now_ms >= drain_deadline_) end_drain(now_ms);
}

}  // namespace chorus::client
