// The Redis adapter: this node's side of a cluster of Chorus and Node socket.io nodes sharing
// rooms through Redis with the protocol of @socket.io/redis-adapter 8 (classic pub/sub; core:
// chorus/cluster/redis_adapter.h). Local work (rooms, delivery) stays with each namespace's
// in-memory Adapter; this class carries what crosses nodes: broadcasts out and in, the requests
// (fetch, join/leave/disconnect, server-side emits, broadcasts with acks, all rooms) and their
// answers.
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
#include "chorus/server.h"
#include "redis_client.h"
#include "timer_queue.h"

namespace chorus {

class ServerImpl;
class NamespaceImpl;

class Cluster {
 public:
  Cluster(ServerImpl* server, RedisAdapterOptions options);
  ~Cluster();
  Status start();  // a bad URL is an error
  void connect();  // starts connecting (an unreachable Redis is retried: README)
  void stop();
  bool connected() const { return client_ && client_->connected(); }

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

 private:
  struct Pending;
  void on_message(std::string_view channel, std::string_view pattern, std::string_view payload);
  void on_broadcast(const std::shared_ptr<NamespaceImpl>& ns, std::string_view room, std::string_view payload);
  void on_request(const std::shared_ptr<NamespaceImpl>& ns, std::string_view payload);
  void on_response(std::string_view payload);
  void reply(const NamespaceImpl& ns, const cluster::Response& response);
  void ignored(const char* what, const std::string& why);  // a message that does not decode
  std::shared_ptr<NamespaceImpl> find_namespace(const std::string& nsp);
  // Counts the other nodes (PUBSUB NUMSUB), then sends `request` and waits for their
  // responses until `timeout_ms`.
  void send_request(const NamespaceImpl& ns, cluster::Request request, std::shared_ptr<Pending> pending,
                    std::uint32_t timeout_ms);
  std::string new_request_id();

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
};

}  // namespace chorus
