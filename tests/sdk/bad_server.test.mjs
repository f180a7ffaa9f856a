// Bad input from a fake server (Node http + ws): malformed Engine.IO and Socket.IO packets,
// wrong handshakes, oversized payloads, dead heartbeats. Every case must end in
// connect_error or disconnect with a reason, and nothing may throw into the program.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { WebSocketServer } from "ws";
import { byteFetch, loadSdk, sleep, trapUncaught } from "./harness.mjs";

const { io } = await loadSdk();
const trap = trapUncaught();

const handshake = (extra = {}) =>
  "0" + JSON.stringify({ sid: "fake", upgrades: [], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1e6, ...extra });
const deep = (n) => "[".repeat(n) + "]".repeat(n);

// What the server sends first (before any client packet), per scenario.
const OPENING = {
  "bad-json-handshake": ["0{not json"],
  "handshake-without-sid": ['0{"upgrades":[],"pingInterval":1000,"pingTimeout":1000}'],
  "handshake-bad-interval": ['0{"sid":"a","upgrades":[],"pingInterval":-5,"pingTimeout":1000}'],
  "handshake-huge-exponent": ['0{"sid":"a","upgrades":[],"pingInterval":1e99999,"pingTimeout":1000}'],
  "handshake-deep": ["0" + deep(5000)],
  "message-before-open": ["4hello"],
  "unknown-type-first": ["x"],
  "empty-first": [""],
  "binary-first": [Buffer.from([1, 2, 3])],
};

// What the server sends once the namespace is joined.
const AFTER_CONNECT = {
  "truncated-event": { send: ['42["broken"'], reason: "parse error" },
  "event-not-array": { send: ['42{"a":1}'], reason: "parse error" },
  "reserved-event": { send: ['42["connect"]'], reason: "parse error" },
  "placeholder-without-attachment": { send: ['42["a",{"_placeholder":true,"num":0}]'], reason: "parse error" },
  "attachment-then-text": { send: ['451-["a",{"_placeholder":true,"num":0}]', '42["b"]'], reason: "parse error" },
  "unannounced-attachment": { send: [Buffer.from([9])], reason: "parse error" },
  "too-many-attachments": { send: ['4511-["a"]'], reason: "parse error" },
  "deep-json": { send: ['42["a",' + deep(200) + "]"], reason: "parse error" },
  "cve-number": { send: ['42["a",0.00000000001e-2147483639]'], reason: "parse error" },
  "unknown-socketio-type": { send: ["49"], reason: "parse error" },
  "unknown-engineio-type": { send: ["9"], reason: "transport error" },
  "server-upgrade-packet": { send: ["5"], reason: "transport error" },
  "second-open": { send: [handshake()], reason: "transport error" },
  "close-packet": { send: ["1"], reason: "transport close" },
  "oversized-message": { send: ["4" + "x".repeat(10_000_000)], reason: "transport error" },
  "server-disconnect": { send: ["41"], reason: "io server disconnect" },
};

// SSE streams written in every shape the event stream format allows (WHATWG HTML, "Parsing
// an event stream"): a BOM, comments, retry:/id:/unknown fields, CR, LF and CRLF line ends,
// data: with and without the space, multi-line data joined with LF, an event type other than
// "message" (not delivered), a field name without a colon. `first` is the whole stream up to
// the OPEN packet; `connected` follows the client's CONNECT.
const b64 = (text) => Buffer.from(text).toString("base64");
const SSE = {
  "sse-spec": {
    first: (sid) => "\uFEFFdata:" + handshake({ sid }) + "\r\n: a comment\r\nretry: 1000\r\nid: 7\r\nfoo: unknown field\r\n\r\n",
    connected: [
      'event: message\rdata: 40{"sid":"S"}\r\r',
      'data: 42["multi",\r\ndata:"line",\r\ndata\r\ndata: 3]\r\n\r\n',
      'event: other\ndata: 42["not delivered"]\n\n',
      ": a comment between events\n",
      "id: with\0nul\n",
      `event: b64\ndata: ${b64('42["b64","\u00e9\u2028"]')}\n\n`,
      'event\ndata: 42["event field without colon"]\n\n',
      'data: 42["utf-8","\u00e9\u20ac\u{1F600}"]\n\n',
      'data: 42["done"]\r\n\r\n',
    ],
  },
  // maxPayload 999: an event's data may hold 4 * ceil(999 / 3) = 1332 characters (a 999-byte
  // packet in base64), a line 1332 + 64.
  "sse-at-limit": {
    connected: [
      `data: 40{"sid":"S"}\n\nevent: b64\ndata: ${b64('42["big","' + "y".repeat(987) + '"]')}\n\ndata: 42["done"]\n\n`,
    ],
  },
  "sse-past-limit": {
    connected: [`data: 40{"sid":"S"}\n\nevent: b64\ndata: ${b64('42["big","' + "y".repeat(988) + '"]')}\n\n`],
  },
  "sse-endless-line": {
    // 6.4 MB without a line end: refused once the line passes the bound, not held whole.
    connected: [`data: 40{"sid":"S"}\n\ndata: 42["a","`, ...Array(100).fill("y".repeat(64 * 1024))],
  },
};
const sseStreams = new Map();  // sid -> held response
let sseCount = 0;

let server;
let url;
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 << 20 });

function scenarioOf(req) {
  return new URL(req.url, "http://x").searchParams.get("s") ?? "";
}

function onSocketIo(sendAll, scenario) {
  // Returns the handler of client packets (text).
  return (text) => {
    if (!text.startsWith("40")) return;
    const bad = AFTER_CONNECT[scenario];
    if (scenario === "connect-without-sid") return sendAll(["40"]);
    if (scenario === "connect-error-garbage") return sendAll(['44{"message":5,"data":[1]}']);
    if (scenario === "connect-error-string") return sendAll(['44"go away"']);
    sendAll(['40{"sid":"S"}', '43999["unknown ack id"]']);
    if (bad) setTimeout(() => sendAll(bad.send), 20);
  };
}

before(async () => {
  server = createServer((req, res) => {
    const scenario = scenarioOf(req);
    const q = new URL(req.url, "http://x").searchParams;
    if (q.get("transport") === "sse") {
      if (req.method === "POST") {
        let body = "";
        req.on("data", (chunk) => (body += chunk));
        req.on("end", () => {
          res.end("ok");
          const stream = sseStreams.get(q.get("sid"));
          if (stream && SSE[scenario] && body.split("\x1e").some((packet) => packet.startsWith("40"))) {
            for (const piece of SSE[scenario].connected) stream.write(piece);
          }
        });
        return;
      }
      if (scenario === "sse-http-403") {
        res.writeHead(403);
        return res.end("refused");
      }
      if (scenario === "sse-not-a-stream") return res.end(handshake());
      res.writeHead(200, { "content-type": "text/event-stream" });
      if (SSE[scenario]) {
        const sid = `sse-${++sseCount}`;
        sseStreams.set(sid, res);
        res.on("close", () => sseStreams.delete(sid));
        res.write(SSE[scenario].first?.(sid) ?? `data: ${handshake({ sid })}\n\n`);
        return;  // held open
      }
      if (scenario === "sse-bad-b64") res.write(`data: ${handshake()}\n\nevent: b64\ndata: !!!not base64\n\n`);
      else if (scenario === "sse-garbage") res.write("data: zzz\n\n");
      else res.write(`data: ${handshake()}\n\n`);
      return;  // held open
    }
    if (req.method === "POST") {
      req.resume();
      return res.end("ok");
    }
    if (!q.get("sid")) {
      if (scenario === "http-500") {
        res.writeHead(500);
        return res.end("boom");
      }
      if (scenario === "payload-stray-separator") return res.end(handshake() + "\x1e\x1e4x");
      if (scenario.startsWith("payload-size-")) return res.end(handshake());
      return res.end(handshake());
    }
    if (scenario.startsWith("payload-size-")) {
      const size = Number(scenario.slice("payload-size-".length));
      return res.end('42["' + "y".repeat(size - 6) + '"]');  // one EVENT, `size` bytes
    }
    // Hold the poll (the client is only there to receive the bad body above).
  });
  server.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const scenario = scenarioOf(req);
      const sendAll = (frames) => {
        for (const f of frames) if (ws.readyState === ws.OPEN) ws.send(f);
      };
      if (OPENING[scenario]) return sendAll(OPENING[scenario]);
      if (scenario === "silent-heartbeat") sendAll([handshake({ pingInterval: 100, pingTimeout: 100 })]);
      else sendAll([handshake()]);
      const onText = onSocketIo(sendAll, scenario);
      ws.on("message", (data, isBinary) => {
        if (!isBinary) onText(data.toString());
      });
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  await sleep(50);
  for (const client of wss.clients) client.terminate();
  server.closeAllConnections?.();
  await new Promise((resolve) => server.close(resolve));
  trap.check();
  trap.release();
});

// The first outcome: connect_error or disconnect (after a connect, when `expectConnect`).
function run(scenario, opts = {}) {
  const socket = io(url, {
    transports: ["websocket"],
    query: { s: scenario },
    reconnection: false,
    forceNew: true,
    ...opts,
  });
  const seen = [];
  return new Promise((resolve) => {
    const done = (o) => {
      clearTimeout(timer);
      socket.disconnect();
      resolve({ ...o, seen });
    };
    const timer = setTimeout(() => done({ event: "none" }), 8_000);
    socket.on("connect", () => seen.push("connect"));
    socket.on("connect_error", (e) => done({ event: "connect_error", message: e.message, data: e.data, error: e }));
    socket.on("disconnect", (reason, description) => done({ event: "disconnect", reason, description }));
  });
}

describe("bad handshakes end in connect_error", () => {
  for (const scenario of Object.keys(OPENING)) {
    test(scenario, async () => {
      const o = await run(scenario);
      assert.equal(o.event, "connect_error", JSON.stringify(o));
      assert.ok(o.message.length > 0);
      assert.ok(o.error instanceof Error);
      assert.deepEqual(o.seen, []);
    });
  }
  test("HTTP 500 on the handshake poll", async () => {
    const o = await run("http-500", { transports: ["polling"] });
    assert.equal(o.event, "connect_error");
    assert.equal(o.message, "xhr poll error");
    assert.match(o.error.description, /500/);
  });
  test("stray separators in a polling payload", async () => {
    const o = await run("payload-stray-separator", { transports: ["polling"] });
    assert.equal(o.event, "connect_error");
  });
  test("SSE: garbage event, bad base64 event", async () => {
    for (const scenario of ["sse-garbage", "sse-bad-b64"]) {
      const o = await run(scenario, { transports: ["sse"] });
      assert.ok(["connect_error", "disconnect"].includes(o.event), JSON.stringify(o));
    }
  });
  test("an absent server: connect_error, reconnection gives up", async () => {
    const socket = io("http://127.0.0.1:9", {
      transports: ["websocket"], forceNew: true, reconnectionAttempts: 1, reconnectionDelay: 10,
    });
    const errors = [];
    socket.on("connect_error", (e) => errors.push(e.message));
    await new Promise((resolve) => socket.io.on("reconnect_failed", resolve));
    socket.disconnect();
    assert.deepEqual(errors, ["websocket error", "websocket error"]);
  });
});

describe("namespace refusals end in connect_error", () => {
  test("CONNECT without a sid", async () => {
    const o = await run("connect-without-sid");
    assert.equal(o.event, "connect_error");
    assert.match(o.message, /v2\.x/);
  });
  test("CONNECT_ERROR with a non-string message", async () => {
    const o = await run("connect-error-garbage");
    assert.equal(o.event, "connect_error");
    assert.deepEqual(o.data, [1]);
  });
  test("CONNECT_ERROR with a string payload", async () => {
    const o = await run("connect-error-string");
    assert.equal(o.event, "connect_error");
    assert.equal(o.message, "go away");
  });
});

describe("bad packets after connecting end in disconnect with a reason", () => {
  for (const [scenario, { reason }] of Object.entries(AFTER_CONNECT)) {
    test(`${scenario} -> ${reason}`, async () => {
      const o = await run(scenario);
      assert.deepEqual(o.seen, ["connect"]);
      assert.equal(o.event, "disconnect", JSON.stringify(o).slice(0, 300));
      assert.equal(o.reason, reason);
    });
  }
  test("no ping within pingInterval + pingTimeout -> ping timeout", async () => {
    const started = Date.now();
    const o = await run("silent-heartbeat");
    assert.equal(o.event, "disconnect");
    assert.equal(o.reason, "ping timeout");
    assert.ok(Date.now() - started >= 190);
  });
});

describe("maxPayload: at the limit and past it", () => {
  test("polling body of exactly maxPayload is accepted; one byte more is not", async () => {
    const ok = io(url, { transports: ["polling"], query: { s: "payload-size-1000" }, reconnection: false, forceNew: true, maxPayload: 1000 });
    const outcome = await new Promise((resolve) => {
      ok.io.on("close", (reason) => resolve(reason));
      ok.io.on("open", () => setTimeout(() => resolve("still open"), 300));
    });
    ok.disconnect();
    assert.equal(outcome, "still open");
    const past = io(url, { transports: ["polling"], query: { s: "payload-size-1001" }, reconnection: false, forceNew: true, maxPayload: 1000 });
    const [reason, description] = await new Promise((resolve) => past.io.on("close", (...a) => resolve(a)));
    past.disconnect();
    assert.equal(reason, "transport error");
    assert.match(description, /maxPayload|limit/);
  });
});

describe("SSE read with fetch: the event stream format", () => {
  // The events the client gets up to "done", or how it ended.
  function collect(scenario, opts = {}) {
    const socket = io(url, { transports: ["sse"], query: { s: scenario }, reconnection: false, forceNew: true, ...opts });
    const events = [];
    return new Promise((resolve) => {
      const done = (outcome) => {
        clearTimeout(timer);
        socket.disconnect();
        resolve({ ...outcome, events });
      };
      const timer = setTimeout(() => done({ end: "timeout" }), 8_000);
      socket.onAny((...args) => {
        events.push(args);
        if (args[0] === "done") done({ end: "done" });
      });
      socket.on("connect_error", (e) => done({ end: "connect_error", message: e.message, description: e.description }));
      socket.on("disconnect", (reason, description) => done({ end: "disconnect", reason, description }));
    });
  }

  for (const [name, fetch] of [["whole chunks", undefined], ["one byte per chunk", byteFetch]]) {
    test(`BOM, comments, fields, CR / LF / CRLF, multi-line data, b64 (${name})`, async () => {
      const o = await collect("sse-spec", { fetch });
      assert.equal(o.end, "done", JSON.stringify(o));
      assert.deepEqual(o.events, [
        ["multi", "line", 3],
        ["b64", "\u00e9\u2028"],
        ["event field without colon"],
        ["utf-8", "\u00e9\u20ac\u{1F600}"],
        ["done"],
      ]);
    });
  }

  test("an event of exactly maxPayload (base64) is accepted", async () => {
    for (const fetch of [undefined, byteFetch]) {
      const o = await collect("sse-at-limit", { maxPayload: 999, fetch });
      assert.equal(o.end, "done", JSON.stringify(o).slice(0, 300));
      assert.equal(o.events[0][0], "big");
      assert.equal(o.events[0][1].length, 987);
    }
  });

  test("one byte past maxPayload: refused while it is read", async () => {
    const o = await collect("sse-past-limit", { maxPayload: 999 });
    assert.equal(o.end, "disconnect", JSON.stringify(o).slice(0, 300));
    assert.equal(o.reason, "transport error");
    assert.match(o.description, /SSE event data longer than 1332 characters \(maxPayload 999 bytes\)/);
  });

  test("a line that never ends: refused once past the bound", async () => {
    const o = await collect("sse-endless-line", { maxPayload: 999 });
    assert.equal(o.end, "disconnect", JSON.stringify(o).slice(0, 300));
    assert.equal(o.reason, "transport error");
    assert.match(o.description, /SSE line longer than 1396 characters/);
  });

  test("HTTP error and a response that is not an event stream: connect_error saying so", async () => {
    const refused = await collect("sse-http-403");
    assert.equal(refused.end, "connect_error");
    assert.equal(refused.message, "sse error");
    assert.equal(refused.description, "HTTP 403");
    const plain = await collect("sse-not-a-stream");
    assert.equal(plain.end, "connect_error");
    assert.match(plain.description, /not an event stream/);
  });
});
