// Shared harness of the cluster suite (tests/cluster/*.test.mjs): a redis-server of its own,
// nodes of two kinds sharing it, the official socket.io-client, and @socket.io/redis-emitter.
//
//  - "node": tests/cluster/node_node.mjs, socket.io 4.8 with @socket.io/redis-adapter or
//    @socket.io/redis-streams-adapter (the reference);
//  - "chorus": the Chorus cluster app named by env CHORUS_CLUSTER_APP, started with
//    --port 0 --redis URL --redis-key K --name NAME [--redis-adapter A] [--recovery-ms N].
// Both print "chorus: listening on http://HOST:PORT" first and answer the same control API
// (POST /ctl/<op>, documented in node_node.mjs).
//
// env CHORUS_CLUSTER_KINDS: the nodes of the cluster, e.g. "node,node,chorus,chorus" (the
// default) or "node,node,node". Without CHORUS_CLUSTER_APP the default is Node nodes only.
// env CHORUS_CLUSTER_ADAPTER: the adapter the cluster suite runs with, classic (the default) or
// streams (clusterAdapter()).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { dirname, join as joinPath } from "node:path";
import { fileURLToPath } from "node:url";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import { io } from "socket.io-client";
import { Peer } from "../common/peer.mjs";
import { startProcess } from "../common/process.mjs";
import { sleep } from "../common/util.mjs";
import { startRedis } from "./redis.mjs";

export { Peer, startRedis };
export { normalize, sleep } from "../common/util.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const NODE_APP = joinPath(here, "node_node.mjs");
export const KINDS = ["node", "chorus"];
const DEFAULT_KINDS = "node,node,chorus,chorus";
const NODE_ONLY_KINDS = "node,node,node";

// The kinds to run: {kinds, note}. `note` says why Chorus nodes are left out (null when they
// are not); `skip` is set when the kinds asked for Chorus nodes explicitly and there is no app.
export function clusterKinds(env = process.env) {
  const app = env.CHORUS_CLUSTER_APP;
  const asked = env.CHORUS_CLUSTER_KINDS;
  const spec = asked ?? (app ? DEFAULT_KINDS : NODE_ONLY_KINDS);
  const kinds = spec.split(",").map((k) => k.trim()).filter((k) => k !== "");
  for (const k of kinds) {
    if (!KINDS.includes(k)) throw new Error(`CHORUS_CLUSTER_KINDS: unknown kind ${JSON.stringify(k)} (kinds: ${KINDS.join(", ")})`);
  }
  if (kinds.length < 2) throw new Error(`CHORUS_CLUSTER_KINDS: a cluster needs at least 2 nodes, got ${JSON.stringify(spec)}`);
  const why = "CHORUS_CLUSTER_APP is not set (the chorus-cluster-app target is not in this build)";
  if (!app && asked === undefined) return { kinds, note: `Chorus nodes left out: ${why}; running ${NODE_ONLY_KINDS}`, skip: null };
  if (!app && kinds.includes("chorus")) return { kinds, note: null, skip: `CHORUS_CLUSTER_KINDS=${spec} asks for Chorus nodes but ${why}` };
  return { kinds, note: null, skip: null };
}

export const ADAPTERS = ["classic", "streams"];

// The adapter of env CHORUS_CLUSTER_ADAPTER (classic when unset).
export function clusterAdapter(env = process.env) {
  const adapter = env.CHORUS_CLUSTER_ADAPTER || "classic";
  if (!ADAPTERS.includes(adapter)) throw new Error(`CHORUS_CLUSTER_ADAPTER: unknown adapter ${JSON.stringify(adapter)} (adapters: ${ADAPTERS.join(", ")})`);
  return adapter;
}

// The pub/sub channels every node of a cluster subscribes to once (what PUBSUB NUMSUB counts
// as the number of nodes): classic, the request and response channels; streams, the public
// channel (its responses go to a channel per node).
export function countedChannels(key, adapter = "classic") {
  const nsps = ["/", "/chat"];
  if (adapter === "streams") return nsps.map((n) => `${key}#${n}#`);
  return nsps.flatMap((n) => [`${key}-request#${n}#`, `${key}-response#${n}#`]);
}

// Starts one node: a ServerProcess (tests/common/process.mjs) with kind, name, key, adapter and
// base (its http:// URL) added. `requestsTimeout` (ms): how long its cluster requests wait for
// the other nodes (the adapter's default, 5 s, when absent). `adapter`: classic or streams (the
// node's default, classic, when absent). `recoveryMs`: connection state recovery within that
// many ms (off when absent or 0).
// `extraArgs`: more command-line arguments, for a Chorus node only (e.g. --max-replayed).
// `adminHash`: the Admin UI's namespace /admin on the node (user "admin", this bcrypt hash,
// the node's name as its server id).
export async function startNode(kind, { redisUrl, key = "socket.io", name, requestsTimeout, adapter, recoveryMs, adminHash, extraArgs = [] }) {
  let cmd;
  let args;
  if (adapter !== undefined && !ADAPTERS.includes(adapter)) throw new Error(`unknown adapter ${JSON.stringify(adapter)}`);
  if (kind !== "chorus" && extraArgs.length > 0) throw new Error("extraArgs are for Chorus nodes");
  const timeout = requestsTimeout === undefined ? [] : ["--requests-timeout", String(requestsTimeout)];
  const recovery = recoveryMs === undefined ? [] : ["--recovery-ms", String(recoveryMs)];
  const admin = adminHash === undefined ? [] : ["--admin-hash", adminHash];
  if (kind === "node") {
    cmd = process.execPath;
    const kindOf = adapter === undefined ? [] : ["--adapter", adapter];
    args = [NODE_APP, "--port", "0", "--redis", redisUrl, "--key", key, "--name", name, ...timeout, ...kindOf, ...recovery, ...admin];
  } else if (kind === "chorus") {
    cmd = process.env.CHORUS_CLUSTER_APP;
    if (!cmd) throw new Error("a Chorus node needs CHORUS_CLUSTER_APP (the chorus-cluster-app binary)");
    const kindOf = adapter === undefined ? [] : ["--redis-adapter", adapter];
    args = ["--port", "0", "--redis", redisUrl, "--redis-key", key, "--name", name, ...timeout, ...kindOf, ...recovery, ...admin, ...extraArgs];
  } else {
    throw new Error(`unknown node kind ${JSON.stringify(kind)}`);
  }
  const srv = await startProcess(cmd, args, { name: `${kind} node ${name}`, timeoutMs: 30_000 });
  srv.kind = kind;
  srv.nodeName = name;
  srv.key = key;
  srv.adapter = adapter ?? "classic";
  srv.base = `http://${srv.host}:${srv.port}`;
  return srv;
}

// A redis-server and one node per kind (named n0-node, n1-chorus, ...), sharing key `key`
// (and `requestsTimeout`, `adapter` and `recoveryMs`, see startNode).
export async function startCluster(kinds, { key = `chorus-test-${randomBytes(3).toString("hex")}`, requestsTimeout, adapter, recoveryMs } = {}) {
  const redis = await startRedis();
  const nodes = [];
  try {
    // One at a time: the machine is small, and the names come out in order.
    for (const [i, kind] of kinds.entries()) {
      nodes.push(await startNode(kind, { redisUrl: redis.url, key, name: `n${i}-${kind}`, requestsTimeout, adapter, recoveryMs }));
    }
  } catch (e) {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
    throw e;
  }
  return {
    redis,
    nodes,
    key,
    adapter: adapter ?? "classic",
    async stop() {
      const results = await Promise.allSettled(nodes.map((n) => n.stop({ strict: true })));
      await redis.stop();
      const failed = results.filter((r) => r.status === "rejected");
      if (failed.length) throw failed[0].reason;
    },
  };
}

// {"$bin": base64} <-> Buffer, recursively (the control API's binary form).
export function toWire(value) {
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  return value;
}

export function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$bin" && typeof value.$bin === "string") return Buffer.from(value.$bin, "base64");
    return Object.fromEntries(keys.map((k) => [k, fromWire(value[k])]));
  }
  return value;
}

// One control operation: POST /ctl/<op> with `body` (Buffers sent as {$bin}); resolves with
// the reply (binary back as Buffers). A status other than 200 rejects with the node's error.
export async function ctl(node, op, body = {}, { timeoutMs = 20_000 } = {}) {
  const res = await fetch(`${node.base}/ctl/${op}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(toWire(body)),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${node.name} /ctl/${op}: status ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (res.status !== 200) throw new Error(`${node.name} /ctl/${op}: status ${res.status}: ${json?.error ?? text}`);
  return fromWire(json);
}

export const TRANSPORTS = ["websocket", "polling"];

// A connected official socket.io-client (a Peer: events queued, see tests/common/peer.mjs)
// on `node`, over one transport, no reconnection. `peer.node` is the node.
export async function client(node, { transport = "websocket", nsp = "/", auth, timeoutMs = 10_000 } = {}) {
  const socket = io(node.base + nsp, {
    transports: [transport],
    forceNew: true,
    reconnection: false,
    timeout: timeoutMs,
    ...(auth === undefined ? {} : { auth }),
  });
  const peer = new Peer(socket, { timeoutMs });
  peer.node = node;
  peer.transport = transport;
  const outcome = await peer.first(["connect", "connect_error"], timeoutMs);
  if (outcome.event === "connect_error") {
    peer.close();
    throw new Error(`connect_error from ${node.name} on ${nsp} (${transport}): ${outcome.args[0]?.message}`);
  }
  return peer;
}

// Joins `room` through the app's "join" event (acked once the node has joined it).
export async function join(peer, room, ms = 10_000) {
  await peer.socket.timeout(ms).emitWithAck("join", room);
}

// Polls `fn` until it returns a truthy value (returned) or `ms` passes (rejects naming `what`
// and the last value or error).
export async function waitFor(fn, { ms = 10_000, what = "a condition", interval = 25 } = {}) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(interval);
  }
}

// eventually(fn, ms): retries an assertion block until it passes (tests/common/util.mjs).
export { eventually } from "../common/util.mjs";

// An @socket.io/redis-emitter on its own Redis connection: {emitter, close()}.
export async function emitter(redisUrl, key) {
  const redis = createClient({ url: redisUrl, socket: { reconnectStrategy: false } });
  redis.on("error", () => {});
  await redis.connect();
  return {
    emitter: new Emitter(redis, { key }),
    redis,
    close: async () => {
      if (redis.isOpen) await redis.close().catch(() => {});
    },
  };
}

// Fresh names for rooms and events (every test uses its own).
let counter = 0;
export function uniq(prefix = "x") {
  return `${prefix}-${++counter}-${randomBytes(3).toString("hex")}`;
}

// The handshake fields Node's fetchSockets reports (socket.io's Handshake).
export const HANDSHAKE_KEYS = ["address", "auth", "headers", "issued", "query", "secure", "time", "url", "xdomain"];

export function assertHandshake(h, { auth, transport }, where) {
  assert.deepEqual(Object.keys(h).sort(), HANDSHAKE_KEYS, `${where}: handshake keys`);
  assert.equal(typeof h.headers, "object", `${where}: headers`);
  assert.equal(typeof h.time, "string", `${where}: time`);
  assert.ok(!Number.isNaN(Date.parse(h.time)), `${where}: time ${h.time} parses as a date`);
  assert.equal(typeof h.address, "string", `${where}: address`);
  assert.match(h.address, /127\.0\.0\.1/, `${where}: address`);
  assert.equal(h.xdomain, false, `${where}: xdomain`);
  assert.equal(h.secure, false, `${where}: secure`);
  assert.equal(typeof h.issued, "number", `${where}: issued`);
  assert.ok(Math.abs(h.issued - Date.now()) < 10 * 60_000, `${where}: issued ${h.issued} is a recent epoch in ms`);
  assert.equal(typeof h.url, "string", `${where}: url`);
  assert.match(h.url, /^\/socket\.io\/\?/, `${where}: url`);
  assert.equal(h.query.EIO, "4", `${where}: query.EIO`);
  assert.equal(h.query.transport, transport, `${where}: query.transport`);
  assert.deepEqual(h.auth, auth, `${where}: auth`);
}

// Closes peers, ignoring the ones already gone.
export function closeAll(peers) {
  for (const p of peers) p.close();
}
