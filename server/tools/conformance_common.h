// Shared by chorus-conformance and chorus-eio-echo: the reference configuration of the
// Socket.IO protocol test suite, the --port/--host/--body-timeout-ms flags, and the start-up
// line.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "chorus/server.h"

namespace chorus::tools {

// pingInterval 300, pingTimeout 200, maxPayload 1000000, connectTimeout 1000, CORS "*".
inline ServerOptions conformance_options(int argc, char** argv) {
  ServerOptions opts;
  opts.port = 3000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0) opts.port = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--host") == 0) opts.host = argv[++i];
    else if (std::strcmp(argv[i], "--body-timeout-ms") == 0)
      opts.body_timeout_ms = static_cast<std::uint32_t>(std::atoi(argv[++i]));
  }
  opts.limits.ping_interval_ms = 300;
  opts.limits.ping_timeout_ms = 200;
  opts.limits.max_payload = 1'000'000;
  opts.limits.connect_timeout_ms = 1000;
  opts.cors_origins = {"*"};
  opts.max_connections = 256;
  opts.log_level = LogLevel::kWarn;
  return opts;
}

// Starts, prints `chorus: listening on http://HOST:PORT`, runs until SIGINT/SIGTERM.
inline int run_until_signal(Server& server, const char* program) {
  stop_on_signals(server);
  Status started = server.start();
  if (!started) {
    std::fprintf(stderr, "%s: %s\n", program, started.error().message.c_str());
    return 1;
  }
  std::printf("chorus: listening on http://%s:%d\n", server.options().host.c_str(), server.port());
  std::fflush(stdout);
  return server.run() ? 0 : 1;
}

}  // namespace chorus::tools
