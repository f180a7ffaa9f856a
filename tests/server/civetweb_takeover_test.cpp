// Chorus's CivetWeb patch (server/civetweb/chorus-takeover.patch): mg_takeover_connection
// hands a connection's socket, TLS session and unconsumed bytes to the caller, and frees the
// worker. Tested on a bare CivetWeb context with one worker thread and real sockets: a taker
// thread talks to each taken-over connection with raw reads and writes while CivetWeb's only
// worker serves other requests.
#include <arpa/inet.h>
#include <civetweb.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace {

// Bounds every wait so that a broken build fails instead of hanging; never reached when
// things work, whatever the load.
constexpr int kWaitMs = 20'000;

// One connection CivetWeb handed over.
struct Taken {
  int sock = -1;
  SSL* ssl = nullptr;
  std::string buffered;
};

// The handlers' side: what they took over, for the test's taker thread.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Taken> taken;
  std::atomic<int> second_takeover{0};  // result of a second call on the same connection
  std::atomic<int> ws_data_calls{0};
  std::atomic<int> ws_close_calls{0};
  std::atomic<int> close_callbacks{0};

  void take(mg_connection* conn) {
    Taken t;
    void* ssl = nullptr;
    const char* buf = nullptr;
    std::size_t len = 0;
    if (mg_takeover_connection(conn, &t.sock, &ssl, &buf, &len) != 0) {
      ADD_FAILURE() << "mg_takeover_connection refused";
      return;
    }
    int again_sock = -1;
    void* again_ssl = nullptr;
    second_takeover = mg_takeover_connection(conn, &again_sock, &again_ssl, &buf, &len);
    t.ssl = static_cast<SSL*>(ssl);
    t.buffered.assign(buf, len);  // points into CivetWeb's buffer: copied before returning
    std::lock_guard<std::mutex> lock(mu);
    taken.push_back(std::move(t));
    cv.notify_all();
  }
  Taken next() {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::milliseconds(kWaitMs), [&] { return !taken.empty(); })) {
      ADD_FAILURE() << "no connection was taken over";
      return {};
    }
    Taken t = std::move(taken.front());
    taken.pop_front();
    return t;
  }
};

int take_http(mg_connection* conn, void* cbdata) {
  static_cast<Shared*>(cbdata)->take(conn);
  return 200;  // handled: CivetWeb writes nothing more
}
int hello_http(mg_connection* conn, void*) {
  mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  return 200;
}
// Answers with the size of the stack the handler runs on.
int stack_http(mg_connection* conn, void*) {
  pthread_attr_t attr;
  std::size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstacksize(&attr, &size);
    pthread_attr_destroy(&attr);
  }
  std::string body = std::to_string(size);
  mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", body.size(), body.c_str());
  return 200;
}
int ws_connect(const mg_connection*, void*) {
  return 0;
}
void ws_ready(mg_connection* conn, void* cbdata) {
  static_cast<Shared*>(cbdata)->take(conn);
}
int ws_data(mg_connection*, int, char*, std::size_t, void* cbdata) {
  ++static_cast<Shared*>(cbdata)->ws_data_calls;
  return 1;
}
void ws_close(const mg_connection*, void* cbdata) {
  ++static_cast<Shared*>(cbdata)->ws_close_calls;
}
void connection_close(const mg_connection* conn) {
  ++static_cast<Shared*>(mg_get_user_data(mg_get_context(conn)))->close_callbacks;
}

// A CivetWeb context with ONE worker thread on 127.0.0.1 (a free port).
class Civet {
 public:
  explicit Civet(Shared* shared, const std::string& certificate = "") {
    mg_init_library(MG_FEATURES_TLS);
    std::string ports = certificate.empty() ? "127.0.0.1:0" : "127.0.0.1:0s";
    std::vector<const char*> opts = {"listening_ports", ports.c_str(), "num_threads", "1", "enable_keep_alive", "yes"};
    if (!certificate.empty()) opts.insert(opts.end(), {"ssl_certificate", certificate.c_str()});
    opts.push_back(nullptr);
    mg_callbacks callbacks{};
    callbacks.connection_close = connection_close;
    ctx_ = mg_start(&callbacks, shared, opts.data());
    if (ctx_ == nullptr) return;
    mg_set_request_handler(ctx_, "/take$", take_http, shared);
    mg_set_request_handler(ctx_, "/hello$", hello_http, shared);
    mg_set_request_handler(ctx_, "/stack$", stack_http, shared);
    mg_set_websocket_handler(ctx_, "/ws$", ws_connect, ws_ready, ws_data, ws_close, shared);
    mg_server_port sp[1];
    if (mg_get_server_ports(ctx_, 1, sp) == 1) port_ = sp[0].port;
  }
  ~Civet() {
    if (ctx_ != nullptr) mg_stop(ctx_);
  }
  bool ok() const { return ctx_ != nullptr && port_ > 0; }
  int port() const { return port_; }

 private:
  mg_context* ctx_ = nullptr;
  int port_ = 0;
};

int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool wait_for(int fd, short events) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, kWaitMs) == 1;
}

// Raw I/O on a (possibly non-blocking) socket, or through its TLS session.
bool write_all(int fd, SSL* ssl, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    long n = ssl != nullptr ? SSL_write(ssl, s.data() + off, static_cast<int>(s.size() - off))
                            : send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    bool want_read = ssl != nullptr && SSL_get_error(ssl, static_cast<int>(n)) == SSL_ERROR_WANT_READ;
    bool again = ssl != nullptr ? want_read || SSL_get_error(ssl, static_cast<int>(n)) == SSL_ERROR_WANT_WRITE
                                : (n < 0 && (errno == EAGAIN || errno == EINTR));
    if (!again || !wait_for(fd, want_read ? POLLIN : POLLOUT)) return false;
  }
  return true;
}
// Reads until `out` holds `n` bytes; false on EOF, error or the bound.
bool read_n(int fd, SSL* ssl, std::string& out, std::size_t n) {
  char buf[4096];
  while (out.size() < n) {
    long r = ssl != nullptr ? SSL_read(ssl, buf, sizeof buf) : recv(fd, buf, sizeof buf, 0);
    if (r > 0) {
      out.append(buf, static_cast<std::size_t>(r));
      continue;
    }
    bool again = ssl != nullptr ? SSL_get_error(ssl, static_cast<int>(r)) == SSL_ERROR_WANT_READ
                                : (r < 0 && (errno == EAGAIN || errno == EINTR));
    if (!again || !wait_for(fd, POLLIN)) return false;
  }
  return true;
}
// Reads an HTTP response whose body has a Content-Length (or none, for 101).
std::string read_response(int fd, SSL* ssl = nullptr) {
  std::string s;
  while (s.find("\r\n\r\n") == std::string::npos) {
    if (!read_n(fd, ssl, s, s.size() + 1)) return s;
  }
  std::size_t head = s.find("\r\n\r\n") + 4;
  std::size_t cl = s.find("Content-Length: ");
  std::size_t len = cl == std::string::npos || cl > head ? 0 : std::strtoul(s.c_str() + cl + 16, nullptr, 10);
  read_n(fd, ssl, s, head + len);
  return s;
}
// Waits for the server to close the connection (after its close callback ran).
bool eof(int fd, SSL* ssl = nullptr) {
  std::string rest;
  return !read_n(fd, ssl, rest, std::size_t{1} << 20) && rest.empty();
}
std::string body_of(const std::string& response) {
  std::size_t head = response.find("\r\n\r\n");
  return head == std::string::npos ? "" : response.substr(head + 4);
}

// What a taken-over peer sends next must reach the taker, not CivetWeb.
std::string http_ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(CivetwebTakeover, RefusesWithoutAConnection) {
  int sock = -1;
  void* ssl = nullptr;
  const char* buf = nullptr;
  std::size_t len = 0;
  EXPECT_EQ(mg_takeover_connection(nullptr, &sock, &ssl, &buf, &len), -1);
}

TEST(CivetwebTakeover, HandlersRunOnEightMebibyteStacks) {
  Shared shared;
  Civet civet(&shared);
  ASSERT_TRUE(civet.ok());
  int fd = dial(civet.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(write_all(fd, nullptr, "GET /stack HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string r = read_response(fd);
  close(fd);
  EXPECT_GE(std::strtoull(body_of(r).c_str(), nullptr, 10), 8ull * 1024 * 1024) << r;
}

// A plain HTTP request taken over in its handler, with more bytes pipelined behind it.
TEST(CivetwebTakeover, HttpConnectionFreesTheWorkerAndKeepsPipelinedBytes) {
  Shared shared;
  Civet civet(&shared);
  ASSERT_TRUE(civet.ok());
  int client = dial(civet.port());
  ASSERT_GE(client, 0);
  const std::string pipelined = "GET /next HTTP/1.1\r\nHost: x\r\n\r\nand some bytes";
  // One send: CivetWeb reads the request and what follows it together.
  ASSERT_TRUE(write_all(client, nullptr, "GET /take HTTP/1.1\r\nHost: x\r\n\r\n" + pipelined));

  Taken t = shared.next();
  ASSERT_GE(t.sock, 0);
  EXPECT_EQ(t.ssl, nullptr);
  EXPECT_EQ(t.buffered, pipelined);
  EXPECT_EQ(shared.second_takeover.load(), -1);

  // The only worker is free: another client is served while `client` stays open.
  int other = dial(civet.port());
  ASSERT_GE(other, 0);
  ASSERT_TRUE(write_all(other, nullptr, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(body_of(read_response(other)), "hello");
  EXPECT_TRUE(eof(other));
  close(other);

  // The taker owns the connection: it answers, and reads what the client sends next.
  std::thread taker([&] {
    EXPECT_TRUE(write_all(t.sock, nullptr, http_ok("taken:" + t.buffered)));
    std::string more;
    EXPECT_TRUE(read_n(t.sock, nullptr, more, 4));
    EXPECT_TRUE(write_all(t.sock, nullptr, http_ok("echo:" + more)));
    close(t.sock);
  });
  EXPECT_EQ(body_of(read_response(client)), "taken:" + pipelined);
  ASSERT_TRUE(write_all(client, nullptr, "more"));
  EXPECT_EQ(body_of(read_response(client)), "echo:more");
  taker.join();
  char c;
  EXPECT_EQ(recv(client, &c, 1, 0), 0);  // closed by the taker, once
  close(client);
  EXPECT_EQ(shared.close_callbacks.load(), 1);  // `other` only: no close callback for `client`
}

// A masked client text frame (RFC 6455 §5.3) with the fixed mask 1,2,3,4.
std::string masked_frame(const std::string& payload) {
  std::string f = {static_cast<char>(0x81), static_cast<char>(0x80 | payload.size()), 1, 2, 3, 4};
  for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ (i % 4 + 1));
  return f;
}

// A WebSocket taken over in the ready handler, after the 101; its first frame arrived with
// the handshake.
TEST(CivetwebTakeover, WebSocketConnectionFreesTheWorkerAndKeepsTheFirstFrame) {
  Shared shared;
  Civet civet(&shared);
  ASSERT_TRUE(civet.ok());
  int client = dial(civet.port());
  ASSERT_GE(client, 0);
  const std::string frame = masked_frame("first");
  ASSERT_TRUE(write_all(client, nullptr,
                        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" +
                            frame));
  std::string handshake = read_response(client);
  EXPECT_NE(handshake.find("101 Switching Protocols"), std::string::npos) << handshake;
  EXPECT_NE(handshake.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << handshake;

  Taken t = shared.next();
  ASSERT_GE(t.sock, 0);
  EXPECT_EQ(t.buffered, frame);

  int other = dial(civet.port());
  ASSERT_GE(other, 0);
  ASSERT_TRUE(write_all(other, nullptr, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(body_of(read_response(other)), "hello");
  EXPECT_TRUE(eof(other));
  close(other);

  // The taker answers with an unmasked server frame, then reads the client's next frame.
  std::thread taker([&] {
    EXPECT_TRUE(write_all(t.sock, nullptr, std::string("\x81\x04pong", 6)));
    std::string next;
    EXPECT_TRUE(read_n(t.sock, nullptr, next, masked_frame("again").size()));
    EXPECT_EQ(next, masked_frame("again"));
    close(t.sock);
  });
  std::string pong;
  ASSERT_TRUE(read_n(client, nullptr, pong, 6));
  EXPECT_EQ(pong, std::string("\x81\x04pong", 6));
  ASSERT_TRUE(write_all(client, nullptr, masked_frame("again")));
  taker.join();
  close(client);
  // CivetWeb neither read frames nor reported a close for the taken-over WebSocket.
  EXPECT_EQ(shared.ws_data_calls.load(), 0);
  EXPECT_EQ(shared.ws_close_calls.load(), 0);
}

// A self-signed P-256 certificate and its key in one PEM file, as CivetWeb wants them.
std::string make_certificate() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_sign(x, key, EVP_sha256());
  char path[] = "/tmp/chorus-takeover-XXXXXX";
  int fd = mkstemp(path);
  FILE* f = fdopen(fd, "w");
  PEM_write_X509(f, x);
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
  return path;
}

// Over TLS the caller gets the session: the pipelined bytes come decrypted, and the taker
// goes on with SSL_read/SSL_write on the non-blocking socket.
TEST(CivetwebTakeover, TlsConnectionHandsOverItsSession) {
  std::string certificate = make_certificate();
  Shared shared;
  Civet civet(&shared, certificate);
  ASSERT_TRUE(civet.ok());
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL* client = SSL_new(cctx);
  int fd = dial(civet.port());
  ASSERT_GE(fd, 0);
  SSL_set_fd(client, fd);
  ASSERT_EQ(SSL_connect(client), 1);
  const std::string pipelined = "after the request";
  ASSERT_TRUE(write_all(fd, client, "GET /take HTTP/1.1\r\nHost: x\r\n\r\n" + pipelined));

  Taken t = shared.next();
  ASSERT_GE(t.sock, 0);
  ASSERT_NE(t.ssl, nullptr);
  EXPECT_EQ(t.buffered, pipelined);

  int other = dial(civet.port());  // the worker is free (a plain TCP connect, then TLS)
  ASSERT_GE(other, 0);
  SSL* other_ssl = SSL_new(cctx);
  SSL_set_fd(other_ssl, other);
  ASSERT_EQ(SSL_connect(other_ssl), 1);
  ASSERT_TRUE(write_all(other, other_ssl, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(body_of(read_response(other, other_ssl)), "hello");
  EXPECT_TRUE(eof(other, other_ssl));
  SSL_free(other_ssl);
  close(other);

  std::thread taker([&] {
    SSL_set_mode(t.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    EXPECT_TRUE(write_all(t.sock, t.ssl, http_ok("taken:" + t.buffered)));
    std::string more;
    EXPECT_TRUE(read_n(t.sock, t.ssl, more, 4));
    EXPECT_TRUE(write_all(t.sock, t.ssl, http_ok("echo:" + more)));
    SSL_shutdown(t.ssl);
    SSL_free(t.ssl);
    close(t.sock);
  });
  EXPECT_EQ(body_of(read_response(fd, client)), "taken:" + pipelined);
  ASSERT_TRUE(write_all(fd, client, "more"));
  EXPECT_EQ(body_of(read_response(fd, client)), "echo:more");
  taker.join();
  SSL_free(client);
  close(fd);
  SSL_CTX_free(cctx);
  std::remove(certificate.c_str());
}

}  // namespace
