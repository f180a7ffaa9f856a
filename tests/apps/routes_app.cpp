// Routes test app: the server side of tests/routes/*.test.mjs (raw routes beside realtime),
// written against the public Chorus API only.
//
//   chorus-routes-app --port N [--ping-interval MS] [--ping-timeout MS] [--engine-echo]
//
// First stdout line: "chorus: listening on http://127.0.0.1:PORT". SIGTERM/SIGINT stop the
// server cleanly (exit code 0).
//
// Realtime (with --engine-echo, Engine.IO only instead: every message is echoed with its
// type, and the text message "close" makes the server close the session):
//   "/"         open; emit("join", room, ack) joins a room (ack true)
//   "/private"  HS256 JWT required (secret "routes-secret"); also feeds of its rooms
//   feeds       GET /feeds/<room>[?nsp=&token=&lastEventId=], history of 50 events per room
// REST (CORS allowed for http://allowed.example):
//   GET    /api/items             -> 200 [{"id":N,"name":"..."}...]
//   POST   /api/items {"name"}    -> 201 {"id","name"} (+ Location); 400 bad JSON; 422 no name;
//                                    body limit 1024 bytes
//   GET    /api/items/:id         -> 200 item | 404
//   DELETE /api/items/:id         -> 204 | 404
//   GET    /api/boom              -> the handler throws (500)
//   POST   /api/publish {room, nsp?, event, args?: [...], binary?: "<base64>", repeat?: N}
//          -> server.of(nsp).to(room).emit(event, ...args[, Binary]) from another thread,
//             answered 202 {"sent": true} once that thread has finished. With `repeat`, the
//             emit happens N times and each gets its index (1..N) as a last argument.
//   GET    /api/ws-closes         -> [{"tag","code","reason"}...] closes seen by /ws/echo
// Plain SSE:
//   GET /events/count             -> events "n" with data (and id) 1..5, then the stream ends
//   GET /events/tricky            -> event "tricky" for each of kTricky (id = index), then
//                                    "done", then the stream ends
// Plain WebSocket /ws/echo[?tag=T]:
//   sends "welcome" on open; echoes text and binary; text "close:CODE:REASON" makes the
//   server close with that code and reason; text "push" makes another thread send
//   "push 1", "push 2", "push 3".
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "chorus/base64.h"
#include "chorus/jwt.h"
#include "chorus/server.h"
#include "command_line.h"

namespace {

using chorus::Ack;
using chorus::Args;
using chorus::HttpRequest;
using chorus::HttpResponse;
using chorus::Socket;
using chorus::Value;

constexpr const char* kJwtSecret = "routes-secret";

// Payloads of /events/tricky, in order (tests/routes/ keeps the same list).
std::vector<std::string> tricky_payloads() {
  std::string big;
  big.reserve(100 * 1024);
  while (big.size() < 100 * 1024) big += "0123456789abcdef";
  return {
      "a\nb",
      "x\ry",
      "",
      "h\xC3\xA9llo \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x8E\x89\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
      big,
      "line1\r\nline2",
      "ends with a newline\n",
      " leading space",
      "data: not a field",
  };
}

// Threads started by handlers (publish, push): joined at shutdown.
class Workers {
 public:
  template <class F>
  void spawn(F f) {
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back(std::move(f));
  }
  void join_all() {
    std::vector<std::thread> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      all.swap(threads_);
    }
    for (auto& t : all) t.join();
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

struct Items {
  std::mutex mu;
  std::map<long, std::string> items;
  long next_id = 1;
};

struct WsCloses {
  std::mutex mu;
  chorus::Array entries;
};

bool parse_id(const std::string& text, long& id) {
  if (text.empty() || text.size() > 12) return false;
  char* end = nullptr;
  id = std::strtol(text.c_str(), &end, 10);
  return *end == '\0' && id > 0;
}

Value item_value(long id, const std::string& name) {
  return Value::object({{"id", static_cast<double>(id)}, {"name", name}});
}

void install_rest(chorus::Server& server, const std::shared_ptr<Items>& items,
                  const std::shared_ptr<WsCloses>& closes) {
  server.route("GET", "/api/items", [items](const HttpRequest&, HttpResponse& res) {
    std::lock_guard<std::mutex> lock(items->mu);
    Value list = Value::array();
    for (const auto& [id, name] : items->items) list.push_back(item_value(id, name));
    res.json(list);
  });
  server.route(
      "POST", "/api/items",
      [items](const HttpRequest& req, HttpResponse& res) {
        auto body = req.json();
        if (!body) return res.error(400, "invalid JSON: " + body.error().message);
        const Value* name = body->find("name");
        if (name == nullptr || !name->is_string() || name->as_string().empty()) {
          return res.error(422, "name must be a non-empty string");
        }
        std::lock_guard<std::mutex> lock(items->mu);
        long id = items->next_id++;
        items->items[id] = name->as_string();
        res.json(item_value(id, name->as_string()), 201);
        res.headers.emplace_back("Location", "/api/items/" + std::to_string(id));
      },
      1024);
  server.route("GET", "/api/items/:id", [items](const HttpRequest& req, HttpResponse& res) {
    long id = 0;
    std::lock_guard<std::mutex> lock(items->mu);
    auto it = parse_id(req.params.at("id"), id) ? items->items.find(id) : items->items.end();
    if (it == items->items.end()) return res.error(404, "no item " + req.params.at("id"));
    res.json(item_value(it->first, it->second));
  });
  server.route("DELETE", "/api/items/:id", [items](const HttpRequest& req, HttpResponse& res) {
    long id = 0;
    std::lock_guard<std::mutex> lock(items->mu);
    if (!parse_id(req.params.at("id"), id) || items->items.erase(id) == 0) {
      return res.error(404, "no item " + req.params.at("id"));
    }
    res.status = 204;
    res.body.clear();
  });
  server.route("GET", "/api/boom", [](const HttpRequest&, HttpResponse&) { throw std::runtime_error("boom"); });
  server.route("GET", "/api/ws-closes", [closes](const HttpRequest&, HttpResponse& res) {
    std::lock_guard<std::mutex> lock(closes->mu);
    res.json(Value(closes->entries));
  });
}

void install_publish(chorus::Server& server) {
  server.route("POST", "/api/publish", [&server](const HttpRequest& req, HttpResponse& res) {
    auto body = req.json();
    if (!body) return res.error(400, "invalid JSON: " + body.error().message);
    const Value* room = body->find("room");
    const Value* event = body->find("event");
    if (room == nullptr || !room->is_string() || event == nullptr || !event->is_string()) {
      return res.error(422, "room and event must be strings");
    }
    std::string nsp = "/";
    if (const Value* n = body->find("nsp"); n != nullptr && n->is_string()) nsp = n->as_string();
    Args args;
    if (const Value* a = body->find("args"); a != nullptr && a->is_array()) args = a->as_array();
    if (const Value* b = body->find("binary"); b != nullptr && b->is_string()) {
      auto bytes = chorus::base64::decode(b->as_string());
      if (!bytes) return res.error(400, "binary: " + bytes.error().message);
      args.emplace_back(Value::binary(bytes->data(), bytes->size()));
    }
    double repeat = 0;
    if (const Value* r = body->find("repeat"); r != nullptr && r->is_number()) repeat = r->as_number();
    if (repeat < 0 || repeat > 10000) return res.error(422, "repeat must be 0..10000");
    // The broadcast comes from a thread of our own: emits are documented safe from any thread.
    bool sent = true;
    std::thread publisher([&] {
      chorus::Namespace& ns = server.of(nsp);
      if (repeat == 0) {
        sent = ns.to(room->as_string()).emit(event->as_string(), args);
        return;
      }
      for (int i = 1; i <= static_cast<int>(repeat); ++i) {
        Args with_index = args;
        with_index.emplace_back(i);
        sent = ns.to(room->as_string()).emit(event->as_string(), std::move(with_index)) && sent;
      }
    });
    publisher.join();
    res.json(Value::object({{"sent", sent}}), 202);
  });
}

void install_sse(chorus::Server& server) {
  server.sse("/events/count", [](const std::shared_ptr<chorus::SseStream>& s) {
    for (int i = 1; i <= 5; ++i) s->send("n", std::to_string(i), std::to_string(i));
    s->close();
  });
  auto payloads = std::make_shared<std::vector<std::string>>(tricky_payloads());
  server.sse("/events/tricky", [payloads](const std::shared_ptr<chorus::SseStream>& s) {
    for (std::size_t i = 0; i < payloads->size(); ++i) s->send("tricky", (*payloads)[i], std::to_string(i));
    s->send("done", "end");
    s->close();
  });
}

void install_websocket(chorus::Server& server, const std::shared_ptr<Workers>& workers,
                       const std::shared_ptr<WsCloses>& closes) {
  chorus::WebSocketHandlers h;
  h.on_open = [](const std::shared_ptr<chorus::WebSocketConnection>& ws) { ws->send_text("welcome"); };
  h.on_message = [workers](const std::shared_ptr<chorus::WebSocketConnection>& ws, const std::string& data,
                           bool binary) {
    if (binary) {
      ws->send_binary(data);
      return;
    }
    if (data.rfind("close:", 0) == 0) {
      // close:CODE:REASON
      std::size_t colon = data.find(':', 6);
      std::string code = data.substr(6, colon == std::string::npos ? std::string::npos : colon - 6);
      std::string reason = colon == std::string::npos ? std::string() : data.substr(colon + 1);
      ws->close(static_cast<std::uint16_t>(std::strtoul(code.c_str(), nullptr, 10)), reason);
      return;
    }
    if (data == "push") {
      std::weak_ptr<chorus::WebSocketConnection> weak = ws;
      workers->spawn([weak] {
        for (int i = 1; i <= 3; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          if (auto c = weak.lock()) c->send_text("push " + std::to_string(i));
        }
      });
      return;
    }
    ws->send_text(data);
  };
  h.on_close = [closes](const std::shared_ptr<chorus::WebSocketConnection>& ws, std::uint16_t code,
                        const std::string& reason) {
    const auto& q = ws->request().query;
    auto tag = q.find("tag");
    std::lock_guard<std::mutex> lock(closes->mu);
    closes->entries.push_back(Value::object({{"tag", tag == q.end() ? std::string() : tag->second},
                                             {"code", static_cast<double>(code)},
                                             {"reason", reason}}));
    if (closes->entries.size() > 1000) closes->entries.erase(closes->entries.begin());
  };
  server.websocket("/ws/echo", std::move(h));

  // Speaks two subprotocols: says which one the handshake agreed on.
  chorus::WebSocketHandlers proto;
  proto.subprotocols = {"chorus.v2", "chorus.v1"};
  proto.on_open = [](const std::shared_ptr<chorus::WebSocketConnection>& ws) {
    ws->send_text("protocol:" + ws->subprotocol());
  };
  server.websocket("/ws/proto", std::move(proto));
}

void install_namespaces(chorus::Server& server) {
  server.of("/").on_connection([](Socket& socket) {
    Socket* self = &socket;  // handlers live inside the socket: no shared_ptr cycle
    socket.on("join", [self](const Args& args, Ack ack) {
      self->join(args.empty() ? std::string() : args[0].get_string());
      ack(true);
    });
  });
  chorus::Namespace& priv = server.of("/private");
  chorus::JwtOptions jwt;
  jwt.secret = kJwtSecret;
  priv.use(chorus::jwt_middleware(jwt));
  priv.on_connection([](Socket& socket) {
    Socket* self = &socket;
    socket.on("join", [self](const Args& args, Ack ack) {
      self->join(args.empty() ? std::string() : args[0].get_string());
      ack(true);
    });
  });
}

void install_engine_echo(chorus::Server& server) {
  chorus::EngineHandlers h;
  h.on_message = [](chorus::EngineSocket& socket, const std::string& data, bool binary) {
    if (!binary && data == "close") {
      socket.close();
    } else {
      socket.send(data, binary);
    }
  };
  server.set_engine_handlers(std::move(h));
}

}  // namespace

int main(int argc, char** argv) {
  chorus::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  bool engine_echo = false;
  chorus::tools::CommandLine cl("chorus-routes-app",
                                "usage: chorus-routes-app [options]\n\n"
                                "The raw-routes test app (REST, plain SSE, plain WebSocket, feeds).\n\n"
                                "  --port N              listen port (default 0: a free one)\n"
                                "  --ping-interval MS    heartbeat interval\n"
                                "  --ping-timeout MS     heartbeat timeout\n"
                                "  --engine-echo         Engine.IO echo instead of the Socket.IO namespaces\n"
                                "  --help                this text\n");
  cl.number("--port", &options.port, 0, 65535)
      .number("--ping-interval", &options.limits.ping_interval_ms, 1, 3'600'000)
      .number("--ping-timeout", &options.limits.ping_timeout_ms, 1, 3'600'000)
      .flag("--engine-echo", &engine_echo)
      .parse(argc, argv);
  options.log_level = chorus::LogLevel::kWarn;
  options.max_connections = 256;  // one worker thread each: keep the shared test machine calm
  options.feed_history = 50;
  options.cors_origins = {"http://allowed.example"};

  chorus::Server server(options);
  auto workers = std::make_shared<Workers>();
  auto items = std::make_shared<Items>();
  auto closes = std::make_shared<WsCloses>();
  if (engine_echo) {
    install_engine_echo(server);
  } else {
    install_namespaces(server);
  }
  install_rest(server, items, closes);
  install_publish(server);
  install_sse(server);
  install_websocket(server, workers, closes);

  chorus::stop_on_signals(server);
  chorus::Status started = server.start();
  if (!started) {
    std::fprintf(stderr, "chorus-routes-app: %s\n", started.error().message.c_str());
    return 1;
  }
  std::printf("chorus: listening on http://127.0.0.1:%d\n", server.port());
  std::fflush(stdout);

  chorus::Status ran = server.run();
  server.stop();
  workers->join_all();
  if (!ran) {
    std::fprintf(stderr, "chorus-routes-app: %s\n", ran.error().message.c_str());
    return 1;
  }
  return 0;
}
