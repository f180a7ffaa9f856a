#include "ws_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>

#include "chorus/base64.h"
#include "chorus/engineio/packet.h"
#include "sha1.h"

namespace chorus::bench {
namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 §1.3
constexpr std::size_t kMaxUpgradeResponse = 16 * 1024;
constexpr std::int64_t kCloseWaitNs = 2'000'000'000;
constexpr int kOpText = 0x1;
constexpr int kOpBinary = 0x2;
constexpr int kOpClose = 0x8;
constexpr int kOpPing = 0x9;
constexpr int kOpPong = 0xA;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// epoll_pwait2 gives sub-millisecond timeouts, which the fixed-rate senders need; fall back
// to millisecond epoll_wait on kernels without it.
int wait_events(int epfd, epoll_event* events, int max, std::int64_t timeout_ns) {
  static bool have_pwait2 = true;
  if (timeout_ns < 0) timeout_ns = 0;
  if (have_pwait2) {
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
    int n = epoll_pwait2(epfd, events, max, &ts, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    have_pwait2 = false;
  }
  return epoll_wait(epfd, events, max, static_cast<int>((timeout_ns + 999'999) / 1'000'000));
}

}  // namespace

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Driver::Driver(std::string host, int port, Handler* handler)
    : host_(std::move(host)), port_(port), handler_(handler), read_buf_(256 * 1024) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  std::random_device rd;
  rng_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^ static_cast<std::uint64_t>(now_ns());
  if (rng_ == 0) rng_ = 0x9E3779B97F4A7C15ULL;
}

Driver::~Driver() {
  for (auto& c : conns_) {
    if (c->ssl != nullptr) SSL_free(c->ssl);
    if (c->fd >= 0) ::close(c->fd);
  }
  if (tls_ != nullptr) SSL_CTX_free(tls_);
  if (epfd_ >= 0) ::close(epfd_);
}

bool Driver::set_tls(bool on) {
  if (!on) {
    if (tls_ != nullptr) SSL_CTX_free(tls_);
    tls_ = nullptr;
    return true;
  }
  if (tls_ != nullptr) return true;
  tls_ = SSL_CTX_new(TLS_client_method());
  if (tls_ == nullptr) {
    stats_.last_error = "SSL_CTX_new failed";
    return false;
  }
  // A benchmark against a self-signed local certificate: nothing to verify. No session
  // resumption either: every connection pays a full handshake, as new clients do.
  SSL_CTX_set_verify(tls_, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_session_cache_mode(tls_, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(tls_,
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  return true;
}

long Driver::io_send(Conn& conn, const char* data, std::size_t size) {
  if (conn.ssl == nullptr) return ::send(conn.fd, data, size, MSG_NOSIGNAL);
  ERR_clear_error();
  int n = SSL_write(conn.ssl, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
  if (n > 0) return n;
  int err = SSL_get_error(conn.ssl, n);
  errno = err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ? EAGAIN
          : err == SSL_ERROR_SYSCALL && errno != 0                  ? errno
                                                                    : EPROTO;
  return -1;
}

long Driver::io_recv(Conn& conn, char* data, std::size_t size) {
  if (conn.ssl == nullptr) return ::recv(conn.fd, data, size, 0);
  ERR_clear_error();
  int n = SSL_read(conn.ssl, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
  if (n > 0) return n;
  int err = SSL_get_error(conn.ssl, n);
  if (err == SSL_ERROR_ZERO_RETURN) return 0;
  if (err == SSL_ERROR_SYSCALL && errno == 0) return 0;  // EOF without close_notify
  errno = err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ? EAGAIN
          : err == SSL_ERROR_SYSCALL                                ? errno
                                                                    : EPROTO;
  return -1;
}

Conn* Driver::open(int port) {
  if (port == 0) port = port_;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ++stats_.connect_failures;
    stats_.last_error = std::string("socket: ") + std::strerror(errno);
    return nullptr;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!sources_.empty()) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    const std::string& ip = sources_[next_source_++ % sources_.size()];
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (inet_pton(AF_INET, ip.c_str(), &src.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      ++stats_.connect_failures;
      stats_.last_error = "bind " + ip + ": " + std::strerror(errno);
      ::close(fd);
      return nullptr;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, host_.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    ++stats_.connect_failures;
    stats_.last_error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  auto conn = std::make_unique<Conn>();
  conn->fd = fd;
  conn->port = port;
  conn->id = next_id_++;
  conn->started_ns = now_ns();
  conn->state = ConnState::kTcpConnecting;
  conn->epollout = true;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.ptr = conn.get();
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  conn->slot = conns_.size();
  Conn* raw = conn.get();
  conns_.push_back(std::move(conn));
  ++open_count_;
  return raw;
}

void Driver::on_connected(Conn& conn) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(conn.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    ++stats_.connect_failures;
    finish(conn, false, std::string("connect: ") + std::strerror(err));
    return;
  }
  if (tls_ != nullptr) {
    conn.ssl = SSL_new(tls_);
    if (conn.ssl == nullptr || SSL_set_fd(conn.ssl, conn.fd) != 1) {
      ++stats_.connect_failures;
      finish(conn, false, "SSL_new failed");
      return;
    }
    SSL_set_connect_state(conn.ssl);
    conn.state = ConnState::kTlsHandshake;
    tls_handshake(conn);
    return;
  }
  start_upgrade(conn);
}

void Driver::tls_handshake(Conn& conn) {
  ERR_clear_error();
  int r = SSL_do_handshake(conn.ssl);
  if (r == 1) {
    conn.tls_want_write = false;
    start_upgrade(conn);
    return;
  }
  int err = SSL_get_error(conn.ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    conn.tls_want_write = err == SSL_ERROR_WANT_WRITE;
    update_epoll(conn);
    return;
  }
  char detail[256] = "";
  ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
  ++stats_.connect_failures;
  finish(conn, false, std::string("TLS handshake: ") + (detail[0] ? detail : std::strerror(errno)));
}

void Driver::start_upgrade(Conn& conn) {
  // RFC 6455 §4.1: a fresh random 16-byte nonce per connection.
  std::string nonce(16, '\0');
  for (std::size_t i = 0; i < 16; i += 8) {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    std::memcpy(&nonce[i], &rng_, 8);
  }
  std::string key = base64::encode(nonce);
  std::string concat = key + std::string(kWebSocketGuid);
  auto digest = sha1(concat);
  conn.expected_accept = base64::encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  conn.state = ConnState::kUpgrading;
  conn.out += "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: ";
  conn.out += host_ + ":" + std::to_string(conn.port);
  conn.out +=
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: ";
  conn.out += key;
  conn.out += "\r\n\r\n";
  flush(conn);
}

void Driver::update_epoll(Conn& conn) {
  bool want = conn.state == ConnState::kTcpConnecting ||
              (conn.state == ConnState::kTlsHandshake ? conn.tls_want_write : conn.out_off < conn.out.size());
  if (want == conn.epollout) return;
  conn.epollout = want;
  epoll_event ev{};
  ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
  ev.data.ptr = &conn;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, conn.fd, &ev);
}

void Driver::flush(Conn& conn) {
  while (conn.out_off < conn.out.size()) {
    long n = io_send(conn, conn.out.data() + conn.out_off, conn.out.size() - conn.out_off);
    if (n > 0) {
      conn.out_off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    fail(conn, std::string("send: ") + std::strerror(errno));
    return;
  }
  if (conn.out_off == conn.out.size()) {
    conn.out.clear();
    conn.out_off = 0;
  } else if (conn.out_off > 64 * 1024) {
    conn.out.erase(0, conn.out_off);
    conn.out_off = 0;
  }
  update_epoll(conn);
}

void Driver::on_writable(Conn& conn) {
  if (conn.state == ConnState::kTcpConnecting) {
    on_connected(conn);
    return;
  }
  flush(conn);
}

void Driver::on_readable(Conn& conn) {
  // TLS may hold decrypted bytes the socket no longer signals: read it until it must wait.
  for (int round = 0; round < 8 || conn.ssl != nullptr; ++round) {
    long n = io_recv(conn, read_buf_.data(), read_buf_.size());
    if (n > 0) {
      conn.in.append(read_buf_.data(), static_cast<std::size_t>(n));
      if (conn.state == ConnState::kUpgrading && !parse_upgrade(conn)) {
        if (conn.state == ConnState::kClosed) return;
        continue;
      }
      parse_frames(conn);
      if (conn.state == ConnState::kClosed) return;
      if (conn.ssl == nullptr && static_cast<std::size_t>(n) < read_buf_.size()) return;
      continue;
    }
    if (n == 0) {
      if (conn.state == ConnState::kClosing) {
        finish(conn, true, "closed");
      } else {
        finish(conn, false, "server closed the connection");
      }
      return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == EINTR) continue;
    if (conn.state == ConnState::kClosing) {
      finish(conn, true, "closed (reset)");
    } else {
      fail(conn, std::string("recv: ") + std::strerror(errno));
    }
    return;
  }
}

bool Driver::parse_upgrade(Conn& conn) {
  std::size_t end = conn.in.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (conn.in.size() > kMaxUpgradeResponse) fail(conn, "upgrade response too large");
    return false;
  }
  std::string_view head(conn.in.data(), end);
  std::size_t line_end = head.find("\r\n");
  std::string_view status = head.substr(0, line_end);
  if (status.substr(0, 12) != "HTTP/1.1 101") {
    fail(conn, "upgrade refused: " + std::string(status));
    return false;
  }
  bool accept_ok = false;
  while (line_end != std::string_view::npos) {
    std::size_t next = head.find("\r\n", line_end + 2);
    std::string_view line =
        head.substr(line_end + 2, next == std::string_view::npos ? std::string_view::npos : next - line_end - 2);
    std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && lower(trim(line.substr(0, colon))) == "sec-websocket-accept") {
      accept_ok = trim(line.substr(colon + 1)) == conn.expected_accept;
    }
    line_end = next;
  }
  if (!accept_ok) {
    fail(conn, "bad Sec-WebSocket-Accept");
    return false;
  }
  conn.in_off = end + 4;
  conn.state = ConnState::kEngineOpen;
  return true;
}

void Driver::parse_frames(Conn& conn) {
  while (conn.state != ConnState::kClosed) {
    const std::size_t avail = conn.in.size() - conn.in_off;
    if (avail < 2) break;
    const auto* p = reinterpret_cast<const std::uint8_t*>(conn.in.data() + conn.in_off);
    const bool fin = (p[0] & 0x80) != 0;
    const int opcode = p[0] & 0x0F;
    const bool masked = (p[1] & 0x80) != 0;
    std::uint64_t len = p[1] & 0x7F;
    std::size_t header = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (std::uint64_t{p[2]} << 8) | p[3];
      header = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      header = 10;
    }
    // RFC 6455 §5.1: a server must not mask its frames.
    if (masked) {
      fail(conn, "masked frame from server");
      return;
    }
    if ((p[0] & 0x70) != 0) {
      fail(conn, "reserved bits set");
      return;
    }
    if (len > 64 * 1024 * 1024) {
      fail(conn, "frame too large");
      return;
    }
    if (avail < header + len) break;
    std::string_view payload(conn.in.data() + conn.in_off + header, static_cast<std::size_t>(len));
    conn.in_off += header + static_cast<std::size_t>(len);
    if (opcode >= 0x8) {
      on_message(conn, opcode, payload);  // control frames are never fragmented (§5.5)
    } else if (opcode == 0) {
      if (conn.message_opcode == 0) {
        fail(conn, "continuation without a message");
        return;
      }
      conn.message.append(payload);
      if (fin) {
        std::string msg = std::move(conn.message);
        int op = conn.message_opcode;
        conn.message.clear();
        conn.message_opcode = 0;
        on_message(conn, op, msg);
      }
    } else if (fin) {
      on_message(conn, opcode, payload);
    } else {
      conn.message.assign(payload);
      conn.message_opcode = opcode;
    }
  }
  if (conn.state == ConnState::kClosed) return;
  if (conn.in_off == conn.in.size()) {
    conn.in.clear();
    conn.in_off = 0;
  } else if (conn.in_off > 64 * 1024) {
    conn.in.erase(0, conn.in_off);
    conn.in_off = 0;
  }
}

void Driver::on_message(Conn& conn, int opcode, std::string_view payload) {
  switch (opcode) {
    case kOpText:
      on_engine_text(conn, payload);
      return;
    case kOpBinary: {
      auto r = conn.decoder.feed_binary(payload);
      if (!r.ok()) {
        fail(conn, "socket.io decode: " + r.error().message);
      } else if (r.value()) {
        on_socket_packet(conn, *r.value());
      }
      return;
    }
    case kOpClose:
      if (conn.state == ConnState::kClosing) return;  // our close answered; wait for EOF
      if (!conn.close_sent) {
        send_frame(conn, kOpClose, payload.substr(0, std::min<std::size_t>(payload.size(), 2)));
        conn.close_sent = true;
      }
      finish(conn, false, "server sent a close frame");
      return;
    case kOpPing:
      send_frame(conn, kOpPong, payload);
      return;
    case kOpPong:
      return;
    default:
      fail(conn, "unknown opcode " + std::to_string(opcode));
  }
}

void Driver::on_engine_text(Conn& conn, std::string_view text) {
  // The echo scenario's hot reply, a Socket.IO ACK on the main namespace ("43<id>[...]"), is
  // matched by its id without decoding its arguments: at tens of thousands a second the
  // load generator's own decoding would otherwise show up in the latencies.
  if (conn.state == ConnState::kReady && text.size() > 3 && text[0] == '4' && text[1] == '3' && text[2] >= '0' &&
      text[2] <= '9') {
    std::uint64_t id = 0;
    std::size_t i = 2;
    while (i < text.size() && i < 22 && text[i] >= '0' && text[i] <= '9') id = id * 10 + (text[i++] - '0');
    if (i < text.size() && text[i] == '[') {
      ack_received(conn, id);
      return;
    }
  }
  auto decoded = engineio::decode_text(text);
  if (!decoded.ok()) {
    fail(conn, "engine.io decode: " + decoded.error().message);
    return;
  }
  engineio::Packet& packet = decoded.value();
  switch (packet.type) {
    case engineio::PacketType::kOpen: {
      if (conn.state != ConnState::kEngineOpen) {
        fail(conn, "unexpected OPEN");
        return;
      }
      auto hs = engineio::parse_handshake(packet.data);
      if (!hs.ok()) {
        fail(conn, "bad handshake: " + hs.error().message);
        return;
      }
      if (engine_only_) {
        conn.state = ConnState::kReady;
        conn.ready_ns = now_ns();
        ++ready_count_;
        handler_->on_ready(conn);
        return;
      }
      conn.state = ConnState::kNamespaceConnect;
      socketio::Packet connect;
      connect.type = socketio::PacketType::kConnect;
      auto enc = socketio::encode(connect);
      send_engine_text(conn, enc->text);
      return;
    }
    case engineio::PacketType::kPing:
      ++stats_.pings_answered;
      send_frame(conn, kOpText,
                 engineio::encode_text(engineio::Packet::text(engineio::PacketType::kPong, packet.data)));
      return;
    case engineio::PacketType::kClose:
      finish(conn, conn.state == ConnState::kClosing, "engine.io close");
      return;
    case engineio::PacketType::kMessage: {
      auto r = packet.binary ? conn.decoder.feed_binary(packet.data) : conn.decoder.feed_text(packet.data);
      if (!r.ok()) {
        fail(conn, "socket.io decode: " + r.error().message);
      } else if (r.value()) {
        on_socket_packet(conn, *r.value());
      }
      return;
    }
    default:
      return;
  }
}

void Driver::on_socket_packet(Conn& conn, socketio::Packet& packet) {
  switch (packet.type) {
    case socketio::PacketType::kConnect:
      if (conn.state == ConnState::kNamespaceConnect) {
        conn.state = ConnState::kReady;
        conn.ready_ns = now_ns();
        ++ready_count_;
        handler_->on_ready(conn);
      }
      return;
    case socketio::PacketType::kConnectError:
      fail(conn, "connect_error");
      return;
    case socketio::PacketType::kDisconnect:
      finish(conn, conn.state == ConnState::kClosing, "server namespace disconnect");
      return;
    case socketio::PacketType::kEvent:
    case socketio::PacketType::kBinaryEvent:
      if (conn.state == ConnState::kReady && packet.data && packet.data->is_array() && packet.data->size() > 0 &&
          (*packet.data)[0].is_string()) {
        handler_->on_event(conn, (*packet.data)[0].as_string(), *packet.data);
      }
      return;
    case socketio::PacketType::kAck:
    case socketio::PacketType::kBinaryAck: {
      if (packet.id) ack_received(conn, *packet.id);
      return;
    }
  }
}

void Driver::ack_received(Conn& conn, std::uint64_t id) {
  auto& q = conn.pending_acks;
  for (auto it = q.begin(); it != q.end(); ++it) {
    if (it->first == id) {
      std::int64_t stamp = it->second;
      q.erase(it);
      handler_->on_ack(conn, id, stamp);
      return;
    }
  }
}

void Driver::send_frame(Conn& conn, int opcode, std::string_view payload) {
  if (conn.state == ConnState::kClosed || conn.close_sent) return;
  std::string& out = conn.out;
  out.push_back(static_cast<char>(0x80 | opcode));
  const std::size_t len = payload.size();
  if (len < 126) {
    out.push_back(static_cast<char>(0x80 | len));
  } else if (len < 65536) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xFF));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((static_cast<std::uint64_t>(len) >> (8 * i)) & 0xFF));
  }
  // RFC 6455 §5.3: every client frame is masked with a fresh 32-bit key.
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  std::uint8_t mask[4];
  std::memcpy(mask, &rng_, 4);
  out.append(reinterpret_cast<const char*>(mask), 4);
  const std::size_t base = out.size();
  out.append(payload);
  for (std::size_t i = 0; i < len; ++i) out[base + i] = static_cast<char>(out[base + i] ^ mask[i & 3]);
  if (opcode == kOpClose) conn.close_sent = true;
  if (!conn.epollout) flush(conn);
}

void Driver::send_engine_text(Conn& conn, std::string_view text) {
  std::string frame = engineio::encode_text(engineio::Packet::text(engineio::PacketType::kMessage, std::string(text)));
  send_frame(conn, kOpText, frame);
}

bool Driver::emit(Conn& conn, std::string_view event, Array args, bool ack, std::int64_t stamp) {
  if (conn.state != ConnState::kReady) return false;
  socketio::Packet packet;
  packet.type = socketio::PacketType::kEvent;
  Array data;
  data.reserve(args.size() + 1);
  data.emplace_back(std::string(event));
  for (auto& a : args) data.push_back(std::move(a));
  packet.data = Value(std::move(data));
  if (ack) {
    packet.id = conn.next_ack_id++;
    conn.pending_acks.emplace_back(*packet.id, stamp);
  }
  auto enc = socketio::encode(packet);
  if (!enc.ok()) return false;
  send_engine_text(conn, enc->text);
  return conn.state != ConnState::kClosed;
}

bool Driver::emit_json(Conn& conn, std::string_view array_json, bool ack, std::int64_t stamp) {
  if (conn.state != ConnState::kReady) return false;
  std::string text = "42";  // Engine.IO MESSAGE, Socket.IO EVENT, main namespace
  if (ack) {
    const std::uint64_t id = conn.next_ack_id++;
    text += std::to_string(id);
    conn.pending_acks.emplace_back(id, stamp);
  }
  text += array_json;
  send_frame(conn, kOpText, text);
  return conn.state != ConnState::kClosed;
}

void Driver::close(Conn& conn) {
  if (conn.state == ConnState::kClosed || conn.state == ConnState::kClosing) return;
  if (conn.state == ConnState::kReady && !engine_only_) {
    socketio::Packet disconnect;
    disconnect.type = socketio::PacketType::kDisconnect;
    auto enc = socketio::encode(disconnect);
    send_engine_text(conn, enc->text);
  }
  if (conn.state == ConnState::kClosed) return;
  if (conn.state == ConnState::kTcpConnecting || conn.state == ConnState::kTlsHandshake ||
      conn.state == ConnState::kUpgrading) {
    finish(conn, true, "closed before open");
    return;
  }
  if (conn.state == ConnState::kReady) --ready_count_;
  conn.state = ConnState::kClosing;
  conn.closing_deadline_ns = now_ns() + kCloseWaitNs;
  closing_.push_back(&conn);
  const char code[2] = {static_cast<char>(1000 >> 8), static_cast<char>(1000 & 0xFF)};
  send_frame(conn, kOpClose, std::string_view(code, 2));
}

void Driver::abort(Conn& conn, const std::string& why, bool error) {
  finish(conn, !error, why);
}

void Driver::fail(Conn& conn, const std::string& why) {
  ++stats_.protocol_errors;
  finish(conn, false, why);
}

void Driver::finish(Conn& conn, bool clean, const std::string& why) {
  if (conn.state == ConnState::kClosed) return;
  if (conn.state == ConnState::kReady) --ready_count_;
  if (!clean) {
    ++stats_.unexpected_closes;
    stats_.last_error = why;
  }
  epoll_ctl(epfd_, EPOLL_CTL_DEL, conn.fd, nullptr);
  if (conn.ssl != nullptr) {
    SSL_free(conn.ssl);
    conn.ssl = nullptr;
  }
  ::close(conn.fd);
  conn.fd = -1;
  conn.state = ConnState::kClosed;
  --open_count_;
  // Move out of the table now; free after the current event batch (events may still
  // point at it).
  std::size_t slot = conn.slot;
  std::unique_ptr<Conn> owned = std::move(conns_[slot]);
  if (slot + 1 != conns_.size()) {
    conns_[slot] = std::move(conns_.back());
    conns_[slot]->slot = slot;
  }
  conns_.pop_back();
  dead_.push_back(std::move(owned));
  handler_->on_closed(conn, clean, why);
}

void Driver::check_closing(std::int64_t now) {
  if (closing_.empty()) return;
  std::vector<Conn*> keep;
  std::vector<Conn*> expired;
  for (Conn* c : closing_) {
    if (c->state != ConnState::kClosing) continue;
    if (now >= c->closing_deadline_ns) {
      expired.push_back(c);
    } else {
      keep.push_back(c);
    }
  }
  closing_ = std::move(keep);
  for (Conn* c : expired) finish(*c, true, "close timeout");
}

void Driver::reap() {
  dead_.clear();
}

void Driver::set_ticker(std::function<std::int64_t(std::int64_t)> tick, std::int64_t first_due_ns) {
  tick_ = std::move(tick);
  tick_due_ = first_due_ns;
}

void Driver::clear_ticker() {
  tick_ = nullptr;
  tick_due_ = INT64_MAX;
}

void Driver::run_until(std::int64_t deadline_ns, const std::function<bool()>& done) {
  epoll_event events[512];
  for (;;) {
    std::int64_t now = now_ns();
    if (tick_ && now >= tick_due_) {
      tick_due_ = tick_(now);
      now = now_ns();
    }
    check_closing(now);
    reap();
    if (done && done()) return;
    if (now >= deadline_ns) {
      // A ticker that fell behind (a busy machine stalled this loop) still gets to send
      // everything due before the deadline: once more round, where it is called.
      if (tick_ && tick_due_ < deadline_ns) continue;
      return;
    }
    std::int64_t wake = std::min(deadline_ns, tick_due_);
    if (!closing_.empty()) wake = std::min(wake, now + 50'000'000);
    int n = wait_events(epfd_, events, 512, wake - now);
    if (n < 0) {
      if (errno == EINTR) continue;
      stats_.last_error = std::string("epoll: ") + std::strerror(errno);
      return;
    }
    for (int i = 0; i < n; ++i) {
      Conn& c = *static_cast<Conn*>(events[i].data.ptr);
      if (c.state == ConnState::kClosed) continue;
      const std::uint32_t ev = events[i].events;
      if (c.state == ConnState::kTcpConnecting) {
        on_connected(c);
        continue;
      }
      if (c.state == ConnState::kTlsHandshake) {
        tls_handshake(c);
        continue;
      }
      if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
      if (c.state != ConnState::kClosed && (ev & EPOLLOUT)) on_writable(c);
    }
  }
}

}  // namespace chorus::bench
