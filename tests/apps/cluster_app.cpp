// Cluster test app: a Chorus node of tests/cluster/*.test.mjs, written against the public
// Chorus API only. It speaks the same control API as the suite's Node socket.io node
// (tests/cluster/node_node.mjs), so that one test drives either kind.
//
//   chorus-cluster-app --redis URL [--redis-key K] [--name NAME] [--port N] [--requests-timeout MS]
//                      [--admin-hash BCRYPT_HASH]
//
// First stdout line: "chorus: listening on http://127.0.0.1:PORT". SIGTERM/SIGINT stop it
// (exit code 0).
//
// Namespaces "/" and "/chat": socket.data() = {node: NAME, user: auth.user or null} (a
// recovered socket keeps the data it had); emit("join", room, ack) joins a room (ack true);
// emit("set", value, ack) sets data.extra (Socket::set_data: an Admin UI sees it). With
// --admin-hash, the Admin UI's namespace /admin for user "admin", server id NAME. Every connection is recorded as {id,
// recovered, rooms, data} as its connection handler saw it (/ctl/connections {nsp}). Server-side events: "ping-servers"
// is answered with `pong-<NAME>`; every server-side event is recorded. Control API (POST, JSON body and reply; binary
// arguments as {"$bin": "<base64>"}; rooms and except default to []; nsp to "/"):
//   /ctl/emit          {nsp, rooms, except, volatile, event, args}  -> {ok}
//   /ctl/emit-ack      {nsp, rooms, except, timeout, event, args}   -> {err, responses}
//   /ctl/fetch         {nsp, rooms, except}     -> {sockets: [{id, rooms (sorted), data, handshake}], err}
//   /ctl/join          {nsp, rooms, except, join: [...]}
//   /ctl/leave         {nsp, rooms, except, leave: [...]}
//   /ctl/disconnect    {nsp, rooms, except, close}
//   /ctl/server-emit   {nsp, event, args, ack, timeout}             -> {err, responses}
//   /ctl/all-rooms     {nsp}                                        -> {rooms (sorted)}
//   /ctl/server-events {nsp}                                        -> {events: [[event, ...args]]}
//   /ctl/remote        {nsp, id, op: emit|emit-ack|join|leave|disconnect, event, args, rooms, close,
//                       timeout} (emit-ack: {ok, reply: the client's first ack argument} or {ok: false, err})
//   /ctl/status        {}                 -> {connected: both Redis connections up and subscribed}
// Where a Node node rejects (fetch, all-rooms after requests time out), this app answers with
// what arrived and `err` (Chorus's behaviour).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chorus/base64.h"
#include "chorus/server.h"
#include "command_line.h"

namespace {

using chorus::Args;
using chorus::HttpRequest;
using chorus::HttpResponse;
using chorus::Value;

// {"$bin": base64} <-> Binary, at any depth.
Value from_ctl(const Value& v) {
  if (v.is_object()) {
    if (const Value* b = v.find("$bin"); b != nullptr && v.size() == 1 && b->is_string()) {
      auto bytes = chorus::base64::decode(b->as_string());
      if (bytes) return Value::binary(bytes->data(), bytes->size());
    }
    Value out = Value::object();
    for (const chorus::Member& m : v.as_object()) out.set(m.key, from_ctl(m.value));
    return out;
  }
  if (v.is_array()) {
    chorus::Array out;
    for (const Value& item : v.as_array()) out.push_back(from_ctl(item));
    return Value(std::move(out));
  }
  return v;
}

Value to_ctl(const Value& v) {
  if (v.is_binary()) {
    const chorus::Binary& b = v.as_binary();
    return Value::object(
        {{"$bin", chorus::base64::encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()))}});
  }
  if (v.is_object()) {
    Value out = Value::object();
    for (const chorus::Member& m : v.as_object()) out.set(m.key, to_ctl(m.value));
    return out;
  }
  if (v.is_array()) {
    chorus::Array out;
    for (const Value& item : v.as_array()) out.push_back(to_ctl(item));
    return Value(std::move(out));
  }
  return v;
}

std::vector<std::string> strings(const Value& body, std::string_view key) {
  std::vector<std::string> out;
  const Value* v = body.find(key);
  if (v == nullptr || !v->is_array()) return out;
  for (const Value& s : v->as_array()) {
    if (s.is_string()) out.push_back(s.as_string());
  }
  return out;
}

Args args_of(const Value& body) {
  const Value* a = body.find("args");
  if (a == nullptr || !a->is_array()) return {};
  return from_ctl(*a).as_array();
}

Value string_map(const std::unordered_map<std::string, std::string>& m) {
  Value o = Value::object();
  for (const auto& [k, v] : m) o.set(k, v);
  return o;
}

std::string iso_time(std::int64_t epoch_ms) {
  std::time_t t = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(epoch_ms % 1000));
  return out;
}

Value socket_json(const chorus::RemoteSocket& s) {
  const chorus::Handshake& h = s.handshake();
  Value hs = Value::object({{"headers", string_map(h.headers)},
                            {"address", h.address},
                            {"url", h.url},
                            {"query", string_map(h.query)},
                            {"auth", h.auth},
                            {"secure", h.secure},
                            {"issued", static_cast<double>(h.issued_ms)},
                            // Node's two derived fields: the time as a date, and whether the
                            // request came from another origin.
                            {"time", iso_time(h.issued_ms)},
                            {"xdomain", h.headers.count("origin") != 0}});
  chorus::Array rooms;
  for (const std::string& r : s.rooms()) rooms.emplace_back(r);  // std::set: sorted
  return Value::object(
      {{"id", s.id()}, {"rooms", Value(std::move(rooms))}, {"data", to_ctl(s.data())}, {"handshake", hs}});
}

Value err_json(const std::optional<chorus::AckError>& err) {
  return err ? Value(err->message) : Value();
}

struct Recorder {
  std::mutex mu;
  std::map<std::string, chorus::Array> events;       // by namespace
  std::map<std::string, chorus::Array> connections;  // by namespace: {id, recovered, rooms, data}
};

}  // namespace

int main(int argc, char** argv) {
  chorus::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.log_level = chorus::LogLevel::kWarn;
  options.max_connections = 2048;
  std::string name = "chorus";
  chorus::tools::CommandLine cl("chorus-cluster-app",
                                "usage: chorus-cluster-app [options]\n\n"
                                "A Chorus node of the cluster and recovery test suites.\n\n"
                                "  --redis URL           redis://host:port[/db] (default: a single node)\n"
                                "  --redis-key K         channel prefix (default socket.io)\n"
                                "  --redis-adapter KIND  classic (default) or streams\n"
                                "  --name NAME           this node's name (socket.data().node)\n"
                                "  --port N              listen port (default 0: a free one)\n"
                                "  --requests-timeout MS how long cluster requests wait for other nodes\n"
                                "                        (default 5000)\n"
                                "  --recovery-ms MS      connection state recovery within MS (default 0: off)\n"
                                "  --max-replayed N      packets replayed to one client at most\n"
                                "  --max-stored N        packets kept per namespace for replay\n"
                                "  --admin-hash HASH     the Admin UI on /admin, user admin, this bcrypt hash\n"
                                "  --help                this text\n");
  std::uint32_t recovery_ms = 0;
  std::string adapter = "classic";
  std::string admin_hash;
  cl.number("--recovery-ms", &recovery_ms, 0, 86'400'000)
      .number("--max-replayed", &options.connection_state_recovery.max_replayed_packets, 1, 100'000'000)
      .number("--max-stored", &options.connection_state_recovery.max_stored_packets, 1, 100'000'000)
      .text("--redis", &options.redis.url)
      .text("--redis-key", &options.redis.key)
      .text("--redis-adapter", &adapter)
      .text("--name", &name)
      .text("--admin-hash", &admin_hash)
      .number("--port", &options.port, 0, 65535)
      .number("--requests-timeout", &options.redis.requests_timeout_ms, 1, 600'000)
      .parse(argc, argv);
  options.connection_state_recovery.enabled = recovery_ms > 0;
  options.connection_state_recovery.max_disconnection_ms = recovery_ms;
  if (adapter == "streams") {
    options.redis.adapter = chorus::RedisAdapterOptions::Kind::kStreams;
  } else if (adapter != "classic") {
    std::fprintf(stderr, "chorus-cluster-app: --redis-adapter is classic or streams\n");
    return 2;
  }

  if (!admin_hash.empty()) {
    options.admin.enabled = true;
    options.admin.username = "admin";
    options.admin.password_hash = admin_hash;
    options.admin.server_id = name;
  }

  chorus::Server server(options);
  auto recorder = std::make_shared<Recorder>();
  for (const std::string nsp : {"/", "/chat"}) {
    chorus::Namespace& ns = server.of(nsp);
    ns.on_connection([name, recorder, nsp](chorus::Socket& socket) {
      if (!socket.recovered()) {  // a recovered socket has its data back
        const Value* user = socket.handshake().auth.find("user");
        socket.data() = Value::object({{"node", name}, {"user", user != nullptr ? *user : Value()}});
      }
      {
        chorus::Array rooms;
        for (const std::string& r : socket.rooms()) rooms.emplace_back(r);
        std::lock_guard<std::mutex> lock(recorder->mu);
        recorder->connections[nsp].push_back(Value::object({{"id", socket.id()},
                                                            {"recovered", socket.recovered()},
                                                            {"rooms", Value(std::move(rooms))},
                                                            {"data", to_ctl(socket.data())}}));
      }
      socket.on("set", [&socket](const Args& a, chorus::Ack ack) {
        socket.set_data("extra", a.empty() ? Value() : a[0]);
        ack(true);
      });
      socket.on("join", [&socket](const Args& a, chorus::Ack ack) {
        if (!a.empty() && a[0].is_string()) socket.join(a[0].as_string());
        ack(true);
      });
    });
    ns.on_any_server_event([recorder, nsp](const std::string& event, const Args& a) {
      std::lock_guard<std::mutex> lock(recorder->mu);
      chorus::Array entry{Value(event)};
      for (const Value& v : a) entry.push_back(to_ctl(v));
      recorder->events[nsp].push_back(Value(std::move(entry)));
    });
    ns.on_server_event("ping-servers", [name](const Args&, chorus::Ack ack) { ack(Value("pong-" + name)); });
  }

  // The operator of a request: nsp, rooms, except.
  auto op_of = [&server](const Value& body) {
    const Value* nsp = body.find("nsp");
    chorus::BroadcastOperator op = server.of(nsp != nullptr && nsp->is_string() ? nsp->as_string() : "/").all();
    for (const std::string& r : strings(body, "rooms")) op = op.to(r);
    for (const std::string& e : strings(body, "except")) op = op.except(e);
    return op;
  };
  auto ns_of = [&server](const Value& body) -> chorus::Namespace& {
    const Value* nsp = body.find("nsp");
    return server.of(nsp != nullptr && nsp->is_string() ? nsp->as_string() : "/");
  };
  auto route = [&server](const std::string& path, std::function<Value(const Value&)> fn) {
    server.route("POST", path, [fn](const HttpRequest& req, HttpResponse& res) {
      auto body = req.json();
      if (!body || !body->is_object()) {
        res.error(400, body ? "body must be a JSON object" : body.error().message);
        return;
      }
      Value out = fn(*body);
      const Value* status = out.find("status");
      res.json(out, status != nullptr ? static_cast<int>(status->get_number()) : 200);
    });
  };

  route("/ctl/emit", [&](const Value& b) {
    chorus::BroadcastOperator op = op_of(b);
    if (const Value* v = b.find("volatile"); v != nullptr && v->get_bool()) op = op.volatile_();
    const Value* event = b.find("event");
    bool ok = op.emit(event != nullptr ? event->get_string() : "", args_of(b));
    return Value::object({{"ok", ok}});
  });
  route("/ctl/emit-ack", [&](const Value& b) {
    const Value* t = b.find("timeout");
    auto op = op_of(b).timeout(std::chrono::milliseconds(t != nullptr ? static_cast<long>(t->get_number()) : 5000));
    auto done = std::make_shared<std::promise<Value>>();
    auto future = done->get_future();
    const Value* event = b.find("event");
    bool ok = op.emit_with_ack(
        event != nullptr ? event->get_string() : "", args_of(b),
        [done](std::optional<chorus::AckError> err, Args responses) {
          done->set_value(Value::object({{"err", err_json(err)}, {"responses", to_ctl(Value(std::move(responses)))}}));
        });
    if (!ok) return Value::object({{"err", "not sent"}, {"responses", Value::array()}});
    return future.get();
  });
  route("/ctl/fetch", [&](const Value& b) {
    auto done = std::make_shared<std::promise<Value>>();
    auto future = done->get_future();
    op_of(b).fetch_sockets([done](std::optional<chorus::AckError> err, std::vector<chorus::RemoteSocket> sockets) {
      chorus::Array out;
      for (const chorus::RemoteSocket& s : sockets) out.push_back(socket_json(s));
      done->set_value(Value::object({{"sockets", Value(std::move(out))}, {"err", err_json(err)}}));
    });
    return future.get();
  });
  route("/ctl/join", [&](const Value& b) {
    op_of(b).sockets_join(strings(b, "join"));
    return Value::object({{"ok", true}});
  });
  route("/ctl/leave", [&](const Value& b) {
    op_of(b).sockets_leave(strings(b, "leave"));
    return Value::object({{"ok", true}});
  });
  route("/ctl/disconnect", [&](const Value& b) {
    const Value* close = b.find("close");
    op_of(b).disconnect_sockets(close != nullptr && close->get_bool());
    return Value::object({{"ok", true}});
  });
  route("/ctl/server-emit", [&](const Value& b) {
    const Value* event = b.find("event");
    std::string ev = event != nullptr ? event->get_string() : "";
    const Value* ack = b.find("ack");
    if (ack == nullptr || !ack->get_bool()) {
      bool ok = ns_of(b).server_side_emit(ev, args_of(b));
      return Value::object({{"err", ok ? Value() : Value("not sent")}, {"responses", Value::array()}});
    }
    const Value* t = b.find("timeout");
    auto done = std::make_shared<std::promise<Value>>();
    auto future = done->get_future();
    ns_of(b).server_side_emit_with_ack(
        ev, args_of(b), std::chrono::milliseconds(t != nullptr ? static_cast<long>(t->get_number()) : 5000),
        [done](std::optional<chorus::AckError> err, Args responses) {
          done->set_value(Value::object({{"err", err_json(err)}, {"responses", to_ctl(Value(std::move(responses)))}}));
        });
    return future.get();
  });
  route("/ctl/all-rooms", [&](const Value& b) {
    auto done = std::make_shared<std::promise<Value>>();
    auto future = done->get_future();
    ns_of(b).all_rooms([done](std::optional<chorus::AckError> err, std::set<std::string> rooms) {
      chorus::Array out;
      for (const std::string& r : rooms) out.emplace_back(r);
      done->set_value(Value::object({{"err", err_json(err)}, {"rooms", Value(std::move(out))}}));
    });
    return future.get();
  });
  route("/ctl/server-events", [&](const Value& b) {
    const Value* nsp = b.find("nsp");
    std::lock_guard<std::mutex> lock(recorder->mu);
    return Value::object(
        {{"events", Value(recorder->events[nsp != nullptr && nsp->is_string() ? nsp->as_string() : "/"])}});
  });
  route("/ctl/connections", [&](const Value& b) {
    const Value* nsp = b.find("nsp");
    std::lock_guard<std::mutex> lock(recorder->mu);
    return Value::object(
        {{"connections", Value(recorder->connections[nsp != nullptr && nsp->is_string() ? nsp->as_string() : "/"])}});
  });
  route("/ctl/remote", [&](const Value& b) {
    const Value* id = b.find("id");
    const Value* op = b.find("op");
    std::string sid = id != nullptr ? id->get_string() : "";
    std::string what = op != nullptr ? op->get_string() : "";
    for (const chorus::RemoteSocket& s : ns_of(b).fetch_sockets()) {
      if (s.id() != sid) continue;
      if (what == "emit") {
        const Value* event = b.find("event");
        s.emit(event != nullptr ? event->get_string() : "", args_of(b));
      } else if (what == "emit-ack") {
        const Value* event = b.find("event");
        const Value* t = b.find("timeout");
        auto done = std::make_shared<std::promise<Value>>();
        auto future = done->get_future();
        s.emit_with_ack(
            event != nullptr ? event->get_string() : "", args_of(b),
            std::chrono::milliseconds(t != nullptr ? static_cast<long>(t->get_number()) : 5000),
            [done](std::optional<chorus::AckError> err, Args reply) {
              if (err) {
                done->set_value(Value::object({{"ok", false}, {"err", err->message}}));
              } else {
                done->set_value(Value::object({{"ok", true}, {"reply", reply.empty() ? Value() : to_ctl(reply[0])}}));
              }
            });
        return future.get();
      } else if (what == "join") {
        s.join(strings(b, "rooms"));
      } else if (what == "leave") {
        s.leave(strings(b, "rooms"));
      } else if (what == "disconnect") {
        const Value* close = b.find("close");
        s.disconnect(close != nullptr && close->get_bool());
      } else {
        return Value::object({{"ok", false}, {"error", "unknown op " + what}});
      }
      return Value::object({{"ok", true}, {"local", s.is_local()}});
    }
    return Value::object({{"ok", false}, {"error", "no socket " + sid}, {"status", 400}});
  });
  route("/ctl/status", [&](const Value&) { return Value::object({{"connected", server.cluster_connected()}}); });

  chorus::stop_on_signals(server);
  chorus::Status started = server.start();
  if (!started) {
    std::fprintf(stderr, "chorus-cluster-app: %s\n", started.error().message.c_str());
    return 1;
  }
  // Ready once Redis has every subscription (the suite's first test must not race it).
  for (int i = 0; i < 200 && !options.redis.url.empty() && !server.cluster_connected(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!options.redis.url.empty() && !server.cluster_connected())
    std::fprintf(stderr, "chorus-cluster-app: Redis not connected yet\n");
  std::printf("chorus: listening on http://127.0.0.1:%d\n", server.port());
  std::fflush(stdout);
  chorus::Status ran = server.run();
  return ran ? 0 : 1;
}
