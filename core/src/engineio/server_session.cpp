#include "chorus/engineio/server_session.h"

#include <algorithm>
#include <limits>

namespace chorus::engineio {

const char* to_string(Transport transport) {
  switch (transport) {
    case Transport::kPolling:
      return "polling";
    case Transport::kWebSocket:
      return "websocket";
    case Transport::kSse:
      return "sse";
  }
  return "unknown";
}

std::optional<Transport> transport_from_string(std::string_view name) {
  if (name == "polling") return Transport::kPolling;
  if (name == "websocket") return Transport::kWebSocket;
  if (name == "sse") return Transport::kSse;
  return std::nullopt;
}

const char* to_string(CloseReason reason) {
  switch (reason) {
    case CloseReason::kNone:
      return "";
    case CloseReason::kTransportClose:
      return "transport close";
    case CloseReason::kTransportError:
      return "transport error";
    case CloseReason::kPingTimeout:
      return "ping timeout";
    case CloseReason::kParseError:
      return "parse error";
    case CloseReason::kForcedClose:
      return "forced close";
    case CloseReason::kServerShuttingDown:
      return "server shutting down";
  }
  return "";
}

ServerSession::ServerSession(std::string sid, Transport transport, const Limits& limits, std::uint64_t now_ms,
                             std::vector<std::string> upgrades)
    : sid_(std::move(sid)),
      transport_(transport),
      limits_(limits),
      upgrades_(std::move(upgrades)),
      next_ping_ms_(now_ms + limits.ping_interval_ms) {}

Packet ServerSession::open_packet() const {
  Handshake h{sid_, upgrades_, limits_.ping_interval_ms, limits_.ping_timeout_ms, limits_.max_payload};
  return Packet::text(PacketType::kOpen, encode_handshake(h));
}

ServerSession::Output ServerSession::on_packet(Transport via, const Packet& packet, std::uint64_t now_ms) {
  Output out;
  if (closed()) return out;

  if (probe_ && via == *probe_) {
    // Engine.IO v4 upgrade: "2probe" -> "3probe", then "5"; anything else aborts it.
    if (packet.type == PacketType::kPing && packet.data == "probe" && !probed_) {
      probed_ = true;
      out.reply.push_back(Packet::text(PacketType::kPong, "probe"));
      out.release_poll = (transport_ == Transport::kPolling || transport_ == Transport::kSse);
      return out;
    }
    if (packet.type == PacketType::kUpgrade && probed_) {
      transport_ = *probe_;
      probe_.reset();
      probed_ = false;
      out.upgraded = true;
      return out;
    }
    probe_.reset();
    probed_ = false;
    out.abandon_probe = true;
    return out;
  }
  if (via != transport_) {
    // A packet on a transport the session no longer (or never) used: ignore it, as the
    // reference does for a stale polling request after an upgrade.
    return out;
  }

  if (pong_deadline_ms_ && !refreshed_ && packet.type != PacketType::kPong) {
    // Incoming data while waiting for a pong is a sign of life: refresh the timeout once.
    pong_deadline_ms_ = now_ms + limits_.ping_timeout_ms;
    refreshed_ = true;
  }
  switch (packet.type) {
    case PacketType::kPong:
      if (!pong_deadline_ms_) {
        // Tolerated: a late pong after a refreshed timeout is harmless.
        return out;
      }
      pong_deadline_ms_.reset();
      next_ping_ms_ = now_ms + limits_.ping_interval_ms;
      return out;
    case PacketType::kPing:
      // Engine.IO v4: only the server pings ("invalid heartbeat direction").
      finish(CloseReason::kTransportError);
      out.closed = true;
      return out;
    case PacketType::kClose:
      finish(CloseReason::kTransportClose);
      out.closed = true;
      return out;
    case PacketType::kMessage:
      out.messages.push_back(packet);
      return out;
    case PacketType::kOpen:
    case PacketType::kUpgrade:
      // Not valid from a client outside an upgrade.
      finish(CloseReason::kParseError);
      out.closed = true;
      return out;
    case PacketType::kNoop:
      return out;
  }
  return out;
}

Status ServerSession::begin_upgrade(Transport to, std::uint64_t now_ms) {
  if (closed()) return make_error(ErrorCode::kProtocol, "session closed");
  if (to == transport_) return make_error(ErrorCode::kProtocol, "session already uses this transport");
  if (probe_) return make_error(ErrorCode::kProtocol, "upgrade already in progress");
  if (std::find(upgrades_.begin(), upgrades_.end(), to_string(to)) == upgrades_.end()) {
    return make_error(ErrorCode::kProtocol, std::string("no upgrade to ") + to_string(to));
  }
  probe_ = to;
  probed_ = false;
  upgrade_deadline_ms_ = now_ms + limits_.upgrade_timeout_ms;
  return Ok{};
}

std::uint64_t ServerSession::next_deadline() const {
  if (closed()) return std::numeric_limits<std::uint64_t>::max();
  std::uint64_t d = pong_deadline_ms_ ? *pong_deadline_ms_ : next_ping_ms_;
  if (probe_) d = std::min(d, upgrade_deadline_ms_);
  return d;
}

ServerSession::TimerOutput ServerSession::on_timer(std::uint64_t now_ms) {
  TimerOutput out;
  if (closed()) return out;
  if (probe_ && now_ms >= upgrade_deadline_ms_) {
    probe_.reset();
    probed_ = false;
    out.abandon_probe = true;
  }
  if (pong_deadline_ms_) {
    if (now_ms >= *pong_deadline_ms_) {
      finish(CloseReason::kPingTimeout);
      out.closed = true;
    }
    return out;
  }
  if (now_ms >= next_ping_ms_) {
    out.send_ping = true;
    pong_deadline_ms_ = now_ms + limits_.ping_timeout_ms;
    refreshed_ = false;
  }
  return out;
}

ServerSession::Output ServerSession::on_transport_closed(Transport transport, bool error) {
  Output out;
  if (closed()) return out;
  if (probe_ && transport == *probe_) {
    probe_.reset();
    probed_ = false;
    out.abandon_probe = true;
    return out;
  }
  if (transport == transport_) {
    finish(error ? CloseReason::kTransportError : CloseReason::kTransportClose);
    out.closed = true;
  }
  return out;
}

void ServerSession::close(CloseReason reason) {
  finish(reason);
}

bool ServerSession::begin_get() {
  if (get_pending_) {
    finish(CloseReason::kTransportError);
    return false;
  }
  get_pending_ = true;
  return true;
}

bool ServerSession::begin_post() {
  if (post_pending_) {
    finish(CloseReason::kTransportError);
    return false;
  }
  post_pending_ = true;
  return true;
}

}  // namespace chorus::engineio
