// A program outside the Chorus tree, built against an installed Chorus (find_package or
// pkg-config) by tests/install/install_test.sh: it starts a chorus::Server on a free port,
// connects to it over Engine.IO long-polling with a plain socket (handshake, Socket.IO
// CONNECT, polls), and exits 0 once its connection handler's event has arrived.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "chorus/server.h"

namespace {

// One HTTP/1.1 request on a new connection (Connection: close); returns the whole answer, or
// "" when the connection failed.
std::string http(int port, const std::string& method, const std::string& target, const std::string& body = "") {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (!body.empty()) {
      request += "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    }
    request += "\r\n" + body;
    std::size_t sent = 0;
    while (sent < request.size()) {
      ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    char buf[4096];
    for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return answer;
}

int fail(const char* what, const std::string& answer) {
  std::fprintf(stderr, "consumer: %s; the answer was:\n%s\n", what, answer.c_str());
  return 1;
}

}  // namespace

int main() {
  chorus::ServerOptions opts;
  opts.port = 0;
  opts.http_threads = 2;
  opts.io_threads = 1;
  chorus::Server server(opts);
  std::atomic<bool> connected{false};
  server.on_connection([&connected](chorus::Socket& socket) {
    connected = true;
    socket.emit("welcome", "chorus");
  });
  chorus::Status started = server.start();
  if (!started.ok()) {
    std::fprintf(stderr, "consumer: start failed: %s\n", started.error().message.c_str());
    return 1;
  }
  const int port = server.port();
  const std::string base = "/socket.io/?EIO=4&transport=polling";

  std::string open = http(port, "GET", base);
  if (open.rfind("HTTP/1.1 200", 0) != 0) return fail("the handshake was not answered 200", open);
  std::size_t at = open.find("0{\"sid\":\"");
  if (at == std::string::npos) return fail("the handshake has no Engine.IO OPEN packet", open);
  at += 9;
  const std::string sid = open.substr(at, open.find('"', at) - at);
  const std::string session = base + "&sid=" + sid;

  std::string posted = http(port, "POST", session, "40");
  if (posted.rfind("HTTP/1.1 200", 0) != 0) return fail("the Socket.IO CONNECT was not answered 200", posted);

  // The CONNECT reply and the handler's event, in one poll or several (a poll with nothing
  // waiting is held until something is sent).
  std::string received;
  for (int polls = 0; polls < 5 && received.find("42[\"welcome\",\"chorus\"]") == std::string::npos; ++polls) {
    std::string poll = http(port, "GET", session);
    if (poll.rfind("HTTP/1.1 200", 0) != 0) return fail("a poll was not answered 200", poll);
    received += poll;
  }
  if (received.find("40{\"sid\":") == std::string::npos) return fail("no Socket.IO CONNECT reply", received);
  if (received.find("42[\"welcome\",\"chorus\"]") == std::string::npos) return fail("no welcome event", received);
  if (!connected) return fail("the connection handler did not run", received);
  server.stop();
  std::printf("consumer: connected to chorus::Server on port %d (sid %s)\n", port, sid.c_str());
  return 0;
}
