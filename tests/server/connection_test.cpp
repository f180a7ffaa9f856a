// The event loop's connections (server/src/connection.h) on a socket pair: what an owner
// queues reaches the peer whole, however it queues it.
#include "connection.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "event_loop.h"

namespace chorus {
namespace {

// An owner that hands over one small frame per fill() call, as an owner may (it queues less
// than want_more() allows), then its Close.
class OneFramePerFill : public WsConnection::Handler {
 public:
  explicit OneFramePerFill(int frames) : left_(frames) {}
  void on_ws_message(WsConnection&, std::string_view, bool) override {}
  void on_ws_closed(WsConnection&, std::uint16_t, const std::string&, bool) override {}
  void on_ws_fill(WsConnection& ws) override {
    if (left_ > 0) {
      --left_;
      ws.send_text_copy("0123456789");
    } else if (!ws.close_sent()) {
      ws.send_close(1000, "");
    }
  }

 private:
  int left_;
};

// A connected TCP pair on 127.0.0.1 (TCP, not a socket pair: a Unix socket reports a new
// EPOLLOUT edge whenever its peer reads, TCP only once its buffer had been full).
bool tcp_pair(int fds[2]) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bool ok = listener >= 0 && ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::listen(listener, 1) == 0 && ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  fds[1] = ok ? ::socket(AF_INET, SOCK_STREAM, 0) : -1;
  ok = ok && fds[1] >= 0 && ::connect(fds[1], reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  fds[0] = ok ? ::accept(listener, nullptr, nullptr) : -1;
  if (listener >= 0) ::close(listener);
  return ok && fds[0] >= 0;
}

// Reads from `fd` until `bytes` arrived or `ms` passed; returns what arrived.
std::string read_until(int fd, std::size_t bytes, int ms) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  char buf[4096];
  while (got.size() < bytes && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      got.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  return got;
}

// A backlog longer than the write rounds of one loop turn, with a kernel buffer that takes it
// all (no EPOLLOUT edge will come): it must still go out, and the Close behind it.
TEST(Connection, BacklogLongerThanOneTurnGoesOutWithoutAnotherEvent) {
  constexpr int kFrames = 200;
  constexpr std::size_t kFrameBytes = 2 + 10;  // header + "0123456789"
  constexpr std::size_t kCloseBytes = 2 + 2;   // header + code 1000
  int fds[2];
  ASSERT_TRUE(tcp_pair(fds));
  EventLoop loop(0);
  ASSERT_TRUE(loop.start());
  auto ws = std::make_shared<WsConnection>(loop, fds[0], nullptr, "test", Limits{},
                                           std::make_shared<OneFramePerFill>(kFrames));
  loop.post([ws] { ws->open({}); });
  const std::string got = read_until(fds[1], kFrames * kFrameBytes + kCloseBytes, 5000);
  EXPECT_EQ(got.size(), kFrames * kFrameBytes + kCloseBytes);
  if (got.size() == kFrames * kFrameBytes + kCloseBytes) {
    EXPECT_EQ(got.substr(0, kFrameBytes), std::string("\x81\x0a") + "0123456789");
    EXPECT_EQ(got.substr(got.size() - kCloseBytes), std::string("\x88\x02\x03\xe8", 4));
  }
  loop.stop();
  ::close(fds[1]);
}

}  // namespace
}  // namespace chorus
