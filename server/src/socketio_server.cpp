// The Socket.IO v5 layer of the Chorus server: namespaces, sockets, rooms, acks,
// middleware, broadcast. No transport code here (see front_door.cpp and engine_connection.cpp).
#include <algorithm>
#include <exception>
#include <future>

#include "admin.h"
#include "chorus/json/json.h"
#include "cluster.h"
#include "internal.h"

namespace chorus {

namespace {

// User callbacks may throw; a throw must never take the server down.
template <class F>
void guarded(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    log(LogLevel::kError, std::string(what) + " threw: " + e.what());
  } catch (...) {
    log(LogLevel::kError, std::string(what) + " threw a non-standard exception");
  }
}

Value event_array(std::string_view event, Args args) {
  Array a;
  a.reserve(args.size() + 1);
  a.emplace_back(std::string(event));
  for (Value& v : args) a.push_back(std::move(v));
  return Value(std::move(a));
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Ack

void Ack::operator()(Args args) const {
  if (send_) (*send_)(std::move(args));
}

// ---------------------------------------------------------------------------------------
// Socket

struct Socket::State {
  std::mutex mu;
  bool connected = false;
  std::unordered_map<std::string, EventHandler> handlers;
  std::vector<AnyHandler> any;
  std::vector<std::function<void(const std::string&)>> disconnecting;
  std::vector<std::function<void(const std::string&)>> disconnect;
  struct PendingAck {
    AckCallback callback;
    TimerService::Id timer = 0;
  };
  std::unordered_map<std::uint64_t, PendingAck> acks;
  // Connection state recovery: the session this socket asked to take over ({pid, offset} in
  // its CONNECT), restored when it joins the namespace.
  std::optional<std::string> restore_pid;
  std::optional<std::string> restore_offset;
  // The streams mode: the session found in Redis (taken over when the socket joins), and the
  // stream position when it joined (kept with its session).
  std::shared_ptr<StreamRestore> stream_restore;
  std::string stream_offset;
};

bool disconnect_keeps_session(std::string_view reason) {
  return reason == "transport error" || reason == "transport close" || reason == "forced close" ||
         reason == "ping timeout" || reason == "server shutting down" || reason == "forced server close";
}

Socket::Socket(std::string id, std::shared_ptr<NamespaceImpl> ns, std::shared_ptr<ClientConnection> client,
               std::shared_ptr<const SessionHandshake> shared, std::shared_ptr<const Handshake> own)
    : id_(std::move(id)),
      ns_(std::move(ns)),
      client_(client),
      shared_handshake_(std::move(shared)),
      own_handshake_(std::move(own)),
      state_(std::make_unique<State>()) {}

Socket::~Socket() = default;

const Handshake& Socket::handshake() const {
  return own_handshake_ ? *own_handshake_ : shared_handshake_->get();
}

const std::string& Socket::nsp() const {
  return ns_->name;
}

bool Socket::connected() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->connected;
}

void Socket::on(std::string event, EventHandler handler) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->handlers[std::move(event)] = std::move(handler);
}

void Socket::on_any(AnyHandler handler) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->any.push_back(std::move(handler));
}

void Socket::on_disconnecting(std::function<void(const std::string&)> handler) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->disconnecting.push_back(std::move(handler));
}

void Socket::on_disconnect(std::function<void(const std::string&)> handler) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->disconnect.push_back(std::move(handler));
}

bool Socket::emit(std::string_view event, Args args) {
  auto client = client_.lock();
  if (!client || !connected()) return false;
  if (ns_->server->admin_watched() && !ns_->is_admin) {
    ns_->server->admin->event(false, ns_->name, id_, event_array(event, args));
  }
  if (ns_->recovery) return ns_->emit_recoverable(id_, *client, event_array(event, std::move(args)).as_array());
  if (ns_->stream_recovery) {  // through the stream, as socket.io does: the offset is an entry id
    BroadcastOptions to_me;
    to_me.rooms.insert(id_);
    ns_->server->cluster->stream_broadcast(ns_, event_array(event, std::move(args)).as_array(), to_me, true);
    return true;
  }
  socketio::Packet p{socketio::PacketType::kEvent, ns_->name, std::nullopt, event_array(event, std::move(args))};
  return client->send(p);
}

bool Socket::emit_with_ack(std::string_view event, Args args, std::chrono::milliseconds timeout, AckCallback callback) {
  auto client = client_.lock();
  if (!client) return false;
  std::uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (!state_->connected) return false;
    id = ns_->next_ack_id.fetch_add(1, std::memory_order_relaxed);
    state_->acks[id].callback = std::move(callback);
  }
  std::weak_ptr<Socket> weak = weak_from_this();
  TimerService::Id timer = ns_->server->timers.schedule_in(timeout, [weak, id] {
    auto self = weak.lock();
    if (!self) return;
    AckCallback cb;
    {
      std::lock_guard<std::mutex> lock(self->state_->mu);
      auto it = self->state_->acks.find(id);
      if (it == self->state_->acks.end()) return;
      cb = std::move(it->second.callback);
      self->state_->acks.erase(it);
    }
    guarded("ack timeout callback", [&] { cb(AckError{"operation has timed out"}, {}); });
  });
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->acks.find(id);
    if (it != state_->acks.end()) it->second.timer = timer;
  }
  socketio::Packet p{socketio::PacketType::kEvent, ns_->name, id, event_array(event, std::move(args))};
  if (!client->send(p)) {
    // Not encodable or not sent: fail now rather than at the timeout.
    AckCallback cb;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      auto it = state_->acks.find(id);
      if (it == state_->acks.end()) return false;
      cb = std::move(it->second.callback);
      state_->acks.erase(it);
    }
    ns_->server->timers.cancel(timer);
    return false;
  }
  return true;
}

void Socket::set_data(const std::string& key, Value value) {
  if (!data_.is_object()) data_ = Value::object();
  data_.set(key, std::move(value));
  if (ns_->server->admin_watched() && !ns_->is_admin) ns_->server->admin->data_changed(*this);
}

void Socket::join(std::string room) {
  if (ns_->server->admin_watched()) ns_->server->admin->room_changed(ns_->name, room, id_, true);
  ns_->adapter->add_all(id_, {std::move(room)});
}

void Socket::join(const std::vector<std::string>& rooms) {
  if (ns_->server->admin_watched()) {
    for (const std::string& room : rooms) ns_->server->admin->room_changed(ns_->name, room, id_, true);
  }
  ns_->adapter->add_all(id_, std::set<std::string>(rooms.begin(), rooms.end()));
}

void Socket::leave(const std::string& room) {
  ns_->adapter->del(id_, room);
  if (ns_->server->admin_watched()) ns_->server->admin->room_changed(ns_->name, room, id_, false);
}

std::set<std::string> Socket::rooms() const {
  return ns_->adapter->socket_rooms(id_);
}

BroadcastOperator Socket::to(std::string room) {
  BroadcastOptions o;
  o.rooms.insert(std::move(room));
  o.except.insert(id_);
  return BroadcastOperator(ns_, std::move(o));
}

BroadcastOperator Socket::except(std::string room) {
  BroadcastOptions o;
  o.except.insert(std::move(room));
  o.except.insert(id_);
  return BroadcastOperator(ns_, std::move(o));
}

BroadcastOperator Socket::broadcast() {
  BroadcastOptions o;
  o.except.insert(id_);
  return BroadcastOperator(ns_, std::move(o));
}

void Socket::disconnect(bool close) {
  if (close) {
    if (auto client = client_.lock()) client->close("forced server close");
    return;
  }
  on_close("server namespace disconnect", true);
}

void Socket::on_packet_event(std::string event, Args args, std::optional<std::uint64_t> id) {
  Ack ack;
  if (id) {
    std::weak_ptr<Socket> weak = weak_from_this();
    auto once = std::make_shared<std::atomic<bool>>(false);
    ack.send_ = std::make_shared<std::function<void(Args)>>([weak, once, ack_id = *id](Args a) {
      if (once->exchange(true)) return;
      if (auto self = weak.lock()) self->send_ack(ack_id, std::move(a));
    });
  }
  std::vector<AnyHandler> any;
  EventHandler handler;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (!state_->connected) return;
    any = state_->any;
    auto it = state_->handlers.find(event);
    if (it != state_->handlers.end()) handler = it->second;
  }
  if (ns_->server->admin_watched() && !ns_->is_admin) {
    ns_->server->admin->event(true, ns_->name, id_, event_array(event, args));
  }
  for (const AnyHandler& h : any) guarded("onAny handler", [&] { h(event, args); });
  if (handler) guarded("event handler", [&] { handler(args, ack); });
}

void Socket::on_packet_ack(std::uint64_t id, Args args) {
  AckCallback cb;
  TimerService::Id timer = 0;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->acks.find(id);
    if (it == state_->acks.end()) return;  // late (timed out) or unknown: ignored, as the reference does
    cb = std::move(it->second.callback);
    timer = it->second.timer;
    state_->acks.erase(it);
  }
  ns_->server->timers.cancel(timer);
  guarded("ack callback", [&] { cb(std::nullopt, std::move(args)); });
}

void Socket::send_ack(std::uint64_t id, Args args) {
  auto client = client_.lock();
  if (!client || !connected()) return;
  socketio::Packet p{socketio::PacketType::kAck, ns_->name, id, Value(std::move(args))};
  client->send(p);
}

void Socket::on_close(const std::string& reason, bool notify_client) {
  std::vector<std::function<void(const std::string&)>> disconnecting, disconnect;
  std::unordered_map<std::uint64_t, State::PendingAck> acks;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (!state_->connected) return;
    state_->connected = false;
    disconnecting = std::move(state_->disconnecting);
    disconnect = std::move(state_->disconnect);
    acks = std::move(state_->acks);
    state_->handlers.clear();
    state_->any.clear();
  }
  ns_->server->metrics.disconnected(reason);
  auto self = shared_from_this();  // keep alive while the namespace lets go of it
  for (auto& h : disconnecting) guarded("disconnecting handler", [&] { h(reason); });
  if (ns_->recovers() && disconnect_keeps_session(reason)) ns_->persist_session(*this);
  auto client = client_.lock();
  if (notify_client && client) {
    client->send(socketio::Packet{socketio::PacketType::kDisconnect, ns_->name, std::nullopt, std::nullopt});
  }
  ns_->remove_socket(id_);
  if (client) client->detach(ns_->name);
  for (auto& entry : acks) {
    State::PendingAck& pending = entry.second;
    ns_->server->timers.cancel(pending.timer);
    guarded("ack callback", [&] { pending.callback(AckError{"socket has been disconnected"}, {}); });
  }
  for (auto& h : disconnect) guarded("disconnect handler", [&] { h(reason); });
  if (ns_->server->admin_watched()) ns_->server->admin->socket_disconnected(ns_->name, id_, reason);
}

// ---------------------------------------------------------------------------------------
// BroadcastOperator

BroadcastOperator BroadcastOperator::to(std::string room) const {
  BroadcastOperator b = *this;
  b.opts_.rooms.insert(std::move(room));
  return b;
}

BroadcastOperator BroadcastOperator::except(std::string room) const {
  BroadcastOperator b = *this;
  b.opts_.except.insert(std::move(room));
  return b;
}

BroadcastOperator BroadcastOperator::volatile_() const {
  BroadcastOperator b = *this;
  b.opts_.is_volatile = true;
  return b;
}

BroadcastOperator BroadcastOperator::local() const {
  BroadcastOperator b = *this;
  b.opts_.local = true;
  return b;
}

BroadcastOperator BroadcastOperator::timeout(std::chrono::milliseconds timeout) const {
  BroadcastOperator b = *this;
  b.timeout_ = timeout;
  return b;
}

namespace {

// Does an operation on `ns` with `opts` cross to the other nodes?
Cluster* cluster_for(const NamespaceImpl& ns, const BroadcastOptions& opts) {
  if (opts.local || ns.predicate) return nullptr;
  return ns.server->cluster.get();
}

// The acks of one broadcast, gathered from this node's clients and every other node's.
struct AckCollector {
  std::mutex mu;
  AckCallback callback;
  ServerImpl* server = nullptr;
  TimerService::Id timer = 0;
  long long expected_servers = -1;  // other nodes, once counted
  long long servers = 0;            // other nodes that sent their client count
  std::uint64_t expected_clients = 0;
  Args responses;
  bool done = false;

  void finish_locked(std::unique_lock<std::mutex>& lock, std::optional<AckError> err) {
    done = true;
    AckCallback cb = std::move(callback);
    Args out = std::move(responses);
    TimerService::Id t = timer;
    lock.unlock();
    if (!err) server->timers.cancel(t);
    guarded("broadcast ack callback", [&] { cb(std::move(err), std::move(out)); });
  }
  void check(std::unique_lock<std::mutex>& lock) {
    if (!done && expected_servers >= 0 && servers == expected_servers && responses.size() == expected_clients) {
      finish_locked(lock, std::nullopt);
    }
  }
  void add_clients(std::uint64_t n, bool from_server) {
    std::unique_lock<std::mutex> lock(mu);
    expected_clients += n;
    if (from_server) ++servers;
    check(lock);
  }
  void add_response(Value v) {
    std::unique_lock<std::mutex> lock(mu);
    if (done) return;
    responses.push_back(std::move(v));
    check(lock);
  }
  void set_servers(long long n) {
    std::unique_lock<std::mutex> lock(mu);
    expected_servers = n;
    check(lock);
  }
  // "operation has timed out", and what was missing: nodes that never reported how many
  // clients they reached, clients that did not ack.
  void time_out() {
    std::unique_lock<std::mutex> lock(mu);
    if (done) return;
    std::string missing;
    auto add = [&missing](const std::string& part) { missing += (missing.empty() ? ": " : "; ") + part; };
    if (expected_servers < 0) {
      add("the other nodes were not counted (Redis did not answer)");
    } else if (servers < expected_servers) {
      add(std::to_string(expected_servers - servers) + " of " + std::to_string(expected_servers) +
          " other nodes never answered");
    }
    if (responses.size() < expected_clients) {
      add(std::to_string(expected_clients - responses.size()) + " of " + std::to_string(expected_clients) +
          " clients did not ack");
    }
    finish_locked(lock, AckError{"operation has timed out" + missing});
  }
};

RemoteSocket local_remote(const std::shared_ptr<NamespaceImpl>& ns, const std::shared_ptr<Socket>& s) {
  std::shared_ptr<const Handshake> h(s, &s->handshake());  // lives as long as the socket
  std::set<std::string> rooms = s->rooms();
  return RemoteSocket(ns, s->id(), std::move(h), std::move(rooms), s->data(), s);
}

}  // namespace

bool BroadcastOperator::emit(std::string_view event, Args args) const {
  Value payload = event_array(event, std::move(args));
  return ns_->broadcast(payload.as_array(), opts_, nullptr);
}

bool BroadcastOperator::emit_with_ack(std::string_view event, Args args, AckCallback callback) const {
  Value payload = event_array(event, std::move(args));
  auto c = std::make_shared<AckCollector>();
  c->callback = std::move(callback);
  c->server = ns_->server;
  auto timeout_ms = static_cast<std::uint32_t>(std::max<std::int64_t>(0, timeout_.count()));
  {
    std::lock_guard<std::mutex> lock(c->mu);
    c->timer = ns_->server->timers.schedule_in(timeout_, [c] { c->time_out(); });
  }
  bool ok = ns_->broadcast_with_ack_local(
      payload.as_array(), opts_, timeout_ms, [c](std::uint64_t n) { c->add_clients(n, false); },
      [c](Value v) { c->add_response(std::move(v)); });
  if (!ok) {
    std::lock_guard<std::mutex> lock(c->mu);
    c->done = true;
    ns_->server->timers.cancel(c->timer);
    return false;
  }
  Cluster* cluster = cluster_for(*ns_, opts_);
  if (cluster == nullptr) {
    c->set_servers(0);
    return true;
  }
  cluster->broadcast_with_ack(
      *ns_, payload.as_array(), opts_, timeout_ms,
      [c](std::optional<long long> others) { c->set_servers(others ? *others : 0); },
      [c](std::uint64_t n) { c->add_clients(n, true); }, [c](Value v) { c->add_response(std::move(v)); });
  return true;
}

void BroadcastOperator::fetch_sockets(FetchCallback callback) const {
  std::vector<RemoteSocket> local;
  for (auto& s : ns_->select_sockets(opts_)) local.push_back(local_remote(ns_, s));
  Cluster* cluster = cluster_for(*ns_, opts_);
  if (cluster == nullptr) {
    guarded("fetch_sockets callback", [&] { callback(std::nullopt, std::move(local)); });
    return;
  }
  cluster->fetch_sockets(ns_, opts_,
                         [local = std::move(local), callback = std::move(callback)](
                             std::optional<AckError> err, std::vector<RemoteSocket> remote) mutable {
                           local.insert(local.end(), std::make_move_iterator(remote.begin()),
                                        std::make_move_iterator(remote.end()));
                           guarded("fetch_sockets callback", [&] { callback(std::move(err), std::move(local)); });
                         });
}

std::vector<RemoteSocket> BroadcastOperator::fetch_sockets() const {
  Cluster* cluster = cluster_for(*ns_, opts_);
  if (cluster != nullptr && cluster->on_redis_thread()) {
    // The answers arrive on this very thread: waiting here would only time out.
    log(LogLevel::kError,
        "fetch_sockets() blocks, and was called on the Redis adapter's thread (a server-side "
        "event handler?): this node's sockets only; use fetch_sockets(callback) there");
    return local().fetch_sockets();
  }
  auto result = std::make_shared<std::promise<std::vector<RemoteSocket>>>();
  auto future = result->get_future();
  fetch_sockets([result](std::optional<AckError> err, std::vector<RemoteSocket> sockets) {
    if (err) log(LogLevel::kWarn, "fetch_sockets: " + err->message);
    result->set_value(std::move(sockets));
  });
  return future.get();
}

void BroadcastOperator::sockets_join(const std::vector<std::string>& rooms) const {
  ns_->local_join_leave(opts_, rooms, true);
  if (Cluster* cluster = cluster_for(*ns_, opts_)) cluster->publish_join_leave(*ns_, opts_, rooms, true);
}

void BroadcastOperator::sockets_leave(const std::vector<std::string>& rooms) const {
  ns_->local_join_leave(opts_, rooms, false);
  if (Cluster* cluster = cluster_for(*ns_, opts_)) cluster->publish_join_leave(*ns_, opts_, rooms, false);
}

void BroadcastOperator::disconnect_sockets(bool close) const {
  // Published first: the local disconnects may take a while (handlers).
  if (Cluster* cluster = cluster_for(*ns_, opts_)) cluster->publish_disconnect(*ns_, opts_, close);
  ns_->local_disconnect(opts_, close);
}

// ---------------------------------------------------------------------------------------
// RemoteSocket

BroadcastOperator RemoteSocket::self() const {
  BroadcastOptions o;
  o.rooms.insert(id_);
  return BroadcastOperator(ns_, std::move(o));
}

bool RemoteSocket::emit(std::string_view event, Args args) const {
  if (local_) return local_->emit(event, std::move(args));
  return self().emit(event, std::move(args));
}

bool RemoteSocket::emit_with_ack(std::string_view event, Args args, std::chrono::milliseconds timeout,
                                 AckCallback callback) const {
  if (local_) return local_->emit_with_ack(event, std::move(args), timeout, std::move(callback));
  return self().timeout(timeout).emit_with_ack(
      event, std::move(args), [callback = std::move(callback)](std::optional<AckError> err, Args responses) {
        if (!err && responses.empty()) err = AckError{"socket has been disconnected"};  // gone meanwhile
        callback(std::move(err), responses.empty() ? Args{} : Args{std::move(responses[0])});
      });
}

void RemoteSocket::join(const std::vector<std::string>& rooms) const {
  if (local_) {
    local_->join(rooms);
  } else {
    self().sockets_join(rooms);
  }
}

void RemoteSocket::leave(const std::vector<std::string>& rooms) const {
  if (local_) {
    for (const std::string& r : rooms) local_->leave(r);
  } else {
    self().sockets_leave(rooms);
  }
}

void RemoteSocket::disconnect(bool close) const {
  if (local_) {
    local_->disconnect(close);
  } else {
    self().disconnect_sockets(close);
  }
}

// ---------------------------------------------------------------------------------------
// Namespace

const std::string& Namespace::name() const {
  return impl_->name;
}

void Namespace::use(Middleware middleware) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->middlewares.push_back(std::move(middleware));
}

void Namespace::on_connection(std::function<void(Socket&)> handler) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->connection_handlers.push_back(std::move(handler));
}

BroadcastOperator Namespace::all() const {
  return BroadcastOperator(impl_, BroadcastOptions{});
}
BroadcastOperator Namespace::to(std::string room) const {
  return all().to(std::move(room));
}
BroadcastOperator Namespace::except(std::string room) const {
  return all().except(std::move(room));
}
BroadcastOperator Namespace::volatile_() const {
  return all().volatile_();
}
BroadcastOperator Namespace::local() const {
  return all().local();
}
bool Namespace::emit(std::string_view event, Args args) const {
  return all().emit(event, std::move(args));
}
BroadcastOperator Namespace::timeout(std::chrono::milliseconds timeout) const {
  return all().timeout(timeout);
}
std::vector<RemoteSocket> Namespace::fetch_sockets() const {
  return all().fetch_sockets();
}
void Namespace::fetch_sockets(FetchCallback callback) const {
  all().fetch_sockets(std::move(callback));
}
void Namespace::sockets_join(const std::vector<std::string>& rooms) const {
  all().sockets_join(rooms);
}
void Namespace::sockets_leave(const std::vector<std::string>& rooms) const {
  all().sockets_leave(rooms);
}
void Namespace::disconnect_sockets(bool close) const {
  all().disconnect_sockets(close);
}

void Namespace::on_any_server_event(AnyHandler handler) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->any_server_event_handlers.push_back(std::move(handler));
}

void Namespace::on_server_event(std::string event, EventHandler handler) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->server_event_handlers[std::move(event)] = std::move(handler);
}

namespace {
// Names socket.io keeps for itself (serverSideEmit refuses them too).
bool reserved_server_event(std::string_view event) {
  return event == "connect" || event == "connect_error" || event == "disconnect" || event == "disconnecting" ||
         event == "newListener" || event == "removeListener";
}
}  // namespace

bool Namespace::server_side_emit(std::string_view event, Args args) const {
  if (reserved_server_event(event)) return false;
  Value payload = event_array(event, std::move(args));
  if (Cluster* cluster = cluster_for(*impl_, BroadcastOptions{})) cluster->server_side_emit(*impl_, payload.as_array());
  return true;
}

void Namespace::server_side_emit_with_ack(std::string_view event, Args args, std::chrono::milliseconds timeout,
                                          AckCallback callback) const {
  if (reserved_server_event(event)) {
    guarded("server_side_emit_with_ack callback",
            [&] { callback(AckError{"\"" + std::string(event) + "\" is a reserved event name"}, {}); });
    return;
  }
  Value payload = event_array(event, std::move(args));
  Cluster* cluster = cluster_for(*impl_, BroadcastOptions{});
  if (cluster == nullptr) {
    guarded("server_side_emit_with_ack callback", [&] { callback(std::nullopt, {}); });
    return;
  }
  cluster->server_side_emit_with_ack(
      *impl_, payload.as_array(), static_cast<std::uint32_t>(std::max<std::int64_t>(0, timeout.count())),
      [callback = std::move(callback)](std::optional<AckError> err, Array responses) {
        guarded("server_side_emit_with_ack callback", [&] { callback(std::move(err), std::move(responses)); });
      });
}

void Namespace::all_rooms(std::function<void(std::optional<AckError>, std::set<std::string>)> callback) const {
  std::vector<std::string> mine = impl_->adapter->all_rooms();
  std::set<std::string> local(mine.begin(), mine.end());
  Cluster* cluster = cluster_for(*impl_, BroadcastOptions{});
  if (cluster == nullptr) {
    guarded("all_rooms callback", [&] { callback(std::nullopt, std::move(local)); });
    return;
  }
  cluster->all_rooms(*impl_, [local = std::move(local), callback = std::move(callback)](
                                 std::optional<AckError> err, std::set<std::string> rooms) mutable {
    rooms.insert(local.begin(), local.end());
    guarded("all_rooms callback", [&] { callback(std::move(err), std::move(rooms)); });
  });
}

std::size_t Namespace::socket_count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::size_t n = impl_->sockets.size();
  for (const auto& child : impl_->children) {
    std::lock_guard<std::mutex> child_lock(child->mu);
    n += child->sockets.size();
  }
  return n;
}

// ---------------------------------------------------------------------------------------
// NamespaceImpl

std::shared_ptr<Socket> NamespaceImpl::find_socket(const std::string& sid) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = sockets.find(sid);
  return it == sockets.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Socket>> NamespaceImpl::select_sockets(const BroadcastOptions& opts) {
  std::vector<std::string> ids = adapter->select(opts);
  std::vector<std::shared_ptr<Socket>> out;
  std::vector<std::shared_ptr<NamespaceImpl>> kids;
  {
    std::lock_guard<std::mutex> lock(mu);
    out.reserve(ids.size());
    for (const std::string& id : ids) {
      auto it = sockets.find(id);
      if (it != sockets.end()) out.push_back(it->second);
    }
    kids = children;
  }
  for (auto& child : kids) {
    auto more = child->select_sockets(opts);
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

bool NamespaceImpl::broadcast(const Args& args_with_event, const BroadcastOptions& opts,
                              const std::string* exclude_sid) {
  std::vector<std::shared_ptr<NamespaceImpl>> kids;
  {
    std::lock_guard<std::mutex> lock(mu);
    kids = children;
  }
  bool ok = true;
  if (!opts.rooms.empty()) server->feeds.publish(name, opts.rooms, args_with_event);
  Cluster* cluster = cluster_for(*this, opts);
  if (!predicate && cluster != nullptr && cluster->streams()) {
    // Through the stream; delivered here as its entry id comes back (the offset).
    cluster->stream_broadcast(shared_from_this(), args_with_event, opts, stream_recovery);
  } else if (!predicate) {  // a parent has no sockets of its own
    const auto started = std::chrono::steady_clock::now();
    // With recovery, a non-volatile packet carries its offset (this node's: a packet from
    // another node gets one here too) and is kept for replay; deliveries are serialized with
    // restores (recovery_mu).
    std::unique_lock<std::mutex> recovery_lock;
    std::optional<socketio::RecoveryStore::Offset> offset;
    Value payload(args_with_event);
    if (recovery && !opts.is_volatile) {
      recovery_lock = std::unique_lock<std::mutex>(recovery_mu);
      offset = recovery->reserve();
      payload.push_back(socketio::RecoveryStore::format(*offset));
    }
    socketio::Packet p{socketio::PacketType::kEvent, name, std::nullopt, std::move(payload)};
    auto encoded = socketio::encode(p, server->options.limits);
    if (!encoded) {
      log(LogLevel::kWarn, "broadcast on " + name + " not sent: " + encoded.error().message);
      return false;
    }
    if (cluster != nullptr) cluster->publish_broadcast(*this, args_with_event, opts);
    FramePtr frame = message_frame(*encoded, opts.is_volatile);  // encoded once for all
    if (offset) {
      recovery->add(*offset, frame, std::vector<std::string>(opts.rooms.begin(), opts.rooms.end()),
                    std::vector<std::string>(opts.except.begin(), opts.except.end()), now_ms());
    }
    send_to_selected(frame, opts, exclude_sid, args_with_event, started);
  }
  for (auto& child : kids) ok = child->broadcast(args_with_event, opts, exclude_sid) && ok;
  return ok;
}

bool NamespaceImpl::deliver(const Array& args_with_event, const BroadcastOptions& opts,
                            const std::optional<std::string>& offset) {
  const auto started = std::chrono::steady_clock::now();
  Value payload(args_with_event);
  if (offset) payload.push_back(*offset);
  socketio::Packet p{socketio::PacketType::kEvent, name, std::nullopt, std::move(payload)};
  auto encoded = socketio::encode(p, server->options.limits);
  if (!encoded) {
    log(LogLevel::kWarn, "broadcast on " + name + " not sent: " + encoded.error().message);
    return false;
  }
  send_to_selected(message_frame(*encoded, opts.is_volatile), opts, nullptr, args_with_event, started);
  return true;
}

void NamespaceImpl::send_to_selected(const FramePtr& frame, const BroadcastOptions& opts,
                                     const std::string* exclude_sid, const Array& args_with_event,
                                     std::chrono::steady_clock::time_point started) {
  std::vector<std::string> ids = adapter->select(opts);
  std::vector<std::shared_ptr<ClientConnection>> targets;
  targets.reserve(ids.size());
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const std::string& id : ids) {
      if (exclude_sid != nullptr && id == *exclude_sid) continue;
      auto it = sockets.find(id);
      if (it == sockets.end()) continue;
      if (auto client = it->second->client_.lock()) targets.push_back(std::move(client));
    }
  }
  for (auto& client : targets) client->send_frame(frame);  // never under the namespace lock
  server->metrics.broadcast_took(std::chrono::steady_clock::now() - started);
  report_sent(args_with_event, ids, exclude_sid);
}

void NamespaceImpl::report_sent(const Array& args_with_event, const std::vector<std::string>& ids,
                                const std::string* exclude_sid) {
  if (!server->admin_watched() || is_admin) return;
  const Value args(args_with_event);
  for (const std::string& id : ids) {
    if (exclude_sid != nullptr && id == *exclude_sid) continue;
    if (find_socket(id)) server->admin->event(false, name, id, args);
  }
}

bool NamespaceImpl::broadcast_with_ack_local(const Args& args_with_event, const BroadcastOptions& opts,
                                             std::uint32_t timeout_ms,
                                             const std::function<void(std::uint64_t)>& on_count,
                                             std::function<void(Value)> on_ack) {
  if (predicate) {  // a parent: its children's sockets
    std::vector<std::shared_ptr<NamespaceImpl>> kids;
    {
      std::lock_guard<std::mutex> lock(mu);
      kids = children;
    }
    bool ok = true;
    for (auto& child : kids)
      ok = child->broadcast_with_ack_local(args_with_event, opts, timeout_ms, on_count, on_ack) && ok;
    if (kids.empty()) on_count(0);
    return ok;
  }
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t id = next_ack_id.fetch_add(1, std::memory_order_relaxed);
  socketio::Packet p{socketio::PacketType::kEvent, name, id, Value(args_with_event)};
  auto encoded = socketio::encode(p, server->options.limits);
  if (!encoded) {
    log(LogLevel::kWarn, "broadcast with acks on " + name + " not sent: " + encoded.error().message);
    return false;
  }
  FramePtr frame = message_frame(*encoded, opts.is_volatile);  // one id, one encoding for all
  std::vector<std::string> ids = adapter->select(opts);
  std::vector<std::shared_ptr<Socket>> targets;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const std::string& sid : ids) {
      auto it = sockets.find(sid);
      if (it != sockets.end()) targets.push_back(it->second);
    }
  }
  auto shared_ack = std::make_shared<std::function<void(Value)>>(std::move(on_ack));
  std::vector<std::pair<std::shared_ptr<ClientConnection>, std::weak_ptr<Socket>>> sent;
  sent.reserve(targets.size());
  for (auto& s : targets) {
    auto client = s->client_.lock();
    if (!client) continue;
    std::lock_guard<std::mutex> lock(s->state_->mu);
    if (!s->state_->connected) continue;
    // Errors (the socket went away) are not responses: the broadcast waits for its timeout.
    s->state_->acks[id].callback = [shared_ack](std::optional<AckError> err, Args a) {
      if (!err) (*shared_ack)(a.empty() ? Value() : std::move(a[0]));
    };
    sent.emplace_back(std::move(client), s);
  }
  on_count(sent.size());
  for (auto& entry : sent) entry.first->send_frame(frame);
  server->metrics.broadcast_took(std::chrono::steady_clock::now() - started);
  if (!sent.empty()) {  // forget the acks that never came
    std::vector<std::weak_ptr<Socket>> weak;
    weak.reserve(sent.size());
    for (auto& entry : sent) weak.push_back(entry.second);
    server->timers.schedule_in(std::chrono::milliseconds(timeout_ms), [weak = std::move(weak), id] {
      for (const auto& w : weak) {
        if (auto s = w.lock()) {
          std::lock_guard<std::mutex> lock(s->state_->mu);
          s->state_->acks.erase(id);
        }
      }
    });
  }
  return true;
}

NamespaceImpl::NamespaceImpl(ServerImpl* owner, std::string ns_name) : server(owner), name(std::move(ns_name)) {
  const ConnectionStateRecoveryOptions& o = server->options.connection_state_recovery;
  if (o.enabled && !server->options.redis.url.empty() &&
      server->options.redis.adapter == RedisAdapterOptions::Kind::kStreams) {
    stream_recovery = true;
  } else if (o.enabled) {
    socketio::RecoveryOptions r;
    r.max_disconnection_ms = o.max_disconnection_ms;
    r.max_stored_packets = o.max_stored_packets;
    r.max_replayed_packets = o.max_replayed_packets;
    recovery = std::make_unique<socketio::RecoveryStore>(r);
  }
}

bool NamespaceImpl::emit_recoverable(const std::string& sid, ClientConnection& client, Array args_with_event) {
  std::lock_guard<std::mutex> lock(recovery_mu);
  auto offset = recovery->reserve();
  args_with_event.emplace_back(socketio::RecoveryStore::format(offset));
  socketio::Packet p{socketio::PacketType::kEvent, name, std::nullopt, Value(std::move(args_with_event))};
  auto encoded = socketio::encode(p, server->options.limits);
  if (!encoded) {
    log(LogLevel::kWarn, std::string("packet not sent: ") + encoded.error().message);
    return false;
  }
  FramePtr frame = message_frame(*encoded);
  recovery->add(offset, frame, {sid}, {}, now_ms());
  return client.send_frame(std::move(frame));
}

void NamespaceImpl::persist_session(Socket& socket) {
  // Both kinds of session: {sid, pid, rooms, data} and where its replay starts.
  auto fill = [&](auto& session) {
    session.sid = socket.id_;
    session.pid = socket.pid_;
    std::set<std::string> rooms = adapter->socket_rooms(socket.id_);
    session.rooms.assign(rooms.begin(), rooms.end());
    session.data = socket.data_;
  };
  if (stream_recovery) {
    cluster::streams::Session session;
    fill(session);
    std::string offset;
    {
      std::lock_guard<std::mutex> lock(socket.state_->mu);
      offset = socket.state_->stream_offset;
    }
    server->cluster->persist_session(session, offset, server->options.connection_state_recovery.max_disconnection_ms);
    return;
  }
  socketio::RecoveryStore::Session s;
  fill(s);
  s.connected_at = socket.connected_offset_;
  std::lock_guard<std::mutex> lock(recovery_mu);
  recovery->persist(std::move(s), now_ms());
}

void NamespaceImpl::prune_recovery(std::uint64_t now) {
  if (!recovery) return;
  std::lock_guard<std::mutex> lock(recovery_mu);
  recovery->prune(now);
}

void NamespaceImpl::local_join_leave(const BroadcastOptions& opts, const std::vector<std::string>& rooms, bool join) {
  for (auto& s : select_sockets(opts)) {
    if (join) {
      s->join(rooms);
    } else {
      for (const std::string& r : rooms) s->leave(r);
    }
  }
}

void NamespaceImpl::local_disconnect(const BroadcastOptions& opts, bool close) {
  for (auto& s : select_sockets(opts)) s->disconnect(close);
}

void NamespaceImpl::on_server_side_emit(Array args_with_event, std::function<void(Value)> answer) {
  if (args_with_event.empty() || !args_with_event[0].is_string()) return;
  std::string event = std::move(args_with_event[0].as_string());
  Args args(std::make_move_iterator(args_with_event.begin() + 1), std::make_move_iterator(args_with_event.end()));
  EventHandler handler;
  std::vector<AnyHandler> any;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = server_event_handlers.find(event);
    if (it != server_event_handlers.end()) handler = it->second;
    any = any_server_event_handlers;
  }
  for (const AnyHandler& h : any) guarded("server event handler", [&] { h(event, args); });
  if (!handler) {
    if (answer) answer(Value());
    return;
  }
  Ack ack;
  if (answer) {
    auto once = std::make_shared<std::atomic<bool>>(false);
    ack.send_ = std::make_shared<std::function<void(Args)>>([answer = std::move(answer), once](Args a) {
      if (once->exchange(true)) return;
      answer(a.empty() ? Value() : std::move(a[0]));
    });
  }
  guarded("server event handler", [&] { handler(args, ack); });
}

void NamespaceImpl::authorize(std::shared_ptr<Socket> socket, std::size_t index,
                              std::function<void(std::optional<ConnectError>)> done) {
  Middleware mw;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (index < middlewares.size()) mw = middlewares[index];
  }
  if (!mw) {
    done(std::nullopt);
    return;
  }
  auto once = std::make_shared<std::atomic<bool>>(false);
  auto self = shared_from_this();
  Next next = [self, socket, index, once, done](std::optional<ConnectError> err) {
    if (once->exchange(true)) return;  // `next` counts once, as in socket.io
    if (err) {
      done(std::move(err));
      return;
    }
    self->authorize(socket, index + 1, done);
  };
  try {
    mw(*socket, next);
  } catch (const std::exception& e) {
    next(ConnectError{e.what(), Value()});
  } catch (...) {
    next(ConnectError{"middleware error", Value()});
  }
}

void NamespaceImpl::run_middleware(std::shared_ptr<Socket> socket, std::size_t index) {
  auto self = shared_from_this();
  authorize(socket, index, [self, socket](std::optional<ConnectError> err) {
    if (!err) {
      self->add_socket(socket);
      return;
    }
    auto client = socket->client_.lock();
    if (!client) return;
    Value data = Value::object({{"message", err->message}});
    if (!err->data.is_null()) data.set("data", err->data);
    client->send(socketio::Packet{socketio::PacketType::kConnectError, self->name, std::nullopt, std::move(data)});
  });
}

void NamespaceImpl::add_socket(const std::shared_ptr<Socket>& socket) {
  auto client = socket->client_.lock();
  if (!client) return;
  {
    std::lock_guard<std::mutex> lock(socket->state_->mu);
    socket->state_->connected = true;
  }
  std::vector<std::function<void(Socket&)>> handlers;
  {
    std::lock_guard<std::mutex> lock(mu);
    sockets[socket->id()] = socket;
    handlers = connection_handlers;
  }
  if (stream_recovery) {
    std::shared_ptr<StreamRestore> restore;
    {
      std::lock_guard<std::mutex> lock(socket->state_->mu);
      restore = std::move(socket->state_->stream_restore);
    }
    if (!restore) {
      attach_stream_socket(socket, client, nullptr, std::nullopt, handlers);
      return;
    }
    auto self = shared_from_this();
    server->cluster->complete_restore(
        restore, name, server->options.connection_state_recovery.max_replayed_packets,
        [self, socket, client, restore, handlers](std::optional<std::vector<Array>> missed) {
          self->attach_stream_socket(socket, client, restore, std::move(missed), handlers);
        });
    return;
  }
  if (!recovery) {
    adapter->add_all(socket->id(), {socket->id()});
    // CONNECT reply first, then the connection handlers (their emits follow it).
    client->send(
        socketio::Packet{socketio::PacketType::kConnect, name, std::nullopt, Value::object({{"sid", socket->id()}})});
  } else {
    std::optional<std::string> pid, offset;
    {
      std::lock_guard<std::mutex> lock(socket->state_->mu);
      pid = std::move(socket->state_->restore_pid);
      offset = std::move(socket->state_->restore_offset);
    }
    // Under recovery_mu: no packet of this namespace is delivered between the replay and the
    // socket's joining its rooms, so each arrives once, replayed or live.
    std::lock_guard<std::mutex> lock(recovery_mu);
    std::set<std::string> rooms{socket->id()};
    std::vector<FramePtr> missed;
    if (pid) {
      auto outcome = recovery->restore(*pid, offset, now_ms());
      if (outcome.restored && outcome.restored->session.sid == socket->id()) {
        socket->recovered_ = true;
        socket->data_ = std::move(outcome.restored->session.data);
        rooms.insert(outcome.restored->session.rooms.begin(), outcome.restored->session.rooms.end());
        missed = std::move(outcome.restored->missed);
      } else {
        log(LogLevel::kDebug, "session not recovered: " +
                                  std::string(outcome.restored ? "taken over meanwhile"
                                                               : socketio::RecoveryStore::describe(outcome.refusal)));
        socket->pid_ = server->new_id();
      }
    }
    socket->connected_offset_ = recovery->last();
    adapter->add_all(socket->id(), rooms);
    for (FramePtr& f : missed) client->send_frame(std::move(f));  // before the CONNECT reply
    client->send(socketio::Packet{socketio::PacketType::kConnect, name, std::nullopt,
                                  Value::object({{"sid", socket->id()}, {"pid", socket->pid_}})});
  }
  if (server->admin_watched()) server->admin->socket_connected(*socket);
  for (auto& h : handlers) guarded("connection handler", [&] { h(*socket); });
}

void NamespaceImpl::attach_stream_socket(const std::shared_ptr<Socket>& socket,
                                         const std::shared_ptr<ClientConnection>& client,
                                         const std::shared_ptr<StreamRestore>& restore,
                                         std::optional<std::vector<Array>> missed,
                                         const std::vector<std::function<void(Socket&)>>& handlers) {
  std::set<std::string> rooms{socket->id()};
  {
    std::lock_guard<std::mutex> lock(socket->state_->mu);
    if (!socket->state_->connected) return;  // its client left while the session was read
    // Where a replay would start for a client that receives nothing before it drops.
    socket->state_->stream_offset = server->cluster->stream_position();
  }
  if (restore && missed) {
    socket->recovered_ = true;
    socket->data_ = std::move(restore->session.data);
    rooms.insert(restore->session.rooms.begin(), restore->session.rooms.end());
  } else if (restore) {
    socket->pid_ = server->new_id();  // not recovered: a fresh session (under the id it asked for)
  }
  adapter->add_all(socket->id(), rooms);
  if (missed) {
    for (Array& data : *missed) {  // before the CONNECT reply
      socketio::Packet p{socketio::PacketType::kEvent, name, std::nullopt, Value(std::move(data))};
      auto encoded = socketio::encode(p, server->options.limits);
      if (encoded) client->send_frame(message_frame(*encoded));
    }
  }
  client->send(socketio::Packet{socketio::PacketType::kConnect, name, std::nullopt,
                                Value::object({{"sid", socket->id()}, {"pid", socket->pid_}})});
  if (server->admin_watched()) server->admin->socket_connected(*socket);
  for (auto& h : handlers) guarded("connection handler", [&] { h(*socket); });
}

void NamespaceImpl::remove_socket(const std::string& sid) {
  adapter->del_all(sid);
  std::lock_guard<std::mutex> lock(mu);
  sockets.erase(sid);
}

// ---------------------------------------------------------------------------------------
// ClientConnection

ClientConnection::ClientConnection(ServerImpl* server, std::shared_ptr<EngineLink> engine)
    : server_(server), engine_(engine), handshake_(engine->handshake()), decoder_(server->options.limits) {}

void ClientConnection::start() {
  std::weak_ptr<ClientConnection> weak = weak_from_this();
  connect_timer_ =
      server_->timers.schedule_in(std::chrono::milliseconds(server_->options.limits.connect_timeout_ms), [weak] {
        auto self = weak.lock();
        if (!self) return;
        {
          std::lock_guard<std::mutex> lock(self->mu_);
          if (self->ever_connected_ || self->closed_) return;
        }
        log(LogLevel::kDebug, "no namespace joined within connectTimeout: closing");
        self->close("forced close");
      });
}

bool ClientConnection::send(const socketio::Packet& packet, bool is_volatile) {
  auto encoded = socketio::encode(packet, server_->options.limits);
  if (!encoded) {
    log(LogLevel::kWarn, std::string("packet not sent: ") + encoded.error().message);
    return false;
  }
  return send_frame(message_frame(*encoded, is_volatile));
}

bool ClientConnection::send_frame(FramePtr frame) {
  auto engine = engine_.lock();
  if (!engine || !engine->send(std::move(frame))) return false;
  server_->metrics.message_sent();
  return true;
}

void ClientConnection::on_message(const engineio::Packet& packet) {
  std::lock_guard<std::mutex> dispatch(dispatch_mu_);
  auto r = packet.binary ? decoder_.feed_binary(packet.data) : decoder_.feed_text(packet.data);
  if (!r) {
    log(LogLevel::kDebug, "closing connection: " + r.error().message);
    close_violation("parse error", "invalid Socket.IO packet: " + r.error().message);
    return;
  }
  if (r.value()) {
    server_->metrics.message_received();
    handle(std::move(*r.value()));
  }
}

void ClientConnection::handle(socketio::Packet packet) {
  using socketio::PacketType;
  std::shared_ptr<Socket> socket;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    for (const auto& [nsp, s] : sockets_) {
      if (nsp == packet.nsp) socket = s;
    }
  }
  if (packet.type == PacketType::kConnect) {
    if (socket) {
      close_violation("forced close", "CONNECT twice to " + packet.nsp);  // invalid state
      return;
    }
    connect(packet.nsp, packet.data ? std::move(*packet.data) : Value());
    return;
  }
  if (!socket) {
    // A packet for a namespace this client never joined: invalid state, as the reference.
    close_violation("forced close", "packet for namespace " + packet.nsp + " before CONNECT");
    return;
  }
  switch (packet.type) {
    case PacketType::kEvent: {
      Array& all = packet.data->as_array();
      // A number names the event by its JavaScript string form (42[1] reaches on("1")), as
      // the reference's EventEmitter keys it.
      std::string event;
      if (all[0].is_number()) {
        json::format_number(all[0].as_number(), event);
      } else {
        event = std::move(all[0].as_string());
      }
      Args args(std::make_move_iterator(all.begin() + 1), std::make_move_iterator(all.end()));
      socket->on_packet_event(std::move(event), std::move(args), packet.id);
      return;
    }
    case PacketType::kAck:
      if (packet.id) socket->on_packet_ack(*packet.id, std::move(packet.data->as_array()));
      return;
    case PacketType::kDisconnect:
      socket->on_close("client namespace disconnect", false);
      return;
    default:
      close_violation("forced close", "unexpected Socket.IO packet type from a client");
      return;
  }
}

void ClientConnection::connect(const std::string& nsp, Value auth) {
  auto ns = server_->resolve_namespace(nsp, auth);
  if (!ns) {
    send(socketio::Packet{socketio::PacketType::kConnectError, nsp, std::nullopt,
                          Value::object({{"message", "Invalid namespace"}})});
    return;
  }
  // socket.io's handshake.auth is an object, {} when the client sent none. Sockets without
  // auth share the connection's handshake (its auth is {}); one with auth gets its own copy.
  std::shared_ptr<Handshake> own;
  if (auth.is_object() && auth.size() > 0) {
    own = std::make_shared<Handshake>(handshake_->get());
    own->auth = std::move(auth);
  }
  // Connection state recovery: {pid, offset} in the CONNECT names a session to take over (an
  // offset may be missing or null: a client that received no event yet recovers too).
  if (ns->stream_recovery && own) {  // the session is in Redis: read it first
    const Value* pid = own->auth.find("pid");
    const Value* offset = own->auth.find("offset");
    if (pid != nullptr && pid->is_string() && (offset == nullptr || offset->is_null() || offset->is_string())) {
      std::optional<std::string> from;
      if (offset != nullptr && offset->is_string()) from = offset->as_string();
      auto self = shared_from_this();
      std::string pid_text = pid->as_string();
      server_->cluster->restore_session(
          ns, pid_text, from, server_->options.connection_state_recovery.max_replayed_packets,
          [self, nsp, ns, own, pid_text](std::optional<StreamRestore> found, std::string why) {
            if (!found) {
              log(LogLevel::kDebug, "session not recovered: " + why);
              self->open_socket(nsp, ns, own, self->server_->new_id(), std::nullopt, std::nullopt, nullptr);
              return;
            }
            std::string sid = found->session.sid;
            self->open_socket(nsp, ns, own, std::move(sid), pid_text, std::nullopt,
                              std::make_shared<StreamRestore>(std::move(*found)));
          });
      return;
    }
  }
  std::string sid;
  std::optional<std::string> restore_pid, restore_offset;
  if (ns->recovery && own) {
    const Value* pid = own->auth.find("pid");
    const Value* offset = own->auth.find("offset");
    if (pid != nullptr && pid->is_string() && (offset == nullptr || offset->is_null() || offset->is_string())) {
      std::lock_guard<std::mutex> lock(ns->recovery_mu);
      if (const auto* kept = ns->recovery->find(pid->as_string(), now_ms())) {
        sid = kept->sid;
        restore_pid = pid->as_string();
        if (offset != nullptr && offset->is_string()) restore_offset = offset->as_string();
      }
    }
  }
  if (sid.empty()) sid = server_->new_id();
  open_socket(nsp, ns, std::move(own), std::move(sid), std::move(restore_pid), std::move(restore_offset), nullptr);
}

void ClientConnection::open_socket(const std::string& nsp, const std::shared_ptr<NamespaceImpl>& ns,
                                   std::shared_ptr<Handshake> own, std::string sid,
                                   std::optional<std::string> restore_pid, std::optional<std::string> restore_offset,
                                   std::shared_ptr<StreamRestore> stream_restore) {
  bool restoring = restore_pid.has_value();
  auto socket = std::make_shared<Socket>(std::move(sid), ns, shared_from_this(), handshake_, std::move(own));
  if (ns->recovers()) {
    socket->pid_ = restoring ? *restore_pid : server_->new_id();
    std::lock_guard<std::mutex> lock(socket->state_->mu);
    socket->state_->restore_pid = std::move(restore_pid);
    socket->state_->restore_offset = std::move(restore_offset);
    socket->state_->stream_restore = std::move(stream_restore);
  }
  std::shared_ptr<void> released;  // the pending slot, given back outside mu_
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    sockets_.erase(std::remove_if(sockets_.begin(), sockets_.end(), [&](const auto& e) { return e.first == nsp; }),
                   sockets_.end());
    sockets_.emplace_back(nsp, socket);
    ever_connected_ = true;
    released = std::move(pending_slot_);
  }
  server_->timers.cancel(connect_timer_);
  if (restoring && server_->options.connection_state_recovery.skip_middlewares) {
    ns->add_socket(socket);
    return;
  }
  ns->run_middleware(socket, 0);
}

void ClientConnection::detach(const std::string& nsp) {
  std::lock_guard<std::mutex> lock(mu_);
  sockets_.erase(std::remove_if(sockets_.begin(), sockets_.end(), [&](const auto& e) { return e.first == nsp; }),
                 sockets_.end());
}

std::string ClientConnection::engine_id() const {
  auto engine = engine_.lock();
  return engine ? engine->sid() : std::string();
}

const char* ClientConnection::transport() const {
  auto engine = engine_.lock();
  return engine ? engine->transport() : "polling";
}

void ClientConnection::on_upgrade(const char* transport) {
  if (!server_->admin_watched()) return;
  std::vector<std::pair<std::string, std::shared_ptr<Socket>>> sockets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sockets = sockets_;
  }
  for (auto& [nsp, socket] : sockets) server_->admin->transport_changed(nsp, socket->id(), transport);
}

void ClientConnection::hold_until_joined(std::shared_ptr<void> slot) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ever_connected_ && !closed_) pending_slot_ = std::move(slot);
}

void ClientConnection::on_close(const std::string& reason) {
  std::vector<std::pair<std::string, std::shared_ptr<Socket>>> sockets;
  std::shared_ptr<void> released;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    sockets = std::move(sockets_);
    sockets_.clear();
    released = std::move(pending_slot_);
  }
  server_->timers.cancel(connect_timer_);
  for (auto& [nsp, socket] : sockets) socket->on_close(reason, false);
}

// ---------------------------------------------------------------------------------------
// ServerImpl (protocol side)

Namespace& ServerImpl::of(const std::string& raw) {
  std::string name = raw.empty() || raw[0] != '/' ? "/" + raw : raw;
  std::lock_guard<std::mutex> lock(ns_mu);
  auto it = namespaces.find(name);
  if (it != namespaces.end()) return *it->second;
  auto ns = std::make_unique<Namespace>(std::make_shared<NamespaceImpl>(this, name));
  Namespace& ref = *ns;
  if (cluster) cluster->add_namespace(ref.impl());
  namespaces.emplace(name, std::move(ns));
  return ref;
}

std::shared_ptr<NamespaceImpl> ServerImpl::resolve_namespace(const std::string& name, const Value& auth) {
  std::vector<std::shared_ptr<NamespaceImpl>> candidates;
  {
    std::lock_guard<std::mutex> lock(ns_mu);
    auto it = namespaces.find(name);
    if (it != namespaces.end()) return it->second->impl();
    for (auto& p : parents) candidates.push_back(p->impl());
  }
  for (auto& parent : candidates) {
    bool match = false;
    guarded("namespace predicate", [&] { match = parent->predicate(name, auth); });
    if (!match) continue;
    std::lock_guard<std::mutex> lock(ns_mu);
    auto it = namespaces.find(name);  // another connection may have created it meanwhile
    if (it != namespaces.end()) return it->second->impl();
    auto child = std::make_shared<NamespaceImpl>(this, name);
    {
      std::lock_guard<std::mutex> parent_lock(parent->mu);
      child->middlewares = parent->middlewares;
      child->connection_handlers = parent->connection_handlers;
      parent->children.push_back(child);
    }
    child->parent = parent;
    if (cluster) cluster->add_namespace(child);
    namespaces.emplace(name, std::make_unique<Namespace>(child));
    return child;
  }
  return nullptr;
}

std::optional<ConnectError> ServerImpl::authorize_feed(const std::shared_ptr<NamespaceImpl>& ns, Handshake handshake) {
  auto socket =
      std::make_shared<Socket>(new_id(), ns, nullptr, nullptr, std::make_shared<const Handshake>(std::move(handshake)));
  auto result = std::make_shared<std::promise<std::optional<ConnectError>>>();
  auto future = result->get_future();
  auto once = std::make_shared<std::atomic<bool>>(false);
  ns->authorize(socket, 0, [result, once](std::optional<ConnectError> err) {
    if (!once->exchange(true)) result->set_value(std::move(err));
  });
  // Asynchronous middleware gets as long as a namespace CONNECT would.
  if (future.wait_for(std::chrono::milliseconds(options.limits.connect_timeout_ms)) != std::future_status::ready) {
    return ConnectError{"authorization timed out", Value()};
  }
  return future.get();
}

std::shared_ptr<EngineListener> ServerImpl::on_engine_open(const std::shared_ptr<EngineLink>& link) {
  auto client = std::make_shared<ClientConnection>(this, link);
  client->start();
  return client;
}

}  // namespace chorus
