// Shared by chorus-conformance and chorus-eio-echo: the reference configuration of the
// Socket.IO protocol test suite, the command line (--port, --host, --path, the timings,
// --help), and the start-up line.
#pragma once

#include <cstdio>
#include <string>

#include "chorus/server.h"
#include "command_line.h"

namespace chorus::tools {

// pingInterval 300, pingTimeout 200, maxPayload 1000000, connectTimeout 1000, CORS "*"; the
// timings can be changed on the command line (the test suite slows them on a busy machine).
// `default_path` is the Engine.IO endpoint unless --path says otherwise: "/socket.io/" for
// the Socket.IO server, "/engine.io/" for the bare Engine.IO one (the npm packages' defaults).
inline ServerOptions conformance_options(int argc, char** argv, const char* program, const char* summary,
                                         const char* default_path) {
  ServerOptions opts;
  opts.port = 3000;
  opts.path = default_path;
  opts.limits.ping_interval_ms = 300;
  opts.limits.ping_timeout_ms = 200;
  opts.limits.max_payload = 1'000'000;
  opts.limits.connect_timeout_ms = 1000;
  std::string usage = std::string("usage: ") + program + " [options]\n\n" + summary +
                      "\n\n"
                      "  --host ADDR              listen address (default 127.0.0.1)\n"
                      "  --port N                 listen port (default 3000; 0 picks a free one)\n"
                      "  --path PATH              Engine.IO endpoint (default " +
                      default_path +
                      ")\n"
                      "  --ping-interval MS       pingInterval (default 300)\n"
                      "  --ping-timeout MS        pingTimeout (default 200)\n"
                      "  --connect-timeout MS     connectTimeout (default 1000)\n"
                      "  --body-timeout-ms MS     a request body must arrive whole within MS (default 10000)\n"
                      "  --help                   this text\n";
  CommandLine cl(program, usage);
  cl.text("--host", &opts.host).number("--port", &opts.port, 0, 65535).text("--path", &opts.path);
  cl.number("--ping-interval", &opts.limits.ping_interval_ms, 1, 3'600'000)
      .number("--ping-timeout", &opts.limits.ping_timeout_ms, 1, 3'600'000)
      .number("--connect-timeout", &opts.limits.connect_timeout_ms, 1, 3'600'000)
      .number("--body-timeout-ms", &opts.body_timeout_ms, 100, 3'600'000);
  cl.parse(argc, argv);
  if (opts.path.front() != '/') cl.fail("--path must start with '/'");
  opts.cors_origins = {"*"};
  opts.max_connections = 256;
  opts.log_level = LogLevel::kWarn;
  return opts;
}

// Starts, prints `chorus: listening on http://HOST:PORT/PATH/`, runs until SIGINT/SIGTERM.
inline int run_until_signal(Server& server, const char* program) {
  stop_on_signals(server);
  Status started = server.start();
  if (!started) {
    std::fprintf(stderr, "%s: %s\n", program, started.error().message.c_str());
    return 1;
  }
  std::printf("chorus: listening on http://%s:%d%s\n", server.options().host.c_str(), server.port(),
              server.options().path.c_str());
  std::fflush(stdout);
  return server.run() ? 0 : 1;
}

}  // namespace chorus::tools
