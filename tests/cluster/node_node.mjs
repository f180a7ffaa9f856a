// A Node socket.io 4.8 node of the cluster suite (tests/cluster/), sharing rooms, broadcasts
// and server-side operations with the other nodes through @socket.io/redis-adapter (classic) or
// @socket.io/redis-streams-adapter (streams). The Chorus node (chorus-cluster-app) answers the
// same control API, so the suite drives both alike.
//
//   node tests/cluster/node_node.mjs --redis URL [--key K] [--name NAME] [--port P] [--requests-timeout MS]
//                                    [--adapter classic|streams] [--recovery-ms N]
//
// --requests-timeout: the classic adapter's requestsTimeout (fetchSockets, allRooms,
// serverSideEmit with ack; default 5000 ms). The streams adapter has a fixed 5000 ms.
// --adapter: classic (default; `key` is its key) or streams (stream "socket.io", session keys
// "sio:session:<pid>", `key` is its channelPrefix; every other option at its default).
// --recovery-ms N: connectionStateRecovery {maxDisconnectionDuration: N, skipMiddlewares: true};
// 0 or absent: off. Only the streams adapter recovers across nodes (the classic one keeps no
// sessions).
// --admin-hash H: @socket.io/admin-ui's instrument (namespace /admin, basic auth user "admin"
// with this bcrypt hash, serverId NAME, development mode).
//
// First stdout line, once both namespaces' Redis subscriptions are in place (and, streams, the
// stream is being read): "chorus: listening on http://127.0.0.1:PORT". SIGTERM/SIGINT close it
// and exit with 0.
//
// Namespaces "/" and "/chat". Per socket: socket.data = {node: NAME, user: auth.user ?? null},
// set only when the socket is not a recovered one (which has its data back); the client event
// "join" (room, ack) joins the room and acks; "set" (value, ack) sets socket.data.extra and acks
// true. Every connection is recorded as {id, recovered, rooms (sorted), data} as the connection
// handler saw it (/ctl/connections). Server-side events are recorded (/ctl/server-events);
// "ping-servers" is acked with "pong-NAME".
//
// Control API: POST /ctl/<op>, JSON body, JSON reply (400 {error} for a bad request). Every op
// acts on namespace `nsp` (default "/"); rooms/except default to []. Binary values cross it as
// {"$bin": "<base64>"} both ways.
//   emit          {nsp, rooms, except, volatile, event, args}        -> {ok: true}
//   emit-ack      {nsp, rooms, except, timeout, event, args}         -> {err: null|msg, responses}
//   fetch         {nsp, rooms, except}  -> {sockets: [{id, rooms (sorted), data, handshake}]}
//   join / leave  {nsp, rooms, except, join|leave: [...]}            -> {ok: true}
//   disconnect    {nsp, rooms, except, close}                        -> {ok: true}
//   server-emit   {nsp, event, args, ack, timeout}                   -> {err, responses}
//   all-rooms     {nsp}                                              -> {rooms (sorted)}
//                 (streams: this node's rooms only, the streams adapter has no all-rooms request)
//   connections   {nsp}                      -> {connections: [{id, recovered, rooms, data}, ...]}
//   server-events {nsp}                      -> {events: [[event, ...args], ...]} (so far)
//   remote        {nsp, id, op: emit|emit-ack|join|leave|disconnect, event, args, rooms, close, timeout}
//                 (emit-ack: {ok, reply} with the client's first ack argument, or {ok: false, err})
//                 (acts on the socket `id` as fetchSockets finds it)  -> {ok: true}
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";
import { instrument } from "@socket.io/admin-ui";

const NAMESPACES = ["/", "/chat"];
const MAX_BODY = 16 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 5_000;
const ADAPTERS = ["classic", "streams"];

function usage(message) {
  console.error(
    `node_node.mjs: ${message}\nusage: node_node.mjs --redis URL [--key K] [--name NAME] [--port P] [--requests-timeout MS] [--adapter classic|streams] [--recovery-ms N] [--admin-hash H]`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: 0, redis: null, key: "socket.io", name: "node", requestsTimeout: undefined, adapter: "classic", recoveryMs: 0, adminHash: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) usage(`${flag} needs a value`);
    i++;
    if (flag === "--port" && /^\d+$/.test(value)) opts.port = Number(value);
    else if (flag === "--redis") opts.redis = value;
    else if (flag === "--key") opts.key = value;
    else if (flag === "--name") opts.name = value;
    else if (flag === "--requests-timeout" && /^[1-9]\d{0,8}$/.test(value)) opts.requestsTimeout = Number(value);
    else if (flag === "--adapter" && ADAPTERS.includes(value)) opts.adapter = value;
    else if (flag === "--recovery-ms" && /^\d{1,9}$/.test(value)) opts.recoveryMs = Number(value);
    else if (flag === "--admin-hash") opts.adminHash = value;
    else usage(`unknown or bad argument ${flag} ${value}`);
  }
  if (!opts.redis) usage("--redis is required");
  return opts;
}

// {"$bin": base64} -> Buffer, recursively; and back.
function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$bin" && typeof value.$bin === "string") return Buffer.from(value.$bin, "base64");
    return Object.fromEntries(keys.map((k) => [k, fromWire(value[k])]));
  }
  return value;
}

function toWire(value) {
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  }
  return value;
}

class BadRequest extends Error {}

const strings = (body, field) => {
  const v = body[field] ?? [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw new BadRequest(`"${field}" must be an array of strings`);
  return v;
};

const opts = parseArgs(process.argv.slice(2));
const serverEvents = new Map(NAMESPACES.map((n) => [n, []]));
const connections = new Map(NAMESPACES.map((n) => [n, []]));
const streams = opts.adapter === "streams";

// The streams adapter opens its own connections (stream reader, subscriber) by duplicating
// `pub`: they inherit its client name, which is how the readiness check below finds them.
const clientName = `chorus-test-${opts.name}-${process.pid}`.replace(/[^\w-]/g, "_");
const pub = createClient({ url: opts.redis, name: clientName });
const sub = streams ? null : pub.duplicate();
let lastError = "";
for (const [label, client] of [
  ["pub", pub],
  ["sub", sub],
]) {
  if (!client) continue;
  client.on("error", (e) => {
    // One line per kind of error (the client retries while Redis is away).
    const line = `${opts.name} redis ${label}: ${e.message}`;
    if (line !== lastError) console.error(line);
    lastError = line;
  });
  client.on("ready", () => (lastError = ""));
}
await Promise.all([pub.connect(), sub?.connect()]);
const subId = sub ? await sub.clientId() : null;

const httpServer = createServer((req, res) => handle(req, res));
const adapter = streams
  ? createStreamsAdapter(pub, { channelPrefix: opts.key })
  : createAdapter(pub, sub, { key: opts.key, requestsTimeout: opts.requestsTimeout });
const io = new Server(httpServer, {
  adapter,
  ...(opts.recoveryMs > 0 ? { connectionStateRecovery: { maxDisconnectionDuration: opts.recoveryMs, skipMiddlewares: true } } : {}),
});

for (const name of NAMESPACES) {
  const nsp = io.of(name);
  nsp.on("connection", (socket) => {
    // A recovered socket has its data back (from the session, wherever it was stored).
    // Set field by field: under the Admin UI's instrument socket.data is its proxy, holding
    // _admin. That proxy throws on a null value (admin-ui 0.5.1 wraps every typeof "object"),
    // so with --admin-hash a missing user is left out instead of null.
    const user = socket.handshake.auth?.user ?? null;
    if (!socket.recovered) Object.assign(socket.data, opts.adminHash && user === null ? { node: opts.name } : { node: opts.name, user });
    connections.get(name).push({ id: socket.id, recovered: socket.recovered, rooms: [...socket.rooms].sort(), data: plain(socket.data) });
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack();
    });
    socket.on("set", (value, ack) => {
      socket.data.extra = value ?? null;
      if (typeof ack === "function") ack(true);
    });
  });
  // Every server-side event from another node, recorded; "ping-servers" answered.
  const original = nsp._onServerSideEmit.bind(nsp);
  nsp._onServerSideEmit = (args) => {
    const ack = typeof args[args.length - 1] === "function" ? args[args.length - 1] : null;
    serverEvents.get(name).push(ack ? args.slice(0, -1) : args.slice());
    if (args[0] === "ping-servers" && ack) ack(`pong-${opts.name}`);
    original(args);
  };
}

// A copy of socket.data without proxies (the Admin UI's instrument wraps it).
function plain(data) {
  return opts.adminHash ? JSON.parse(JSON.stringify(data ?? null)) : structuredClone(data);
}

const subscribed = [...NAMESPACES];
if (opts.adminHash) {
  instrument(io, { auth: { type: "basic", username: "admin", password: opts.adminHash }, serverId: opts.name, mode: "development" });
  subscribed.push("/admin");
}

// The adapters subscribe asynchronously: wait until the subscriber connection holds both
// namespaces' channels (classic: request, response, own response, and the broadcast pattern;
// streams: the public and the own response channel) and, streams, until the reader is blocked
// in XREAD (it starts at "$": a broadcast added before that would be missed).
for (const deadline = Date.now() + 10_000; ; ) {
  let ready;
  let info;
  if (streams) {
    info = String(await pub.sendCommand(["CLIENT", "LIST"]))
      .split("\n")
      .filter((line) => line.includes(` name=${clientName} `))
      .join("\n");
    const sub_n = Math.max(0, ...[...info.matchAll(/\bsub=(\d+)/g)].map((m) => Number(m[1])));
    ready = sub_n >= 2 * subscribed.length && /\bcmd=xread\b/.test(info);
  } else {
    info = String(await pub.sendCommand(["CLIENT", "LIST", "ID", String(subId)]));
    const sub_n = Number(/\bsub=(\d+)/.exec(info)?.[1] ?? 0);
    const psub_n = Number(/\bpsub=(\d+)/.exec(info)?.[1] ?? 0);
    ready = sub_n >= 3 * subscribed.length && psub_n >= subscribed.length;
  }
  if (ready) break;
  if (Date.now() > deadline) {
    console.error(`${opts.name}: Redis subscriptions not in place after 10 s (${info.trim()})`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 20));
}

function namespace(body) {
  const name = body.nsp ?? "/";
  if (!NAMESPACES.includes(name)) throw new BadRequest(`unknown namespace ${JSON.stringify(name)}`);
  return io.of(name);
}

function operator(body) {
  return namespace(body).to(strings(body, "rooms")).except(strings(body, "except"));
}

function eventOf(body) {
  if (typeof body.event !== "string" || body.event === "") throw new BadRequest('"event" must be a non-empty string');
  const args = body.args ?? [];
  if (!Array.isArray(args)) throw new BadRequest('"args" must be an array');
  return [body.event, ...fromWire(args)];
}

function timeoutOf(body) {
  const t = body.timeout ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(t) || t <= 0) throw new BadRequest('"timeout" must be a positive integer (ms)');
  return t;
}

const describe = (s) => ({
  id: s.id,
  rooms: [...s.rooms].sort(),
  data: s.data,
  handshake: s.handshake,
});

const ops = {
  async emit(body) {
    let op = operator(body);
    if (body.volatile) op = op.volatile;
    op.emit(...eventOf(body));
    return { ok: true };
  },
  "emit-ack"(body) {
    const op = operator(body).timeout(timeoutOf(body));
    const args = eventOf(body);
    return new Promise((resolve) => {
      op.emit(...args, (err, responses) => resolve({ err: err ? err.message : null, responses }));
    });
  },
  async fetch(body) {
    return { sockets: (await operator(body).fetchSockets()).map(describe) };
  },
  async join(body) {
    operator(body).socketsJoin(strings(body, "join"));
    return { ok: true };
  },
  async leave(body) {
    operator(body).socketsLeave(strings(body, "leave"));
    return { ok: true };
  },
  async disconnect(body) {
    operator(body).disconnectSockets(body.close === true);
    return { ok: true };
  },
  "server-emit"(body) {
    const nsp = namespace(body);
    const args = eventOf(body);
    if (!body.ack) {
      nsp.serverSideEmit(...args);
      return { err: null, responses: [] };
    }
    // The adapter's requestsTimeout bounds a serverSideEmit with ack: set for this request.
    const adapter = nsp.adapter;
    const saved = adapter.requestsTimeout;
    adapter.requestsTimeout = timeoutOf(body);
    return new Promise((resolve) => {
      nsp.serverSideEmit(...args, (err, responses) => {
        adapter.requestsTimeout = saved;
        resolve({ err: err ? err.message : null, responses });
      });
    });
  },
  async "all-rooms"(body) {
    const { adapter } = namespace(body);
    // The streams adapter has no all-rooms request: this node's rooms, as Node would list them.
    const rooms = typeof adapter.allRooms === "function" ? await adapter.allRooms() : adapter.rooms.keys();
    return { rooms: [...rooms].sort() };
  },
  async connections(body) {
    return { connections: connections.get(namespace(body).name) };
  },
  async "server-events"(body) {
    return { events: serverEvents.get(namespace(body).name) };
  },
  async remote(body) {
    const nsp = namespace(body);
    if (typeof body.id !== "string" || body.id === "") throw new BadRequest('"id" must be a socket id');
    const socket = (await nsp.in(body.id).fetchSockets()).find((s) => s.id === body.id);
    if (!socket) throw new BadRequest(`no socket ${body.id} in ${nsp.name}`);
    switch (body.op) {
      case "emit":
        socket.emit(...eventOf(body));
        break;
      case "emit-ack":
        try {
          return { ok: true, reply: toWire(await socket.timeout(body.timeout ?? 5000).emitWithAck(...eventOf(body))) };
        } catch (err) {
          return { ok: false, err: err.message };
        }
      case "join":
        socket.join(strings(body, "rooms"));
        break;
      case "leave":
        for (const room of strings(body, "rooms")) socket.leave(room);
        break;
      case "disconnect":
        socket.disconnect(body.close === true);
        break;
      default:
        throw new BadRequest(`"op" must be emit, emit-ack, join, leave or disconnect, not ${JSON.stringify(body.op)}`);
    }
    return { ok: true };
  },
};

function reply(res, status, value) {
  const text = JSON.stringify(toWire(value));
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function handle(req, res) {
  const m = /^\/ctl\/([a-z-]+)$/.exec(req.url ?? "");
  if (!m || !Object.hasOwn(ops, m[1])) return reply(res, 404, { error: `no such control operation: ${req.method} ${req.url}` });
  if (req.method !== "POST") return reply(res, 405, { error: "control operations are POST requests" });
  const chunks = [];
  let size = 0;
  req.on("data", (c) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on("end", async () => {
    if (size > MAX_BODY) return reply(res, 413, { error: `body over ${MAX_BODY} bytes` });
    let body;
    try {
      body = size === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (body === null || typeof body !== "object" || Array.isArray(body)) throw new BadRequest("the body must be a JSON object");
    } catch (e) {
      return reply(res, 400, { error: `bad JSON body: ${e.message}` });
    }
    try {
      reply(res, 200, await ops[m[1]](body));
    } catch (e) {
      reply(res, e instanceof BadRequest ? 400 : 500, { error: e.message });
    }
  });
}

await new Promise((resolve) => httpServer.listen(opts.port, "127.0.0.1", resolve));
console.log(`chorus: listening on http://127.0.0.1:${httpServer.address().port}`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(0), 3_000);
  force.unref();
  await new Promise((resolve) => io.close(() => resolve()));
  for (const client of [sub, pub]) {
    if (client?.isOpen) await client.close().catch(() => {});
  }
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
