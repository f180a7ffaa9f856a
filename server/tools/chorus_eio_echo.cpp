// chorus-eio-echo: an Engine.IO-level echo server (every message sent back as is, text or
// binary), with the conformance timings: pingInterval 300, pingTimeout 200,
// maxPayload 1000000, CORS "*".
#include <cstdio>
#include <cstdlib>
#include <cstring>

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
  opts.cors_origins = {"*"};
  opts.max_connections = 256;
  opts.log_level = chorus::LogLevel::kWarn;

  chorus::Server server(opts);
  chorus::EngineHandlers handlers;
  handlers.on_message = [](chorus::EngineSocket& socket, const std::string& data, bool binary) {
    socket.send(data, binary);
  };
  server.set_engine_handlers(handlers);

  chorus::stop_on_signals(server);
  chorus::Status started = server.start();
  if (!started) {
    std::fprintf(stderr, "chorus-eio-echo: %s\n", started.error().message.c_str());
    return 1;
  }
  std::printf("chorus: listening on http://%s:%d\n", opts.host.c_str(), server.port());
  std::fflush(stdout);
  return server.run() ? 0 : 1;
}
