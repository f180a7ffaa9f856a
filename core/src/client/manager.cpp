#include "chorus/client/manager.h"

#include <algorithm>
#include <cstdint>

#include "chorus/client/wire_value.h"

namespace chorus::client {

using socketio::Packet;
using socketio::PacketType;

namespace {

bool is_io(ActionType t) {
  return t >= ActionType::kOpenWebSocket && t <= ActionType::kSetTimer;
}

Limits unbounded_outgoing(const Limits& base) {
  // What the application emits is checked for depth, not size: the server's maxPayload
  // decides what it accepts.
  Limits l = base;
  l.max_payload = SIZE_MAX;
  return l;
}

Status check_event(const Value& args) {
  if (!args.is_array() || args.as_array().empty() || !args[0].is_string()) {
    return make_error(ErrorCode::kInvalidPacket, "an event needs a name");
  }
  if (socketio::is_reserved_event(args[0].as_string())) {
    return make_error(ErrorCode::kInvalidPacket, "\"" + args[0].as_string() + "\" is a reserved event name");
  }
  return Ok{};
}

}  // namespace

Manager::Manager(ManagerOptions options)
    : options_(std::move(options)),
      backoff_(options_.reconnection_delay_ms, options_.reconnection_delay_max_ms, options_.randomization_factor),
      decoder_(options_.engine.limits),
      outgoing_limits_(unbounded_outgoing(options_.engine.limits)) {}

double Manager::random() {
  if (options_.random) return options_.random();
  // xorshift64*: deterministic when no source is injected.
  rng_state_ ^= rng_state_ >> 12;
  rng_state_ ^= rng_state_ << 25;
  rng_state_ ^= rng_state_ >> 27;
  return static_cast<double>((rng_state_ * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

void Manager::set_reconnection(bool reconnection, std::uint32_t attempts, std::uint32_t delay_ms,
                               std::uint32_t delay_max_ms, double randomization_factor,
                               std::optional<std::uint32_t> timeout_ms) {
  options_.reconnection = reconnection;
  options_.reconnection_attempts = attempts;
  options_.reconnection_delay_ms = delay_ms;
  options_.reconnection_delay_max_ms = delay_max_ms;
  options_.randomization_factor = randomization_factor;
  options_.timeout_ms = timeout_ms;
  backoff_.set_min(delay_ms);
  backoff_.set_max(delay_max_ms);
  backoff_.set_jitter(randomization_factor);
}

Manager::SocketState* Manager::find(const std::string& nsp) {
  for (auto& s : sockets_) {
    if (s->nsp == nsp) return s.get();
  }
  return nullptr;
}

const Manager::SocketState* Manager::find(const std::string& nsp) const {
  for (const auto& s : sockets_) {
    if (s->nsp == nsp) return s.get();
  }
  return nullptr;
}

bool Manager::connected(const std::string& nsp) const {
  const SocketState* s = find(nsp);
  return s != nullptr && s->connected;
}

bool Manager::active(const std::string& nsp) const {
  const SocketState* s = find(nsp);
  return s != nullptr && s->active;
}

std::optional<Action> Manager::next_action() {
  if (actions_.empty()) return std::nullopt;
  Action a = std::move(actions_.front());
  actions_.pop_front();
  return a;
}

std::uint64_t Manager::next_deadline() const {
  std::uint64_t d = std::min(open_deadline_, reconnect_deadline_);
  if (engine_) d = std::min(d, engine_->next_deadline());
  for (const auto& e : retiring_) d = std::min(d, e->next_deadline());
  for (const auto& s : sockets_) {
    for (const auto& [id, ack] : s->acks) d = std::min(d, ack.deadline);
  }
  return d;
}

void Manager::update_timer(bool force) {
  std::uint64_t d = next_deadline();
  if (d == announced_deadline_ && !force) return;
  announced_deadline_ = d;
  Action a;
  a.type = ActionType::kSetTimer;
  a.number = d;
  push(std::move(a));
}

// --- engine lifecycle ------------------------------------------------------------------

void Manager::open(std::uint64_t now_ms) {
  open_engine(now_ms, false);
  pump(now_ms);
  update_timer(false);
}

void Manager::open_engine(std::uint64_t now_ms, bool for_reconnect) {
  if (ready_ != ReadyState::kClosed) return;
  engine_ = std::make_unique<Engine>(options_.engine, next_transport_id_);
  next_transport_id_ += static_cast<std::uint32_t>(options_.engine.transports.size()) + 2;
  ready_ = ReadyState::kOpening;
  skip_reconnect_ = false;
  open_for_reconnect_ = for_reconnect;
  decoder_.reset();
  open_deadline_ = options_.timeout_ms ? now_ms + *options_.timeout_ms : kNever;
  engine_->open(now_ms);
}

void Manager::retire_engine(std::uint64_t now_ms) {
  // socket.io-client's cleanup(): stop listening; the engine finishes closing on its own
  // (a polling CLOSE may still be owed to the server).
  decoder_.reset();
  open_deadline_ = kNever;
  if (!engine_) return;
  engine_->close(now_ms);
  retiring_.push_back(std::move(engine_));
}

void Manager::pump(std::uint64_t now_ms) {
  bool progress = true;
  while (progress) {
    progress = false;
    while (engine_) {
      auto a = engine_->next_action();
      if (!a) break;
      progress = true;
      if (is_io(a->type)) {
        push(std::move(*a));
      } else {
        handle_engine_event(std::move(*a), now_ms);
      }
    }
    for (auto& e : retiring_) {
      while (auto a = e->next_action()) {
        progress = true;
        if (is_io(a->type)) push(std::move(*a));
      }
    }
  }
  retiring_.erase(std::remove_if(retiring_.begin(), retiring_.end(), [](const auto& e) { return e->finished(); }),
                  retiring_.end());
}

void Manager::handle_engine_event(Action a, std::uint64_t now_ms) {
  switch (a.type) {
    case ActionType::kEngineOpen:
      if (ready_ == ReadyState::kOpening) {
        push(a);
        on_open(now_ms);
      }
      return;
    case ActionType::kEngineUpgrade:
    case ActionType::kEngineUpgradeError:
      push(std::move(a));
      return;
    case ActionType::kEngineMessage: {
      if (ready_ != ReadyState::kOpen) return;
      auto r = a.flag ? decoder_.feed_binary(a.data) : decoder_.feed_text(a.data);
      if (!r) {
        on_close("parse error", r.error().message, now_ms);
        return;
      }
      if (*r) on_packet(std::move(**r), now_ms);
      return;
    }
    case ActionType::kEngineError:
      if (ready_ == ReadyState::kOpening) {
        open_failed(a.reason, a.description, now_ms);
      } else if (ready_ == ReadyState::kOpen) {
        Action e;
        e.type = ActionType::kManagerError;
        e.reason = a.reason;
        e.description = a.description;
        push(std::move(e));
        for (auto& s : sockets_) {
          if (s->active && !s->connected) {
            Action ce;
            ce.type = ActionType::kConnectError;
            ce.nsp = s->nsp;
            ce.reason = a.reason;
            ce.description = a.description;
            ce.flag = true;
            push(std::move(ce));
          }
        }
      }
      return;
    case ActionType::kEngineClose:
      if (ready_ == ReadyState::kOpen) {
        on_close(a.reason, a.description, now_ms);
      } else if (ready_ == ReadyState::kOpening) {
        open_failed(a.reason, a.description, now_ms);
      }
      return;
    default:
      return;
  }
}

void Manager::on_open(std::uint64_t now_ms) {
  open_deadline_ = kNever;
  ready_ = ReadyState::kOpen;
  decoder_.reset();
  Action a;
  a.type = ActionType::kManagerOpen;
  push(std::move(a));
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    if (sockets_[i]->active) socket_open(*sockets_[i], now_ms);
  }
  if (open_for_reconnect_) {
    open_for_reconnect_ = false;
    Action r;
    r.type = ActionType::kReconnect;
    r.number = backoff_.attempts();
    reconnecting_ = false;
    backoff_.reset();
    push(std::move(r));
  }
}

void Manager::open_failed(const std::string& message, const std::string& description, std::uint64_t now_ms) {
  retire_engine(now_ms);
  ready_ = ReadyState::kClosed;
  Action e;
  e.type = ActionType::kManagerError;
  e.reason = message;
  e.description = description;
  push(e);
  for (auto& s : sockets_) {
    if (s->active && !s->connected) {
      Action ce;
      ce.type = ActionType::kConnectError;
      ce.nsp = s->nsp;
      ce.reason = message;
      ce.description = description;
      ce.flag = true;
      push(std::move(ce));
    }
  }
  if (open_for_reconnect_) {
    open_for_reconnect_ = false;
    reconnecting_ = false;
    reconnect(now_ms);
    e.type = ActionType::kReconnectError;
    push(std::move(e));
  } else if (!reconnecting_ && options_.reconnection && backoff_.attempts() == 0) {
    reconnect(now_ms);  // socket.io-client's maybeReconnectOnOpen()
  }
}

void Manager::on_close(const std::string& reason, const std::string& description, std::uint64_t now_ms) {
  retire_engine(now_ms);
  backoff_.reset();
  ready_ = ReadyState::kClosed;
  Action a;
  a.type = ActionType::kManagerClose;
  a.reason = reason;
  a.description = description;
  push(std::move(a));
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    if (sockets_[i]->active) socket_closed(*sockets_[i], reason, description);
  }
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    if (sockets_[i]->active) clear_acks(*sockets_[i], now_ms);
  }
  if (options_.reconnection && !skip_reconnect_) reconnect(now_ms);
}

void Manager::reconnect(std::uint64_t now_ms) {
  if (reconnecting_ || skip_reconnect_) return;
  if (backoff_.attempts() >= options_.reconnection_attempts) {
    backoff_.reset();
    reconnecting_ = false;
    Action a;
    a.type = ActionType::kReconnectFailed;
    push(std::move(a));
    return;
  }
  std::uint32_t delay = backoff_.duration(random());
  reconnecting_ = true;
  reconnect_deadline_ = now_ms + delay;
}

void Manager::close(std::uint64_t now_ms) {
  // socket.io-client's _close().
  skip_reconnect_ = true;
  reconnecting_ = false;
  reconnect_deadline_ = kNever;
  on_close("forced close", "", now_ms);
  pump(now_ms);
  update_timer(false);
}

void Manager::on_timer(std::uint64_t now_ms) {
  for (auto& e : retiring_) e->on_timer(now_ms);
  if (engine_) engine_->on_timer(now_ms);
  pump(now_ms);
  if (ready_ == ReadyState::kOpening && now_ms >= open_deadline_) {
    open_failed("timeout", "", now_ms);
  }
  if (now_ms >= reconnect_deadline_) {
    reconnect_deadline_ = kNever;
    if (!skip_reconnect_) {
      Action a;
      a.type = ActionType::kReconnectAttempt;
      a.number = backoff_.attempts();
      push(std::move(a));
      open_engine(now_ms, true);
    }
  }
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    SocketState& s = *sockets_[i];
    std::vector<std::uint64_t> expired;
    for (const auto& [id, ack] : s.acks) {
      if (now_ms >= ack.deadline) expired.push_back(id);
    }
    std::sort(expired.begin(), expired.end(),
              [&s](std::uint64_t a, std::uint64_t b) { return s.acks[a].deadline < s.acks[b].deadline; });
    for (std::uint64_t id : expired) {
      auto it = s.acks.find(id);
      if (it == s.acks.end()) continue;
      AckEntry entry = it->second;
      s.acks.erase(it);
      // The packet never left: forget it too (socket.io-client removes it from sendBuffer).
      s.send_buffer.erase(
          std::remove_if(s.send_buffer.begin(), s.send_buffer.end(), [id](const Packet& p) { return p.id == id; }),
          s.send_buffer.end());
      ack_result(s, entry, "operation has timed out", std::nullopt, now_ms);
    }
  }
  pump(now_ms);
  update_timer(true);
}

// --- transport events --------------------------------------------------------------------

namespace {
template <class F>
void route(std::unique_ptr<Engine>& current, std::vector<std::unique_ptr<Engine>>& retiring, std::uint32_t id, F f) {
  if (current && current->owns(id)) {
    f(*current);
    return;
  }
  for (auto& e : retiring) {
    if (e->owns(id)) {
      f(*e);
      return;
    }
  }
}
}  // namespace

void Manager::on_transport_open(std::uint32_t transport, std::uint64_t now_ms) {
  route(engine_, retiring_, transport, [&](Engine& e) { e.on_transport_open(transport, now_ms); });
  pump(now_ms);
  update_timer(false);
}

void Manager::on_text(std::uint32_t transport, std::string_view text, std::uint64_t now_ms) {
  route(engine_, retiring_, transport, [&](Engine& e) { e.on_text(transport, text, now_ms); });
  pump(now_ms);
  update_timer(false);
}

void Manager::on_binary(std::uint32_t transport, std::string_view bytes, std::uint64_t now_ms) {
  route(engine_, retiring_, transport, [&](Engine& e) { e.on_binary(transport, bytes, now_ms); });
  pump(now_ms);
  update_timer(false);
}

void Manager::on_transport_close(std::uint32_t transport, bool error, std::string_view description,
                                 std::uint64_t now_ms) {
  route(engine_, retiring_, transport, [&](Engine& e) { e.on_transport_close(transport, error, description, now_ms); });
  pump(now_ms);
  update_timer(false);
}

void Manager::on_http_response(std::uint32_t transport, Engine::Http request, bool ok, std::string_view body,
                               std::uint64_t now_ms) {
  route(engine_, retiring_, transport, [&](Engine& e) { e.on_http_response(transport, request, ok, body, now_ms); });
  pump(now_ms);
  update_timer(false);
}

// --- sockets -----------------------------------------------------------------------------

void Manager::add_socket(const std::string& nsp, SocketOptions options) {
  if (find(nsp) != nullptr) return;
  auto s = std::make_unique<SocketState>();
  s->nsp = nsp;
  s->options = std::move(options);
  sockets_.push_back(std::move(s));
}

void Manager::set_notify_outgoing(const std::string& nsp, bool notify) {
  if (SocketState* s = find(nsp)) s->notify_outgoing = notify;
}

void Manager::connect(const std::string& nsp, std::uint64_t now_ms) {
  SocketState* s = find(nsp);
  if (s == nullptr) {
    add_socket(nsp, SocketOptions{});
    s = find(nsp);
  }
  if (s->connected) return;
  s->active = true;
  if (!reconnecting_) open_engine(now_ms, false);
  if (ready_ == ReadyState::kOpen) socket_open(*s, now_ms);
  pump(now_ms);
  update_timer(false);
}

void Manager::socket_open(SocketState& s, std::uint64_t now_ms) {
  // One CONNECT per engine connection (socket.io-client would send another on a second
  // connect() call while waiting; the server answers only one).
  if (s.connect_sent || s.awaiting_auth) return;
  if (s.options.auth_callback) {
    s.awaiting_auth = true;
    Action a;
    a.type = ActionType::kAuthRequest;
    a.nsp = s.nsp;
    push(std::move(a));
    return;
  }
  send_connect(s, s.options.auth, now_ms);
}

void Manager::provide_auth(const std::string& nsp, std::optional<Value> auth, std::uint64_t now_ms) {
  SocketState* s = find(nsp);
  if (s == nullptr || !s->awaiting_auth) return;
  s->awaiting_auth = false;
  if (!s->active || ready_ != ReadyState::kOpen) return;
  send_connect(*s, std::move(auth), now_ms);
  pump(now_ms);
  update_timer(false);
}

void Manager::send_connect(SocketState& s, std::optional<Value> auth, std::uint64_t now_ms) {
  Packet p;
  p.type = PacketType::kConnect;
  p.nsp = s.nsp;
  if (auth && !auth->is_object()) auth.reset();
  if (s.pid) {
    // Connection state recovery: {pid, offset, ...auth}.
    Value data = Value::object({{"pid", *s.pid}, {"offset", s.offset ? Value(*s.offset) : Value()}});
    if (auth) {
      for (Member& m : auth->as_object()) data.set(m.key, std::move(m.value));
    }
    p.data = std::move(data);
  } else {
    p.data = std::move(auth);
  }
  s.connect_sent = true;
  send_packet(p, now_ms);
}

void Manager::disconnect(const std::string& nsp, std::uint64_t now_ms) {
  SocketState* s = find(nsp);
  if (s == nullptr) return;
  bool was_connected = s->connected;
  if (was_connected) {
    Packet p;
    p.type = PacketType::kDisconnect;
    p.nsp = nsp;
    send_packet(p, now_ms);
  }
  destroy(*s, now_ms);
  if (was_connected) {
    socket_closed(*s, "io client disconnect", "");
    clear_acks(*s, now_ms);
  }
  pump(now_ms);
  update_timer(false);
}

void Manager::destroy(SocketState& s, std::uint64_t now_ms) {
  s.active = false;
  s.awaiting_auth = false;
  for (const auto& other : sockets_) {
    if (other->active) return;
  }
  close(now_ms);  // the last active socket closes the manager (socket.io-client _destroy)
}

void Manager::socket_closed(SocketState& s, const std::string& reason, const std::string& description) {
  s.connected = false;
  s.connect_sent = false;
  s.awaiting_auth = false;
  s.id.clear();
  Action a;
  a.type = ActionType::kDisconnect;
  a.nsp = s.nsp;
  a.reason = reason;
  a.description = description;
  push(std::move(a));
}

void Manager::clear_acks(SocketState& s, std::uint64_t now_ms) {
  if (s.connected) return;
  std::vector<std::uint64_t> ids;
  for (const auto& [id, ack] : s.acks) {
    bool buffered =
        std::any_of(s.send_buffer.begin(), s.send_buffer.end(), [id = id](const Packet& p) { return p.id == id; });
    if (!buffered) ids.push_back(id);
  }
  for (std::uint64_t id : ids) {
    auto it = s.acks.find(id);
    if (it == s.acks.end()) continue;
    AckEntry entry = it->second;
    s.acks.erase(it);
    if (entry.with_error) ack_result(s, entry, "socket has been disconnected", std::nullopt, now_ms);
  }
}

void Manager::socket_connected(SocketState& s, std::string sid, std::optional<std::string> pid, std::uint64_t now_ms) {
  s.id = std::move(sid);
  bool recovered = pid && s.pid && *pid == *s.pid;
  s.pid = std::move(pid);
  s.connected = true;
  s.connect_sent = false;
  // socket.io-client's emitBuffered(): received events first, then the send buffer.
  std::vector<Packet> received = std::move(s.receive_buffer);
  s.receive_buffer.clear();
  for (Packet& p : received) deliver_event(s, std::move(p));
  std::vector<Packet> buffered = std::move(s.send_buffer);
  s.send_buffer.clear();
  for (const Packet& p : buffered) {
    notify_outgoing(s, p);
    send_packet(p, now_ms);
  }
  Action a;
  a.type = ActionType::kConnect;
  a.nsp = s.nsp;
  a.sid = s.id;
  a.flag = recovered;
  push(std::move(a));
  drain_queue(s, true, now_ms);
}

void Manager::on_packet(Packet packet, std::uint64_t now_ms) {
  SocketState* found = find(packet.nsp);
  if (found == nullptr || !found->active) return;
  SocketState& s = *found;
  switch (packet.type) {
    case PacketType::kConnect: {
      const Value* sid = packet.data ? packet.data->find("sid") : nullptr;
      if (sid != nullptr && sid->is_string() && !sid->as_string().empty()) {
        const Value* pid = packet.data->find("pid");
        std::optional<std::string> p;
        if (pid != nullptr && pid->is_string()) p = pid->as_string();
        socket_connected(s, sid->as_string(), std::move(p), now_ms);
      } else {
        Action a;
        a.type = ActionType::kConnectError;
        a.nsp = s.nsp;
        a.reason =
            "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, but they are not "
            "compatible (more information here: https://socket.io/docs/v3/migrating-from-2-x-to-3-0/)";
        push(std::move(a));
      }
      return;
    }
    case PacketType::kEvent:
    case PacketType::kBinaryEvent:
      if (s.connected) {
        deliver_event(s, std::move(packet));
      } else {
        s.receive_buffer.push_back(std::move(packet));
      }
      return;
    case PacketType::kAck:
    case PacketType::kBinaryAck: {
      if (!packet.id) return;
      auto it = s.acks.find(*packet.id);
      if (it == s.acks.end()) return;
      AckEntry entry = it->second;
      s.acks.erase(it);
      ack_result(s, entry, "", std::move(packet.data), now_ms);
      return;
    }
    case PacketType::kDisconnect:
      destroy(s, now_ms);
      socket_closed(s, "io server disconnect", "");
      clear_acks(s, now_ms);
      return;
    case PacketType::kConnectError: {
      destroy(s, now_ms);
      Action a;
      a.type = ActionType::kConnectError;
      a.nsp = s.nsp;
      if (packet.data && packet.data->is_string()) {
        a.reason = packet.data->as_string();
      } else if (packet.data) {
        const Value* message = packet.data->find("message");
        a.reason = message != nullptr && message->is_string() ? message->as_string() : "connection refused";
        if (Value* data = packet.data->find("data")) {
          std::vector<Binary> ignored;
          Status st = to_wire(std::move(*data), a.data, ignored, outgoing_limits_);
          if (!st) a.data.clear();
        }
      } else {
        a.reason = "connection refused";
      }
      push(std::move(a));
      return;
    }
  }
}

void Manager::deliver_event(SocketState& s, Packet packet) {
  if (!packet.data) return;
  // Connection state recovery: the server puts the offset last (socket.io-client's
  // emitEvent keeps the last string argument).
  if (s.pid && !packet.id && packet.data->is_array() && packet.data->size() > 1 &&
      packet.data->as_array().back().is_string()) {
    s.offset = packet.data->as_array().back().as_string();
  }
  Action a;
  a.type = ActionType::kEvent;
  a.nsp = s.nsp;
  a.flag = packet.id.has_value();
  a.number = packet.id.value_or(0);
  Status st = to_wire(std::move(*packet.data), a.data, a.binaries, outgoing_limits_);
  if (!st) return;
  push(std::move(a));
}

Status Manager::emit(const std::string& nsp, Value args, const EmitOptions& options, std::uint64_t now_ms) {
  SocketState* s = find(nsp);
  if (s == nullptr) return make_error(ErrorCode::kProtocol, "unknown namespace " + nsp);
  Status valid = check_event(args);
  if (!valid) return valid;
  if (s->options.retries > 0 && !options.is_volatile) {
    Queued q;
    q.seq = s->queue_seq++;
    q.args = std::move(args);
    q.token = options.token;
    q.timeout_ms = options.timeout_ms;
    s->queue.push_back(std::move(q));
    drain_queue(*s, false, now_ms);
  } else {
    emit_packet(*s, std::move(args), options, std::nullopt, now_ms);
  }
  pump(now_ms);
  update_timer(false);
  return Ok{};
}

void Manager::emit_packet(SocketState& s, Value args, const EmitOptions& options,
                          std::optional<std::uint64_t> queue_seq, std::uint64_t now_ms) {
  Packet p;
  p.type = PacketType::kEvent;
  p.nsp = s.nsp;
  p.data = std::move(args);
  if (options.token != 0 || queue_seq) {
    std::uint64_t id = s.next_ack_id++;
    std::optional<std::uint32_t> timeout = options.timeout_ms ? options.timeout_ms : s.options.ack_timeout_ms;
    AckEntry entry;
    entry.token = options.token;
    entry.queue_seq = queue_seq;
    entry.with_error = options.with_error || timeout.has_value() || s.options.retries > 0;
    entry.deadline = timeout ? now_ms + *timeout : kNever;
    s.acks[id] = entry;
    p.id = id;
  }
  bool writable = engine_ && ready_ == ReadyState::kOpen && engine_->writable();
  bool connected = s.connected && !(engine_ && engine_->ping_expired(now_ms));
  if (options.is_volatile && !writable) return;  // volatile: dropped unless it can go now
  if (connected) {
    notify_outgoing(s, p);
    send_packet(p, now_ms);
  } else {
    s.send_buffer.push_back(std::move(p));
  }
}

void Manager::drain_queue(SocketState& s, bool force, std::uint64_t now_ms) {
  if (!s.connected || s.queue.empty()) return;
  Queued& q = s.queue.front();
  if (q.pending && !force) return;
  q.pending = true;
  ++q.tries;
  EmitOptions o;
  o.token = q.token;
  o.with_error = true;
  o.timeout_ms = q.timeout_ms;
  emit_packet(s, q.args, o, q.seq, now_ms);
}

void Manager::ack_result(SocketState& s, const AckEntry& entry, const std::string& error, std::optional<Value> args,
                         std::uint64_t now_ms) {
  if (entry.queue_seq) {
    queue_result(s, *entry.queue_seq, error, std::move(args), now_ms);
    return;
  }
  if (entry.token != 0) push_ack(s, entry.token, entry.with_error, error, std::move(args));
}

void Manager::queue_result(SocketState& s, std::uint64_t seq, const std::string& error, std::optional<Value> args,
                           std::uint64_t now_ms) {
  if (s.queue.empty() || s.queue.front().seq != seq) return;
  Queued& q = s.queue.front();
  if (!error.empty()) {
    if (q.tries > s.options.retries) {
      std::uint64_t token = q.token;
      s.queue.pop_front();
      if (token != 0) push_ack(s, token, true, error, std::nullopt);
    } else {
      q.pending = false;
    }
  } else {
    std::uint64_t token = q.token;
    s.queue.pop_front();
    if (token != 0) push_ack(s, token, true, "", std::move(args));
  }
  drain_queue(s, false, now_ms);
}

void Manager::push_ack(SocketState& s, std::uint64_t token, bool with_error, const std::string& error,
                       std::optional<Value> args) {
  Action a;
  a.type = ActionType::kAck;
  a.nsp = s.nsp;
  a.number = token;
  a.flag = with_error;
  a.reason = error;
  Value v = args ? std::move(*args) : Value::array();
  if (!v.is_array()) v = Value::array({std::move(v)});
  Status st = to_wire(std::move(v), a.data, a.binaries, outgoing_limits_);
  if (!st) {
    a.data = "[]";
    a.binaries.clear();
  }
  push(std::move(a));
}

Status Manager::ack(const std::string& nsp, std::uint64_t id, Value args, std::uint64_t now_ms) {
  if (!args.is_array()) return make_error(ErrorCode::kInvalidPacket, "ack arguments must be an array");
  Packet p;
  p.type = PacketType::kAck;
  p.nsp = nsp;
  p.id = id;
  p.data = std::move(args);
  send_packet(p, now_ms);
  pump(now_ms);
  update_timer(false);
  return Ok{};
}

void Manager::send_packet(const Packet& packet, std::uint64_t now_ms) {
  if (!engine_) return;
  auto encoded = socketio::encode(packet, outgoing_limits_);
  if (!encoded) return;
  engine_->send(engineio::Packet::text(engineio::PacketType::kMessage, std::move(encoded->text)), now_ms);
  for (Binary& b : encoded->attachments) {
    engine_->send(engineio::Packet::bytes(std::string(b.begin(), b.end())), now_ms);
  }
}

void Manager::notify_outgoing(SocketState& s, const Packet& packet) {
  if (!s.notify_outgoing || !packet.data) return;
  Action a;
  a.type = ActionType::kOutgoing;
  a.nsp = s.nsp;
  Value copy = *packet.data;
  if (!to_wire(std::move(copy), a.data, a.binaries, outgoing_limits_)) return;
  push(std::move(a));
}

}  // namespace chorus::client
