// Reference peer for the Chorus benchmarks: the npm socket.io 4 server with the same
// behaviour and command line as chorus-bench-server.
//
//   node bench/reference_server.mjs --port N [--host ADDR] [--tls-cert PEM]
//                                   [--redis URL [--redis-key K]]
//
// Every socket joins "room1"; "echo" with an ack callback acks its argument, without one
// emits "echo" back; "broadcast" emits "bcast" with its argument to room1 (namespace-wide,
// sender included). First stdout line: "chorus: listening on http(s)://127.0.0.1:PORT".
// With --tls-cert (a PEM holding certificate and key, as chorus-bench-server takes it):
// node:https, wss. With --redis: a node of a cluster through @socket.io/redis-adapter 8 (the
// `redis` client), ready (the first line printed) once its subscriptions are in place.
// Exits on SIGTERM / SIGINT.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { Server } from "socket.io";

function parse_args(argv) {
  const opts = { port: 0, host: "127.0.0.1", tlsCert: "", redis: "", redisKey: "socket.io" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--port") opts.port = Number(argv[++i]);
    else if (a === "--host") opts.host = argv[++i];
    else if (a === "--tls-cert") opts.tlsCert = argv[++i];
    else if (a === "--redis") opts.redis = argv[++i];
    else if (a === "--redis-key") opts.redisKey = argv[++i];
    else if (a === "--max-connections" || a === "--io-threads") i++;  // CLI parity; no such knob in Node
    else if (a === "--help" || a === "-h") {
      process.stdout.write("usage: reference_server.mjs --port N [--host ADDR] [--tls-cert PEM] [--redis URL [--redis-key K]]\n");
      process.exit(0);
    } else {
      process.stderr.write(`reference_server: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  return opts;
}

const opts = parse_args(process.argv.slice(2));

// The cluster's pub and sub connections (the sub one is what the other nodes count).
let pub = null;
let sub = null;
let sub_id = "";  // asked before the adapter subscribes (a subscriber answers nothing else)
async function redis_adapter(url, key) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  pub = createClient({ url });
  sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (e) => process.stderr.write(`reference_server: redis: ${e.message}\n`));
  await Promise.all([pub.connect(), sub.connect()]);
  sub_id = String(await sub.clientId());
  return createAdapter(pub, sub, { key });
}
// The adapter subscribes asynchronously: wait (10 s at most) until the subscriber connection
// holds the namespace's channels (request, response, own response) and its pattern.
async function subscribed() {
  for (const deadline = Date.now() + 10_000; ; ) {
    const info = String(await pub.sendCommand(["CLIENT", "LIST", "ID", sub_id]));
    const channels = Number(/\bsub=(\d+)/.exec(info)?.[1] ?? 0);
    const patterns = Number(/\bpsub=(\d+)/.exec(info)?.[1] ?? 0);
    if (channels >= 3 && patterns >= 1) return;
    if (Date.now() > deadline) {
      process.stderr.write(`reference_server: Redis subscriptions not in place after 10 s (${info.trim()})\n`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
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
  ...(opts.redis ? { adapter: await redis_adapter(opts.redis, opts.redisKey) } : {}),
});
if (opts.redis) await subscribed();

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
