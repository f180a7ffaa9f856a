// Rooms across three clients: broadcasts from a socket (sender excluded) and from the
// namespace (sender included), leave, fetch_sockets and disconnect_sockets.
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";

import { MODES, connectPeer, eventually, startServer } from "./harness.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

let roomCounter = 0;
const freshRoom = () => `room-${process.pid}-${++roomCounter}`;

for (const mode of MODES) {
  describe(`rooms over ${mode.name}`, () => {
    let a, b, c;
    const ack = (p, ...args) => p.socket.timeout(3_000).emitWithAck(...args);

    beforeEach(async () => {
      [a, b, c] = await Promise.all([1, 2, 3].map(() => connectPeer(server, "/", mode)));
    });
    afterEach(() => {
      for (const p of [a, b, c]) p?.close();
    });

    test("to-room reaches the room except the sender", async () => {
      const room = freshRoom();
      assert.equal(await ack(a, "join", room), true);
      assert.equal(await ack(b, "join", room), true);
      assert.equal(await ack(a, "to-room", room, { from: "a" }), true);
      assert.deepEqual(await b.next("room-msg"), [{ from: "a" }]);
      await Promise.all([a.none("room-msg"), c.none("room-msg")]);
    });

    test("server-to-room includes the sender", async () => {
      const room = freshRoom();
      await ack(a, "join", room);
      await ack(b, "join", room);
      await ack(a, "server-to-room", room, "all of you");
      assert.deepEqual(await a.next("room-msg"), ["all of you"]);
      assert.deepEqual(await b.next("room-msg"), ["all of you"]);
      await c.none("room-msg");
    });

    test("server-to-room from a non-member", async () => {
      const room = freshRoom();
      await ack(a, "join", room);
      await ack(b, "join", room);
      await ack(c, "server-to-room", room, 7);
      assert.deepEqual(await a.next("room-msg"), [7]);
      assert.deepEqual(await b.next("room-msg"), [7]);
      await c.none("room-msg");
    });

    test("leave stops delivery", async () => {
      const room = freshRoom();
      await ack(a, "join", room);
      await ack(b, "join", room);
      await ack(c, "join", room);
      assert.equal(await ack(b, "leave", room), true);
      await ack(a, "to-room", room, "after leave");
      assert.deepEqual(await c.next("room-msg"), ["after leave"]);
      await Promise.all([a.none("room-msg"), b.none("room-msg")]);
    });

    test("each socket is in the room named by its id", async () => {
      await ack(a, "to-room", b.id, "direct");
      assert.deepEqual(await b.next("room-msg"), ["direct"]);
      await Promise.all([a.none("room-msg"), c.none("room-msg")]);
    });

    test("fetch_sockets lists the members", async () => {
      const room = freshRoom();
      await ack(a, "join", room);
      await ack(c, "join", room);
      assert.deepEqual((await ack(b, "fetch", room)).sort(), [a.id, c.id].sort());
      await ack(c, "leave", room);
      assert.deepEqual(await ack(b, "fetch", room), [a.id]);
      assert.deepEqual(await ack(b, "fetch", freshRoom()), []);
    });

    test("kick-room disconnects the members only", async () => {
      const room = freshRoom();
      await ack(a, "join", room);
      await ack(b, "join", room);
      assert.equal(await ack(c, "kick-room", room), true);
      assert.deepEqual(await a.next("disconnect"), ["io server disconnect"]);
      assert.deepEqual(await b.next("disconnect"), ["io server disconnect"]);
      await c.none("disconnect");
      assert.equal(c.socket.connected, true);
      assert.equal(await ack(c, "echo", "still connected"), "still connected");
      await eventually(async () => assert.deepEqual(await ack(c, "fetch", room), []));
    });

    test("count follows connections", async () => {
      const base = await ack(a, "count");
      assert.ok(base >= 3, `count ${base} < 3`);
      b.close();
      await eventually(async () => assert.equal(await ack(a, "count"), base - 1));
    });
  });
}
