// Plain WebSocket route (Server::websocket) /ws/echo: the app sends "welcome" on open, echoes
// text and binary, closes with CODE/REASON on "close:CODE:REASON", and answers "push" from
// another thread. RFC 6455 is checked by Chorus: violations are closed with 1002 / 1007 /
// 1009, and the route's on_close hears the code (GET /api/ws-closes lists them by ?tag=).
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import * as h from "./harness.mjs";

const { OP } = h;
let app;
before(async () => {
  app = await h.startApp();
});
after(async () => {
  await app.stop();
});

const tag = (name) => `${name}-${crypto.randomBytes(3).toString("hex")}`;

// A `ws` client queueing messages ({ text } or { binary }); resolves once "welcome" arrived.
async function open(t = tag("ws")) {
  const ws = new WebSocket(`ws://127.0.0.1:${app.port}/ws/echo?tag=${t}`, { perMessageDeflate: false });
  const messages = new h.Queue();
  ws.on("message", (d, binary) => messages.push(binary ? { binary: Buffer.from(d) } : { text: d.toString() }));
  const closed = new Promise((r) => ws.on("close", (code, reason) => r({ code, reason: reason.toString() })));
  ws.on("error", () => {});
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  assert.deepEqual(await messages.shift(), { text: "welcome" });
  return { ws, messages, closed, tag: t };
}

// The close the route's on_close handler saw for `t`.
async function serverClose(t) {
  return h.eventually(async () => {
    const r = await h.request(app, { path: "/api/ws-closes" });
    const entry = r.json.find((e) => e.tag === t);
    assert.ok(entry, `no on_close for ${t} yet`);
    return { code: entry.code, reason: entry.reason };
  });
}

// A raw RFC 6455 session on /ws/echo; "welcome" consumed.
async function raw(t = tag("raw")) {
  const ws = await h.RawWs.connect(app, `/ws/echo?tag=${t}`);
  assert.equal(ws.status, 101, ws.responseHead);
  assert.ok(ws.acceptOk, "Sec-WebSocket-Accept");
  const m = await ws.readMessage();
  assert.equal(m.payload.toString(), "welcome");
  ws.tag = t;
  return ws;
}

async function expectClose(frames, code) {
  const ws = await raw();
  try {
    await ws.write(Buffer.concat(frames.map((f) => (Buffer.isBuffer(f) ? f : h.buildFrame(f)))));
    const c = await ws.waitClose(3000);
    assert.equal(c.code, code, `close frame: ${JSON.stringify(c)}`);
    await ws.sendFrame({ opcode: OP.CLOSE, payload: h.closePayload(code) });
    assert.ok(await ws.endedWithin(3000), "the server ends TCP once the closing handshake is done");
  } finally {
    ws.destroy();
  }
  assert.equal((await serverClose(ws.tag)).code, code, "on_close gets the code");
}

describe("WebSocket route: messages", { concurrency: true }, () => {
  it("echoes text (Unicode, empty, 200 KB) and binary", async () => {
    const c = await open();
    try {
      for (const text of ["hello", "", "héllo 🎉", "x".repeat(200_000)]) {
        c.ws.send(text);
        assert.deepEqual(await c.messages.shift(), { text });
      }
      const bytes = crypto.randomBytes(70_000);
      c.ws.send(bytes);
      assert.deepEqual(await c.messages.shift(), { binary: bytes });
      c.ws.send(Buffer.alloc(0));
      assert.deepEqual(await c.messages.shift(), { binary: Buffer.alloc(0) });
    } finally {
      c.ws.terminate();
    }
  });

  it("push from another thread: three messages in order", async () => {
    const c = await open();
    try {
      c.ws.send("push");
      assert.deepEqual(
        [await c.messages.shift(), await c.messages.shift(), await c.messages.shift()],
        [{ text: "push 1" }, { text: "push 2" }, { text: "push 3" }],
      );
    } finally {
      c.ws.terminate();
    }
  });

  it("a fragmented message (split inside a UTF-8 character) is reassembled; ping gets pong", async () => {
    const ws = await raw();
    try {
      const bytes = Buffer.from("a€b", "utf8");
      await ws.sendFrame({ fin: false, opcode: OP.TEXT, payload: bytes.subarray(0, 2) });
      await ws.sendFrame({ opcode: OP.PING, payload: Buffer.from("in-between") });
      await ws.sendFrame({ fin: true, opcode: OP.CONT, payload: bytes.subarray(2) });
      const pong = await ws.readFrame();
      assert.deepEqual([pong.opcode, pong.payload.toString()], [OP.PONG, "in-between"]);
      const m = await ws.readMessage();
      assert.deepEqual([m.opcode, m.payload.toString()], [OP.TEXT, "a€b"]);
    } finally {
      ws.destroy();
    }
  });

  it("the server's frames are unmasked", async () => {
    const ws = await raw();
    try {
      await ws.sendFrame({ opcode: OP.TEXT, payload: Buffer.from("m") });
      const f = await ws.readFrame();
      assert.deepEqual([f.fin, f.rsv, f.opcode, f.masked, f.payload.toString()], [true, 0, OP.TEXT, false, "m"]);
    } finally {
      ws.destroy();
    }
  });
});

describe("WebSocket route: closing", { concurrency: true }, () => {
  it("server-initiated close: 4001 \"bye\" reaches the client; on_close hears it", async () => {
    const c = await open(tag("srvclose"));
    c.ws.send("close:4001:bye");
    assert.deepEqual(await c.closed, { code: 4001, reason: "bye" }, "the client's close event");
    // The client echoes 4001 (ws does); on_close reports the code of the closing handshake.
    assert.equal((await serverClose(c.tag)).code, 4001, "on_close after a server-initiated close");
  });

  it("server-initiated close, raw: the Close frame, then the server ends TCP once the client echoes it", async () => {
    const ws = await raw();
    try {
      await ws.sendFrame({ opcode: OP.TEXT, payload: Buffer.from("close:1000:done") });
      const c = await ws.waitClose();
      assert.deepEqual([c.code, c.reason], [1000, "done"]);
      await ws.sendFrame({ opcode: OP.CLOSE, payload: h.closePayload(1000) });
      assert.ok(await ws.endedWithin(3000));
    } finally {
      ws.destroy();
    }
  });

  for (const [code, reason] of [
    [1000, ""],
    [1001, "going away"],
    [4000, "client-bye"],
    [4999, "é"],
  ]) {
    it(`client close ${code} ${JSON.stringify(reason)} is echoed and reaches on_close`, async () => {
      const c = await open(tag(`cli${code}`));
      c.ws.close(code, reason);
      // RFC 6455 §5.5.1: the answer echoes the status code (the reason is optional).
      assert.equal((await c.closed).code, code);
      // §7.1.5/§7.1.6: the connection's close code and reason are those of the Close received.
      assert.deepEqual(await serverClose(c.tag), { code, reason });
    });
  }

  it("a Close frame without a status: on_close gets 1005, the echo carries no status (or 1000)", async () => {
    const ws = await raw();
    try {
      await ws.sendFrame({ opcode: OP.CLOSE });
      const c = await ws.waitClose();
      assert.ok(c.code === null || c.code === 1000, JSON.stringify(c));
    } finally {
      ws.destroy();
    }
    assert.equal((await serverClose(ws.tag)).code, 1005);
  });

  it("a vanished client (TCP reset, no Close frame): on_close gets 1006", async () => {
    const ws = await raw();
    ws.socket.resetAndDestroy();
    assert.deepEqual(await serverClose(ws.tag), { code: 1006, reason: "" });
  });
});

describe("WebSocket route: RFC 6455 violations", { concurrency: true }, () => {
  for (const opcode of [0x3, 0x7, 0xb, 0xf]) {
    it(`reserved opcode 0x${opcode.toString(16)} -> 1002`, () => expectClose([{ opcode, payload: Buffer.from("x") }], 1002));
  }
  it("RSV bits without an extension -> 1002", () => expectClose([{ opcode: OP.TEXT, rsv: 4, payload: Buffer.from("x") }], 1002));
  // CivetWeb 1.15 reads the mask bit itself: Chorus cannot see an unmasked client frame
  // (README, "Known limitations"; tests/conformance skips the same case).
  it("an unmasked client frame -> 1002", { skip: "CivetWeb 1.15 hides the mask bit from Chorus" }, () =>
    expectClose([{ opcode: OP.TEXT, mask: false, payload: Buffer.from("x") }], 1002));
  it("a continuation without a start -> 1002", () => expectClose([{ opcode: OP.CONT, payload: Buffer.from("x") }], 1002));
  it("a control frame over 125 bytes -> 1002", () => expectClose([{ opcode: OP.PING, payload: Buffer.alloc(126) }], 1002));
  // Chorus sends its Close, discards input until the client's Close, then ends TCP (README,
  // "Known limitations": closing at once could reset the connection before the Close is read).
  it("failing the connection: Close 1002, input discarded, TCP ends once the client answers", async () => {
    const ws = await raw();
    try {
      await ws.sendFrame({ opcode: 0x3, payload: Buffer.from("x") });
      assert.equal((await ws.waitClose()).code, 1002);
      await ws.sendFrame({ opcode: OP.TEXT, payload: Buffer.from("ignored") });
      await ws.sendFrame({ opcode: OP.CLOSE, payload: h.closePayload(1002) });
      assert.ok(await ws.endedWithin(3000), "TCP still open 3 s after the client answered the Close");
    } finally {
      ws.destroy();
    }
  });
  it("a Close code that may not be sent (1005) -> 1002", () =>
    expectClose([{ opcode: OP.CLOSE, payload: h.closePayload(1005) }], 1002));

  for (const [name, bytes] of [
    ["a lone continuation byte", [0x80]],
    ["an overlong encoding", [0xc0, 0xaf]],
    ["a UTF-16 surrogate", [0xed, 0xa0, 0x80]],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ]) {
    it(`invalid UTF-8 in a text message (${name}) -> 1007`, () =>
      expectClose([{ opcode: OP.TEXT, payload: Buffer.from([0x61, ...bytes]) }], 1007));
  }
  it("invalid UTF-8 in a Close reason -> 1007", () =>
    expectClose([{ opcode: OP.CLOSE, payload: Buffer.concat([h.closePayload(1000), Buffer.from([0xff])]) }], 1007));
  it("binary messages are not UTF-8 checked", async () => {
    const ws = await raw();
    try {
      await ws.sendFrame({ opcode: OP.BINARY, payload: Buffer.from([0xff, 0xfe]) });
      const m = await ws.readMessage();
      assert.deepEqual([m.opcode, [...m.payload]], [OP.BINARY, [0xff, 0xfe]]);
    } finally {
      ws.destroy();
    }
  });

  it(`a message of max_payload (${h.MAX_PAYLOAD}) bytes is echoed`, async () => {
    const ws = await raw();
    try {
      await ws.sendFrame({ opcode: OP.BINARY, payload: Buffer.alloc(h.MAX_PAYLOAD, 7) });
      const m = await ws.readMessage(10_000);
      assert.equal(m.payload.length, h.MAX_PAYLOAD);
    } finally {
      ws.destroy();
    }
  });

  it("a message of max_payload + 1 bytes -> 1009", async () => {
    const ws = await raw();
    try {
      const frame = h.buildFrame({ opcode: OP.BINARY, payload: Buffer.alloc(h.MAX_PAYLOAD + 1, 7) });
      await ws.write(frame.subarray(0, 65536));
      let c = await ws.waitClose(100).catch(() => null);
      if (!c) {
        await ws.write(frame.subarray(65536));
        c = await ws.waitClose(5000);
      }
      assert.equal(c.code, 1009, JSON.stringify(c));
    } finally {
      ws.destroy();
    }
    assert.equal((await serverClose(ws.tag)).code, 1009);
  });

  it("fragments adding up to more than max_payload -> 1009", () =>
    expectClose(
      [
        { fin: false, opcode: OP.TEXT, payload: Buffer.alloc(600_000, 0x61) },
        { fin: true, opcode: OP.CONT, payload: Buffer.alloc(600_000, 0x61) },
      ],
      1009,
    ));

  it("the route keeps serving after all that", async () => {
    const c = await open();
    try {
      c.ws.send("still alive");
      assert.deepEqual(await c.messages.shift(), { text: "still alive" });
    } finally {
      c.ws.terminate();
    }
  });
});

describe("WebSocket route: opening handshake", { concurrency: true }, () => {
  it("a version other than 13 -> 426 with Sec-WebSocket-Version: 13 (RFC 6455 §4.2.2)", async () => {
    const ws = await h.RawWs.connect(app, "/ws/echo", { headers: { "Sec-WebSocket-Version": "8" } });
    try {
      assert.equal(ws.status, 426, `answer: ${JSON.stringify(ws.responseHead.slice(0, 200))}`);
      assert.equal(ws.responseHeaders["sec-websocket-version"], "13");
    } finally {
      ws.destroy();
    }
  });

  it("a missing Sec-WebSocket-Key -> 400", async () => {
    const ws = await h.RawWs.connect(app, "/ws/echo", { headers: { "Sec-WebSocket-Key": null } });
    try {
      assert.equal(ws.status, 400, `answer: ${JSON.stringify(ws.responseHead.slice(0, 200))}`);
    } finally {
      ws.destroy();
    }
  });

  it("a subprotocol is echoed only when the route speaks it (Sec-WebSocket-Protocol, RFC 6455 §4.2.2)", async () => {
    // /ws/echo and the Engine.IO endpoint speak none: an offer is not echoed.
    for (const path of ["/ws/echo", "/socket.io/?EIO=4&transport=websocket"]) {
      const ws = await h.RawWs.connect(app, path, { headers: { "Sec-WebSocket-Protocol": "chat, superchat" } });
      try {
        assert.equal(ws.status, 101, `${path}: ${JSON.stringify(ws.responseHead.slice(0, 200))}`);
        assert.equal(ws.responseHeaders["sec-websocket-protocol"], undefined, `${path} echoed a subprotocol`);
      } finally {
        ws.destroy();
      }
    }
    // /ws/proto speaks chorus.v2 and chorus.v1: the first one offered that it speaks is agreed.
    for (const [offer, agreed] of [[["x", "chorus.v1"], "chorus.v1"], [["chorus.v1", "chorus.v2"], "chorus.v1"],
                                   [["chorus.v2"], "chorus.v2"]]) {
      const ws = new WebSocket(`ws://127.0.0.1:${app.port}/ws/proto`, offer, { perMessageDeflate: false });
      try {
        const first = await new Promise((resolve, reject) => {
          ws.once("message", (data) => resolve(data.toString()));
          ws.once("error", reject);
        });
        assert.equal(ws.protocol, agreed, `offer ${offer}`);
        assert.equal(first, `protocol:${agreed}`);
      } finally {
        ws.terminate();
      }
    }
    // Nothing it speaks offered: the handshake goes through without a subprotocol.
    const none = await h.RawWs.connect(app, "/ws/proto", { headers: { "Sec-WebSocket-Protocol": "chat" } });
    try {
      assert.equal(none.status, 101);
      assert.equal(none.responseHeaders["sec-websocket-protocol"], undefined);
    } finally {
      none.destroy();
    }
  });

  it("a plain GET of the WebSocket path is not a WebSocket", async () => {
    const r = await h.request(app, { path: "/ws/echo" });
    assert.ok(r.status >= 400, `status ${r.status}`);
  });
});
