// Interop test app: the server side of tests/interop/*.test.mjs, written against the public
// Chorus API only. tests/apps/interop_reference.mjs is the same app on the official Node
// socket.io server; the suite must pass against both.
//
//   chorus-interop-app --port N     (0: any free port)
//
// First stdout line: "chorus: listening on http://127.0.0.1:PORT". SIGTERM/SIGINT stop the
// server cleanly (exit code 0).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "chorus/jwt.h"
#include "chorus/server.h"
#include "command_line.h"

namespace {

using chorus::Ack;
using chorus::Args;
using chorus::Socket;
using chorus::Value;

chorus::Server* g_server = nullptr;

void on_signal(int) {
  if (g_server != nullptr) g_server->request_stop();
}

std::string arg_string(const Args& args, std::size_t i) {
  return i < args.size() ? args[i].get_string() : std::string();
}

// Server-side disconnect reasons of "/" sockets, reported to tests by the "reasons" event.
class ReasonLog {
 public:
  void add(const std::string& id, const std::string& reason) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.push_back(Value::array({id, reason}));
    // Bounded: tests only look at recent entries.
    if (entries_.size() > 1000) entries_.erase(entries_.begin());
  }
  Value snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return Value(entries_);
  }

 private:
  mutable std::mutex mutex_;
  chorus::Array entries_;
};

// "echo" on every namespace: an ack answers with the arguments, otherwise an "echo" event does.
// Handlers capture the socket by pointer: they live inside it, so a shared_ptr would keep it
// alive forever.
void install_echo(Socket& socket) {
  Socket* self = &socket;
  socket.on("echo", [self](const Args& args, Ack ack) {
    if (ack.requested()) {
      ack(args);
    } else {
      self->emit("echo", args);
    }
  });
  // Numeric event names (42[42,...]) reach the handler of their JavaScript string form.
  for (const char* name : {"42", "1e+21"}) {
    socket.on(name, [name](const Args& args, Ack ack) {
      Args reply{Value(std::string("numeric ") + name)};
      reply.insert(reply.end(), args.begin(), args.end());
      ack(reply);
    });
  }
}

Value welcome_of(const Socket& socket) {
  return Value::object({{"id", socket.id()}, {"auth", socket.handshake().auth}});
}

void install_main(chorus::Server& server, const std::shared_ptr<ReasonLog>& reasons) {
  chorus::Namespace& main_nsp = server.of("/");
  main_nsp.on_connection([&main_nsp, reasons](Socket& socket) {
    Socket* self = &socket;
    install_echo(socket);

    socket.on("join", [self](const Args& args, Ack ack) {
      self->join(arg_string(args, 0));
      ack(true);
    });
    socket.on("leave", [self](const Args& args, Ack ack) {
      self->leave(arg_string(args, 0));
      ack(true);
    });
    socket.on("to-room", [self](const Args& args, Ack ack) {
      self->to(arg_string(args, 0)).emit("room-msg", args.size() > 1 ? args[1] : Value());
      ack(true);
    });
    socket.on("server-to-room", [&main_nsp](const Args& args, Ack ack) {
      main_nsp.to(arg_string(args, 0)).emit("room-msg", args.size() > 1 ? args[1] : Value());
      ack(true);
    });
    socket.on("ask", [self](const Args& args) {
      std::weak_ptr<Socket> weak = self->shared();
      self->emit_with_ack("question", args, std::chrono::milliseconds(500),
                          [weak](std::optional<chorus::AckError> error, Args reply) {
                            auto s = weak.lock();
                            if (!s) return;
                            if (error) {
                              s->emit("answer", Value::object({{"error", error->message}}));
                            } else {
                              s->emit("answer", std::move(reply));
                            }
                          });
    });
    socket.on("binary", [self](const Args& args) { self->emit("binary-back", args); });
    socket.on("count", [&main_nsp](const Args&, Ack ack) { ack(main_nsp.socket_count()); });
    socket.on("fetch", [&main_nsp](const Args& args, Ack ack) {
      Value ids = Value::array();
      for (const auto& s : main_nsp.in(arg_string(args, 0)).fetch_sockets()) ids.push_back(s.id());
      ack(ids);
    });
    socket.on("kick-room", [&main_nsp](const Args& args, Ack ack) {
      ack(true);
      main_nsp.in(arg_string(args, 0)).disconnect_sockets();
    });
    socket.on("disconnect-me", [self](const Args&) { self->disconnect(); });
    socket.on("reasons", [reasons](const Args&, Ack ack) { ack(reasons->snapshot()); });

    std::string id = socket.id();
    socket.on_disconnect([reasons, id](const std::string& reason) { reasons->add(id, reason); });

    socket.emit("welcome", welcome_of(socket));
  });
}

void install_admin(chorus::Server& server) {
  chorus::Namespace& admin = server.of("/admin");
  admin.use([](Socket& socket, chorus::Next next) {
    const Value* token = socket.handshake().auth.find("token");
    if (token != nullptr && token->is_string() && token->as_string() == "letmein") {
      next(std::nullopt);
    } else {
      next(chorus::ConnectError{"not authorized", Value::object({{"code", 403}})});
    }
  });
  admin.on_connection([](Socket& socket) {
    install_echo(socket);
    socket.emit("welcome", welcome_of(socket));
  });
}

void install_secure(chorus::Server& server) {
  chorus::Namespace& secure = server.of("/secure");
  chorus::JwtOptions options;
  options.secret = "chorus-test-secret";
  secure.use(chorus::jwt_middleware(options));
  secure.on_connection([](Socket& socket) {
    install_echo(socket);
    const Value* user = socket.data().find("user");
    socket.emit("whoami", user != nullptr ? *user : Value());
  });
}

void install_dynamic(chorus::Server& server) {
  server.of(std::regex(R"(^/dyn-\d+$)")).on_connection([](Socket& socket) {
    install_echo(socket);
    socket.emit("nsp", socket.nsp());
  });
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  chorus::tools::CommandLine("chorus-interop-app",
                             "usage: chorus-interop-app [options]\n\n"
                             "The Socket.IO app of the interop suite (official socket.io-client as peer).\n\n"
                             "  --port N   listen port (default 0: a free one)\n"
                             "  --help     this text\n")
      .number("--port", &port, 0, 65535)
      .parse(argc, argv);

  chorus::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = port;
  options.log_level = chorus::LogLevel::kWarn;
  // CivetWeb holds a worker thread per connection slot: the suite needs a few dozen, and the
  // default (10'000) would start that many threads on a shared test machine.
  options.max_connections = 128;
  chorus::Server server(options);
  auto reasons = std::make_shared<ReasonLog>();
  install_main(server, reasons);
  install_admin(server);
  install_secure(server);
  install_dynamic(server);

  g_server = &server;
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);

  chorus::Status started = server.start();
  if (!started) {
    std::fprintf(stderr, "chorus-interop-app: %s\n", started.error().message.c_str());
    return 1;
  }
  std::printf("chorus: listening on http://127.0.0.1:%d\n", server.port());
  std::fflush(stdout);

  chorus::Status ran = server.run();
  server.stop();
  g_server = nullptr;
  if (!ran) {
    std::fprintf(stderr, "chorus-interop-app: %s\n", ran.error().message.c_str());
    return 1;
  }
  return 0;
}
