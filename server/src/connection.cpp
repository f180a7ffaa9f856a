// Connection, WsConnection, HttpStreamConnection (connection.h).
#include "connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "internal.h"

namespace chorus {

namespace {
// Reads per readiness event before other connections get their turn (then it continues
// through EventLoop::post, as an edge-triggered socket reports no new edge).
constexpr int kReadsPerTurn = 16;
// Fill-and-write rounds per turn (each moves up to kHighWater from the owner); a longer
// backlog continues through a flush request, for the same reason.
constexpr int kWriteRoundsPerTurn = 8;
constexpr int kMaxIov = 64;
constexpr std::size_t kTlsRecord = 16 * 1024;
}  // namespace

Connection::Connection(EventLoop& loop, int fd, SSL* ssl, std::string peer)
    : loop_(loop), fd_(fd), ssl_(ssl), peer_(std::move(peer)) {
  if (ssl_ != nullptr) {
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  }
}

Connection::~Connection() {
  if (state_ != State::kClosed) {
    // Never registered (the loop stopped first): release the socket all the same.
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
  }
}

void Connection::open(std::string initial) {
  self_ = shared_from_this();
  if (!loop_.watch(fd_, EPOLLIN | EPOLLOUT | EPOLLRDHUP, this)) {
    fail(true);
    return;
  }
  registered_ = true;
  if (!initial.empty()) on_bytes(initial.data(), initial.size());
  if (state_ == State::kClosed) return;
  // OpenSSL may hold decrypted bytes already, which epoll will never report.
  if (ssl_ != nullptr) read_ready();
  if (state_ == State::kClosed) return;
  on_open();
  flush();
}

void Connection::request_flush() {
  if (flush_requested_.exchange(true)) return;
  loop_.request_flush(shared_from_this());
}

void Connection::queue(Chunk chunk) {
  out_bytes_ += chunk.head.size + chunk.data.size();
  out_.push_back(std::move(chunk));
}

void Connection::queue_copy(std::string bytes) {
  auto owned = std::make_shared<const std::string>(std::move(bytes));
  Chunk c;
  c.data = *owned;
  c.owner = std::move(owned);
  queue(std::move(c));
}

void Connection::on_events(std::uint32_t events) {
  auto keep = shared_from_this();
  if (state_ == State::kClosed) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_ready();
  if (state_ == State::kClosed) return;
  if ((events & EPOLLOUT) || !out_.empty() || tls_want_read_) write_ready();
}

void Connection::flush() {
  flush_requested_ = false;
  if (state_ == State::kClosed || !registered_) return;  // open() flushes once registered
  write_ready();
}

void Connection::on_loop_stop() {
  close_now();
}

void Connection::read_ready() {
  char* buf = loop_.read_buffer();
  const std::size_t size = loop_.read_buffer_size();
  for (int turn = 0; turn < kReadsPerTurn; ++turn) {
    long n;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      int r = SSL_read(ssl_, buf, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
      if (r <= 0) {
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0)) {
          n = 0;
        } else {
          fail(true);
          return;
        }
      } else {
        n = r;
      }
      if (tls_want_read_) {
        tls_want_read_ = false;  // SSL_write may go on now
        if (!out_.empty() || !tls_pending_.empty()) write_ready();
        if (state_ == State::kClosed) return;
      }
    } else {
      n = ::recv(fd_, buf, size, 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        fail(true);
        return;
      }
    }
    if (n == 0) {
      if (state_ == State::kLingering || state_ == State::kDraining) {
        close_now();
      } else {
        fail(false);
      }
      return;
    }
    if (state_ == State::kOpen) {
      on_bytes(buf, static_cast<std::size_t>(n));
      if (state_ == State::kClosed) return;
    }
  }
  // More may be waiting: continue after the other connections' turn.
  loop_.post([keep = shared_from_this()] {
    if (keep->state_ != State::kClosed) {
      keep->read_ready();
      if (keep->state_ != State::kClosed && !keep->out_.empty()) keep->write_ready();
    }
  });
}

void Connection::write_ready() {
  if (in_write_) return;  // fill() closing the connection: the outer call goes on
  in_write_ = true;
  // Fill from the owner, write, and again while the kernel takes everything, up to
  // kWriteRoundsPerTurn rounds.
  bool all = true;
  bool capped = true;  // every round wrote all it had: the owner may hold more
  for (int round = 0; round < kWriteRoundsPerTurn; ++round) {
    if (state_ == State::kOpen && want_more()) fill();
    if (state_ == State::kClosed || (out_.empty() && tls_pending_.empty())) {
      capped = false;
      break;
    }
    all = ssl_ != nullptr ? write_tls() : write_plain();
    if (state_ == State::kClosed || !all) {
      capped = false;
      break;
    }
  }
  in_write_ = false;
  if (state_ == State::kClosed) return;
  if (capped && state_ == State::kOpen) {
    // The kernel took everything and no EPOLLOUT will come: go on after the other
    // connections' turn, or a backlog larger than the rounds of one turn would wait for the
    // next send (and a Close queued behind it, forever).
    request_flush();
    return;
  }
  if (all) after_write();
}

bool Connection::write_plain() {
  while (!out_.empty()) {
    iovec iov[kMaxIov];
    int count = 0;
    std::size_t offset = head_offset_;
    for (std::size_t i = 0; i < out_.size() && count < kMaxIov - 1; ++i) {
      const Chunk* it = &out_[i];
      std::string_view head = it->head.view();
      if (offset < head.size()) {
        iov[count++] = {const_cast<char*>(head.data() + offset), head.size() - offset};
        offset = 0;
      } else {
        offset -= head.size();
      }
      if (offset < it->data.size()) {
        iov[count++] = {const_cast<char*>(it->data.data() + offset), it->data.size() - offset};
      }
      offset = 0;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        want_out_ = true;
        return false;
      }
      fail(true);
      return false;
    }
    std::size_t done = static_cast<std::size_t>(n);
    out_bytes_ -= done;
    while (done > 0 && !out_.empty()) {
      std::size_t total = out_.front().head.size + out_.front().data.size();
      std::size_t left = total - head_offset_;
      if (done >= left) {
        done -= left;
        head_offset_ = 0;
        out_.pop_front();
      } else {
        head_offset_ += done;
        done = 0;
      }
    }
  }
  want_out_ = false;
  return true;
}

bool Connection::write_tls() {
  while (!out_.empty() || !tls_pending_.empty()) {
    if (tls_pending_.empty()) {
      // Gather up to one TLS record from the queue (SSL_write takes one buffer).
      while (!out_.empty() && tls_pending_.size() < kTlsRecord) {
        Chunk& c = out_.front();
        std::string_view head = c.head.view();
        std::size_t off = head_offset_;
        if (off < head.size()) {
          tls_pending_.append(head.substr(off));
          off = head.size();
        }
        std::size_t data_off = off - head.size();
        std::size_t take = std::min(c.data.size() - data_off, kTlsRecord - std::min(kTlsRecord, tls_pending_.size()));
        tls_pending_.append(c.data.substr(data_off, take));
        out_bytes_ -= (off - head_offset_) + take;
        if (data_off + take == c.data.size()) {
          head_offset_ = 0;
          out_.pop_front();
        } else {
          head_offset_ = head.size() + data_off + take;
          break;
        }
      }
    }
    ERR_clear_error();
    int r = SSL_write(ssl_, tls_pending_.data(), static_cast<int>(tls_pending_.size()));
    if (r <= 0) {
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_WRITE) {
        want_out_ = true;
        return false;
      }
      if (e == SSL_ERROR_WANT_READ) {
        tls_want_read_ = true;
        return false;
      }
      fail(true);
      return false;
    }
    tls_pending_.erase(0, static_cast<std::size_t>(r));
  }
  if (tls_pending_.capacity() > 1024) std::string().swap(tls_pending_);  // idle connections hold nothing
  want_out_ = false;
  return true;
}

void Connection::after_write() {
  if (state_ != State::kDraining || !out_.empty() || !tls_pending_.empty()) return;
  state_ = State::kLingering;
  if (ssl_ != nullptr) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // close_notify; the peer's answer is not awaited
  }
  ::shutdown(fd_, SHUT_WR);
  if (linger_ms_ == 0) {
    close_now();
    return;
  }
  linger_timer_ = loop_.add_timer(now_ms() + linger_ms_, [keep = shared_from_this()] {
    keep->linger_timer_ = 0;
    keep->close_now();
  });
}

void Connection::close_after_flush(std::uint32_t linger_ms) {
  if (state_ != State::kOpen) return;
  state_ = State::kDraining;
  linger_ms_ = linger_ms;
  if (!registered_) return;
  write_ready();
}

void Connection::close_now() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  if (linger_timer_ != 0) loop_.cancel_timer(linger_timer_);
  linger_timer_ = 0;
  if (registered_) loop_.unwatch(fd_, this);
  if (ssl_ != nullptr) SSL_free(ssl_);
  ssl_ = nullptr;
  ::close(fd_);
  fd_ = -1;
  out_.clear();
  out_bytes_ = 0;
  std::string().swap(tls_pending_);
  on_closed();
  // The loop's reference goes last, after the current call returns.
  if (self_) loop_.post([keep = std::move(self_)] {});
}

void Connection::fail(bool error) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kOpen) on_peer_gone(error);
  close_now();
}

// ---------------------------------------------------------------------------------------
// WsConnection

WsConnection::WsConnection(EventLoop& loop, int fd, SSL* ssl, std::string peer, const Limits& limits,
                           std::shared_ptr<Handler> handler)
    : Connection(loop, fd, ssl, std::move(peer)), parser_(limits), handler_(std::move(handler)) {}

void WsConnection::send_frame(websocket::Opcode opcode, std::shared_ptr<const void> owner, std::string_view payload) {
  if (close_sent_ || closing()) return;
  Chunk c;
  c.head = websocket::encode_frame_header(opcode, payload.size());
  c.data = payload;
  c.owner = std::move(owner);
  queue(std::move(c));
}

void WsConnection::send_text_copy(std::string text) {
  auto owned = std::make_shared<const std::string>(std::move(text));
  std::string_view view = *owned;
  send_frame(websocket::Opcode::kText, std::move(owned), view);
}

void WsConnection::send_close(std::uint16_t code, std::string_view reason) {
  if (close_sent_ || closing()) return;
  close_sent_ = true;
  auto frame = websocket::encode_close_frame(code, reason);
  queue_copy(std::string(frame.view()));
  if (parser_.closed()) {
    // The peer's Close came first (this echoes it), or its bytes broke the rules: nothing
    // more to read. The peer closes its end once it has our Close.
    close_after_flush();
    return;
  }
  request_flush();
  // Wait for the peer's Close (RFC 6455 §7.1.1), but not forever.
  loop().add_timer(now_ms() + 2000, [weak = std::weak_ptr<Connection>(shared_from_this())] {
    if (auto self = std::static_pointer_cast<WsConnection>(weak.lock())) self->close_after_flush(0);
  });
}

void WsConnection::close_async(std::uint16_t code, std::string reason) {
  loop().post([self = std::static_pointer_cast<WsConnection>(shared_from_this()), code, r = std::move(reason)] {
    self->send_close(code, r);
  });
}

void WsConnection::on_bytes(char* data, std::size_t size) {
  websocket::MutableBytes input{data, size};
  auto keep = shared_from_this();
  while (!input.empty() && !closing()) {
    websocket::FrameEvent ev = parser_.feed(input);
    using Kind = websocket::FrameEvent::Kind;
    switch (ev.kind) {
      case Kind::kNone:
      case Kind::kPong:
      case Kind::kIgnore:
        break;
      case Kind::kPing:
        if (!close_sent_) {
          auto frame = websocket::encode_control_frame(websocket::Opcode::kPong, ev.data);
          queue_copy(std::string(frame.view()));
        }
        break;
      case Kind::kMessage:
        // After our Close, messages still in flight are read and dropped (§7.1.1).
        if (!close_sent_ && handler_) handler_->on_ws_message(*this, ev.data, ev.opcode == websocket::Opcode::kBinary);
        break;
      case Kind::kClose: {
        const bool peer = ev.peer_initiated;
        const std::uint16_t code = ev.close_code;
        const std::string reason(ev.reason);
        std::uint16_t reported = code;
        std::string reported_reason = reason;
        if (peer && ev.data.size() >= 2) {
          reported = static_cast<std::uint16_t>((static_cast<unsigned char>(ev.data[0]) << 8) |
                                                static_cast<unsigned char>(ev.data[1]));
          reported_reason.assign(ev.data.substr(2));
        } else if (peer) {
          reported = websocket::close_code::kNoStatus;
        }
        if (close_sent_) {
          close_after_flush(1000);  // both Close frames exchanged: the server ends TCP (§7.1.1)
        } else {
          send_close(code, reason);  // echo the peer's Close, or fail the connection
        }
        report(reported, reported_reason, !peer);
        if (!peer) close_after_flush(1000);
        return;
      }
    }
  }
}

void WsConnection::on_peer_gone(bool error) {
  report(1006, "", error);  // RFC 6455 §7.1.5: closed without a Close frame
}

void WsConnection::fill() {
  if (handler_ && !close_sent_) handler_->on_ws_fill(*this);
}

void WsConnection::on_closed() {
  report(1006, "", false);
  handler_.reset();  // the session and this connection referred to each other
}

void WsConnection::report(std::uint16_t code, const std::string& reason, bool error) {
  if (reported_) return;
  reported_ = true;
  if (auto h = handler_) h->on_ws_closed(*this, code, reason, error);
}

// ---------------------------------------------------------------------------------------
// HttpStreamConnection

HttpStreamConnection::HttpStreamConnection(EventLoop& loop, int fd, SSL* ssl, std::string peer,
                                           std::shared_ptr<Handler> handler)
    : Connection(loop, fd, ssl, std::move(peer)), handler_(std::move(handler)) {}

void HttpStreamConnection::on_open() {
  if (keepalive_ms_ != 0) arm_keepalive();
}

void HttpStreamConnection::arm_keepalive() {
  loop().add_timer(now_ms() + keepalive_ms_, [weak = std::weak_ptr<Connection>(shared_from_this())] {
    auto self = std::static_pointer_cast<HttpStreamConnection>(weak.lock());
    if (!self || !self->is_open()) return;
    self->queue_copy(self->keepalive_text_);
    self->flush();
    if (self->is_open()) self->arm_keepalive();
  });
}

void HttpStreamConnection::on_peer_gone(bool error) {
  if (reported_) return;
  reported_ = true;
  if (auto h = handler_) h->on_http_closed(*this, error);
}

void HttpStreamConnection::fill() {
  if (auto h = handler_) h->on_http_fill(*this);
}

void HttpStreamConnection::on_closed() {
  on_peer_gone(false);
  handler_.reset();
}

}  // namespace chorus
