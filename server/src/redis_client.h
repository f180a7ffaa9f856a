// A node's connections to Redis (hiredis's asynchronous API): one for commands and
// publishing, an optional one for blocking reads (XREAD BLOCK), exactly one for subscriptions (PUBSUB NUMSUB counts
// subscriber connections, and the Socket.IO Redis adapter protocol counts nodes with it). All Redis I/O runs on one
// thread of its own ("chorus-redis", a poll() loop); every public method is safe from any thread and never blocks on
// the network. A thread of its own rather than Chorus's event loops: hiredis's asynchronous contexts want one owner
// thread, and a Redis that stalls, or a burst of messages from it, then never delays the sockets of Chorus's clients. A
// host name is resolved (getaddrinfo) on that thread at each connection attempt; an IP address costs nothing.
//
// Faults: a connection that cannot be made or that drops is retried with backoff
// (reconnect_min_ms doubling up to reconnect_max_ms); on reconnect, AUTH, SELECT and every
// subscription are sent again, then on_up runs. Publishes while Redis is down, or past
// max_pending_bytes waiting to be written, are dropped and counted (stats().dropped): a
// publisher never waits for Redis.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/error.h"

namespace chorus {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string username;  // AUTH username password (Redis 6 ACL) when both are set
  std::string password;  // AUTH password when only this is set
};
// redis://[[username]:password@]host[:port][/db]; also [::1] hosts. Errors name what is wrong.
Result<RedisEndpoint> parse_redis_url(std::string_view url);

// A reply, as hiredis gives it.
struct RedisReply {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  long long integer = 0;
  std::string str;                   // kString, kStatus, kError
  std::vector<RedisReply> elements;  // kArray
};

class RedisClient {
 public:
  struct Options {
    RedisEndpoint endpoint;
    std::uint32_t connect_timeout_ms = 2'000;
    std::uint32_t reconnect_min_ms = 100;
    std::uint32_t reconnect_max_ms = 5'000;
    // Bytes waiting to be written to Redis (channel + payload of publishes not yet handed to
    // hiredis, plus hiredis's unwritten output on the command connection) past which publish()
    // drops.
    std::size_t max_pending_bytes = std::size_t{64} << 20;
    // A third connection for blocking commands (XREAD BLOCK), so that they never hold up the
    // command connection: blocking_command() needs it.
    bool blocking_connection = false;
  };
  struct Handlers {
    // A message on a subscribed channel (`pattern` empty) or pattern. On the Redis thread.
    std::function<void(std::string_view channel, std::string_view pattern, std::string_view payload)> on_message;
    // Every connection is up and every subscription is confirmed (first time and after every
    // reconnect). On the Redis thread.
    std::function<void()> on_up;
    // A connection was lost or could not be made (`why` says which and how). On the Redis thread.
    std::function<void(const std::string& why)> on_down;
  };
  struct Stats {
    std::uint64_t published = 0;   // publishes Redis answered
    std::uint64_t dropped = 0;     // publishes dropped (down, past max_pending_bytes, or lost in a drop)
    std::uint64_t received = 0;    // messages received on subscriptions
    std::uint64_t reconnects = 0;  // successful connections after the first
  };

  RedisClient(Options options, Handlers handlers);
  ~RedisClient();  // stop()
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  void start();  // starts the thread and the first connection attempt; returns at once
  // Closes both connections (commands waiting for a reply get their error) and joins the
  // thread; idempotent. No handler or callback runs after it returns. Called from the Redis
  // thread itself, it only asks the loop to end (the destructor, on another thread, joins).
  // When start() never ran, commands already given fail here, on this thread, and posted
  // functions are dropped.
  void stop();

  // Kept across reconnects; sent at once when connected.
  void subscribe(std::string channel);
  void psubscribe(std::string pattern);
  void unsubscribe(std::string channel);
  void punsubscribe(std::string pattern);

  // PUBLISH, in order with every other publish. False (and counted as dropped) when not
  // connected or past max_pending_bytes.
  bool publish(std::string channel, std::string payload);
  // Any command (binary-safe arguments). `done` runs on the Redis thread with the reply (a
  // Redis error is a reply of type kError), or with an error when not connected or the
  // connection drops first. Refused at once, on the calling thread: no arguments, a command
  // that would turn the command connection into a subscriber (SUBSCRIBE & co, MONITOR, RESET),
  // any command after stop().
  void command(std::vector<std::string> argv, std::function<void(Result<RedisReply>)> done);
  // A command on the blocking connection (Options::blocking_connection), in order with the
  // others sent there: for commands that wait (XREAD BLOCK). Same contract as command().
  void blocking_command(std::vector<std::string> argv, std::function<void(Result<RedisReply>)> done);
  // PUBSUB NUMSUB channel: the subscriber count, or nullopt when it failed.
  void numsub(std::string channel, std::function<void(std::optional<long long>)> done);

  // Runs `fn` on the Redis thread, after work posted before it (dropped after stop()).
  void post(std::function<void()> fn);
  bool on_redis_thread() const;
  bool connected() const;  // every connection up and subscriptions confirmed
  Stats stats() const;

 private:
  struct Impl;
  void send_command(bool blocking, std::vector<std::string> argv, std::function<void(Result<RedisReply>)> done);
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus
