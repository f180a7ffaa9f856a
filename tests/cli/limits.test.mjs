// --max-connections at and past the limit: the sessions within it open, the next handshake
// gets 503 with a reason, and a freed slot is usable again; plain WebSockets and SSE streams
// count too.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { ack, client, connected, request, startServer } from "./helpers.mjs";

let server;
before(async () => {
  server = await startServer(["--max-connections", "2"]);
});
after(async () => {
  await server?.stop();
});

const EIO = "/socket.io/?EIO=4&transport=polling";

test("max-connections 2: two sessions open, the third gets 503, a closed one frees its slot", async () => {
  const sids = [];
  for (let i = 0; i < 2; i++) {
    const res = await request(server, EIO);
    assert.equal(res.status, 200, `session ${i + 1}: ${res.body}`);
    sids.push(JSON.parse(res.body.slice(1)).sid);
  }
  const third = await request(server, EIO);
  assert.equal(third.status, 503);
  assert.match(JSON.parse(third.body).message, /connection limit/);

  // A CLOSE packet ends one session; its slot is free for the next handshake.
  const closed = await request(server, `${EIO}&sid=${sids[0]}`, { method: "POST", body: "1" });
  assert.equal(closed.status, 200);
  let again;
  for (let i = 0; i < 20; i++) {
    again = await request(server, EIO);
    if (again.status === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(again.status, 200, again.body);
});

// Plain WebSockets (/ws/echo), plain SSE streams (/events/time) and feeds each hold a
// connection like a session does: they count against --max-connections too.
function openWs(server) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/echo`);
    ws.once("open", () => resolve({ ws, status: 101 }));
    ws.once("unexpected-response", (req, res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    ws.once("error", (err) => resolve({ status: 0, body: String(err) }));
  });
}

// Resolves once the response head arrived: {status, req} (the stream stays open).
function openStream(server, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port: server.port, path, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      } else {
        resolve({ status: 200, req });
      }
    });
    req.on("error", reject);
  });
}

test("max-connections 4: plain WebSockets and SSE streams count; the next gets 503; a healthy client is undisturbed", async () => {
  const s = await startServer(["--max-connections", "4"]);
  const open = [];
  const healthy = client(s, { transports: ["websocket"] });
  try {
    await connected(healthy);
    assert.deepEqual(await ack(healthy, "join", "room"), [true]);
    // Three more: at the limit.
    for (let i = 0; i < 2; i++) {
      const r = await openWs(s);
      assert.equal(r.status, 101, `WebSocket ${i + 1}: ${r.body}`);
      open.push(() => r.ws.close());
    }
    const stream = await openStream(s, "/events/time");
    assert.equal(stream.status, 200, stream.body);
    open.push(() => stream.req.destroy());

    // Past it: every kind of connection is refused with 503.
    const ws = await openWs(s);
    assert.equal(ws.status, 503, "WebSocket past the limit");
    assert.match(ws.body, /connection limit/);
    for (const path of ["/events/time", "/feeds/room"]) {
      const r = await openStream(s, path);
      assert.equal(r.status, 503, `${path} past the limit`);
      assert.match(r.body, /connection limit/);
    }
    const hs = await request(s, EIO);
    assert.equal(hs.status, 503, "Engine.IO handshake past the limit");

    // The healthy client keeps working.
    assert.deepEqual(await ack(healthy, "join", "other"), [true]);
    assert.deepEqual(await ack(healthy, "publish", "other", "ev", 1), [true]);
    assert.ok(healthy.connected);

    // A closed WebSocket frees its slot for the next one (the server sees the close soon).
    open.shift()();
    let again;
    for (let i = 0; i < 100; i++) {
      again = await openWs(s);
      if (again.status === 101) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(again.status, 101, "a slot freed by a closed WebSocket");
    open.push(() => again.ws.close());
  } finally {
    healthy.close();
    for (const close of open) close();
    const stopped = await s.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  }
});
