// Parking (front_door.h): connections that have no request for a worker to serve wait on an
// event loop instead of on a CivetWeb worker. CivetWeb (Chorus's patch) offers every accepted
// connection, and every kept-alive connection between requests, to Civet::park. A
// ParkedConnection reads until its request head has arrived whole, then gives the connection
// back (mg_resume_connection) with the bytes read; the worker that picks it up starts from
// them. Idle and slow clients thus cost a descriptor and a few hundred bytes, never a worker:
//  - a kept-alive connection with nothing of a next request is closed after
//    keep_alive_timeout_ms;
//  - a request head must arrive whole within header_timeout_ms (from the accept, or from the
//    first byte of a next request), else 408 and close (a silent close when nothing came);
//  - a head larger than kMaxRequestHead is answered 431 and closed;
//  - at most max_pending_per_address connections from one address are in CivetWeb's hands at
//    once (given back, not yet done; a body that trickles in holds its worker up to
//    body_timeout_ms): past it, a connection whose head arrived waits parked, in order, for
//    one of them to finish, and is answered 503 if none does within header_timeout_ms. One
//    address cannot take the pool, and a burst from one address (many users behind one NAT)
//    is served a little later rather than refused.
// A fresh https connection waits for its first bytes only (the TLS handshake is CivetWeb's),
// and comes back parked after the handshake.
#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "chorus/json/json.h"
#include "front_door.h"

namespace chorus {

namespace {

std::string peer_address(int fd) {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return {};
  char text[INET6_ADDRSTRLEN] = {0};
  if (sa.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&sa)->sin_addr, text, sizeof text);
  } else if (sa.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<sockaddr_in6*>(&sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      inet_ntop(AF_INET, &a.s6_addr[12], text, INET_ADDRSTRLEN);  // the same client as over IPv4
    } else {
      inet_ntop(AF_INET6, &a, text, sizeof text);
    }
  }
  return text;
}

// CivetWeb's own test (get_http_header_len): >0 the head's length, 0 not whole yet, -1 a byte
// no head may hold (CivetWeb answers that 400).
long head_length(const std::string& buf) {
  for (std::size_t i = 0; i < buf.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(buf[i]);
    if (c < 128 && c != '\r' && c != '\n' && !std::isprint(c)) return -1;
    if (i + 1 < buf.size() && buf[i] == '\n' && buf[i + 1] == '\n') return static_cast<long>(i + 2);
    if (i + 3 < buf.size() && buf.compare(i, 4, "\r\n\r\n") == 0) return static_cast<long>(i + 4);
  }
  return 0;
}

constexpr std::uint32_t kLingerMs = 1000;  // after a refusal: read and drop until the peer closes

}  // namespace

// One connection waiting for a request head, on one event loop.
class ParkedConnection final : public LoopWatcher, public std::enable_shared_from_this<ParkedConnection> {
 public:
  ParkedConnection(Civet& civet, EventLoop& loop, int fd, SSL* ssl, bool is_ssl, std::string head, bool fresh)
      : civet_(civet), loop_(loop), fd_(fd), ssl_(ssl), is_ssl_(is_ssl), head_(std::move(head)), fresh_(fresh) {}
  ~ParkedConnection() override { release(); }

  // Loop thread, once.
  void start() {
    address_ = peer_address(fd_);
    // Edge-triggered: what is readable now is read below, later bytes raise an edge.
    if (!loop_.watch(fd_, EPOLLIN | EPOLLRDHUP, this)) {
      release();
      return;
    }
    watched_ = true;
    self_ = shared_from_this();
    civet_.parked_.fetch_add(1, std::memory_order_relaxed);
    const ServerOptions& o = civet_.server()->options;
    if (fresh_ || !head_.empty()) {
      arm(o.header_timeout_ms, /*idle=*/false);
    } else {
      arm(o.keep_alive_timeout_ms, /*idle=*/true);
    }
    // Bytes read already may hold a whole head (pipelined); OpenSSL may hold decrypted bytes
    // that epoll never reports. (Bytes waiting in the socket are reported by the watch.)
    if (!head_.empty()) decide();
    if (state_ == State::kWaiting && ssl_ != nullptr) read_head();
  }

  void on_events(std::uint32_t events) override {
    auto keep = shared_from_this();
    if (state_ == State::kLingering) {
      drain();
      return;
    }
    if (state_ == State::kSlotWait) {
      // The head is here; what follows is the worker's to read. Only a hang-up matters.
      if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) finish();
      return;
    }
    if (state_ != State::kWaiting) return;
    if (is_ssl_ && ssl_ == nullptr) {
      // A fresh https connection: its first bytes are the TLS handshake, CivetWeb's to read.
      if (events & EPOLLIN) {
        give_back();
      } else if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        finish();  // gone before saying anything
      }
      return;
    }
    read_head();
  }

  void on_loop_stop() override { finish(); }

  // Any thread (under Civet::park_mu_): a worker slot of this address is now this
  // connection's (Civet::release_slot_locked).
  void grant_slot() {
    loop_.post([self = shared_from_this()] {
      if (self->state_ == State::kSlotWait) {
        self->give_back(true);
      } else {
        self->civet_.release_slot(self->address_);  // gone meanwhile: to the next in line
      }
    });
  }

 private:
  // kWaiting: reading the head; kSlotWait: the head is here, waiting for a worker slot of
  // its address; kLingering: refused, draining until the peer closes.
  enum class State : std::uint8_t { kWaiting, kSlotWait, kLingering, kDone };

  void arm(std::uint32_t ms, bool idle) {
    if (timer_ != 0) loop_.cancel_timer(timer_);
    idle_ = idle;
    timer_ = loop_.add_timer(now_ms() + ms, [weak = weak_from_this()] {
      if (auto self = weak.lock()) {
        self->timer_ = 0;
        self->on_deadline();
      }
    });
  }

  void on_deadline() {
    if (state_ == State::kLingering) {
      finish();
      return;
    }
    if (state_ == State::kSlotWait) {
      refuse(503, "too many requests from this address at once");
      return;
    }
    if (state_ != State::kWaiting) return;
    if (idle_ || head_.empty()) {
      finish();  // nothing of a request: an idle connection ends without a word
      return;
    }
    refuse(408, "request head incomplete after " + std::to_string(civet_.server()->options.header_timeout_ms) + " ms");
  }

  void read_head() {
    for (;;) {
      const std::size_t room = kMaxRequestHead - head_.size();
      if (room == 0) break;
      char buf[4096];
      const std::size_t want = std::min(room, sizeof buf);
      long n;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        int r = SSL_read(ssl_, buf, static_cast<int>(want));
        if (r <= 0) {
          int e = SSL_get_error(ssl_, r);
          if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
          finish();  // closed (close_notify or EOF) or failed
          return;
        }
        n = r;
      } else {
        n = ::recv(fd_, buf, want, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {
          finish();
          return;
        }
      }
      const bool first = head_.empty();
      head_.append(buf, static_cast<std::size_t>(n));
      if (first && idle_) arm(civet_.server()->options.header_timeout_ms, /*idle=*/false);
      decide();
      if (state_ != State::kWaiting) return;
    }
    decide();
  }

  // The head is whole (or cannot be: CivetWeb answers 400), or too large.
  void decide() {
    const long len = head_length(head_);
    if (len != 0) {
      give_back();
    } else if (head_.size() >= kMaxRequestHead) {
      refuse(431, "request head larger than " + std::to_string(kMaxRequestHead) + " bytes");
    }
  }

  // `reserved`: a worker slot of this address was granted already (grant_slot).
  void give_back(bool reserved = false) {
    if (timer_ != 0) loop_.cancel_timer(timer_);
    timer_ = 0;
    if (watched_) loop_.unwatch(fd_, this);  // not ours to watch once queued
    watched_ = false;
    auto outcome = civet_.resume(shared_from_this(), fd_, ssl_, is_ssl_, head_, address_, reserved);
    if (outcome == Civet::Resume::kQueued) {
      fd_ = -1;  // CivetWeb's now
      ssl_ = nullptr;
      done();
      return;
    }
    if (!loop_.watch(fd_, EPOLLIN | EPOLLRDHUP, this)) {
      finish();
      return;
    }
    watched_ = true;
    if (outcome == Civet::Resume::kWaitSlot) {
      state_ = State::kSlotWait;
      arm(civet_.server()->options.header_timeout_ms, /*idle=*/false);
    } else if (is_ssl_ && ssl_ == nullptr) {
      finish();  // no TLS session to answer in
    } else {
      refuse(503, "server busy");
    }
  }

  // Answers `status` with `Connection: close`, then reads and drops what the peer still
  // sends until it closes (or kLingerMs): closing with unread input would reset the
  // connection and could destroy the answer before the client reads it.
  void refuse(int status, const std::string& message) {
    if (timer_ != 0) loop_.cancel_timer(timer_);
    timer_ = 0;
    std::string body = "{\"error\":";
    json::quote_string(message, body);
    body += "}";
    const char* reason = status == 408   ? "Request Timeout"
                         : status == 431 ? "Request Header Fields Too Large"
                                         : "Service Unavailable";
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n" + body;
    if (is_ssl_ && ssl_ == nullptr) {
      finish();  // a fresh https connection: no TLS session to answer in
      return;
    }
    // One small write into an empty socket buffer; what does not fit is lost with the connection.
    if (ssl_ != nullptr) {
      ERR_clear_error();
      SSL_write(ssl_, out.data(), static_cast<int>(out.size()));
      ERR_clear_error();
      SSL_shutdown(ssl_);
    } else {
      ssize_t n = ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)n;
    }
    ::shutdown(fd_, SHUT_WR);
    state_ = State::kLingering;
    std::string().swap(head_);
    timer_ = loop_.add_timer(now_ms() + kLingerMs, [weak = weak_from_this()] {
      if (auto self = weak.lock()) {
        self->timer_ = 0;
        self->finish();
      }
    });
    drain();
  }

  void drain() {
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);  // TLS records are dropped undecrypted
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      finish();
      return;
    }
  }

  // Closes the connection (if still ours) and leaves the loop.
  void finish() {
    if (state_ == State::kDone) return;
    release();
    done();
  }

  void release() {
    if (timer_ != 0) loop_.cancel_timer(timer_);
    timer_ = 0;
    if (watched_) loop_.unwatch(fd_, this);
    watched_ = false;
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void done() {
    if (state_ == State::kDone) return;
    state_ = State::kDone;
    if (self_) {
      civet_.parked_.fetch_sub(1, std::memory_order_relaxed);
      loop_.post([keep = std::move(self_)] {});  // the loop's reference goes last
    }
  }

  Civet& civet_;
  EventLoop& loop_;
  int fd_;
  SSL* ssl_;
  const bool is_ssl_;
  std::string head_;
  const bool fresh_;
  std::string address_;
  State state_ = State::kWaiting;
  bool watched_ = false;  // registered on the loop
  bool idle_ = false;     // the timer is the keep-alive one (nothing read yet)
  EventLoop::TimerId timer_ = 0;
  std::shared_ptr<ParkedConnection> self_;
};

int Civet::park(const mg_parked& p, bool fresh) {
  if (stopping_ || !loops_) return 1;  // CivetWeb carries on with it
  EventLoop& loop = next_loop();
  auto c = std::make_shared<ParkedConnection>(*this, loop, p.sock, static_cast<SSL*>(p.ssl), p.is_ssl != 0,
                                              std::string(p.buffered, p.buffered_len), fresh);
  loop.post([c] { c->start(); });
  return 0;
}

Civet::Resume Civet::resume(const std::shared_ptr<ParkedConnection>& who, int fd, SSL* ssl, bool is_ssl,
                            std::string& head, const std::string& address, bool reserved) {
  // Under park_mu_ throughout: stop() clears resume_ctx_ under it before mg_stop, and a worker
  // that is done (resumed_done) waits until the connection is counted.
  std::lock_guard<std::mutex> lock(park_mu_);
  AddressSlots& a = addresses_[address];
  if (!reserved) {
    while (!a.waiting.empty() && a.waiting.front().expired()) a.waiting.pop_front();
    if (a.in_workers >= server_->options.max_pending_per_address || !a.waiting.empty()) {
      a.waiting.push_back(who);  // in order, behind those waiting already
      return Resume::kWaitSlot;
    }
    ++a.in_workers;
  }
  auto r = std::make_unique<Resumed>();
  r->bytes = head;
  r->address = address;
  r->parked.sock = fd;
  r->parked.is_ssl = is_ssl ? 1 : 0;
  r->parked.ssl = ssl;
  r->parked.buffered = r->bytes.data();
  r->parked.buffered_len = r->bytes.size();
  if (resume_ctx_ == nullptr || mg_resume_connection(resume_ctx_, &r->parked) != 0) {
    release_slot_locked(address);
    return Resume::kBusy;
  }
  head.clear();
  mg_parked* key = &r->parked;
  resumed_.emplace(key, std::move(r));  // until resumed_done
  return Resume::kQueued;
}

void Civet::release_slot(const std::string& address) {
  std::lock_guard<std::mutex> lock(park_mu_);
  release_slot_locked(address);
}

// A worker slot of `address` is free: it goes to the first connection still waiting for one,
// else the count goes down.
void Civet::release_slot_locked(const std::string& address) {
  auto it = addresses_.find(address);
  if (it == addresses_.end()) return;
  AddressSlots& a = it->second;
  while (!a.waiting.empty()) {
    std::shared_ptr<ParkedConnection> next = a.waiting.front().lock();
    a.waiting.pop_front();
    if (next) {
      next->grant_slot();
      return;
    }
  }
  if (a.in_workers > 0) --a.in_workers;
  if (a.in_workers == 0) addresses_.erase(it);
}

void Civet::resumed_done(mg_parked* parked) {
  std::unique_ptr<Resumed> r;
  std::lock_guard<std::mutex> lock(park_mu_);
  auto found = resumed_.find(parked);
  if (found == resumed_.end()) return;
  r = std::move(found->second);
  resumed_.erase(found);
  release_slot_locked(r->address);
}

// After mg_stop: connections given back that no worker picked up (CivetWeb neither served
// nor closed them).
void Civet::free_unclaimed() {
  std::unordered_map<mg_parked*, std::unique_ptr<Resumed>> left;
  {
    std::lock_guard<std::mutex> lock(park_mu_);
    left.swap(resumed_);
    addresses_.clear();
  }
  for (auto& [key, r] : left) {
    if (r->parked.ssl != nullptr) SSL_free(static_cast<SSL*>(r->parked.ssl));
    ::close(r->parked.sock);
  }
}

int park_cb(const mg_context* ctx, const mg_parked* parked, int fresh) {
  auto* civet = static_cast<Civet*>(mg_get_user_data(ctx));
  return civet == nullptr ? 1 : civet->park(*parked, fresh != 0);
}

void resumed_done_cb(const mg_context* ctx, mg_parked* parked) {
  if (auto* civet = static_cast<Civet*>(mg_get_user_data(ctx))) civet->resumed_done(parked);
}

}  // namespace chorus
