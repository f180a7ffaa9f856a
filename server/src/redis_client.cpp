// RedisClient: hiredis's asynchronous API driven by a poll() loop on a thread of its own.
//
// hiredis (0.14) rules this file follows:
// - A context is freed by hiredis itself when its connection fails (the connect callback with
//   REDIS_ERR, or the disconnect callback once connected); the `cleanup` event hook runs on every
//   free, so it is where a Conn forgets its context.
// - Pending reply callbacks run with a NULL reply when a context is freed: every callback here
//   takes NULL as "the connection is gone".
// - redisAsyncFree must not run inside a hiredis callback (the connect callback is not guarded):
//   callbacks only record a failure, and the loop closes both connections afterwards.
// - A reply callback runs exactly once (with the reply, or NULL); subscription callbacks live in
//   hiredis's dictionaries and get no ownership, so they take the Impl as plain privdata.
#include "redis_client.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "chorus/util/percent.h"
#include "internal.h"

namespace chorus {

// ---------------------------------------------------------------------------------------------
// URL parsing

namespace {

Error url_error(std::string_view url, const std::string& what) {
  return make_error(ErrorCode::kProtocol, "invalid Redis URL \"" + std::string(url) + "\": " + what +
                                              " (expected redis://[[username]:password@]host[:port][/db])");
}

using util::percent_decode;

// Digits only, at most `max`; false otherwise.
bool parse_bounded(std::string_view s, long long max, long long& out) {
  if (s.empty() || s.size() > 10) return false;
  long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

}  // namespace

Result<RedisEndpoint> parse_redis_url(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, 9) == "rediss://") return url_error(url, "TLS (rediss://) is not supported");
  if (url.substr(0, kScheme.size()) != kScheme) return url_error(url, "the scheme must be redis://");
  std::string_view rest = url.substr(kScheme.size());
  for (char c : rest) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return url_error(url, "spaces or control characters");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return url_error(url, "query strings and fragments are not supported");
  }
  RedisEndpoint ep;
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      long long v = 0;
      if (!parse_bounded(db, INT_MAX, v)) {
        return url_error(url, "the database \"" + std::string(db) + "\" is not a number from 0 to 2147483647");
      }
      ep.db = static_cast<int>(v);
    }
  }
  std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    std::size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return url_error(url, "the user info has no ':' before the password (use :password@ for a password alone)");
    }
    if (!percent_decode(userinfo.substr(0, colon), ep.username) ||
        !percent_decode(userinfo.substr(colon + 1), ep.password)) {
      return url_error(url, "a bad %-escape in the user info");
    }
    if (ep.password.empty()) return url_error(url, "an empty password");
  }
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return url_error(url, "'[' without ']' around an IPv6 host");
    ep.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return url_error(url, "text after the IPv6 host's ']' that is not :port");
      port = after.substr(1);
      has_port = true;
    }
    if (ep.host.empty()) return url_error(url, "an empty host");
  } else {
    std::size_t colon = authority.find(':');
    ep.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
    if (ep.host.empty()) return url_error(url, "no host");
    if (ep.host.find_first_of("[]") != std::string::npos) return url_error(url, "'[' or ']' in the host");
  }
  if (has_port) {
    long long v = 0;
    if (!parse_bounded(port, 65535, v) || v == 0) {
      return url_error(url, "the port \"" + std::string(port) + "\" is not a number from 1 to 65535");
    }
    ep.port = static_cast<int>(v);
  }
  return ep;
}

// ---------------------------------------------------------------------------------------------
// The client

namespace {

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
      break;
  }
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

struct RedisClient::Impl {
  // One hiredis connection and the event flags its hooks keep.
  struct Conn {
    Impl* impl = nullptr;
    const char* name = "";
    redisAsyncContext* ac = nullptr;
    bool want_read = false;
    bool want_write = false;
    bool closing = false;  // we are freeing it: its callbacks report nothing
    bool ready = false;    // handshake done (subscriber: subscriptions confirmed too)
    bool pinged = false;   // subscriber: AUTH and PING answered, subscriptions may be sent
    int awaiting = 0;      // subscriber: subscriptions sent before `ready`, not yet confirmed
  };
  // A unit of posted work. `internal` work (publish, command, subscriptions) still runs when the
  // thread never started; posted user functions do not.
  struct Work {
    std::function<void()> fn;
    bool user = false;
  };
  // privdata of one command: runs exactly once.
  struct Call {
    std::function<void(redisReply*)> fn;
  };
  enum class Phase { kIdle, kConnecting, kUp, kBackoff };

  Options opt;
  Handlers handlers;
  std::string where;  // host:port, for messages

  // Shared between threads.
  mutable std::mutex mu;
  std::deque<Work> queue;
  bool started = false;
  bool stopping = false;
  bool joined = false;
  int wake_fd = -1;
  std::thread thread;
  std::atomic<std::thread::id> thread_id{};
  std::atomic<bool> up{false};
  std::atomic<std::size_t> queued_bytes{0};  // publishes posted, not yet handed to hiredis
  std::atomic<std::size_t> obuf_bytes{0};    // the command connection's unwritten output
  std::atomic<std::uint64_t> published{0}, dropped{0}, received{0}, reconnects{0};

  // The Redis thread only.
  Conn cmd, sub, blk;  // blk: only with opt.blocking_connection
  Phase phase = Phase::kIdle;
  std::uint64_t deadline = 0;  // kConnecting: the connect timeout; kBackoff: the next attempt
  std::uint32_t backoff_ms = 0;
  std::string failure;      // the first failure seen, handled by the loop
  std::string last_logged;  // the last failure logged (cleared when up again)
  bool ever_up = false;
  std::set<std::string> channels, patterns;

  Impl(Options o, Handlers h) : opt(std::move(o)), handlers(std::move(h)) {
    where = (opt.endpoint.host.find(':') != std::string::npos ? "[" + opt.endpoint.host + "]" : opt.endpoint.host) +
            ":" + std::to_string(opt.endpoint.port);
    if (opt.reconnect_min_ms == 0) opt.reconnect_min_ms = 1;
    if (opt.reconnect_max_ms < opt.reconnect_min_ms) opt.reconnect_max_ms = opt.reconnect_min_ms;
    if (opt.connect_timeout_ms == 0) opt.connect_timeout_ms = 1;
    backoff_ms = opt.reconnect_min_ms;
    cmd.impl = this;
    cmd.name = "command";
    sub.impl = this;
    sub.name = "subscriber";
    blk.impl = this;
    blk.name = "blocking";
    wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  }
  ~Impl() {
    if (wake_fd >= 0) ::close(wake_fd);
  }

  void wake() {
    std::uint64_t one = 1;
    ssize_t n = ::write(wake_fd, &one, sizeof one);
    (void)n;  // EAGAIN: the counter is already non-zero, the thread wakes anyway
  }

  // False once stop() began.
  bool enqueue(std::function<void()> fn, bool user) {
    bool notify = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) return false;
      notify = started && queue.empty();
      queue.push_back(Work{std::move(fn), user});
    }
    if (notify) wake();
    return true;
  }

  // --- hiredis event hooks (privdata: the Conn) ---
  static void add_read(void* p) { static_cast<Conn*>(p)->want_read = true; }
  static void del_read(void* p) { static_cast<Conn*>(p)->want_read = false; }
  static void add_write(void* p) { static_cast<Conn*>(p)->want_write = true; }
  static void del_write(void* p) { static_cast<Conn*>(p)->want_write = false; }
  static void cleanup(void* p) {
    auto* c = static_cast<Conn*>(p);
    c->want_read = c->want_write = false;
    c->ac = nullptr;  // hiredis is freeing it
  }

  static void on_connect(const redisAsyncContext* ac, int status) {
    auto* c = static_cast<Conn*>(ac->data);
    if (status == REDIS_OK || c->closing) return;
    c->ac = nullptr;  // hiredis frees it when this returns
    c->impl->fail(*c, ac->c.errstr[0] ? ac->c.errstr : "connection failed");
  }
  static void on_disconnect(const redisAsyncContext* ac, int status) {
    auto* c = static_cast<Conn*>(ac->data);
    c->ac = nullptr;
    if (c->closing) return;
    c->impl->fail(*c, status == REDIS_OK ? std::string("closed")
                                         : std::string(ac->c.errstr[0] ? ac->c.errstr : "connection lost"));
  }

  static void call_done(redisAsyncContext*, void* reply, void* privdata) {
    std::unique_ptr<Call> call(static_cast<Call*>(privdata));
    call->fn(static_cast<redisReply*>(reply));
  }
  static void publish_done(redisAsyncContext*, void* reply, void* privdata) {
    auto* self = static_cast<Impl*>(privdata);
    if (reply) {
      ++self->published;
    } else {
      ++self->dropped;  // written maybe, but the connection dropped before Redis confirmed it
    }
  }
  static void subscription(redisAsyncContext*, void* reply, void* privdata) {
    auto* self = static_cast<Impl*>(privdata);
    auto* r = static_cast<redisReply*>(reply);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 || r->element[0]->type != REDIS_REPLY_STRING) return;
    std::string_view kind(r->element[0]->str, r->element[0]->len);
    auto str = [&](std::size_t i) {
      const redisReply* e = r->element[i];
      return e->type == REDIS_REPLY_STRING ? std::string_view(e->str, e->len) : std::string_view();
    };
    if (kind == "message") {
      ++self->received;
      if (self->handlers.on_message) self->handlers.on_message(str(1), std::string_view(), str(2));
    } else if (kind == "pmessage" && r->elements >= 4) {
      ++self->received;
      if (self->handlers.on_message) self->handlers.on_message(str(2), str(1), str(3));
    } else if (kind == "subscribe" || kind == "psubscribe") {
      Conn& s = self->sub;
      if (!s.ready && s.awaiting > 0 && --s.awaiting == 0 && s.pinged) {
        s.ready = true;
        self->maybe_up();
      }
    }
  }

  // Queues a command on `c`; `fn` runs once with the reply, or NULL if the connection is gone.
  void send(Conn& c, const std::vector<std::string_view>& argv, std::function<void(redisReply*)> fn) {
    if (!c.ac) {
      fn(nullptr);
      return;
    }
    std::vector<const char*> args;
    std::vector<std::size_t> lens;
    args.reserve(argv.size());
    lens.reserve(argv.size());
    for (std::string_view a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* call = new Call{std::move(fn)};
    if (redisAsyncCommandArgv(c.ac, call_done, call, static_cast<int>(args.size()), args.data(), lens.data()) !=
        REDIS_OK) {
      std::unique_ptr<Call> owned(call);
      owned->fn(nullptr);
    }
  }

  void send_subscribe(const char* verb, const std::string& name) {
    const char* args[] = {verb, name.data()};
    std::size_t lens[] = {std::strlen(verb), name.size()};
    if (redisAsyncCommandArgv(sub.ac, subscription, this, 2, args, lens) == REDIS_OK && !sub.ready) ++sub.awaiting;
  }
  void send_unsubscribe(const char* verb, const std::string& name) {
    const char* args[] = {verb, name.data()};
    std::size_t lens[] = {std::strlen(verb), name.size()};
    // hiredis routes the confirmation to the subscription's own callback.
    (void)redisAsyncCommandArgv(sub.ac, nullptr, nullptr, 2, args, lens);
  }

  void fail(Conn& c, const std::string& why) {
    if (failure.empty()) failure = "Redis at " + where + ": " + c.name + " connection: " + why;
  }

  // A handshake step: an error reply fails the attempt.
  std::function<void(redisReply*)> step(Conn& c, std::string what, std::function<void()> then = nullptr) {
    return [this, &c, what = std::move(what), then = std::move(then)](redisReply* r) {
      if (!r) return;  // the connection is gone; its own callback says why
      if (r->type == REDIS_REPLY_ERROR) {
        fail(c, what + " failed: " + std::string(r->str, r->len));
        return;
      }
      if (then) then();
    };
  }

  bool open(Conn& c) {
    c.closing = c.ready = c.pinged = false;
    c.awaiting = 0;
    redisAsyncContext* ac = redisAsyncConnect(opt.endpoint.host.c_str(), opt.endpoint.port);
    if (!ac) {
      fail(c, "out of memory");
      return false;
    }
    if (ac->err) {
      fail(c, ac->c.errstr[0] ? ac->c.errstr : "connection failed");
      redisAsyncFree(ac);
      return false;
    }
    ac->data = &c;
    ac->ev.data = &c;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    c.ac = ac;
    c.want_read = c.want_write = true;  // the connect completes on the first write event
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return true;
  }

  void auth(Conn& c) {
    const RedisEndpoint& ep = opt.endpoint;
    if (!ep.username.empty() && !ep.password.empty()) {
      send(c, {"AUTH", ep.username, ep.password}, step(c, "AUTH"));
    } else if (!ep.password.empty()) {
      send(c, {"AUTH", ep.password}, step(c, "AUTH"));
    }
  }

  void attempt() {
    phase = Phase::kConnecting;
    deadline = now_ms() + opt.connect_timeout_ms;
    if (!open(cmd) || !open(sub) || (opt.blocking_connection && !open(blk))) return;
    std::string db = std::to_string(opt.endpoint.db);
    for (Conn* c : {&cmd, &blk}) {
      if (c == &blk && !opt.blocking_connection) continue;
      auth(*c);
      if (opt.endpoint.db != 0) send(*c, {"SELECT", db}, step(*c, "SELECT " + db));
      send(*c, {"PING"}, step(*c, "PING", [this, c] {
        c->ready = true;
        maybe_up();
      }));
    }
    auth(sub);
    send(sub, {"PING"}, step(sub, "PING", [this] {
           sub.pinged = true;
           for (const std::string& ch : channels) send_subscribe("SUBSCRIBE", ch);
           for (const std::string& p : patterns) send_subscribe("PSUBSCRIBE", p);
           if (sub.awaiting == 0) {
             sub.ready = true;
             maybe_up();
           }
         }));
  }

  void maybe_up() {
    if (phase != Phase::kConnecting || !cmd.ready || !sub.ready || (opt.blocking_connection && !blk.ready) ||
        !failure.empty())
      return;
    phase = Phase::kUp;
    deadline = 0;
    backoff_ms = opt.reconnect_min_ms;
    if (ever_up) ++reconnects;
    ever_up = true;
    if (!last_logged.empty()) log(LogLevel::kInfo, "Redis at " + where + ": connected again");
    last_logged.clear();
    up = true;
    if (handlers.on_up) handlers.on_up();
  }

  void close(Conn& c) {
    if (c.ac) {
      c.closing = true;
      redisAsyncFree(c.ac);  // pending callbacks run with NULL; `cleanup` clears c.ac
      c.ac = nullptr;
    }
    c.want_read = c.want_write = false;
    c.ready = c.pinged = false;
    c.awaiting = 0;
  }

  // Handles a recorded failure: both connections closed, on_down, the next attempt scheduled.
  void handle_failure() {
    if (failure.empty()) return;
    std::string why = std::move(failure);
    up = false;
    close(cmd);
    close(sub);
    close(blk);
    failure.clear();
    phase = Phase::kBackoff;
    deadline = now_ms() + backoff_ms;
    if (why != last_logged) {
      log(LogLevel::kWarn, why + " (retrying every " + std::to_string(opt.reconnect_min_ms) + " to " +
                               std::to_string(opt.reconnect_max_ms) + " ms)");
      last_logged = why;
    }
    backoff_ms =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{backoff_ms} * 2, opt.reconnect_max_ms));
    obuf_bytes = 0;
    if (handlers.on_down) handlers.on_down(why);
  }

  void update_obuf() { obuf_bytes = cmd.ac ? sdslen(cmd.ac->c.obuf) : 0; }

  void do_publish(const std::string& channel, const std::string& payload) {
    queued_bytes -= channel.size() + payload.size();
    if (phase != Phase::kUp || !cmd.ac) {
      ++dropped;
      return;
    }
    const char* args[] = {"PUBLISH", channel.data(), payload.data()};
    std::size_t lens[] = {7, channel.size(), payload.size()};
    if (redisAsyncCommandArgv(cmd.ac, publish_done, this, 3, args, lens) != REDIS_OK) ++dropped;
  }

  void do_command(Conn& c, const std::vector<std::string>& argv, std::function<void(Result<RedisReply>)> done) {
    if (phase != Phase::kUp || !c.ac) {
      done(make_error(ErrorCode::kProtocol, "not connected to Redis at " + where));
      return;
    }
    std::vector<std::string_view> args(argv.begin(), argv.end());
    std::string where_copy = where;
    send(c, args, [done = std::move(done), where_copy](redisReply* r) {
      if (!r) {
        done(make_error(ErrorCode::kProtocol, "the connection to Redis at " + where_copy + " closed before the reply"));
      } else {
        done(convert(r));
      }
    });
  }

  void drain() {
    std::deque<Work> work;
    {
      std::lock_guard<std::mutex> lock(mu);
      work.swap(queue);
    }
    for (Work& w : work) w.fn();
  }

  void run() {
    // hiredis writes with write(2): a peer gone mid-write must be EPIPE, not a SIGPIPE that
    // kills the process. Blocked on this thread only (a SIGPIPE is sent to the writing thread).
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
    pthread_setname_np(pthread_self(), "chorus-redis");

    attempt();
    handle_failure();
    for (;;) {
      pollfd fds[4];
      int n = 0;
      fds[n++] = pollfd{wake_fd, POLLIN, 0};
      Conn* polled[4] = {nullptr, nullptr, nullptr, nullptr};
      for (Conn* c : {&cmd, &sub, &blk}) {
        if (!c->ac) continue;
        short events = static_cast<short>((c->want_read ? POLLIN : 0) | (c->want_write ? POLLOUT : 0));
        polled[n] = c;
        fds[n++] = pollfd{c->ac->c.fd, events, 0};
      }
      int timeout = -1;
      if (deadline != 0) {
        std::uint64_t now = now_ms();
        timeout = deadline <= now ? 0 : static_cast<int>(std::min<std::uint64_t>(deadline - now, INT_MAX));
      }
      int rc = ::poll(fds, static_cast<nfds_t>(n), timeout);
      if (rc < 0 && errno != EINTR) {
        log(LogLevel::kError, std::string("Redis client: poll failed: ") + std::strerror(errno));
      }
      for (int i = 1; rc > 0 && i < n; ++i) {
        Conn* c = polled[i];
        short re = fds[i].revents;
        if (!re || !c->ac) continue;
        redisAsyncContext* ac = c->ac;
        if (re & (POLLOUT | POLLERR | POLLHUP)) redisAsyncHandleWrite(ac);
        if (c->ac == ac && (re & (POLLIN | POLLERR | POLLHUP))) redisAsyncHandleRead(c->ac);
      }
      handle_failure();
      if (rc > 0 && (fds[0].revents & POLLIN)) {
        std::uint64_t count;
        while (::read(wake_fd, &count, sizeof count) > 0) {
        }
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stopping) break;
      }
      drain();
      handle_failure();
      if (deadline != 0 && now_ms() >= deadline) {
        if (phase == Phase::kConnecting) {
          if (failure.empty()) {
            failure = "Redis at " + where + ": no answer within " + std::to_string(opt.connect_timeout_ms) +
                      " ms (connect_timeout_ms)";
          }
          handle_failure();
        } else if (phase == Phase::kBackoff) {
          attempt();
          handle_failure();
        }
      }
      update_obuf();
      // A SIGPIPE left pending by a failed write is consumed (it is blocked here anyway).
      timespec zero{0, 0};
      while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
      }
    }
    // Stopping: connections closed (pending commands get their error), then the work posted
    // before stop() runs against a closed client. No callback runs after this thread ends.
    up = false;
    phase = Phase::kIdle;
    close(cmd);
    close(sub);
    close(blk);
    drain();
    obuf_bytes = 0;
  }
};

RedisClient::RedisClient(Options options, Handlers handlers)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handlers))) {}

RedisClient::~RedisClient() {
  stop();
}

void RedisClient::start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->started || impl_->stopping) return;
  impl_->started = true;
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->thread_id = std::this_thread::get_id();
    impl->run();
  });
  // Work queued before start() is waiting: the loop drains it on its first pass.
  impl_->wake();
}

void RedisClient::stop() {
  Impl& im = *impl_;
  std::deque<Impl::Work> never_ran;
  bool join = false;
  {
    std::lock_guard<std::mutex> lock(im.mu);
    if (!im.stopping) {
      im.stopping = true;
      if (!im.started) never_ran.swap(im.queue);
    }
    if (im.started && !im.joined) {
      im.wake();
      // From its own callbacks the loop ends after them; the next stop() or the destructor joins.
      if (!on_redis_thread()) im.joined = join = true;
    }
  }
  // Never started: internal work fails as it would against a closed client (commands get their
  // error here, on this thread); posted user functions are dropped, with no Redis thread to run on.
  for (Impl::Work& w : never_ran) {
    if (!w.user) w.fn();
  }
  if (join) im.thread.join();
}

void RedisClient::subscribe(std::string channel) {
  Impl* im = impl_.get();
  im->enqueue(
      [im, channel = std::move(channel)] {
        if (!im->channels.insert(channel).second) return;
        if (im->sub.ac && im->sub.pinged) im->send_subscribe("SUBSCRIBE", channel);
      },
      false);
}

void RedisClient::psubscribe(std::string pattern) {
  Impl* im = impl_.get();
  im->enqueue(
      [im, pattern = std::move(pattern)] {
        if (!im->patterns.insert(pattern).second) return;
        if (im->sub.ac && im->sub.pinged) im->send_subscribe("PSUBSCRIBE", pattern);
      },
      false);
}

void RedisClient::unsubscribe(std::string channel) {
  Impl* im = impl_.get();
  im->enqueue(
      [im, channel = std::move(channel)] {
        if (im->channels.erase(channel) == 0) return;
        if (im->sub.ac && im->sub.pinged) im->send_unsubscribe("UNSUBSCRIBE", channel);
      },
      false);
}

void RedisClient::punsubscribe(std::string pattern) {
  Impl* im = impl_.get();
  im->enqueue(
      [im, pattern = std::move(pattern)] {
        if (im->patterns.erase(pattern) == 0) return;
        if (im->sub.ac && im->sub.pinged) im->send_unsubscribe("PUNSUBSCRIBE", pattern);
      },
      false);
}

bool RedisClient::publish(std::string channel, std::string payload) {
  Impl* im = impl_.get();
  if (!im->up) {
    ++im->dropped;
    return false;
  }
  std::size_t bytes = channel.size() + payload.size();
  std::size_t queued = im->queued_bytes.fetch_add(bytes) + bytes;
  if (queued + im->obuf_bytes.load() > im->opt.max_pending_bytes ||
      !im->enqueue(
          [im, channel = std::move(channel), payload = std::move(payload)] { im->do_publish(channel, payload); },
          false)) {
    im->queued_bytes -= bytes;
    ++im->dropped;
    return false;
  }
  return true;
}

void RedisClient::command(std::vector<std::string> argv, std::function<void(Result<RedisReply>)> done) {
  send_command(false, std::move(argv), std::move(done));
}

void RedisClient::blocking_command(std::vector<std::string> argv, std::function<void(Result<RedisReply>)> done) {
  if (!impl_->opt.blocking_connection) {
    done(make_error(ErrorCode::kProtocol, "Redis command: this client has no blocking connection"));
    return;
  }
  send_command(true, std::move(argv), std::move(done));
}

void RedisClient::send_command(bool blocking, std::vector<std::string> argv,
                               std::function<void(Result<RedisReply>)> done) {
  Impl* im = impl_.get();
  if (argv.empty()) {
    done(make_error(ErrorCode::kProtocol, "Redis command: no arguments"));
    return;
  }
  static const std::set<std::string> kSubscriberOnly = {"SUBSCRIBE",    "PSUBSCRIBE",   "SSUBSCRIBE", "UNSUBSCRIBE",
                                                        "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR",    "RESET"};
  if (kSubscriberOnly.count(upper(argv[0]))) {
    done(make_error(ErrorCode::kProtocol, "Redis command: " + argv[0] +
                                              " would change the command connection's mode (use subscribe() and "
                                              "psubscribe())"));
    return;
  }
  auto shared_done = std::make_shared<std::function<void(Result<RedisReply>)>>(std::move(done));
  if (!im->enqueue([im, blocking, argv = std::move(argv),
                    shared_done] { im->do_command(blocking ? im->blk : im->cmd, argv, std::move(*shared_done)); },
                   false)) {
    (*shared_done)(make_error(ErrorCode::kProtocol, "the Redis client is stopped"));
  }
}

void RedisClient::numsub(std::string channel, std::function<void(std::optional<long long>)> done) {
  command({"PUBSUB", "NUMSUB", std::move(channel)}, [done = std::move(done)](Result<RedisReply> r) {
    if (r.ok() && r->type == RedisReply::Type::kArray && r->elements.size() == 2 &&
        r->elements[1].type == RedisReply::Type::kInteger) {
      done(r->elements[1].integer);
    } else {
      done(std::nullopt);
    }
  });
}

void RedisClient::post(std::function<void()> fn) {
  impl_->enqueue(std::move(fn), true);
}

bool RedisClient::on_redis_thread() const {
  return impl_->thread_id.load() == std::this_thread::get_id();
}

bool RedisClient::connected() const {
  return impl_->up;
}

RedisClient::Stats RedisClient::stats() const {
  Stats s;
  s.published = impl_->published;
  s.dropped = impl_->dropped;
  s.received = impl_->received;
  s.reconnects = impl_->reconnects;
  return s;
}

}  // namespace chorus
