// RedisClient against real redis-server processes: each test starts its own on 127.0.0.1 at a
// free port (CHORUS_REDIS_SERVER, --save "" --appendonly no) and kills it at the end. What the
// client did is checked through a connection of the test's own (hiredis, blocking).
#include "redis_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace chorus {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Generous: the machine is shared and the build has sanitizers. Waits end as soon as the
// condition holds.
constexpr auto kDeadline = 30s;

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A reply from the test's own blocking connection.
using SyncReply = std::unique_ptr<redisReply, void (*)(void*)>;

class SyncRedis {
 public:
  explicit SyncRedis(int port, const std::string& password = "") {
    c_ = redisConnect("127.0.0.1", port);
    if (!password.empty() && c_ && !c_->err) run({"AUTH", password});
  }
  ~SyncRedis() {
    if (c_) redisFree(c_);
  }
  bool ok() const { return c_ && !c_->err; }
  SyncReply run(const std::vector<std::string>& argv) {
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const std::string& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    void* r = ok() ? redisCommandArgv(c_, static_cast<int>(argv.size()), args.data(), lens.data()) : nullptr;
    return SyncReply(static_cast<redisReply*>(r), freeReplyObject);
  }
  std::string str(const std::vector<std::string>& argv) {
    SyncReply r = run(argv);
    if (!r) return "<no reply>";
    if (r->type == REDIS_REPLY_NIL) return "<nil>";
    if (r->type == REDIS_REPLY_INTEGER) return std::to_string(r->integer);
    if (r->str) return std::string(r->str, r->len);
    return "<array>";
  }

 private:
  redisContext* c_ = nullptr;
};

// A redis-server child process.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {}
  ~RedisServer() { kill9(); }

  // On a free port (tries another if that one was taken meanwhile).
  void start() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (start_on(free_port())) return;
    }
    ADD_FAILURE() << "redis-server did not start";
  }
  // On `port`; false if it exits before answering.
  bool start_on(int port) {
    port_ = port;
    std::vector<std::string> args = {CHORUS_REDIS_SERVER,
                                     "--port",
                                     std::to_string(port),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     "/tmp",
                                     "--daemonize",
                                     "no",
                                     "--logfile",
                                     ""};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid_, CHORUS_REDIS_SERVER, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      return false;
    }
    auto until = Clock::now() + kDeadline;
    while (Clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      SyncRedis probe(port);
      if (probe.ok() && probe.run({"PING"})) return true;  // PONG, or NOAUTH: it answers
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  int port() const { return port_; }

 private:
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A socket that accepts connections (the kernel does) and never answers.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

struct Message {
  std::string channel, pattern, payload;
};

// What the handlers saw. Every handler checks that it runs on the Redis thread and never after
// stop() returned.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Message> messages;
  int ups = 0;
  std::vector<std::string> downs;
  std::atomic<bool> stopped{false};
  std::atomic<int> late{0};
  RedisClient* client = nullptr;
  std::atomic<int> off_thread{0};

  void check() {
    if (stopped) ++late;
    if (client && !client->on_redis_thread()) ++off_thread;
  }
  RedisClient::Handlers handlers() {
    RedisClient::Handlers h;
    h.on_message = [this](std::string_view channel, std::string_view pattern, std::string_view payload) {
      check();
      std::lock_guard<std::mutex> lock(mu);
      messages.push_back(Message{std::string(channel), std::string(pattern), std::string(payload)});
      cv.notify_all();
    };
    h.on_up = [this] {
      check();
      std::lock_guard<std::mutex> lock(mu);
      ++ups;
      cv.notify_all();
    };
    h.on_down = [this](const std::string& why) {
      check();
      std::lock_guard<std::mutex> lock(mu);
      downs.push_back(why);
      cv.notify_all();
    };
    return h;
  }
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = kDeadline) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, pred);
  }
  std::size_t message_count() {
    std::lock_guard<std::mutex> lock(mu);
    return messages.size();
  }
  int up_count() {
    std::lock_guard<std::mutex> lock(mu);
    return ups;
  }
  std::size_t down_count() {
    std::lock_guard<std::mutex> lock(mu);
    return downs.size();
  }
  std::string last_down() {
    std::lock_guard<std::mutex> lock(mu);
    return downs.empty() ? "" : downs.back();
  }
};

RedisClient::Options options_for(int port) {
  RedisClient::Options o;
  o.endpoint.port = port;
  o.reconnect_min_ms = 20;
  o.reconnect_max_ms = 200;
  o.connect_timeout_ms = 10'000;
  return o;
}

// Polls `pred` until it holds or the deadline passes.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = kDeadline) {
  auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// A command's result, waited for.
struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<RedisReply>> result;
  std::function<void(Result<RedisReply>)> callback() {
    return [this](Result<RedisReply> r) {
      std::lock_guard<std::mutex> lock(mu);
      result.emplace(std::move(r));
      cv.notify_all();
    };
  }
  bool wait(std::chrono::milliseconds timeout = kDeadline) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, [&] { return result.has_value(); });
  }
};

Result<RedisReply> run_command(RedisClient& client, std::vector<std::string> argv) {
  Pending p;
  client.command(std::move(argv), p.callback());
  EXPECT_TRUE(p.wait());
  if (!p.result) return make_error(ErrorCode::kProtocol, "no answer");
  return std::move(*p.result);
}

std::optional<long long> numsub(RedisClient& client, const std::string& channel) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::optional<long long> out;
  client.numsub(channel, [&](std::optional<long long> n) {
    std::lock_guard<std::mutex> lock(mu);
    out = n;
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, kDeadline, [&] { return done; }));
  return out;
}

// ---------------------------------------------------------------------------------------------

TEST(RedisUrl, GoodForms) {
  auto a = parse_redis_url("redis://127.0.0.1:6390");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6390);
  EXPECT_EQ(a->db, 0);
  EXPECT_EQ(a->username, "");
  EXPECT_EQ(a->password, "");

  auto b = parse_redis_url("redis://redis.internal");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "redis.internal");
  EXPECT_EQ(b->port, 6379);

  auto c = parse_redis_url("redis://h:1/15");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->port, 1);
  EXPECT_EQ(c->db, 15);

  auto d = parse_redis_url("redis://:s3cret@h/");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->username, "");
  EXPECT_EQ(d->password, "s3cret");
  EXPECT_EQ(d->db, 0);

  auto e = parse_redis_url("redis://alice:p%40ss%3Aw%2Fd@h:65535/2147483647");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->username, "alice");
  EXPECT_EQ(e->password, "p@ss:w/d");
  EXPECT_EQ(e->port, 65535);
  EXPECT_EQ(e->db, 2147483647);

  auto f = parse_redis_url("redis://[::1]:6380/1");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->host, "::1");
  EXPECT_EQ(f->port, 6380);
  EXPECT_EQ(f->db, 1);

  auto g = parse_redis_url("redis://[::1]");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->host, "::1");
  EXPECT_EQ(g->port, 6379);

  auto h = parse_redis_url("redis://a:b@c@h");  // the last '@' ends the user info
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->username, "a");
  EXPECT_EQ(h->password, "b@c");
  EXPECT_EQ(h->host, "h");
}

TEST(RedisUrl, EveryErrorSaysWhatIsWrong) {
  struct Case {
    const char* url;
    const char* says;
  };
  const Case cases[] = {
      {"", "scheme must be redis://"},
      {"http://h:6379", "scheme must be redis://"},
      {"REDIS://h", "scheme must be redis://"},
      {"rediss://h", "TLS (rediss://) is not supported"},
      {"redis://", "no host"},
      {"redis://:6379", "no host"},
      {"redis://:pw@", "no host"},
      {"redis://h:", "port \"\" is not a number"},
      {"redis://h:abc", "port \"abc\" is not a number"},
      {"redis://h:0", "port \"0\" is not a number from 1 to 65535"},
      {"redis://h:65536", "port \"65536\""},
      {"redis://h:-1", "port \"-1\""},
      {"redis://h:99999999999", "port \"99999999999\""},
      {"redis://h/abc", "database \"abc\" is not a number"},
      {"redis://h/-1", "database \"-1\""},
      {"redis://h/2147483648", "database \"2147483648\""},
      {"redis://h/1/2", "database \"1/2\""},
      {"redis://[::1", "'[' without ']'"},
      {"redis://[::1]x", "not :port"},
      {"redis://[]:6379", "empty host"},
      {"redis://h]:1", "'[' or ']' in the host"},
      {"redis://alice@h", "no ':' before the password"},
      {"redis://alice:@h", "empty password"},
      {"redis://:%zz@h", "bad %-escape"},
      {"redis://:ab%4@h", "bad %-escape"},
      {"redis://h?db=1", "query strings and fragments"},
      {"redis://h#x", "query strings and fragments"},
      {"redis://h h", "spaces or control characters"},
      {"redis://h\n", "spaces or control characters"},
  };
  for (const Case& c : cases) {
    auto r = parse_redis_url(c.url);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << c.url << " -> " << r.error().message;
    EXPECT_NE(r.error().message.find("redis://[[username]:password@]host[:port][/db]"), std::string::npos);
  }
}

TEST(RedisClient, PublishSubscribeRoundTrip) {
  RedisServer server;
  server.start();
  Recorder rec;
  {
    RedisClient client(options_for(server.port()), rec.handlers());
    rec.client = &client;
    client.subscribe("chat");
    client.start();
    ASSERT_TRUE(rec.wait([&] { return rec.ups == 1; })) << rec.last_down();
    EXPECT_TRUE(client.connected());

    EXPECT_TRUE(client.publish("chat", "hello"));
    ASSERT_TRUE(rec.wait([&] { return rec.messages.size() == 1; }));
    EXPECT_EQ(rec.messages[0].channel, "chat");
    EXPECT_EQ(rec.messages[0].pattern, "");
    EXPECT_EQ(rec.messages[0].payload, "hello");

    // From another Redis client, and a channel not subscribed to does not arrive.
    SyncRedis other(server.port());
    EXPECT_EQ(other.str({"PUBLISH", "elsewhere", "x"}), "0");
    EXPECT_EQ(other.str({"PUBLISH", "chat", "from outside"}), "1");
    ASSERT_TRUE(rec.wait([&] { return rec.messages.size() == 2; }));
    EXPECT_EQ(rec.messages[1].payload, "from outside");

    ASSERT_TRUE(eventually([&] { return client.stats().published == 1; }));
    RedisClient::Stats s = client.stats();
    EXPECT_EQ(s.dropped, 0u);
    EXPECT_EQ(s.received, 2u);
    EXPECT_EQ(s.reconnects, 0u);

    // Unsubscribed: Redis counts no receiver any more.
    client.unsubscribe("chat");
    ASSERT_TRUE(eventually([&] { return other.str({"PUBLISH", "chat", "gone"}) == "0"; }));

    client.stop();
    rec.stopped = true;
    EXPECT_FALSE(client.connected());
    EXPECT_FALSE(client.publish("chat", "after stop"));
    EXPECT_EQ(other.str({"PUBLISH", "chat", "after stop"}), "0");  // its connections are closed
  }
  EXPECT_EQ(rec.late.load(), 0);
  EXPECT_EQ(rec.off_thread.load(), 0);
  EXPECT_EQ(rec.down_count(), 0u);  // stop() is not a loss
}

TEST(RedisClient, PatternSubscription) {
  RedisServer server;
  server.start();
  Recorder rec;
  RedisClient client(options_for(server.port()), rec.handlers());
  client.psubscribe("news.*");
  client.start();
  ASSERT_TRUE(rec.wait([&] { return rec.ups == 1; })) << rec.last_down();
  SyncRedis other(server.port());
  EXPECT_EQ(other.str({"PUBLISH", "sport", "no"}), "0");
  EXPECT_TRUE(client.publish("news.sport", "goal"));
  ASSERT_TRUE(rec.wait([&] { return rec.messages.size() == 1; }));
  EXPECT_EQ(rec.messages[0].channel, "news.sport");
  EXPECT_EQ(rec.messages[0].pattern, "news.*");
  EXPECT_EQ(rec.messages[0].payload, "goal");

  client.punsubscribe("news.*");
  ASSERT_TRUE(eventually([&] { return other.str({"PUBLISH", "news.sport", "x"}) == "0"; }));
}

TEST(RedisClient, BinaryPayloadWithNulBytes) {
  RedisServer server;
  server.start();
  Recorder rec;
  RedisClient client(options_for(server.port()), rec.handlers());
  const std::string channel("bin\0chan", 8);
  const std::string pattern("bin\0*", 5);
  std::string payload;
  for (int i = 0; i < 1024; ++i) payload.push_back(static_cast<char>(i % 256));  // NULs, 0xFF, CR LF
  client.subscribe(channel);
  client.psubscribe(pattern);
  client.start();
  ASSERT_TRUE(rec.wait([&] { return rec.ups == 1; })) << rec.last_down();
  EXPECT_TRUE(client.publish(channel, payload));
  ASSERT_TRUE(rec.wait([&] { return rec.messages.size() == 2; }));
  for (const Message& m : rec.messages) {
    EXPECT_EQ(m.channel, channel);
    EXPECT_EQ(m.payload, payload);
  }
  EXPECT_TRUE(rec.messages[0].pattern == pattern || rec.messages[1].pattern == pattern);

  auto set = run_command(client, {"SET", std::string("k\0ey", 4), payload});
  ASSERT_TRUE(set.ok()) << set.error().message;
  auto got = run_command(client, {"GET", std::string("k\0ey", 4)});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->type, RedisReply::Type::kString);
  EXPECT_EQ(got->str, payload);
}

TEST(RedisClient, TenThousandPublishesArriveInOrder) {
  RedisServer server;
  server.start();
  Recorder rec;
  RedisClient client(options_for(server.port()), rec.handlers());
  client.subscribe("seq");
  client.start();
  ASSERT_TRUE(rec.wait([&] { return rec.ups == 1; })) << rec.last_down();
  constexpr int kCount = 10'000;
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(client.publish("seq", std::to_string(i)));
  ASSERT_TRUE(rec.wait([&] { return rec.messages.size() == kCount; }, 120s)) << rec.message_count();
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(rec.messages[i].payload, std::to_string(i)) << i;
  ASSERT_TRUE(eventually([&] { return client.stats().published == kCount; }));
  EXPECT_EQ(client.stats().dropped, 0u);
  EXPECT_EQ(client.stats().received, static_cast<std::uint64_t>(kCount));
}

TEST(RedisClient, NumsubCountsExactlyOneSubscriberConnection) {
  RedisServer server;
  server.start();
  Recorder rec;
  RedisClient client(options_for(server.port()), rec.handlers());
  client.subscribe("socket.io-request#/#");
  client.psubscribe("socket.io#/#*");
  client.start();
  ASSERT_TRUE(rec.wait([&] { return rec.ups == 1; })) << rec.last_down();
  EXPECT_EQ(numsub(client, "socket.io-request#/#"), 1);
  EXPECT_EQ(numsub(client, "nobody"), 0);
  SyncRedis other(server.port());
  EXPECT_EQ(other.str({"PUBSUB", "NUMPAT"}), "1");

  // Subscribing again changes nothing; unsubscribing brings the count to 0.
  client.subscribe("socket.io-request#/#");
  client.unsubscribe("socket.io-request#/#");
  ASSERT_TRUE(eventually([&] { return numsub(client, "socket.io-request#/#") == 0; }));
  // Subscribe, unsubscribe and subscribe again in a row: subscribed at the end.
  client.subscribe("again");
  client.unsubscribe("again");
  client.subscribe("again");
  ASSERT_TRUE(eventually([&] { return numsub(client, "again") == 1; }));
  EXPECT_TRUE(client.publish("again", "still here"));
  ASSERT_TRUE(rec.wait([&] { return rec.messages.size() == 1; }));
  EXPECT_EQ(rec.messages[0].payload, "still here");
}

TEST(RedisClient, AuthWithPasswordAndWithUsername) {
  RedisServer server({"--requirepass", "s3cret"});
  server.start();
  for (const char* username : {"", "default"}) {
    Recorder rec;
    RedisClient::Options o = options_for(server.port());
    o.endpoint.username = username;
    o.endpoint.password = "s3cret";
    RedisClient client(o, rec.handlers());
    client.subscribe("c");
    client.start();
    ASSERT_TRUE(rec.wait([&] { return rec.ups == 1; })) << username << ": " << rec.last_down();
    EXPECT_TRUE(client.publish("c", "authed"));
    ASSERT_TRUE(rec.wait([&] { return rec.messages.size() == 1; }));
    EXPECT_EQ(numsub(client, "c"), 1);
  }
}

TEST(RedisClient, WrongOrMissingPasswordGivesOnDownWithReason) {
  RedisServer server({"--requirepass", "s3cret"});
  server.start();
  const std::string where = "127.0.0.1:" + std::to_string(server.port());
  {
    Recorder rec;
    RedisClient::Options o = options_for(server.port());
    o.endpoint.password = "wrong";
    RedisClient client(o, rec.handlers());
    client.start();
    ASSERT_TRUE(rec.wait([&] { return rec.downs.size() >= 2; })) << "retries";
    std::string why = rec.last_down();
    EXPECT_NE(why.find(where), std::string::npos) << why;
    EXPECT_NE(why.find("AUTH failed: WRONGPASS"), std::string::npos) << why;
    EXPECT_EQ(rec.up_count(), 0);
    EXPECT_FALSE(client.connected());
  }
  {
    Recorder rec;
    RedisClient client(options_for(server.port()), rec.handlers());
    client.start();
    ASSERT_TRUE(rec.wait([&] { return rec.downs.size() >= 1; }));
    std::string why = rec.last_down();
    EXPECT_NE(why.find(where), std::string::npos) << why;
    EXPECT_NE(why.find("NOAUTH"), std::string::npos) << why;
  }
}

TEST(RedisClient, SelectsTheDatabase) {
  RedisServer server;
  server.start();
  {
    Recorder rec;
    RedisClient::Options o = options_for(server.port());
    o.endpoint.db = 3;
    RedisClient client(o, rec.handlers());
    client.start();
    ASSERT_TRUE(rec.wait([&] { return rec.ups == 1; })) << rec.last_down();
    auto r = run_command(client, {"SET", "where", "db3"});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->type, RedisReply::Type::kStatus);
    EXPECT_EQ(r->str, "OK");
  }
  SyncRedis other(server.port());
  EXPECT_EQ(other.str({"GET", "where"}), "<nil>");
  EXPECT_EQ(other.str({"SELECT", "3"}), "OK");
  EXPECT_EQ(other.str({"GET", "where"}), "db3");

  // A database the server does not have: on_down says so.
  Recorder rec;
  RedisClient::Options o = options_for(server.port());
  o.endpoint.db = 99;
  RedisClient client(o, rec.handlers());
  client.start();
  ASSERT_TRUE(rec.wait([&] { return rec.downs.size() >= 1; }));
  EXPECT_NE(rec.last_down().find("SELECT 99 failed: ERR DB index is out of range"), std::string::npos)
      << rec.last_down();
}

TEST(RedisClient, CommandRepliesAndErrors) {
  RedisServer server;
  server.start();
  Recorder rec;
  RedisClient client(options_for(server.port()), rec.handlers());

  // Not connected yet (not started): an error naming the server.
  Pending early;
  client.command({"PING"}, early.callback());
  client.start();
  ASSERT_TRUE(early.wait());
  ASSERT_FALSE(early.result->ok());
  EXPECT_NE(early.result->error().message.find("not connected to Redis at 127.0.0.1:"), std::string::npos);

  ASSERT_TRUE(rec.wait([&] { return rec.ups == 1; })) << rec.last_down();
  auto arr = run_command(client, {"MGET", "nope", "nope"});
  ASSERT_TRUE(arr.ok());
  ASSERT_EQ(arr->type, RedisReply::Type::kArray);
  ASSERT_EQ(arr->elements.size(), 2u);
  EXPECT_EQ(arr->elements[0].type, RedisReply::Type::kNil);
  auto num = run_command(client, {"INCRBY", "n", "41"});
  ASSERT_TRUE(num.ok());
  EXPECT_EQ(num->type, RedisReply::Type::kInteger);
  EXPECT_EQ(num->integer, 41);
  auto err = run_command(client, {"NOSUCHCOMMAND"});
  ASSERT_TRUE(err.ok());  // Redis answered: an error reply
  EXPECT_EQ(err->type, RedisReply::Type::kError);
  EXPECT_NE(err->str.find("unknown command"), std::string::npos);

  // Commands that would turn the command connection into a subscriber are refused.
  for (const char* verb : {"SUBSCRIBE", "psubscribe", "UNSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "RESET"}) {
    auto r = run_command(client, {verb, "x"});
    ASSERT_FALSE(r.ok()) << verb;
    EXPECT_NE(r.error().message.find("use subscribe()"), std::string::npos) << r.error().message;
  }
  auto empty = run_command(client, {});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("no arguments"), std::string::npos);
  // Still usable after the refusals.
  EXPECT_TRUE(run_command(client, {"PING"}).ok());

  client.stop();
  Pending after;
  client.command({"PING"}, after.callback());
  ASSERT_TRUE(after.result.has_value());  // at once, on this thread
  EXPECT_FALSE(after.result->ok());
  EXPECT_NE(after.result->error().message.find("stopped"), std::string::npos);
}

TEST(RedisClient, UnreachableAtStartRetriesThenConnects) {
  const int port = free_port();
  Recorder rec;
  RedisClient client(options_for(port), rec.handlers());
  client.subscribe("late");
  testing::internal::CaptureStderr();
  client.start();
  ASSERT_TRUE(rec.wait([&] { return rec.downs.size() >= 4; })) << "retries";
  std::string why = rec.last_down();
  EXPECT_NE(why.find("Redis at 127.0.0.1:" + std::to_string(port)), std::string::npos) << why;
  EXPECT_NE(why.find("refused"), std::string::npos) << why;
  EXPECT_FALSE(client.connected());
  std::uint64_t dropped = client.stats().dropped;
  EXPECT_FALSE(client.publish("late", "nobody hears"));
  EXPECT_EQ(client.stats().dropped, dropped + 1);
  Pending cmd;
  client.command({"PING"}, cmd.callback());
  ASSERT_TRUE(cmd.wait());
  EXPECT_FALSE(cmd.result->ok());

  RedisServer server;
  ASSERT_TRUE(server.start_on(port));
  ASSERT_TRUE(rec.wait([&] { return rec.ups == 1; })) << rec.last_down();
  std::string log = testing::internal::GetCapturedStderr();
  // One warning for the whole outage, however many attempts failed.
  std::size_t warnings = 0;
  for (std::size_t at = log.find("chorus [warn] Redis at"); at != std::string::npos;
       at = log.find("chorus [warn] Redis at", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << log;
  EXPECT_NE(log.find("connected again"), std::string::npos) << log;

  EXPECT_EQ(client.stats().reconnects, 0u);  // the first connection
  EXPECT_TRUE(client.publish("late", "now heard"));
  ASSERT_TRUE(rec.wait([&] { return rec.messages.size() == 1; }));
  EXPECT_EQ(rec.messages[0].payload, "now heard");
}

TEST(RedisClient, RedisRestartReconnectsResubscribesAndDropsWhileDown) {
  RedisServer server;
  server.start();
  Recorder rec;
  RedisClient client(options_for(server.port()), rec.handlers());
  client.subscribe("room");
  client.psubscribe("p.*");
  client.start();
  ASSERT_TRUE(rec.wait([&] { return rec.ups == 1; })) << rec.last_down();
  EXPECT_TRUE(client.publish("room", "before"));
  ASSERT_TRUE(rec.wait([&] { return rec.messages.size() == 1; }));

  // A command pending when Redis dies: BLPOP waits on the server until then.
  Pending blocked;
  client.command({"BLPOP", "never", "0"}, blocked.callback());
  {
    SyncRedis other(server.port());
    ASSERT_TRUE(eventually([&] {
      return other.str({"INFO", "clients"}).find("blocked_clients:1") != std::string::npos;
    }));
  }
  server.kill9();
  ASSERT_TRUE(rec.wait([&] { return rec.downs.size() >= 1; }));
  EXPECT_NE(rec.last_down().find("127.0.0.1:" + std::to_string(server.port())), std::string::npos);
  ASSERT_TRUE(blocked.wait());
  ASSERT_FALSE(blocked.result->ok());
  EXPECT_NE(blocked.result->error().message.find("closed before the reply"), std::string::npos)
      << blocked.result->error().message;

  // While down: publishes are refused at once and counted.
  ASSERT_TRUE(eventually([&] { return !client.connected(); }));
  std::uint64_t dropped = client.stats().dropped;
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(client.publish("room", "while down"));
  EXPECT_EQ(client.stats().dropped, dropped + 1000);

  ASSERT_TRUE(server.start_on(server.port()));
  auto restarted = Clock::now();
  ASSERT_TRUE(rec.wait([&] { return rec.ups == 2; })) << rec.last_down();
  EXPECT_EQ(client.stats().reconnects, 1u);
  EXPECT_TRUE(client.publish("room", "after"));
  EXPECT_TRUE(client.publish("p.x", "pattern after"));
  ASSERT_TRUE(rec.wait([&] { return rec.messages.size() == 3; }));
  auto flowing_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - restarted).count();
  std::printf("messages flow again %lld ms after redis-server answers\n", static_cast<long long>(flowing_ms));
  EXPECT_LT(flowing_ms, 5'000);
  EXPECT_EQ(rec.messages[1].payload, "after");
  EXPECT_EQ(rec.messages[2].payload, "pattern after");
  EXPECT_EQ(rec.messages[2].pattern, "p.*");
  EXPECT_EQ(numsub(client, "room"), 1);  // still exactly one subscriber connection
}

TEST(RedisClient, ConnectTimeoutWhenRedisNeverAnswers) {
  SilentServer silent;
  Recorder rec;
  RedisClient::Options o = options_for(silent.port());
  o.connect_timeout_ms = 200;
  RedisClient client(o, rec.handlers());
  client.start();
  ASSERT_TRUE(rec.wait([&] { return rec.downs.size() >= 2; }));
  EXPECT_NE(rec.last_down().find("no answer within 200 ms (connect_timeout_ms)"), std::string::npos) << rec.last_down();
  EXPECT_EQ(rec.up_count(), 0);
}

// stop() ends the loop at once, whatever it waits for: the numbers below are far longer than
// any test waits, so a stop() that waited for them would be seen.
TEST(RedisClient, StopIsPromptConnectedConnectingOrBackingOff) {
  auto timed_stop = [](RedisClient& client) {
    auto t0 = Clock::now();
    client.stop();
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count() / 1000.0;
  };
  RedisServer server;
  server.start();
  {
    Recorder rec;
    RedisClient client(options_for(server.port()), rec.handlers());
    client.subscribe("c");
    client.start();
    ASSERT_TRUE(rec.wait([&] { return rec.ups == 1; }));
    double ms = timed_stop(client);
    std::printf("stop() connected: %.2f ms\n", ms);
    EXPECT_LT(ms, 2'000);
  }
  {
    SilentServer silent;
    Recorder rec;
    RedisClient::Options o = options_for(silent.port());
    o.connect_timeout_ms = 600'000;
    RedisClient client(o, rec.handlers());
    client.start();
    Pending p;
    client.post([&] { p.callback()(RedisReply{}); });  // the loop is running
    ASSERT_TRUE(p.wait());
    double ms = timed_stop(client);
    std::printf("stop() connecting: %.2f ms\n", ms);
    EXPECT_LT(ms, 2'000);
    EXPECT_EQ(rec.down_count(), 0u);
  }
  {
    Recorder rec;
    RedisClient::Options o = options_for(free_port());
    o.reconnect_min_ms = o.reconnect_max_ms = 600'000;
    RedisClient client(o, rec.handlers());
    client.start();
    ASSERT_TRUE(rec.wait([&] { return rec.downs.size() == 1; }));
    double ms = timed_stop(client);
    std::printf("stop() backing off: %.2f ms\n", ms);
    EXPECT_LT(ms, 2'000);
  }
}

TEST(RedisClient, DestroyWithoutStart) {
  Recorder rec;
  Pending p;
  bool posted_ran = false;
  {
    RedisClient client(options_for(free_port()), rec.handlers());
    client.subscribe("x");
    EXPECT_FALSE(client.publish("x", "y"));
    client.command({"PING"}, p.callback());
    client.post([&] { posted_ran = true; });
    EXPECT_FALSE(client.connected());
  }
  ASSERT_TRUE(p.result.has_value());  // failed when the client went away
  EXPECT_FALSE(p.result->ok());
  EXPECT_FALSE(posted_ran);
  EXPECT_EQ(rec.up_count() + rec.down_count(), 0u);
}

TEST(RedisClient, PostRunsOnTheRedisThreadInOrder) {
  Recorder rec;
  RedisClient client(options_for(free_port()), rec.handlers());
  std::mutex mu;
  std::vector<int> order;
  bool all_on_thread = true;
  for (int i = 0; i < 100; ++i) {
    client.post([&, i] {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(i);
      all_on_thread = all_on_thread && client.on_redis_thread();
    });
  }
  EXPECT_FALSE(client.on_redis_thread());
  client.start();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return order.size() == 100;
  }));
  client.stop();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  EXPECT_TRUE(all_on_thread);
}

// max_pending_bytes: a publish is accepted while the bytes waiting (channel + payload of
// publishes not yet handed to hiredis, plus hiredis's unwritten output) stay at or under it.
TEST(RedisClient, MaxPendingBytesAtAndPastTheLimit) {
  RedisServer server;
  server.start();
  Recorder rec;
  RedisClient::Options o = options_for(server.port());
  o.max_pending_bytes = 1000;
  RedisClient client(o, rec.handlers());
  client.subscribe("c");
  client.start();
  ASSERT_TRUE(rec.wait([&] { return rec.ups == 1; })) << rec.last_down();

  // Hold the Redis thread so that nothing is handed to hiredis meanwhile.
  std::mutex mu;
  std::condition_variable cv;
  bool holding = false, release = false;
  client.post([&] {
    std::unique_lock<std::mutex> lock(mu);
    holding = true;
    cv.notify_all();
    cv.wait_for(lock, kDeadline, [&] { return release; });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kDeadline, [&] { return holding; }));
  }
  EXPECT_TRUE(client.publish("c", std::string(499, 'a')));  // 500 bytes waiting
  EXPECT_TRUE(client.publish("c", std::string(499, 'b')));  // 1000: at the limit
  EXPECT_FALSE(client.publish("c", std::string(1, 'c')));   // 1001: past it
  EXPECT_EQ(client.stats().dropped, 1u);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  ASSERT_TRUE(rec.wait([&] { return rec.messages.size() == 2; }));
  EXPECT_EQ(rec.messages[0].payload, std::string(499, 'a'));
  EXPECT_EQ(rec.messages[1].payload, std::string(499, 'b'));
  // Written: the budget is free again.
  ASSERT_TRUE(eventually([&] { return client.stats().published == 2; }));
  ASSERT_TRUE(eventually([&] { return client.publish("c", std::string(999, 'd')); }));
  ASSERT_TRUE(rec.wait([&] { return rec.messages.size() == 3; }));
}

}  // namespace
}  // namespace chorus
