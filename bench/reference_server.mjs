// Reference peer for the Chorus benchmarks: the npm socket.io 4 server with the same
// behaviour and command line as chorus-bench-server.
//
//   node bench/reference_server.mjs --port N [--host ADDR] [--tls-cert PEM]
//
// Every socket joins "room1"; "echo" with an ack callback acks its argument, without one
// emits "echo" back; "broadcast" emits "bcast" with its argument to room1 (namespace-wide,
// sender included). First stdout line: "chorus: listening on http(s)://127.0.0.1:PORT".
// With --tls-cert (a PEM holding certificate and key, as chorus-bench-server takes it):
// node:https, wss.
// Exits on SIGTERM / SIGINT.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { Server } from "socket.io";

function parse_args(argv) {
  const opts = { port: 0, host: "127.0.0.1", tlsCert: "" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--port") opts.port = Number(argv[++i]);
    else if (a === "--host") opts.host = argv[++i];
    else if (a === "--tls-cert") opts.tlsCert = argv[++i];
    else if (a === "--max-connections" || a === "--io-threads") i++;  // CLI parity; no such knob in Node
    else if (a === "--help" || a === "-h") {
      process.stdout.write("usage: reference_server.mjs --port N [--host ADDR] [--tls-cert PEM]\n");
      process.exit(0);
    } else {
      process.stderr.write(`reference_server: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  return opts;
}

const opts = parse_args(process.argv.slice(2));
let http_server;
if (opts.tlsCert) {
  const pem = readFileSync(opts.tlsCert);
  http_server = createTlsServer({ cert: pem, key: pem });
} else {
  http_server = createServer();
}
http_server.maxConnections = Infinity;
const io = new Server(http_server, {
  transports: ["polling", "websocket"],
  serveClient: false,
  perMessageDeflate: false,
});

io.on("connection", (socket) => {
  socket.join("room1");
  socket.on("echo", (...args) => {
    const last = args[args.length - 1];
    if (typeof last === "function") {
      args.pop();
      last(...args);
    } else {
      socket.emit("echo", ...args);
    }
  });
  socket.on("broadcast", (...args) => {
    if (typeof args[args.length - 1] === "function") args.pop();
    io.of("/").to("room1").emit("bcast", ...args);
  });
});

http_server.listen(opts.port, opts.host, () => {
  const { port } = http_server.address();
  process.stdout.write(`chorus: listening on ${opts.tlsCert ? "https" : "http"}://127.0.0.1:${port}\n`);
});

function shutdown() {
  io.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
