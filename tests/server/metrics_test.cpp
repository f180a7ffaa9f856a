// Metrics (server/src/metrics.h): per-thread shards add up exactly, whatever the threads do.
#include "metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace chorus {
namespace {

TEST(Metrics, ConcurrentThreadsSumExactly) {
  Metrics m;
  constexpr int kThreads = 8;
  constexpr int kEach = 100'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < kEach; ++i) {
        m.message_sent();
        m.bytes_sent(3);
      }
    });
  }
  for (auto& t : threads) t.join();
  const Metrics::Totals totals = m.totals();
  EXPECT_EQ(totals.messages_sent, std::uint64_t{kThreads} * kEach);
  EXPECT_EQ(totals.bytes_sent, std::uint64_t{kThreads} * kEach * 3);
  EXPECT_EQ(totals.messages_received, 0u);
}

// More threads over time than there are slots: an exiting thread gives its slot back, and
// the next owner goes on from the values it left.
TEST(Metrics, SlotsOfExitedThreadsAreReusedWithoutLosingCounts) {
  Metrics m;
  const std::size_t rounds = Metrics::kMaxThreads / 4 + 10;
  for (std::size_t r = 0; r < rounds; ++r) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 5; ++t) {
      threads.emplace_back([&m] {
        m.message_received();
        // A slot of its own, one of the few that the live threads need.
        EXPECT_LT(Metrics::thread_slot(), std::size_t{64});
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(m.totals().messages_received, rounds * 5);
}

TEST(Metrics, ServersInOneProcessCountApart) {
  Metrics a, b;
  a.accepted(engineio::Transport::kWebSocket);
  b.accepted(engineio::Transport::kPolling);
  b.accepted(engineio::Transport::kPolling);
  EXPECT_EQ(a.totals().accepted[static_cast<std::size_t>(engineio::Transport::kWebSocket)], 1u);
  EXPECT_EQ(a.totals().accepted[static_cast<std::size_t>(engineio::Transport::kPolling)], 0u);
  EXPECT_EQ(b.totals().accepted[static_cast<std::size_t>(engineio::Transport::kPolling)], 2u);
}

TEST(Metrics, BroadcastDurationsFallInTheirBuckets) {
  using std::chrono::nanoseconds;
  Metrics m;
  m.broadcast_took(nanoseconds(500));          // <= 1 µs
  m.broadcast_took(nanoseconds(1'000));        // <= 1 µs (bounds are inclusive)
  m.broadcast_took(nanoseconds(2'000));        // <= 2.5 µs
  m.broadcast_took(nanoseconds(3'000'000));    // <= 5 ms
  m.broadcast_took(std::chrono::seconds(10));  // +Inf
  const Metrics::Totals t = m.totals();
  EXPECT_EQ(t.broadcast_count, 5u);
  EXPECT_EQ(t.broadcast_sum_ns, 500u + 1'000u + 2'000u + 3'000'000u + 10'000'000'000u);
  EXPECT_EQ(t.broadcast_buckets[0], 2u);
  EXPECT_EQ(t.broadcast_buckets[1], 1u);
  EXPECT_EQ(t.broadcast_buckets[11], 1u);  // 5e-3
  EXPECT_EQ(t.broadcast_buckets.back(), 1u);
}

TEST(Metrics, DisconnectReasonsAreTheSocketIoOnes) {
  EXPECT_EQ(disconnect_reason("ping timeout"), DisconnectReason::kPingTimeout);
  EXPECT_EQ(disconnect_reason("client namespace disconnect"), DisconnectReason::kClientNamespaceDisconnect);
  EXPECT_EQ(disconnect_reason("server shutting down"), DisconnectReason::kServerShuttingDown);
  EXPECT_EQ(disconnect_reason("something new"), DisconnectReason::kOther);
  EXPECT_STREQ(to_string(DisconnectReason::kForcedServerClose), "forced server close");
  EXPECT_STREQ(to_string(DropReason::kQueueFull), "queue_full");
}

}  // namespace
}  // namespace chorus
