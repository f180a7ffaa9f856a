// Connection lifecycle: disconnects from either side with their reasons as both ends see
// them, and automatic reconnection after the server is killed and restarted on its port.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { MODES, connectPeer, eventually, sleep, startServer } from "./harness.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

// The server-side disconnect reason of socket `id`, as the app logged it.
async function serverReason(observer, id) {
  return eventually(async () => {
    const log = await observer.socket.timeout(2_000).emitWithAck("reasons");
    const entry = log.find(([sid]) => sid === id);
    assert.ok(entry, `no server-side disconnect logged for ${id}`);
    return entry[1];
  });
}

const RECONNECT = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200, randomizationFactor: 0 };

for (const mode of MODES) {
  describe(`lifecycle over ${mode.name}`, () => {
    let observer;
    before(async () => {
      observer = await connectPeer(server, "/", mode);
    });
    after(() => observer?.close());

    test("socket.disconnect() on the server: 'io server disconnect', no reconnection", async () => {
      const p = await connectPeer(server, "/", mode, RECONNECT);
      try {
        const id = p.id;
        p.socket.emit("disconnect-me");
        assert.deepEqual(await p.next("disconnect"), ["io server disconnect"]);
        assert.equal(p.socket.connected, false);
        assert.equal(p.socket.active, false);
        assert.equal(await serverReason(observer, id), "server namespace disconnect");
        await p.none("connect", 400);
        // The client may come back explicitly.
        p.socket.connect();
        await p.next("connect");
        assert.notEqual(p.id, id);
        assert.equal(await p.socket.timeout(2_000).emitWithAck("echo", "back"), "back");
      } finally {
        p.close();
      }
    });

    test("socket.disconnect() on the client: 'io client disconnect' / 'client namespace disconnect'", async () => {
      const p = await connectPeer(server, "/", mode);
      const id = p.id;
      p.socket.disconnect();
      assert.deepEqual(await p.next("disconnect"), ["io client disconnect"]);
      assert.equal(await serverReason(observer, id), "client namespace disconnect");
      p.close();
    });

    test("client closes the transport: 'forced close' / 'transport close'", async () => {
      const p = await connectPeer(server, "/", mode);
      const id = p.id;
      p.socket.io.engine.close();
      assert.deepEqual(await p.next("disconnect"), ["forced close"]);
      assert.equal(await serverReason(observer, id), "transport close");
      p.close();
    });

    test("kick-room: 'io server disconnect' / 'server namespace disconnect'", async () => {
      const p = await connectPeer(server, "/", mode);
      const id = p.id;
      const room = `kick-${process.pid}-${mode.name}`;
      await p.socket.timeout(2_000).emitWithAck("join", room);
      await observer.socket.timeout(2_000).emitWithAck("kick-room", room);
      assert.deepEqual(await p.next("disconnect"), ["io server disconnect"]);
      assert.equal(await serverReason(observer, id), "server namespace disconnect");
      p.close();
    });

    test("graceful shutdown (SIGTERM): clean exit, client sees the transport close", async () => {
      for (let round = 0; round < 2; round++) {
        const own = await startServer();
        const p = await connectPeer(own, "/", mode);
        try {
          await p.next("welcome");
          assert.deepEqual(await own.stop("SIGTERM"), { code: 0, signal: null }, "clean exit on SIGTERM");
          const [reason] = await p.next("disconnect");
          // Polling: when no poll is held at that instant, the next one fails ("transport
          // error"); the raw test below checks that a held poll gets a CLOSE packet.
          const expected = mode.name === "polling" ? ["transport close", "transport error"] : ["transport close"];
          assert.ok(expected.includes(reason), `round ${round}: ${reason}`);
        } finally {
          p.close();
          await own.stop("SIGKILL");
        }
      }
    });

    for (const signal of ["SIGKILL", "SIGTERM"]) {
      test(`reconnects after the server is killed (${signal}) and restarted on the same port`, async () => {
        let own = await startServer();
        const p = await connectPeer(own, "/", mode, RECONNECT);
        try {
          const firstId = p.id;
          const [welcome] = await p.next("welcome");
          assert.equal(welcome.id, firstId);

          const exit = await own.stop(signal);
          if (signal === "SIGTERM") assert.deepEqual(exit, { code: 0, signal: null }, "clean exit on SIGTERM");
          const [reason] = await p.next("disconnect");
          // A polling transport that loses its server between polls surfaces as a failed
          // request ("transport error").
          const expected = signal === "SIGTERM" && mode.name !== "polling" ? ["transport close"]
            : ["transport close", "transport error"];
          assert.ok(expected.includes(reason), reason);
          assert.equal(p.socket.active, true, "the client keeps trying to reconnect");

          own = await startServer(own.port);
          await p.next("connect", 8_000);
          assert.notEqual(p.id, firstId);
          const [again] = await p.next("welcome");
          assert.equal(again.id, p.id);
          if (mode.upgrade) {
            await eventually(() => assert.equal(p.socket.io.engine.transport.name, "websocket"));
          }
          assert.equal(await p.socket.timeout(2_000).emitWithAck("echo", "again"), "again");
        } finally {
          p.close();
          await own.stop("SIGKILL");
        }
      });
    }
  });
}

describe("graceful shutdown at the Engine.IO level", () => {
  test("a held long-poll is answered with a CLOSE packet on SIGTERM", async () => {
    for (let round = 0; round < 3; round++) {
      const own = await startServer();
      try {
        const base = `${own.url}/socket.io/?EIO=4&transport=polling`;
        const open = await (await fetch(base)).text();
        assert.equal(open[0], "0", `handshake: ${open}`);
        const { sid } = JSON.parse(open.slice(1));
        const poll = fetch(`${base}&sid=${sid}`).then(
          async (r) => `${r.status} ${await r.text()}`,
          (e) => `request failed: ${e.cause?.code ?? e.message}`);
        await sleep(200);  // the poll is now held: nothing to send until the ping
        own.proc.kill("SIGTERM");
        assert.equal(await poll, "200 1", `round ${round}`);
        assert.deepEqual(await own.exited, { code: 0, signal: null });
      } finally {
        await own.stop("SIGKILL");
      }
    }
  });
});
