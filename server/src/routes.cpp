// Raw routes (REST, plain SSE) and plain SSE feeds of rooms, without transport code: the
// CivetWeb adapter supplies an HttpIo and calls in here.
#include <algorithm>

#include "chorus/base64.h"
#include "chorus/json/json.h"
#include "internal.h"

namespace chorus {

// ---------------------------------------------------------------------------------------
// Requests and responses

Result<Value> HttpRequest::json() const {
  if (body.empty()) return make_error(ErrorCode::kInvalidJson, "empty body: JSON expected");
  return json::parse(body);
}

void HttpResponse::json(const Value& value, int status_code) {
  status = status_code;
  content_type = "application/json";
  auto text = json::stringify(value);
  body = text ? std::move(text).value() : std::string("null");
}

void HttpResponse::text(std::string text, int status_code) {
  status = status_code;
  content_type = "text/plain; charset=utf-8";
  body = std::move(text);
}

void HttpResponse::error(int status_code, const std::string& message) {
  json(Value::object({{"error", message}}), status_code);
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool match_route(const RouteSpec& route, std::string_view path, std::unordered_map<std::string, std::string>& params) {
  std::vector<std::string> parts = split_path(path);
  if (parts.size() != route.segments.size()) return false;
  std::unordered_map<std::string, std::string> found;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& seg = route.segments[i];
    if (!seg.empty() && seg[0] == ':') {
      found[seg.substr(1)] = parts[i];
    } else if (seg != parts[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

namespace {
const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
  }
  return "Status";
}
}  // namespace

std::string render_response(const HttpResponse& r, const std::string& cors, bool head_only) {
  // 204 and 304 carry no body and no Content-Length (RFC 9110 §8.6, §15.3.5).
  const bool no_body = r.status == 204 || r.status == 304;
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
  if (!no_body) {
    out += "Content-Type: " + r.content_type + "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n";
  }
  out += "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n" + cors;
  for (const auto& [k, v] : r.headers) {
    // Header injection guard: a value with CR/LF would start a new header.
    if (k.find_first_of("\r\n:") != std::string::npos || v.find_first_of("\r\n") != std::string::npos) continue;
    out += k + ": " + v + "\r\n";
  }
  out += "\r\n";
  if (!no_body && !head_only) out += r.body;  // HEAD: the headers GET would send (RFC 9110 §9.3.2)
  return out;
}

// ---------------------------------------------------------------------------------------
// SSE streams

void append_sse(std::string& out, std::string_view event, std::string_view data, std::string_view id) {
  auto clean = [](std::string_view v) {  // a field value must stay on its line
    std::string s(v);
    std::replace(s.begin(), s.end(), '\r', ' ');
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
  };
  if (!event.empty()) out += "event: " + clean(event) + "\n";
  if (!id.empty()) out += "id: " + clean(id) + "\n";
  // data: one line per line of the payload; CR, LF and CRLF all end a line (WHATWG SSE).
  std::size_t start = 0;
  while (true) {
    std::size_t end = data.find_first_of("\r\n", start);
    out += "data: ";
    out.append(data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    out.push_back('\n');
    if (end == std::string_view::npos) break;
    start = end + ((data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n') ? 2 : 1);
    if (start == data.size()) {
      out += "data: \n";  // a payload ending in a line break keeps its empty last line
      break;
    }
  }
  out.push_back('\n');
}

bool SseStreamImpl::push_raw(std::string text) {
  bool open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    if (pending_.size() + text.size() > max_queue_) {
      closed_ = true;  // fell too far behind: drop this reader, nobody else waits for it
    } else {
      pending_ += text;
    }
    open = !closed_;
  }
  wake();
  return open;
}

bool SseStreamImpl::send(std::string_view event, std::string_view data, std::string_view id) {
  std::string text;
  append_sse(text, event, data, id);
  return push_raw(std::move(text));
}

bool SseStreamImpl::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

void SseStreamImpl::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  wake();
}

void SseStreamImpl::wake() {
  std::shared_ptr<HttpStreamConnection> c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    c = connection_;
  }
  if (c) c->request_flush();
}

void SseStreamImpl::on_close(std::function<void()> handler) {
  std::lock_guard<std::mutex> lock(mu_);
  on_close_.push_back(std::move(handler));
}

void SseStreamImpl::attach(std::shared_ptr<HttpStreamConnection> connection, std::function<void()> on_end) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    connection_ = std::move(connection);
    on_end_ = std::move(on_end);
  }
  wake();  // what the route's handler sent already
}

void SseStreamImpl::on_http_fill(HttpStreamConnection& c) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending_.empty() && c.want_more()) {
    c.queue_copy(std::move(pending_));
    pending_.clear();
  }
  if (closed_ && pending_.empty()) c.close_after_flush();
}

void SseStreamImpl::on_http_closed(HttpStreamConnection&, bool) {
  std::vector<std::function<void()>> handlers;
  std::function<void()> on_end;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    ended_ = true;
    closed_ = true;
    pending_.clear();
    connection_.reset();
    handlers = std::move(on_close_);
    on_end = std::move(on_end_);
  }
  for (auto& h : handlers) h();
  if (on_end) on_end();
}

// ---------------------------------------------------------------------------------------
// Feeds

namespace {

// Arguments as JSON; binary values become {"_binary": "<base64>"} (README, "Plain SSE feeds").
Value mark_binary(const Value& v) {
  switch (v.type()) {
    case Value::Type::kBinary: {
      const Binary& b = v.as_binary();
      return Value::object(
          {{"_binary", base64::encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()))}});
    }
    case Value::Type::kArray: {
      Array out;
      for (const Value& item : v.as_array()) out.push_back(mark_binary(item));
      return Value(std::move(out));
    }
    case Value::Type::kObject: {
      Object out;
      for (const Member& m : v.as_object()) out.push_back(Member{m.key, mark_binary(m.value)});
      return Value(std::move(out));
    }
    default:
      return v;
  }
}

std::string room_key(const std::string& nsp, const std::string& room) {
  return nsp + '\n' + room;
}

}  // namespace

void FeedHub::publish(const std::string& nsp, const std::set<std::string>& rooms, const Args& args_with_event) {
  if (followed_.load(std::memory_order_relaxed) == 0 || args_with_event.empty()) return;
  std::string data;
  bool rendered = false;
  std::vector<std::pair<std::shared_ptr<SseStreamImpl>, std::string>> deliveries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& room : rooms) {
      auto it = rooms_.find(room_key(nsp, room));
      if (it == rooms_.end()) continue;
      if (!rendered) {  // JSON once per broadcast, whatever the number of rooms and readers
        Value args = mark_binary(Value(Array(args_with_event.begin() + 1, args_with_event.end())));
        auto text = json::stringify(args);
        if (!text) return;
        data = std::move(text).value();
        rendered = true;
      }
      Room& r = it->second;
      Event e{r.next_id++, {}};
      append_sse(e.text, args_with_event[0].get_string(), data, std::to_string(e.id));
      auto& f = r.followers;
      f.erase(std::remove_if(f.begin(), f.end(), [](const auto& w) { return w.expired(); }), f.end());
      for (const auto& w : f) {
        if (auto s = w.lock()) deliveries.emplace_back(std::move(s), e.text);
      }
      r.history.push_back(std::move(e));
      while (r.history.size() > history_) r.history.pop_front();
    }
  }
  for (auto& [stream, text] : deliveries) stream->push_raw(std::move(text));  // outside the hub lock
}

std::string FeedHub::subscribe(const std::string& nsp, const std::string& room, std::optional<std::uint64_t> last_id,
                               const std::shared_ptr<SseStreamImpl>& stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = rooms_.try_emplace(room_key(nsp, room));
  if (inserted) followed_.fetch_add(1);
  Room& r = it->second;
  r.followers.push_back(stream);
  std::string backlog;
  if (!last_id) return backlog;
  std::uint64_t oldest = r.history.empty() ? r.next_id : r.history.front().id;
  if (*last_id + 1 < oldest || *last_id >= r.next_id) {
    // The resume point is older than the history (or from another run of the server): say
    // so explicitly instead of leaving a silent gap.
    Value info = Value::object({{"reason", *last_id >= r.next_id ? "unknown event id" : "history exhausted"},
                                {"lastEventId", static_cast<double>(*last_id)},
                                {"oldest", static_cast<double>(oldest)},
                                {"next", static_cast<double>(r.next_id)}});
    append_sse(backlog, "reset", json::stringify(info).value(), "");
    return backlog;
  }
  for (const Event& e : r.history) {
    if (e.id > *last_id) backlog += e.text;
  }
  return backlog;
}

}  // namespace chorus
