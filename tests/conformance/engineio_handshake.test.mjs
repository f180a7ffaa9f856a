// Engine.IO v4: handshake, response headers, CORS and the error answers to bad requests
// ({"code":N,"message":"..."}, as the reference server's engine.io answers them).
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

const ORIGIN = "https://app.example.com";

function assertOpenFields(open, upgrades) {
  assert.deepEqual(Object.keys(open).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
  assert.equal(typeof open.sid, "string");
  assert.match(open.sid, /^[A-Za-z0-9_-]{16,}$/, "sid: at least 16 URL-safe characters");
  assert.deepEqual(open.upgrades, upgrades);
  assert.equal(open.pingInterval, h.PING_INTERVAL);
  assert.equal(open.pingTimeout, h.PING_TIMEOUT);
  assert.equal(open.maxPayload, h.MAX_PAYLOAD);
}

function assertError(res, status, code, message) {
  assert.equal(res.status, status, `status (body: ${res.text.slice(0, 200)})`);
  assert.match(res.headers["content-type"] ?? "", /^application\/json\b/, "content-type");
  assert.deepEqual(JSON.parse(res.text), { code, message });
}

function varyHas(res, name) {
  return (res.headers.vary ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .includes(name.toLowerCase());
}

describe("handshake", () => {
  it("polling: OPEN packet with sid, upgrades [websocket], timings and maxPayload", async () => {
    const res = await h.request(srv, {});
    assert.equal(res.status, 200);
    assert.match(res.headers["content-type"], /^text\/plain; ?charset=utf-8$/i);
    assert.equal(res.text[0], "0");
    assert.ok(!res.text.includes(h.SEP), "the handshake answer holds one packet");
    assertOpenFields(JSON.parse(res.text.slice(1)), ["websocket"]);
    assert.equal(Number(res.headers["content-length"] ?? res.body.length), res.body.length);
  });

  it("polling: responses are not cacheable (cache-control: no-store)", async () => {
    const { sid, res } = await h.pollingHandshake(srv);
    assert.equal(res.headers["cache-control"], "no-store");
    const p = await h.post(srv, sid, "4x");
    assert.equal(p.headers["cache-control"], "no-store");
    const g = await h.poll(srv, sid);
    assert.equal(g.headers["cache-control"], "no-store");
  });

  it("polling: every handshake gets a new sid", async () => {
    const sids = new Set();
    for (let i = 0; i < 5; i++) sids.add((await h.pollingHandshake(srv)).sid);
    assert.equal(sids.size, 5);
  });

  it("websocket: OPEN packet as a text frame, upgrades []", async () => {
    const ws = await h.RawWs.connect(srv);
    try {
      assert.equal(ws.status, 101);
      assert.ok(ws.acceptOk, "Sec-WebSocket-Accept matches the key");
      const f = await ws.readFrame();
      assert.equal(f.opcode, h.OP.TEXT);
      assert.equal(f.fin, true);
      assert.equal(f.masked, false, "server frames are not masked");
      const text = f.payload.toString("utf8");
      assert.equal(text[0], "0");
      assertOpenFields(JSON.parse(text.slice(1)), []);
    } finally {
      ws.destroy();
    }
  });

  it("POST answers 200 'ok' (text/html)", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const res = await h.post(srv, sid, "4hello");
    assert.equal(res.status, 200);
    assert.equal(res.text, "ok");
    assert.match(res.headers["content-type"], /^text\/html\b/);
  });
});

describe("CORS (any origin: cors \"*\", as the protocol test suite's reference configuration)", () => {
  it("handshake, GET and POST allow any origin, without credentials", async () => {
    const headers = { Origin: ORIGIN };
    const { sid, res } = await h.pollingHandshake(srv, {}, headers);
    const check = (r, what) => {
      assert.equal(r.headers["access-control-allow-origin"], "*", `${what}: ACAO`);
      assert.equal(r.headers["access-control-allow-credentials"], undefined, `${what}: no ACAC with "*"`);
    };
    check(res, "handshake");
    const p = await h.post(srv, sid, "4x", { headers });
    assert.equal(p.status, 200);
    check(p, "POST");
    const g = await h.poll(srv, sid, { headers });
    assert.equal(g.status, 200);
    check(g, "GET");
  });

  it("preflight OPTIONS: 204 allowing any origin and the methods GET and POST", async () => {
    const res = await h.request(srv, {
      method: "OPTIONS",
      headers: { Origin: ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers["access-control-allow-origin"], "*");
    const methods = (res.headers["access-control-allow-methods"] ?? "").split(",").map((s) => s.trim());
    assert.ok(methods.includes("GET") && methods.includes("POST"), `allow-methods: ${methods}`);
  });
});

describe("bad requests", () => {
  for (const [name, eio] of [
    ["missing EIO", undefined],
    ["EIO=3", "3"],
    ["EIO=5", "5"],
    ['EIO="abc"', "abc"],
  ]) {
    it(`${name}: 400 {"code":5,"message":"Unsupported protocol version"}`, async () => {
      const res = await h.request(srv, { query: { EIO: eio } });
      assertError(res, 400, 5, "Unsupported protocol version");
    });
  }

  it('unknown transport: 400 {"code":0,"message":"Transport unknown"}', async () => {
    assertError(await h.request(srv, { query: { transport: "carrier-pigeon" } }), 400, 0, "Transport unknown");
    assertError(await h.request(srv, { query: { transport: undefined } }), 400, 0, "Transport unknown");
  });

  it('transport=websocket without an Upgrade: 400 {"code":3,"message":"Bad request"}', async () => {
    assertError(await h.request(srv, { query: { transport: "websocket" } }), 400, 3, "Bad request");
  });

  it('unknown sid: GET and POST answer 400 {"code":1,"message":"Session ID unknown"}', async () => {
    assertError(await h.poll(srv, "unknown-sid-0123456789"), 400, 1, "Session ID unknown");
    assertError(await h.post(srv, "unknown-sid-0123456789", "4x"), 400, 1, "Session ID unknown");
  });

  it("unknown sid: the WebSocket upgrade is refused with 400", async () => {
    const ws = await h.RawWs.connect(srv, { query: { sid: "unknown-sid-0123456789" } });
    try {
      assert.equal(ws.status, 400, ws.responseHead);
    } finally {
      ws.destroy();
    }
  });

  it('POST without sid: 400 {"code":2,"message":"Bad handshake method"}', async () => {
    assertError(await h.request(srv, { method: "POST", body: "4hello" }), 400, 2, "Bad handshake method");
  });

  for (const method of ["PUT", "DELETE"]) {
    it(`${method} without sid: 400 {"code":2,"message":"Bad handshake method"}`, async () => {
      assertError(await h.request(srv, { method, body: method === "PUT" ? "4x" : undefined }), 400, 2, "Bad handshake method");
    });

    // The reference answers 500 with an empty body; Chorus answers a clear 400
    // {"code":3,"message":"Bad request"} (README, "Protocol notes").
    it(`${method} with a sid: ${h.IS_CHORUS ? 400 : 500}, and the session is unaffected`, async () => {
      const { sid } = await h.pollingHandshake(srv);
      const res = await h.request(srv, { method, query: { sid }, body: method === "PUT" ? "4x" : undefined });
      assert.equal(res.status, h.IS_CHORUS ? 400 : 500, `status (body ${res.text.slice(0, 100)})`);
      if (h.IS_CHORUS) assertError(res, 400, 3, "Bad request");
      assert.equal((await h.post(srv, sid, "4still-alive")).status, 200);
      const g = await h.poll(srv, sid);
      assert.equal(g.status, 200);
      assert.ok(h.splitPayload(g.text).includes("4still-alive"), g.text);
    });
  }

  it("a second concurrent GET: 400, the pending poll gets CLOSE and the session is gone", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const first = h.poll(srv, sid);
    await h.sleep(50);
    const second = await h.poll(srv, sid);
    assert.equal(second.status, 400);
    const r1 = await first;
    assert.equal(r1.status, 200);
    assert.equal(h.splitPayload(r1.text).at(-1), "1", `pending poll answered ${JSON.stringify(r1.text)}`);
    assertError(await h.poll(srv, sid), 400, 1, "Session ID unknown");
  });

  it("a body over maxPayload (1,000,001 bytes): 413", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const res = await h.post(srv, sid, `4${"x".repeat(h.MAX_PAYLOAD)}`);
    assert.equal(res.status, 413);
  });

  it("a body of exactly maxPayload (1,000,000 bytes) is accepted and echoed", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const body = `4${"y".repeat(h.MAX_PAYLOAD - 1)}`;
    const res = await h.post(srv, sid, body);
    assert.equal(res.status, 200);
    const g = await h.poll(srv, sid);
    assert.equal(g.status, 200);
    assert.ok(h.splitPayload(g.text).includes(body), "echo of the 1,000,000-byte message");
  });

  it("the WebSocket handshake without Sec-WebSocket-Key or with version 12 is refused", async () => {
    for (const headers of [{ "Sec-WebSocket-Key": null }, { "Sec-WebSocket-Version": "12" }]) {
      const ws = await h.RawWs.connect(srv, { headers });
      try {
        assert.notEqual(ws.status, 101, `${JSON.stringify(headers)}: ${ws.responseHead}`);
        assert.ok(ws.status >= 400 && ws.status < 500, ws.responseHead);
      } finally {
        ws.destroy();
      }
    }
    await h.assertEchoHealthy(srv);
  });
});
