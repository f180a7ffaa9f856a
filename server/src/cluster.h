// The Redis adapter: this node's side of a cluster of Chorus and Node socket.io nodes sharing
// rooms through Redis, with the protocol of @socket.io/redis-adapter 8 (classic pub/sub; core:
// chorus/cluster/redis_adapter.h) or of @socket.io/redis-streams-adapter 0.3 (streams; core:
// chorus/cluster/streams_adapter.h). Local work (rooms, delivery) stays with each namespace's
// in-memory Adapter; this class carries what crosses nodes: broadcasts out and in, the requests
// (fetch, join/leave/disconnect, server-side emits, broadcasts with acks, all rooms) and their
// answers, and in the streams mode the sessions of connection state recovery.
//
// The streams mode (cluster_streams.cpp): broadcasts, joins, leaves and disconnects are entries
// of one Redis stream that every node reads (XREAD BLOCK on a connection of its own); requests
// and responses go over pub/sub. A recoverable broadcast is delivered here once Redis has given
// its entry id, which each client gets as the offset; the other nodes deliver it as they read
// it. What this node has delivered is therefore exactly: the entries up to its read cursor, and
// its own entries up to the last id Redis gave it. A restore replays exactly those of the
// missed entries, on the Redis thread where every delivery of the mode happens, and the rest
// reach the restored socket live: each packet once, none lost.
//
// Threads: outgoing calls come from any thread; everything received runs on the Redis
// client's thread (redis_client.h), including handlers of server-side events.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "chorus/cluster/redis_adapter.h"
#include "chorus/cluster/streams_adapter.h"
#include "chorus/server.h"
#include "redis_client.h"
#include "timer_queue.h"

namespace chorus {

class ServerImpl;
class NamespaceImpl;
class Socket;

// A session found in Redis (streams mode), and the packets its client missed, each [event,
// ...args, offset], read up to `fetched_to`.
struct StreamRestore {
  cluster::streams::Session session;
  std::vector<std::pair<cluster::streams::StreamId, Array>> missed;  // by entry id, in order
  std::set<std::size_t> own;                                         // indexes in `missed` of this node's own entries
  cluster::streams::StreamId fetched_to;
  std::string start;  // the offset the replay started after
};

cluster::Opts to_wire(const BroadcastOptions& o);
// What arrives from another node: delivered here only (local).
BroadcastOptions from_wire(const cluster::Opts& w);

class Cluster {
 public:
  Cluster(ServerImpl* server, RedisAdapterOptions options);
  ~Cluster();
  Status start();  // a bad URL is an error
  void connect();  // starts connecting (an unreachable Redis is retried: README)
  void stop();
  bool connected() const { return client_ && client_->connected(); }
  bool streams() const { return options_.adapter == RedisAdapterOptions::Kind::kStreams; }

  const std::string& uid() const { return uid_; }
  bool on_redis_thread() const { return client_ && client_->on_redis_thread(); }

  // Subscribes to a namespace's channels (every namespace with sockets, not parents).
  void add_namespace(const std::shared_ptr<NamespaceImpl>& ns);

  // Outgoing. `args_with_event` is [event, ...args].
  void publish_broadcast(const NamespaceImpl& ns, const Array& args_with_event, const BroadcastOptions& opts);
  void publish_join_leave(const NamespaceImpl& ns, const BroadcastOptions& opts, const std::vector<std::string>& rooms,
                          bool join);
  void publish_disconnect(const NamespaceImpl& ns, const BroadcastOptions& opts, bool close);
  void server_side_emit(const NamespaceImpl& ns, const Array& args_with_event);

  // Requests answered by every other node. `expected` is the number of other nodes (from
  // PUBSUB NUMSUB at request time); each callback runs once.
  using ValuesDone = std::function<void(std::optional<AckError>, Array)>;
  void fetch_sockets(const std::shared_ptr<NamespaceImpl>& ns, const BroadcastOptions& opts,
                     std::function<void(std::optional<AckError>, std::vector<RemoteSocket>)> done);
  void server_side_emit_with_ack(const NamespaceImpl& ns, const Array& args_with_event, std::uint32_t timeout_ms,
                                 ValuesDone done);
  void all_rooms(const NamespaceImpl& ns, std::function<void(std::optional<AckError>, std::set<std::string>)> done);
  // Broadcast with acks to the other nodes' clients: `on_servers` gets the number of other
  // nodes (or nullopt when Redis cannot say), `on_count` each node's client count, `on_ack`
  // each client's first ack argument.
  void broadcast_with_ack(const NamespaceImpl& ns, const Array& args_with_event, const BroadcastOptions& opts,
                          std::uint32_t timeout_ms, std::function<void(std::optional<long long>)> on_servers,
                          std::function<void(std::uint64_t)> on_count, std::function<void(Value)> on_ack);

  RedisClient::Stats stats() const;

  // --- The streams mode (cluster_streams.cpp) ---
  // A broadcast of `ns`: written to the stream, then delivered here. With `offsets` (connection
  // state recovery), a non-volatile one is delivered once Redis gave its entry id, which it
  // carries as its offset; otherwise (and when Redis cannot take it) it is delivered at once.
  void stream_broadcast(const std::shared_ptr<NamespaceImpl>& ns, const Array& args_with_event,
                        const BroadcastOptions& opts, bool offsets);
  // The last entry id this node has delivered ("0-0" before any): a socket connecting now has
  // seen everything up to it.
  std::string stream_position() const;
  // Keeps a session in Redis for `ttl_ms` (SET <prefix><pid> ... PX ttl_ms). `offset`, the
  // stream position when the socket connected, is an extra field of the session, which lets
  // a client that never received an event recover too.
  void persist_session(const cluster::streams::Session& session, const std::string& offset, std::uint32_t ttl_ms);
  // Takes a session out of Redis (once: MULTI GET DEL) and reads the entries its client missed
  // after `offset` (or, when the client has none, after the session's own offset). `done`
  // runs on the Redis thread with the session, or nullopt and why not (unknown or expired
  // session, an offset no longer in the stream, more than `max_replayed` missed packets).
  void restore_session(const std::shared_ptr<NamespaceImpl>& ns, const std::string& pid,
                       const std::optional<std::string>& offset, std::size_t max_replayed,
                       std::function<void(std::optional<StreamRestore>, std::string why)> done);
  // On the Redis thread, with no delivery in between: reads what came after `restore` up to
  // what this node has delivered, then runs `attach(missed)` with the packets to replay (each
  // [event, ...args, offset]); entries past them reach the socket live once attached.
  void complete_restore(std::shared_ptr<StreamRestore> restore, std::string ns_name, std::size_t max_replayed,
                        std::function<void(std::optional<std::vector<Array>>)> attach);

 private:
  struct Pending;
  void on_message(std::string_view channel, std::string_view pattern, std::string_view payload);
  void on_broadcast(const std::shared_ptr<NamespaceImpl>& ns, std::string_view room, std::string_view payload);
  void on_request(const std::shared_ptr<NamespaceImpl>& ns, std::string_view payload);
  void on_response(std::string_view payload);
  void ignored(const char* what, const std::string& why);  // a message that does not decode
  std::shared_ptr<NamespaceImpl> find_namespace(const std::string& nsp);
  // Counts the other nodes (PUBSUB NUMSUB), then sends `request` and waits for their
  // responses until `timeout_ms`.
  void send_request(const NamespaceImpl& ns, cluster::Request request, std::shared_ptr<Pending> pending,
                    std::uint32_t timeout_ms);
  std::string new_request_id();
  void handle_request(const std::shared_ptr<NamespaceImpl>& ns, cluster::Request& r, const std::string& requester);
  void handle_response(const cluster::Response& response);
  void reply(const NamespaceImpl& ns, const std::string& requester, const cluster::Response& response);
  void publish_request(const NamespaceImpl& ns, const cluster::Request& request);

  // Streams mode (Redis thread unless said).
  void stream_up();  // on every (re)connection: find the stream's end, then read
  void read_stream(std::uint64_t generation);
  void on_stream_entries(const RedisReply& reply);
  void on_stream_entry(const std::string& id, const std::vector<std::string>& flat);
  void on_pubsub(std::string_view channel, std::string_view payload);
  void stream_write(const cluster::streams::ClusterMessage& message);  // any thread; no reply awaited
  void fetch_missed(std::shared_ptr<StreamRestore> restore, std::string ns_name, cluster::streams::StreamId from,
                    std::size_t max_replayed, std::function<void(bool ok, std::string why)> done);

  ServerImpl* server_;
  RedisAdapterOptions options_;
  std::string uid_;
  std::unique_ptr<RedisClient> client_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<NamespaceImpl>> namespaces_;
  std::unordered_map<std::string, std::shared_ptr<Pending>> pending_;  // by request id
  std::atomic<std::uint64_t> request_counter_{0};
  std::uint64_t ignored_total_ = 0;  // messages that did not decode (under mu_)
  std::uint64_t ignored_unlogged_ = 0;
  std::uint64_t ignored_logged_at_ = 0;

  // Streams mode. The read cursor and the last own entry id (Redis thread writes; other
  // threads read the position under stream_mu_).
  mutable std::mutex stream_mu_;
  bool cursor_known_ = false;
  cluster::streams::StreamId cursor_;
  cluster::streams::StreamId own_acked_;
  std::uint64_t read_generation_ = 0;  // Redis thread
};

}  // namespace chorus
