// Connection state recovery with the Chorus SDK across nodes, as it happens behind a load
// balancer: a TCP proxy (tests/common/tcp_proxy.mjs) in front of two chorus-cluster-app nodes
// (env CHORUS_CLUSTER_APP) with --redis-adapter streams --recovery-ms 60000 sharing one
// redis-server (tests/cluster/redis.mjs, env CHORUS_REDIS_SERVER). The SDK's io() connects
// through the proxy, with its default reconnection, as an application would. The proxy fails
// over from node A to node B, dropping the connection; while the client is away, A and B
// publish to its room and to its id; it reconnects by itself through the proxy, reaches B, and
// comes back with `recovered` true, its id, its room and the events it missed (once, in order,
// before "connect"). After an explicit disconnect it does not (WebSocket, polling and SSE).
//
// No timing is assumed: the proxy holds the reconnection (once it has come, after the SDK's
// default delays) until A has written the session to Redis (a client faster than that gets a
// fresh socket, README: connection state recovery) and every missed event is in the stream.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startProxy } from "../common/tcp_proxy.mjs";
import { ctl, startCluster, uniq, waitFor } from "../cluster/harness.mjs";
import { WAIT, until } from "../cluster/recorder.mjs";
import { loadSdk, trapUncaught } from "./harness.mjs";

const APP = process.env.CHORUS_CLUSTER_APP;
const RECOVERY_MS = 60_000;
const STREAM = "socket.io"; // the streams adapter's default stream name
const SESSIONS = "sio:session:*"; // and its session keys
const OFFSET = /^\d+-\d+$/; // a Redis stream entry id
const { io } = await loadSdk();
const trap = trapUncaught();

// An SDK socket through `proxy`, default reconnection, one transport; its events (offsets
// included), "connect" (with id and `recovered`), "disconnect" and "connect_error" in one log.
function client(proxy, transport) {
  const socket = io(proxy.url, { transports: [transport], forceNew: true });
  const log = [];
  socket.onAny((event, ...args) => log.push([event, ...args]));
  socket.on("connect", () => log.push(["connect", socket.id, socket.recovered]));
  socket.on("disconnect", (reason) => log.push(["disconnect", reason]));
  socket.on("connect_error", (err) => log.push(["connect_error", err.message]));
  return { socket, log };
}

describe("SDK recovery across nodes behind a failing-over proxy", { concurrency: false, skip: APP ? false : "CHORUS_CLUSTER_APP not set" }, () => {
  let cluster;
  let A;
  let B;

  before(async () => {
    cluster = await startCluster(["chorus", "chorus"], { adapter: "streams", recoveryMs: RECOVERY_MS });
    [A, B] = cluster.nodes;
    // Both speak the streams adapter (each subscribed to its public channel), so a failure
    // below is about recovery.
    const channel = `${cluster.key}#/#`;
    await waitFor(async () => (await cluster.redis.numsub(channel))[channel] === 2, { ms: WAIT, what: `both nodes subscribed to ${channel}` });
  });
  after(async () => {
    await cluster?.stop();
    trap.check();
    trap.release();
  });

  const redis = (...args) => cluster.redis.command(...args);
  const sessions = async () => new Set(await redis("KEYS", SESSIONS));

  // Whether the stream holds the event [ev, label] (JSON entry data: no binary here).
  async function inStream(ev, label) {
    for (const [, fields] of await redis("XRANGE", STREAM, "-", "+")) {
      const i = fields.indexOf("data");
      if (i < 0 || i % 2 !== 0 || !fields[i + 1].startsWith("{")) continue;
      const data = JSON.parse(fields[i + 1]).packet?.data;
      if (Array.isArray(data) && data[0] === ev && data[1] === label) return true;
    }
    return false;
  }

  // `node` emits [ev, label] to `rooms`; resolves once the entry is in the stream (so B's
  // restore reads it, and the order of the stream is the order of the calls).
  async function publish(node, rooms, ev, label) {
    await ctl(node, "emit", { rooms, event: ev, args: [label] });
    await waitFor(() => inStream(ev, label), { ms: WAIT, what: `"${label}" from ${node.nodeName} in the stream` });
  }

  // A proxy in front of A (one per test: fetch keeps HTTP connections to an origin for the next
  // request, and the previous test's would be dropped under this one's first request) and a
  // client connected through it, in room R, holding an offset.
  async function joined(t, transport) {
    const proxy = await startProxy(A.port);
    const r = client(proxy, transport);
    t.after(() => {
      r.socket.disconnect();
      return proxy.close();
    });
    const first = await until(r, (e) => e[0] === "connect" || e[0] === "connect_error", "the first connect");
    assert.deepEqual(r.log[first].slice(0, 3), ["connect", r.socket.id, false], "connected, fresh");
    const R = uniq("room");
    await r.socket.timeout(WAIT).emitWithAck("join", R);
    const ev = uniq("ev");
    await ctl(A, "emit", { rooms: [R], event: ev, args: ["before"] });
    const i = await until(r, (e) => e[0] === ev && e[1] === "before", "the event before the failover");
    assert.match(r.log[i].at(-1), OFFSET, "a live event carries its stream id, last");
    assert.deepEqual((await ctl(A, "fetch", { rooms: [R] })).sockets.map((s) => s.id), [r.socket.id], "on A, in R");
    return { proxy, r, id: r.socket.id, R, ev };
  }

  // The log from `from` to the next "connect": {at, before} with `at` its index and `before` what
  // came before it. A connect_error there is left out: the SDK tries again by itself (the first
  // request may go out on a kept-alive HTTP connection the proxy has just closed, as a load
  // balancer that fails over does), and the session is taken only by a connection that succeeds.
  async function nextConnect(r, from, what) {
    const at = await until(r, (e) => e[0] === "connect", what, from);
    return { at, before: r.log.slice(from, at).filter((e) => e[0] !== "connect_error") };
  }

  for (const transport of ["websocket", "polling", "sse"]) {
    test(`${transport}: the proxy fails over to B; the SDK reconnects by itself and recovers its id, room and missed events`, async (t) => {
      const { proxy, r, id, R, ev } = await joined(t, transport);
      const known = await sessions();

      const from = r.log.length;
      proxy.hold();
      proxy.switchTo(B.port);
      const gone = await until(r, (e) => e[0] === "disconnect", "the disconnect", from);
      assert.match(r.log[gone][1], /^transport (close|error)$/, "a transport drop");
      const key = await waitFor(async () => [...(await sessions())].find((k) => !known.has(k)), {
        ms: WAIT,
        what: "A to write the session to Redis",
      });

      // Its own reconnection (default delays) reaches the proxy, which holds it.
      await waitFor(() => proxy.held.size > 0, { ms: WAIT, what: "the SDK's reconnection to reach the proxy" });

      const away = [
        [A, [R], "away-1: A to the room"],
        [B, [id], "away-2: B to its id"],
        [A, [id], "away-3: A to its id"],
        [B, [R], "away-4: B to the room"],
      ];
      for (const [node, rooms, label] of away) await publish(node, rooms, ev, label);
      proxy.release();

      const { at, before: between } = await nextConnect(r, gone + 1, "the reconnect through the proxy");
      assert.deepEqual(r.log[at].slice(0, 3), ["connect", id, true], `recovered with its id: ${JSON.stringify(r.log.slice(gone))}`);
      assert.deepEqual(
        between.map((e) => e.slice(0, 2)),
        away.map(([, , label]) => [ev, label]),
        "exactly the missed events, once, in order, before connect",
      );
      for (const e of between) assert.match(e.at(-1), OFFSET, "a replayed event carries its stream id");
      assert.equal(await redis("EXISTS", key), 0, "B took the session");
      const { connections } = await ctl(B, "connections", {});
      assert.deepEqual(
        connections.filter((c) => c.id === id).map((c) => [c.recovered, c.rooms]),
        [[true, [R, id].sort()]],
        "B saw it connect once, recovered, in its room",
      );

      // The room came back: a broadcast to it (from A, the node it left) arrives once.
      await ctl(A, "emit", { rooms: [R], event: ev, args: ["after"] });
      await until(r, (e) => e[0] === ev && e[1] === "after", "a room event after the return", at);
      await ctl(A, "emit", { rooms: [id], event: ev, args: ["fence"] });
      await until(r, (e) => e[0] === ev && e[1] === "fence", "the fence after the room event", at);
      assert.equal(r.log.filter((e) => e[0] === ev && e[1] === "after").length, 1, "once");
      assert.equal(r.log.filter((e) => e[0] === "connect").length, 2, "connected twice in all: no other reconnect");
    });

    test(`${transport}: after an explicit disconnect, connect() through the proxy is not recovered`, async (t) => {
      const { proxy, r, id, R, ev } = await joined(t, transport);
      const known = await sessions();

      let from = r.log.length;
      r.socket.disconnect();
      await until(r, (e) => e[0] === "disconnect", "the disconnect", from);
      await waitFor(async () => (await ctl(A, "fetch", { rooms: [id] })).sockets.length === 0, { ms: WAIT, what: `A to let ${id} go` });
      assert.deepEqual([...(await sessions())].filter((k) => !known.has(k)), [], "no session stored");
      proxy.switchTo(B.port);
      await publish(A, [R], ev, "gone");

      from = r.log.length;
      r.socket.connect();
      const { at, before: between } = await nextConnect(r, from, "the connect through the proxy");
      assert.equal(r.log[at][2], false, "not recovered");
      assert.notEqual(r.log[at][1], id, "a new id");
      assert.deepEqual(between, [], "nothing replayed");
      assert.deepEqual((await ctl(B, "fetch", { rooms: [R] })).sockets, [], "R is empty");
    });
  }
});
