// HTTP/1.1 connection handling (RFC 9112 §9): every response says whether the connection
// stays open (`Connection: keep-alive` / `close`), a request's `Connection: close` is
// honoured, HTTP/1.0 closes unless it asks for keep-alive, and otherwise one socket carries
// any sequence of Engine.IO requests (handshake, error answers, POST and GET with a sid).
// Clients like Node's keep-alive agent with node-fetch's `Connection: close` must never see
// "socket hang up".
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { keepAliveClient } from "../common/http.mjs";
import * as h from "./harness.mjs";

let srv;
before(async () => {
  srv = await h.startServer("eio-echo");
});
after(async () => {
  await srv.stop();
});

// Requests through one keep-alive agent (one socket at most), numbered sockets.
const agentClient = () => keepAliveClient(srv);

// A handshake, a POST and a GET with the sid (first, so that the short test heartbeat cannot
// end the session meanwhile), three error answers, and a second handshake.
async function sequence(send, headers) {
  const p = srv.path;
  const steps = [];
  const step = async (name, method, path, opts = {}) => {
    const res = await send(method, path, { headers: { ...headers, ...(opts.headers ?? {}) }, body: opts.body });
    steps.push({ name, ...res });
    return res;
  };
  const hs = await step("handshake", "GET", `${p}?EIO=4&transport=polling`);
  assert.equal(hs.status, 200, hs.text);
  const sid = JSON.parse(hs.text.slice(1)).sid;
  const post = await step("POST with sid", "POST", `${p}?EIO=4&transport=polling&sid=${sid}`, {
    headers: { "Content-Type": "text/plain;charset=UTF-8" },
    body: "4hello",
  });
  assert.equal(post.status, 200, post.text);
  const poll = await step("GET with sid", "GET", `${p}?EIO=4&transport=polling&sid=${sid}`);
  assert.equal(poll.status, 200);
  // A heartbeat PING may come first.
  assert.deepEqual(h.splitPayload(poll.text).filter((x) => x !== "2"), ["4hello"]);
  assert.equal((await step("bad version", "GET", `${p}?EIO=3&transport=polling`)).status, 400);
  assert.equal((await step("unknown sid", "GET", `${p}?EIO=4&transport=polling&sid=nope`)).status, 400);
  assert.equal((await step("POST handshake", "POST", `${p}?EIO=4&transport=polling`, { body: "x" })).status, 400);
  assert.equal((await step("handshake again", "GET", `${p}?EIO=4&transport=polling`)).status, 200);
  await send("POST", `${p}?EIO=4&transport=polling&sid=${sid}`, { headers, body: "1" });
  return steps;
}

describe("keep-alive", () => {
  it("one socket carries handshake, error answers, POST and GET with a sid", async () => {
    const c = agentClient();
    try {
      const steps = await sequence(c.send, {});
      for (const s of steps) {
        assert.equal(s.headers.connection, "keep-alive", `${s.name}: Connection header`);
        assert.equal(s.socket, 1, `${s.name} went over socket ${s.socket}`);
      }
    } finally {
      c.close();
    }
  });

  it("a request's Connection: close is answered with Connection: close and honoured", async () => {
    const c = agentClient();
    try {
      const steps = await sequence(c.send, { Connection: "close" });
      steps.forEach((s, i) => {
        assert.equal(s.headers.connection, "close", `${s.name}: Connection header`);
        assert.equal(s.socket, i + 1, `${s.name}: a new socket for each request`);
      });
    } finally {
      c.close();
    }
  });

  it("Connection: close and keep-alive requests mixed on one agent: no socket hang up", async () => {
    const c = agentClient();
    try {
      for (let i = 0; i < 3; i++) {
        await sequence(c.send, i % 2 ? { Connection: "close" } : {});
      }
    } finally {
      c.close();
    }
  });
});

// Raw TCP: exact request bytes, responses read one at a time, and the server's FIN seen.
class RawHttp {
  static connect() {
    return new Promise((resolve, reject) => {
      const sock = net.connect(srv.port, srv.host, () => resolve(new RawHttp(sock)));
      sock.once("error", reject);
    });
  }
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.ended = false;
    this.waiters = [];
    sock.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    sock.on("end", () => {
      this.ended = true;
      this.wake();
    });
    sock.on("close", () => {
      this.ended = true;
      this.wake();
    });
    sock.on("error", () => {});
  }
  wake() {
    for (const w of this.waiters.splice(0)) w();
  }
  async until(cond, ms, what) {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => {
        this.waiters.push(r);
        setTimeout(r, 50).unref();
      });
    }
  }
  send(text) {
    this.sock.write(text);
  }
  // One response (Content-Length or chunked body): { status, headers, body }.
  async response(ms = 5000) {
    let parsed;
    const tryParse = () => {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return false;
      const lines = this.buf.subarray(0, end).toString("latin1").split("\r\n");
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const status = Number(lines[0].split(" ")[1]);
      if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
        let at = end + 4;
        const parts = [];
        for (;;) {
          const nl = this.buf.indexOf("\r\n", at);
          if (nl < 0) return false;
          const size = parseInt(this.buf.subarray(at, nl).toString(), 16);
          if (this.buf.length < nl + 2 + size + 2) return false;
          parts.push(this.buf.subarray(nl + 2, nl + 2 + size));
          at = nl + 2 + size + 2;
          if (size === 0) break;
        }
        parsed = { status, headers, body: Buffer.concat(parts).toString() };
        this.buf = this.buf.subarray(at);
        return true;
      }
      const len = Number(headers["content-length"] ?? 0);
      if (this.buf.length < end + 4 + len) return false;
      parsed = { status, headers, body: this.buf.subarray(end + 4, end + 4 + len).toString() };
      this.buf = this.buf.subarray(end + 4 + len);
      return true;
    };
    await this.until(() => tryParse() || (this.ended && !tryParse()), ms, "a response");
    if (!parsed) throw new Error(`connection closed without a complete response: ${JSON.stringify(this.buf.toString())}`);
    return parsed;
  }
  async closedByServer(ms = 5000) {
    await this.until(() => this.ended, ms, "the server to close the connection");
    return true;
  }
  destroy() {
    this.sock.destroy();
  }
}

const get = (path, extra = "", version = "1.1") => `GET ${path} HTTP/${version}\r\nHost: localhost\r\n${extra}\r\n`;

describe("raw HTTP/1.x", () => {
  it("Connection: close: the answer says close, then the server closes", async () => {
    const c = await RawHttp.connect();
    try {
      c.send(get(h.eioPath(srv), "Connection: close\r\n"));
      const res = await c.response();
      assert.equal(res.status, 200);
      assert.equal(res.headers.connection, "close");
      assert.ok(await c.closedByServer());
    } finally {
      c.destroy();
    }
  });

  it("HTTP/1.0 without keep-alive: Connection: close, then the server closes", async () => {
    const c = await RawHttp.connect();
    try {
      c.send(get(h.eioPath(srv, { EIO: "3" }), "", "1.0"));
      const res = await c.response();
      assert.equal(res.status, 400);
      assert.equal(res.headers.connection, "close");
      assert.ok(await c.closedByServer());
    } finally {
      c.destroy();
    }
  });

  it("HTTP/1.0 with Connection: keep-alive keeps the connection", async () => {
    const c = await RawHttp.connect();
    try {
      c.send(get(h.eioPath(srv), "Connection: keep-alive\r\n", "1.0"));
      const first = await c.response();
      assert.equal(first.status, 200);
      assert.equal(first.headers.connection, "keep-alive");
      c.send(get(h.eioPath(srv, { EIO: "3" }), "Connection: keep-alive\r\n", "1.0"));
      assert.equal((await c.response()).status, 400);
    } finally {
      c.destroy();
    }
  });

  it("pipelined requests on one HTTP/1.1 connection are answered in order, the last one closing", async () => {
    const c = await RawHttp.connect();
    try {
      c.send(get(h.eioPath(srv)) + get(h.eioPath(srv, { EIO: "3" })) + get(h.eioPath(srv, { sid: "nope" }), "Connection: close\r\n"));
      const a = await c.response();
      const b = await c.response();
      const d = await c.response();
      assert.deepEqual([a.status, b.status, d.status], [200, 400, 400]);
      assert.deepEqual([a.headers.connection, b.headers.connection, d.headers.connection], ["keep-alive", "keep-alive", "close"]);
      assert.equal(JSON.parse(d.body).code, 1);
      assert.ok(await c.closedByServer());
    } finally {
      c.destroy();
    }
  });
});

describe("Chorus: the SSE transport", { skip: h.IS_REFERENCE && "the reference has no SSE transport" }, () => {
  it("the stream says Connection: close and ends its connection with the session", async () => {
    const c = await RawHttp.connect();
    try {
      c.send(get(h.eioPath(srv, { transport: "sse" })));
      await c.until(() => c.buf.includes("\r\n\r\n") && c.buf.includes("data: 0{"), 5000, "the SSE head and OPEN event");
      const head = c.buf.toString();
      assert.match(head, /^HTTP\/1\.1 200 /);
      assert.match(head, /\r\nConnection: close\r\n/i);
      const sid = JSON.parse(/data: 0(\{.*\})/.exec(head)[1]).sid;
      assert.equal((await h.post(srv, sid, "1", { query: { transport: "sse" } })).status, 200);
      assert.ok(await c.closedByServer());
    } finally {
      c.destroy();
    }
  });
});

// RFC 9112 §6.3: where a request body ends must be certain, or the next request could be
// smuggled inside this one.
describe("request framing", () => {
  const exchange = async (text) => {
    const c = await RawHttp.connect();
    try {
      c.send(text);
      const res = await c.response();
      const closed = await c.closedByServer();
      return { ...res, closed };
    } finally {
      c.destroy();
    }
  };
  const post = (headers, body) => `POST ${h.eioPath(srv)} HTTP/1.1\r\nHost: localhost\r\n${headers}\r\n${body}`;

  it("two different Content-Length headers: 400, and the connection closes", async () => {
    const res = await exchange(post("Content-Length: 2\r\nContent-Length: 3\r\n", "abc"));
    assert.equal(res.status, 400);
    assert.ok(res.closed);
    await h.pollingHandshake(srv);
  });

  it("Content-Length with Transfer-Encoding: chunked: 400, and the connection closes", async () => {
    const res = await exchange(post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"));
    assert.equal(res.status, 400);
    assert.ok(res.closed);
    await h.pollingHandshake(srv);
  });

  it("a Content-Length that is not a number: 400", async () => {
    const res = await exchange(post("Content-Length: 3x\r\n", "abc"));
    assert.equal(res.status, 400);
    assert.ok(res.closed);
  });
});

describe("request targets (RFC 9112 §3.2)", () => {
  const exchange = async (text) => {
    const c = await RawHttp.connect();
    try {
      c.send(text);
      return await c.response();
    } finally {
      c.destroy();
    }
  };
  const chorusOnly = { skip: h.IS_REFERENCE && "the reference server never answers these (the request hangs)" };

  it("Chorus: OPTIONS * is answered 204 with Allow", chorusOnly, async () => {
    const res = await exchange("OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert.equal(res.status, 204);
    assert.match(res.headers.allow, /GET/);
  });

  it("Chorus: the asterisk form with another method is answered 400", chorusOnly, async () => {
    const res = await exchange("GET * HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert.equal(res.status, 400);
    assert.equal(res.headers.connection, "close");
  });

  it("Chorus: an absolute-form target naming this server is served as its path", chorusOnly, async () => {
    const res = await exchange(`GET http://${srv.host}:${srv.port}${h.eioPath(srv)} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    assert.equal(res.status, 200);
    assert.equal(res.body[0], "0");
  });

  it("Chorus: an absolute-form target naming another server is answered 400", chorusOnly, async () => {
    const other = srv.port === 1 ? 2 : 1;
    const res = await exchange(`GET http://example.com:${other}${h.eioPath(srv)} HTTP/1.1\r\nHost: example.com\r\n\r\n`);
    assert.equal(res.status, 400);
  });
});

describe("WebSocket upgrade requests (RFC 6455 §4.1)", () => {
  const upgrade = (method, version, query) =>
    `${method} ${h.eioPath(srv, { transport: "websocket", ...query })} HTTP/${version}\r\nHost: localhost\r\n` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  const exchange = async (text) => {
    const c = await RawHttp.connect();
    try {
      c.send(text);
      return await c.response();
    } finally {
      c.destroy();
    }
  };

  it("by POST for a session: 405, and the session carries on", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const res = await exchange(upgrade("POST", "1.1", { sid }));
    assert.equal(res.status, 405);
    assert.equal((await h.post(srv, sid, "4still")).status, 200);
    assert.deepEqual(h.splitPayload((await h.poll(srv, sid)).text).filter((p) => p !== "2"), ["4still"]);
  });

  it("by POST without a sid: refused (Chorus 405, the reference 400 'Bad handshake method')", async () => {
    const res = await exchange(upgrade("POST", "1.1", {}));
    assert.equal(res.status, h.IS_CHORUS ? 405 : 400);
  });

  it("Chorus: over HTTP/1.0: 400", { skip: h.IS_REFERENCE && "the reference switches protocols (101)" }, async () => {
    const res = await exchange(upgrade("GET", "1.0", {}));
    assert.equal(res.status, 400);
  });
});

describe("request body deadline (408)", () => {
  const BODY_TIMEOUT = 1000;
  let slowSrv;
  before(async () => {
    slowSrv = await h.startServer("eio-echo", { bodyTimeout: BODY_TIMEOUT });
  });
  after(async () => {
    await slowSrv.stop();
  });

  it("a polling POST shorter than its Content-Length: closed (Chorus: 408 at the deadline), its packets do not run", async () => {
    const { sid } = await h.pollingHandshake(slowSrv);
    const held = h.poll(slowSrv, sid, { timeout: 15000 });
    const c = await new Promise((resolve, reject) => {
      const sock = net.connect(slowSrv.port, slowSrv.host, () => resolve(new RawHttp(sock)));
      sock.once("error", reject);
    });
    try {
      const t0 = Date.now();
      c.send(`POST ${h.eioPath(slowSrv, { sid })} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 20\r\n\r\n4hello`);
      if (h.IS_CHORUS) {
        const res = await c.response(15000);
        assert.equal(res.status, 408);
        assert.equal(res.headers.connection, "close");
        assert.ok(Date.now() - t0 >= BODY_TIMEOUT - 100, `answered after ${Date.now() - t0} ms`);
      }
      // The reference drops the request without an answer (at its requestTimeout, or when the
      // session ends on the heartbeat first).
      assert.ok(await c.closedByServer(15000));
    } finally {
      c.destroy();
    }
    // The echo of "4hello" never comes: the held poll ends the session instead.
    const r = await held.catch((e) => ({ status: 0, text: String(e) }));
    assert.ok(!r.text.includes("4hello"), `the truncated body ran: ${r.text}`);
  });
});
