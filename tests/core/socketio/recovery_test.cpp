// Connection state recovery bookkeeping (chorus/socketio/recovery.h).
#include "chorus/socketio/recovery.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using chorus::engineio::FramePtr;
using chorus::engineio::OutFrame;
using chorus::socketio::RecoveryOptions;
using chorus::socketio::RecoveryStore;

FramePtr frame(const std::string& text) {
  auto f = std::make_shared<OutFrame>();
  f->parts.push_back(OutFrame::Part{false, text});
  f->bytes = text.size();
  return f;
}

std::vector<std::string> texts(const std::vector<FramePtr>& frames) {
  std::vector<std::string> out;
  for (const FramePtr& f : frames) out.push_back(f->parts[0].data);
  return out;
}

// Sends `text` to `rooms` except `except` at `now`.
RecoveryStore::Offset send(RecoveryStore& store, const std::string& text, std::vector<std::string> rooms = {},
                           std::vector<std::string> except = {}, std::uint64_t now = 1000) {
  RecoveryStore::Offset o = store.reserve();
  store.add(o, frame(text), std::move(rooms), std::move(except), now);
  return o;
}

RecoveryStore::Session session(const std::string& sid, std::vector<std::string> rooms, RecoveryStore::Offset at) {
  RecoveryStore::Session s;
  s.sid = sid;
  s.pid = "pid-" + sid;
  s.rooms = std::move(rooms);
  s.data = chorus::Value::object({{"n", 7}});
  s.connected_at = at;
  return s;
}

TEST(RecoveryStore, OffsetsAreDecimalAndParseStrictly) {
  EXPECT_EQ(RecoveryStore::format(0), "0");
  EXPECT_EQ(RecoveryStore::format(18446744073709551615ull).size(), 20u);
  EXPECT_EQ(RecoveryStore::parse("42"), 42u);
  EXPECT_EQ(RecoveryStore::parse("0"), 0u);
  for (const char* bad : {"", "042", "-1", "1.5", "1e3", " 1", "abc", "12345678901234567890"}) {
    EXPECT_FALSE(RecoveryStore::parse(bad).has_value()) << bad;
  }
}

TEST(RecoveryStore, ReplaysWhatReachedTheSessionsRoomsAfterItsOffset) {
  RecoveryStore store(RecoveryOptions{});
  send(store, "before");
  auto seen = send(store, "seen", {"room1"});
  store.persist(session("S", {"S", "room1"}, 0), 1000);
  send(store, "to room1", {"room1"});
  send(store, "to room2", {"room2"});
  send(store, "to all");
  send(store, "all but room1", {}, {"room1"});
  send(store, "to S alone", {"S"});
  send(store, "to all but S", {}, {"S"});
  auto out = store.restore("pid-S", RecoveryStore::format(seen), 2000);
  ASSERT_TRUE(out.restored.has_value()) << RecoveryStore::describe(out.refusal);
  EXPECT_EQ(texts(out.restored->missed), (std::vector<std::string>{"to room1", "to all", "to S alone"}));
  EXPECT_EQ(out.restored->session.sid, "S");
  EXPECT_EQ(out.restored->session.data, chorus::Value::object({{"n", 7}}));
}

TEST(RecoveryStore, WithoutAnOffsetTheReplayStartsWhenTheSocketConnected) {
  RecoveryStore store(RecoveryOptions{});
  send(store, "old");
  RecoveryStore::Offset connected = store.last();
  send(store, "new 1");
  store.persist(session("S", {"S"}, connected), 1000);
  send(store, "new 2");
  auto out = store.restore("pid-S", std::nullopt, 2000);
  ASSERT_TRUE(out.restored.has_value()) << RecoveryStore::describe(out.refusal);
  EXPECT_EQ(texts(out.restored->missed), (std::vector<std::string>{"new 1", "new 2"}));
}

TEST(RecoveryStore, ASessionIsRestoredOnce) {
  RecoveryStore store(RecoveryOptions{});
  store.persist(session("S", {"S"}, 0), 1000);
  EXPECT_NE(store.find("pid-S", 1000), nullptr);
  EXPECT_TRUE(store.restore("pid-S", std::nullopt, 1001).restored.has_value());
  auto again = store.restore("pid-S", std::nullopt, 1002);
  EXPECT_FALSE(again.restored.has_value());
  EXPECT_EQ(again.refusal, RecoveryStore::Refusal::kUnknownSession);
  EXPECT_EQ(store.session_count(), 0u);
}

TEST(RecoveryStore, ASessionExpiresAtMaxDisconnection) {
  RecoveryOptions o;
  o.max_disconnection_ms = 500;
  RecoveryStore store(o);
  store.persist(session("A", {"A"}, 0), 1000);
  store.persist(session("B", {"B"}, 0), 1000);
  EXPECT_TRUE(store.restore("pid-A", std::nullopt, 1499).restored.has_value());  // just before
  EXPECT_EQ(store.find("pid-B", 1500), nullptr);
  auto late = store.restore("pid-B", std::nullopt, 1500);  // at the limit: gone
  EXPECT_EQ(late.refusal, RecoveryStore::Refusal::kExpired);
}

TEST(RecoveryStore, PruneDropsExpiredSessionsAndOldPackets) {
  RecoveryOptions o;
  o.max_disconnection_ms = 500;
  RecoveryStore store(o);
  send(store, "a", {}, {}, 1000);
  send(store, "b", {}, {}, 1400);
  store.persist(session("S", {"S"}, 0), 1000);
  store.prune(1499);  // just before the limit: all kept
  EXPECT_EQ(store.packet_count(), 2u);
  EXPECT_EQ(store.session_count(), 1u);
  store.prune(1500);  // at it: the session and the packet of 1000 go
  EXPECT_EQ(store.packet_count(), 1u);
  EXPECT_EQ(store.session_count(), 0u);
}

TEST(RecoveryStore, AnOffsetOlderThanEveryKeptPacketIsRefused) {
  RecoveryOptions o;
  o.max_stored_packets = 3;
  RecoveryStore store(o);
  auto first = send(store, "1");
  for (int i = 2; i <= 5; ++i) send(store, std::to_string(i));  // 1 and 2 fall out
  EXPECT_EQ(store.packet_count(), 3u);
  store.persist(session("S", {"S"}, 0), 1000);
  auto out = store.restore("pid-S", RecoveryStore::format(first), 1000);
  EXPECT_EQ(out.refusal, RecoveryStore::Refusal::kOffsetGone);
  // At the edge: the oldest kept packet is the next one after the offset.
  store.persist(session("S", {"S"}, 0), 1000);
  auto edge = store.restore("pid-S", RecoveryStore::format(first + 1), 1000);
  ASSERT_TRUE(edge.restored.has_value()) << RecoveryStore::describe(edge.refusal);
  EXPECT_EQ(texts(edge.restored->missed), (std::vector<std::string>{"3", "4", "5"}));
}

TEST(RecoveryStore, TheReplayIsBoundedByMaxReplayedPackets) {
  RecoveryOptions o;
  o.max_replayed_packets = 3;
  RecoveryStore store(o);
  store.persist(session("S", {"S"}, 0), 1000);
  store.persist(session("T", {"T"}, 0), 1000);
  for (int i = 0; i < 3; ++i) send(store, "m");
  EXPECT_TRUE(store.restore("pid-S", std::nullopt, 1000).restored.has_value());  // at the limit
  send(store, "one more");
  auto past = store.restore("pid-T", std::nullopt, 1000);
  EXPECT_EQ(past.refusal, RecoveryStore::Refusal::kTooMany);
}

TEST(RecoveryStore, MalformedOrFutureOffsetsAreRefused) {
  RecoveryStore store(RecoveryOptions{});
  send(store, "x");
  for (const char* bad : {"x", "01", "99"}) {
    store.persist(session("S", {"S"}, 0), 1000);
    EXPECT_EQ(store.restore("pid-S", std::string(bad), 1000).refusal, RecoveryStore::Refusal::kBadOffset) << bad;
  }
}

TEST(RecoveryStore, PacketsAddedOutOfOrderAreReplayedInOffsetOrder) {
  RecoveryStore store(RecoveryOptions{});
  store.persist(session("S", {"S"}, 0), 1000);
  auto a = store.reserve();
  auto b = store.reserve();
  store.add(b, frame("b"), {}, {}, 1000);
  store.add(a, frame("a"), {}, {}, 1000);
  auto out = store.restore("pid-S", std::nullopt, 1000);
  ASSERT_TRUE(out.restored.has_value());
  EXPECT_EQ(texts(out.restored->missed), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
