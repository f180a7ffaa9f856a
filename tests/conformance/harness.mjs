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
import { readFileSync } from "node:fs";
import crypto from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { httpRequest } from "../common/http.mjs";
import { startProcess } from "../common/process.mjs";
import { buildFrame, closeCode, closePayload, OP, RawWs } from "../common/raw_ws.mjs";
import { Queue, sleep, unrefSleep, withTimeout } from "../common/util.mjs";

export { buildFrame, closeCode, closePayload, OP, RawWs };
export { Queue, sleep, withTimeout };

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

// The suite's timings. The reference configuration of the protocol test suite is 300/200/1000
// ms (still the Chorus test programs' defaults); on a busy machine (sanitizer builds, suites in
// parallel) a pong can take longer than 200 ms and a ping can land in a payload a test reads,
// so the suite runs its servers slower. The heartbeat tests start their own server with
// FAST_HEARTBEAT and check the timings with slack.
export const PING_INTERVAL = 1000;
export const PING_TIMEOUT = 5000;
export const FAST_HEARTBEAT = { pingInterval: 300, pingTimeout: 1000 };
export const MAX_PAYLOAD = 1_000_000;
export const CONNECT_TIMEOUT = 2500;
export const SEP = "\x1e";

// ---------------------------------------------------------------------------------------
// Server processes

// The Engine.IO endpoint of each mode, as announced on the listening line.
export const ENGINE_PATHS = { conformance: "/socket.io/", "eio-echo": "/engine.io/" };

// Starts a server: mode "conformance" (Socket.IO) or "eio-echo" (Engine.IO echo), with the
// suite's timings unless `timings` ({pingInterval, pingTimeout, connectTimeout}) say
// otherwise; `srv.timings` tells which. `bodyTimeout` (ms): request bodies must arrive whole
// within it (--body-timeout-ms). Its stop() fails when the process had died before, does not
// exit 0 on SIGTERM, or reported a sanitizer error.
export async function startServer(mode, { bodyTimeout, timings = {} } = {}) {
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
  const t = { pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT, connectTimeout: CONNECT_TIMEOUT, ...timings };
  args.push("--ping-interval", String(t.pingInterval), "--ping-timeout", String(t.pingTimeout));
  args.push("--connect-timeout", String(t.connectTimeout));
  if (bodyTimeout !== undefined) args.push("--body-timeout-ms", String(bodyTimeout));
  const srv = await startProcess(cmd, args, { name: `server (${mode})` });
  const stop = srv.stop.bind(srv);
  srv.stop = () => stop({ graceMs: 8000, strict: true });
  srv.mode = mode;
  srv.timings = t;
  // Each server on its package's default path: socket.io's /socket.io/, engine.io's /engine.io/.
  const expected = ENGINE_PATHS[mode];
  if (srv.path !== expected) {
    await srv.crash();
    throw new Error(`${cmd} serves ${srv.path}, expected the default ${expected}`);
  }
  if (mode === "eio-echo") await checkEnginePath(srv);
  return srv;
}

// The server process's resident memory (VmRSS, KiB), from /proc.
export function serverRssKiB(srv) {
  const status = readFileSync(`/proc/${srv.proc.pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)[1]);
}

// One handshake on the announced path, closed at once: the echo server answers there (and
// is warm before the first test starts).
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

// One HTTP request on a fresh connection (the Engine.IO path with `query` unless `path` is
// given). Resolves with { status, headers, body, text, aborted }.
export function request(srv, { path: p, query, ...opts } = {}) {
  return httpRequest(srv, { ...opts, path: p ?? eioPath(srv, query) });
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
