// RFC 6455 over the wire: hand-built, masked client frames on a raw TCP socket to the
// Engine.IO echo server. Protocol violations must be answered with a Close frame carrying
// the right status (1002 protocol error, 1007 invalid UTF-8, 1009 too big), and the server
// must keep serving other clients.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as h from "./harness.mjs";

const { OP } = h;
let srv;
before(async () => {
  srv = await h.startServer("eio-echo");
});
after(async () => {
  await srv.stop();
});

// Sends the frames (Buffers or frame options) on a fresh Engine.IO websocket session and
// expects a Close frame with `code`; then checks that a new client is still served.
async function expectClose(frames, code, { ms = 3000 } = {}) {
  const ws = await h.rawEioSession(srv);
  try {
    await ws.write(Buffer.concat(frames.map((f) => (Buffer.isBuffer(f) ? f : h.buildFrame(f)))));
    const c = await ws.waitClose(ms);
    assert.equal(c.code, code, `close frame: ${JSON.stringify(c.code === undefined ? c : { code: c.code, reason: c.reason })}`);
  } finally {
    ws.destroy();
  }
  await h.assertEchoHealthy(srv);
}

const text = (s, extra = {}) => ({ opcode: OP.TEXT, payload: Buffer.from(s, "utf8"), ...extra });

describe("valid framing", { concurrency: true }, () => {
  it("a masked text frame is echoed in one unmasked text frame", async () => {
    const ws = await h.rawEioSession(srv);
    try {
      await ws.sendText("4hello");
      let f = await ws.readFrame();
      if (f.opcode === OP.TEXT && f.payload.toString() === "2") f = await ws.readFrame(); // Engine.IO ping
      assert.deepEqual([f.fin, f.rsv, f.opcode, f.masked, f.payload.toString()], [true, 0, OP.TEXT, false, "4hello"]);
    } finally {
      ws.destroy();
    }
  });

  it("a fragmented text message (UTF-8 split inside a character) is reassembled", async () => {
    const ws = await h.rawEioSession(srv);
    try {
      const bytes = Buffer.from("4a€b", "utf8"); // € = e2 82 ac
      await ws.sendFrame({ fin: false, opcode: OP.TEXT, payload: bytes.subarray(0, 3) });
      await ws.sendFrame({ fin: false, opcode: OP.CONT, payload: bytes.subarray(3, 4) });
      await ws.sendFrame({ fin: true, opcode: OP.CONT, payload: bytes.subarray(4) });
      const m = await ws.readMessage();
      assert.equal(m.opcode, OP.TEXT);
      assert.equal(m.payload.toString("utf8"), "4a€b");
    } finally {
      ws.destroy();
    }
  });

  it("a ping between fragments is answered with a pong carrying the same payload", async () => {
    const ws = await h.rawEioSession(srv);
    try {
      await ws.sendFrame({ fin: false, opcode: OP.TEXT, payload: Buffer.from("4frag") });
      await ws.sendFrame({ opcode: OP.PING, payload: Buffer.from("are you there") });
      await ws.sendFrame({ fin: true, opcode: OP.CONT, payload: Buffer.from("ment") });
      const frames = [];
      while (frames.length < 2) {
        const f = await ws.readFrame();
        if (f.opcode === OP.TEXT && f.payload.toString() === "2") continue; // Engine.IO ping
        frames.push(f);
      }
      const pong = frames.find((f) => f.opcode === OP.PONG);
      assert.ok(pong, `no pong in ${JSON.stringify(frames.map((f) => f.opcode))}`);
      assert.equal(pong.payload.toString(), "are you there");
      const msg = frames.find((f) => f.opcode === OP.TEXT);
      assert.equal(msg.payload.toString(), "4fragment");
    } finally {
      ws.destroy();
    }
  });

  it("a binary message is echoed as a binary frame", async () => {
    const ws = await h.rawEioSession(srv);
    try {
      await ws.sendFrame({ opcode: OP.BINARY, payload: Buffer.from([0, 1, 2, 0xff]) });
      const m = await ws.readMessage();
      assert.equal(m.opcode, OP.BINARY);
      assert.deepEqual(m.payload, Buffer.from([0, 1, 2, 0xff]));
    } finally {
      ws.destroy();
    }
  });

  it("a message of exactly maxPayload (1,000,000 bytes) is accepted", async () => {
    const ws = await h.rawEioSession(srv);
    try {
      const msg = `4${"m".repeat(h.MAX_PAYLOAD - 1)}`;
      await ws.sendText(msg);
      const m = await ws.readMessage(5000);
      assert.equal(m.payload.length, h.MAX_PAYLOAD);
      assert.equal(m.payload.toString(), msg);
    } finally {
      ws.destroy();
    }
  });

  it("1,024 one-byte fragments (Chorus' fragment limit) are accepted", async () => {
    const ws = await h.rawEioSession(srv);
    try {
      const frames = [h.buildFrame({ fin: false, opcode: OP.TEXT, payload: Buffer.from("4") })];
      for (let i = 1; i < 1023; i++) frames.push(h.buildFrame({ fin: false, opcode: OP.CONT, payload: Buffer.from("x") }));
      frames.push(h.buildFrame({ fin: true, opcode: OP.CONT, payload: Buffer.from("y") }));
      await ws.write(Buffer.concat(frames));
      const m = await ws.readMessage(5000);
      assert.equal(m.payload.toString(), `4${"x".repeat(1022)}y`);
    } finally {
      ws.destroy();
    }
  });

  for (const code of [1000, 3000, 4999]) {
    it(`a Close frame with status ${code} is answered with a Close frame`, async () => {
      const ws = await h.rawEioSession(srv);
      try {
        await ws.sendFrame({ opcode: OP.CLOSE, payload: h.closePayload(code, "bye") });
        const c = await ws.waitClose();
        assert.ok(c.code === code || c.code === 1000, `answered ${c.code}`);
      } finally {
        ws.destroy();
      }
    });
  }
});

describe("protocol errors -> 1002", { concurrency: true }, () => {
  for (const opcode of [0x3, 0x7, 0xb, 0xf]) {
    it(`reserved opcode 0x${opcode.toString(16)}`, () => expectClose([{ opcode, payload: Buffer.from("4x") }], 1002));
  }
  for (const rsv of [4, 2, 1]) {
    it(`RSV bits ${rsv.toString(2).padStart(3, "0")} set without an extension`, () =>
      expectClose([text("4x", { rsv })], 1002));
  }
  it("a fragmented ping", () => expectClose([{ fin: false, opcode: OP.PING, payload: Buffer.from("p") }], 1002));
  it("a control frame over 125 bytes", () => expectClose([{ opcode: OP.PING, payload: Buffer.alloc(126, 0x61) }], 1002));
  it("a continuation frame without a started message", () =>
    expectClose([{ fin: true, opcode: OP.CONT, payload: Buffer.from("4x") }], 1002));
  it("a new data frame while a fragmented message is open", () =>
    expectClose([text("4a", { fin: false }), text("4b")], 1002));
  it("an unmasked client frame", () => expectClose([text("4x", { mask: false })], 1002));
  // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0, and a length takes
  // the shortest form. The reference's ws refuses the first with 1009 and takes the others.
  it("a 64-bit length with its most significant bit set", () =>
    expectClose([h.buildFrame({ opcode: OP.TEXT, payload: Buffer.from("4x"), length: 2n ** 63n + 2n })], h.IS_CHORUS ? 1002 : 1009));
  it("a 2-byte length in the 16-bit form [Chorus: stricter than the reference]", { skip: h.IS_REFERENCE && "the reference accepts it" },
    () => expectClose([text("4x", { lengthBits: 16 })], 1002));
  it("a 200-byte length in the 64-bit form [Chorus: stricter than the reference]", { skip: h.IS_REFERENCE && "the reference accepts it" },
    () => expectClose([text(`4${"x".repeat(199)}`, { lengthBits: 64 })], 1002));
  it("a Close frame with a 1-byte payload", () => expectClose([{ opcode: OP.CLOSE, payload: Buffer.from([3]) }], 1002));
  for (const code of [1005, 999, 5000, 1006, 1015, 1004, 0]) {
    it(`a Close frame with the invalid status ${code}`, () =>
      expectClose([{ opcode: OP.CLOSE, payload: h.closePayload(code) }], 1002));
  }
});

describe("invalid UTF-8 -> 1007", { concurrency: true }, () => {
  for (const [name, bytes] of [
    ["byte 0xFF", [0x34, 0xff]],
    ["overlong '/' (C0 AF)", [0x34, 0xc0, 0xaf]],
    ["UTF-16 surrogate (ED A0 80)", [0x34, 0xed, 0xa0, 0x80]],
    ["code point past U+10FFFF (F4 90 80 80)", [0x34, 0xf4, 0x90, 0x80, 0x80]],
    ["truncated sequence at the end (E2 82)", [0x34, 0xe2, 0x82]],
  ]) {
    it(`text frame with ${name}`, () => expectClose([{ opcode: OP.TEXT, payload: Buffer.from(bytes) }], 1007));
  }
  it("invalid sequence across two fragments (E2 | 28)", () =>
    expectClose(
      [
        { fin: false, opcode: OP.TEXT, payload: Buffer.from([0x34, 0xe2]) },
        { fin: true, opcode: OP.CONT, payload: Buffer.from([0x28]) },
      ],
      1007,
    ));
  it("invalid UTF-8 in a Close reason", () =>
    expectClose([{ opcode: OP.CLOSE, payload: Buffer.concat([h.closePayload(1000), Buffer.from([0xff])]) }], 1007));
});

describe("too big -> 1009", { concurrency: true }, () => {
  it("one frame of maxPayload + 1 bytes", async () => {
    const ws = await h.rawEioSession(srv);
    try {
      const payload = Buffer.alloc(h.MAX_PAYLOAD + 1, 0x61);
      payload[0] = 0x34;
      const frame = h.buildFrame({ opcode: OP.TEXT, payload });
      // Chorus refuses at the header, before any payload; the reference reads on until the
      // frame passes its limit.
      await ws.write(frame.subarray(0, h.IS_CHORUS ? 14 : 65536));
      let c = await ws.waitClose(h.IS_CHORUS ? 3000 : 100).catch(() => null);
      if (!c && !h.IS_CHORUS) {
        await ws.write(frame.subarray(65536));
        c = await ws.waitClose(3000);
      }
      assert.ok(c, "no Close after the header");
      assert.equal(c.code, 1009, JSON.stringify(c.code === undefined ? c : c.code));
    } finally {
      ws.destroy();
    }
    await h.assertEchoHealthy(srv);
  });

  it("a frame header declaring 2^40 bytes", () =>
    expectClose([h.buildFrame({ opcode: OP.BINARY, payload: Buffer.alloc(16), length: 2 ** 40 }).subarray(0, 14)], 1009));

  // Headers declaring 2 GiB, then bytes as fast as the socket takes them: each is refused at
  // its header; nothing the clients send is kept (the server's memory stays where it was).
  it("four clients streaming under 2 GiB headers: 1009 at once, server memory unchanged", { skip: !h.IS_CHORUS && "Chorus only: reads the server's /proc status" }, async () => {
    const before = h.serverRssKiB(srv);
    const clients = await Promise.all([0, 1, 2, 3].map(() => h.rawEioSession(srv)));
    try {
      const chunk = Buffer.alloc(1 << 20, 0x61);
      const results = await Promise.all(
        clients.map(async (ws) => {
          await ws.write(h.buildFrame({ opcode: OP.BINARY, payload: Buffer.alloc(0), length: 2 ** 31 }).subarray(0, 14));
          for (let i = 0; i < 64 && !ws.ended && !ws.frames.items.some((f) => f.opcode === OP.CLOSE); i++) {
            if (!(await ws.write(chunk))) break;
          }
          return ws.waitClose(3000).catch((e) => ({ error: String(e) }));
        }),
      );
      for (const c of results) assert.equal(c.code, 1009, JSON.stringify(c));
      const grown = h.serverRssKiB(srv) - before;
      assert.ok(grown < 64 * 1024, `server RSS grew by ${grown} KiB`);
    } finally {
      for (const ws of clients) ws.destroy();
    }
    await h.assertEchoHealthy(srv);
  });

  it("two fragments adding up to more than maxPayload", async () => {
    const ws = await h.rawEioSession(srv);
    try {
      const half = Buffer.alloc(600_000, 0x62);
      half[0] = 0x34;
      await ws.sendFrame({ fin: false, opcode: OP.TEXT, payload: half });
      await ws.sendFrame({ fin: true, opcode: OP.CONT, payload: Buffer.alloc(600_000, 0x62) });
      const c = await ws.waitClose(3000);
      assert.equal(c.code, 1009, JSON.stringify(c.code === undefined ? c : c.code));
    } finally {
      ws.destroy();
    }
    await h.assertEchoHealthy(srv);
  });

  // Sends `count` one-byte fragments as fast as the socket takes them, stopping once the
  // server's Close frame arrived. Returns the close code, or the echoed message.
  async function sendFragments(count) {
    const ws = await h.rawEioSession(srv);
    try {
      const first = h.buildFrame({ fin: false, opcode: OP.TEXT, payload: Buffer.from("4") });
      const batch = [];
      for (let i = 0; i < 1000; i++) batch.push(h.buildFrame({ fin: false, opcode: OP.CONT, payload: Buffer.from("x") }));
      const middle = Buffer.concat(batch);
      const last = h.buildFrame({ fin: true, opcode: OP.CONT, payload: Buffer.from("x") });
      await ws.write(first);
      let sent = 1;
      const closeSeen = () => ws.frames.items.some((f) => f.opcode === OP.CLOSE) || ws.ended;
      while (sent + 1000 < count && !closeSeen()) {
        if (!(await ws.write(middle))) break;
        sent += 1000;
      }
      while (sent < count - 1 && !closeSeen()) {
        await ws.write(h.buildFrame({ fin: false, opcode: OP.CONT, payload: Buffer.from("x") }));
        sent++;
      }
      if (!closeSeen()) await ws.write(last);
      for (;;) {
        const f = await ws.readFrame(5000).catch((e) => {
          throw new Error(`${e.message} (sent ${sent} fragments)`);
        });
        if (f.opcode === OP.CLOSE) return { code: h.closeCode(f) };
        if (f.opcode === OP.TEXT && f.payload.toString() === "2") continue;
        if (f.opcode === OP.TEXT || f.opcode === OP.CONT) {
          const rest = f.fin ? [] : [await ws.readMessage(5000)];
          return { echo: Buffer.concat([f.payload, ...rest.map((m) => m.payload)]).toString() };
        }
      }
    } finally {
      ws.destroy();
    }
  }

  it("1,025 one-byte fragments (past Chorus' fragment limit)", async () => {
    const r = await sendFragments(1025);
    if (h.IS_CHORUS) assert.deepEqual(r, { code: 1009 });
    else assert.equal(r.echo, `4${"x".repeat(1024)}`);
    await h.assertEchoHealthy(srv);
  });

  it("100,000 one-byte fragments sent fast", async () => {
    const r = await sendFragments(100_000);
    // The reference (ws 8.23) stops at 16,384 fragments with 1008 (policy violation); Chorus
    // documents 1009 past max_ws_fragments (1,024).
    assert.deepEqual(r, { code: h.IS_CHORUS ? 1009 : 1008 });
    await h.assertEchoHealthy(srv);
  });
});
