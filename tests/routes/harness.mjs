// Shared harness of the routes suite (tests/routes/*.test.mjs).
//
// The server under test is chorus-routes-app (env CHORUS_ROUTES_APP, built from
// tests/apps/routes_app.cpp), started with `--port 0`; its first stdout line
// "chorus: listening on http://127.0.0.1:PORT" gives the port and SIGTERM must make it exit 0.
//
// Helpers: raw HTTP, a WHATWG-conformant Server-Sent Events parser (for our own SSE clients
// and for `curl -N` output), an npm `eventsource` wrapper with queues, a raw Engine.IO client
// over the SSE transport, and raw RFC 6455 frames over TCP (after tests/conformance/harness.mjs).
//
// Running by hand:
//   CHORUS_ROUTES_APP=build/<dir>/tests/chorus-routes-app node --test tests/routes/
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import http from "node:http";
import net from "node:net";
import { EventSource } from "eventsource";

export { EventSource };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const unrefSleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());

export const JWT_SECRET = "routes-secret";
export const FEED_HISTORY = 50;
export const MAX_PAYLOAD = 1_000_000;
export const CURL = process.env.CHORUS_CURL || "curl";

// Payloads of GET /events/tricky, as tests/apps/routes_app.cpp sends them (event "tricky",
// id = index), followed by an event "done".
export const BIG = "0123456789abcdef".repeat(6400); // 100 KiB
export const TRICKY = [
  "a\nb",
  "x\ry",
  "",
  "héllo — 日本語 🎉👍🏽",
  BIG,
  "line1\r\nline2",
  "ends with a newline\n",
  " leading space",
  "data: not a field",
];
// What a WHATWG EventSource delivers for each of them: CR and CRLF end a line like LF does,
// so they arrive as LF (SSE has no escape); everything else, including the empty string,
// arrives intact (an empty `data:` line dispatches an event whose data is "").
export const TRICKY_DELIVERED = TRICKY.map((s) => s.replace(/\r\n?/g, "\n"));

// ---------------------------------------------------------------------------------------
// Async queue

export class Queue {
  constructor() {
    this.items = [];
    this.waiters = [];
    this.ended = null;
  }
  push(item) {
    const w = this.waiters.shift();
    if (w) w.resolve(item);
    else this.items.push(item);
  }
  end(reason) {
    if (this.ended) return;
    this.ended = reason ?? "ended";
    for (const w of this.waiters.splice(0)) w.reject(new Error(`queue ended: ${this.ended}`));
  }
  shift(ms = 3000, what = "an item") {
    if (this.items.length) return Promise.resolve(this.items.shift());
    if (this.ended) return Promise.reject(new Error(`queue ended (${this.ended}) while waiting for ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      const w = {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(w);
    });
  }
  // Asserts nothing more arrives within `ms`; returns what did (for the message).
  async quiet(ms = 200) {
    await sleep(ms);
    return this.items.slice();
  }
}

// ---------------------------------------------------------------------------------------
// The app

export class App {
  constructor(proc) {
    this.proc = proc;
    this.stderr = "";
    this.exit = null;
    this.exited = new Promise((resolve) => {
      proc.on("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (d) => {
      if (this.stderr.length < 1 << 20) this.stderr += d;
    });
  }

  url(path = "/") {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  get alive() {
    return this.exit === null;
  }

  // Fails when the app died earlier or does not exit with status 0 on SIGTERM.
  async stop() {
    if (!this.alive) throw new Error(`the app had already exited: ${JSON.stringify(this.exit)}\n${this.stderr.slice(0, 6000)}`);
    this.proc.kill("SIGTERM");
    const res = await Promise.race([this.exited, unrefSleep(20_000).then(() => null)]);
    if (!res) {
      this.proc.kill("SIGKILL");
      throw new Error("the app did not exit within 20 s of SIGTERM");
    }
    if (res.code !== 0) throw new Error(`the app exited with ${JSON.stringify(res)} after SIGTERM\n${this.stderr.slice(0, 6000)}`);
    // UBSan reports without exiting: any report fails the file.
    if (/runtime error:|ERROR: AddressSanitizer|WARNING: ThreadSanitizer/.test(this.stderr)) {
      throw new Error(`sanitizer report from the app:\n${this.stderr.slice(0, 6000)}`);
    }
  }
}

export async function startApp(args = []) {
  const bin = process.env.CHORUS_ROUTES_APP;
  if (!bin) throw new Error("set CHORUS_ROUTES_APP to the chorus-routes-app binary");
  const proc = spawn(bin, ["--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const app = new App(proc);
  const line = await new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`${bin}: no "listening" line within 20 s`)), 20_000);
    const onData = (d) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      proc.stdout.off("data", onData);
      proc.stdout.resume();
      resolve(buf.slice(0, nl));
    };
    proc.stdout.setEncoding("utf8");
    proc.stdout.on("data", onData);
    proc.on("error", reject);
    app.exited.then((e) => reject(new Error(`${bin} exited before listening: ${JSON.stringify(e)}\n${app.stderr}`)));
  });
  const m = /^chorus: listening on http:\/\/127\.0\.0\.1:(\d+)\/?\s*$/.exec(line);
  if (!m) {
    proc.kill("SIGKILL");
    throw new Error(`unexpected first line: ${JSON.stringify(line)}`);
  }
  app.port = Number(m[1]);
  app.host = "127.0.0.1";
  return app;
}

// ---------------------------------------------------------------------------------------
// HTTP

// One request on a fresh connection: { status, headers, body (Buffer), text, json }.
export function request(app, { method = "GET", path, headers = {}, body, timeout = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn, v) => {
      if (!done) {
        done = true;
        fn(v);
      }
    };
    const hdrs = { ...headers };
    let payload = null;
    if (body !== undefined) {
      payload = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body), "utf8");
      if (!Object.keys(hdrs).some((k) => k.toLowerCase() === "content-type")) hdrs["Content-Type"] = "application/json";
      hdrs["Content-Length"] = String(payload.length);
    }
    const req = http.request({ host: app.host, port: app.port, method, path, headers: hdrs, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const b = Buffer.concat(chunks);
        const text = b.toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        finish(resolve, { status: res.statusCode, headers: res.headers, body: b, text, json });
      });
      res.on("error", (e) => finish(reject, e));
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`HTTP ${method} ${path} timed out after ${timeout} ms`)));
    req.on("error", (e) => finish(reject, e));
    if (payload) req.end(payload);
    else req.end();
  });
}

// Sends raw bytes on a TCP connection and collects everything until the server closes it
// (or `ms` passes): resolves with the Buffer.
export function rawHttp(app, bytes, ms = 2000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: app.host, port: app.port });
    const chunks = [];
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", (e) => {
      if (e.code === "ECONNRESET") return; // the answer collected so far is what counts
      clearTimeout(timer);
      reject(e);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.on("connect", () => socket.write(bytes));
  });
}

// Publishes through POST /api/publish (server.of(nsp).to(room).emit from another thread).
export async function publish(app, msg) {
  const res = await request(app, { method: "POST", path: "/api/publish", body: msg });
  if (res.status !== 202) throw new Error(`publish answered ${res.status}: ${res.text}`);
  return res.json;
}

// ---------------------------------------------------------------------------------------
// Server-Sent Events: the WHATWG parsing algorithm (HTML, "9.2.6 Interpreting an event
// stream"), fed with text chunks. onEvent({ type, data, id, lastEventId }), onRetry(ms),
// onComment(text).

export class SseParser {
  constructor({ onEvent = () => {}, onRetry = () => {}, onComment = () => {} } = {}) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.onComment = onComment;
    this.buf = "";
    this.first = true;
    this.data = "";
    this.type = "";
    this.lastEventId = "";
    this.idSet = false;
    this.sawCR = false;
  }
  feed(text) {
    if (this.first) {
      if (text.length === 0) return;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.first = false;
    }
    let i = 0;
    if (this.sawCR && text[0] === "\n") i = 1; // the CRLF was split across chunks
    this.sawCR = false;
    const eol = /[\r\n]/g;
    for (;;) {
      eol.lastIndex = i;
      const m = eol.exec(text);
      if (!m) {
        this.buf += text.slice(i);
        return;
      }
      let j = m.index;
      const line = this.buf + text.slice(i, j);
      this.buf = "";
      if (text[j] === "\r") {
        if (j + 1 === text.length) this.sawCR = true;
        else if (text[j + 1] === "\n") j++;
      }
      i = j + 1;
      this.line(line);
    }
  }
  line(line) {
    if (line === "") return this.dispatch();
    if (line[0] === ":") return this.onComment(line.slice(1));
    const colon = line.indexOf(":");
    let field = line;
    let value = "";
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value[0] === " ") value = value.slice(1);
    }
    if (field === "event") this.type = value;
    else if (field === "data") this.data += `${value}\n`;
    else if (field === "id") {
      if (!value.includes("\0")) {
        this.lastEventId = value;
        this.idSet = true;
      }
    } else if (field === "retry") {
      if (/^\d+$/.test(value)) this.onRetry(Number(value));
    }
  }
  dispatch() {
    const idSet = this.idSet;
    this.idSet = false;
    if (this.data === "") {
      this.type = "";
      return;
    }
    const data = this.data.endsWith("\n") ? this.data.slice(0, -1) : this.data;
    const ev = { type: this.type || "message", data, lastEventId: this.lastEventId, idInEvent: idSet };
    this.data = "";
    this.type = "";
    this.onEvent(ev);
  }
}

// GET `path` as an event stream with node:http: { status, headers, events (Queue of parsed
// events), comments, retries, raw (all text received), ended (Promise), close() }.
// Resolves once the response head has arrived. The request is HTTP/1.1 with keep-alive, as
// browsers send it: the server must close the connection itself to end a stream.
export function openSse(app, path, { headers = {}, method = "GET" } = {}) {
  return new Promise((resolve, reject) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const req = http.request(
      { host: app.host, port: app.port, method, path, headers: { Accept: "text/event-stream", ...headers }, agent },
      (res) => {
        const s = {
          status: res.statusCode,
          headers: res.headers,
          events: new Queue(),
          comments: [],
          retries: [],
          raw: "",
          close: () => {
            req.destroy();
            agent.destroy();
          },
          res,
        };
        const parser = new SseParser({
          onEvent: (e) => s.events.push(e),
          onRetry: (ms) => s.retries.push(ms),
          onComment: (c) => s.comments.push(c),
        });
        res.setEncoding("utf8");
        res.on("data", (d) => {
          s.raw += d;
          parser.feed(d);
        });
        s.ended = new Promise((r) => {
          const end = (why) => {
            s.events.end(why);
            r(why);
          };
          res.on("end", () => end("end"));
          res.on("close", () => end("close"));
          res.on("error", () => end("error"));
        });
        resolve(s);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

// Reads `curl -sN` of `url` (extra curl arguments in `args`) and parses its stdout as an event
// stream: { events (Queue), raw (stdout so far), exited (Promise of { code, stdout, stderr }),
// ready (resolves once "retry:" arrived, i.e. the server subscribed us), kill() }.
export function curlSse(url, args = []) {
  const proc = spawn(CURL, ["-sN", "--no-buffer", ...args, url], { stdio: ["ignore", "pipe", "pipe"] });
  const s = { events: new Queue(), raw: "", stderr: "", retries: [], proc };
  const parser = new SseParser({ onEvent: (e) => s.events.push(e), onRetry: (ms) => s.retries.push(ms) });
  let readyResolve;
  s.ready = new Promise((r) => (readyResolve = r));
  proc.stdout.setEncoding("utf8");
  proc.stderr.setEncoding("utf8");
  proc.stdout.on("data", (d) => {
    s.raw += d;
    parser.feed(d);
    if (s.raw.includes("retry:")) readyResolve();
  });
  proc.stderr.on("data", (d) => (s.stderr += d));
  s.exited = new Promise((r) =>
    proc.on("close", (code) => {
      s.events.end(`curl exited ${code}`);
      readyResolve();
      r({ code, stdout: s.raw, stderr: s.stderr });
    }),
  );
  s.kill = () => {
    if (proc.exitCode === null) proc.kill("SIGTERM");
    return s.exited;
  };
  return s;
}

// Runs curl to completion: { code, stdout, stderr }.
export function curl(args, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const proc = spawn(CURL, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`curl ${args.join(" ")} took more than ${ms} ms`));
    }, ms);
    proc.stdout.setEncoding("utf8");
    proc.stderr.setEncoding("utf8");
    proc.stdout.on("data", (d) => (stdout += d));
    proc.stderr.on("data", (d) => (stderr += d));
    proc.on("error", reject);
    proc.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// An npm `eventsource` EventSource whose events of the given types are queued as
// { type, data, lastEventId }; `errors` queues error events ({ code, message }).
// `opened` resolves on the first "open". Options go to the EventSource (fetch, ...).
export function eventSource(url, types = ["message"], init = undefined) {
  const es = new EventSource(url, init);
  const w = { es, events: new Queue(), errors: new Queue(), opens: 0 };
  for (const type of types) {
    es.addEventListener(type, (e) => w.events.push({ type, data: e.data, lastEventId: e.lastEventId }));
  }
  es.addEventListener("error", (e) => w.errors.push({ code: e.code, message: e.message, readyState: es.readyState }));
  w.opened = new Promise((resolve, reject) => {
    es.addEventListener("open", () => {
      w.opens++;
      resolve();
    });
    es.addEventListener("error", (e) => {
      if (w.opens === 0) reject(new Error(`EventSource ${url} failed: ${e.code ?? ""} ${e.message ?? ""}`));
    });
  });
  w.opened.catch(() => {});
  w.close = () => es.close();
  return w;
}

// A fetch for EventSource whose current response body can be broken on purpose (drop()),
// as a network failure would: the EventSource then reconnects by itself, sending
// Last-Event-ID. `requests` records the headers of every request made.
export function droppableFetch() {
  const state = { requests: [], current: null };
  state.fetch = async (url, init) => {
    state.requests.push({ url: String(url), headers: { ...(init?.headers || {}) } });
    const res = await fetch(url, init);
    const reader = res.body.getReader();
    let ctrl;
    const body = new ReadableStream({
      start(c) {
        ctrl = c;
      },
      async pull(c) {
        try {
          const { done, value } = await reader.read();
          if (done) c.close();
          else c.enqueue(value);
        } catch (e) {
          try {
            c.error(e);
          } catch {}
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    state.current = {
      drop() {
        ctrl.error(new TypeError("network connection dropped (test)"));
        reader.cancel().catch(() => {});
      },
    };
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  state.drop = () => state.current?.drop();
  return state;
}

// ---------------------------------------------------------------------------------------
// Engine.IO over the SSE transport (raw client)

// Decodes the Engine.IO packet carried by one SSE event ("b64" events hold base64 of the
// packet text): { type, data } or { type: "4", binary: true, data: Buffer }.
export function sseEventToPacket(ev) {
  const text = ev.type === "b64" ? Buffer.from(ev.data, "base64").toString("utf8") : ev.data;
  if (text[0] === "b") return { type: "4", binary: true, data: Buffer.from(text.slice(1), "base64"), text };
  return { type: text[0], data: text.slice(1), text };
}

export const eioPath = (query) => `/socket.io/?${new URLSearchParams({ EIO: "4", ...query })}`;

// An Engine.IO session over SSE: the stream (GET transport=sse) and POST upstream. Packets
// arrive in `packets` ({type, data, text, binary?, event}); autoPong answers PINGs.
export class SseEioClient {
  static async open(app, { autoPong = true, query = {} } = {}) {
    const stream = await openSse(app, eioPath({ transport: "sse", ...query }));
    const c = new SseEioClient(app, stream, autoPong);
    if (stream.status !== 200) return c;
    const first = await c.packets.shift(3000, "the OPEN packet");
    if (first.type !== "0") throw new Error(`expected OPEN, got ${first.text.slice(0, 100)}`);
    c.open = JSON.parse(first.data);
    c.sid = c.open.sid;
    return c;
  }
  constructor(app, stream, autoPong) {
    this.app = app;
    this.stream = stream;
    this.autoPong = autoPong;
    this.pings = 0;
    this.packets = new Queue();
    this.events = [];
    this.pump();
  }
  async pump() {
    for (;;) {
      let ev;
      try {
        ev = await this.stream.events.shift(3_600_000, "an SSE event");
      } catch {
        this.packets.end("stream ended");
        return;
      }
      this.events.push(ev);
      const p = { ...sseEventToPacket(ev), event: ev.type };
      if (p.type === "2" && this.autoPong && !p.binary) {
        this.pings++;
        this.post("3").catch(() => {});
        continue;
      }
      this.packets.push(p);
    }
  }
  // One POST at a time per session (Engine.IO): auto-pongs and the test's sends queue up.
  post(...packets) {
    const send = () =>
      request(this.app, {
        method: "POST",
        path: eioPath({ transport: "sse", sid: this.sid }),
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
        body: packets.join("\x1e"),
      });
    const next = (this.postChain ?? Promise.resolve()).then(send);
    this.postChain = next.catch(() => {});
    return next;
  }
  // Next packet other than NOOP.
  async next(ms = 3000) {
    for (;;) {
      const p = await this.packets.shift(ms, "an Engine.IO packet over SSE");
      if (p.type !== "6") return p;
    }
  }
  close() {
    this.stream.close();
  }
}

// ---------------------------------------------------------------------------------------
// Raw RFC 6455 frames over TCP (after tests/conformance/harness.mjs)

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

export function buildFrame({ fin = true, rsv = 0, opcode, payload = Buffer.alloc(0), mask = true, length } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, "utf8");
  const len = length ?? data.length;
  let header;
  if (len < 126) {
    header = Buffer.alloc(2);
    header[1] = len;
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  header[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xf);
  if (!mask) return Buffer.concat([header, data]);
  header[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const masked = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ key[i & 3];
  return Buffer.concat([header, key, masked]);
}

export function closePayload(code, reason = "") {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

export function closeCode(frame) {
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : null;
}

export class RawWs {
  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.frames = new Queue();
    this.ended = false;
    this.endedPromise = new Promise((r) => (this._resolveEnded = r));
  }

  // Opens a TCP connection to `path` and performs the opening handshake (headers: extra or
  // overriding ones; null removes one). Resolves with a RawWs whose `status` and
  // `responseHead` tell how the server answered (`status` 0: closed without an answer).
  static connect(app, path, { headers = {} } = {}) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: app.host, port: app.port });
      socket.setNoDelay(true);
      const ws = new RawWs(socket);
      const key = crypto.randomBytes(16).toString("base64");
      let head = Buffer.alloc(0);
      let handshaken = false;
      const onData = (d) => {
        if (handshaken) return;
        head = Buffer.concat([head, d]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        handshaken = true;
        socket.off("data", onData);
        ws.responseHead = head.subarray(0, end).toString("latin1");
        ws.status = Number(ws.responseHead.split("\r\n")[0].split(" ")[1]);
        ws.responseHeaders = {};
        for (const line of ws.responseHead.split("\r\n").slice(1)) {
          const i = line.indexOf(":");
          if (i > 0) ws.responseHeaders[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        if (ws.status === 101) {
          const expected = crypto.createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
          ws.acceptOk = ws.responseHeaders["sec-websocket-accept"] === expected;
        }
        ws._attach(head.subarray(end + 4));
        resolve(ws);
      };
      socket.on("data", onData);
      socket.on("error", (e) => {
        ws.error = e;
        if (!handshaken && e.code !== "ECONNRESET") reject(e);
      });
      socket.on("close", () => {
        if (!handshaken) {
          handshaken = true;
          ws.status = 0;
          ws.responseHead = head.toString("latin1");
          ws._end("closed during the opening handshake");
          resolve(ws);
        }
      });
      socket.setTimeout(5000, () => {
        if (!handshaken) socket.destroy();
      });
      socket.once("connect", () => {
        socket.setTimeout(0);
        const h = {
          Host: `${app.host}:${app.port}`,
          Upgrade: "websocket",
          Connection: "Upgrade",
          "Sec-WebSocket-Key": key,
          "Sec-WebSocket-Version": "13",
        };
        for (const [k, v] of Object.entries(headers)) {
          const existing = Object.keys(h).find((x) => x.toLowerCase() === k.toLowerCase());
          if (existing) delete h[existing];
          if (v !== null) h[k] = v;
        }
        let req = `GET ${path} HTTP/1.1\r\n`;
        for (const [k, v] of Object.entries(h)) req += `${k}: ${v}\r\n`;
        socket.write(`${req}\r\n`);
      });
    });
  }

  _attach(rest) {
    this.socket.on("data", (d) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this._parse();
    });
    this.socket.on("end", () => this._end("end"));
    this.socket.on("close", () => this._end("close"));
    if (rest.length) {
      this.buf = Buffer.from(rest);
      this._parse();
    }
  }

  _end(why) {
    if (this.ended) return;
    this.ended = why;
    this.frames.end(`connection ${why}`);
    this._resolveEnded(why);
  }

  _parse() {
    let off = 0;
    const b = this.buf;
    for (;;) {
      if (b.length - off < 2) break;
      const b0 = b[off];
      const b1 = b[off + 1];
      let len = b1 & 0x7f;
      let p = off + 2;
      if (len === 126) {
        if (b.length - p < 2) break;
        len = b.readUInt16BE(p);
        p += 2;
      } else if (len === 127) {
        if (b.length - p < 8) break;
        len = Number(b.readBigUInt64BE(p));
        p += 8;
      }
      const masked = (b1 & 0x80) !== 0;
      let key = null;
      if (masked) {
        if (b.length - p < 4) break;
        key = b.subarray(p, p + 4);
        p += 4;
      }
      if (b.length - p < len) break;
      let payload = b.subarray(p, p + len);
      if (masked) {
        payload = Buffer.from(payload);
        for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      }
      this.frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0xf, masked, payload });
      off = p + len;
    }
    this.buf = off === b.length ? Buffer.alloc(0) : b.subarray(off);
  }

  write(data) {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve(false);
      this.socket.write(data, (err) => resolve(!err));
    });
  }
  sendFrame(opts) {
    return this.write(buildFrame(opts));
  }
  readFrame(ms = 3000) {
    return this.frames.shift(ms, "a websocket frame");
  }
  // Next data message (continuations reassembled, control frames other than Close skipped).
  async readMessage(ms = 3000) {
    let first = null;
    const parts = [];
    for (;;) {
      const f = await this.readFrame(ms);
      if (f.opcode >= 8) {
        if (f.opcode === OP.CLOSE) throw new Error(`got a close frame (${closeCode(f)}) instead of a message`);
        continue;
      }
      if (!first) first = f;
      parts.push(f.payload);
      if (f.fin) return { opcode: first.opcode, payload: Buffer.concat(parts) };
    }
  }
  // Reads until the server's Close frame: { code, reason } (code null without a status), or
  // { code: undefined, ended } when the connection ended first.
  async waitClose(ms = 3000) {
    const deadline = Date.now() + ms;
    for (;;) {
      let f;
      try {
        f = await this.readFrame(Math.max(1, deadline - Date.now()));
      } catch (e) {
        if (this.ended) return { code: undefined, ended: this.ended };
        throw e;
      }
      if (f.opcode === OP.CLOSE) return { code: closeCode(f), reason: f.payload.subarray(2).toString("utf8") };
    }
  }
  async endedWithin(ms) {
    return Promise.race([this.endedPromise.then(() => true), unrefSleep(ms).then(() => false)]);
  }
  destroy() {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------
// JWT

function b64url(data) {
  return Buffer.from(data).toString("base64url");
}

export function signHs256(claims, secret = JWT_SECRET, header = { alg: "HS256", typ: "JWT" }) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${crypto.createHmac("sha256", secret).update(input).digest("base64url")}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

// Retries `fn` until it stops throwing.
export async function eventually(fn, ms = 3000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(50);
    }
  }
}

export function uniqueRoom(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString("hex")}`;
}
