// Events, acknowledgements and binary attachments between socket.io-client and the server,
// over each transport setup.
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";

import { MODES, connectPeer, eventually, normalize, startServer } from "./harness.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

for (const mode of MODES) {
  describe(`events over ${mode.name}`, () => {
    let p;
    beforeEach(async () => {
      p = await connectPeer(server, "/", mode, { auth: { name: "ada", n: 1 } });
    });
    afterEach(() => p?.close());

    test("connects and gets welcome with its id and auth", async () => {
      const [welcome] = await p.next("welcome");
      assert.equal(welcome.id, p.id);
      assert.deepEqual(welcome.auth, { name: "ada", n: 1 });
      assert.equal(p.socket.io.engine.transport.name, mode.upgrade ? "websocket" : mode.opts.transports[0]);
    });

    test("client event, server event back", async () => {
      const args = [1, "two", { three: [3, null, true] }, null, -0.5, "ünïcödé ✓ 🎵", ""];
      p.socket.emit("echo", ...args);
      assert.deepEqual(await p.next("echo"), args);
    });

    test("a number as event name reaches the handler of its string form", async () => {
      const ask = (name, ...args) => new Promise((resolve) => p.socket.emit(name, ...args, (...r) => resolve(r)));
      assert.deepEqual(await ask(42, "x", 2), ["numeric 42", "x", 2]);
      assert.deepEqual(await ask(1e21, "y"), ["numeric 1e+21", "y"]);
      assert.deepEqual(await p.socket.emitWithAck("echo", "still connected"), "still connected");
    });

    test("ack with a callback", async () => {
      const reply = await new Promise((resolve) => p.socket.emit("echo", "a", 2, { b: [] }, (...r) => resolve(r)));
      assert.deepEqual(reply, ["a", 2, { b: [] }]);
    });

    test("emitWithAck resolves with the first ack argument", async () => {
      assert.deepEqual(await p.socket.emitWithAck("echo", { x: 1 }), { x: 1 });
    });

    test("timeout(ms).emit answered in time", async () => {
      const [err, res] = await new Promise((resolve) =>
        p.socket.timeout(2_000).emit("echo", "x", (e, r) => resolve([e, r])));
      assert.equal(err, null);
      assert.equal(res, "x");
    });

    test("timeout(ms).emitWithAck unanswered rejects", async () => {
      const started = Date.now();
      await assert.rejects(p.socket.timeout(200).emitWithAck("no-such-event", 1), { message: "operation has timed out" });
      assert.ok(Date.now() - started >= 190);
      // The connection is still usable.
      assert.equal(await p.socket.timeout(2_000).emitWithAck("echo", "still here"), "still here");
    });

    test("server emit_with_ack answered by the client", async () => {
      p.socket.on("question", (...args) => {
        const ack = args.pop();
        ack("re:", ...args);
      });
      p.socket.emit("ask", 1, "b", { c: true });
      assert.deepEqual(await p.next("answer"), ["re:", 1, "b", { c: true }]);
    });

    test("server emit_with_ack unanswered times out", async () => {
      p.socket.emit("ask", 42);
      const started = Date.now();
      const [answer] = await p.next("answer", 3_000);
      assert.deepEqual(answer, { error: "operation has timed out" });
      assert.ok(Date.now() - started >= 400, `timed out after ${Date.now() - started} ms, expected ~500`);
      // The question did arrive (with an ack function the client never called).
      const question = await p.next("question");
      assert.equal(question[0], 42);
      assert.equal(typeof question[1], "function");
    });

    test("server emit_with_ack answered with binary", async () => {
      p.socket.on("question", (...args) => args.pop()(Buffer.from([9, 8, 7]), { nested: Buffer.from("hi") }));
      p.socket.emit("ask");
      const answer = await p.next("answer");
      assert.deepEqual(normalize(answer), [{ $bin: "090807" }, { nested: { $bin: "6869" } }]);
    });

    test("binary: a single Buffer", async () => {
      p.socket.emit("binary", Buffer.from([0, 1, 2, 255]));
      assert.deepEqual(normalize(await p.next("binary-back")), [{ $bin: "000102ff" }]);
    });

    test("binary: nested and several attachments, mixed with JSON", async () => {
      const args = [
        "text",
        { a: Buffer.from("one"), list: [Buffer.from([1]), 2, { deep: Buffer.from([0xde, 0xad]) }] },
        [Buffer.alloc(0), Buffer.from("xyz")],
        42,
      ];
      p.socket.emit("binary", ...args);
      assert.deepEqual(normalize(await p.next("binary-back")), normalize(args));
    });

    test("binary: Uint8Array and ArrayBuffer", async () => {
      const u8 = new Uint8Array([5, 6, 7]);
      const ab = new Uint8Array([8, 9]).buffer;
      p.socket.emit("binary", u8, ab);
      assert.deepEqual(normalize(await p.next("binary-back")), [{ $bin: "050607" }, { $bin: "0809" }]);
    });

    test("binary: a 200 kB attachment", async () => {
      const big = Buffer.alloc(200_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      p.socket.emit("binary", big);
      const [back] = await p.next("binary-back", 5_000);
      assert.ok(Buffer.from(back).equals(big));
    });

    test("binary in an ack (BINARY_ACK)", async () => {
      const reply = await p.socket.timeout(2_000).emitWithAck("echo", { file: Buffer.from("data") }, Buffer.from([1]));
      assert.deepEqual(normalize(reply), { file: { $bin: "64617461" } });
    });

    test("many events keep their order", async () => {
      for (let i = 0; i < 200; i++) p.socket.emit("echo", i);
      for (let i = 0; i < 200; i++) assert.deepEqual(await p.next("echo"), [i]);
    });

    test("count sees this socket", async () => {
      await eventually(async () => assert.ok((await p.socket.timeout(2_000).emitWithAck("count")) >= 1));
    });
  });
}

describe("handshake auth", () => {
  test("defaults to an empty object", async () => {
    const p = await connectPeer(server, "/", MODES[0]);
    try {
      const [welcome] = await p.next("welcome");
      assert.deepEqual(welcome.auth, {});
    } finally {
      p.close();
    }
  });
});
