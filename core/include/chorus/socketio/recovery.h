// Connection state recovery (socket.io 4.6+): what a namespace keeps so that a client whose
// transport dropped can come back with the same socket id, its rooms and data, and the events
// it missed. Pure bookkeeping, no clock and no locks: the caller passes the time and guards
// the store.
//
// Wire behaviour it serves (server side): the CONNECT reply carries {sid, pid}; every
// non-volatile EVENT without an ack id sent through the namespace carries its offset as its
// last argument; a client's CONNECT auth carries {pid, offset}; the missed packets go out
// before the CONNECT reply.
//
// Where Chorus does better than the reference:
//  - a client that never received an event (no offset yet) recovers too: the replay starts at
//    the moment its socket connected;
//  - volatile packets are never stored, so never replayed;
//  - a session is restored at most once (it leaves the store when restored);
//  - a replay is bounded (max_replayed_packets): past it the client gets a fresh session
//    rather than a silently incomplete one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chorus/engineio/outbox.h"
#include "chorus/value.h"

namespace chorus::socketio {

struct RecoveryOptions {
  // How long a session waits for its client after the transport dropped.
  std::uint64_t max_disconnection_ms = 120'000;
  // Packets kept per namespace for replay (the oldest go first; also dropped after
  // max_disconnection_ms). A client whose offset has left gets a fresh session.
  std::size_t max_stored_packets = 100'000;
  // Packets replayed to one client at most; more missed than this: a fresh session.
  std::size_t max_replayed_packets = 10'000;
};

class RecoveryStore {
 public:
  using Offset = std::uint64_t;

  explicit RecoveryStore(RecoveryOptions options) : options_(options) {}
  const RecoveryOptions& options() const { return options_; }

  // Offsets on the wire: decimal strings. parse() accepts exactly what format() writes.
  static std::string format(Offset offset);
  static std::optional<Offset> parse(std::string_view text);

  // The offset of the next packet (reserve it, encode the packet with it, then add()).
  Offset reserve() { return ++last_; }
  // The last offset reserved: a socket connecting now has seen everything up to it.
  Offset last() const { return last_; }
  // A packet sent to `rooms` (none: every socket) except `except`, at `now_ms`.
  void add(Offset offset, engineio::FramePtr frame, std::vector<std::string> rooms, std::vector<std::string> except,
           std::uint64_t now_ms);

  struct Session {
    std::string sid;
    std::string pid;
    std::vector<std::string> rooms;  // the socket's own room included
    Value data;
    Offset connected_at = 0;  // last() when the socket connected
  };
  // Keeps a session whose transport dropped, until now_ms + max_disconnection_ms.
  void persist(Session session, std::uint64_t now_ms);

  struct Restored {
    Session session;
    std::vector<engineio::FramePtr> missed;  // in order
  };
  enum class Refusal {
    kUnknownSession,  // no such pid (never, already restored, or swept)
    kExpired,         // max_disconnection_ms passed
    kBadOffset,       // not an offset this store writes
    kOffsetGone,      // older than every packet kept
    kTooMany,         // more than max_replayed_packets missed
  };
  static const char* describe(Refusal refusal);
  struct Outcome {
    std::optional<Restored> restored;
    Refusal refusal = Refusal::kUnknownSession;  // when not restored
  };
  // The session kept for `pid`, if it has not expired (it stays in the store).
  const Session* find(const std::string& pid, std::uint64_t now_ms) const;
  // Takes the session out of the store (it is restored at most once) and gathers the packets
  // after `offset` (or, without one, after the moment the socket connected) that reached its
  // rooms.
  Outcome restore(const std::string& pid, const std::optional<std::string>& offset, std::uint64_t now_ms);

  // Drops expired sessions and packets older than max_disconnection_ms.
  void prune(std::uint64_t now_ms);

  std::size_t session_count() const { return sessions_.size(); }
  std::size_t packet_count() const { return packets_.size(); }

 private:
  struct Packet {
    Offset offset;
    std::uint64_t at_ms;
    engineio::FramePtr frame;
    std::vector<std::string> rooms;
    std::vector<std::string> except;
  };
  struct Kept {
    Session session;
    std::uint64_t expires_ms;
  };
  RecoveryOptions options_;
  Offset last_ = 0;
  std::deque<Packet> packets_;  // by offset
  std::unordered_map<std::string, Kept> sessions_;
};

}  // namespace chorus::socketio
