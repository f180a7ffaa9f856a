// The SSE Engine.IO transport, byte by byte: GET /socket.io/?EIO=4&transport=sse streams one
// SSE event per Engine.IO packet (text split at LF into data: lines, packets holding CR as
// `event: b64`, binary as 'b' + base64), POST carries packets upstream, heartbeats run over
// it, and it upgrades to WebSocket as polling does. Then the official socket.io-client, which
// knows nothing of SSE, must still connect and upgrade as usual.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { io } from "socket.io-client";
import { WebSocket } from "ws";
import * as h from "./harness.mjs";

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const PING_ARGS = ["--ping-interval", String(PING_INTERVAL), "--ping-timeout", String(PING_TIMEOUT)];

let echo; // Engine.IO echo mode
let sio; // Socket.IO mode
before(async () => {
  [echo, sio] = await Promise.all([h.startApp([...PING_ARGS, "--engine-echo"]), h.startApp(PING_ARGS)]);
});
after(async () => {
  await Promise.all([echo.stop(), sio.stop()]);
});

// Sends `packets` up and expects them echoed.
async function roundTrip(c, packet) {
  const res = await c.post(packet);
  assert.equal(res.status, 200, res.text);
  return c.next();
}

describe("SSE transport: framing", { concurrency: true }, () => {
  it("the handshake opens an event stream whose first event is the OPEN packet", async () => {
    const c = await h.SseEioClient.open(echo);
    try {
      assert.equal(c.stream.status, 200);
      assert.match(c.stream.headers["content-type"], /^text\/event-stream/);
      assert.match(c.stream.headers["cache-control"], /no-cache/);
      assert.ok(c.stream.raw.startsWith("retry: 2000\n\n"), JSON.stringify(c.stream.raw.slice(0, 40)));
      assert.equal(c.events[0].type, "message");
      assert.equal(typeof c.sid, "string");
      assert.ok(c.sid.length > 0);
      assert.deepEqual(c.open.upgrades, ["websocket"], "sse never appears in upgrades");
      assert.equal(c.open.pingInterval, PING_INTERVAL);
      assert.equal(c.open.pingTimeout, PING_TIMEOUT);
      assert.equal(c.open.maxPayload, h.MAX_PAYLOAD);
    } finally {
      c.close();
    }
  });

  it("messages both ways: POST upstream, one event per packet downstream, in order", async () => {
    const c = await h.SseEioClient.open(echo);
    try {
      const res = await c.post("4hello", "4", "4world");
      assert.equal(res.status, 200);
      assert.deepEqual([(await c.next()).text, (await c.next()).text, (await c.next()).text], ["4hello", "4", "4world"]);
      assert.ok(c.stream.raw.includes("\ndata: 4hello\n\n"), "one data: line for a one-line packet");
    } finally {
      c.close();
    }
  });

  it("a multi-line message travels as several data: lines and is rejoined with LF", async () => {
    const c = await h.SseEioClient.open(echo);
    try {
      const p = await roundTrip(c, "4line1\nline2\n\nline4\n");
      assert.equal(p.event, "message");
      assert.equal(p.text, "4line1\nline2\n\nline4\n");
      assert.ok(c.stream.raw.includes("data: 4line1\ndata: line2\ndata: \ndata: line4\ndata: \n\n"), JSON.stringify(c.stream.raw.slice(-80)));
    } finally {
      c.close();
    }
  });

  it("a message holding CR travels as a b64 event and arrives exactly", async () => {
    const c = await h.SseEioClient.open(echo);
    try {
      for (const text of ["4x\ry", "4a\r\nb\r", "4\r"]) {
        const p = await roundTrip(c, text);
        assert.equal(p.event, "b64");
        assert.equal(p.text, text);
        assert.ok(c.stream.raw.includes(`event: b64\ndata: ${Buffer.from(text).toString("base64")}\n\n`));
      }
    } finally {
      c.close();
    }
  });

  it("Unicode text and a 200 KB message arrive intact", async () => {
    const c = await h.SseEioClient.open(echo);
    try {
      assert.equal((await roundTrip(c, "4héllo — 日本語 🎉👍🏽")).text, "4héllo — 日本語 🎉👍🏽");
      const big = `4${"xyz\n".repeat(50_000)}`;
      assert.equal((await roundTrip(c, big)).text, big);
    } finally {
      c.close();
    }
  });

  it("binary messages go up and come down as 'b' + base64", async () => {
    const c = await h.SseEioClient.open(echo);
    try {
      const bytes = Buffer.from([0, 1, 2, 0x0a, 0x0d, 255]);
      const p = await roundTrip(c, `b${bytes.toString("base64")}`);
      assert.equal(p.binary, true);
      assert.deepEqual(p.data, bytes);
      assert.equal(p.event, "message");
    } finally {
      c.close();
    }
  });
});

describe("SSE transport: session life", { concurrency: true }, () => {
  it("heartbeat: pings arrive as events; answering them keeps the session over several intervals", async () => {
    const c = await h.SseEioClient.open(echo);
    try {
      await h.sleep(5 * PING_INTERVAL);
      assert.ok(c.pings >= 3, `only ${c.pings} pings in ${5 * PING_INTERVAL} ms`);
      assert.ok(c.events.some((e) => e.data === "2"), "a PING is an SSE event with data 2");
      assert.equal((await roundTrip(c, "4still here")).text, "4still here");
    } finally {
      c.close();
    }
  });

  it("heartbeat: without pongs the session ends after pingInterval + pingTimeout", async () => {
    const c = await h.SseEioClient.open(echo, { autoPong: false });
    const started = Date.now();
    const ping = await c.next(PING_INTERVAL + 1000);
    assert.equal(ping.type, "2");
    const why = await Promise.race([c.stream.ended, h.sleep(PING_INTERVAL + PING_TIMEOUT + 2000).then(() => null)]);
    assert.ok(why, "the stream must end once the ping timed out");
    assert.ok(Date.now() - started >= PING_INTERVAL + PING_TIMEOUT - 50);
    const res = await c.post("4late");
    assert.equal(res.status, 400, "the session is gone");
  });

  it("server-initiated close: a CLOSE event, then the stream ends", async () => {
    const c = await h.SseEioClient.open(echo);
    await c.post("4close");
    const p = await c.next();
    assert.equal(p.text, "1");
    assert.ok(await Promise.race([c.stream.ended, h.sleep(2000).then(() => null)]), "stream still open after CLOSE");
    assert.equal((await c.post("4x")).status, 400);
  });

  it("client close (POST 1) ends the stream and the session", async () => {
    const c = await h.SseEioClient.open(echo);
    assert.equal((await c.post("1")).status, 200);
    assert.ok(await Promise.race([c.stream.ended, h.sleep(2000).then(() => null)]), "stream still open after client CLOSE");
    const leftovers = [];
    while (c.packets.items.length) leftovers.push(c.packets.items.shift().text);
    assert.ok(leftovers.every((t) => t === "1" || t === "6"), JSON.stringify(leftovers));
    assert.equal((await c.post("4x")).status, 400);
  });

  it("the client dropping the stream closes the session", async () => {
    const c = await h.SseEioClient.open(echo);
    c.close();
    await h.eventually(async () => assert.equal((await c.post("4x")).status, 400), 3000);
  });

  it(`a POST over maxPayload (${h.MAX_PAYLOAD} bytes) answers 413, at the limit 200`, async () => {
    const c = await h.SseEioClient.open(echo);
    try {
      const atLimit = `4${"a".repeat(h.MAX_PAYLOAD - 1)}`;
      assert.equal((await c.post(atLimit)).status, 200);
      assert.equal((await c.next(5000)).text.length, h.MAX_PAYLOAD);
      const over = await c.post(`${atLimit}a`);
      assert.equal(over.status, 413);
    } finally {
      c.close();
    }
  });

  it("a second GET for the session answers 400, and so does an unknown sid", async () => {
    const c = await h.SseEioClient.open(echo);
    try {
      const second = await h.request(echo, { path: h.eioPath({ transport: "sse", sid: c.sid }) });
      assert.equal(second.status, 400);
      assert.equal(typeof second.json?.code, "number", second.text);
      const unknown = await h.request(echo, { method: "POST", path: h.eioPath({ transport: "sse", sid: "nope" }), body: "4x" });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.json?.code, 1, "Engine.IO code 1: unknown sid");
      assert.equal((await roundTrip(c, "4ok")).text, "4ok", "the first stream is unaffected");
    } finally {
      c.close();
    }
  });

  it("upgrade to WebSocket: 2probe/3probe, a NOOP event, 5; the stream ends without CLOSE", async () => {
    const c = await h.SseEioClient.open(echo);
    const ws = new WebSocket(`ws://127.0.0.1:${echo.port}${h.eioPath({ transport: "websocket", sid: c.sid })}`);
    const msgs = new h.Queue();
    ws.on("message", (d, binary) => msgs.push(binary ? { binary: Buffer.from(d) } : d.toString()));
    try {
      await new Promise((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      ws.send("2probe");
      assert.equal(await msgs.shift(), "3probe");
      const noop = await c.packets.shift(3000, "the NOOP that releases the SSE side");
      assert.equal(noop.text, "6");
      ws.send("5");
      const why = await Promise.race([c.stream.ended, h.sleep(3000).then(() => null)]);
      assert.ok(why, "the SSE stream must end after the upgrade");
      assert.ok(!c.events.some((e) => e.data === "1"), "no CLOSE: the session lives on over WebSocket");
      ws.send("4over websocket");
      let m = await msgs.shift();
      while (m === "2") {
        ws.send("3");
        m = await msgs.shift();
      }
      assert.equal(m, "4over websocket");
      // Heartbeats continue over the WebSocket.
      let pinged = false;
      const deadline = Date.now() + 3 * PING_INTERVAL;
      while (!pinged && Date.now() < deadline) {
        const next = await msgs.shift(3 * PING_INTERVAL).catch(() => null);
        if (next === "2") {
          pinged = true;
          ws.send("3");
        }
      }
      assert.ok(pinged, "PING over the WebSocket after the upgrade");
      ws.send("4still");
      let last = await msgs.shift();
      while (last === "2") {
        ws.send("3");
        last = await msgs.shift();
      }
      assert.equal(last, "4still");
    } finally {
      ws.terminate();
      c.close();
    }
  });
});

describe("SSE transport: Socket.IO on top", { concurrency: true }, () => {
  it("CONNECT, an event with ack and a room broadcast (with a binary attachment) over SSE", async () => {
    const c = await h.SseEioClient.open(sio);
    const room = h.uniqueRoom("sse-sio");
    try {
      await c.post("40");
      const connect = await c.next();
      assert.match(connect.text, /^40\{"sid":"[^"]+"\}$/);
      await c.post(`421["join","${room}"]`);
      assert.equal((await c.next()).text, "431[true]");
      await h.publish(sio, { room, event: "news", args: ["multi\nline", { n: 1 }] });
      assert.equal((await c.next()).text, '42["news","multi\\nline",{"n":1}]');
      await h.publish(sio, { room, event: "bin", args: ["x"], binary: Buffer.from([1, 2, 3]).toString("base64") });
      assert.equal((await c.next()).text, '451-["bin","x",{"_placeholder":true,"num":0}]');
      const att = await c.next();
      assert.equal(att.binary, true);
      assert.deepEqual(att.data, Buffer.from([1, 2, 3]));
    } finally {
      c.close();
    }
  });

  it("the polling handshake offers only websocket as an upgrade", async () => {
    const res = await h.request(sio, { path: h.eioPath({ transport: "polling" }) });
    assert.equal(res.status, 200);
    const open = JSON.parse(res.text.slice(1));
    assert.deepEqual(open.upgrades, ["websocket"]);
    await h.request(sio, { method: "POST", path: h.eioPath({ transport: "polling", sid: open.sid }), body: "1" });
  });

  for (const mode of [
    { name: "default transports (polling, then upgrade)", opts: {}, transport: "websocket", upgrade: true },
    { name: "websocket only", opts: { transports: ["websocket"] }, transport: "websocket" },
    { name: "polling only", opts: { transports: ["polling"] }, transport: "polling" },
  ]) {
    it(`socket.io-client, ${mode.name}: connects, joins a room, receives broadcasts, survives heartbeats`, async () => {
      const socket = io(sio.url("/"), { forceNew: true, reconnection: false, timeout: 5000, ...mode.opts });
      const room = h.uniqueRoom("sio-client");
      const got = new h.Queue();
      socket.on("news", (...args) => got.push(args));
      try {
        await new Promise((resolve, reject) => {
          socket.once("connect", resolve);
          socket.once("connect_error", reject);
        });
        if (mode.upgrade && socket.io.engine.transport.name !== "websocket") {
          await new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error("no upgrade within 3 s")), 3000);
            socket.io.engine.once("upgrade", () => {
              clearTimeout(t);
              resolve();
            });
          });
        }
        assert.equal(socket.io.engine.transport.name, mode.transport);
        assert.equal(await socket.timeout(2000).emitWithAck("join", room), true);
        await h.publish(sio, { room, event: "news", args: ["hello", 1] });
        assert.deepEqual(await got.shift(), ["hello", 1]);
        await h.sleep(3 * PING_INTERVAL);
        assert.ok(socket.connected, "still connected after several heartbeats");
        await h.publish(sio, { room, event: "news", args: ["again"] });
        assert.deepEqual(await got.shift(), ["again"]);
      } finally {
        socket.disconnect();
      }
    });
  }
});
