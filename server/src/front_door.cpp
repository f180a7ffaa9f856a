// The front door (front_door.h): CivetWeb's callbacks, Engine.IO handshakes and polling
// requests, the WebSocket handshake and takeover, request checks, static files, start and stop.
#include <civetweb.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "chorus/base64.h"
#include "chorus/json/json.h"
#include "chorus/util/percent.h"
#include "engine_connection.h"
#include "front_door.h"

namespace chorus {

const char* eio_error_message(int code) {
  switch (code) {
    case kUnknownTransport:
      return "Transport unknown";
    case kUnknownSid:
      return "Session ID unknown";
    case kBadHandshakeMethod:
      return "Bad handshake method";
    case kBadRequest:
      return "Bad request";
    case kForbidden:
      return "Forbidden";
    case kUnsupportedProtocolVersion:
      return "Unsupported protocol version";
  }
  return "Bad request";
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::unordered_map<std::string, std::string> parse_query(const char* qs) {
  std::unordered_map<std::string, std::string> out;
  if (qs == nullptr) return out;
  std::string_view q(qs);
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    std::size_t eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string key(k.size() + 1, '\0'), val(v.size() + 1, '\0');
    int kl = mg_url_decode(k.data(), static_cast<int>(k.size()), key.data(), static_cast<int>(key.size()), 1);
    int vl = mg_url_decode(v.data(), static_cast<int>(v.size()), val.data(), static_cast<int>(val.size()), 1);
    if (kl >= 0 && vl >= 0 && !out.count(key.substr(0, static_cast<std::size_t>(kl)))) {
      out.emplace(key.substr(0, static_cast<std::size_t>(kl)), val.substr(0, static_cast<std::size_t>(vl)));
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

std::string query_value(const std::unordered_map<std::string, std::string>& q, const char* key) {
  auto it = q.find(key);
  return it == q.end() ? std::string() : it->second;
}

// Waking a worker blocked in a body read at its deadline. A CivetWeb read returns only when
// all the bytes asked for are there or nothing came for request_timeout_ms, so a body
// trickling in a byte at a time would hold it far past any deadline. At the deadline the
// timer thread sends the worker kBodyWakeSignal (a no-op handler, SA_RESTART) until the read
// returns: its poll() fails with EINTR and the read gives back what it has. Used only when
// the application left that signal at its default disposition.
namespace {
const int kBodyWakeSignal = SIGRTMIN + 5;
std::atomic<bool> g_body_wake{false};
void body_wake_handler(int) {}
}  // namespace

void install_body_wake() {
  struct sigaction old {};
  if (sigaction(kBodyWakeSignal, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) {
    log(LogLevel::kWarn, "signal SIGRTMIN+5 is in use: slow request bodies are timed out only by CivetWeb's reads");
    return;
  }
  struct sigaction sa {};
  sa.sa_handler = body_wake_handler;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(kBodyWakeSignal, &sa, nullptr) == 0) g_body_wake = true;
}

namespace {
struct ReadWatch {
  std::mutex mu;
  bool active = true;
  pthread_t thread = pthread_self();
  TimerService::Id timer = 0;
};

void arm_read_watch(TimerService& timers, const std::shared_ptr<ReadWatch>& w, std::uint64_t at_ms) {
  std::lock_guard<std::mutex> lock(w->mu);
  if (!w->active) return;
  w->timer = timers.schedule(at_ms, [&timers, weak = std::weak_ptr<ReadWatch>(w)] {
    auto watch = weak.lock();
    if (!watch) return;
    {
      std::lock_guard<std::mutex> watch_lock(watch->mu);
      if (!watch->active) return;
      pthread_kill(watch->thread, kBodyWakeSignal);
    }
    arm_read_watch(timers, watch, now_ms() + 20);  // until the read notices (a signal can land just before its poll)
  });
}
}  // namespace

// Reads the request body into `body`: at most `limit` bytes (refused, kTooLarge, without
// buffering more), all of it within `timeout_ms` (kTimedOut: a slow or short body), or the
// client went away (kGone).
namespace {
// The body read behind read_request_body and discard_request_body: a null `body` discards.
BodyRead read_body(mg_connection* conn, TimerService& timers, std::size_t limit, std::uint32_t timeout_ms,
                   std::string* body) {
  const mg_request_info* ri = mg_get_request_info(conn);
  const long long declared = ri->content_length;  // -1: chunked (or no body)
  if (declared > static_cast<long long>(limit)) return BodyRead::kTooLarge;
  if (declared == 0) return BodyRead::kComplete;
  std::size_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::shared_ptr<ReadWatch> watch;
  if (g_body_wake) {
    watch = std::make_shared<ReadWatch>();
    arm_read_watch(timers, watch, now_ms() + timeout_ms);
  }
  if (declared > 0 && body != nullptr) body->reserve(static_cast<std::size_t>(declared));
  BodyRead result = BodyRead::kComplete;
  char buf[16384];
  while (true) {
    if (declared >= 0 && got >= static_cast<std::size_t>(declared)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      result = BodyRead::kTimedOut;
      break;
    }
    int n = mg_read(conn, buf, sizeof buf);
    if (n > 0 && got + static_cast<std::size_t>(n) > limit) {
      result = BodyRead::kTooLarge;
      break;
    }
    if (n > 0) {
      got += static_cast<std::size_t>(n);
      if (body != nullptr) body->append(buf, static_cast<std::size_t>(n));
    }
    if (n > 0 || std::chrono::steady_clock::now() >= deadline) continue;  // the deadline check above decides
    // Nothing, before the deadline: the client closed, or (chunked) the last chunk came.
    result = n < 0 || declared >= 0 ? BodyRead::kGone : BodyRead::kComplete;
    break;
  }
  if (watch) {
    TimerService::Id timer;
    {
      std::lock_guard<std::mutex> lock(watch->mu);
      watch->active = false;  // no signal after this: the response is written next
      timer = watch->timer;
    }
    timers.cancel(timer);
  }
  return result;
}
}  // namespace

BodyRead read_request_body(mg_connection* conn, TimerService& timers, std::size_t limit, std::uint32_t timeout_ms,
                           std::string& body) {
  return read_body(conn, timers, limit, timeout_ms, &body);
}

void discard_request_body(mg_connection* conn, TimerService& timers) {
  constexpr std::size_t kMaxDiscard = 16u << 20;
  constexpr std::uint32_t kDiscardMs = 2000;
  read_body(conn, timers, kMaxDiscard, kDiscardMs, nullptr);
}

std::string body_timeout_message(std::uint32_t timeout_ms) {
  return "request body incomplete after " + std::to_string(timeout_ms) + " ms";
}

namespace {
SessionHandshake::Raw capture_handshake(const mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  SessionHandshake::Raw raw;
  for (int i = 0; i < ri->num_headers; ++i) {
    raw.headers.append(ri->http_headers[i].name).push_back('\0');
    raw.headers.append(ri->http_headers[i].value).push_back('\0');
  }
  raw.target = ri->request_uri ? ri->request_uri : "";
  if (ri->query_string) raw.target += std::string("?") + ri->query_string;
  raw.address = ri->remote_addr;
  raw.secure = ri->is_ssl != 0;
  raw.issued_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return raw;
}
}  // namespace

Handshake SessionHandshake::build(const Raw& raw) {
  Handshake h;
  std::string_view rest(raw.headers);
  while (!rest.empty()) {
    std::size_t name_end = rest.find('\0');
    std::size_t value_end = name_end == std::string_view::npos ? name_end : rest.find('\0', name_end + 1);
    if (value_end == std::string_view::npos) break;
    h.headers[lower(std::string(rest.substr(0, name_end)))] =
        std::string(rest.substr(name_end + 1, value_end - name_end - 1));
    rest.remove_prefix(value_end + 1);
  }
  std::size_t q = raw.target.find('?');
  if (q != std::string::npos) h.query = parse_query(raw.target.c_str() + q + 1);
  h.address = raw.address;
  h.url = raw.target;
  h.secure = raw.secure;
  h.auth = Value::object();  // the CONNECT's auth, per socket; {} when none
  h.issued_ms = raw.issued_ms;
  return h;
}

Handshake make_handshake(const mg_connection* conn) {
  return SessionHandshake::build(capture_handshake(conn));
}

std::shared_ptr<const SessionHandshake> session_handshake(const mg_connection* conn, const ServerImpl& server,
                                                          std::optional<std::string>& refused) {
  if (!server.allow_request) return std::make_shared<const SessionHandshake>(capture_handshake(conn));
  Handshake built = make_handshake(conn);
  refused = server.allow_request(built);
  if (refused) return nullptr;
  return std::make_shared<const SessionHandshake>(std::move(built));
}

std::vector<std::string> Civet::upgrades_for(Transport t) const {
  std::vector<std::string> out;
  if (t != Transport::kWebSocket && transport_enabled("websocket")) out.push_back("websocket");
  return out;
}

bool Civet::transport_enabled(const std::string& name) const {
  for (const std::string& t : server_->options.transports) {
    if (t == name) return true;
  }
  return false;
}

std::string Civet::cors_headers(const mg_connection* conn) const {
  const auto& allowed = server_->options.cors_origins;
  if (allowed.empty()) return {};
  const char* origin = mg_get_header(conn, "Origin");
  bool any = false, match = false;
  for (const std::string& o : allowed) {
    if (o == "*") any = true;
    if (origin != nullptr && o == origin) match = true;
  }
  std::string h;
  // Credentials only ever go with a listed origin (check_options refuses "*" with them).
  if (origin != nullptr && match) {
    h = std::string("Access-Control-Allow-Origin: ") + origin + "\r\n";
    if (server_->options.cors_credentials) h += "Access-Control-Allow-Credentials: true\r\n";
  } else if (any) {
    h = "Access-Control-Allow-Origin: *\r\n";
  }
  // The answer depends on Origin: caches must keep one copy per origin.
  h += "Vary: Origin\r\n";
  return h;
}

// Whether `list` (a comma-separated header value) holds `token`, case-insensitively.
bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.size() == token.size() && lower(std::string(item)) == token) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// CivetWeb's own rule (should_keep_alive and the protocol switch in civetweb.c 1.15): a
// `Connection` header keeps the connection only when it lists keep-alive; without one,
// HTTP/1.1 keeps it and HTTP/1.0 does not; an Upgrade request never returns to HTTP.
bool request_keeps_alive(const mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  const char* connection = mg_get_header(conn, "Connection");
  if (connection != nullptr) {
    std::string value = lower(connection);
    if (value.find("upgrade") != std::string::npos || has_token(value, "close")) return false;
    return has_token(value, "keep-alive");
  }
  return ri->http_version != nullptr && std::string_view(ri->http_version) == "1.1";
}

std::string Civet::connection_header(mg_connection* conn, bool close) const {
  if (close || stopping_ || !request_keeps_alive(conn)) {
    mg_disable_connection_keep_alive(conn);
    return "Connection: close\r\n";
  }
  return "Connection: keep-alive\r\n";
}

void Civet::respond(mg_connection* conn, int status, const char* type, std::string_view body, const std::string& extra,
                    bool close) const {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + mg_get_response_code_text(conn, status) +
                     "\r\nContent-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n" + cors_headers(conn) +
                     connection_header(conn, close) + extra + "\r\n";
  mg_write(conn, head.data(), head.size());
  if (!body.empty()) mg_write(conn, body.data(), body.size());
}

void Civet::respond_error(mg_connection* conn, int status, int code, const std::string& message, bool close) const {
  std::string body = "{\"code\":" + std::to_string(code) + ",\"message\":";
  json::quote_string(message.empty() ? eio_error_message(code) : message, body);
  body += "}";
  respond(conn, status, "application/json", body, {}, close);
}

namespace {
const char* const kAtLimit = "Server at connection limit";
const char* const kAddressPending = "Too many sessions from this address waiting to join a namespace";

// A Socket.IO session from `address` not in a namespace yet: counted until released (when it
// joins one or closes). Null at the per-address limit.
std::shared_ptr<void> take_pending_session(const std::shared_ptr<AddressCounts>& counts, const std::string& address,
                                           std::size_t limit) {
  {
    std::lock_guard<std::mutex> lock(counts->mu);
    std::size_t& n = counts->counts[address];
    if (n >= limit) return nullptr;
    ++n;
  }
  struct Slot {
    Slot(std::shared_ptr<AddressCounts> c, std::string a) : counts(std::move(c)), address(std::move(a)) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    std::shared_ptr<AddressCounts> counts;
    std::string address;
    ~Slot() {
      std::lock_guard<std::mutex> lock(counts->mu);
      auto it = counts->counts.find(address);
      if (it != counts->counts.end() && --it->second == 0) counts->counts.erase(it);
    }
  };
  return std::make_shared<Slot>(counts, address);
}
}  // namespace

bool Civet::pending_sessions_full(const std::string& address) const {
  if (server_->engine_mode) return false;  // no namespaces: nothing to wait for
  std::lock_guard<std::mutex> lock(pending_sessions_->mu);
  auto it = pending_sessions_->counts.find(address);
  return it != pending_sessions_->counts.end() && it->second >= server_->options.max_pending_sessions_per_address;
}

std::shared_ptr<EngineConnection> Civet::create_session(Transport transport, std::shared_ptr<const SessionHandshake> hs,
                                                        std::string* refusal) {
  std::shared_ptr<void> pending;
  if (!server_->engine_mode) {
    pending = take_pending_session(pending_sessions_, hs->address(), server_->options.max_pending_sessions_per_address);
    if (!pending) {
      if (refusal != nullptr) *refusal = kAddressPending;
      return nullptr;
    }
  }
  std::string sid = server_->new_id();
  auto conn =
      std::make_shared<EngineConnection>(this, sid, transport, std::move(hs), limits(), upgrades_for(transport));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || sessions_.size() + raw_slots_ >= max_sessions_) {
      if (refusal != nullptr) *refusal = kAtLimit;
      return nullptr;
    }
    sessions_.emplace(sid, conn);
  }
  if (server_->engine_mode) {
    conn->set_listener(std::make_shared<EngineModeListener>(server_->engine_handlers, conn));
  } else {
    auto listener = server_->on_engine_open(conn);
    listener->hold_until_joined(std::move(pending));
    conn->set_listener(std::move(listener));
  }
  conn->arm_heartbeat();  // first PING due pingInterval from now
  server_->metrics.accepted(transport);
  return conn;
}

std::optional<TakenOver> take_over(mg_connection* conn, const char* what) {
  int sock = -1;
  void* ssl = nullptr;
  const char* buffered = nullptr;
  std::size_t buffered_len = 0;
  if (mg_takeover_connection(conn, &sock, &ssl, &buffered, &buffered_len) != 0) {
    log(LogLevel::kError, std::string("cannot take ") + what + " over from CivetWeb");
    return std::nullopt;
  }
  return TakenOver{sock, static_cast<SSL*>(ssl), std::string(buffered, buffered_len),
                   mg_get_request_info(conn)->remote_addr};
}

std::shared_ptr<HttpStreamConnection> Civet::take_over_stream(mg_connection* conn,
                                                              std::shared_ptr<HttpStreamConnection::Handler> handler,
                                                              std::string head, bool sse) {
  auto t = take_over(conn, "a response stream");
  if (!t) return nullptr;
  EventLoop& loop = next_loop();
  auto c = std::make_shared<HttpStreamConnection>(loop, t->sock, t->ssl, std::move(t->peer), std::move(handler));
  if (sse) c->set_keepalive(15'000, ": keep-alive\n\n");  // proxies drop silent streams
  // Bytes the client sent after this request (a pipelined request) are not read: the
  // response says `Connection: close`.
  loop.post([c, head = std::move(head)]() mutable {
    if (!head.empty()) c->queue_copy(std::move(head));
    c->open({});
  });
  return c;
}

int Civet::on_http(mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  std::string method = ri->request_method ? ri->request_method : "";
  if (method == "OPTIONS") {
    std::string cors = cors_headers(conn);
    if (cors.find("Allow-Origin") == std::string::npos) {
      respond(conn, 403, "text/plain", "origin not allowed\n");
      return 403;
    }
    const char* req_headers = mg_get_header(conn, "Access-Control-Request-Headers");
    std::string extra = "Access-Control-Allow-Methods: GET, POST\r\nAccess-Control-Max-Age: 86400\r\n";
    if (req_headers != nullptr) extra += std::string("Access-Control-Allow-Headers: ") + req_headers + "\r\n";
    respond(conn, 204, "text/plain", "", extra);
    return 204;
  }
  auto q = parse_query(ri->query_string);
  std::string transport = query_value(q, "transport");
  // Checks in the reference server's order: transport, sid, method, protocol version.
  if (!transport_enabled(transport) || transport == "websocket") {
    // A websocket request without an Upgrade header is a bad request (code 3).
    respond_error(conn, 400,
                  transport == "websocket" && transport_enabled(transport) ? kBadRequest : kUnknownTransport);
    return 400;
  }
  const bool sse = transport == "sse";
  std::string sid = query_value(q, "sid");
  if (!sid.empty()) {
    auto session = find(sid);
    if (!session) {
      respond_error(conn, 400, kUnknownSid);
      return 400;
    }
    if (method == "GET" && sse) {
      respond_error(conn, 400, kBadRequest, "one SSE stream per session");  // it opened the session
    } else if (method == "GET") {
      session->handle_poll(conn);
    } else if (method == "POST") {
      session->handle_post(conn);
    } else {
      respond_error(conn, 400, kBadRequest);
    }
    return 200;
  }
  if (method != "GET") {
    respond_error(conn, 400, kBadHandshakeMethod);
    return 400;
  }
  if (query_value(q, "EIO") != "4") {
    respond_error(conn, 400, kUnsupportedProtocolVersion);
    return 400;
  }
  std::optional<std::string> refused;
  auto hs = session_handshake(conn, *server_, refused);
  if (!hs) {
    respond_error(conn, 403, kForbidden, *refused);
    return 403;
  }
  std::string refusal;
  auto session = create_session(sse ? Transport::kSse : Transport::kPolling, std::move(hs), &refusal);
  if (!session) {
    respond_error(conn, 503, kBadRequest, refusal);
    return 503;
  }
  if (sse) {
    if (server_->engine_mode && server_->engine_handlers.on_open) server_->engine_handlers.on_open(*session);
    session->handle_sse(conn);  // holds this worker for the life of the stream
    return 200;
  }
  std::string open = engineio::encode_text(session->open_packet());
  server_->metrics.bytes_sent(open.size());
  respond(conn, 200, "text/plain; charset=UTF-8", open);
  if (server_->engine_mode && server_->engine_handlers.on_open) server_->engine_handlers.on_open(*session);
  return 200;
}

int Civet::on_ws_connect(const mg_connection* cconn) {
  auto* conn = const_cast<mg_connection*>(cconn);  // to answer a refused handshake with JSON
  const mg_request_info* ri = mg_get_request_info(conn);
  auto q = parse_query(ri->query_string);
  std::string transport = query_value(q, "transport");
  if (transport != "websocket" || !transport_enabled(transport)) {
    respond_error(conn, 400, kUnknownTransport);
    return 1;
  }
  auto pending = std::make_unique<WsPending>();
  std::string sid = query_value(q, "sid");
  if (!sid.empty()) {
    auto session = find(sid);
    if (!session) {
      respond_error(conn, 400, kUnknownSid);
      return 1;
    }
    Status s = session->begin_upgrade(Transport::kWebSocket);
    if (!s) {
      // Upgraded already, or upgrading: as the reference, complete the handshake, then
      // close this WebSocket (1002: Engine.IO allows one upgrade); the session carries on.
      pending->refused = s.error().message;
    }
    pending->is_upgrade = true;
    pending->sid = sid;
  } else {
    if (query_value(q, "EIO") != "4") {
      respond_error(conn, 400, kUnsupportedProtocolVersion);
      return 1;
    }
    std::optional<std::string> refused;
    pending->handshake = session_handshake(conn, *server_, refused);
    if (!pending->handshake) {
      respond_error(conn, 403, kForbidden, *refused);
      return 1;
    }
    if (at_limit()) {
      respond_error(conn, 503, kBadRequest, kAtLimit);
      return 1;
    }
    if (pending_sessions_full(pending->handshake->address())) {
      respond_error(conn, 503, kBadRequest, kAddressPending);
      return 1;
    }
  }
  mg_set_user_connection_data(conn, pending.release());
  return 0;
}

// After the 101 answer: the connection leaves CivetWeb for an event loop.
void Civet::on_ws_ready(mg_connection* conn) {
  std::unique_ptr<WsPending> pending(static_cast<WsPending*>(mg_get_user_connection_data(conn)));
  mg_set_user_connection_data(conn, nullptr);
  if (!pending) return;
  auto t = take_over(conn, "a WebSocket");
  if (!t) return;  // CivetWeb's read loop finds no handler data and closes it
  EventLoop& loop = next_loop();
  auto ws = std::make_shared<WsConnection>(loop, t->sock, t->ssl, std::move(t->peer), limits(), nullptr);
  // Registers on the loop with what CivetWeb read past the handshake; closes at once with
  // `close_code` when one is given.
  auto start = [&loop, &ws, initial = std::move(t->buffered)](std::uint16_t close_code, std::string reason) mutable {
    loop.post([ws, initial = std::move(initial), close_code, reason = std::move(reason)]() mutable {
      ws->open(std::move(initial));
      if (close_code != 0) ws->send_close(close_code, reason);
    });
  };
  if (!pending->refused.empty()) return start(websocket::close_code::kProtocolError, pending->refused);
  if (pending->is_upgrade) {
    auto session = find(pending->sid);
    if (!session) return start(websocket::close_code::kNormal, "session closed");
    ws->set_handler(session);
    session->attach_ws(ws, true);
    return start(0, {});
  }
  auto session = create_session(Transport::kWebSocket, std::move(pending->handshake));
  if (!session) return start(1013, "server at connection limit");  // RFC 6455 §7.4.1: Try Again Later
  ws->set_handler(session);
  session->send(OutFrame::text(engineio::encode_text(session->open_packet())));
  session->attach_ws(ws, false);
  start(0, {});
  if (server_->engine_mode && server_->engine_handlers.on_open) server_->engine_handlers.on_open(*session);
}

// Only reached when the takeover failed: CivetWeb's own read loop runs, and ends it.
int Civet::on_ws_data(mg_connection*, int, char*, std::size_t) {
  return 0;
}

void Civet::on_ws_close(const mg_connection* conn) {
  delete static_cast<WsPending*>(mg_get_user_connection_data(conn));  // a handshake that never became ready
  mg_set_user_connection_data(const_cast<mg_connection*>(conn), nullptr);
}

// CivetWeb C callbacks: `cbdata` is the Civet instance. Each runs on a worker thread, whose
// stack is CHORUS_HANDLER_STACK_BYTES (8 MiB, server/CMakeLists.txt).
int http_cb(mg_connection* conn, void* cbdata) {
  return static_cast<Civet*>(cbdata)->on_http(conn);
}
int ws_connect_cb(const mg_connection* conn, void* cbdata) {
  return static_cast<Civet*>(cbdata)->on_ws_connect(conn);
}
void ws_ready_cb(mg_connection* conn, void* cbdata) {
  static_cast<Civet*>(cbdata)->on_ws_ready(conn);
}
int ws_data_cb(mg_connection* conn, int bits, char* data, std::size_t len, void* cbdata) {
  return static_cast<Civet*>(cbdata)->on_ws_data(conn, bits, data, len);
}
void ws_close_cb(const mg_connection* conn, void* cbdata) {
  static_cast<Civet*>(cbdata)->on_ws_close(conn);
}
int route_cb(mg_connection* conn, void* cbdata) {
  return static_cast<Civet*>(cbdata)->on_route(conn);
}
int feed_cb(mg_connection* conn, void* cbdata) {
  return static_cast<Civet*>(cbdata)->on_feed(conn);
}
int sse_route_cb(mg_connection* conn, void* cbdata) {
  auto* d = static_cast<SseRouteData*>(cbdata);
  return d->civet->on_sse_route(conn, d->index);
}
int mount_cb(mg_connection* conn, void* cbdata) {
  auto* d = static_cast<MountData*>(cbdata);
  return d->civet->on_mount(conn, d->index);
}
int begin_request_cb(mg_connection* conn) {
  return static_cast<Civet*>(mg_get_user_data(mg_get_context(conn)))->on_begin_request(conn);
}
void connection_close_cb(const mg_connection* conn) {
  auto* civet = static_cast<Civet*>(mg_get_user_data(mg_get_context(conn)));
  if (civet == nullptr) return;
  if (civet->take_raw_pending(conn)) {
    raw_ws_abandoned(conn);  // a raw WebSocket whose handshake failed
    civet->release_slot();
  }
  civet->on_connection_close(const_cast<mg_connection*>(conn));
}
int log_cb(const mg_connection*, const char* message) {
  log(LogLevel::kDebug, std::string("civetweb: ") + message);
  return 1;
}

// Every request passes here first (static files included).
//  - Request smuggling shapes (RFC 9112 §6.1, §6.3): Content-Length that is not a plain
//    number, two differing Content-Length values, Content-Length beside Transfer-Encoding,
//    or Transfer-Encoding given twice: 400 and the connection closes, since where the next
//    request starts is unknown. (CivetWeb 1.15 reads the first Content-Length only and lets
//    Transfer-Encoding win.)
//  - A WebSocket upgrade is a GET over HTTP/1.1 (RFC 6455 §4.1): 405 / 400 otherwise.
//  - CivetWeb 1.15 drops a WebSocket handshake with a missing key or another version without
//    an answer; RFC 6455 §4.2.2 wants 400, or 426 with the version we speak.
int Civet::on_begin_request(mg_connection* conn) {
  if (int answered = check_path(conn)) return answered;
  const mg_request_info* ri = mg_get_request_info(conn);
  const char* length = nullptr;
  int encodings = 0;
  for (int i = 0; i < ri->num_headers; ++i) {
    std::string name = lower(ri->http_headers[i].name);
    const char* value = ri->http_headers[i].value;
    if (name == "transfer-encoding") {
      ++encodings;
    } else if (name == "content-length") {
      std::string_view v(value);
      bool digits = !v.empty() && v.size() <= 18;
      for (char c : v) digits = digits && c >= '0' && c <= '9';
      if (!digits) {
        respond_error(conn, 400, kBadRequest, "invalid Content-Length", true);
        return 400;
      }
      if (length != nullptr && std::string_view(length) != v) {
        respond_error(conn, 400, kBadRequest, "conflicting Content-Length headers", true);
        return 400;
      }
      length = value;
    }
  }
  if (encodings > 1 || (encodings == 1 && length != nullptr)) {
    respond_error(conn, 400, kBadRequest,
                  encodings > 1 ? "Transfer-Encoding given twice" : "Content-Length with Transfer-Encoding", true);
    return 400;
  }
  const char* upgrade = mg_get_header(conn, "Upgrade");
  if (upgrade == nullptr || !has_token(lower(upgrade), "websocket") || ri->local_uri == nullptr) return 0;
  std::string_view uri(ri->local_uri);
  bool ours = uri.substr(0, route_.size()) == route_;
  for (const auto& [path, handlers] : server_->ws_routes) ours = ours || uri == path;
  if (!ours) return 0;
  const char* connection = mg_get_header(conn, "Connection");
  if (connection == nullptr || lower(connection).find("upgrade") == std::string::npos) return 0;  // plain HTTP
  if (std::string_view(ri->request_method ? ri->request_method : "") != "GET") {
    respond(conn, 405, "application/json", "{\"code\":3,\"message\":\"a WebSocket upgrade is a GET request\"}",
            "Allow: GET\r\n", true);
    return 405;
  }
  if (ri->http_version == nullptr || std::string_view(ri->http_version) != "1.1") {
    respond_error(conn, 400, kBadRequest, "a WebSocket upgrade needs HTTP/1.1", true);
    return 400;
  }
  const char* version = mg_get_header(conn, "Sec-WebSocket-Version");
  if (version == nullptr || std::string_view(version) != "13") {
    respond(conn, 426, "application/json", "{\"code\":3,\"message\":\"WebSocket version 13 required\"}",
            "Sec-WebSocket-Version: 13\r\n");
    return 426;
  }
  const char* key = mg_get_header(conn, "Sec-WebSocket-Key");
  auto decoded = key == nullptr ? Result<std::string>(make_error(ErrorCode::kInvalidPacket, "")) : base64::decode(key);
  if (!decoded || decoded->size() != 16) {
    respond_error(conn, 400, kBadRequest, "invalid Sec-WebSocket-Key");
    return 400;
  }
  return 0;
}

// CivetWeb 1.15 closes the connection without a word after an asterisk-form request target
// (`OPTIONS *`) or an absolute-form one naming another port (RFC 9112 §3.2): answer it here,
// as the connection closes. The request is still the last one parsed; CivetWeb sent nothing
// for these (its other refusals, such as a malformed target, answered 400 themselves).
void Civet::on_connection_close(mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  if (ri == nullptr || ri->request_uri == nullptr || ri->request_method == nullptr || ri->local_uri != nullptr) return;
  std::string_view target(ri->request_uri);
  const bool asterisk = target == "*";
  bool absolute = false;
  for (std::string_view scheme : {"http://", "https://", "ws://", "wss://"}) {
    if (target.size() <= scheme.size() || lower(std::string(target.substr(0, scheme.size()))) != scheme) continue;
    std::string_view rest = target.substr(scheme.size());
    std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos) break;  // CivetWeb refused it (400)
    std::string_view host = rest.substr(0, slash);
    std::size_t colon = host.find(':');
    absolute = true;
    if (colon != std::string_view::npos) {
      std::string_view port = host.substr(colon + 1);
      unsigned long n = 0;
      for (char c : port) {
        absolute = absolute && c >= '0' && c <= '9' && n <= 65535;
        n = n * 10 + static_cast<unsigned long>(c - '0');
      }
      absolute = absolute && !port.empty() && n > 0 && n <= 65535;
    }
    break;
  }
  for (char c : target) absolute = absolute && static_cast<unsigned char>(c) > 32;
  if (!asterisk && !absolute) return;
  std::string out;
  if (asterisk && std::string_view(ri->request_method) == "OPTIONS") {
    out = "HTTP/1.1 204 No Content\r\nAllow: GET, HEAD, POST, OPTIONS\r\nConnection: close\r\n\r\n";
  } else {
    std::string body = asterisk ? "the asterisk-form target (*) is for OPTIONS only\n"
                                : "absolute-form target for another server: this is not a proxy\n";
    out = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n" + body;
  }
  mg_write(conn, out.data(), out.size());
}

namespace {
using util::percent_decode;
// A path that cannot name a file as written: a NUL or control character (C string APIs
// would cut "/index.html%00.js" to "/index.html"), or a segment ending in '.' (CivetWeb
// drops trailing dots, which made "/index.html." serve "/index.html").
bool names_no_file(std::string_view path) {
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  }
  for (const std::string& segment : split_path(path)) {
    if (segment.back() == '.' && segment != "." && segment != "..") return true;
  }
  return false;
}
}  // namespace

// CivetWeb leaves the path encoded (decode_url no): ri->local_uri_raw is the path as sent,
// ri->local_uri the same with its plain dot segments resolved. Decoding here lets Chorus refuse
// what CivetWeb's own decoding hid, before any handler or the static file server sees it.
int Civet::check_path(mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  if (ri->local_uri_raw == nullptr || ri->local_uri == nullptr) return 0;  // "*" or another host
  std::string raw, path;
  if (!percent_decode(ri->local_uri_raw, raw) || !percent_decode(ri->local_uri, path)) {
    respond(conn, 400, "application/json", "{\"error\":\"malformed percent-encoding in the path\"}");
    return 400;
  }
  bool refused = names_no_file(raw);
  // Plain dot segments are resolved already: one left now was encoded ("%2e%2e", "..%2f").
  for (const std::string& segment : split_path(path)) refused = refused || segment == "." || segment == "..";
  if (refused) {
    respond(conn, 404, "application/json", "{\"error\":\"not found\"}");
    return 404;
  }
  // As CivetWeb's own decoding did: the decoded path, with repeated slashes folded. Never
  // longer than the buffer it goes into (decoding and folding only shorten).
  std::string folded;
  for (char c : path) {
    if (c != '/' || folded.empty() || folded.back() != '/') folded.push_back(c);
  }
  std::memcpy(const_cast<char*>(ri->local_uri), folded.c_str(), folded.size() + 1);
  // Static files (document root) take GET and HEAD only; CivetWeb would answer PUT and
  // DELETE with 401 (its WebDAV-style authentication).
  const bool serves_files = !server_->options.document_root.empty();
  std::string_view method = ri->request_method != nullptr ? ri->request_method : "";
  if (serves_files && method != "GET" && method != "HEAD" && !claimed(folded)) {
    respond(conn, 405, "application/json", "{\"error\":\"static files: GET and HEAD only\"}", "Allow: GET, HEAD\r\n");
    return 405;
  }
  return 0;
}

// Whether a Chorus handler (not the static file server) answers this path.
bool Civet::claimed(std::string_view uri) const {
  auto under = [&](std::string_view prefix) {
    while (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
    return uri.substr(0, prefix.size()) == prefix && (uri.size() == prefix.size() || uri[prefix.size()] == '/');
  };
  const ServerOptions& o = server_->options;
  if (under(route_) || (!o.feeds_path.empty() && under(o.feeds_path))) return true;
  for (const RouteSpec& r : server_->routes) {
    if (under("/" + r.segments.front())) return true;
  }
  for (const auto& [path, handler] : server_->sse_routes) {
    if (uri == path) return true;
  }
  for (const auto& [path, handlers] : server_->ws_routes) {
    if (uri == path) return true;
  }
  for (const StaticMount& m : o.mounts) {
    if (under(m.prefix)) return true;
  }
  return false;
}

// A StaticMount: GET/HEAD of the regular files it lists (or, without a list, of any regular
// file below its folder). Paths reach here decoded and checked (check_path).
int Civet::on_mount(mg_connection* conn, std::size_t index) {
  const StaticMount& m = server_->options.mounts[index];
  const mg_request_info* ri = mg_get_request_info(conn);
  std::string_view method = ri->request_method != nullptr ? ri->request_method : "";
  std::string_view uri = ri->local_uri != nullptr ? ri->local_uri : "";
  std::string prefix = m.prefix;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  prefix.push_back('/');
  if (method != "GET" && method != "HEAD") {
    respond(conn, 405, "application/json", "{\"error\":\"static files: GET and HEAD only\"}", "Allow: GET, HEAD\r\n");
    return 405;
  }
  std::string rest = uri.size() > prefix.size() ? std::string(uri.substr(prefix.size())) : std::string();
  if (rest.empty() && !m.index.empty() && uri == prefix) rest = m.index;
  bool listed = rest == m.index && !rest.empty() ? true
                : m.files.empty()                ? !rest.empty()
                                                 : std::find(m.files.begin(), m.files.end(), rest) != m.files.end();
  for (const std::string& segment : split_path(rest)) listed = listed && segment != "..";
  std::string file = m.directory + (m.directory.empty() || m.directory.back() != '/' ? "/" : "") + rest;
  struct stat st {};
  if (!listed || uri.substr(0, prefix.size()) != prefix || stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    respond(conn, 404, "application/json", "{\"error\":\"not found\"}");
    return 404;
  }
  mg_send_mime_file(conn, file.c_str(), nullptr);  // content type from extra_mime_types; HEAD, ranges
  return 200;
}

namespace {
// Raises the soft limit on open files to the hard limit (every connection is a descriptor)
// and returns the soft limit now in force.
std::size_t raise_file_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur != rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur == RLIM_INFINITY ? std::size_t{1} << 20 : static_cast<std::size_t>(rl.rlim_cur);
}
}  // namespace

Status Civet::start() {
  static std::once_flag init_once;
  std::call_once(init_once, [] {
    mg_init_library(MG_FEATURES_TLS);
    install_body_wake();
  });
  const ServerOptions& o = server_->options;
  bool tls = !o.tls_certificate.empty();
  std::string ports = o.host + ":" + std::to_string(o.port) + (tls ? "s" : "");
  // CivetWeb's workers serve short requests only (DESIGN.md §3); open connections are
  // descriptors on the event loops, so the file limit bounds them, not threads.
  const std::size_t http_threads = std::max<std::size_t>(o.http_threads, 1);
  const std::size_t files = raise_file_limit();
  const std::size_t reserve = http_threads + 64;  // listeners, epoll, eventfds, files being served, logs
  const std::size_t fd_capacity = files > reserve ? files - reserve : 1;
  max_sessions_ = o.max_connections;
  if (max_sessions_ > fd_capacity) {
    // Said as a warning when the limit was asked for; the default just reports its capacity.
    log(o.max_connections == ServerOptions{}.max_connections ? LogLevel::kDebug : LogLevel::kWarn,
        "max_connections " + std::to_string(o.max_connections) + " is more than the open-file limit (" +
            std::to_string(files) + ") allows: serving at most " + std::to_string(fd_capacity) +
            " connections (raise the hard limit: ulimit -Hn, LimitNOFILE=)");
    max_sessions_ = fd_capacity;
  }
  std::string threads = std::to_string(http_threads);
  std::string ws_timeout =
      std::to_string(static_cast<std::uint64_t>(o.limits.ping_interval_ms) + o.limits.ping_timeout_ms + 10000);
  std::vector<std::string> kv = {
      "listening_ports",
      ports,
      "num_threads",
      threads,
      "connection_queue",
      "1024",  // accepted sockets waiting for a worker
      "listen_backlog",
      "1024",
      "enable_directory_listing",
      "no",
      "access_control_allow_origin",
      "",
      "enable_keep_alive",
      "yes",
      // Only while stopping (a connection between requests is parked otherwise).
      "keep_alive_timeout_ms",
      std::to_string(std::max<std::uint32_t>(o.keep_alive_timeout_ms, 1)),
      "max_request_size",
      std::to_string(kMaxRequestHead),
      "request_timeout_ms",
      std::to_string(std::max<std::uint32_t>(o.body_timeout_ms, 1)),
      "websocket_timeout_ms",
      ws_timeout,
      "enable_websocket_ping_pong",
      "no",
      "tcp_nodelay",
      "1",
      "decode_url",
      "no",  // check_path decodes (and refuses what cannot name a file)
      // Absolute-form targets (RFC 9112 §3.2.2) naming this server's port are served as their
      // path; CivetWeb would otherwise demand its "authentication_domain" as the host.
      "enable_auth_domain_check",
      "no",
      "ssi_pattern",
      "",  // no server-side includes: .shtml files are served as they are
      // ES modules and WebAssembly must carry their types or browsers refuse to load them.
      "extra_mime_types",
      ".mjs=text/javascript,.map=application/json,.wasm=application/wasm,.d.ts=text/plain; charset=utf-8",
  };
  if (!o.document_root.empty()) kv.insert(kv.end(), {"document_root", o.document_root});
  if (tls) {
    kv.insert(kv.end(), {"ssl_certificate", o.tls_certificate, "ssl_protocol_version", "4"});
  }
  std::vector<const char*> opts;
  for (const std::string& s : kv) opts.push_back(s.c_str());
  opts.push_back(nullptr);

  std::size_t io_threads = o.io_threads;
  if (io_threads == 0) {
    // One loop per core this process may run on (taskset, cgroup cpusets), not per core of
    // the machine.
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    io_threads = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? static_cast<std::size_t>(CPU_COUNT(&cpus))
                                                               : std::thread::hardware_concurrency();
    io_threads = std::max<std::size_t>(io_threads, 1);
  }
  loops_ = std::make_unique<LoopGroup>(io_threads);
  if (Status s = loops_->start(); !s) {
    loops_->stop();
    loops_.reset();
    return s;
  }
  mg_callbacks callbacks{};
  callbacks.log_message = log_cb;
  callbacks.begin_request = begin_request_cb;
  callbacks.connection_close = connection_close_cb;
  callbacks.park_connection = park_cb;
  callbacks.resumed_done = resumed_done_cb;
  route_ = o.path;
  while (route_.size() > 1 && route_.back() == '/') route_.pop_back();

  ctx_ = mg_start(&callbacks, this, opts.data());
  if (ctx_ == nullptr) {
    loops_->stop();
    loops_.reset();
    return make_error(ErrorCode::kProtocol,
                      "cannot start the server on " + o.host + ":" + std::to_string(o.port) +
                          (tls ? " (check the certificate file " + o.tls_certificate + ": PEM with certificate and key)"
                               : " (address in use?)"));
  }
  {
    std::lock_guard<std::mutex> lock(park_mu_);
    resume_ctx_ = ctx_;
  }
  mg_set_request_handler(ctx_, route_.c_str(), http_cb, this);
  // Engine.IO speaks no WebSocket subprotocol: an empty list, so none offered is echoed.
  static mg_websocket_subprotocols no_subprotocols{0, nullptr};
  mg_set_websocket_handler_with_subprotocols(ctx_, route_.c_str(), &no_subprotocols, ws_connect_cb, ws_ready_cb,
                                             ws_data_cb, ws_close_cb, this);
  // Raw routes: one CivetWeb handler per first path segment; on_route matches the rest.
  std::set<std::string> prefixes;
  for (const RouteSpec& r : server_->routes) prefixes.insert("/" + r.segments.front());
  for (const std::string& p : prefixes) mg_set_request_handler(ctx_, p.c_str(), route_cb, this);
  for (std::size_t i = 0; i < server_->sse_routes.size(); ++i) {
    sse_data_.push_back(std::make_unique<SseRouteData>(SseRouteData{this, i}));
    mg_set_request_handler(ctx_, (server_->sse_routes[i].first + "$").c_str(), sse_route_cb, sse_data_.back().get());
  }
  for (auto& [path, handlers] : server_->ws_routes) {
    auto route = std::make_unique<RawWsRoute>();
    route->civet = this;
    route->handlers = &handlers;
    for (const std::string& name : handlers.subprotocols) route->names.push_back(name.c_str());
    route->subprotocols.nb_subprotocols = static_cast<int>(route->names.size());
    route->subprotocols.subprotocols = route->names.data();
    ws_data_.push_back(std::move(route));
    mg_set_websocket_handler_with_subprotocols(ctx_, path.c_str(), &ws_data_.back()->subprotocols, raw_ws_connect,
                                               raw_ws_ready, raw_ws_data, raw_ws_close, ws_data_.back().get());
  }
  for (std::size_t i = 0; i < o.mounts.size(); ++i) {
    std::string prefix = o.mounts[i].prefix;
    while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
    mount_data_.push_back(std::make_unique<MountData>(MountData{this, i}));
    mg_set_request_handler(ctx_, prefix.c_str(), mount_cb, mount_data_.back().get());
  }
  if (!o.feeds_path.empty()) {
    std::string feeds = o.feeds_path;
    while (feeds.size() > 1 && feeds.back() == '/') feeds.pop_back();
    mg_set_request_handler(ctx_, feeds.c_str(), feed_cb, this);
  }
  mg_server_port sp[4];
  int n = mg_get_server_ports(ctx_, 4, sp);
  port_ = n > 0 ? sp[0].port : o.port;
  return Ok{};
}

void Civet::connection_stats(std::array<std::size_t, Metrics::kTransports>& by_transport,
                             std::size_t& queued_bytes) const {
  std::vector<std::shared_ptr<EngineConnection>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.reserve(sessions_.size());
    for (const auto& [sid, c] : sessions_) all.push_back(c);
  }
  for (const auto& c : all) c->add_stats(by_transport, queued_bytes);  // never under mu_
}

void Civet::stop() {
  if (ctx_ == nullptr) return;
  stopping_ = true;
  std::vector<std::shared_ptr<EngineConnection>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [sid, c] : sessions_) all.push_back(c);
  }
  for (auto& c : all) c->close("server shutting down");
  std::vector<std::weak_ptr<SseStreamImpl>> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams = streams_;
  }
  for (auto& w : streams) {
    if (auto st = w.lock()) st->close();
  }
  {
    // Held polls answer CLOSE and WebSockets end with their close handshake; a client that
    // does not answer within 1 s is cut off.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (std::chrono::steady_clock::now() < deadline && taken_over() != 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  {
    std::lock_guard<std::mutex> lock(park_mu_);
    resume_ctx_ = nullptr;  // parked connections are not given back from now on
  }
  mg_stop(ctx_);
  ctx_ = nullptr;
  free_unclaimed();
  loops_->stop();  // closes what is still open (parked connections too)
}

std::unique_ptr<CivetTransport> make_civet_transport(ServerImpl* server) {
  return std::make_unique<Civet>(server);
}

}  // namespace chorus
