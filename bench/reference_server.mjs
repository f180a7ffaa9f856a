// Reference peer for the Chorus benchmarks: the npm socket.io 4 server with the same
// behaviour and command line as chorus-bench-server.
//
//   node bench/reference_server.mjs --port N [--host ADDR] [--tls-cert PEM]
//                                   [--redis URL [--redis-key K] [--redis-adapter KIND]]
//                                   [--recovery-ms MS]
//
// Every socket joins "room1"; "echo" with an ack callback acks its argument, without one
// emits "echo" back; "broadcast" emits "bcast" with its argument to room1 (namespace-wide,
// sender included). First stdout line: "chorus: listening on http(s)://127.0.0.1:PORT".
// With --tls-cert (a PEM holding certificate and key, as chorus-bench-server takes it):
// node:https, wss. With --redis: a node of a cluster through @socket.io/redis-adapter 8 (the
// `redis` client), ready (the first line printed) once its subscriptions are in place; with
// --redis-adapter streams through @socket.io/redis-streams-adapter 0.3 instead (--redis-key its
// channelPrefix), ready once it reads the stream (XREAD) and its subscriptions are in place.
// --recovery-ms MS: connectionStateRecovery {maxDisconnectionDuration: MS} (default 0: off).
// Exits on SIGTERM / SIGINT.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { Server } from "socket.io";

function parse_args(argv) {
  const opts = { port: 0, host: "127.0.0.1", tlsCert: "", redis: "", redisKey: "socket.io", adapter: "classic", recoveryMs: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--port") opts.port = Number(argv[++i]);
    else if (a === "--host") opts.host = argv[++i];
    else if (a === "--tls-cert") opts.tlsCert = argv[++i];
    else if (a === "--redis") opts.redis = argv[++i];
    else if (a === "--redis-key") opts.redisKey = argv[++i];
    else if (a === "--redis-adapter") opts.adapter = argv[++i];
    else if (a === "--recovery-ms") opts.recoveryMs = whole(a, argv[++i], 86_400_000);
    else if (a === "--max-connections" || a === "--io-threads") i++;  // CLI parity; no such knob in Node
    else if (a === "--help" || a === "-h") {
      process.stdout.write(
        "usage: reference_server.mjs --port N [--host ADDR] [--tls-cert PEM] [--redis URL [--redis-key K]\n" +
          "                            [--redis-adapter classic|streams]] [--recovery-ms MS (0: off, the default)]\n",
      );
      process.exit(0);
    } else {
      process.stderr.write(`reference_server: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  if (opts.adapter !== "classic" && opts.adapter !== "streams") {
    process.stderr.write(`reference_server: --redis-adapter needs classic or streams, got '${opts.adapter}'\n`);
    process.exit(2);
  }
  return opts;
}
function whole(flag, v, max) {
  if (!/^[0-9]{1,19}$/.test(v ?? "") || Number(v) > max) {
    process.stderr.write(`reference_server: ${flag} needs a whole number from 0 to ${max}, got '${v ?? ""}'\n`);
    process.exit(2);
  }
  return Number(v);
}

const opts = parse_args(process.argv.slice(2));

// The cluster's pub and sub connections (the sub one is what the other nodes count).
let pub = null;
let sub = null;
let sub_id = "";  // asked before the adapter subscribes (a subscriber answers nothing else)
// The streams adapter duplicates `pub` for its stream reader and its subscriber: the copies
// keep its client name, by which subscribed() finds them.
const client_name = `reference-server-${process.pid}`;
async function redis_adapter(url, key) {
  const { createClient } = await import("redis");
  if (opts.adapter === "streams") {
    const { createAdapter } = await import("@socket.io/redis-streams-adapter");
    pub = createClient({ url, name: client_name });
    pub.on("error", (e) => process.stderr.write(`reference_server: redis: ${e.message}\n`));
    await pub.connect();
    return createAdapter(pub, { channelPrefix: key });
  }
  const { createAdapter } = await import("@socket.io/redis-adapter");
  pub = createClient({ url });
  sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (e) => process.stderr.write(`reference_server: redis: ${e.message}\n`));
  await Promise.all([pub.connect(), sub.connect()]);
  sub_id = String(await sub.clientId());
  return createAdapter(pub, sub, { key });
}
// The adapter subscribes asynchronously: wait (10 s at most) until the subscriber connection
// holds the namespace's channels (request, response, own response) and its pattern; streams:
// until one of this node's connections holds the namespace's two channels (public, private)
// and one has sent XREAD (it reads from "$": entries added before would be missed).
async function subscribed() {
  for (const deadline = Date.now() + 10_000; ; ) {
    let info, ready;
    if (opts.adapter === "streams") {
      info = String(await pub.sendCommand(["CLIENT", "LIST"]))
        .split("\n")
        .filter((l) => l.includes(` name=${client_name} `))
        .join("\n");
      ready = /\bsub=2\b/.test(info) && /\bcmd=xread\b/.test(info);
    } else {
      info = String(await pub.sendCommand(["CLIENT", "LIST", "ID", sub_id]));
      const channels = Number(/\bsub=(\d+)/.exec(info)?.[1] ?? 0);
      const patterns = Number(/\bpsub=(\d+)/.exec(info)?.[1] ?? 0);
      ready = channels >= 3 && patterns >= 1;
    }
    if (ready) return;
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
  ...(opts.recoveryMs > 0 ? { connectionStateRecovery: { maxDisconnectionDuration: opts.recoveryMs } } : {}),
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
