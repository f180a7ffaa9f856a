// Engine.IO v4 messages over long-polling and WebSocket, the polling -> WebSocket upgrade,
// and client-initiated close, against an echo server (every message comes back as is).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as h from "./harness.mjs";

let srv;
before(async () => {
  srv = await h.startServer("eio-echo");
});
after(async () => {
  await srv.stop();
});

// Reads polls until `count` packets other than ping/noop arrived; answers pings.
async function pollPackets(sid, count, ms = 3000) {
  const got = [];
  const deadline = Date.now() + ms;
  while (got.length < count) {
    assert.ok(Date.now() < deadline, `only ${JSON.stringify(got)} after ${ms} ms`);
    const res = await h.poll(srv, sid);
    assert.equal(res.status, 200, res.text);
    for (const p of h.splitPayload(res.text)) {
      if (p === "2") await h.post(srv, sid, "3");
      else if (p !== "6") got.push(p);
    }
  }
  return got;
}

// Waits until the session is gone: polls answer 400 {"code":1} (or a CLOSE packet first).
async function assertSessionGone(sid, ms = 2000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await h.poll(srv, sid, { timeout: ms });
    if (res.status === 400) {
      assert.deepEqual(JSON.parse(res.text), { code: 1, message: "Session ID unknown" });
      return;
    }
    assert.ok(Date.now() < deadline, `session ${sid} still alive: ${res.status} ${res.text.slice(0, 80)}`);
  }
}

describe("long-polling", { concurrency: true }, () => {
  it("a text message is echoed", async () => {
    const { sid } = await h.pollingHandshake(srv);
    assert.equal((await h.post(srv, sid, "4hello")).status, 200);
    assert.deepEqual(await pollPackets(sid, 1), ["4hello"]);
  });

  it("multi-byte UTF-8 survives both directions (lengths are not byte counts)", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const msg = "4héllo €𝄞 ✓ \u2028 end";
    assert.equal((await h.post(srv, sid, msg)).status, 200);
    assert.deepEqual(await pollPackets(sid, 1), [msg]);
  });

  it("several packets in one POST come back, in order, in one GET response (0x1E-separated)", async () => {
    const { sid } = await h.pollingHandshake(srv);
    assert.equal((await h.post(srv, sid, ["4a", "4bb", "4ccc"].join(h.SEP))).status, 200);
    const res = await h.poll(srv, sid);
    assert.equal(res.status, 200);
    // A PING may share the response on a slow machine: it is no message.
    const packets = h.splitPayload(res.text);
    if (packets.includes("2")) await h.post(srv, sid, "3");
    assert.deepEqual(packets.filter((p) => p !== "2"), ["4a", "4bb", "4ccc"]);
  });

  it("binary messages travel as 'b' + base64", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const bin = Buffer.from([0, 1, 2, 3, 255, 254, 128]);
    const body = ["4text", `b${bin.toString("base64")}`, "b", "4end"].join(h.SEP);
    assert.equal((await h.post(srv, sid, body)).status, 200);
    const got = await pollPackets(sid, 4);
    assert.deepEqual(got, ["4text", `b${bin.toString("base64")}`, "b", "4end"]);
  });

  it("a message sent while a poll is pending releases that poll", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const pending = h.poll(srv, sid);
    await h.sleep(50);
    assert.equal((await h.post(srv, sid, "4wake")).status, 200);
    const res = await pending;
    assert.equal(res.status, 200);
    assert.ok(h.splitPayload(res.text).includes("4wake"), res.text);
  });

  it("CLOSE from the client ends the session; the pending poll is released", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const pending = h.poll(srv, sid);
    await h.sleep(50);
    assert.equal((await h.post(srv, sid, "1")).status, 200);
    const res = await pending;
    assert.equal(res.status, 200);
    for (const p of h.splitPayload(res.text)) assert.ok(["6", "1"].includes(p), `pending poll got ${res.text}`);
    await assertSessionGone(sid);
  });

  for (const [name, body] of [
    ["unknown packet type 7", "7"],
    ["unknown packet type 9", "9x"],
    ["packet type '/'", "/x"],
  ]) {
    it(`${name} ends the session`, async () => {
      const { sid } = await h.pollingHandshake(srv);
      await h.post(srv, sid, body);
      await assertSessionGone(sid);
      await h.assertEchoHealthy(srv);
    });
  }
});

describe("websocket", { concurrency: true }, () => {
  it("text frames are echoed as text frames", async () => {
    const { client } = await h.wsHandshake(srv);
    try {
      client.send("4hello €𝄞");
      assert.deepEqual(await client.next(), { text: "4hello €𝄞" });
    } finally {
      client.close();
    }
  });

  it("binary frames carry raw bytes (no prefix) and are echoed as binary frames", async () => {
    const { client } = await h.wsHandshake(srv);
    try {
      const bin = Buffer.from([4, 0, 1, 2, 3, 255]);
      client.send(bin);
      const m = await client.next();
      assert.ok(m.binary, `expected binary, got ${JSON.stringify(m)}`);
      assert.deepEqual(m.binary, bin);
    } finally {
      client.close();
    }
  });

  it("200 messages come back in order; a 500 kB message round-trips", async () => {
    const { client } = await h.wsHandshake(srv);
    try {
      for (let i = 0; i < 200; i++) client.send(`4m${i}`);
      for (let i = 0; i < 200; i++) assert.equal(await client.nextText(), `4m${i}`);
      const big = `4${"z".repeat(500_000)}`;
      client.send(big);
      assert.equal(await client.nextText(), big);
    } finally {
      client.close();
    }
  });

  it("CLOSE from the client, then closing the socket, ends the session", async () => {
    const { client, open } = await h.wsHandshake(srv);
    client.send("1");
    await h.sleep(50);
    client.ws.close(1000);
    await client.closedWithin(1000);
    await assertSessionGone(open.sid);
  });

  it("unknown packet type 7 ends the session", async () => {
    const { client } = await h.wsHandshake(srv);
    client.send("7");
    assert.ok(await client.closedWithin(1000), "still open");
    await h.assertEchoHealthy(srv);
  });

  // Engine.IO protocol violations on a valid frame: Chorus closes with 1002 (protocol error)
  // and a reason; the reference sends an empty Close (1005 at the client).
  // OPEN and UPGRADE outside an upgrade: the reference ignores them, Chorus is stricter.
  for (const [name, packet, chorusOnly] of [
    ["undecodable packet", "7"],
    ["PING from the client", "2"],
    ["OPEN from the client", "0", true],
    ["UPGRADE outside an upgrade", "5", true],
  ]) {
    const opts = { skip: chorusOnly && h.IS_REFERENCE && "the reference ignores it" };
    it(`${chorusOnly ? "Chorus: " : ""}${name}: the websocket closes with ${h.IS_CHORUS ? "1002" : "1005"}`, opts, async () => {
      const { client } = await h.wsHandshake(srv);
      client.send(packet);
      const info = await client.closedWithin(3000);
      assert.ok(info, "still open");
      if (h.IS_CHORUS) {
        assert.equal(info.code, 1002, `reason ${JSON.stringify(info.reason)}`);
        assert.match(info.reason, /Engine\.IO/);
      } else {
        assert.equal(info.code, 1005);
      }
    });
  }
});

describe("upgrade polling -> websocket", { concurrency: true }, () => {
  async function upgrade() {
    const { sid } = await h.pollingHandshake(srv);
    const pending = h.poll(srv, sid);
    await h.sleep(30);
    const client = await h.WsClient.open(srv, { sid });
    client.send("2probe");
    assert.equal(await client.nextText(), "3probe");
    const released = await pending;
    assert.equal(released.status, 200);
    assert.equal(released.text, "6", "the pending poll is released with a NOOP");
    client.send("5");
    return { sid, client };
  }

  it("2probe/3probe, NOOP on the pending poll, 5, then messages flow on websocket", async () => {
    const { client } = await upgrade();
    try {
      client.send("4after-upgrade");
      assert.equal(await client.nextText(), "4after-upgrade");
      client.send(Buffer.from([9, 8, 7]));
      assert.deepEqual((await client.next()).binary, Buffer.from([9, 8, 7]));
    } finally {
      client.close();
    }
  });

  it("after the upgrade, polling requests for the sid answer 400 (Bad request)", async () => {
    const { sid, client } = await upgrade();
    try {
      client.send("4x");
      assert.equal(await client.nextText(), "4x");
      for (const res of [await h.poll(srv, sid), await h.post(srv, sid, "4y")]) {
        assert.equal(res.status, 400);
        assert.deepEqual(JSON.parse(res.text), { code: 3, message: "Bad request" });
      }
      assert.ok(client.isOpen, "the websocket survives the stray polling requests");
    } finally {
      client.close();
    }
  });

  it("heartbeat continues on the websocket after the upgrade", async () => {
    const { client } = await upgrade();
    try {
      await h.sleep(3 * h.PING_INTERVAL + 100);
      assert.ok(client.pings >= 2, `${client.pings} pings on the websocket`);
      assert.ok(client.isOpen);
    } finally {
      client.close();
    }
  });

  it("messages posted before the probe are not lost", async () => {
    const { sid } = await h.pollingHandshake(srv);
    assert.equal((await h.post(srv, sid, "4early")).status, 200);
    const client = await h.WsClient.open(srv, { sid });
    try {
      // The echo of "4early" is already buffered (or written) for polling: read it there.
      const got = await pollPackets(sid, 1);
      assert.deepEqual(got, ["4early"]);
      client.send("2probe");
      assert.equal(await client.nextText(), "3probe");
      client.send("5");
      client.send("4late");
      assert.equal(await client.nextText(), "4late");
    } finally {
      client.close();
    }
  });

  // The reference completes the handshake, then closes the second WebSocket (an empty Close,
  // 1005 at the client); Chorus does the same with 1002 and a reason.
  const secondCloseCode = h.IS_CHORUS ? 1002 : 1005;

  it("a second websocket for an upgraded session: handshake completed, then closed; the first carries on", async () => {
    const { sid, client } = await upgrade();
    try {
      const second = await h.WsClient.open(srv, { sid });
      second.send("2probe");
      const info = await second.closedWithin(3000);
      assert.ok(info, "the second websocket stayed open");
      assert.equal(info.code, secondCloseCode, `reason ${JSON.stringify(info.reason)}`);
      assert.ok(!second.messages.items.some((m) => m.text === "3probe"), "the probe was answered");
      client.send("4still");
      assert.equal(await client.nextText(), "4still");
    } finally {
      client.close();
    }
  });

  it("a second websocket while an upgrade is in progress: handshake completed, then closed", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const first = await h.WsClient.open(srv, { sid });
    try {
      first.send("2probe");
      assert.equal(await first.nextText(), "3probe");
      const second = await h.WsClient.open(srv, { sid });
      const info = await second.closedWithin(3000);
      assert.ok(info, "the second websocket stayed open");
      assert.equal(info.code, secondCloseCode, `reason ${JSON.stringify(info.reason)}`);
      first.send("5");
      first.send("4still");
      assert.equal(await first.nextText(), "4still");
    } finally {
      first.close();
    }
  });

  it("an Upgrade request naming transport=polling does not take over the session", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const raw = await h.RawWs.connect(srv, { query: { transport: "polling", sid } });
    try {
      if (raw.status === 101) {
        const c = await raw.waitClose(1500);
        assert.ok(c.code !== undefined || c.ended, "the websocket stayed open");
      } else {
        assert.ok(raw.status >= 400, raw.responseHead);
      }
    } finally {
      raw.destroy();
    }
    assert.equal((await h.post(srv, sid, "4ok")).status, 200);
    assert.deepEqual(await pollPackets(sid, 1), ["4ok"]);
  });

  it(
    "Chorus: upgrading a websocket session to websocket again: handshake completed, then closed (1002)",
    { skip: h.IS_REFERENCE && "the reference answers the probe of a same-transport upgrade" },
    async () => {
      const { client, open } = await h.wsHandshake(srv);
      try {
        const second = await h.WsClient.open(srv, { sid: open.sid });
        const info = await second.closedWithin(3000);
        assert.ok(info, "the second websocket stayed open");
        assert.equal(info.code, 1002);
        assert.match(info.reason, /already uses this transport/);
        client.send("4x");
        assert.equal(await client.nextText(), "4x");
      } finally {
        client.close();
      }
    },
  );
});
