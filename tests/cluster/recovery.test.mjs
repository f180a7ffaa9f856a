// Connection state recovery on one Chorus node, seen by the official socket.io-client 4.8:
// a client whose transport dropped comes back with the same id, its rooms and data, and the
// events it missed (before its "connect"), `recovered` true; and where it must not.
//
// The node is chorus-cluster-app (no Redis) with --recovery-ms; events are sent through its
// control API (tests/apps/cluster_app.cpp).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startProcess } from "../common/process.mjs";
import { sleep } from "../common/util.mjs";
import { ctl, startNode, startRedis, uniq, waitFor } from "./harness.mjs";
import { WAIT, drop, events, reconnect, recorder, resume, until } from "./recorder.mjs";

const APP = process.env.CHORUS_CLUSTER_APP;

async function startApp(args) {
  const srv = await startProcess(APP, ["--port", "0", "--name", "solo", ...args], { name: "chorus-cluster-app", timeoutMs: 30_000 });
  srv.base = `http://${srv.host}:${srv.port}`;
  srv.nodeName = "solo";
  return srv;
}

describe("connection state recovery (one Chorus node, official socket.io-client)", { concurrency: false, skip: APP ? false : "CHORUS_CLUSTER_APP not set (the chorus-cluster-app binary)" }, () => {
  let node;
  before(async () => {
    node = await startApp(["--recovery-ms", "60000"]);
  });
  after(async () => {
    await node?.stop({ strict: true });
  });

  for (const transport of ["websocket", "polling"]) {
    test(`${transport}: same id, rooms and data, the missed events once and in order before "connect"`, async () => {
      const r = await recorder(node, { transport });
      const id = r.socket.id;
      const R = uniq("room");
      await r.socket.timeout(WAIT).emitWithAck("join", R);
      await r.socket.timeout(WAIT).emitWithAck("set", { kept: transport });
      const ev = uniq("ev");
      await ctl(node, "emit", { rooms: [R], event: ev, args: ["before"] });
      await until(r, (e) => e[0] === ev, "the first event");
      // Each event carries its offset, a string, last.
      const first = events(r, 0, r.log.length, ev)[0];
      assert.equal(first[1], "before");
      assert.equal(typeof first[2], "string", "the offset");

      await drop(r);
      for (const n of [1, 2, 3]) await ctl(node, "emit", { rooms: [R], event: ev, args: [`away-${n}`] });
      await ctl(node, "emit", { rooms: [uniq("other")], event: ev, args: ["not for it"] });
      await ctl(node, "emit", { event: ev, args: ["to everyone"] });
      await ctl(node, "emit", { rooms: [R], volatile: true, event: ev, args: ["volatile"] });
      const { from, at } = await reconnect(r);
      assert.deepEqual(r.log[at].slice(1), [id, true], "same id, recovered");
      const missed = events(r, from, at, ev).map((e) => e[1]);
      assert.deepEqual(missed, ["away-1", "away-2", "away-3", "to everyone"], "missed events before connect, once, in order; no volatile");

      // The rooms came back: a room broadcast after the return arrives, once.
      await ctl(node, "emit", { rooms: [R], event: ev, args: ["after"] });
      await until(r, (e) => e[0] === ev && e[1] === "after", "a room event after the return", at);
      const { connections } = await ctl(node, "connections", {});
      const mine = connections.filter((c) => c.id === id);
      assert.equal(mine.length, 2, "connected twice");
      assert.equal(mine[1].recovered, true);
      assert.deepEqual(mine[1].rooms, [R, id].sort(), "handlers saw the rooms as they were");
      assert.deepEqual(mine[1].data, { node: "solo", user: null, extra: { kept: transport } }, "and the data");
      assert.equal(events(r, 0, r.log.length, ev).filter((e) => e[1] === "after").length, 1);
      r.socket.disconnect();
    });
  }

  test("a client that received no event yet recovers too (the reference cannot: no offset)", async () => {
    const r = await recorder(node, { transport: "websocket" });
    const id = r.socket.id;
    const R = uniq("room");
    await r.socket.timeout(WAIT).emitWithAck("join", R);
    await drop(r);
    const ev = uniq("ev");
    await ctl(node, "emit", { rooms: [R], event: ev, args: ["while away"] });
    const { from, at } = await reconnect(r);
    assert.deepEqual(r.log[at].slice(1), [id, true]);
    assert.deepEqual(events(r, from, at, ev).map((e) => e[1]), ["while away"]);
    r.socket.disconnect();
  });

  test("an explicit disconnect is not recovered: a new id, no rooms", async () => {
    const r = await recorder(node, { transport: "websocket" });
    const id = r.socket.id;
    const R = uniq("room");
    await r.socket.timeout(WAIT).emitWithAck("join", R);
    r.socket.disconnect();
    await until(r, (e) => e[0] === "disconnect", "the disconnect");
    const ev = uniq("ev");
    await ctl(node, "emit", { rooms: [R], event: ev, args: ["gone"] });
    const { from, at } = await reconnect(r);
    assert.equal(r.log[at][2], false, "not recovered");
    assert.notEqual(r.log[at][1], id, "a new id");
    assert.deepEqual(events(r, from, r.log.length, ev), []);
    const { sockets } = await ctl(node, "fetch", { rooms: [R] });
    assert.deepEqual(sockets, [], "the room is empty");
    r.socket.disconnect();
  });

  test("a session is restored once: the same pid and offset presented again get a fresh socket", async () => {
    const r = await recorder(node, { transport: "websocket" });
    const ev = uniq("ev");
    await ctl(node, "emit", { rooms: [r.socket.id], event: ev, args: ["x"] });
    await until(r, (e) => e[0] === ev, "the event");
    const pid = r.socket._pid;
    const offset = r.socket._lastOffset;
    assert.equal(typeof pid, "string");
    await drop(r);
    const { at } = await reconnect(r);
    assert.equal(r.log[at][2], true, "the first return recovers");
    const { r: thief, at: thiefAt } = await resume(node, r, { pid, offset });
    assert.equal(thief.log[thiefAt][2], false, "a second return does not");
    assert.notEqual(thief.log[thiefAt][1], r.socket.id);
    r.socket.disconnect();
    thief.socket.disconnect();
  });
});

describe("connection state recovery and a client that stops reading", { skip: APP ? false : "CHORUS_CLUSTER_APP not set" }, () => {
  test("a broadcast that overflows a stalled client's queue drops that client and goes on (no deadlock on the recovery lock)", async () => {
    const node = await startApp(["--recovery-ms", "60000"]);
    try {
      // A raw polling session that joins "/" and then never polls again: everything sent to it
      // waits in its queue until the queue passes max_buffered_bytes (4 MiB).
      const base = `${node.base}/socket.io/?EIO=4&transport=polling`;
      const open = await (await fetch(base)).text();
      const sid = JSON.parse(open.slice(1)).sid;
      const post = await fetch(`${base}&sid=${sid}`, { method: "POST", body: "40" });
      assert.equal(post.status, 200);
      await waitFor(async () => (await ctl(node, "fetch", {})).sockets.length === 1, { ms: WAIT, what: "the stalled socket" });
      const watcher = await recorder(node, { transport: "websocket" });
      const big = "x".repeat(200_000);
      const ev = uniq("big");
      // 30 x 200 kB = 6 MB for the stalled client: the queue overflows during one of these
      // broadcasts, on the thread that broadcasts.
      for (let i = 0; i < 30; i++) {
        const res = await ctl(node, "emit", { event: ev, args: [i, big] }, { timeoutMs: WAIT });
        assert.equal(res.ok, true);
      }
      await until(watcher, (e) => e[0] === ev && e[1] === 29, "the last broadcast at a reading client");
      await waitFor(async () => (await ctl(node, "fetch", {})).sockets.length === 1, { ms: WAIT, what: "the stalled socket dropped" });
      watcher.socket.disconnect();
    } finally {
      await node.stop({ strict: true });
    }
  });
});

describe("connection state recovery in a cluster (classic Redis adapter)", { skip: APP ? false : "CHORUS_CLUSTER_APP not set" }, () => {
  test("a client back on its Chorus node gets what other nodes (Chorus and Node) broadcast while it was away", async () => {
    const redis = await startRedis();
    const key = uniq("recovery");
    const nodes = [];
    try {
      const chorus = await startProcess(
        APP,
        ["--port", "0", "--name", "c0", "--redis", redis.url, "--redis-key", key, "--recovery-ms", "60000"],
        { name: "chorus node c0", timeoutMs: 30_000 },
      );
      chorus.base = `http://${chorus.host}:${chorus.port}`;
      nodes.push(chorus);
      const other = await startProcess(APP, ["--port", "0", "--name", "c1", "--redis", redis.url, "--redis-key", key], {
        name: "chorus node c1",
        timeoutMs: 30_000,
      });
      other.base = `http://${other.host}:${other.port}`;
      nodes.push(other);
      const node = await startNode("node", { redisUrl: redis.url, key, name: "n2" });
      nodes.push(node);

      const r = await recorder(chorus, { transport: "websocket" });
      const id = r.socket.id;
      const R = uniq("room");
      await r.socket.timeout(WAIT).emitWithAck("join", R);
      const ev = uniq("ev");
      await ctl(node, "emit", { rooms: [R], event: ev, args: ["seen"] });
      await until(r, (e) => e[0] === ev, "a broadcast from the Node node");
      await drop(r);
      await ctl(other, "emit", { rooms: [R], event: ev, args: ["from chorus c1"] });
      await ctl(node, "emit", { rooms: [R], event: ev, args: ["from node n2"] });
      await ctl(node, "emit", { rooms: [uniq("elsewhere")], event: ev, args: ["not for it"] });
      // Fences: a broadcast to everyone from each sender, after its others on the same Redis
      // connection, has reached c0 once another client of c0 got it.
      const fence = await recorder(chorus, { transport: "websocket" });
      await ctl(other, "emit", { event: ev, args: ["fence c1"] });
      await ctl(node, "emit", { event: ev, args: ["fence n2"] });
      await until(fence, (e) => e[0] === ev && e[1] === "fence c1", "c1's fence at c0");
      await until(fence, (e) => e[0] === ev && e[1] === "fence n2", "n2's fence at c0");
      const { from, at } = await reconnect(r);
      assert.deepEqual(r.log[at].slice(1), [id, true], "recovered on its node");
      const missed = events(r, from, at, ev).map((e) => e[1]);
      // Each sender's messages in its order (the two senders' may interleave).
      assert.deepEqual(missed.filter((m) => m.endsWith("c1")), ["from chorus c1", "fence c1"], JSON.stringify(missed));
      assert.deepEqual(missed.filter((m) => m.endsWith("n2")), ["from node n2", "fence n2"], JSON.stringify(missed));
      assert.equal(missed.length, 4, `nothing else: ${JSON.stringify(missed)}`);
      r.socket.disconnect();
      fence.socket.disconnect();
    } finally {
      await Promise.allSettled(nodes.map((n) => n.stop()));
      await redis.stop();
    }
  });
});

describe("connection state recovery limits", { concurrency: true, skip: APP ? false : "CHORUS_CLUSTER_APP not set" }, () => {
  test("a session expires after --recovery-ms", async () => {
    const node = await startApp(["--recovery-ms", "1000"]);
    try {
      const r = await recorder(node, { transport: "websocket" });
      const id = r.socket.id;
      await drop(r);
      await sleep(1500); // past max_disconnection_ms: time itself is what is tested
      const { at } = await reconnect(r);
      assert.equal(r.log[at][2], false, "expired: not recovered");
      assert.notEqual(r.log[at][1], id);
      r.socket.disconnect();
    } finally {
      await node.stop({ strict: true });
    }
  });

  test("more missed packets than --max-replayed: a fresh session, not a partial replay", async () => {
    const node = await startApp(["--recovery-ms", "60000", "--max-replayed", "3"]);
    try {
      for (const [count, recovered] of [
        [3, true],
        [4, false],
      ]) {
        const r = await recorder(node, { transport: "websocket" });
        const id = r.socket.id;
        await drop(r);
        const ev = uniq("ev");
        for (let i = 0; i < count; i++) await ctl(node, "emit", { rooms: [id], event: ev, args: [i] });
        const { from, at } = await reconnect(r);
        assert.equal(r.log[at][2], recovered, `${count} missed`);
        assert.equal(events(r, from, at, ev).length, recovered ? count : 0);
        r.socket.disconnect();
      }
    } finally {
      await node.stop({ strict: true });
    }
  });

  test("without --recovery-ms nothing changes: no offsets, no pid, no recovery", async () => {
    const node = await startApp([]);
    try {
      const r = await recorder(node, { transport: "websocket" });
      const id = r.socket.id;
      const ev = uniq("ev");
      await ctl(node, "emit", { rooms: [id], event: ev, args: ["plain"] });
      await until(r, (e) => e[0] === ev, "the event");
      assert.deepEqual(events(r, 0, r.log.length, ev)[0], [ev, "plain"], "no offset");
      assert.equal(r.socket._pid, undefined, "no pid");
      await drop(r);
      const { at } = await reconnect(r);
      assert.ok(!r.log[at][2], "not recovered (the client says undefined: it holds no pid)");
      assert.notEqual(r.log[at][1], id);
      r.socket.disconnect();
    } finally {
      await node.stop({ strict: true });
    }
  });
});
