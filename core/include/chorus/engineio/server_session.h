// Engine.IO v4 server session: the protocol state of one client, without any I/O.
//
// The adapter feeds it packets (tagged with the transport they came on), transport events
// and the current time; it answers with what to do: messages to hand to Socket.IO, packets
// to write, a transport switch, or the end of the session. Heartbeat, upgrade probing and
// every close reason follow the Engine.IO v4 specification and the reference server:
//  - the server pings every ping_interval; a pong must arrive within ping_timeout
//    ("ping timeout" otherwise); the first other packet while waiting refreshes the timeout
//    once; the next ping is due ping_interval after the pong;
//  - a client ping, or a pong nobody asked for... is an error ("transport error");
//  - upgrade: "2probe" on the new transport is answered "3probe" there, the pending poll is
//    released with a noop, "5" switches transports; anything else, or upgrade_timeout
//    without "5", abandons the upgrade and keeps the session on its old transport.
//
// Thread-safety: none; the adapter serialises access per session.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chorus/engineio/packet.h"
#include "chorus/limits.h"

namespace chorus::engineio {

enum class Transport : std::uint8_t { kPolling, kWebSocket, kSse };
const char* to_string(Transport transport);
std::optional<Transport> transport_from_string(std::string_view name);

// Why a session ended, named as the reference server names them.
enum class CloseReason : std::uint8_t {
  kNone,
  kTransportClose,      // "transport close": the client went away or sent CLOSE
  kTransportError,      // "transport error": protocol violation or broken transport
  kPingTimeout,         // "ping timeout"
  kParseError,          // "parse error": undecodable packet
  kForcedClose,         // "forced close": the server closed it
  kServerShuttingDown,  // "server shutting down"
};
const char* to_string(CloseReason reason);

class ServerSession {
 public:
  ServerSession(std::string sid, Transport transport, const Limits& limits, std::uint64_t now_ms,
                std::vector<std::string> upgrades);

  const std::string& sid() const { return sid_; }
  Transport transport() const { return transport_; }
  std::optional<Transport> upgrading_to() const { return probe_; }
  // The probe answered "3probe": polls must not be held until the upgrade ends.
  bool probe_confirmed() const { return probe_.has_value() && probed_; }
  bool closed() const { return reason_ != CloseReason::kNone; }
  CloseReason close_reason() const { return reason_; }
  const Limits& limits() const { return limits_; }

  // The OPEN packet (handshake) to send first on the initial transport.
  Packet open_packet() const;

  struct Output {
    std::vector<Packet> messages;  // MESSAGE packets for Socket.IO, in order
    std::vector<Packet> reply;     // write on the transport the packet came from
    bool release_poll = false;     // answer the pending poll with a noop (upgrade)
    bool upgraded = false;         // the session now uses the probed transport
    bool abandon_probe = false;    // close the probing transport; session continues
    bool closed = false;           // the session is over: see close_reason()
  };
  Output on_packet(Transport via, const Packet& packet, std::uint64_t now_ms);

  // A connection for `to` arrived carrying this sid. Fails (the adapter answers 400) when
  // the session is already on `to`, already probing, or `to` is not an offered upgrade.
  Status begin_upgrade(Transport to, std::uint64_t now_ms);

  // When on_timer() must be called next (absolute milliseconds).
  std::uint64_t next_deadline() const;
  struct TimerOutput {
    bool send_ping = false;      // write a PING on the current transport
    bool abandon_probe = false;  // upgrade timed out: close the probing transport
    bool closed = false;         // ping timeout
  };
  TimerOutput on_timer(std::uint64_t now_ms);

  // A transport connection ended. The probing one only abandons the upgrade; the current
  // one ends the session ("transport close", or "transport error" when `error`).
  // A polling request ending is not a transport end; the adapter calls this only when the
  // session's polling transport is considered gone (e.g. a failed write).
  Output on_transport_closed(Transport transport, bool error);

  // Server-side close (reason kForcedClose or kServerShuttingDown).
  void close(CloseReason reason);

  // Polling requests: Engine.IO v4 allows one pending GET and one POST at a time. A second
  // one while the first is pending is a protocol violation ("overlap from client"): the
  // session ends ("transport error") and begin_*() returns false (the adapter answers 400).
  bool begin_get();
  void end_get() { get_pending_ = false; }
  bool get_pending() const { return get_pending_; }
  bool begin_post();
  void end_post() { post_pending_ = false; }

 private:
  void finish(CloseReason reason) {
    if (reason_ == CloseReason::kNone) reason_ = reason;
  }

  std::string sid_;
  Transport transport_;
  Limits limits_;
  std::vector<std::string> upgrades_;
  CloseReason reason_ = CloseReason::kNone;

  std::uint64_t next_ping_ms_;
  std::optional<std::uint64_t> pong_deadline_ms_;
  bool refreshed_ = false;

  bool get_pending_ = false;
  bool post_pending_ = false;

  std::optional<Transport> probe_;
  bool probed_ = false;  // "2probe" seen on the probing transport
  std::uint64_t upgrade_deadline_ms_ = 0;
};

}  // namespace chorus::engineio
