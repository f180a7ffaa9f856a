// Conformance harness: starts the server under test and gives the tests raw access to it.
//
// Target selection:
//  - CHORUS_TARGET=reference, or `--reference` on the command line: reference_server.mjs
//    (npm socket.io / engine.io configured like the Chorus test executables);
//  - otherwise CHORUS_CONFORMANCE_BIN / CHORUS_EIO_ECHO_BIN name the Chorus executables
//    (`chorus-conformance`, `chorus-eio-echo`); with neither set, the reference is used and
//    a note is printed.
// Every server is started with `--port 0`; its first stdout line
// "chorus: listening on http://HOST:PORT/PATH/" gives the port and the Engine.IO path
// (/socket.io/ for the Socket.IO server, /engine.io/ for the Engine.IO echo server). `stop()` sends SIGTERM and fails
// when the process had died before or does not exit cleanly.
//
// Helpers: raw HTTP (long-polling), a `ws` client with a message queue, and a raw TCP
// WebSocket client for byte-level RFC 6455 frames.
//
// Running by hand (ctest does the same through tests/conformance/tests.cmake):
//   CHORUS_TARGET=reference node --test tests/conformance/
//   CHORUS_CONFORMANCE_BIN=build/debug/server/chorus-conformance \
//   CHORUS_EIO_ECHO_BIN=build/debug/server/chorus-eio-echo node --test tests/conformance/
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";

const here = path.dirname(fileURLToPath(import.meta.url));
export const REFERENCE_SERVER = path.join(here, "reference_server.mjs");

const env = process.env;
const wantReference = process.argv.includes("--reference") || env.CHORUS_TARGET === "reference";
const haveBins = Boolean(env.CHORUS_CONFORMANCE_BIN || env.CHORUS_EIO_ECHO_BIN);
if (!wantReference && !haveBins) {
  if (env.CHORUS_TARGET === "chorus") {
    throw new Error("CHORUS_TARGET=chorus needs CHORUS_CONFORMANCE_BIN and CHORUS_EIO_ECHO_BIN");
  }
  process.stderr.write("conformance: no Chorus binaries given, testing the reference server\n");
}
export const TARGET = wantReference || !haveBins ? "reference" : "chorus";
export const IS_CHORUS = TARGET === "chorus";
export const IS_REFERENCE = TARGET === "reference";

export const PING_INTERVAL = 300;
export const PING_TIMEOUT = 200;
export const MAX_PAYLOAD = 1_000_000;
export const CONNECT_TIMEOUT = 1000;
export const SEP = "\x1e";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// A timer that does not keep the process alive: for races against other events.
const unrefSleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());

// Rejects after `ms` with a message naming what was awaited.
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// An async FIFO: push() from event handlers, `await shift()` from tests.
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
    this.ended = reason ?? "ended";
    for (const w of this.waiters.splice(0)) w.reject(new Error(`queue ended: ${this.ended}`));
  }
  shift(ms = 3000, what = "a message") {
    if (this.items.length) return Promise.resolve(this.items.shift());
    if (this.ended) return Promise.reject(new Error(`queue ended: ${this.ended}`));
    return new Promise((resolve, reject) => {
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
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
        }
      }, ms);
    });
  }
}

// ---------------------------------------------------------------------------------------
// Server processes

class ServerProcess {
  constructor(mode, proc) {
    this.mode = mode;
    this.proc = proc;
    this.stdout = "";
    this.stderr = "";
    this.exit = null;
    this.exited = new Promise((resolve) => {
      proc.on("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    proc.stdout.setEncoding("utf8");
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (d) => {
      if (this.stderr.length < 1 << 20) this.stderr += d;
    });
  }

  // The interesting parts of stderr (a sanitizer report starts at the top).
  stderrExcerpt() {
    const e = this.stderr;
    return e.length <= 6000 ? e : `${e.slice(0, 4500)}\n[...]\n${e.slice(-1500)}`;
  }

  get alive() {
    return this.exit === null;
  }

  url(p = "/") {
    return `http://${this.host}:${this.port}${p}`;
  }

  // Fails when the server died earlier or does not exit with status 0 on SIGTERM.
  async stop() {
    if (!this.alive) {
      throw new Error(`server (${this.mode}) had already exited: ${JSON.stringify(this.exit)}\n${this.stderrExcerpt()}`);
    }
    this.proc.kill("SIGTERM");
    const res = await Promise.race([this.exited, unrefSleep(8000).then(() => null)]);
    if (!res) {
      this.proc.kill("SIGKILL");
      throw new Error(`server (${this.mode}) did not exit within 8 s of SIGTERM`);
    }
    if (res.code !== 0) {
      throw new Error(`server (${this.mode}) exited with ${JSON.stringify(res)} after SIGTERM\n${this.stderrExcerpt()}`);
    }
  }
}

// The Engine.IO endpoint of each mode, as announced on the listening line.
export const ENGINE_PATHS = { conformance: "/socket.io/", "eio-echo": "/engine.io/" };

// Starts a server: mode "conformance" (Socket.IO) or "eio-echo" (Engine.IO echo).
export async function startServer(mode) {
  let cmd;
  let args;
  if (IS_REFERENCE) {
    cmd = process.execPath;
    args = [REFERENCE_SERVER, "--mode", mode, "--port", "0"];
  } else {
    cmd = mode === "conformance" ? env.CHORUS_CONFORMANCE_BIN : env.CHORUS_EIO_ECHO_BIN;
    if (!cmd) throw new Error(`no Chorus binary for mode ${mode}`);
    args = ["--port", "0"];
  }
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  const srv = new ServerProcess(mode, proc);
  const line = await withTimeout(
    new Promise((resolve, reject) => {
      let buf = "";
      const onData = (d) => {
        buf += d;
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          proc.stdout.off("data", onData);
          proc.stdout.on("data", (more) => {
            if (srv.stdout.length < 1 << 20) srv.stdout += more;
          });
          resolve(buf.slice(0, nl));
        }
      };
      proc.stdout.on("data", onData);
      proc.on("error", reject);
      srv.exited.then((e) => reject(new Error(`${cmd} exited before listening: ${JSON.stringify(e)}\n${srv.stderr}`)));
    }),
    20000,
    `the listening line of ${cmd}`,
  );
  const m = /^chorus: listening on http:\/\/([^/:]+|\[[^\]]+\]):(\d+)(\/\S*)\s*$/.exec(line);
  if (!m) {
    proc.kill("SIGKILL");
    throw new Error(`unexpected first line from ${cmd}: ${JSON.stringify(line)}`);
  }
  srv.host = m[1] === "0.0.0.0" ? "127.0.0.1" : m[1];
  srv.port = Number(m[2]);
  srv.path = m[3];
  // Each server on its package's default path: socket.io's /socket.io/, engine.io's /engine.io/.
  const expected = ENGINE_PATHS[mode];
  if (srv.path !== expected) {
    proc.kill("SIGKILL");
    throw new Error(`${cmd} serves ${srv.path}, expected the default ${expected}`);
  }
  if (mode === "eio-echo") await checkEnginePath(srv);
  return srv;
}

// One handshake on the announced path, closed at once: the echo server answers there (and
// is warm before tests that race its 300 ms heartbeat start).
async function checkEnginePath(srv) {
  const res = await request(srv, { path: `${srv.path}?EIO=4&transport=polling` });
  if (res.status !== 200 || !res.text.startsWith("0{")) {
    throw new Error(`no Engine.IO handshake on ${srv.path}: ${res.status} ${res.text.slice(0, 200)}`);
  }
  const sid = JSON.parse(res.text.slice(1)).sid;
  await request(srv, { method: "POST", path: `${srv.path}?EIO=4&transport=polling&sid=${sid}`, body: "1" });
}

// ---------------------------------------------------------------------------------------
// HTTP (long-polling)

export function eioPath(srv, query = {}) {
  const q = new URLSearchParams({ EIO: "4", transport: "polling", ...query });
  for (const [k, v] of Object.entries(query)) if (v === undefined) q.delete(k);
  return `${srv.path}?${q}`;
}

// One HTTP request on a fresh connection. Resolves with { status, headers, body, text }.
// A response that arrives while the body is still being written (413) wins over the
// write error that follows.
export function request(srv, { method = "GET", path: p, query, headers = {}, body, timeout = 5000 } = {}) {
  const reqPath = p ?? eioPath(srv, query);
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
      payload = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
      if (!Object.keys(hdrs).some((k) => k.toLowerCase() === "content-type")) {
        hdrs["Content-Type"] = "text/plain;charset=UTF-8";
      }
      hdrs["Content-Length"] = String(payload.length);
    }
    const req = http.request(
      { host: srv.host, port: srv.port, method, path: reqPath, headers: hdrs, agent: false },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const b = Buffer.concat(chunks);
          finish(resolve, { status: res.statusCode, headers: res.headers, body: b, text: b.toString("utf8") });
        });
        res.on("error", (e) => finish(reject, e));
        res.on("aborted", () => {
          const b = Buffer.concat(chunks);
          finish(resolve, { status: res.statusCode, headers: res.headers, body: b, text: b.toString("utf8"), aborted: true });
        });
      },
    );
    req.setTimeout(timeout, () => {
      req.destroy(new Error(`HTTP ${method} ${reqPath.slice(0, 120)} timed out after ${timeout} ms`));
    });
    req.on("error", (e) => finish(reject, e));
    if (payload) req.end(payload);
    else req.end();
  });
}

export const poll = (srv, sid, opts = {}) => request(srv, { ...opts, query: { ...(opts.query || {}), sid } });
export const post = (srv, sid, body, opts = {}) =>
  request(srv, { ...opts, method: "POST", query: { ...(opts.query || {}), sid }, body });

// Parses an Engine.IO error body {"code":N,"message":"..."}; null when it is not one.
export function errorBody(res) {
  try {
    const v = JSON.parse(res.text);
    return v && typeof v === "object" ? v : null;
  } catch {
    return null;
  }
}

export const splitPayload = (text) => text.split(SEP);

// Engine.IO packet string -> { type, data } (type "b" packets decoded to a Buffer).
export function decodeEio(str) {
  if (str[0] === "b") return { type: "4", binary: true, data: Buffer.from(str.slice(1), "base64") };
  return { type: str[0], data: str.slice(1) };
}

// Opens a polling session; returns { sid, open, res }.
export async function pollingHandshake(srv, query = {}, headers = {}) {
  const res = await request(srv, { query, headers });
  if (res.status !== 200 || res.text[0] !== "0") {
    throw new Error(`polling handshake failed: ${res.status} ${res.text.slice(0, 200)}`);
  }
  const open = JSON.parse(res.text.slice(1));
  return { sid: open.sid, open, res };
}

// A long-polling client that keeps one GET pending and queues every packet received.
// autoPong answers pings; `closed` resolves with { status, text } when the session ends
// (CLOSE packet, or a non-200 answer).
export class PollingClient {
  constructor(srv, sid, { autoPong = true } = {}) {
    this.srv = srv;
    this.sid = sid;
    this.autoPong = autoPong;
    this.packets = new Queue();
    this.pings = 0;
    this.stopped = false;
    this.closed = new Promise((r) => (this._resolveClosed = r));
    this.isClosed = false;
    this.postChain = Promise.resolve();
  }

  // Engine.IO allows one POST at a time per session: the auto-pong and the test's own sends
  // go through one queue (an overlap is answered 400 and ends the session, on every server).
  _post(body) {
    const next = this.postChain.then(() => post(this.srv, this.sid, body));
    this.postChain = next.catch(() => {});
    return next;
  }

  static async open(srv, { query = {}, autoPong = true } = {}) {
    const { sid, open } = await pollingHandshake(srv, query);
    const c = new PollingClient(srv, sid, { autoPong });
    c.open = open;
    c._loop();
    return c;
  }

  async _loop() {
    while (!this.stopped) {
      let res;
      try {
        res = await poll(this.srv, this.sid, { timeout: 10000 });
      } catch (e) {
        this._close({ status: 0, text: String(e) });
        return;
      }
      if (this.stopped) return;
      if (res.status !== 200) {
        this._close({ status: res.status, text: res.text });
        return;
      }
      for (const p of splitPayload(res.text)) {
        if (p === "2" && this.autoPong) {
          this.pings++;
          this._post("3").catch(() => {});
          continue;
        }
        if (p === "1") {
          this._close({ status: 200, text: res.text });
          return;
        }
        this.packets.push(p);
      }
    }
  }

  _close(info) {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeInfo = info;
    this.packets.end(`session closed (${info.status} ${info.text.slice(0, 80)})`);
    this._resolveClosed(info);
  }

  // Next Engine.IO packet other than noop.
  async next(ms = 3000) {
    for (;;) {
      const p = await this.packets.shift(ms, "a polling packet");
      if (p !== "6") return p;
    }
  }

  send(...packets) {
    return this._post(packets.join(SEP));
  }

  stop() {
    this.stopped = true;
    this._post("1").catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------
// WebSocket through the `ws` package

export function wsUrl(srv, query = {}) {
  const q = new URLSearchParams({ EIO: "4", transport: "websocket", ...query });
  return `ws://${srv.host}:${srv.port}${srv.path}?${q}`;
}

// A `ws` client queueing messages as { text } or { binary: Buffer }. autoPong answers "2".
export class WsClient {
  constructor(ws, { autoPong = true } = {}) {
    this.ws = ws;
    this.autoPong = autoPong;
    this.messages = new Queue();
    this.pings = 0;
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        this.messages.end(`websocket closed (${code})`);
        resolve(this.closeInfo);
      });
    });
    ws.on("error", (e) => {
      this.error = e;
    });
    ws.on("message", (data, isBinary) => {
      if (!isBinary) {
        const text = data.toString("utf8");
        if (text === "2" && autoPong) {
          this.pings++;
          if (ws.readyState === WebSocket.OPEN) ws.send("3");
          return;
        }
        this.messages.push({ text });
      } else {
        this.messages.push({ binary: Buffer.from(data) });
      }
    });
  }

  // Resolves once open; rejects with { status } on a refused handshake.
  static open(srv, query = {}, opts = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl(srv, query), { perMessageDeflate: false, handshakeTimeout: 5000, headers: opts.headers });
      const client = new WsClient(ws, opts);
      ws.once("open", () => resolve(client));
      ws.once("unexpected-response", (req, res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const e = new Error(`websocket handshake refused: ${res.statusCode}`);
          e.status = res.statusCode;
          e.body = Buffer.concat(chunks).toString();
          e.headers = res.headers;
          reject(e);
        });
        res.on("error", () => {});
        req.on("error", () => {});
      });
      ws.once("error", (e) => reject(e));
    });
  }

  async next(ms = 3000) {
    return this.messages.shift(ms, "a websocket message");
  }
  async nextText(ms = 3000) {
    const m = await this.next(ms);
    if (m.text === undefined) throw new Error(`expected a text message, got binary ${m.binary.toString("hex").slice(0, 40)}`);
    return m.text;
  }
  send(data) {
    this.ws.send(data);
  }
  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }
  // Resolves with the close info, or null when still open after `ms`.
  async closedWithin(ms) {
    return Promise.race([this.closed, unrefSleep(ms).then(() => null)]);
  }
}

// Engine.IO session over WebSocket: returns { client, open }.
export async function wsHandshake(srv, query = {}, opts = {}) {
  const client = await WsClient.open(srv, query, opts);
  const first = await client.nextText();
  if (first[0] !== "0") throw new Error(`expected an OPEN packet, got ${first.slice(0, 100)}`);
  return { client, open: JSON.parse(first.slice(1)) };
}

// ---------------------------------------------------------------------------------------
// Socket.IO helpers (Engine.IO MESSAGE "4" + Socket.IO packet)

export function sioConnectPacket(nsp = "/", auth) {
  return `40${nsp !== "/" ? `${nsp},` : ""}${auth !== undefined ? JSON.stringify(auth) : ""}`;
}

// Socket.IO connection over WebSocket to `nsp`; returns { client, open, connect, sioSid }
// after the CONNECT answer (it also consumes the "auth" event the server emits).
export async function sioWs(srv, { nsp = "/", auth, consumeAuth = true } = {}) {
  const { client, open } = await wsHandshake(srv);
  client.send(sioConnectPacket(nsp, auth));
  const connect = await client.nextText();
  const prefix = nsp === "/" ? "40" : `40${nsp},`;
  if (!connect.startsWith(prefix)) throw new Error(`expected CONNECT for ${nsp}, got ${connect}`);
  const sioSid = JSON.parse(connect.slice(prefix.length)).sid;
  let authEvent;
  if (consumeAuth) authEvent = await client.nextText();
  return { client, open, connect, sioSid, authEvent };
}

// Same over long-polling; returns { client (PollingClient), connect, sioSid, authEvent }.
export async function sioPolling(srv, { nsp = "/", auth, consumeAuth = true } = {}) {
  const client = await PollingClient.open(srv);
  const r = await client.send(sioConnectPacket(nsp, auth));
  if (r.status !== 200) throw new Error(`CONNECT POST answered ${r.status}`);
  const connect = await client.next();
  const prefix = nsp === "/" ? "40" : `40${nsp},`;
  if (!connect.startsWith(prefix)) throw new Error(`expected CONNECT for ${nsp}, got ${connect}`);
  const sioSid = JSON.parse(connect.slice(prefix.length)).sid;
  let authEvent;
  if (consumeAuth) authEvent = await client.next();
  return { client, connect, sioSid, authEvent };
}

// A healthy Socket.IO round trip on a new WebSocket connection: proves the server is up.
export async function assertSocketIoHealthy(srv) {
  const { client } = await sioWs(srv);
  try {
    const token = crypto.randomBytes(6).toString("hex");
    client.send(`42["message","${token}"]`);
    const back = await client.nextText();
    if (back !== `42["message-back","${token}"]`) throw new Error(`healthy client got ${back}`);
  } finally {
    client.close();
  }
}

// A healthy Engine.IO echo on a new WebSocket connection.
export async function assertEchoHealthy(srv) {
  const { client } = await wsHandshake(srv);
  try {
    const token = `4${crypto.randomBytes(6).toString("hex")}`;
    client.send(token);
    const back = await client.nextText();
    if (back !== token) throw new Error(`healthy echo client got ${back}`);
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------------------------------
// Raw TCP WebSocket client (RFC 6455 frames built and parsed by hand)

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

// A client frame: masked unless mask === false.
export function buildFrame({ fin = true, rsv = 0, opcode, payload = Buffer.alloc(0), mask = true, maskKey, length } = {}) {
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
  const key = maskKey ?? crypto.randomBytes(4);
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

export class RawWs {
  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.frames = new Queue();
    this.ended = false;
    this.error = null;
    this.bytesRead = 0;
    this.endedPromise = new Promise((r) => (this._resolveEnded = r));
  }

  // Opens a TCP connection and performs the opening handshake. Options: query (Engine.IO
  // query, default websocket transport), path (full request target), headers (extra or
  // overriding headers; null removes one), raw (a complete request string to send instead).
  // Resolves with a RawWs; `status` / `responseHead` tell how the server answered.
  static connect(srv, { query = {}, path: target, headers = {}, raw } = {}) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: srv.host, port: srv.port });
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
        const statusLine = ws.responseHead.split("\r\n")[0];
        ws.status = Number(statusLine.split(" ")[1]);
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
        if (!handshaken) reject(e);
      });
      socket.on("close", () => {
        if (!handshaken) reject(new Error("connection closed during the opening handshake"));
      });
      socket.setTimeout(5000, () => {
        if (!handshaken) socket.destroy(new Error("opening handshake timed out"));
      });
      socket.once("connect", () => {
        socket.setTimeout(0);
        if (raw !== undefined) {
          socket.write(raw);
          return;
        }
        const q = new URLSearchParams({ EIO: "4", transport: "websocket", ...query });
        const reqTarget = target ?? `${srv.path}?${q}`;
        const h = {
          Host: `${srv.host}:${srv.port}`,
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
        let req = `GET ${reqTarget} HTTP/1.1\r\n`;
        for (const [k, v] of Object.entries(h)) req += `${k}: ${v}\r\n`;
        socket.write(`${req}\r\n`);
      });
    });
  }

  _attach(rest) {
    const socket = this.socket;
    socket.on("data", (d) => {
      this.bytesRead += d.length;
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this._parse();
    });
    socket.on("end", () => this._end("end"));
    socket.on("close", () => this._end("close"));
    if (rest.length) {
      this.bytesRead += rest.length;
      this.buf = Buffer.from(rest);
      this._parse();
    }
  }

  _end(why) {
    if (this.ended) return;
    this.ended = why;
    this.frames.end(`connection ${why}${this.error ? ` (${this.error.code || this.error.message})` : ""}`);
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
  sendText(text) {
    return this.sendFrame({ opcode: OP.TEXT, payload: Buffer.from(text, "utf8") });
  }

  readFrame(ms = 3000) {
    return this.frames.shift(ms, "a websocket frame");
  }

  // Next complete data message (reassembling continuations; control frames other than
  // close are skipped, and so are Engine.IO PINGs, which are answered): { opcode, payload }.
  async readMessage(ms = 3000) {
    let first = null;
    const parts = [];
    for (;;) {
      const f = await this.readFrame(ms);
      if (f.opcode >= 8) {
        if (f.opcode === OP.CLOSE) throw new Error(`got a close frame (${closeCode(f)}) instead of a message`);
        continue;
      }
      if (!first && f.fin && f.opcode === OP.TEXT && f.payload.length === 1 && f.payload[0] === 0x32) {
        this.sendText("3");
        continue;
      }
      if (!first) first = f;
      parts.push(f.payload);
      if (f.fin) return { opcode: first.opcode, payload: Buffer.concat(parts) };
    }
  }

  // Reads until the server's Close frame; returns { code, reason, frame } (code null when
  // the frame had no status) or { code: undefined, ended } if the connection ended first.
  async waitClose(ms = 3000) {
    const deadline = Date.now() + ms;
    for (;;) {
      let f;
      try {
        f = await this.readFrame(Math.max(1, deadline - Date.now()));
      } catch (e) {
        if (this.ended) return { code: undefined, ended: this.ended, error: this.error?.code };
        throw e;
      }
      if (f.opcode === OP.CLOSE) {
        return { code: closeCode(f), reason: f.payload.subarray(2).toString("utf8"), frame: f };
      }
    }
  }

  // Resolves true when the server closes the TCP connection within `ms`.
  async endedWithin(ms) {
    return Promise.race([this.endedPromise.then(() => true), unrefSleep(ms).then(() => false)]);
  }

  pause() {
    this.socket.pause();
  }
  resume() {
    this.socket.resume();
  }
  destroy() {
    this.socket.destroy();
  }
}

export function closeCode(frame) {
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : null;
}

// Opens a raw WebSocket Engine.IO session and consumes the OPEN packet.
export async function rawEioSession(srv, opts = {}) {
  const ws = await RawWs.connect(srv, opts);
  if (ws.status !== 101) throw new Error(`websocket upgrade refused: ${ws.responseHead}`);
  const open = await ws.readMessage();
  const text = open.payload.toString("utf8");
  if (open.opcode !== OP.TEXT || text[0] !== "0") throw new Error(`expected OPEN, got ${text.slice(0, 80)}`);
  ws.open = JSON.parse(text.slice(1));
  return ws;
}
