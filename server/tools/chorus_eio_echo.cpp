// chorus-eio-echo: an Engine.IO-level echo server (every message sent back as is, text or
// binary), with the conformance timings: pingInterval 300, pingTimeout 200,
// maxPayload 1000000, CORS "*". Serves the Engine.IO default path /engine.io/ (as the
// `engine.io` npm package does); --path changes it.

#include "chorus/server.h"
#include "conformance_common.h"

int main(int argc, char** argv) {
  chorus::ServerOptions opts = chorus::tools::conformance_options(
      argc, argv, "chorus-eio-echo", "A bare Engine.IO server that sends every message back as is.", "/engine.io/");

  chorus::Server server(opts);
  chorus::EngineHandlers handlers;
  handlers.on_message = [](chorus::EngineSocket& socket, const std::string& data, bool binary) {
    socket.send(data, binary);
  };
  server.set_engine_handlers(handlers);

  return chorus::tools::run_until_signal(server, "chorus-eio-echo");
}
