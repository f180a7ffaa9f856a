// The server's Prometheus metrics (README, "Operating Chorus"): counters kept where traffic
// passes, summed and completed with gauges read from the server's structures at scrape time.
//
// Counting costs the hot path one thread-local read and a plain (non-RMW) relaxed store on a
// cache line of the calling thread's own: every thread that counts gets a Shard of its own
// (a slot taken from a process-wide pool when it first counts, given back when it exits, so
// a slot has one writer at a time), and a scrape adds the shards up. No lock, no map lookup,
// no allocation per message. Past kMaxThreads live counting threads, the others share one
// shard written with atomic read-modify-writes.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/engineio/server_session.h"

namespace prometheus {
class Collectable;
class Registry;
struct MetricFamily;
}  // namespace prometheus

namespace chorus {

class ServerImpl;

namespace metrics_detail {
constexpr std::size_t kUnassigned = ~std::size_t{0} - 1;
// The calling thread's slot (metrics.cpp): constant-initialized and trivially destructible, so
// reading it is one thread-local load, inlined.
inline thread_local std::size_t t_slot = kUnassigned;
}  // namespace metrics_detail

// Socket.IO disconnect reasons (Socket::on_disconnect), as label values.
enum class DisconnectReason : std::uint8_t {
  kClientNamespaceDisconnect,
  kServerNamespaceDisconnect,
  kTransportClose,
  kTransportError,
  kPingTimeout,
  kParseError,
  kForcedClose,
  kForcedServerClose,
  kServerShuttingDown,
  kOther,
  kCount,
};
DisconnectReason disconnect_reason(std::string_view reason);
const char* to_string(DisconnectReason reason);

// Why a packet to a client was not queued (chorus_dropped_total's reason label).
enum class DropReason : std::uint8_t {
  kVolatile,   // a volatile packet the transport could not take at once, or shed for room
  kQueueFull,  // the connection's queue was past max_buffered_bytes: the connection is closed
  kCount,
};
const char* to_string(DropReason reason);

class Metrics {
 public:
  // Upper bounds (seconds) of chorus_broadcast_duration_seconds's buckets (+Inf follows).
  static constexpr std::array<double, 16> kBroadcastBuckets = {1e-6, 2.5e-6, 5e-6,   1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4,
                                                               5e-4, 1e-3,   2.5e-3, 5e-3, 1e-2,   2.5e-2, 0.1,  1.0};
  static constexpr std::size_t kTransports = 3;  // engineio::Transport
  static constexpr std::size_t kMaxThreads = 2048;

  struct alignas(64) Shard {
    using C = std::atomic<std::uint64_t>;
    C messages_received{0};
    C messages_sent{0};
    C bytes_received{0};
    C bytes_sent{0};
    std::array<C, kTransports> accepted{};
    std::array<C, static_cast<std::size_t>(DisconnectReason::kCount)> disconnects{};
    std::array<C, static_cast<std::size_t>(DropReason::kCount)> dropped{};
    std::array<C, kBroadcastBuckets.size() + 1> broadcast_buckets{};  // not cumulative; last: +Inf
    C broadcast_count{0};
    C broadcast_sum_ns{0};
  };

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void message_received() { add(&Shard::messages_received, 1); }
  void message_sent() { add(&Shard::messages_sent, 1); }
  void bytes_received(std::size_t n) { add(&Shard::bytes_received, n); }
  void bytes_sent(std::size_t n) { add(&Shard::bytes_sent, n); }
  void accepted(engineio::Transport t) { add_at(&Shard::accepted, static_cast<std::size_t>(t), 1); }
  void disconnected(std::string_view reason) {
    add_at(&Shard::disconnects, static_cast<std::size_t>(disconnect_reason(reason)), 1);
  }
  void dropped(DropReason reason, std::size_t n = 1) {
    if (n != 0) add_at(&Shard::dropped, static_cast<std::size_t>(reason), n);
  }
  void broadcast_took(std::chrono::nanoseconds d);

  // Sums of every shard, for a scrape.
  struct Totals {
    std::uint64_t messages_received = 0, messages_sent = 0, bytes_received = 0, bytes_sent = 0;
    std::array<std::uint64_t, kTransports> accepted{};
    std::array<std::uint64_t, static_cast<std::size_t>(DisconnectReason::kCount)> disconnects{};
    std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> dropped{};
    std::array<std::uint64_t, kBroadcastBuckets.size() + 1> broadcast_buckets{};
    std::uint64_t broadcast_count = 0, broadcast_sum_ns = 0;
  };
  Totals totals() const;

  // The calling thread's slot (kShared: none left, or the thread is exiting).
  static constexpr std::size_t kShared = ~std::size_t{0};
  static std::size_t thread_slot() {
    const std::size_t slot = metrics_detail::t_slot;
    return slot < kMaxThreads ? slot : assign_slot(slot);
  }

 private:
  static constexpr std::size_t kChunk = 64;             // shards allocated together
  static std::size_t assign_slot(std::size_t current);  // the first count of a thread
  using Counter = std::atomic<std::uint64_t>;

  Shard& shard_for(std::size_t slot);

  template <class M>
  void add(M member, std::uint64_t n) {
    const std::size_t slot = thread_slot();
    if (slot == kShared) {
      (shared_.*member).fetch_add(n, std::memory_order_relaxed);
      return;
    }
    Counter& c = shard_for(slot).*member;
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);  // one writer
  }
  template <class M>
  void add_at(M member, std::size_t i, std::uint64_t n) {
    const std::size_t slot = thread_slot();
    if (slot == kShared) {
      (shared_.*member)[i].fetch_add(n, std::memory_order_relaxed);
      return;
    }
    Counter& c = (shard_for(slot).*member)[i];
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  std::array<std::atomic<Shard*>, kMaxThreads / kChunk> chunks_{};
  std::mutex alloc_mu_;  // allocating a chunk (once per 64 slots)
  Shard shared_;
};

// The Prometheus families of one server: the counters above, gauges read from its
// structures, and the Redis adapter's when it runs. Built at each scrape.
std::vector<prometheus::MetricFamily> collect_metrics(ServerImpl& server);
std::shared_ptr<prometheus::Collectable> make_metrics_collectable(ServerImpl& server);
// The collectable made above returns no family from now on (the server is being destroyed).
void detach_metrics_collectable(prometheus::Collectable& collectable);
// Text format 0.0.4: Chorus's families, then the registry's.
std::string render_metrics(ServerImpl& server);
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace chorus
