// Plain SSE feeds of rooms: GET /feeds/<room>[?nsp=&token=&lastEventId=], read with the npm
// `eventsource` package and with `curl -N`. event: = event name, data: = JSON array of the
// arguments (binary as {"_binary": base64}), id: = per-room offset from 1; history of 50 events
// (the app's feed_history) for Last-Event-ID resume, an explicit `reset` event past it; the
// namespace middleware authorizes (401 without a token, 403 with a refused one).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { io } from "socket.io-client";
import * as h from "./harness.mjs";

let app;
before(async () => {
  app = await h.startApp();
});
after(async () => {
  await app.stop();
});

const feedUrl = (room, query = {}) => {
  const q = new URLSearchParams(query).toString();
  return app.url(`/feeds/${encodeURIComponent(room)}${q ? `?${q}` : ""}`);
};

// Publishes events "e" with arguments [i] for i in from..to, one broadcast each.
async function publishRange(room, from, to, nsp) {
  for (let i = from; i <= to; i++) await h.publish(app, { room, nsp, event: "e", args: [i] });
}

// The next `count` events of a queue, as [type, data, lastEventId].
async function take(queue, count, ms = 3000) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const e = await queue.shift(ms, `event ${i + 1} of ${count}`);
    out.push([e.type, e.data, e.lastEventId]);
  }
  return out;
}

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const expectE = (from, to) => range(from, to).map((i) => ["e", `[${i}]`, String(i)]);

const TRICKY_ARGS = ["line1\nline2\r\nline3", "héllo — 日本語 🎉👍🏽", { nested: ["a\nb", null, 1.5, true] }, "", "data: x\n\nid: 9"];
const TRICKY_BYTES = Buffer.from([0, 1, 2, 0x0a, 0x0d, 0xff]);
const TRICKY_DATA = JSON.stringify([...TRICKY_ARGS, { _binary: TRICKY_BYTES.toString("base64") }]);

describe("feeds: framing", { concurrency: true }, () => {
  it("eventsource: event name, JSON arguments (multi-line strings, Unicode, binary marker), ids from 1", async () => {
    const room = h.uniqueRoom("frame-es");
    const es = h.eventSource(feedUrl(room), ["tricky", "plain", "message"]);
    try {
      await es.opened;
      await h.publish(app, { room, event: "tricky", args: TRICKY_ARGS, binary: TRICKY_BYTES.toString("base64") });
      await h.publish(app, { room, event: "plain" });
      await h.publish(app, { room, event: "message", args: [42] });
      const got = await take(es.events, 3);
      assert.deepEqual(got, [
        ["tricky", TRICKY_DATA, "1"],
        ["plain", "[]", "2"],
        ["message", "[42]", "3"],
      ]);
      assert.deepEqual(JSON.parse(got[0][1]).slice(0, TRICKY_ARGS.length), TRICKY_ARGS);
    } finally {
      es.close();
    }
  });

  it("curl -N: the raw stream is retry, then event/id/data blocks, data on one line", async () => {
    const room = h.uniqueRoom("frame-curl");
    const c = h.curlSse(feedUrl(room), ["-i"]);
    try {
      await c.ready;
      await h.publish(app, { room, event: "tricky", args: TRICKY_ARGS, binary: TRICKY_BYTES.toString("base64") });
      await h.publish(app, { room, event: "two words", args: ["ok"] });
      const got = await take(c.events, 2);
      assert.deepEqual(got[0], ["tricky", TRICKY_DATA, "1"]);
      // An event name holding a space stays one field.
      assert.deepEqual(got[1], ["two words", '["ok"]', "2"]);
      const [head, body] = c.raw.split("\r\n\r\n");
      assert.match(head, /^HTTP\/1\.1 200/);
      assert.match(head, /\r\nContent-Type: text\/event-stream/i);
      assert.ok(body.startsWith("retry: 2000\n\n"), JSON.stringify(body.slice(0, 30)));
      const blocks = body.split("\n\n").filter((b) => b && !b.startsWith("retry:") && !b.startsWith(":"));
      assert.deepEqual(blocks.slice(0, 2), [`event: tricky\nid: 1\ndata: ${TRICKY_DATA}`, 'event: two words\nid: 2\ndata: ["ok"]']);
    } finally {
      await c.kill();
    }
  });

  it("rooms and namespaces are separate feeds with their own ids", async () => {
    const a = h.uniqueRoom("sep-a");
    const b = h.uniqueRoom("sep-b");
    const token = h.signHs256({ sub: "u1", exp: h.nowSeconds() + 600 });
    const esA = h.eventSource(feedUrl(a), ["e"]);
    const esB = h.eventSource(feedUrl(b), ["e"]);
    const esP = h.eventSource(feedUrl(a, { nsp: "/private", token }), ["e"]);
    try {
      await Promise.all([esA.opened, esB.opened, esP.opened]);
      await publishRange(a, 1, 2);
      await h.publish(app, { room: b, event: "e", args: ["b"] });
      await h.publish(app, { room: a, nsp: "/private", event: "e", args: ["p"] });
      assert.deepEqual(await take(esA.events, 2), expectE(1, 2));
      assert.deepEqual(await take(esB.events, 1), [["e", '["b"]', "1"]]);
      assert.deepEqual(await take(esP.events, 1), [["e", '["p"]', "1"]]);
      await h.sleep(100);
      assert.equal(esA.events.items.length + esB.events.items.length + esP.events.items.length, 0);
    } finally {
      esA.close();
      esB.close();
      esP.close();
    }
  });
});

describe("feeds: resume", { concurrency: true }, () => {
  it("eventsource: closed, missed events, reopened with ?lastEventId -> exactly the missed ones, then live", async () => {
    const room = h.uniqueRoom("resume-q");
    const es1 = h.eventSource(feedUrl(room), ["e"]);
    await es1.opened;
    await publishRange(room, 1, 3);
    assert.deepEqual(await take(es1.events, 3), expectE(1, 3));
    es1.close();
    await publishRange(room, 4, 7);
    const es2 = h.eventSource(feedUrl(room, { lastEventId: "3" }), ["e"]);
    try {
      await es2.opened;
      assert.deepEqual(await take(es2.events, 4), expectE(4, 7));
      await publishRange(room, 8, 8);
      assert.deepEqual(await take(es2.events, 1), expectE(8, 8));
      assert.deepEqual(await es2.events.quiet(100), []);
    } finally {
      es2.close();
    }
  });

  it("eventsource: a dropped connection reconnects by itself with Last-Event-ID and misses nothing", async () => {
    const room = h.uniqueRoom("resume-drop");
    const f = h.droppableFetch();
    const es = h.eventSource(feedUrl(room), ["e"], { fetch: f.fetch });
    try {
      await es.opened;
      await publishRange(room, 1, 2);
      assert.deepEqual(await take(es.events, 2), expectE(1, 2));
      f.drop();
      await es.errors.shift(2000, "the error event of the dropped stream");
      await publishRange(room, 3, 5); // while disconnected (the server says retry: 2000)
      assert.deepEqual(await take(es.events, 3, 6000), expectE(3, 5));
      assert.equal(f.requests.length, 2);
      assert.equal(f.requests[1].headers["Last-Event-ID"], "2");
      await publishRange(room, 6, 6);
      assert.deepEqual(await take(es.events, 1), expectE(6, 6));
    } finally {
      es.close();
    }
  });

  it("curl with a Last-Event-ID header gets the missed events", async () => {
    const room = h.uniqueRoom("resume-curl");
    const es = h.eventSource(feedUrl(room), ["e"]);
    await es.opened;
    await publishRange(room, 1, 6);
    assert.deepEqual(await take(es.events, 6), expectE(1, 6));
    es.close();
    const c = h.curlSse(feedUrl(room), ["-H", "Last-Event-ID: 4"]);
    try {
      assert.deepEqual(await take(c.events, 2), expectE(5, 6));
      await c.ready;
      await publishRange(room, 7, 7);
      assert.deepEqual(await take(c.events, 1), expectE(7, 7));
    } finally {
      await c.kill();
    }
  });

  it("the header wins over the query parameter; lastEventId=0 replays the whole history", async () => {
    const room = h.uniqueRoom("resume-both");
    const es = h.eventSource(feedUrl(room), ["e"]);
    await es.opened;
    await publishRange(room, 1, 3);
    await take(es.events, 3);
    es.close();
    const c = h.curlSse(feedUrl(room, { lastEventId: "1" }), ["-H", "Last-Event-ID: 2"]);
    const all = h.eventSource(feedUrl(room, { lastEventId: "0" }), ["e"]);
    try {
      assert.deepEqual(await take(c.events, 1), expectE(3, 3));
      assert.deepEqual(await take(all.events, 3), expectE(1, 3));
    } finally {
      all.close();
      await c.kill();
    }
  });

  it(`history of ${h.FEED_HISTORY}: the oldest kept event is still a resume point, one older is a reset`, async () => {
    const room = h.uniqueRoom("resume-edge");
    const es = h.eventSource(feedUrl(room), ["e"]);
    await es.opened;
    const total = h.FEED_HISTORY + 10; // ids 1..60; history keeps 11..60
    await h.publish(app, { room, event: "e", repeat: total });
    const got = await take(es.events, total);
    assert.deepEqual(got, expectE(1, total));
    es.close();
    const oldest = total - h.FEED_HISTORY + 1;
    // Resuming after oldest-1: every later event is still kept.
    const ok = h.eventSource(feedUrl(room, { lastEventId: String(oldest - 1) }), ["e", "reset"]);
    // Resuming after oldest-2: event oldest-1 is gone.
    const late = h.eventSource(feedUrl(room, { lastEventId: String(oldest - 2) }), ["e", "reset"]);
    try {
      assert.deepEqual(await take(ok.events, h.FEED_HISTORY), expectE(oldest, total));
      const reset = await late.events.shift();
      assert.equal(reset.type, "reset");
      assert.deepEqual(JSON.parse(reset.data), {
        reason: "history exhausted",
        lastEventId: oldest - 2,
        oldest,
        next: total + 1,
      });
      await h.sleep(100);
      assert.deepEqual(late.events.items, [], "a reset replays nothing");
    } finally {
      ok.close();
      late.close();
    }
  });

  it("reset past the history: > 50 events while away -> `reset`, then live events", async () => {
    const room = h.uniqueRoom("reset");
    const es1 = h.eventSource(feedUrl(room), ["e"]);
    await es1.opened;
    await publishRange(room, 1, 5);
    assert.deepEqual(await take(es1.events, 5), expectE(1, 5));
    es1.close();
    await h.publish(app, { room, event: "e", args: ["away"], repeat: 60 }); // ids 6..65
    // An EventSource resuming from id 5, as it would after its own reconnection.
    const es2 = h.eventSource(feedUrl(room), ["e", "reset"], {
      fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, "Last-Event-ID": "5" } }),
    });
    const c = h.curlSse(feedUrl(room), ["-H", "Last-Event-ID: 5"]);
    try {
      await es2.opened;
      const reset = await es2.events.shift();
      assert.equal(reset.type, "reset");
      assert.deepEqual(JSON.parse(reset.data), { reason: "history exhausted", lastEventId: 5, oldest: 16, next: 66 });
      const creset = await c.events.shift();
      assert.equal(creset.type, "reset");
      assert.equal(creset.data, reset.data);
      await c.ready;
      await publishRange(room, 66, 66);
      assert.deepEqual(await take(es2.events, 1), expectE(66, 66));
      assert.deepEqual(await take(c.events, 1), expectE(66, 66));
    } finally {
      es2.close();
      await c.kill();
    }
  });

  it("an unknown id (beyond the last, or not a number) gets a reset, then live events", async () => {
    const room = h.uniqueRoom("reset-unknown");
    const es = h.eventSource(feedUrl(room), ["e"]);
    await es.opened;
    await publishRange(room, 1, 2);
    await take(es.events, 2);
    es.close();
    const ahead = h.eventSource(feedUrl(room, { lastEventId: "1000" }), ["e", "reset"]);
    const junk = h.curlSse(feedUrl(room), ["-H", "Last-Event-ID: abc"]);
    try {
      const r = await ahead.events.shift();
      assert.equal(r.type, "reset");
      assert.deepEqual(JSON.parse(r.data), { reason: "unknown event id", lastEventId: 1000, oldest: 1, next: 3 });
      const j = await junk.events.shift();
      assert.equal(j.type, "reset");
      assert.equal(JSON.parse(j.data).next, 3);
      await junk.ready;
      await publishRange(room, 3, 3);
      assert.deepEqual(await take(ahead.events, 1), expectE(3, 3));
      assert.deepEqual(await take(junk.events, 1), expectE(3, 3));
    } finally {
      ahead.close();
      await junk.kill();
    }
  });
});

describe("feeds: authorization and errors", { concurrency: true }, () => {
  it("/private without a token: 401 with the middleware's error (eventsource and curl)", async () => {
    const room = h.uniqueRoom("auth");
    const es = h.eventSource(feedUrl(room, { nsp: "/private" }), ["e"]);
    await assert.rejects(es.opened, /401/);
    es.close();
    const r = await h.curl(["-s", "-w", "\n%{http_code}", feedUrl(room, { nsp: "/private" })]);
    const [body, status] = r.stdout.split("\n");
    assert.equal(status, "401");
    assert.deepEqual(JSON.parse(body), { error: "unauthorized: missing token", data: { reason: "missing token" } });
  });

  it("/private with a bad token: 403 (wrong secret, expired, garbage; query or Bearer header)", async () => {
    const room = h.uniqueRoom("auth-bad");
    const cases = [
      [h.signHs256({ sub: "u" }, "wrong-secret"), "invalid signature"],
      [h.signHs256({ sub: "u", exp: h.nowSeconds() - 10 }), "token expired"],
      ["garbage", "malformed token"],
    ];
    for (const [token, reason] of cases) {
      const q = await h.request(app, { path: `/feeds/${room}?nsp=/private&token=${encodeURIComponent(token)}` });
      assert.equal(q.status, 403, `${reason}: ${q.text}`);
      assert.deepEqual(q.json, { error: `unauthorized: ${reason}`, data: { reason } });
      const b = await h.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", `Authorization: Bearer ${token}`, feedUrl(room, { nsp: "/private" })]);
      assert.equal(b.stdout, "403", reason);
    }
    const es = h.eventSource(feedUrl(room, { nsp: "/private", token: "garbage" }), ["e"]);
    await assert.rejects(es.opened, /403/);
    es.close();
  });

  it("/private with a valid token (query for eventsource, Bearer for curl) streams the room", async () => {
    const room = h.uniqueRoom("auth-ok");
    const token = h.signHs256({ sub: "reader", exp: h.nowSeconds() + 600 });
    const es = h.eventSource(feedUrl(room, { nsp: "/private", token }), ["e"]);
    const c = h.curlSse(feedUrl(room, { nsp: "/private" }), ["-H", `Authorization: Bearer ${token}`]);
    try {
      await es.opened;
      await c.ready;
      await publishRange(room, 1, 2, "/private");
      await h.publish(app, { room, event: "e", args: ["main namespace"] }); // "/" room: not this feed
      assert.deepEqual(await take(es.events, 2), expectE(1, 2));
      assert.deepEqual(await take(c.events, 2), expectE(1, 2));
      await h.sleep(100);
      assert.deepEqual(es.events.items, []);
    } finally {
      es.close();
      await c.kill();
    }
  });

  it("unknown namespace 404, no room 404, non-GET 405", async () => {
    const nsp = await h.request(app, { path: "/feeds/r?nsp=/nope" });
    assert.equal(nsp.status, 404);
    assert.match(nsp.json.error, /\/nope/);
    assert.equal((await h.request(app, { path: "/feeds/" })).status, 404);
    for (const method of ["POST", "PUT", "DELETE"]) {
      const r = await h.request(app, { method, path: "/feeds/r", body: "{}" });
      assert.equal(r.status, 405, method);
    }
  });
});

describe("feeds: scale and peers", { concurrency: true }, () => {
  it("100 concurrent feeds receive a burst of 200 events in order with no gap", async () => {
    const room = h.uniqueRoom("burst");
    const readers = Array.from({ length: 100 }, () => h.eventSource(feedUrl(room), ["e"]));
    try {
      await Promise.all(readers.map((r) => r.opened));
      await h.publish(app, { room, event: "e", args: ["burst"], repeat: 200 });
      const expected = range(1, 200).map((i) => ["e", `["burst",${i}]`, String(i)]);
      const results = await Promise.all(readers.map((r) => take(r.events, 200, 10_000)));
      for (const got of results) assert.deepEqual(got, expected);
    } finally {
      for (const r of readers) r.close();
    }
  });

  it("a socket.io client in the room and the feed see the same broadcasts", async () => {
    const room = h.uniqueRoom("peers");
    const socket = io(app.url("/"), { forceNew: true, reconnection: false, transports: ["websocket"] });
    const sioGot = new h.Queue();
    socket.onAny((event, ...args) => sioGot.push([event, args]));
    const es = h.eventSource(feedUrl(room), ["news", "bin"]);
    try {
      await new Promise((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", reject);
      });
      assert.equal(await socket.timeout(2000).emitWithAck("join", room), true);
      await es.opened;
      await h.publish(app, { room, event: "news", args: ["a\nb", { k: [1, 2] }] });
      await h.publish(app, { room, event: "bin", args: [7], binary: Buffer.from("hi").toString("base64") });
      const s1 = await sioGot.shift();
      const s2 = await sioGot.shift();
      assert.deepEqual(s1, ["news", ["a\nb", { k: [1, 2] }]]);
      assert.equal(s2[0], "bin");
      assert.equal(s2[1][0], 7);
      assert.equal(Buffer.from(s2[1][1]).toString(), "hi");
      const f = await take(es.events, 2);
      assert.deepEqual(f[0], ["news", JSON.stringify(s1[1]), "1"]);
      assert.deepEqual(f[1], ["bin", JSON.stringify([7, { _binary: Buffer.from("hi").toString("base64") }]), "2"]);
    } finally {
      socket.disconnect();
      es.close();
    }
  });

  it("a reader that stops reading is dropped; the others get everything", async () => {
    const room = h.uniqueRoom("stall");
    const good = h.eventSource(feedUrl(room), ["e"]);
    // A raw reader that never reads its socket.
    const net = await import("node:net");
    const stalled = net.connect({ host: app.host, port: app.port });
    let received = 0;
    await new Promise((r) => stalled.once("connect", r));
    stalled.write(`GET /feeds/${room} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
    const head = await new Promise((r) => stalled.once("data", (d) => r(d.toString("latin1"))));
    assert.match(head, /^HTTP\/1\.1 200/);
    stalled.pause();
    const ended = new Promise((r) => stalled.once("close", r));
    try {
      await good.opened;
      const chunk = "z".repeat(200_000);
      const count = 60; // 12 MB: far more than socket buffers plus the 1 MiB feed queue
      for (let i = 0; i < count; i += 10) await h.publish(app, { room, event: "e", args: [chunk], repeat: 10 });
      for (let i = 0; i < count; i++) {
        const e = await good.events.shift(10_000, `healthy reader event ${i + 1}`);
        assert.equal(e.lastEventId, String(i + 1));
      }
      stalled.on("data", (d) => (received += d.length));
      stalled.resume();
      const closed = await Promise.race([ended.then(() => true), h.sleep(5000).then(() => false)]);
      assert.ok(closed, "the stalled reader must be disconnected");
      assert.ok(received < count * chunk.length, `the stalled reader got ${received} bytes: it was not dropped`);
    } finally {
      good.close();
      stalled.destroy();
    }
  });
});

describe("feeds: server shutdown", () => {
  it("SIGTERM with open feed streams exits 0 within 3 s", async () => {
    const own = await h.startApp();
    const es = h.eventSource(`http://127.0.0.1:${own.port}/feeds/shutdown`, ["e"]);
    const c = h.curlSse(`http://127.0.0.1:${own.port}/feeds/shutdown`);
    try {
      await es.opened;
      await c.ready;
      const started = Date.now();
      await own.stop();
      const took = Date.now() - started;
      assert.ok(took < 3000, `stop took ${took} ms with open feeds`);
      assert.equal((await c.exited).code, 0, "curl sees the stream end cleanly");
    } finally {
      es.close();
      await c.kill();
    }
  });
});
