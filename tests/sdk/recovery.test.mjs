// Connection state recovery with the Chorus SDK in Node: over WebSocket, long-polling and SSE,
// a session whose transport the server dropped comes back with the same id, `recovered` true,
// its rooms, and the events it missed (before "connect", once, in order).
//
// The server is chorus-cluster-app (env CHORUS_CLUSTER_APP) with --recovery-ms, driven through
// its control API; the drop is the server's disconnect_sockets(close = true), a reason that
// keeps the session ("forced server close").
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startProcess } from "../common/process.mjs";
import { loadSdk, trapUncaught } from "./harness.mjs";

const APP = process.env.CHORUS_CLUSTER_APP;
const WAIT = 10_000;
const { io } = await loadSdk();
const trap = trapUncaught();

let counter = 0;
const uniq = (p) => `${p}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

async function ctl(node, op, body) {
  const res = await fetch(`${node.base}/ctl/${op}`, { method: "POST", body: JSON.stringify(body) });
  assert.equal(res.status, 200, `${op}: status ${res.status}`);
  return res.json();
}

async function until(r, pred, what, from = 0) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const i = r.log.findIndex((e, k) => k >= from && pred(e));
    if (i >= 0) return i;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${WAIT} ms: ${JSON.stringify(r.log.slice(from))}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

describe("connection state recovery with the SDK", { concurrency: false, skip: APP ? false : "CHORUS_CLUSTER_APP not set" }, () => {
  let node;
  before(async () => {
    node = await startProcess(APP, ["--port", "0", "--name", "solo", "--recovery-ms", "60000"], { name: "chorus-cluster-app" });
    node.base = `http://${node.host}:${node.port}`;
  });
  after(async () => {
    await node?.stop({ strict: true });
    trap.check();
    trap.release();
  });

  for (const transport of ["websocket", "polling", "sse"]) {
    test(`${transport}: dropped by the server, back with its id, rooms and missed events`, async () => {
      const socket = io(node.base, { transports: [transport], forceNew: true, reconnection: false });
      const log = [];
      socket.onAny((event, ...args) => log.push([event, ...args]));
      socket.on("connect", () => log.push(["connect", socket.id, socket.recovered]));
      socket.on("disconnect", (reason) => log.push(["disconnect", reason]));
      socket.on("connect_error", (err) => log.push(["connect_error", err.message]));
      const r = { log };
      try {
        await until(r, (e) => e[0] === "connect", "connect");
        const id = socket.id;
        const R = uniq("room");
        await socket.timeout(WAIT).emitWithAck("join", R);
        const ev = uniq("ev");
        await ctl(node, "emit", { rooms: [R], event: ev, args: ["before"] });
        await until(r, (e) => e[0] === ev, "the first event");
        assert.equal(typeof log.find((e) => e[0] === ev)[2], "string", "the offset, last");

        let from = log.length;
        await ctl(node, "disconnect", { rooms: [id], close: true });
        await until(r, (e) => e[0] === "disconnect", "the disconnect", from);
        for (const n of [1, 2]) await ctl(node, "emit", { rooms: [R], event: ev, args: [`away-${n}`] });
        await ctl(node, "emit", { rooms: [R], volatile: true, event: ev, args: ["volatile"] });

        from = log.length;
        socket.connect();
        const at = await until(r, (e) => e[0] === "connect" || e[0] === "connect_error", "the reconnect", from);
        assert.deepEqual(log[at].slice(0, 3), ["connect", id, true], JSON.stringify(log.slice(from)));
        const missed = log.slice(from, at).filter((e) => e[0] === ev).map((e) => e[1]);
        assert.deepEqual(missed, ["away-1", "away-2"], "missed, once, in order, no volatile, before connect");
        await ctl(node, "emit", { rooms: [R], event: ev, args: ["after"] });
        await until(r, (e) => e[0] === ev && e[1] === "after", "a room event after the return", at);
      } finally {
        socket.disconnect();
      }
    });
  }
});
