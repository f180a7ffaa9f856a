// chorus-server routes beside realtime: --jwt-secret with POST /api/login, /api/health,
// /events/time (SSE), /ws/echo (plain WebSocket), and the join/leave/publish app.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { EventSource } from "eventsource";
import WebSocket from "ws";
import { ack, client, connected, io, once, request, sleep, startServer } from "./helpers.mjs";

const SECRET = "cli-test-secret";

function login(server, body, headers = { "Content-Type": "application/json" }) {
  return request(server, "/api/login", { method: "POST", headers, body });
}

function sign(claims, secret) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

// The connect_error of a refused connection.
// `namespace`: "/" or another one, such as /docs (the documents, which check tokens too).
async function refused(server, opts, namespace = "/") {
  const s = namespace === "/" ? client(server, { transports: ["websocket"], ...opts })
    : io(`${server.url}${namespace}`, { forceNew: true, reconnection: false, autoConnect: false, timeout: 5_000,
                                       transports: ["websocket"], ...opts });
  try {
    await connected(s);
  } catch (err) {
    return err;
  } finally {
    s.close();
  }
  assert.fail("the connection should have been refused");
}

describe("chorus-server routes", { concurrency: true }, () => {
  describe("with --jwt-secret", { concurrency: false }, () => {
    let server;
    before(async () => {
      server = await startServer(["--jwt-secret", SECRET]);
    });
    after(async () => {
      await server?.stop();
    });

    test("connections without a valid token get connect_error \"unauthorized: ...\"", async () => {
      for (const transports of [["websocket"], ["polling"]]) {
        const err = await refused(server, { transports });
        assert.match(err.message, /^unauthorized: /, `${transports}: ${err.message}`);
      }
      const now = Math.floor(Date.now() / 1000);
      for (const token of ["garbage", sign({ sub: "x", exp: now + 60 }, "wrong-secret"), sign({ sub: "x", exp: now - 60 }, SECRET)]) {
        const err = await refused(server, { auth: { token } });
        assert.match(err.message, /^unauthorized: /, `${token}: ${err.message}`);
      }
    });

    test("a token from POST /api/login connects (auth, query and polling)", async () => {
      const r = await login(server, JSON.stringify({ name: "alice" }));
      assert.equal(r.status, 200);
      assert.match(r.headers["content-type"], /^application\/json/);
      const body = JSON.parse(r.body);
      assert.equal(body.name, "alice");
      assert.match(body.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      const claims = JSON.parse(Buffer.from(body.token.split(".")[1], "base64url").toString());
      assert.equal(claims.sub, "alice");
      assert.ok(claims.exp > Date.now() / 1000 + 3600, "the token should last hours");

      const sockets = [
        client(server, { transports: ["websocket"], auth: { token: body.token } }),
        client(server, { transports: ["polling"], auth: { token: body.token } }),
        client(server, { transports: ["websocket"], query: { token: body.token } }),
      ];
      try {
        await Promise.all(sockets.map((s) => connected(s)));
        assert.deepEqual(await ack(sockets[0], "join", "r"), [true]);
      } finally {
        for (const s of sockets) s.close();
      }
      // A token signed with the server's secret by someone else works too.
      const own = client(server, { transports: ["websocket"], auth: { token: sign({ sub: "bob", exp: Math.floor(Date.now() / 1000) + 60 }, SECRET) } });
      try {
        await connected(own);
      } finally {
        own.close();
      }
    });

    test("tokens must expire, within 24 h, at a real date", async () => {
      const now = Math.floor(Date.now() / 1000);
      const cases = [
        [{ sub: "forever" }, "token has no expiry"],
        [{ sub: "x", iat: now }, "token has no expiry"],
        [{ sub: "x", exp: now + 24 * 3600 + 120 }, "token lifetime too long"],
        [{ sub: "x", iat: now - 3600, exp: now + 24 * 3600 - 60 }, "token lifetime too long"],
        [{ sub: "x", exp: 253402300800 }, "malformed token"],
        [{ sub: "x", exp: 1e300 }, "malformed token"],
        [{ sub: "x", exp: now + 60, iat: -5 }, "malformed token"],
      ];
      for (const [claims, reason] of cases) {
        for (const s of ["/", "/docs"]) {
          const err = await refused(server, { auth: { token: sign(claims, SECRET) } }, s);
          assert.equal(err.message, `unauthorized: ${reason}`, `${s} ${JSON.stringify(claims)}`);
          assert.deepEqual(err.data, { reason });
        }
      }
      // Just within the maximum (a minute of margin for a slow run).
      const within = client(server, { transports: ["websocket"], auth: { token: sign({ sub: "y", iat: now, exp: now + 24 * 3600 - 60 }, SECRET) } });
      try {
        await connected(within);
      } finally {
        within.close();
      }
    });
  });

  describe("without --jwt-secret", { concurrency: false }, () => {
    let server;
    before(async () => {
      server = await startServer();
    });
    after(async () => {
      await server?.stop();
    });

    test("connections need no token; /api/login still issues one", async () => {
      const s = client(server, { transports: ["websocket"] });
      try {
        await connected(s);
      } finally {
        s.close();
      }
      const r = await login(server, '{"name":"carol"}');
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).name, "carol");
    });

    test("POST /api/login validation: 400, 422, 413", async () => {
      const cases = [
        ["{not json", 400],
        ["", 400],
        ['{"name": "x"', 400],
        ["{}", 422],
        ['{"name": ""}', 422],
        ['{"name": 5}', 422],
        ['{"name": null}', 422],
        ['["alice"]', 422],
        [JSON.stringify({ name: "n".repeat(65) }), 422],
        [JSON.stringify({ name: "x", pad: "p".repeat(5000) }), 413],
      ];
      for (const [body, status] of cases) {
        const r = await login(server, body);
        assert.equal(r.status, status, `${JSON.stringify(body.slice(0, 40))}: ${r.status} ${r.body}`);
        if (status !== 413) assert.equal(typeof JSON.parse(r.body).error, "string", `${r.body}`);
      }
      // 64 bytes is still a name; so is exactly 4096 bytes of body.
      assert.equal((await login(server, JSON.stringify({ name: "n".repeat(64) }))).status, 200);
      const exact = JSON.stringify({ name: "x", pad: "" });
      assert.equal((await login(server, JSON.stringify({ name: "x", pad: "p".repeat(4096 - exact.length) }))).status, 200);
      // Only POST.
      const get = await request(server, "/api/login");
      assert.ok([404, 405].includes(get.status), `GET /api/login: ${get.status}`);
    });

    test("GET /api/health reports the connection count", async () => {
      const r = await request(server, "/api/health");
      assert.equal(r.status, 200);
      assert.match(r.headers["content-type"], /^application\/json/);
      const before = JSON.parse(r.body);
      assert.equal(before.ok, true);
      assert.equal(typeof before.connections, "number");
      const s = client(server, { transports: ["websocket"] });
      try {
        await connected(s);
        const during = JSON.parse((await request(server, "/api/health")).body);
        assert.equal(during.connections, before.connections + 1);
      } finally {
        s.close();
      }
      let after;
      for (let i = 0; i < 40; i++) {
        after = JSON.parse((await request(server, "/api/health")).body);
        if (after.connections === before.connections) break;
        await sleep(50);
      }
      assert.equal(after.connections, before.connections);
    });

    test("GET /events/time delivers \"time\" events", async () => {
      const es = new EventSource(`${server.url}/events/time`);
      try {
        const events = [];
        await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`only ${events.length} "time" events in 3.5 s`)), 3_500);
          es.addEventListener("time", (e) => {
            events.push(JSON.parse(e.data));
            if (events.length === 2) {
              clearTimeout(timer);
              resolve();
            }
          });
          es.onerror = (e) => {
            if (es.readyState === EventSource.CLOSED) reject(new Error(`EventSource failed: ${e.message}`));
          };
        });
        for (const e of events) assert.ok(Math.abs(e.epochMs - Date.now()) < 5_000, `epochMs ${e.epochMs}`);
        assert.ok(events[1].epochMs > events[0].epochMs);
      } finally {
        es.close();
      }
      // The raw answer: an event stream that stays open.
      const head = await new Promise((resolve, reject) => {
        const req = http.get({ host: server.host, port: server.port, path: "/events/time", agent: false }, (res) => {
          res.once("data", (chunk) => {
            resolve({ status: res.statusCode, type: res.headers["content-type"], first: chunk.toString() });
            req.destroy();
          });
        });
        req.on("error", reject);
        setTimeout(() => req.destroy(new Error("no data from /events/time within 3 s")), 3_000).unref();
      });
      assert.equal(head.status, 200);
      assert.match(head.type, /^text\/event-stream/);
    });

    test("WS /ws/echo echoes text and binary", async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/echo`);
      try {
        await once(ws, "open");
        let reply = once(ws, "message");
        ws.send("hello chorus");
        let [data, binary] = await reply;
        assert.equal(binary, false);
        assert.equal(data.toString(), "hello chorus");
        reply = once(ws, "message");
        ws.send(Buffer.from([0, 1, 2, 255]));
        [data, binary] = await reply;
        assert.equal(binary, true);
        assert.deepEqual([...data], [0, 1, 2, 255]);
        const big = "z".repeat(70_000);
        reply = once(ws, "message");
        ws.send(big);
        [data] = await reply;
        assert.equal(data.toString(), big);
      } finally {
        ws.close();
      }
    });

    test("the app: join, publish to others in the room, leave, bad arguments", async () => {
      const a = client(server, { transports: ["websocket"] });
      const b = client(server, { transports: ["polling"] });
      try {
        await Promise.all([connected(a), connected(b)]);
        assert.deepEqual(await ack(a, "join", "lobby"), [true]);
        assert.deepEqual(await ack(b, "join", "lobby"), [true]);
        let aGot = 0;
        a.on("chat", () => aGot++);
        const got = once(b, "chat");
        assert.deepEqual(await ack(a, "publish", "lobby", "chat", "hi", { x: [1, 2] }), [true]);
        // Connection state recovery is on in chorus-server: the event's offset comes last.
        const args = await got;
        assert.deepEqual(args.slice(0, -1), ["hi", { x: [1, 2] }]);
        assert.match(args.at(-1), /^\d+$/, "the recovery offset");
        assert.deepEqual(await ack(b, "leave", "lobby"), [true]);
        let bGot = 0;
        b.on("chat", () => bGot++);
        await ack(a, "publish", "lobby", "chat", "anyone?");
        assert.deepEqual(await ack(a, "join"), [false, "join needs a room name"]);
        assert.deepEqual(await ack(a, "leave", 3), [false, "leave needs a room name"]);
        assert.deepEqual(await ack(a, "publish", "lobby"), [false, "publish needs a room and an event name"]);
        await sleep(200);
        assert.equal(bGot, 0, "a socket that left still got the event");
        assert.equal(aGot, 0, "the publisher got its own event");
      } finally {
        a.close();
        b.close();
      }
    });
  });
});
