// The streams mode of the Redis adapter (cluster.h): the protocol of
// @socket.io/redis-streams-adapter 0.3 (core: chorus/cluster/streams_adapter.h). Broadcasts,
// joins, leaves and disconnects are entries of one stream that every node reads; requests and
// responses go over pub/sub (cluster.cpp, shared with the classic mode); connection state
// recovery keeps its sessions in Redis keys, so that a client recovers on any node.
#include <algorithm>

#include "cluster.h"
#include "internal.h"

namespace chorus {

namespace st = cluster::streams;

namespace {

constexpr std::uint32_t kReadBlockMs = 5'000;  // XREAD BLOCK (the Node adapter's blockTimeInMs)
constexpr std::size_t kRangeCount = 100;       // entries per XRANGE of a restore
constexpr std::uint32_t kRetryMs = 1'000;      // after an error reply to a read

bool operator<(const st::StreamId& a, const st::StreamId& b) {
  return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq);
}
bool operator<=(const st::StreamId& a, const st::StreamId& b) {
  return !(b < a);
}

// The entries of an XRANGE reply, or of one stream of an XREAD reply: [[id, [field, value, ...]], ...].
template <typename Fn>
void for_each_entry(const RedisReply& entries, Fn&& fn) {
  if (entries.type != RedisReply::Type::kArray) return;
  for (const RedisReply& e : entries.elements) {
    if (e.type != RedisReply::Type::kArray || e.elements.size() != 2 ||
        e.elements[0].type != RedisReply::Type::kString || e.elements[1].type != RedisReply::Type::kArray)
      continue;
    std::vector<std::string> flat;
    flat.reserve(e.elements[1].elements.size());
    for (const RedisReply& f : e.elements[1].elements) flat.push_back(f.str);
    fn(e.elements[0].str, flat);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Reading the stream (Redis thread)

void Cluster::stream_up() {
  std::uint64_t generation = ++read_generation_;
  bool known;
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    known = cursor_known_;
  }
  if (known) {  // after a reconnection: carry on after the cursor (nothing is skipped)
    read_stream(generation);
    return;
  }
  // First connection: the stream's last entry is where this node starts ("$", with its id known).
  client_->command({"XREVRANGE", options_.stream_name, "+", "-", "COUNT", "1"},
                   [this, generation](Result<RedisReply> r) {
                     if (generation != read_generation_ || !r.ok()) return;  // dropped: stream_up runs again
                     if (r->type == RedisReply::Type::kError) {
                       ignored("stream read", "XREVRANGE " + options_.stream_name + ": " + r->str);
                       server_->timers.schedule_in(std::chrono::milliseconds(kRetryMs), [this, generation] {
                         client_->post([this, generation] {
                           if (generation == read_generation_) stream_up();
                         });
                       });
                       return;
                     }
                     st::StreamId last;
                     for_each_entry(*r, [&](const std::string& id, const std::vector<std::string>&) {
                       if (auto parsed = st::parse_offset(id)) last = *parsed;
                     });
                     {
                       std::lock_guard<std::mutex> lock(stream_mu_);
                       cursor_ = last;
                       cursor_known_ = true;
                     }
                     read_stream(generation);
                   });
}

void Cluster::read_stream(std::uint64_t generation) {
  std::string from;
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    from = st::to_string(cursor_);
  }
  client_->blocking_command({"XREAD", "COUNT", std::to_string(std::max<std::uint32_t>(1, options_.stream_read_count)),
                             "BLOCK", std::to_string(kReadBlockMs), "STREAMS", options_.stream_name, from},
                            [this, generation](Result<RedisReply> r) {
                              if (generation != read_generation_ || !r.ok()) return;  // dropped: stream_up runs again
                              if (r->type == RedisReply::Type::kError) {
                                ignored("stream read", "XREAD " + options_.stream_name + ": " + r->str);
                                server_->timers.schedule_in(std::chrono::milliseconds(kRetryMs), [this, generation] {
                                  client_->post([this, generation] {
                                    if (generation == read_generation_) read_stream(generation);
                                  });
                                });
                                return;
                              }
                              on_stream_entries(*r);
                              read_stream(generation);
                            });
}

void Cluster::on_stream_entries(const RedisReply& reply) {
  if (reply.type != RedisReply::Type::kArray) return;  // nil: BLOCK ran out
  for (const RedisReply& stream : reply.elements) {
    if (stream.type != RedisReply::Type::kArray || stream.elements.size() != 2) continue;
    for_each_entry(stream.elements[1],
                   [this](const std::string& id, const std::vector<std::string>& flat) { on_stream_entry(id, flat); });
  }
}

void Cluster::on_stream_entry(const std::string& id, const std::vector<std::string>& flat) {
  auto parsed = st::parse_offset(id);
  if (!parsed) return;
  {
    std::lock_guard<std::mutex> lock(stream_mu_);
    if (*parsed <= cursor_) return;  // read already
    cursor_ = *parsed;
  }
  auto m = st::decode_entry(flat, server_->options.limits);
  if (!m) {
    ignored("stream entry", m.error().message);
    return;
  }
  if (m->uid == uid_) return;  // applied here when it was written
  auto ns = find_namespace(m->nsp);
  if (!ns) return;
  switch (m->type) {
    case st::MessageType::kBroadcast: {
      auto& b = std::get<st::BroadcastData>(m->data);
      if (b.request_id) return;  // broadcasts with acks come over pub/sub
      BroadcastOptions o = from_wire(b.opts);
      if (!o.rooms.empty()) server_->feeds.publish(ns->name, o.rooms, b.packet.data);
      bool offset = ns->stream_recovery && !o.is_volatile && !b.packet.id;
      ns->deliver(b.packet.data, o, offset ? std::optional<std::string>(id) : std::nullopt);
      return;
    }
    case st::MessageType::kSocketsJoin:
    case st::MessageType::kSocketsLeave: {
      auto& d = std::get<st::SocketsRoomsData>(m->data);
      ns->local_join_leave(from_wire(d.opts), d.rooms, m->type == st::MessageType::kSocketsJoin);
      return;
    }
    case st::MessageType::kDisconnectSockets: {
      auto& d = std::get<st::DisconnectSocketsData>(m->data);
      ns->local_disconnect(from_wire(d.opts), d.close.value_or(false));
      return;
    }
    default:
      return;  // heartbeats and ADAPTER_CLOSE: nothing to do (the cluster's size comes from NUMSUB)
  }
}

void Cluster::on_pubsub(std::string_view channel, std::string_view payload) {
  auto m = st::decode_pubsub(payload, server_->options.limits);
  if (!m) {
    ignored("message", m.error().message);
    return;
  }
  if (m->uid == uid_) return;  // this node's own request
  auto ns = find_namespace(m->nsp);
  if (!ns) return;
  if (st::is_response(m->type)) {
    if (channel != st::private_channel(options_.key, ns->name, uid_)) return;
    cluster::Response r;
    switch (m->type) {
      case st::MessageType::kFetchSocketsResponse: {
        auto& d = std::get<st::FetchSocketsResponseData>(m->data);
        r.type = cluster::RequestType::kRemoteFetch;
        r.request_id = std::move(d.request_id);
        r.sockets = std::move(d.sockets);
        break;
      }
      case st::MessageType::kServerSideEmitResponse: {
        auto& d = std::get<st::ServerSideEmitResponseData>(m->data);
        r.type = cluster::RequestType::kServerSideEmit;
        r.request_id = std::move(d.request_id);
        r.data = std::move(d.packet);
        break;
      }
      case st::MessageType::kBroadcastClientCount: {
        auto& d = std::get<st::BroadcastClientCountData>(m->data);
        r.type = cluster::RequestType::kBroadcastClientCount;
        r.request_id = std::move(d.request_id);
        r.client_count = d.client_count;
        break;
      }
      default: {
        auto& d = std::get<st::BroadcastAckData>(m->data);
        r.type = cluster::RequestType::kBroadcastAck;
        r.request_id = std::move(d.request_id);
        r.packet = std::move(d.packet);
        break;
      }
    }
    handle_response(r);
    return;
  }
  cluster::Request r;
  r.uid = m->uid;
  switch (m->type) {
    case st::MessageType::kFetchSockets: {
      auto& d = std::get<st::FetchSocketsData>(m->data);
      r.type = cluster::RequestType::kRemoteFetch;
      r.request_id = std::move(d.request_id);
      r.opts = std::move(d.opts);
      break;
    }
    case st::MessageType::kServerSideEmit: {
      auto& d = std::get<st::ServerSideEmitData>(m->data);
      r.type = cluster::RequestType::kServerSideEmit;
      r.request_id = d.request_id.value_or("");
      r.data = std::move(d.packet);
      break;
    }
    case st::MessageType::kBroadcast: {
      auto& d = std::get<st::BroadcastData>(m->data);
      if (!d.request_id) return;  // plain broadcasts come through the stream
      r.type = cluster::RequestType::kBroadcast;
      r.request_id = std::move(*d.request_id);
      r.opts = std::move(d.opts);
      r.packet_data = std::move(d.packet.data);
      r.packet_nsp = ns->name;
      break;
    }
    default:
      return;  // the other types travel through the stream
  }
  handle_request(ns, r, m->uid);
}

// ---------------------------------------------------------------------------------------
// Writing (any thread)

void Cluster::stream_write(const st::ClusterMessage& message) {
  client_->command(st::xadd_command(options_.stream_name, options_.stream_max_len, st::encode_entry(message)),
                   [](Result<RedisReply>) {});
}

void Cluster::stream_broadcast(const std::shared_ptr<NamespaceImpl>& ns, const Array& args_with_event,
                               const BroadcastOptions& opts, bool offsets) {
  st::ClusterMessage m;
  m.type = st::MessageType::kBroadcast;
  st::Packet packet;
  packet.data = args_with_event;
  m.data = st::BroadcastData{std::move(packet), std::nullopt, to_wire(opts)};
  m.uid = uid_;
  m.nsp = ns->name;
  auto argv = st::xadd_command(options_.stream_name, options_.stream_max_len, st::encode_entry(m));
  if (!offsets || opts.is_volatile) {  // no offset to wait for: delivered here at once
    ns->deliver(args_with_event, opts, std::nullopt);
    client_->command(std::move(argv), [](Result<RedisReply>) {});
    return;
  }
  std::weak_ptr<NamespaceImpl> weak = ns;
  client_->command(std::move(argv), [this, weak, args_with_event, opts](Result<RedisReply> r) {
    std::optional<std::string> offset;
    if (r.ok() && r->type == RedisReply::Type::kString) {
      if (auto id = st::parse_offset(r->str)) {
        std::lock_guard<std::mutex> lock(stream_mu_);
        if (own_acked_ < *id) own_acked_ = *id;
        offset = r->str;
      }
    }
    // Redis could not take it (down, or an error): delivered here all the same, without an
    // offset (a client that drops cannot get it back, but never waits for Redis).
    if (auto target = weak.lock()) target->deliver(args_with_event, opts, offset);
  });
}

std::string Cluster::stream_position() const {
  std::lock_guard<std::mutex> lock(stream_mu_);
  return st::to_string(cursor_ < own_acked_ ? own_acked_ : cursor_);
}

// ---------------------------------------------------------------------------------------
// Sessions

void Cluster::persist_session(const st::Session& session, const std::string& offset, std::uint32_t ttl_ms) {
  st::Session s = session;
  s.offset = offset;
  client_->command({"SET", st::session_key(options_.session_key_prefix, s.pid), st::encode_session(s), "PX",
                    std::to_string(std::max<std::uint32_t>(1, ttl_ms))},
                   [](Result<RedisReply>) {});
}

void Cluster::restore_session(const std::shared_ptr<NamespaceImpl>& ns, const std::string& pid,
                              const std::optional<std::string>& offset, std::size_t max_replayed,
                              std::function<void(std::optional<StreamRestore>, std::string why)> done) {
  // GETDEL (Redis 6.2+) takes the session once: a second restore of it finds nothing.
  std::string ns_name = ns->name;
  client_->command({"GETDEL", st::session_key(options_.session_key_prefix, pid)}, [this, ns_name, pid, offset,
                                                                                   max_replayed,
                                                                                   done](Result<RedisReply> r) {
    if (!r.ok()) return done(std::nullopt, r.error().message);
    if (r->type == RedisReply::Type::kNil) return done(std::nullopt, "no such session (unknown, expired or restored)");
    if (r->type != RedisReply::Type::kString) return done(std::nullopt, "GETDEL: " + r->str);
    auto session = st::decode_session(r->str, server_->options.limits);
    if (!session) return done(std::nullopt, "a session that does not decode: " + session.error().message);
    if (session->pid != pid) return done(std::nullopt, "a session of another pid");
    std::string start_text = offset ? *offset : session->offset.value_or("");
    auto start = st::parse_offset(start_text);
    if (!start) return done(std::nullopt, start_text.empty() ? "no offset" : "an offset that is not a stream id");
    auto restore = std::make_shared<StreamRestore>();
    restore->session = std::move(*session);
    restore->start = start_text;
    restore->fetched_to = *start;
    auto fetch = [this, restore, ns_name, start, max_replayed, done] {
      auto from = st::next_id(*start);
      if (!from) return done(std::move(*restore), std::string());
      fetch_missed(restore, ns_name, *from, max_replayed, [restore, done](bool ok, std::string why) {
        if (!ok) return done(std::nullopt, why);
        done(std::move(*restore), std::string());
      });
    };
    if (start->ms == 0 && start->seq == 0) return fetch();  // the stream was empty when it connected
    // The offset must still be in the stream: otherwise what followed it may be trimmed away.
    client_->command({"XRANGE", options_.stream_name, start_text, start_text}, [fetch, done](Result<RedisReply> range) {
      if (!range.ok()) return done(std::nullopt, range.error().message);
      if (range->type != RedisReply::Type::kArray || range->elements.empty())
        return done(std::nullopt, "the offset is no longer in the stream");
      fetch();
    });
  });
}

void Cluster::fetch_missed(std::shared_ptr<StreamRestore> restore, std::string ns_name, st::StreamId from,
                           std::size_t max_replayed, std::function<void(bool ok, std::string why)> done) {
  client_->command(
      {"XRANGE", options_.stream_name, st::to_string(from), "+", "COUNT", std::to_string(kRangeCount)},
      [this, restore, ns_name, max_replayed, done](Result<RedisReply> r) {
        if (!r.ok()) return done(false, r.error().message);
        if (r->type != RedisReply::Type::kArray) return done(false, "XRANGE: " + r->str);
        std::size_t n = 0;
        bool over = false;
        for_each_entry(*r, [&](const std::string& id, const std::vector<std::string>& flat) {
          auto parsed = st::parse_offset(id);
          if (!parsed || over) return;
          ++n;
          restore->fetched_to = *parsed;
          auto m = st::decode_entry(flat, server_->options.limits);
          if (!m || !st::should_replay(*m, ns_name, restore->session.rooms)) return;
          if (restore->missed.size() >= max_replayed) {
            over = true;
            return;
          }
          Array data = std::get<st::BroadcastData>(m->data).packet.data;
          data.emplace_back(id);
          restore->missed.emplace_back(*parsed, std::move(data));
          if (m->uid == uid_) restore->own.insert(restore->missed.size() - 1);
        });
        if (over) {
          return done(false, "more than " + std::to_string(max_replayed) + " missed packets (max_replayed_packets)");
        }
        if (n < kRangeCount) return done(true, std::string());
        auto next = st::next_id(restore->fetched_to);
        if (!next) return done(true, std::string());
        fetch_missed(restore, ns_name, *next, max_replayed, done);
      });
}

void Cluster::complete_restore(std::shared_ptr<StreamRestore> restore, std::string ns_name, std::size_t max_replayed,
                               std::function<void(std::optional<std::vector<Array>>)> attach) {
  client_->post([this, restore, ns_name, max_replayed, attach] {
    st::StreamId cursor, own;
    {
      std::lock_guard<std::mutex> lock(stream_mu_);
      cursor = cursor_;
      own = own_acked_;
    }
    const st::StreamId delivered = cursor < own ? own : cursor;
    auto next = st::next_id(restore->fetched_to);
    if (restore->fetched_to < delivered && next) {
      // This node delivered entries the restore has not read yet: read up to them first.
      st::StreamId before = restore->fetched_to;
      fetch_missed(restore, ns_name, *next, max_replayed,
                   [this, restore, ns_name, max_replayed, attach, before, delivered](bool ok, std::string why) {
                     if (!ok) {
                       log(LogLevel::kDebug, "session not recovered: " + why);
                       return attach(std::nullopt);
                     }
                     if (!(before < restore->fetched_to)) {  // nothing more to read (trimmed meanwhile): as it is
                       restore->fetched_to = delivered;
                     }
                     complete_restore(restore, ns_name, max_replayed, attach);
                   });
      return;
    }
    // Replayed: what this node has delivered (the socket was not in its rooms yet). Later
    // entries reach it live once attached, which happens here, before any other delivery.
    std::vector<Array> missed;
    missed.reserve(restore->missed.size());
    for (std::size_t i = 0; i < restore->missed.size(); ++i) {
      const st::StreamId& id = restore->missed[i].first;
      bool delivered_here = restore->own.count(i) ? id <= own : id <= cursor;
      if (delivered_here) missed.push_back(std::move(restore->missed[i].second));
    }
    attach(std::move(missed));
  });
}

}  // namespace chorus
