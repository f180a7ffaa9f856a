// The Socket.IO Admin UI's server side (admin.h).
#include "admin.h"

#include <crypt.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>

namespace chorus {

namespace {

constexpr const char* kCommands[] = {"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"};

// socket.data as the UI shows it: an object, without the Node instrument's "_admin".
Value shown_data(const Value& data) {
  Value out = Value::object();
  if (!data.is_object()) return out;
  for (const Member& m : data.as_object()) {
    if (m.key != "_admin") out.set(m.key, m.value);
  }
  return out;
}

Value serialized(const std::string& id, const std::string& nsp, const Handshake& h, const std::set<std::string>& rooms,
                 const Value& data, Value client_id, Value transport) {
  std::string address = h.address;
  for (const char* header : {"x-forwarded-for", "cf-connecting-ip"}) {
    auto it = h.headers.find(header);
    if (it != h.headers.end() && !it->second.empty()) address = it->second;
  }
  Value hs = Value::object();
  hs.set("address", address);
  hs.set("headers", string_map_to_object(h.headers));
  hs.set("query", string_map_to_object(h.query));
  hs.set("issued", static_cast<double>(h.issued_ms));
  hs.set("secure", h.secure);
  hs.set("time", js_date(h.issued_ms));
  hs.set("url", h.url);
  hs.set("xdomain", h.headers.count("origin") != 0);
  Array room_list;
  for (const std::string& r : rooms) room_list.emplace_back(r);
  Value out = Value::object();
  out.set("id", id);
  out.set("clientId", std::move(client_id));
  out.set("transport", std::move(transport));
  out.set("nsp", nsp);
  out.set("data", shown_data(data));
  out.set("handshake", std::move(hs));
  out.set("rooms", Value(std::move(room_list)));
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  RAND_bytes(buf.data(), static_cast<int>(buf.size()));
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : buf) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

bool equal_constant_time(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

AdminUi::AdminUi(ServerImpl* server) : server_(server), options_(server->options.admin) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "chorus");
  hostname_ = host;
  server_id_ = options_.server_id.empty() ? hostname_ : options_.server_id;
  started_ms_ = now_ms();
  if (!options_.no_auth) login_thread_ = std::thread([this] { login_thread(); });
}

AdminUi::~AdminUi() {
  {
    std::lock_guard<std::mutex> lock(login_mu_);
    stopping_ = true;
  }
  login_cv_.notify_all();
  if (login_thread_.joinable()) login_thread_.join();
}

bool AdminUi::bcrypt_matches(const std::string& password, const std::string& hash) {
  if (hash.size() != 60 || hash[0] != '$' || hash[1] != '2' || hash[3] != '$' ||
      (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y')) {
    return false;
  }
  if (password.find('\0') != std::string::npos) return false;
  auto data = std::make_unique<crypt_data>();  // about 32 KiB: not on the stack
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_r(password.c_str(), hash.c_str(), data.get());
  if (out == nullptr || out[0] == '*') return false;  // libxcrypt's failure token
  return equal_constant_time(out, hash);
}

void AdminUi::install() {
  Namespace& ns = server_->of(options_.namespace_name);
  ns_ = ns.impl();
  ns_->is_admin = true;
  if (!options_.no_auth) ns.use([this](Socket& socket, Next next) { authenticate(socket, std::move(next)); });
  ns.on_connection([this](Socket& socket) { on_admin_connection(socket); });
}

void AdminUi::start() {
  update_watching();
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_totals_ = server_->metrics.totals();
  }
  emit_stats();  // once at start, then every stats_interval_ms
  schedule_stats();
}

void AdminUi::update_watching() {
  bool watching;
  {
    std::lock_guard<std::mutex> lock(mu_);
    watching = local_admins_ > 0 || server_->cluster != nullptr;
  }
  server_->admin_watching.store(watching, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------
// Login

void AdminUi::login_thread() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(login_mu_);
      login_cv_.wait(lock, [this] { return stopping_ || !logins_.empty(); });
      if (stopping_) return;
      job = std::move(logins_.front());
      logins_.pop_front();
    }
    job();
  }
}

bool AdminUi::has_session(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  if (it->second <= now_ms()) {
    sessions_.erase(it);
    return false;
  }
  return true;
}

std::string AdminUi::new_session() {
  std::string id = random_hex(8);
  std::lock_guard<std::mutex> lock(mu_);
  while (!session_order_.empty() &&
         (sessions_.size() >= options_.max_sessions || sessions_.count(session_order_.front()) == 0)) {
    sessions_.erase(session_order_.front());
    session_order_.pop_front();
  }
  if (options_.max_sessions == 0) return id;  // none kept
  sessions_[id] = now_ms() + options_.session_ttl_ms;
  session_order_.push_back(id);
  return id;
}

void AdminUi::authenticate(Socket& socket, Next next) {
  const Value& auth = socket.handshake().auth;
  const Value* session = auth.find("sessionId");
  if (session != nullptr && session->is_string() && has_session(session->as_string())) {
    next(std::nullopt);
    return;
  }
  const Value* user = auth.find("username");
  const Value* password = auth.find("password");
  if (user == nullptr || password == nullptr || !user->is_string() || !password->is_string() ||
      !equal_constant_time(user->as_string(), options_.username)) {
    next(ConnectError{"invalid credentials", Value()});
    return;
  }
  std::lock_guard<std::mutex> lock(login_mu_);
  if (logins_.size() >= options_.max_pending_logins) {
    next(ConnectError{"too many login attempts", Value()});
    return;
  }
  logins_.push_back([this, socket = socket.shared(), next, password = password->as_string()] {
    if (!bcrypt_matches(password, options_.password_hash)) {
      next(ConnectError{"invalid credentials", Value()});
      return;
    }
    std::string id = new_session();
    {
      std::lock_guard<std::mutex> session_lock(mu_);
      if (pending_session_.size() >= options_.max_sessions) pending_session_.clear();  // never connected
      pending_session_[socket->id()] = std::move(id);
    }
    next(std::nullopt);
  });
  login_cv_.notify_one();
}

// ---------------------------------------------------------------------------------------
// The UI's connection and commands

Value AdminUi::config() const {
  Array features;
  if (!options_.readonly) {
    for (const char* f : kCommands) features.emplace_back(f);
  }
  features.emplace_back("AGGREGATED_EVENTS");
  features.emplace_back("ALL_EVENTS");
  return Value::object({{"supportedFeatures", Value(std::move(features))}});
}

namespace {

// An existing namespace named by a command (commands never create namespaces).
std::shared_ptr<NamespaceImpl> existing_namespace(ServerImpl& server, const Value& name) {
  if (!name.is_string()) return nullptr;
  std::lock_guard<std::mutex> lock(server.ns_mu);
  auto it = server.namespaces.find(name.as_string());
  return it == server.namespaces.end() ? nullptr : it->second->impl();
}

// The sockets a command targets: a room or socket id (`filter`), or the whole namespace.
BroadcastOperator targets(const std::shared_ptr<NamespaceImpl>& ns, const Value& filter) {
  Namespace n(ns);
  if (filter.is_string() && !filter.as_string().empty()) return n.to(filter.as_string());
  return n.all();
}

const Value& arg(const Args& a, std::size_t i) {
  static const Value kNull;
  return i < a.size() ? a[i] : kNull;
}

}  // namespace

void AdminUi::on_admin_connection(Socket& socket) {
  std::string session;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_session_.find(socket.id());
    if (it != pending_session_.end()) {
      session = std::move(it->second);
      pending_session_.erase(it);
    }
    ++local_admins_;
  }
  update_watching();
  socket.on_disconnect([this](const std::string&) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --local_admins_;
    }
    update_watching();
  });
  if (!session.empty()) socket.emit("session", session);  // after the CONNECT reply: the UI listens then
  if (!options_.readonly) {
    ServerImpl* server = server_;
    socket.on("emit", [server](const Args& a) {
      auto ns = existing_namespace(*server, arg(a, 0));
      if (!ns || !arg(a, 2).is_string()) return;
      targets(ns, arg(a, 1)).emit(arg(a, 2).as_string(), Args(a.begin() + 3, a.end()));
    });
    for (bool join : {true, false}) {
      socket.on(join ? "join" : "leave", [server, join](const Args& a) {
        auto ns = existing_namespace(*server, arg(a, 0));
        if (!ns || !arg(a, 1).is_string()) return;
        std::vector<std::string> rooms{arg(a, 1).as_string()};
        if (join) {
          targets(ns, arg(a, 2)).sockets_join(rooms);
        } else {
          targets(ns, arg(a, 2)).sockets_leave(rooms);
        }
      });
    }
    socket.on("_disconnect", [server](const Args& a) {
      auto ns = existing_namespace(*server, arg(a, 0));
      if (!ns) return;
      targets(ns, arg(a, 2)).disconnect_sockets(arg(a, 1).get_bool(false));
    });
  }
  socket.emit("config", config());
  send_all_sockets(socket.shared());
}

void AdminUi::send_all_sockets(const std::shared_ptr<Socket>& socket) {
  std::vector<std::shared_ptr<NamespaceImpl>> all;
  {
    std::lock_guard<std::mutex> lock(server_->ns_mu);
    for (auto& [name, ns] : server_->namespaces) all.push_back(ns->impl());
  }
  struct Gather {
    std::mutex mu;
    std::size_t remaining;
    Array sockets;
  };
  auto gather = std::make_shared<Gather>();
  gather->remaining = all.size();
  for (auto& ns : all) {
    Namespace(ns).fetch_sockets(
        [gather, socket, nsp = ns->name](std::optional<AckError>, std::vector<RemoteSocket> found) {
          std::unique_lock<std::mutex> lock(gather->mu);
          for (const RemoteSocket& s : found) gather->sockets.push_back(serialize(s, nsp));
          if (--gather->remaining != 0) return;
          Array out = std::move(gather->sockets);
          lock.unlock();
          socket->emit("all_sockets", Value(std::move(out)));
        });
  }
}

// ---------------------------------------------------------------------------------------
// What the UI is told

void AdminUi::emit(std::string_view event, Args args) {
  Namespace(ns_).emit(event, std::move(args));
}

void AdminUi::client_fields(Socket& socket, Value& client_id, Value& transport) {
  if (auto client = socket.client_.lock()) {
    client_id = client->engine_id().substr(0, 12);
    transport = client->transport();
  }
}

Value AdminUi::wire_data(Socket& socket) {
  Value client_id, transport;
  client_fields(socket, client_id, transport);
  Value data = socket.data().is_object() ? socket.data() : Value::object();
  data.set("_admin", Value::object({{"clientId", std::move(client_id)}, {"transport", std::move(transport)}}));
  return data;
}

Value AdminUi::serialize(const RemoteSocket& s, const std::string& nsp) {
  Value client_id, transport;
  if (const auto& local = s.socket()) {
    client_fields(*local, client_id, transport);
  } else if (const Value* admin = s.data().find("_admin")) {  // a Node node's socket
    if (const Value* v = admin->find("clientId")) client_id = *v;
    if (const Value* v = admin->find("transport")) transport = *v;
  }
  return serialized(s.id(), nsp, s.handshake(), s.rooms(), s.data(), std::move(client_id), std::move(transport));
}

void AdminUi::socket_connected(Socket& socket) {
  Value client_id, transport;
  client_fields(socket, client_id, transport);
  emit("socket_connected", {serialized(socket.id(), socket.nsp(), socket.handshake(), socket.rooms(), socket.data(),
                                       std::move(client_id), std::move(transport)),
                            iso_date(epoch_ms())});
}

void AdminUi::socket_disconnected(const std::string& nsp, const std::string& id, const std::string& reason) {
  emit("socket_disconnected", {nsp, id, reason, iso_date(epoch_ms())});
}

void AdminUi::room_changed(const std::string& nsp, const std::string& room, const std::string& id, bool joined) {
  emit(joined ? "room_joined" : "room_left", {nsp, room, id, iso_date(epoch_ms())});
}

void AdminUi::event(bool received, const std::string& nsp, const std::string& id, const Value& args_with_event) {
  emit(received ? "event_received" : "event_sent", {nsp, id, args_with_event, iso_date(epoch_ms())});
}

void AdminUi::transport_changed(const std::string& nsp, const std::string& id, const char* transport) {
  emit("socket_updated", {Value::object({{"id", id}, {"nsp", nsp}, {"transport", transport}})});
}

void AdminUi::data_changed(Socket& socket) {
  emit("socket_updated",
       {Value::object({{"id", socket.id()}, {"nsp", socket.nsp()}, {"data", shown_data(socket.data())}})});
}

void AdminUi::schedule_stats() {
  server_->timers.schedule_in(std::chrono::milliseconds(options_.stats_interval_ms), [this] {
    emit_stats();
    schedule_stats();
  });
}

void AdminUi::emit_stats() {
  const Metrics::Totals now = server_->metrics.totals();
  std::array<std::size_t, Metrics::kTransports> by_transport{};
  std::size_t queued = 0;
  std::uint64_t open = 0;
  if (server_->transport) {
    server_->transport->connection_stats(by_transport, queued);
    for (std::size_t n : by_transport) open += n;
  }
  std::uint64_t accepted = 0, accepted_before = 0;
  Metrics::Totals before;
  std::uint64_t open_before;
  {
    std::lock_guard<std::mutex> lock(mu_);
    before = last_totals_;
    open_before = last_open_;
    last_totals_ = now;
    last_open_ = open;
  }
  if (!server_->admin_watched()) return;  // nobody to tell: only the baseline moves
  for (std::uint64_t n : now.accepted) accepted += n;
  for (std::uint64_t n : before.accepted) accepted_before += n;
  // Sessions closed since the last stats: those accepted, less those still open (the
  // counters are the metrics', not counted twice).
  const std::uint64_t closed_now = accepted >= open ? accepted - open : 0;
  const std::uint64_t closed_before = accepted_before >= open_before ? accepted_before - open_before : 0;
  const double second = static_cast<double>(epoch_ms() / 1000 * 1000);
  Array events;
  auto add = [&](const char* type, std::uint64_t after, std::uint64_t prior) {
    if (after > prior) {
      events.push_back(Value::object({{"timestamp", second}, {"type", type}, {"count", Value(after - prior)}}));
    }
  };
  add("rawConnection", accepted, accepted_before);
  add("rawDisconnection", closed_now, closed_before);
  add("packetsIn", now.messages_received, before.messages_received);
  add("packetsOut", now.messages_sent, before.messages_sent);
  add("bytesIn", now.bytes_received, before.bytes_received);
  add("bytesOut", now.bytes_sent, before.bytes_sent);
  Array namespaces;
  {
    std::lock_guard<std::mutex> lock(server_->ns_mu);
    for (auto& [name, ns] : server_->namespaces) {
      std::lock_guard<std::mutex> ns_lock(ns->impl()->mu);
      namespaces.push_back(Value::object({{"name", name}, {"socketsCount", Value(ns->impl()->sockets.size())}}));
    }
  }
  Value stats = Value::object({
      {"serverId", server_id_},
      {"hostname", hostname_},
      {"pid", static_cast<std::int64_t>(getpid())},
      {"uptime", static_cast<double>(now_ms() - started_ms_) / 1000.0},
      {"clientsCount", Value(open)},
      {"pollingClientsCount", Value(by_transport[static_cast<std::size_t>(engineio::Transport::kPolling)])},
      {"aggregatedEvents", Value(std::move(events))},
      {"namespaces", Value(std::move(namespaces))},
  });
  emit("server_stats", {std::move(stats)});
}

}  // namespace chorus
