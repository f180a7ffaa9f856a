// The game's snapshot codec: round trips, the exact layout, truncated and hostile input.
#include "chorus/game/snapshot.h"

#include <gtest/gtest.h>

#include <random>

namespace chorus::game {
namespace {

Snapshot sample(std::size_t players, std::size_t items, std::uint32_t seed = 7) {
  std::mt19937 rng(seed);
  Snapshot s;
  s.tick = 0xA1B2C3D4;
  s.time_ms = 0x0BADCAFE;
  for (std::size_t i = 0; i < players; ++i) {
    s.players.push_back({static_cast<std::uint16_t>(i * 3 + 1), static_cast<std::uint16_t>(rng()),
                         static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng()),
                         static_cast<std::uint16_t>(rng())});
  }
  for (std::size_t i = 0; i < items; ++i) {
    s.items.push_back({static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng())});
  }
  return s;
}

void expect_same(const Snapshot& a, const Snapshot& b) {
  EXPECT_EQ(a.tick, b.tick);
  EXPECT_EQ(a.time_ms, b.time_ms);
  EXPECT_EQ(a.players, b.players);
  EXPECT_EQ(a.items, b.items);
}

TEST(GameSnapshot, RoundTrips) {
  for (auto [players, items] : {std::pair<std::size_t, std::size_t>{0, 0},
                                {1, 0},
                                {0, 1},
                                {200, 16},
                                {kMaxSnapshotPlayers, kMaxSnapshotItems}}) {
    Snapshot s = sample(players, items);
    auto bytes = encode_snapshot(s);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(bytes->size(), snapshot_size(players, items));
    auto back = decode_snapshot(*bytes);
    ASSERT_TRUE(back.ok()) << back.error().message;
    expect_same(s, *back);
  }
}

TEST(GameSnapshot, ExactLayout) {
  Snapshot s;
  s.tick = 0x01020304;
  s.time_ms = 0x11121314;
  s.players.push_back({0x0102, 0x0304, 0x0506, 0x0708, 0x090A});
  s.items.push_back({0x0B0C, 0x0D0E});
  auto bytes = encode_snapshot(s);
  ASSERT_TRUE(bytes.ok());
  const std::string want(
      "\x47\x01\x04\x03\x02\x01\x14\x13\x12\x11\x01\x00\x01\x00"
      "\x02\x01\x04\x03\x06\x05\x08\x07\x0A\x09"
      "\x0C\x0B\x0E\x0D",
      28);
  EXPECT_EQ(*bytes, want);
}

TEST(GameSnapshot, AppendsToOut) {
  std::string out = "xy";
  ASSERT_TRUE(encode_snapshot(sample(2, 1), out).ok());
  EXPECT_EQ(out.size(), 2 + snapshot_size(2, 1));
  EXPECT_EQ(out.substr(0, 2), "xy");
}

TEST(GameSnapshot, EncodeRefusesPastTheLimits) {
  std::string out;
  auto too_many_players = encode_snapshot(sample(kMaxSnapshotPlayers + 1, 0));
  ASSERT_FALSE(too_many_players.ok());
  EXPECT_EQ(too_many_players.error().code, ErrorCode::kLimitExceeded);
  Status s = encode_snapshot(sample(0, kMaxSnapshotItems + 1), out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kLimitExceeded);
  EXPECT_TRUE(out.empty());
}

TEST(GameSnapshot, EveryTruncationAndExtensionIsRejected) {
  std::string bytes = encode_snapshot(sample(5, 3)).value();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode_snapshot(std::string_view(bytes).substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(decode_snapshot(bytes + '\0').ok());
  EXPECT_TRUE(decode_snapshot(bytes).ok());
}

TEST(GameSnapshot, HostileHeadersAreRejected) {
  std::string bytes = encode_snapshot(sample(2, 2)).value();
  std::string bad = bytes;
  bad[0] = 'H';
  EXPECT_NE(decode_snapshot(bad).error().message.find("magic"), std::string::npos);
  bad = bytes;
  bad[1] = 2;
  EXPECT_NE(decode_snapshot(bad).error().message.find("version"), std::string::npos);
  // Counts claiming more records than the bytes hold (the decoder must not read past them).
  bad = bytes;
  bad[10] = '\xFF';
  bad[11] = '\xFF';
  auto r = decode_snapshot(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);
  bad = bytes;
  bad[10] = 3;
  EXPECT_FALSE(decode_snapshot(bad).ok());
  // At the limit of players (exact size) passes; one past it is refused before any reading.
  std::string at = encode_snapshot(sample(kMaxSnapshotPlayers, 0)).value();
  EXPECT_TRUE(decode_snapshot(at).ok());
  std::string past = at;
  past[10] = static_cast<char>((kMaxSnapshotPlayers + 1) & 0xFF);
  past[11] = static_cast<char>((kMaxSnapshotPlayers + 1) >> 8);
  past.append(kPlayerRecordBytes, '\0');
  EXPECT_EQ(decode_snapshot(past).error().code, ErrorCode::kLimitExceeded);
}

TEST(GameSnapshot, DuplicateIdsAreRejected) {
  Snapshot s = sample(3, 0);
  s.players[2].id = s.players[0].id;
  auto r = decode_snapshot(encode_snapshot(s).value());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("twice"), std::string::npos);
}

TEST(GameSnapshot, FixedPoint) {
  EXPECT_EQ(to_fixed(0), 0);
  EXPECT_EQ(to_fixed(-3), 0);
  EXPECT_EQ(to_fixed(1.5), 24);
  EXPECT_EQ(to_fixed(100000), 65535);
  EXPECT_EQ(to_fixed(std::nan("")), 0);
  EXPECT_DOUBLE_EQ(from_fixed(to_fixed(123.25)), 123.25);
}

}  // namespace
}  // namespace chorus::game
