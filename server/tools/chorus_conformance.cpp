// chorus-conformance: the reference configuration of the Socket.IO protocol test suite,
// built only from the public Chorus API.
//   pingInterval 300, pingTimeout 200, maxPayload 1000000, connectTimeout 1000, CORS "*";
//   on connection (namespaces "/" and "/custom") emit "auth" with the handshake auth;
//   "message" -> "message-back" with the same arguments;
//   "message-with-ack" -> ack with the same arguments.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "chorus/server.h"

int main(int argc, char** argv) {
  chorus::ServerOptions opts;
  opts.port = 3000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0) opts.port = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--host") == 0) opts.host = argv[++i];
  }
  opts.limits.ping_interval_ms = 300;
  opts.limits.ping_timeout_ms = 200;
  opts.limits.max_payload = 1'000'000;
  opts.limits.connect_timeout_ms = 1000;
  opts.cors_origins = {"*"};
  opts.max_connections = 256;
  opts.log_level = chorus::LogLevel::kWarn;

  chorus::Server server(opts);
  auto setup = [](chorus::Socket& socket) {
    socket.emit("auth", chorus::Args{socket.handshake().auth});
    socket.on("message", [&socket](const chorus::Args& args) { socket.emit("message-back", args); });
    socket.on("message-with-ack", [](const chorus::Args& args, chorus::Ack ack) { ack(args); });
  };
  server.of("/").on_connection(setup);
  server.of("/custom").on_connection(setup);

  chorus::stop_on_signals(server);
  chorus::Status started = server.start();
  if (!started) {
    std::fprintf(stderr, "chorus-conformance: %s\n", started.error().message.c_str());
    return 1;
  }
  std::printf("chorus: listening on http://%s:%d\n", opts.host.c_str(), server.port());
  std::fflush(stdout);
  return server.run() ? 0 : 1;
}
