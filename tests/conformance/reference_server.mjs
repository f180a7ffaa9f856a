// Reference peer for the Chorus conformance suite: the npm socket.io / engine.io servers
// configured exactly like the two Chorus test executables, so that every conformance test
// can also run against the reference implementation (which proves the test itself right).
//
//   node reference_server.mjs --mode conformance [--port N] [--host H] [--path P]
//     Socket.IO server like `chorus-conformance` (the reference configuration of the
//     Socket.IO protocol test suite): pingInterval 300, pingTimeout 200, maxPayload 1e6,
//     connectTimeout 1000, CORS for any origin (reflected, with credentials); on connection to
//     "/" or "/custom" emits "auth" with the handshake auth; "message" -> "message-back" with
//     the same arguments; "message-with-ack" -> acknowledged with the same arguments.
//   node reference_server.mjs --mode eio-echo [--port N] [--host H] [--path P]
//     Engine.IO server like `chorus-eio-echo`: every message, text or binary, sent back as is,
//     on the engine.io package's default path /engine.io/.
//   Either mode: --body-timeout-ms MS (requests must arrive whole within MS, else 408);
//     --ping-interval MS, --ping-timeout MS, --connect-timeout MS override the timings.
//
// First stdout line: "chorus: listening on http://127.0.0.1:PORT/PATH/". SIGTERM exits cleanly.
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

// Resolve the npm peers from the repository's node_modules whatever the working directory.
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "..", "package.json"));
const { Server: SocketIoServer } = require("socket.io");
const engine = require("engine.io");

function parseArgs(argv) {
  const opts = { port: 0, host: "127.0.0.1", mode: "conformance" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value after ${a}`);
      return argv[++i];
    };
    if (a === "--port") opts.port = Number(next());
    else if (a === "--host") opts.host = next();
    else if (a === "--mode") opts.mode = next();
    else if (a === "--body-timeout-ms") opts.bodyTimeout = Number(next());
    else if (a === "--path") opts.path = next();
    else if (a === "--ping-interval") opts.pingInterval = Number(next());
    else if (a === "--ping-timeout") opts.pingTimeout = Number(next());
    else if (a === "--connect-timeout") opts.connectTimeout = Number(next());
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error("bad --port");
  if (opts.mode !== "conformance" && opts.mode !== "eio-echo") throw new Error("bad --mode");
  return opts;
}

// `opts` is parsed below, before any server starts.
const timings = () => ({
  pingInterval: opts.pingInterval ?? 300,
  pingTimeout: opts.pingTimeout ?? 200,
  maxHttpBufferSize: 1e6,
});
// Any origin, as the protocol test suite's reference configuration: cors { origin: "*" }.
const CORS = { origin: "*" };

function startConformance(httpServer) {
  const io = new SocketIoServer(httpServer, {
    ...timings(),
    path: opts.path ?? "/socket.io/",
    connectTimeout: opts.connectTimeout ?? 1000,
    cors: CORS,
  });
  const onConnection = (socket) => {
    socket.emit("auth", socket.handshake.auth);
    socket.on("message", (...args) => socket.emit("message-back", ...args));
    socket.on("message-with-ack", (...args) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });
  };
  io.on("connection", onConnection);
  io.of("/custom").on("connection", onConnection);
  return () => io.close();
}

function startEioEcho(httpServer) {
  const eio = engine.attach(httpServer, { ...timings(), path: opts.path ?? "/engine.io/", cors: CORS });
  eio.on("connection", (socket) => {
    socket.on("message", (data) => socket.send(data));
  });
  return () => eio.close();
}

const opts = parseArgs(process.argv.slice(2));
// --body-timeout-ms: a request must arrive whole within this time (Node answers 408), checked
// often enough for tests; like Chorus' ServerOptions::body_timeout_ms.
const httpServer = opts.bodyTimeout
  ? http.createServer({
      requestTimeout: opts.bodyTimeout,
      headersTimeout: opts.bodyTimeout,
      connectionsCheckingInterval: Math.max(50, Math.floor(opts.bodyTimeout / 10)),
    })
  : http.createServer();
const close = opts.mode === "conformance" ? startConformance(httpServer) : startEioEcho(httpServer);
httpServer.listen(opts.port, opts.host, () => {
  const enginePath = opts.path ?? (opts.mode === "conformance" ? "/socket.io/" : "/engine.io/");
  process.stdout.write(`chorus: listening on http://${opts.host}:${httpServer.address().port}${enginePath}\n`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  close();
  httpServer.closeAllConnections?.();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
