// The game's snapshot codec (core/include/chorus/game/snapshot.h).
#include "chorus/game/snapshot.h"

#include <algorithm>
#include <cmath>

namespace chorus::game {
namespace {

void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>(v >> 8));
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v & 0xFFFF));
  put16(out, static_cast<std::uint16_t>(v >> 16));
}
std::uint16_t get16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t get32(const unsigned char* p) {
  return static_cast<std::uint32_t>(get16(p)) | (static_cast<std::uint32_t>(get16(p + 2)) << 16);
}

}  // namespace

std::uint16_t to_fixed(double units) {
  double v = std::round(units * kPositionScale);
  if (!(v > 0)) return 0;  // negative and NaN
  if (v >= 65535) return 65535;
  return static_cast<std::uint16_t>(v);
}

Status encode_snapshot(const Snapshot& snapshot, std::string& out) {
  if (snapshot.players.size() > kMaxSnapshotPlayers) {
    return make_error(ErrorCode::kLimitExceeded,
                      "snapshot: more than " + std::to_string(kMaxSnapshotPlayers) + " players");
  }
  if (snapshot.items.size() > kMaxSnapshotItems) {
    return make_error(ErrorCode::kLimitExceeded, "snapshot: more than " + std::to_string(kMaxSnapshotItems) + " items");
  }
  out.reserve(out.size() + snapshot_size(snapshot.players.size(), snapshot.items.size()));
  out.push_back(static_cast<char>(kSnapshotMagic));
  out.push_back(static_cast<char>(kSnapshotVersion));
  put32(out, snapshot.tick);
  put32(out, snapshot.time_ms);
  put16(out, static_cast<std::uint16_t>(snapshot.players.size()));
  put16(out, static_cast<std::uint16_t>(snapshot.items.size()));
  for (const PlayerState& p : snapshot.players) {
    put16(out, p.id);
    put16(out, p.x);
    put16(out, p.y);
    put16(out, p.score);
    put16(out, p.latency_ms);
  }
  for (const ItemState& i : snapshot.items) {
    put16(out, i.x);
    put16(out, i.y);
  }
  return Ok{};
}

Result<std::string> encode_snapshot(const Snapshot& snapshot) {
  std::string out;
  Status s = encode_snapshot(snapshot, out);
  if (!s) return s.error();
  return out;
}

Result<Snapshot> decode_snapshot(std::string_view bytes) {
  if (bytes.size() < kSnapshotHeaderBytes) {
    return make_error(ErrorCode::kInvalidPacket, "snapshot: " + std::to_string(bytes.size()) +
                                                     " bytes, shorter than its " +
                                                     std::to_string(kSnapshotHeaderBytes) + "-byte header");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (p[0] != kSnapshotMagic) return make_error(ErrorCode::kInvalidPacket, "snapshot: bad magic byte");
  if (p[1] != kSnapshotVersion) {
    return make_error(ErrorCode::kInvalidPacket, "snapshot: unknown version " + std::to_string(p[1]));
  }
  Snapshot s;
  s.tick = get32(p + 2);
  s.time_ms = get32(p + 6);
  std::size_t players = get16(p + 10);
  std::size_t items = get16(p + 12);
  if (players > kMaxSnapshotPlayers || items > kMaxSnapshotItems) {
    return make_error(ErrorCode::kLimitExceeded, "snapshot: " + std::to_string(players) + " players and " +
                                                     std::to_string(items) + " items, past the limits (" +
                                                     std::to_string(kMaxSnapshotPlayers) + ", " +
                                                     std::to_string(kMaxSnapshotItems) + ")");
  }
  std::size_t want = snapshot_size(players, items);
  if (bytes.size() != want) {
    return make_error(ErrorCode::kInvalidPacket, "snapshot: " + std::to_string(bytes.size()) + " bytes where " +
                                                     std::to_string(players) + " players and " + std::to_string(items) +
                                                     " items take " + std::to_string(want));
  }
  p += kSnapshotHeaderBytes;
  s.players.resize(players);
  for (PlayerState& ps : s.players) {
    ps.id = get16(p);
    ps.x = get16(p + 2);
    ps.y = get16(p + 4);
    ps.score = get16(p + 6);
    ps.latency_ms = get16(p + 8);
    p += kPlayerRecordBytes;
  }
  s.items.resize(items);
  for (ItemState& is : s.items) {
    is.x = get16(p);
    is.y = get16(p + 2);
    p += kItemRecordBytes;
  }
  std::vector<std::uint16_t> ids;
  ids.reserve(players);
  for (const PlayerState& ps : s.players) ids.push_back(ps.id);
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
    return make_error(ErrorCode::kInvalidPacket, "snapshot: a player id listed twice");
  }
  return s;
}

}  // namespace chorus::game
