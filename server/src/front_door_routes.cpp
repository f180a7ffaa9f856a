// Plain routes on the front door: REST routes, plain SSE streams and feeds, plain WebSockets
// (Server::route, Server::sse, feeds_path, Server::websocket). Streams and WebSockets move to an
// event loop once their response has started.
#include <limits>

#include "front_door.h"

namespace chorus {

// ---------------------------------------------------------------------------------------
// Raw routes, plain SSE, feeds, plain WebSocket

class CivetIo final : public HttpIo {
 public:
  CivetIo(mg_connection* conn, const Civet* civet) : conn_(conn), civet_(civet) {}
  bool write(std::string_view data) override { return mg_write(conn_, data.data(), data.size()) > 0; }
  std::string cors_headers() const override { return civet_->cors_headers(conn_); }

 private:
  mg_connection* conn_;
  const Civet* civet_;
};

HttpRequest make_request(const mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  HttpRequest r;
  r.method = ri->request_method ? ri->request_method : "";
  r.path = ri->local_uri ? ri->local_uri : "/";
  r.query = parse_query(ri->query_string);
  for (int i = 0; i < ri->num_headers; ++i) r.headers[lower(ri->http_headers[i].name)] = ri->http_headers[i].value;
  r.address = ri->remote_addr;
  return r;
}

int Civet::on_route(mg_connection* conn) {
  HttpRequest req = make_request(conn);
  CivetIo io(conn, this);
  if (req.method == "OPTIONS") {
    std::string cors = cors_headers(conn);
    HttpResponse r;
    r.status = cors.find("Allow-Origin") == std::string::npos ? 403 : 204;
    if (r.status == 204) {
      r.headers.emplace_back("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE");
      if (auto h = req.headers.find("access-control-request-headers"); h != req.headers.end()) {
        r.headers.emplace_back("Access-Control-Allow-Headers", h->second);
      }
    }
    io.write(render_response(r, cors + connection_header(conn)));
    return r.status;
  }
  const RouteSpec* route = nullptr;
  std::string allow;  // methods of the routes matching the path (405's Allow, RFC 9110 §15.5.6)
  for (const RouteSpec& candidate : server_->routes) {
    std::unordered_map<std::string, std::string> params;
    if (!match_route(candidate, req.path, params)) continue;
    allow += (allow.empty() ? "" : ", ") + candidate.method + (candidate.method == "GET" ? ", HEAD" : "");
    if (route == nullptr && (candidate.method == req.method || (candidate.method == "GET" && req.method == "HEAD"))) {
      route = &candidate;
      req.params = std::move(params);
    }
  }
  HttpResponse res;
  bool close = false;
  if (route == nullptr) {
    if (allow.empty()) {
      res.error(404, "not found");
    } else {
      res.error(405, "method not allowed");
      res.headers.emplace_back("Allow", allow);
    }
  } else if (BodyRead read =
                 read_request_body(conn, server_->timers, route->max_body, server_->options.body_timeout_ms, req.body);
             read != BodyRead::kComplete) {
    close = true;
    if (read == BodyRead::kTooLarge) {
      res.error(413, "request body exceeds " + std::to_string(route->max_body) + " bytes");
    } else if (read == BodyRead::kTimedOut) {
      res.error(408, body_timeout_message(server_->options.body_timeout_ms));
    } else {
      mg_disable_connection_keep_alive(conn);  // the client is gone: nobody to answer
      return 400;
    }
  } else {
    try {
      route->handler(req, res);
    } catch (const std::exception& e) {
      log(LogLevel::kError, "route " + req.method + " " + req.path + " threw: " + e.what());
      res = HttpResponse{};
      res.error(500, "internal error");
    }
  }
  io.write(render_response(res, cors_headers(conn) + connection_header(conn, close), req.method == "HEAD"));
  if (res.status == 413) discard_request_body(conn, server_->timers);  // so the close does not reset the answer
  return res.status;
}

// The head of a plain SSE stream (routes and feeds) and what goes first.
std::string Civet::sse_head(const mg_connection* conn, const std::string& first_chunk) const {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
         "Cache-Control: no-cache, no-transform\r\nX-Accel-Buffering: no\r\nConnection: close\r\n" +
         cors_headers(conn) + "\r\nretry: 2000\n\n" + first_chunk;
}

// A plain SSE stream leaves CivetWeb for an event loop; its slot is given back when it ends.
int Civet::stream_plain_sse(mg_connection* conn, const std::shared_ptr<SseStreamImpl>& stream,
                            const std::string& first_chunk) {
  auto c = take_over_stream(conn, stream, sse_head(conn, first_chunk), true);
  if (!c) {
    stream->close();
    release_slot();
    return 500;
  }
  stream->attach(c, [this] { release_slot(); });
  return 200;
}

int Civet::on_sse_route(mg_connection* conn, std::size_t index) {
  if (!reserve_slot()) return respond_at_limit(conn);
  auto stream = std::make_shared<SseStreamImpl>(make_request(conn), server_->options.max_feed_queue_bytes);
  track_stream(stream);
  try {
    server_->sse_routes[index].second(stream);
  } catch (const std::exception& e) {
    log(LogLevel::kError, std::string("SSE route threw: ") + e.what());
  }
  return stream_plain_sse(conn, stream, "");
}

int Civet::on_feed(mg_connection* conn) {
  HttpRequest req = make_request(conn);
  CivetIo io(conn, this);
  auto fail = [&](int status, const std::string& message, const Value& data = Value()) {
    HttpResponse r;
    Value body = Value::object({{"error", message}});
    if (!data.is_null()) body.set("data", data);
    r.json(body, status);
    io.write(render_response(r, cors_headers(conn) + connection_header(conn)));
    return status;
  };
  if (req.method != "GET") {
    HttpResponse r;
    r.error(405, "feeds are read-only: GET only");
    r.headers.emplace_back("Allow", "GET");
    io.write(render_response(r, cors_headers(conn) + connection_header(conn)));
    return 405;
  }
  std::string prefix = server_->options.feeds_path;
  std::string room = req.path.size() > prefix.size() ? req.path.substr(prefix.size()) : "";
  if (room.empty()) return fail(404, "no room: GET " + prefix + "<room>");
  std::string nsp = query_value(req.query, "nsp");
  if (nsp.empty()) nsp = "/";
  Handshake hs = make_handshake(conn);
  // The token, wherever the client could put it (EventSource cannot set headers).
  std::string token = query_value(req.query, "token");
  if (token.empty()) {
    auto h = req.headers.find("authorization");
    if (h != req.headers.end() && h->second.rfind("Bearer ", 0) == 0) token = h->second.substr(7);
  }
  hs.auth = token.empty() ? Value::object() : Value::object({{"token", token}});
  auto ns = server_->resolve_namespace(nsp, hs.auth);
  if (!ns) return fail(404, "unknown namespace " + nsp);
  if (auto refused = server_->authorize_feed(ns, hs)) {
    return fail(token.empty() ? 401 : 403, refused->message, refused->data);
  }
  std::optional<std::uint64_t> last_id;
  std::string last = query_value(req.query, "lastEventId");
  if (auto h = req.headers.find("last-event-id"); h != req.headers.end()) last = h->second;
  if (!last.empty()) {
    std::uint64_t v = 0;
    bool digits = last.size() <= 19;
    for (char c : last) digits = digits && c >= '0' && c <= '9';
    if (digits) {
      for (char c : last) v = v * 10 + static_cast<std::uint64_t>(c - '0');
      last_id = v;
    } else {
      last_id = std::numeric_limits<std::uint64_t>::max() - 1;  // unparseable: answered with a reset
    }
  }
  if (!reserve_slot()) return respond_at_limit(conn);
  auto stream = std::make_shared<SseStreamImpl>(std::move(req), server_->feeds.max_queue());
  track_stream(stream);
  std::string backlog = server_->feeds.subscribe(nsp, room, last_id, stream);
  return stream_plain_sse(conn, stream, backlog);
}

// A plain WebSocket of a Server::websocket route, served by an event loop once its handshake
// is done. Sends from any thread go to a bounded queue the loop drains.
class RawWs final : public WebSocketConnection,
                    public WsConnection::Handler,
                    public std::enable_shared_from_this<RawWs> {
 public:
  RawWs(Civet* civet, HttpRequest req, std::string subprotocol, const WebSocketHandlers* handlers)
      : civet_(civet), request_(std::move(req)), subprotocol_(std::move(subprotocol)), handlers_(handlers) {}
  bool send_text(std::string_view text) override { return enqueue(websocket::Opcode::kText, text); }
  bool send_binary(std::string_view bytes) override { return enqueue(websocket::Opcode::kBinary, bytes); }
  void close(std::uint16_t code, std::string_view reason) override {
    std::shared_ptr<WsConnection> ws;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_ || ended_) return;
      closing_ = true;  // after what is queued
      close_code_ = code;
      close_reason_ = std::string(reason.substr(0, websocket::kMaxCloseReason));
      ws = ws_;
    }
    if (ws) ws->request_flush();
  }
  const HttpRequest& request() const override { return request_; }
  const std::string& subprotocol() const override { return subprotocol_; }

  void attach(std::shared_ptr<WsConnection> ws) {
    std::lock_guard<std::mutex> lock(mu_);
    ws_ = std::move(ws);
  }
  // Runs on the CivetWeb worker, before the loop reads anything from the client.
  void opened() {
    if (!handlers_->on_open) return;
    try {
      handlers_->on_open(shared_from_this());
    } catch (const std::exception& e) {
      log(LogLevel::kError, std::string("WebSocket open handler threw: ") + e.what());
    }
  }

  // WsConnection::Handler (loop thread)
  void on_ws_message(WsConnection&, std::string_view data, bool binary) override {
    if (!handlers_->on_message) return;
    try {
      handlers_->on_message(shared_from_this(), std::string(data), binary);
    } catch (const std::exception& e) {
      log(LogLevel::kError, std::string("WebSocket handler threw: ") + e.what());
    }
  }
  void on_ws_fill(WsConnection& ws) override {
    std::lock_guard<std::mutex> lock(mu_);
    while (!queue_.empty() && ws.want_more()) {
      auto& [opcode, data] = queue_.front();
      queued_bytes_ -= data->size();
      std::string_view view = *data;
      ws.send_frame(opcode, std::move(data), view);
      queue_.pop_front();
    }
    if (closing_ && queue_.empty()) ws.send_close(close_code_, close_reason_);
  }
  void on_ws_closed(WsConnection&, std::uint16_t code, const std::string& reason, bool) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ended_) return;
      ended_ = true;
      queue_.clear();
      ws_.reset();
    }
    civet_->release_slot();  // reserved by raw_ws_connect
    if (!handlers_->on_close) return;
    try {
      handlers_->on_close(shared_from_this(), code, reason);
    } catch (const std::exception& e) {
      log(LogLevel::kError, std::string("WebSocket close handler threw: ") + e.what());
    }
  }

 private:
  bool enqueue(websocket::Opcode opcode, std::string_view data);

  Civet* civet_;
  HttpRequest request_;
  std::string subprotocol_;
  const WebSocketHandlers* handlers_;
  std::mutex mu_;
  std::shared_ptr<WsConnection> ws_;
  RingQueue<std::pair<websocket::Opcode, std::shared_ptr<const std::string>>> queue_;
  std::size_t queued_bytes_ = 0;
  bool closing_ = false;
  bool ended_ = false;
  std::uint16_t close_code_ = websocket::close_code::kNormal;
  std::string close_reason_;
};

bool RawWs::enqueue(websocket::Opcode opcode, std::string_view data) {
  std::shared_ptr<WsConnection> ws;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_ || ended_) return false;
    const std::size_t limit = civet_->server()->options.max_buffered_bytes;
    if (queued_bytes_ + data.size() > limit && !queue_.empty()) {
      // A client that stopped reading: it alone pays (README, "Limits").
      log(LogLevel::kInfo, "WebSocket " + request_.path + ": outbound queue over " + std::to_string(limit) +
                               " bytes, closing (client not reading)");
      queue_.clear();
      queued_bytes_ = 0;
      closing_ = true;
      close_code_ = websocket::close_code::kPolicyViolation;
      close_reason_ = "outbound queue full: client not reading";
      ws = ws_;
    } else {
      queued_bytes_ += data.size();
      queue_.push_back({opcode, std::make_shared<const std::string>(data)});
      ws = ws_;
      if (ws) ws->request_flush();
      return true;
    }
  }
  if (ws) ws->request_flush();
  return false;
}

int raw_ws_connect(const mg_connection* conn, void* cbdata) {
  auto* route = static_cast<RawWsRoute*>(cbdata);
  if (!route->civet->reserve_slot()) {
    route->civet->respond_at_limit(const_cast<mg_connection*>(conn));
    return 1;
  }
  const char* protocol = mg_get_request_info(conn)->acceptedWebSocketSubprotocol;
  auto ws =
      std::make_shared<RawWs>(route->civet, make_request(conn), protocol != nullptr ? protocol : "", route->handlers);
  mg_set_user_connection_data(conn, new std::shared_ptr<RawWs>(std::move(ws)));
  route->civet->raw_pending(conn, true);  // freed by connection_close_cb if the handshake fails
  return 0;
}
void raw_ws_ready(mg_connection* conn, void* cbdata) {
  auto* route = static_cast<RawWsRoute*>(cbdata);
  route->civet->raw_pending(conn, false);
  std::unique_ptr<std::shared_ptr<RawWs>> holder(
      static_cast<std::shared_ptr<RawWs>*>(mg_get_user_connection_data(conn)));
  mg_set_user_connection_data(conn, nullptr);
  if (!holder) return;
  std::shared_ptr<RawWs> raw = std::move(*holder);
  auto t = take_over(conn, "a WebSocket");
  if (!t) {
    route->civet->release_slot();
    return;
  }
  EventLoop& loop = route->civet->next_loop();
  auto ws = std::make_shared<WsConnection>(loop, t->sock, t->ssl, std::move(t->peer), route->civet->limits(), raw);
  raw->attach(ws);
  raw->opened();
  loop.post([ws, initial = std::move(t->buffered)]() mutable { ws->open(std::move(initial)); });
}
// Reached only when the takeover failed: CivetWeb's read loop ends the connection.
int raw_ws_data(mg_connection*, int, char*, std::size_t, void*) {
  return 0;
}
void raw_ws_close(const mg_connection*, void*) {}
void raw_ws_abandoned(const mg_connection* conn) {
  delete static_cast<std::shared_ptr<RawWs>*>(mg_get_user_connection_data(conn));
  mg_set_user_connection_data(const_cast<mg_connection*>(conn), nullptr);
}

}  // namespace chorus
