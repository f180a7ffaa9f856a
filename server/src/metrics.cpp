// Metrics (metrics.h): per-thread shards, and the Prometheus families built at scrape time.
#include "metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <limits>
#include <sstream>

#include "cluster.h"
#include "internal.h"

namespace chorus {

namespace {

constexpr const char* kDisconnectNames[] = {
    "client namespace disconnect",
    "server namespace disconnect",
    "transport close",
    "transport error",
    "ping timeout",
    "parse error",
    "forced close",
    "forced server close",
    "server shutting down",
    "other",
};
static_assert(sizeof(kDisconnectNames) / sizeof(kDisconnectNames[0]) ==
              static_cast<std::size_t>(DisconnectReason::kCount));

constexpr const char* kDropNames[] = {"volatile", "queue_full"};
static_assert(sizeof(kDropNames) / sizeof(kDropNames[0]) == static_cast<std::size_t>(DropReason::kCount));

// The process-wide pool of thread slots: a thread takes the lowest free one when it first
// counts and gives it back when it exits, so that a slot (and the shard of it in every
// server) has one writing thread at a time. Giving back and taking go through the mutex: the
// next owner sees every value the previous one stored.
struct SlotPool {
  std::mutex mu;
  std::vector<std::size_t> free;  // given back, reused lowest first
  std::size_t next = 0;
};
SlotPool& slot_pool() {
  static SlotPool* pool = new SlotPool;  // never destroyed: threads may exit after main returns
  return *pool;
}

using metrics_detail::kUnassigned;
using metrics_detail::t_slot;

struct SlotRelease {
  ~SlotRelease() {
    std::size_t slot = t_slot;
    t_slot = Metrics::kShared;  // from now on (counting while the thread ends)
    if (slot >= Metrics::kMaxThreads) return;
    SlotPool& pool = slot_pool();
    std::lock_guard<std::mutex> lock(pool.mu);
    pool.free.push_back(slot);
    std::push_heap(pool.free.begin(), pool.free.end(), std::greater<>());
  }
};

}  // namespace

DisconnectReason disconnect_reason(std::string_view reason) {
  for (std::size_t i = 0; i + 1 < static_cast<std::size_t>(DisconnectReason::kCount); ++i) {
    if (reason == kDisconnectNames[i]) return static_cast<DisconnectReason>(i);
  }
  return DisconnectReason::kOther;
}

const char* to_string(DisconnectReason reason) {
  return kDisconnectNames[static_cast<std::size_t>(reason)];
}

const char* to_string(DropReason reason) {
  return kDropNames[static_cast<std::size_t>(reason)];
}

std::size_t Metrics::assign_slot(std::size_t current) {
  if (current != kUnassigned) return kShared;  // none was left, or the thread is exiting
  thread_local SlotRelease release;            // gives the slot back when the thread exits
  SlotPool& pool = slot_pool();
  std::size_t taken = kShared;
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    if (!pool.free.empty()) {
      std::pop_heap(pool.free.begin(), pool.free.end(), std::greater<>());
      taken = pool.free.back();
      pool.free.pop_back();
    } else if (pool.next < kMaxThreads) {
      taken = pool.next++;
    }
  }
  t_slot = taken;
  return taken;
}

Metrics::Metrics() = default;

Metrics::~Metrics() {
  for (auto& chunk : chunks_) delete[] chunk.load(std::memory_order_relaxed);
}

Metrics::Shard& Metrics::shard_for(std::size_t slot) {
  std::atomic<Shard*>& chunk = chunks_[slot / kChunk];
  Shard* shards = chunk.load(std::memory_order_acquire);
  if (shards == nullptr) {
    std::lock_guard<std::mutex> lock(alloc_mu_);
    shards = chunk.load(std::memory_order_relaxed);
    if (shards == nullptr) {
      shards = new Shard[kChunk];
      chunk.store(shards, std::memory_order_release);
    }
  }
  return shards[slot % kChunk];
}

void Metrics::broadcast_took(std::chrono::nanoseconds d) {
  const double seconds = std::chrono::duration<double>(d).count();
  std::size_t bucket = 0;
  while (bucket < kBroadcastBuckets.size() && seconds > kBroadcastBuckets[bucket]) ++bucket;
  add_at(&Shard::broadcast_buckets, bucket, 1);
  add(&Shard::broadcast_count, 1);
  add(&Shard::broadcast_sum_ns, static_cast<std::uint64_t>(std::max<std::int64_t>(0, d.count())));
}

Metrics::Totals Metrics::totals() const {
  Totals t;
  auto sum = [&t](const Shard& s) {
    auto get = [](const Counter& c) { return c.load(std::memory_order_relaxed); };
    t.messages_received += get(s.messages_received);
    t.messages_sent += get(s.messages_sent);
    t.bytes_received += get(s.bytes_received);
    t.bytes_sent += get(s.bytes_sent);
    for (std::size_t i = 0; i < t.accepted.size(); ++i) t.accepted[i] += get(s.accepted[i]);
    for (std::size_t i = 0; i < t.disconnects.size(); ++i) t.disconnects[i] += get(s.disconnects[i]);
    for (std::size_t i = 0; i < t.dropped.size(); ++i) t.dropped[i] += get(s.dropped[i]);
    for (std::size_t i = 0; i < t.broadcast_buckets.size(); ++i) t.broadcast_buckets[i] += get(s.broadcast_buckets[i]);
    t.broadcast_count += get(s.broadcast_count);
    t.broadcast_sum_ns += get(s.broadcast_sum_ns);
  };
  sum(shared_);
  for (const auto& chunk : chunks_) {
    const Shard* shards = chunk.load(std::memory_order_acquire);
    if (shards == nullptr) continue;
    for (std::size_t i = 0; i < kChunk; ++i) sum(shards[i]);
  }
  return t;
}

// ---------------------------------------------------------------------------------------
// Families

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void sample(MetricFamily& f, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

}  // namespace

std::vector<MetricFamily> collect_metrics(ServerImpl& server) {
  // Gauges first, read from the structures under their locks; then the counters. A socket
  // or session counts its end before it leaves those structures, so a scrape that no longer
  // sees it sees that count too.
  std::array<std::size_t, Metrics::kTransports> by_transport{};
  std::size_t queued = 0;
  if (server.transport) server.transport->connection_stats(by_transport, queued);
  struct NamespaceStats {
    std::string name;
    std::size_t sockets = 0;
    std::size_t rooms = 0;
  };
  std::vector<NamespaceStats> namespaces;
  {
    std::vector<std::shared_ptr<NamespaceImpl>> all;
    {
      std::lock_guard<std::mutex> lock(server.ns_mu);
      for (auto& [name, ns] : server.namespaces) all.push_back(ns->impl());
    }
    for (const auto& ns : all) {
      NamespaceStats n{ns->name};
      {
        std::lock_guard<std::mutex> lock(ns->mu);
        n.sockets = ns->sockets.size();
      }
      n.rooms = ns->adapter->room_count();
      namespaces.push_back(std::move(n));
    }
  }
  const Metrics::Totals t = server.metrics.totals();
  std::vector<MetricFamily> out;
  auto connections =
      family("chorus_connections", "Open Engine.IO connections, by their current transport.", MetricType::Gauge);
  auto accepted =
      family("chorus_connections_accepted_total",
             "Engine.IO connections accepted (handshakes answered), by their first transport.", MetricType::Counter);
  for (std::size_t i = 0; i < Metrics::kTransports; ++i) {
    const char* name = engineio::to_string(static_cast<engineio::Transport>(i));
    sample(connections, static_cast<double>(by_transport[i]), {{"transport", name}});
    sample(accepted, static_cast<double>(t.accepted[i]), {{"transport", name}});
  }
  out.push_back(std::move(connections));
  out.push_back(std::move(accepted));

  auto sockets = family("chorus_sockets", "Connected Socket.IO sockets, by namespace.", MetricType::Gauge);
  auto rooms =
      family("chorus_rooms", "Rooms with at least one socket (not counting each socket's own room), by namespace.",
             MetricType::Gauge);
  for (const NamespaceStats& ns : namespaces) {
    sample(sockets, static_cast<double>(ns.sockets), {{"namespace", ns.name}});
    sample(rooms, static_cast<double>(ns.rooms), {{"namespace", ns.name}});
  }
  out.push_back(std::move(sockets));
  out.push_back(std::move(rooms));

  auto counter = [&out](const char* name, const char* help, std::uint64_t value) {
    auto f = family(name, help, MetricType::Counter);
    sample(f, static_cast<double>(value));
    out.push_back(std::move(f));
  };
  counter("chorus_messages_received_total", "Socket.IO packets received from clients.", t.messages_received);
  counter("chorus_messages_sent_total", "Socket.IO packets queued to clients (a broadcast counts once per recipient).",
          t.messages_sent);
  counter("chorus_bytes_received_total",
          "Engine.IO bytes received: WebSocket message payloads and polling request bodies.", t.bytes_received);
  counter("chorus_bytes_sent_total",
          "Engine.IO bytes sent: WebSocket message payloads, polling response bodies and SSE events.", t.bytes_sent);

  auto disconnects =
      family("chorus_disconnects_total", "Socket.IO sockets disconnected, by reason.", MetricType::Counter);
  for (std::size_t i = 0; i < t.disconnects.size(); ++i) {
    sample(disconnects, static_cast<double>(t.disconnects[i]),
           {{"reason", to_string(static_cast<DisconnectReason>(i))}});
  }
  out.push_back(std::move(disconnects));
  auto dropped = family("chorus_dropped_total",
                        "Packets to clients not queued: volatile ones the transport could not take at once, and "
                        "those that found the queue full (the connection is then closed).",
                        MetricType::Counter);
  for (std::size_t i = 0; i < t.dropped.size(); ++i) {
    sample(dropped, static_cast<double>(t.dropped[i]), {{"reason", to_string(static_cast<DropReason>(i))}});
  }
  out.push_back(std::move(dropped));

  auto queue = family("chorus_outbound_queue_bytes",
                      "Bytes waiting in the connections' outbound queues (what max_buffered_bytes bounds per "
                      "connection).",
                      MetricType::Gauge);
  sample(queue, static_cast<double>(queued));
  out.push_back(std::move(queue));

  auto hist = family("chorus_broadcast_duration_seconds",
                     "Time one broadcast takes on the emitting thread: encoding once and queueing to every local "
                     "target.",
                     MetricType::Histogram);
  {
    ClientMetric m;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < Metrics::kBroadcastBuckets.size(); ++i) {
      cumulative += t.broadcast_buckets[i];
      m.histogram.bucket.push_back({cumulative, Metrics::kBroadcastBuckets[i]});
    }
    cumulative += t.broadcast_buckets.back();
    m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    // The buckets are read one by one while broadcasts go on: the count is their total, so
    // that the +Inf bucket and _count agree in every scrape.
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = static_cast<double>(t.broadcast_sum_ns) / 1e9;
    hist.metric.push_back(std::move(m));
  }
  out.push_back(std::move(hist));

  if (server.cluster) {
    const RedisClient::Stats s = server.cluster->stats();
    auto up = family("chorus_redis_connected",
                     "1 when every Redis connection of the adapter is up and subscribed, else 0.", MetricType::Gauge);
    sample(up, server.cluster->connected() ? 1.0 : 0.0);
    out.push_back(std::move(up));
    counter("chorus_redis_published_total", "Publishes to Redis that Redis answered.", s.published);
    counter("chorus_redis_dropped_total",
            "Publishes to Redis dropped (Redis down, past max_pending_bytes, or lost in a disconnect).", s.dropped);
    counter("chorus_redis_received_total", "Messages received from Redis subscriptions.", s.received);
    counter("chorus_redis_reconnects_total", "Successful Redis connections after the first.", s.reconnects);
  }
  return out;
}

namespace {

// Chorus's families for an embedder's own exposer; empty once the server is gone.
class ServerCollectable final : public prometheus::Collectable {
 public:
  explicit ServerCollectable(ServerImpl* server) : server_(server) {}
  std::vector<MetricFamily> Collect() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return server_ != nullptr ? collect_metrics(*server_) : std::vector<MetricFamily>{};
  }
  void detach() {
    std::lock_guard<std::mutex> lock(mu_);
    server_ = nullptr;
  }

 private:
  mutable std::mutex mu_;
  ServerImpl* server_;
};

}  // namespace

std::shared_ptr<prometheus::Collectable> make_metrics_collectable(ServerImpl& server) {
  return std::make_shared<ServerCollectable>(&server);
}

void detach_metrics_collectable(prometheus::Collectable& collectable) {
  static_cast<ServerCollectable&>(collectable).detach();
}

std::string render_metrics(ServerImpl& server) {
  std::vector<MetricFamily> families = collect_metrics(server);
  std::vector<MetricFamily> more = server.metrics_registry->Collect();
  families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace chorus
