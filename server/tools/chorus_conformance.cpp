// chorus-conformance: the reference configuration of the Socket.IO protocol test suite,
// built only from the public Chorus API.
//   pingInterval 300, pingTimeout 200, maxPayload 1000000, connectTimeout 1000, CORS "*";
//   on connection (namespaces "/" and "/custom") emit "auth" with the handshake auth;
//   "message" -> "message-back" with the same arguments;
//   "message-with-ack" -> ack with the same arguments.
#include <string>

#include "chorus/server.h"
#include "conformance_common.h"

int main(int argc, char** argv) {
  chorus::ServerOptions opts = chorus::tools::conformance_options(
      argc, argv, "chorus-conformance", "The Socket.IO server of the protocol test suite's reference configuration.",
      "/socket.io/");

  chorus::Server server(opts);
  auto setup = [](chorus::Socket& socket) {
    socket.emit("auth", chorus::Args{socket.handshake().auth});
    socket.on("message", [&socket](const chorus::Args& args) { socket.emit("message-back", args); });
    socket.on("message-with-ack", [](const chorus::Args& args, chorus::Ack ack) { ack(args); });
  };
  server.of("/").on_connection(setup);
  server.of("/custom").on_connection(setup);

  return chorus::tools::run_until_signal(server, "chorus-conformance");
}
