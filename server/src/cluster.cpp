// The Redis adapter of a Chorus node (cluster.h): the protocol of @socket.io/redis-adapter 8
// over the node's Redis client, and what the streams mode shares with it (requests, responses;
// its own parts are in cluster_streams.cpp).
#include "cluster.h"

#include <algorithm>
#include <ctime>
#include <future>
#include <random>

#include "admin.h"
#include "chorus/cluster/msgpack.h"
#include "chorus/json/json.h"
#include "internal.h"

namespace chorus {

namespace {

std::string random_token(std::size_t n) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(n, 'A');
  for (char& c : s) c = kAlphabet[rng() % 62];
  return s;
}

const Value& field(const Value& v, std::string_view key) {
  static const Value kNull;
  const Value* f = v.find(key);
  return f != nullptr ? *f : kNull;
}

}  // namespace

cluster::Opts to_wire(const BroadcastOptions& o) {
  cluster::Opts w;
  w.rooms.assign(o.rooms.begin(), o.rooms.end());
  w.except.assign(o.except.begin(), o.except.end());
  w.flags.is_volatile = o.is_volatile;
  return w;
}

BroadcastOptions from_wire(const cluster::Opts& w) {
  BroadcastOptions o;
  o.rooms.insert(w.rooms.begin(), w.rooms.end());
  o.except.insert(w.except.begin(), w.except.end());
  o.is_volatile = w.flags.is_volatile;
  o.local = true;  // what arrives from Redis is delivered here only
  return o;
}

namespace {

std::unordered_map<std::string, std::string> object_to_string_map(const Value& v) {
  std::unordered_map<std::string, std::string> m;
  if (!v.is_object()) return m;
  for (const Member& member : v.as_object()) {
    if (member.value.is_string()) {
      m[member.key] = member.value.as_string();
    } else if (member.value.is_array()) {  // Node joins repeated headers' values
      std::string joined;
      for (const Value& part : member.value.as_array()) {
        if (!part.is_string()) continue;
        if (!joined.empty()) joined += ", ";
        joined += part.as_string();
      }
      m[member.key] = joined;
    } else if (!member.value.is_null()) {
      auto text = json::stringify(member.value);
      if (text.ok()) m[member.key] = text.value();
    }
  }
  return m;
}

}  // namespace

// Node's shape of a fetched socket: {id, handshake, rooms, data}. With the Admin UI on, data
// carries "_admin" for the UI of any node (AdminUi::wire_data).
Value socket_to_wire(Socket& socket, bool admin) {
  const Handshake& h = socket.handshake();
  Value hs = Value::object();
  hs.set("headers", string_map_to_object(h.headers));
  hs.set("time", js_date(h.issued_ms));
  hs.set("address", h.address);
  hs.set("xdomain", h.headers.count("origin") != 0);
  hs.set("secure", h.secure);
  hs.set("issued", static_cast<double>(h.issued_ms));
  hs.set("url", h.url);
  hs.set("query", string_map_to_object(h.query));
  hs.set("auth", h.auth.is_object() ? h.auth : Value::object());
  Array rooms;
  for (const std::string& r : socket.rooms()) rooms.emplace_back(r);
  Value out = Value::object();
  out.set("id", socket.id());
  out.set("handshake", std::move(hs));
  out.set("rooms", Value(std::move(rooms)));
  out.set("data", admin ? AdminUi::wire_data(socket) : socket.data());
  return out;
}

std::optional<RemoteSocket> socket_from_wire(const std::shared_ptr<NamespaceImpl>& ns, const Value& v) {
  if (!v.is_object() || !field(v, "id").is_string()) return std::nullopt;
  auto h = std::make_shared<Handshake>();
  const Value& hs = field(v, "handshake");
  h->headers = object_to_string_map(field(hs, "headers"));
  h->query = object_to_string_map(field(hs, "query"));
  h->auth = field(hs, "auth").is_object() ? field(hs, "auth") : Value::object();
  h->address = field(hs, "address").get_string();
  h->url = field(hs, "url").get_string();
  h->secure = field(hs, "secure").get_bool();
  h->issued_ms = static_cast<std::int64_t>(field(hs, "issued").get_number());
  std::set<std::string> rooms;
  if (field(v, "rooms").is_array()) {
    for (const Value& r : field(v, "rooms").as_array()) {
      if (r.is_string()) rooms.insert(r.as_string());
    }
  }
  return RemoteSocket(ns, field(v, "id").as_string(), std::move(h), std::move(rooms), field(v, "data"), nullptr);
}

// One request waiting for other nodes' responses.
struct Cluster::Pending {
  std::mutex mu;
  long long expected = -1;  // other nodes; -1 until counted
  long long received = 0;
  bool done = false;
  TimerService::Id timer = 0;
  // Per response (Redis thread); returns nothing: `received` is counted by the caller for
  // requests that expect one response per node.
  std::function<void(const cluster::Response&)> on_response;
  bool one_per_node = true;  // false: broadcasts with acks (any number of responses)
  // The end: by completeness (timed_out false) or by the timeout.
  std::function<void(bool timed_out, long long received, long long expected)> finish;
  std::function<void(std::optional<long long>)> on_expected;  // broadcasts with acks
};

Cluster::Cluster(ServerImpl* server, RedisAdapterOptions options)
    : server_(server), options_(std::move(options)), uid_(random_token(6)) {}

Cluster::~Cluster() {
  stop();
}

Status Cluster::start() {
  auto endpoint = parse_redis_url(options_.url);
  if (!endpoint) return make_error(endpoint.error().code, "redis: " + endpoint.error().message);
  if (!options_.password.empty()) endpoint->password = options_.password;
  RedisClient::Options o;
  o.endpoint = *endpoint;
  o.max_pending_bytes = options_.max_pending_bytes;
  o.blocking_connection = streams();  // XREAD BLOCK
  RedisClient::Handlers h;
  h.on_message = [this](std::string_view channel, std::string_view pattern, std::string_view payload) {
    on_message(channel, pattern, payload);
  };
  std::string where = endpoint->host + ":" + std::to_string(endpoint->port);
  // The client logs its own connection changes (once per kind of failure).
  h.on_up = [this, where] {
    log(LogLevel::kDebug, "redis adapter: subscribed through " + where);
    if (streams()) stream_up();
  };
  h.on_down = [this](const std::string& why) {
    log(LogLevel::kDebug, "redis adapter: " + why);
    ++read_generation_;  // the read loop ends; stream_up starts it again
  };
  client_ = std::make_unique<RedisClient>(std::move(o), std::move(h));
  return Ok{};
}

void Cluster::connect() {
  client_->start();
}

void Cluster::stop() {
  // The streams mode writes the sessions of the sockets the server closed on its way down
  // ("server shutting down" keeps a session): they reach Redis before the connections close,
  // so that those clients recover on another node. A PING answered means every command sent
  // before it was (one connection, in order); at most kStopFlushMs.
  constexpr std::chrono::milliseconds kStopFlushMs{2'000};
  if (client_ && streams() && client_->connected() && !client_->on_redis_thread()) {
    auto answered = std::make_shared<std::promise<void>>();
    auto done = answered->get_future();
    client_->command({"PING"}, [answered](Result<RedisReply>) { answered->set_value(); });
    done.wait_for(kStopFlushMs);
  }
  if (client_) client_->stop();
  std::unordered_map<std::string, std::shared_ptr<Pending>> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending.swap(pending_);
  }
  for (auto& [id, p] : pending) {
    std::function<void(bool, long long, long long)> finish;
    long long received = 0, expected = 0;
    {
      std::lock_guard<std::mutex> lock(p->mu);
      if (p->done) continue;
      p->done = true;
      finish = std::move(p->finish);
      received = p->received;
      expected = p->expected;
    }
    server_->timers.cancel(p->timer);
    if (finish) finish(true, received, expected);
  }
}

RedisClient::Stats Cluster::stats() const {
  return client_ ? client_->stats() : RedisClient::Stats{};
}

std::string Cluster::new_request_id() {
  return random_token(6) + std::to_string(request_counter_.fetch_add(1));
}

void Cluster::add_namespace(const std::shared_ptr<NamespaceImpl>& ns) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!namespaces_.emplace(ns->name, ns).second) return;
  }
  const std::string& key = options_.key;
  if (streams()) {
    client_->subscribe(cluster::streams::public_channel(key, ns->name));
    client_->subscribe(cluster::streams::private_channel(key, ns->name, uid_));
    return;
  }
  client_->psubscribe(cluster::broadcast_pattern(key, ns->name));
  client_->subscribe(cluster::request_channel(key, ns->name));
  client_->subscribe(cluster::response_channel(key, ns->name));
  client_->subscribe(cluster::response_channel(key, ns->name, uid_));
}

std::shared_ptr<NamespaceImpl> Cluster::find_namespace(const std::string& nsp) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = namespaces_.find(nsp);
  return it == namespaces_.end() ? nullptr : it->second.lock();
}

// ---------------------------------------------------------------------------------------
// Outgoing

void Cluster::publish_broadcast(const NamespaceImpl& ns, const Array& args_with_event, const BroadcastOptions& opts) {
  cluster::Broadcast b;
  b.uid = uid_;
  b.nsp = ns.name;
  b.data = args_with_event;
  b.opts = to_wire(opts);
  std::string channel = b.opts.rooms.size() == 1 ? cluster::room_channel(options_.key, ns.name, b.opts.rooms[0])
                                                 : cluster::broadcast_channel(options_.key, ns.name);
  client_->publish(std::move(channel), cluster::encode_broadcast(b));
}

void Cluster::publish_join_leave(const NamespaceImpl& ns, const BroadcastOptions& opts,
                                 const std::vector<std::string>& rooms, bool join) {
  if (streams()) {
    namespace st = cluster::streams;
    stream_write(st::ClusterMessage{join ? st::MessageType::kSocketsJoin : st::MessageType::kSocketsLeave,
                                    st::SocketsRoomsData{to_wire(opts), rooms}, uid_, ns.name});
    return;
  }
  cluster::Request r;
  r.type = join ? cluster::RequestType::kRemoteJoin : cluster::RequestType::kRemoteLeave;
  r.uid = uid_;
  r.opts = to_wire(opts);
  r.rooms = rooms;
  client_->publish(cluster::request_channel(options_.key, ns.name), cluster::encode_request(r));
}

void Cluster::publish_disconnect(const NamespaceImpl& ns, const BroadcastOptions& opts, bool close) {
  if (streams()) {
    namespace st = cluster::streams;
    stream_write(st::ClusterMessage{st::MessageType::kDisconnectSockets,
                                    st::DisconnectSocketsData{to_wire(opts), close}, uid_, ns.name});
    return;
  }
  cluster::Request r;
  r.type = cluster::RequestType::kRemoteDisconnect;
  r.uid = uid_;
  r.opts = to_wire(opts);
  r.close = close;
  client_->publish(cluster::request_channel(options_.key, ns.name), cluster::encode_request(r));
}

void Cluster::server_side_emit(const NamespaceImpl& ns, const Array& args_with_event) {
  cluster::Request r;
  r.type = cluster::RequestType::kServerSideEmit;
  r.uid = uid_;
  r.data = args_with_event;
  publish_request(ns, r);
}

// A request as the adapter kind writes it: classic on K-request#N#, streams as a pub/sub
// ClusterMessage on K#N#.
void Cluster::publish_request(const NamespaceImpl& ns, const cluster::Request& request) {
  if (!streams()) {
    client_->publish(cluster::request_channel(options_.key, ns.name), cluster::encode_request(request));
    return;
  }
  namespace st = cluster::streams;
  st::ClusterMessage m;
  m.uid = uid_;
  m.nsp = ns.name;
  std::optional<std::string> id;
  if (!request.request_id.empty()) id = request.request_id;
  switch (request.type) {
    case cluster::RequestType::kRemoteFetch:
      m.type = st::MessageType::kFetchSockets;
      m.data = st::FetchSocketsData{request.opts, request.request_id};
      break;
    case cluster::RequestType::kServerSideEmit:
      m.type = st::MessageType::kServerSideEmit;
      m.data = st::ServerSideEmitData{id, request.data};
      break;
    case cluster::RequestType::kBroadcast: {
      m.type = st::MessageType::kBroadcast;
      st::Packet packet;
      packet.data = request.packet_data;
      m.data = st::BroadcastData{std::move(packet), id, request.opts};
      break;
    }
    default:
      return;  // no such request in the streams protocol (all rooms: answered locally)
  }
  client_->publish(st::public_channel(options_.key, ns.name), st::encode_pubsub(m));
}

void Cluster::send_request(const NamespaceImpl& ns, cluster::Request request, std::shared_ptr<Pending> pending,
                           std::uint32_t timeout_ms) {
  // The cluster's size: the subscribers of the request channel (classic) or of the public
  // channel (streams), this node included.
  std::string counted = streams() ? cluster::streams::public_channel(options_.key, ns.name)
                                  : cluster::request_channel(options_.key, ns.name);
  request.uid = uid_;
  request.request_id = new_request_id();
  std::string id = request.request_id;
  auto keep = ns.shared_from_this();
  client_->numsub(counted, [this, pending, id, keep, request = std::move(request),
                            timeout_ms](std::optional<long long> subscribers) mutable {
    if (pending->on_expected)
      pending->on_expected(subscribers ? std::optional<long long>(std::max(0LL, *subscribers - 1)) : std::nullopt);
    if (!subscribers) {
      std::function<void(bool, long long, long long)> finish;
      {
        std::lock_guard<std::mutex> lock(pending->mu);
        pending->done = true;
        finish = std::move(pending->finish);
      }
      if (finish) finish(true, 0, -1);
      return;
    }
    long long others = std::max(0LL, *subscribers - 1);  // the count includes this node
    {
      std::lock_guard<std::mutex> lock(pending->mu);
      pending->expected = others;
    }
    if (others == 0) {  // nobody else to ask
      std::function<void(bool, long long, long long)> finish;
      {
        std::lock_guard<std::mutex> lock(pending->mu);
        pending->done = true;
        finish = std::move(pending->finish);
      }
      if (finish) finish(false, 0, 0);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_[id] = pending;
    }
    std::weak_ptr<Pending> weak = pending;
    TimerService::Id timer = server_->timers.schedule_in(std::chrono::milliseconds(timeout_ms), [this, weak, id] {
      auto p = weak.lock();
      if (!p) return;
      {
        std::lock_guard<std::mutex> lock(mu_);
        pending_.erase(id);
      }
      std::function<void(bool, long long, long long)> finish;
      long long received = 0, expected = 0;
      {
        std::lock_guard<std::mutex> lock(p->mu);
        if (p->done) return;
        p->done = true;
        finish = std::move(p->finish);
        received = p->received;
        expected = p->expected;
      }
      if (finish) finish(true, received, expected);
    });
    {
      std::lock_guard<std::mutex> lock(pending->mu);
      pending->timer = timer;
    }
    publish_request(*keep, request);
  });
}

void Cluster::fetch_sockets(const std::shared_ptr<NamespaceImpl>& ns, const BroadcastOptions& opts,
                            std::function<void(std::optional<AckError>, std::vector<RemoteSocket>)> done) {
  auto results = std::make_shared<std::vector<RemoteSocket>>();
  auto pending = std::make_shared<Pending>();
  pending->on_response = [ns, results](const cluster::Response& r) {
    for (const Value& s : r.sockets) {
      if (auto remote = socket_from_wire(ns, s)) results->push_back(std::move(*remote));
    }
  };
  pending->finish = [results, done](bool timed_out, long long received, long long expected) {
    std::optional<AckError> err;
    if (timed_out) {
      err = AckError{expected < 0 ? std::string("the cluster cannot be reached: this node's sockets only")
                                  : "timeout reached while waiting for fetchSockets response (" +
                                        std::to_string(received) + " of " + std::to_string(expected) + " nodes)"};
    }
    done(std::move(err), std::move(*results));
  };
  cluster::Request r;
  r.type = cluster::RequestType::kRemoteFetch;
  r.opts = to_wire(opts);
  send_request(*ns, std::move(r), pending, options_.requests_timeout_ms);
}

void Cluster::server_side_emit_with_ack(const NamespaceImpl& ns, const Array& args_with_event, std::uint32_t timeout_ms,
                                        ValuesDone done) {
  auto results = std::make_shared<Array>();
  auto pending = std::make_shared<Pending>();
  pending->on_response = [results](const cluster::Response& r) { results->push_back(r.data); };
  pending->finish = [results, done](bool timed_out, long long received, long long expected) {
    std::optional<AckError> err;
    if (timed_out) {
      err = AckError{expected < 0 ? std::string("the cluster cannot be reached")
                                  : "timeout reached: only " + std::to_string(received) +
                                        " responses received out of " + std::to_string(expected)};
    }
    done(std::move(err), std::move(*results));
  };
  cluster::Request r;
  r.type = cluster::RequestType::kServerSideEmit;
  r.data = args_with_event;
  send_request(ns, std::move(r), pending, timeout_ms);
}

void Cluster::all_rooms(const NamespaceImpl& ns,
                        std::function<void(std::optional<AckError>, std::set<std::string>)> done) {
  if (streams()) {  // the streams protocol has no such request: this node's rooms, as Node's
    done(std::nullopt, {});
    return;
  }
  auto results = std::make_shared<std::set<std::string>>();
  auto pending = std::make_shared<Pending>();
  pending->on_response = [results](const cluster::Response& r) {
    for (const Value& room : r.rooms) {
      if (room.is_string()) results->insert(room.as_string());
    }
  };
  pending->finish = [results, done](bool timed_out, long long received, long long expected) {
    std::optional<AckError> err;
    if (timed_out) {
      err = AckError{expected < 0 ? std::string("the cluster cannot be reached")
                                  : "timeout reached while waiting for allRooms response (" + std::to_string(received) +
                                        " of " + std::to_string(expected) + " nodes)"};
    }
    done(std::move(err), std::move(*results));
  };
  cluster::Request r;
  r.type = cluster::RequestType::kAllRooms;
  send_request(ns, std::move(r), pending, options_.requests_timeout_ms);
}

void Cluster::broadcast_with_ack(const NamespaceImpl& ns, const Array& args_with_event, const BroadcastOptions& opts,
                                 std::uint32_t timeout_ms, std::function<void(std::optional<long long>)> on_servers,
                                 std::function<void(std::uint64_t)> on_count, std::function<void(Value)> on_ack) {
  auto pending = std::make_shared<Pending>();
  pending->one_per_node = false;
  pending->on_expected = std::move(on_servers);
  pending->on_response = [on_count = std::move(on_count), on_ack = std::move(on_ack)](const cluster::Response& r) {
    if (r.type == cluster::RequestType::kBroadcastClientCount) {
      on_count(r.client_count);
    } else if (r.type == cluster::RequestType::kBroadcastAck) {
      on_ack(r.packet);
    }
  };
  cluster::Request r;
  r.type = cluster::RequestType::kBroadcast;
  r.packet_data = args_with_event;
  r.packet_nsp = ns.name;
  r.opts = to_wire(opts);
  r.opts.flags.timeout_ms = timeout_ms;
  send_request(ns, std::move(r), pending, timeout_ms);
}

// ---------------------------------------------------------------------------------------
// Incoming (Redis thread)

void Cluster::on_message(std::string_view channel, std::string_view pattern, std::string_view payload) {
  if (streams()) {
    on_pubsub(channel, payload);
    return;
  }
  std::shared_ptr<NamespaceImpl> ns;
  if (!pattern.empty()) {
    // K#N#* -> N
    std::string_view p = pattern;
    if (p.size() < options_.key.size() + 3) return;
    std::string nsp(p.substr(options_.key.size() + 1, p.size() - options_.key.size() - 3));
    ns = find_namespace(nsp);
    if (!ns) return;
    auto room = cluster::channel_room(channel, options_.key, ns->name);
    if (!room) return;
    on_broadcast(ns, *room, payload);
    return;
  }
  const std::string request_prefix = options_.key + "-request#";
  const std::string response_prefix = options_.key + "-response#";
  if (channel.substr(0, request_prefix.size()) == request_prefix && channel.size() > request_prefix.size() &&
      channel.back() == '#') {
    ns = find_namespace(std::string(channel.substr(request_prefix.size(), channel.size() - request_prefix.size() - 1)));
    if (ns) on_request(ns, payload);
    return;
  }
  if (channel.substr(0, response_prefix.size()) == response_prefix) on_response(payload);
}

void Cluster::on_broadcast(const std::shared_ptr<NamespaceImpl>& ns, std::string_view room, std::string_view payload) {
  // No local socket in the room: nothing to deliver, unless a client of this node that dropped
  // may come back for it (recovery keeps what it missed).
  if (!room.empty() && !ns->recovery && !ns->adapter->has_room(std::string(room))) return;
  auto b = cluster::decode_broadcast(payload, server_->options.limits);
  if (!b) {
    ignored("broadcast", b.error().message);
    return;
  }
  if (b->uid == uid_ || b->nsp != ns->name) return;
  ns->broadcast(b->data, from_wire(b->opts), nullptr);
}

void Cluster::ignored(const char* what, const std::string& why) {
  // One warning, then at most one per kIgnoredLogIntervalMs with the count since: a peer that
  // publishes garbage must not flood the log.
  constexpr std::uint64_t kIgnoredLogIntervalMs = 10'000;
  std::uint64_t skipped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++ignored_total_;
    std::uint64_t now = now_ms();
    if (ignored_logged_at_ != 0 && now - ignored_logged_at_ < kIgnoredLogIntervalMs) {
      ++ignored_unlogged_;
      return;
    }
    ignored_logged_at_ = now;
    skipped = ignored_unlogged_;
    ignored_unlogged_ = 0;
  }
  std::string line = std::string("redis adapter: a ") + what + " on Redis ignored: " + why;
  if (skipped > 0) line += " (and " + std::to_string(skipped) + " more ignored since the last warning)";
  log(LogLevel::kWarn, line);
}

void Cluster::reply(const NamespaceImpl& ns, const std::string& requester, const cluster::Response& response) {
  if (!streams()) {
    client_->publish(cluster::response_channel(options_.key, ns.name), cluster::encode_response(response));
    return;
  }
  namespace st = cluster::streams;
  using cluster::RequestType;
  st::ClusterMessage m;
  m.uid = uid_;
  m.nsp = ns.name;
  switch (response.type) {
    case RequestType::kRemoteFetch:
      m.type = st::MessageType::kFetchSocketsResponse;
      m.data = st::FetchSocketsResponseData{response.request_id, response.sockets};
      break;
    case RequestType::kServerSideEmit:
      m.type = st::MessageType::kServerSideEmitResponse;
      m.data = st::ServerSideEmitResponseData{response.request_id, response.data};
      break;
    case RequestType::kBroadcastClientCount:
      m.type = st::MessageType::kBroadcastClientCount;
      m.data = st::BroadcastClientCountData{response.request_id, response.client_count};
      break;
    case RequestType::kBroadcastAck:
      m.type = st::MessageType::kBroadcastAck;
      m.data = st::BroadcastAckData{response.request_id, response.packet};
      break;
    default:
      return;  // no such response in the streams protocol
  }
  client_->publish(st::private_channel(options_.key, ns.name, requester), st::encode_pubsub(m));
}

void Cluster::on_request(const std::shared_ptr<NamespaceImpl>& ns, std::string_view payload) {
  using cluster::RequestType;
  auto decoded = cluster::decode_request(payload, server_->options.limits);
  if (!decoded) {
    ignored("request", decoded.error().message);
    return;
  }
  handle_request(ns, *decoded, std::string());
}

// A request from another node (`requester`: its uid, for the streams mode's private replies).
void Cluster::handle_request(const std::shared_ptr<NamespaceImpl>& ns, cluster::Request& r,
                             const std::string& requester) {
  using cluster::RequestType;
  bool mine = r.uid == uid_;
  if (!r.request_id.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.count(r.request_id)) mine = true;
  }
  if (mine) return;  // applied here when it was sent
  switch (r.type) {
    case RequestType::kSockets: {
      cluster::Response resp;
      resp.type = RequestType::kSockets;
      resp.request_id = r.request_id;
      BroadcastOptions o;
      o.rooms.insert(r.rooms.begin(), r.rooms.end());
      for (const std::string& id : ns->adapter->select(o)) resp.sockets.emplace_back(id);
      reply(*ns, requester, resp);
      return;
    }
    case RequestType::kAllRooms: {
      cluster::Response resp;
      resp.type = RequestType::kAllRooms;
      resp.request_id = r.request_id;
      for (const std::string& room : ns->adapter->all_rooms()) resp.rooms.emplace_back(room);
      reply(*ns, requester, resp);
      return;
    }
    case RequestType::kRemoteJoin:
    case RequestType::kRemoteLeave: {
      bool join = r.type == RequestType::kRemoteJoin;
      if (!r.legacy_sid.empty()) {  // {sid, room, requestId}: only the node with the socket answers
        auto socket = ns->find_socket(r.legacy_sid);
        if (!socket) return;
        if (join) {
          socket->join(r.legacy_room);
        } else {
          socket->leave(r.legacy_room);
        }
        cluster::Response resp;
        resp.type = r.type;
        resp.request_id = r.request_id;
        reply(*ns, requester, resp);
        return;
      }
      ns->local_join_leave(from_wire(r.opts), r.rooms, join);
      return;
    }
    case RequestType::kRemoteDisconnect:
      ns->local_disconnect(from_wire(r.opts), r.close);
      return;
    case RequestType::kRemoteFetch: {
      cluster::Response resp;
      resp.type = RequestType::kRemoteFetch;
      resp.request_id = r.request_id;
      for (auto& s : ns->select_sockets(from_wire(r.opts)))
        resp.sockets.push_back(socket_to_wire(*s, ns->server->admin != nullptr));
      reply(*ns, requester, resp);
      return;
    }
    case RequestType::kServerSideEmit: {
      if (r.data.empty() || !r.data[0].is_string()) return;
      std::string request_id = r.request_id;
      std::function<void(Value)> answer;
      if (!request_id.empty()) {
        answer = [this, ns, request_id, requester](Value first) {
          cluster::Response resp;
          resp.type = RequestType::kServerSideEmit;
          resp.request_id = request_id;
          resp.data = std::move(first);
          reply(*ns, requester, resp);
        };
      }
      ns->on_server_side_emit(std::move(r.data), std::move(answer));
      return;
    }
    case RequestType::kBroadcast: {
      std::string request_id = r.request_id;
      BroadcastOptions o = from_wire(r.opts);
      std::uint32_t timeout = r.opts.flags.timeout_ms ? static_cast<std::uint32_t>(*r.opts.flags.timeout_ms) : 5'000;
      ns->broadcast_with_ack_local(
          r.packet_data, o, timeout,
          [this, ns, request_id, requester](std::uint64_t count) {
            cluster::Response resp;
            resp.type = RequestType::kBroadcastClientCount;
            resp.request_id = request_id;
            resp.client_count = count;
            reply(*ns, requester, resp);
          },
          [this, ns, request_id, requester](Value first) {
            cluster::Response resp;
            resp.type = RequestType::kBroadcastAck;
            resp.request_id = request_id;
            resp.packet = std::move(first);
            reply(*ns, requester, resp);
          });
      return;
    }
    default:
      return;
  }
}

void Cluster::on_response(std::string_view payload) {
  auto decoded = cluster::decode_response(payload, server_->options.limits);
  if (!decoded) {
    ignored("response", decoded.error().message);
    return;
  }
  handle_response(*decoded);
}

void Cluster::handle_response(const cluster::Response& response) {
  const cluster::Response* decoded = &response;
  std::shared_ptr<Pending> p;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(decoded->request_id);
    if (it == pending_.end()) return;  // not ours, or too late
    p = it->second;
  }
  std::function<void(bool, long long, long long)> finish;
  long long received = 0, expected = 0;
  {
    std::lock_guard<std::mutex> lock(p->mu);
    if (p->done) return;
    if (p->on_response) p->on_response(*decoded);
    if (!p->one_per_node) return;
    received = ++p->received;
    expected = p->expected;
    if (received < expected) return;
    p->done = true;
    finish = std::move(p->finish);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.erase(decoded->request_id);
  }
  server_->timers.cancel(p->timer);
  if (finish) finish(false, received, expected);
}

}  // namespace chorus
