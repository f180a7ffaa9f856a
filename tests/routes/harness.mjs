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
import { EventSource } from "eventsource";
import { httpRequest } from "../common/http.mjs";
import { startProcess } from "../common/process.mjs";
import { nowSeconds, Queue, signHs256 as sign, sleep } from "../common/util.mjs";

export { EventSource };
export { rawHttp } from "../common/http.mjs";
export { buildFrame, closeCode, closePayload, OP, RawWs } from "../common/raw_ws.mjs";
export { eventually } from "../common/util.mjs";
export { nowSeconds, Queue, sleep };

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
// The app

// Starts chorus-routes-app with `--port 0` and `args`; its stop() fails when the app died
// before, does not exit 0 within 20 s of SIGTERM, or printed a sanitizer report.
export async function startApp(args = []) {
  const bin = process.env.CHORUS_ROUTES_APP;
  if (!bin) throw new Error("set CHORUS_ROUTES_APP to the chorus-routes-app binary");
  const app = await startProcess(bin, ["--port", "0", ...args], { name: "the app" });
  const stop = app.stop.bind(app);
  app.stop = () => stop({ graceMs: 20_000, strict: true });
  return app;
}

// ---------------------------------------------------------------------------------------
// HTTP

// One request on a fresh connection: { status, headers, body (Buffer), text, json }. A
// body that is not a string or Buffer goes out as JSON; Content-Type defaults to JSON.
export function request(app, opts = {}) {
  return httpRequest(app, { contentType: "application/json", ...opts });
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
// JWT and rooms

export const signHs256 = (claims, secret = JWT_SECRET, header = undefined) => sign(claims, secret, header);

export function uniqueRoom(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString("hex")}`;
}
