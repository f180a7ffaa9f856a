// The scripted SDK session in Node: connect, emit both ways, acks with and without
// timeout, binary, namespaces, middleware refusal, buffered emits, server restart and
// automatic reconnection. Runs against the Chorus interop app and, with
// CHORUS_TARGET=reference, against its twin on the official socket.io server; must pass
// against both. Transports: WebSocket, long-polling, polling -> WebSocket upgrade, and SSE
// (alone and upgraded) when the server has it. Nothing is injected: the SDK finds its
// WebSocket (the `ws` package under Node 20) and reads SSE with fetch by itself.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Peer, TARGET, byteFetch, loadSdk, normalize, sleep, startServer, supportsSse, trapUncaught } from "./harness.mjs";

const { io, Manager, Socket } = await loadSdk();
const trap = trapUncaught();

const server = await startServer();
const sse = await supportsSse(server.url);
after(async () => {
  await server.stop();
  trap.check();
  trap.release();
});

const MODES = [
  { name: "websocket", opts: { transports: ["websocket"] }, final: "websocket" },
  { name: "polling", opts: { transports: ["polling"] }, final: "polling" },
  { name: "polling+upgrade", opts: { transports: ["polling", "websocket"] }, final: "websocket" },
  { name: "sse", opts: { transports: ["sse"] }, final: "sse", sse: true },
  { name: "sse+upgrade", opts: { transports: ["sse", "websocket"] }, final: "websocket", sse: true },
];

function open(nsp, mode, extra = {}) {
  const socket = io(server.url + nsp, {
    ...mode.opts,
    forceNew: true,
    reconnection: false,
    autoConnect: false,
    ...extra,
  });
  return new Peer(socket);
}

async function connected(nsp, mode, extra) {
  const p = open(nsp, mode, extra);
  p.socket.connect();
  const outcome = await p.first(["connect", "connect_error"]);
  if (outcome.event === "connect_error") throw new Error(`connect_error: ${outcome.args[0].message}`);
  return p;
}

async function waitTransport(socket, name, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (socket.io.engine?.transport.name !== name) {
    if (Date.now() > deadline) throw new Error(`still on ${socket.io.engine?.transport.name}, not ${name}`);
    await sleep(20);
  }
}

test("exports the socket.io-client API", () => {
  assert.equal(typeof io, "function");
  assert.equal(io.Manager, Manager);
  assert.equal(io.Socket, Socket);
  assert.equal(io.protocol, 5);
});

for (const mode of MODES) {
  describe(`session over ${mode.name}`, { skip: mode.sse && !sse ? "the server has no SSE transport" : false }, () => {
    let p;
    before(async () => {
      p = await connected("/", mode);
      await waitTransport(p.socket, mode.final);
    });
    after(() => p?.socket.disconnect());

    test("connect: welcome, id, transport", async () => {
      const [welcome] = await p.next("welcome");
      assert.equal(welcome.id, p.socket.id);
      assert.deepEqual(welcome.auth, {});
      assert.equal(p.socket.connected, true);
      assert.equal(p.socket.disconnected, false);
      assert.equal(p.socket.io.engine.transport.name, mode.final);
      assert.equal(globalThis.WebSocket, undefined, "nothing injected: no global WebSocket under Node 20");
    });

    test("emit both ways", async () => {
      p.socket.emit("echo", 1, "two", { three: [3, null, true] });
      assert.deepEqual(await p.next("echo"), [1, "two", { three: [3, null, true] }]);
      const unicode = "héllo \u{1F600} \u2028 cr\r\nlf";
      p.socket.emit("echo", unicode);
      assert.deepEqual(await p.next("echo"), [unicode]);
    });

    test("acks: callback, emitWithAck, timeout met and missed", async () => {
      const reply = await new Promise((resolve) => p.socket.emit("echo", "a", 2, (...args) => resolve(args)));
      assert.deepEqual(reply, ["a", 2]);
      assert.equal(await p.socket.emitWithAck("echo", "first", "second"), "first");
      assert.equal(await p.socket.timeout(2_000).emitWithAck("echo", 42), 42);
      const [err, value] = await new Promise((resolve) =>
        p.socket.timeout(2_000).emit("echo", "x", (e, v) => resolve([e, v])));
      assert.equal(err, null);
      assert.equal(value, "x");
      // "binary" is handled without an ack: the timeout fires.
      await assert.rejects(p.socket.timeout(200).emitWithAck("binary", 1), /operation has timed out/);
      await p.next("binary-back");
    });

    test("acks asked by the server, answered and not", async () => {
      p.socket.once("question", (q, ack) => ack({ answer: q * 2 }));
      p.socket.emit("ask", 21);
      assert.deepEqual(await p.next("answer"), [{ answer: 42 }]);
      p.socket.once("question", () => {});  // never acked: the server's 500 ms timeout
      p.socket.emit("ask", 1);
      const [answer] = await p.next("answer");
      assert.match(answer.error, /timed out/);
    });

    test("binary, nested, both ways", async () => {
      const blob = new Blob([new Uint8Array([7, 7])]);
      const args = [new Uint8Array([1, 2, 3]), { deep: [new Uint8Array([4]).buffer, "s"] }, new Uint8Array(0), blob];
      const back = await p.socket.timeout(2_000).emitWithAck("echo", ...args);
      assert.deepEqual(normalize(back), { $bin: "010203" });
      p.socket.emit("binary", { file: new Uint16Array([0x0102, 0x0304]) }, "tail", blob);
      const echoed = await p.next("binary-back");
      assert.ok(echoed[0].file instanceof ArrayBuffer);
      assert.deepEqual(normalize(echoed), [{ file: { $bin: "02010403" } }, "tail", { $bin: "0707" }]);
    });

    test("onAny, onAnyOutgoing, once, off", async () => {
      const outgoing = [];
      const record = (...args) => outgoing.push(args);
      p.socket.onAnyOutgoing(record);
      p.socket.emit("echo", "out");
      p.socket.offAnyOutgoing(record);
      p.socket.emit("echo", "unseen");
      assert.deepEqual(outgoing, [["echo", "out"]]);
      await p.next("echo");
      await p.next("echo");
      let count = 0;
      const counter = () => count++;
      p.socket.on("echo", counter);
      p.socket.emit("echo", 1);
      await p.next("echo");
      p.socket.off("echo", counter);
      p.socket.emit("echo", 2);
      await p.next("echo");
      assert.equal(count, 1);
    });

    test("namespaces over one connection, auth, dynamic namespaces", async () => {
      const admin = new Peer(p.socket.io.socket("/admin", { auth: { token: "letmein" } }));
      admin.socket.connect();
      await admin.next("connect");
      const [welcome] = await admin.next("welcome");
      assert.deepEqual(welcome.auth, { token: "letmein" });
      assert.equal(admin.socket.io, p.socket.io);
      assert.deepEqual(await admin.socket.emitWithAck("echo", "admin"), "admin");
      const dyn = new Peer(p.socket.io.socket("/dyn-7"));
      dyn.socket.connect();
      assert.deepEqual(await dyn.next("nsp"), ["/dyn-7"]);
      admin.socket.disconnect();
      dyn.socket.disconnect();
      assert.equal(p.socket.connected, true);
      assert.equal(await p.socket.emitWithAck("echo", "still here"), "still here");
    });

    test("middleware refusal: connect_error with message and data", async () => {
      const refused = open("/admin", mode);
      refused.socket.connect();
      const [err] = await refused.next("connect_error");
      assert.equal(err.message, "not authorized");
      assert.deepEqual(err.data, { code: 403 });
      assert.equal(refused.socket.active, false);
      const fn = open("/admin", mode, { auth: (cb) => cb({ token: "letmein" }) });
      fn.socket.connect();
      await fn.next("connect");
      fn.socket.disconnect();
    });

    test("emits before connecting are buffered, volatile ones dropped", async () => {
      const q = open("/", mode);
      q.socket.emit("echo", "buffered", 1);
      q.socket.volatile.emit("echo", "volatile");
      const acked = q.socket.emitWithAck("echo", "buffered-ack");
      q.socket.connect();
      await q.next("connect");
      assert.equal(await acked, "buffered-ack");
      assert.deepEqual(await q.next("echo"), ["buffered", 1]);
      await q.none("echo");
      q.socket.disconnect();
    });

    test("retries: an unacked emit is sent retries + 1 times, then fails", async () => {
      const q = await connected("/", mode, { retries: 2, ackTimeout: 150 });
      const [err] = await new Promise((resolve) => q.socket.emit("binary", "retry me", (...args) => resolve(args)));
      assert.match(String(err?.message), /operation has timed out/);
      for (let i = 0; i < 3; i++) assert.deepEqual(await q.next("binary-back"), ["retry me"]);
      await q.none("binary-back");
      // Acked on the first try: the callback gets (null, reply).
      const reply = await new Promise((resolve) => q.socket.emit("echo", "once", (...args) => resolve(args)));
      assert.deepEqual(reply, [null, "once"]);
      q.socket.disconnect();
    });

    if (mode.name === "sse") test("the stream read one byte per chunk: same events", async () => {
      const q = await connected("/", mode, { fetch: byteFetch });
      const texts = ["h\u00e9llo \u{1F600} \u2028", "cr\r\nlf\rcr\nlf", "x".repeat(3000)];
      for (const t of texts) {
        q.socket.emit("echo", t);
        assert.deepEqual(await q.next("echo"), [t]);
      }
      q.socket.emit("binary", new Uint8Array([0, 13, 10, 255]));
      const [back] = await q.next("binary-back");
      assert.ok(back instanceof ArrayBuffer);
      assert.deepEqual(normalize(back), { $bin: "000d0aff" });
      q.socket.disconnect();
    });

    test("disconnect reasons: server and client", async () => {
      const q = await connected("/", mode);
      q.socket.emit("disconnect-me");
      assert.equal((await q.next("disconnect"))[0], "io server disconnect");
      assert.equal(q.socket.connected, false);
      assert.equal(q.socket.id, undefined);
      const r = await connected("/", mode);
      r.socket.disconnect();
      assert.equal((await r.next("disconnect"))[0], "io client disconnect");
      // An ack pending at that moment fails.
      const s = await connected("/", mode);
      const pending = s.socket.timeout(5_000).emitWithAck("binary", "never acked");
      s.socket.disconnect();
      await assert.rejects(pending, /socket has been disconnected/);
    });
  });
}

describe("server restart", () => {
  for (const mode of MODES) {
    test(`automatic reconnection over ${mode.name}`, { skip: mode.sse && !sse ? "no SSE" : false }, async () => {
      const own = await startServer();
      const port = own.port;
      let current = own;
      try {
        const socket = io(`http://127.0.0.1:${port}/`, {
          ...mode.opts,
                forceNew: true,
          reconnectionDelay: 100,
          reconnectionDelayMax: 300,
          timeout: 2_000,
        });
        const p = new Peer(socket);
        const events = [];
        for (const e of ["reconnect_attempt", "reconnect", "reconnect_error"]) socket.io.on(e, () => events.push(e));
        await p.next("connect");
        const firstId = socket.id;
        await p.next("welcome");
        await current.stop();
        const [reason] = await p.next("disconnect");
        assert.ok(["transport close", "transport error"].includes(reason), reason);
        // While down: plain and acked emits wait; volatile ones are dropped.
        socket.emit("echo", "while down");
        socket.volatile.emit("echo", "volatile while down");
        const acked = socket.emitWithAck("echo", "ack while down");
        await sleep(400);  // let a reconnection attempt or two fail
        current = await startServer(port);
        await p.next("connect", 10_000);
        assert.notEqual(socket.id, firstId);
        assert.equal(await acked, "ack while down");
        assert.deepEqual(await p.next("echo"), ["while down"]);
        await p.none("echo");
        assert.ok(events.includes("reconnect_attempt"));
        assert.ok(events.includes("reconnect"));
        socket.disconnect();
      } finally {
        await current.stop();
      }
    });
  }

  test("reconnection gives up after reconnectionAttempts", async () => {
    const own = await startServer();
    const socket = io(own.url, {
      transports: ["websocket"],
      forceNew: true,
      reconnectionAttempts: 2,
      reconnectionDelay: 50,
      reconnectionDelayMax: 50,
    });
    const p = new Peer(socket);
    const failed = new Promise((resolve) => socket.io.on("reconnect_failed", resolve));
    const errors = [];
    const attempts = [];
    socket.io.on("reconnect_error", (e) => errors.push(e.message));
    socket.io.on("reconnect_attempt", (n) => attempts.push(n));
    await p.next("connect");
    await own.stop();
    await failed;
    await sleep(10);  // as socket.io-client: reconnect_failed comes just before the last reconnect_error
    assert.deepEqual(attempts, [1, 2]);
    assert.equal(errors.length, 2, JSON.stringify(errors));
    assert.equal(socket.active, true);
    socket.disconnect();
  });
});

test(`target is ${TARGET}`, () => {});
