// The game's snapshot: what the server sends a room every tick (README, "The game"). Pure
// bytes in, bytes out; the browser decodes the same format in plain JavaScript
// (demo/game/snapshot.js).
//
// Layout (little-endian), version 1:
//   u8  magic 'G' (0x47)
//   u8  version (1)
//   u32 tick
//   u32 time_ms: the server's wall clock when it encoded the snapshot, in milliseconds since
//       the Unix epoch modulo 2^32 (a client on the same clock measures the delivery delay)
//   u16 player count P, u16 item count I
//   P x { u16 id, u16 x, u16 y, u16 score, u16 latency_ms }   10 bytes each
//   I x { u16 x, u16 y }                                      4 bytes each
// Positions are fixed point, 1/kPositionScale of an arena unit (0 .. 4095.9375 units).
// A snapshot is exactly that long: trailing bytes, a truncated record, a count past its limit
// or a player id listed twice are rejected whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/error.h"

namespace chorus::game {

constexpr std::uint8_t kSnapshotMagic = 0x47;  // 'G'
constexpr std::uint8_t kSnapshotVersion = 1;
constexpr int kPositionScale = 16;
constexpr std::size_t kSnapshotHeaderBytes = 14;
constexpr std::size_t kPlayerRecordBytes = 10;
constexpr std::size_t kItemRecordBytes = 4;
// Records one snapshot may carry (encode refuses more, decode rejects more).
constexpr std::size_t kMaxSnapshotPlayers = 1024;
constexpr std::size_t kMaxSnapshotItems = 1024;

struct PlayerState {
  std::uint16_t id = 0;
  std::uint16_t x = 0;  // fixed point (kPositionScale)
  std::uint16_t y = 0;
  std::uint16_t score = 0;
  std::uint16_t latency_ms = 0;  // the player's last measured round trip (0: unknown, or a bot)
  bool operator==(const PlayerState& o) const {
    return id == o.id && x == o.x && y == o.y && score == o.score && latency_ms == o.latency_ms;
  }
};

struct ItemState {
  std::uint16_t x = 0;
  std::uint16_t y = 0;
  bool operator==(const ItemState& o) const { return x == o.x && y == o.y; }
};

struct Snapshot {
  std::uint32_t tick = 0;
  std::uint32_t time_ms = 0;
  std::vector<PlayerState> players;
  std::vector<ItemState> items;
};

// A position in arena units as fixed point: clamped to what a u16 holds, rounded.
std::uint16_t to_fixed(double units);
inline double from_fixed(std::uint16_t fixed) {
  return static_cast<double>(fixed) / kPositionScale;
}

// The encoded size of a snapshot with these counts.
inline std::size_t snapshot_size(std::size_t players, std::size_t items) {
  return kSnapshotHeaderBytes + players * kPlayerRecordBytes + items * kItemRecordBytes;
}

// Appends the snapshot to `out`; kLimitExceeded (nothing appended) past the record limits.
Status encode_snapshot(const Snapshot& snapshot, std::string& out);
Result<std::string> encode_snapshot(const Snapshot& snapshot);

// The snapshot these bytes hold, or an error saying what is wrong with them.
Result<Snapshot> decode_snapshot(std::string_view bytes);

}  // namespace chorus::game
