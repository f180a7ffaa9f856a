// chorus-server --body-timeout (ServerOptions::body_timeout_ms): a request body that does not
// arrive whole in time (shorter than its Content-Length, or trickling at a byte a second) is
// answered 408 with Connection: close, and nothing in it runs: a polling POST carrying a
// complete "publish" packet in a truncated body publishes nothing. A body that arrives in
// time is served. Healthy polling clients carry on while slow bodies hold their workers.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { ack, client, connected, request, startServer } from "./helpers.mjs";

const BODY_TIMEOUT = 1500;
const QUIET = ["--ping-interval", "60000", "--ping-timeout", "60000"]; // no heartbeat during a slow POST

// A raw HTTP exchange: sends `head` + `body` (the body in `parts` pieces, `gapMs` apart,
// stopping when the server answers); resolves with { status, headers, text, closed, ms }.
function rawRequest(server, head, body, { parts = 1, gapMs = 0, timeout = 20_000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const sock = net.connect(server.port, server.host);
    let buf = Buffer.alloc(0);
    let answered = false;
    let timer;
    const done = (closed) => {
      clearTimeout(timer);
      const text = buf.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return reject(new Error(`no response (closed: ${closed}): ${JSON.stringify(text)}`));
      const lines = text.slice(0, end).split("\r\n");
      const headers = Object.fromEntries(
        lines.slice(1).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ status: Number(lines[0].split(" ")[1]), headers, text: text.slice(end + 4), closed, ms: Date.now() - t0 });
    };
    timer = setTimeout(() => {
      sock.destroy();
      done(false);
    }, timeout);
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      answered = true;
    });
    sock.on("close", () => done(true));
    sock.on("error", () => {});
    sock.on("connect", async () => {
      sock.write(head);
      const size = Math.ceil(body.length / parts);
      for (let i = 0; i < body.length && !answered; i += size) {
        if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (!answered && !sock.destroyed) sock.write(body.slice(i, i + size));
      }
    });
  });
}

const postHead = (server, path, length, extra = "") =>
  `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: ${length}\r\n${extra}\r\n`;

// A Socket.IO session over raw long-polling, connected to "/": returns its sid.
async function pollingSession(server) {
  const base = `${server.path}?EIO=4&transport=polling`;
  const hs = await request(server, base);
  const sid = JSON.parse(hs.body.slice(1)).sid;
  const path = `${base}&sid=${sid}`;
  assert.equal((await request(server, path, { method: "POST", body: "40" })).status, 200);
  const connect = await request(server, path);
  assert.match(connect.body, /^40\{/);
  return { sid, path };
}

// A listener in room `room` (websocket) and a way to prove what reached it.
async function listener(server, room) {
  const s = client(server, { transports: ["websocket"] });
  const got = [];
  s.onAny((event, ...args) => got.push([event, ...args]));
  await connected(s);
  assert.deepEqual(await ack(s, "join", room), [true]);
  return { s, got };
}

// Publishes "marker" from another client and waits until the listener has it: anything
// published before (by a request that ran) reached the listener first.
async function flush(server, room, l) {
  const p = client(server, { transports: ["websocket"] });
  try {
    await connected(p);
    const arrived = new Promise((resolve) => l.s.on("marker", resolve));
    assert.deepEqual(await ack(p, "publish", room, "marker"), [true]);
    await arrived;
  } finally {
    p.close();
  }
}

describe("chorus-server --body-timeout", () => {
  let server;
  before(async () => {
    server = await startServer(["--body-timeout", String(BODY_TIMEOUT), ...QUIET]);
  });
  after(async () => {
    await server?.stop();
  });

  test("a polling POST shorter than its Content-Length: 408 at the deadline, nothing runs", async () => {
    const l = await listener(server, "short");
    try {
      const { path } = await pollingSession(server);
      const packet = '42["publish","short","leak","x"]';
      const res = await rawRequest(server, postHead(server, path, packet.length + 10), packet);
      assert.equal(res.status, 408, res.text);
      assert.equal(res.headers.connection, "close");
      assert.ok(res.closed, "the server closed the connection");
      assert.ok(res.ms >= BODY_TIMEOUT - 100, `answered after ${res.ms} ms, before the deadline`);
      assert.match(JSON.parse(res.text).message, /request body incomplete after 1500 ms/);
      await flush(server, "short", l);
      assert.deepEqual(l.got.filter(([e]) => e === "leak"), [], "the truncated POST published");
    } finally {
      l.s.close();
    }
  });

  test("a body trickling at 5 bytes a second: 408 at the deadline, nothing runs", async () => {
    const l = await listener(server, "slow");
    try {
      const { path } = await pollingSession(server);
      const packet = '42["publish","slow","leak","x"]';
      const res = await rawRequest(server, postHead(server, path, packet.length), packet, { parts: packet.length, gapMs: 200 });
      assert.equal(res.status, 408, res.text);
      assert.equal(res.headers.connection, "close");
      assert.ok(res.closed);
      await flush(server, "slow", l);
      assert.deepEqual(l.got.filter(([e]) => e === "leak"), []);
    } finally {
      l.s.close();
    }
  });

  test("a body arriving whole before the deadline, in pieces, is served", async () => {
    const l = await listener(server, "ok");
    try {
      const { path } = await pollingSession(server);
      const packet = '42["publish","ok","delivered","x"]';
      const arrived = new Promise((resolve) => l.s.on("delivered", resolve));
      const res = await rawRequest(server, postHead(server, path, packet.length, "Connection: close\r\n"), packet,
        { parts: 3, gapMs: 50 });
      assert.equal(res.status, 200, res.text);
      assert.equal(await arrived, "x");
    } finally {
      l.s.close();
    }
  });

  test("a REST route body shorter than its Content-Length: 408, the route does not run", async () => {
    const body = '{"name":"ann"}';
    const res = await rawRequest(server, postHead(server, "/api/login", body.length + 5), body);
    assert.equal(res.status, 408, res.text);
    assert.equal(res.headers.connection, "close");
    assert.ok(res.closed);
    assert.ok(!res.text.includes("token"), res.text);
    assert.match(JSON.parse(res.text).error, /request body incomplete/);
  });
});

describe("slow bodies beside a healthy polling client", () => {
  const SLOW = 24; // fits the 32 CivetWeb workers (--http-threads) with room for the client
  const TIMEOUT = 4000;
  let server;
  before(async () => {
    // Every request here comes from 127.0.0.1: all 24 slow bodies in workers at once.
    server = await startServer(["--body-timeout", String(TIMEOUT), "--max-pending-per-address", "32", ...QUIET]);
  });
  after(async () => {
    await server?.stop();
  });

  test(`${SLOW} bodies at 1 byte/s: the polling client's round trips go on, then each slow request gets 408`, async () => {
    const healthy = client(server, { transports: ["polling"] });
    try {
      await connected(healthy);
      const path = "/api/login";
      const body = '{"name":"' + "x".repeat(100) + '"}';
      const slow = [];
      for (let i = 0; i < SLOW; i++) {
        slow.push(rawRequest(server, postHead(server, path, body.length), body, { parts: body.length, gapMs: 1000 }));
      }
      let answered = 0;
      for (const p of slow) p.then(() => answered++, () => {});
      for (let i = 0; i < 10; i++) {
        assert.deepEqual(await ack(healthy, "join", `room${i}`), [true], `round trip ${i}`);
      }
      assert.equal(answered, 0, "slow requests were answered before the healthy client's round trips finished");
      assert.ok(healthy.connected);
      for (const res of await Promise.all(slow)) {
        assert.equal(res.status, 408);
        assert.equal(res.headers.connection, "close");
        assert.ok(res.closed);
      }
      assert.deepEqual(await ack(healthy, "join", "after"), [true]);
    } finally {
      healthy.close();
    }
  });
});
