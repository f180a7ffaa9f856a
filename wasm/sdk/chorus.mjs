// Chorus browser SDK: the socket.io-client 4.x API over the Chorus client core (C++ in
// WebAssembly). The core runs the Engine.IO / Socket.IO state machines; this module only
// moves bytes between it and WebSocket / fetch, keeps timers, and calls user
// callbacks.
//
//   import { io } from "/chorus/chorus.mjs";
//   const socket = io("/", { transports: ["websocket", "sse", "polling"] });
//
// Built by wasm/sdk.cmake: the Emscripten glue replaces the import below, and chorus.wasm
// sits next to this file. Runs in browsers, workers and Node >= 18 (the tests run Node 20).
// WebSocket: the `WebSocket` option, else the global one, else (Node < 22 has none) the `ws`
// package when it can be imported. SSE and polling: fetch (the SSE stream is read and parsed here, not by an
// EventSource).
import createChorusCore from "./chorus_core.mjs";

const isNode = typeof process === "object" && process !== null && typeof process.versions?.node === "string" &&
  typeof window === "undefined" && typeof importScripts !== "function";

// Node-only modules are imported through a variable: bundlers then leave them out of browser
// bundles (a literal `import("ws")` would be resolved and bundled).
const nodeImport = (specifier) => import(/* webpackIgnore: true */ /* @vite-ignore */ specifier);

const wasmUrl = new URL("chorus.wasm", import.meta.url);
let wasm;
if (isNode) {
  const { readFile } = await nodeImport("node:fs/promises");
  wasm = await readFile(wasmUrl);
} else {
  const response = await fetch(wasmUrl);
  if (!response.ok) throw new Error(`chorus.wasm: HTTP ${response.status} from ${wasmUrl}`);
  wasm = await response.arrayBuffer();
}
// The minimal runtime's glue would leave its promise pending on bytes it cannot compile.
if (!WebAssembly.validate(wasm)) throw new Error(`chorus.wasm from ${wasmUrl} is not a valid WebAssembly module`);
const core = await createChorusCore({ wasm });

// Node without a global WebSocket (Node 20): the `ws` package, as socket.io-client uses,
// found from this file's folder or else from the working directory.
async function importWs() {
  const pick = (m) => {
    const WS = m.WebSocket ?? m.default?.WebSocket ?? m.default;
    return typeof WS === "function" ? WS : undefined;
  };
  try {
    return pick(await nodeImport("ws"));
  } catch {
    // not found from this file's folder: try the program's
  }
  try {
    const { createRequire } = await nodeImport("node:module");
    const { pathToFileURL } = await nodeImport("node:url");
    const path = createRequire(`${process.cwd()}/`).resolve("ws");
    return pick(await nodeImport(pathToFileURL(path).href));
  } catch {
    return undefined;
  }
}
const nodeWebSocket = isNode && typeof globalThis.WebSocket !== "function" ? await importWs() : undefined;
const NO_WEBSOCKET = "no WebSocket in this runtime: install the ws package (npm install ws), " +
  "or pass a WebSocket class as the WebSocket option";

// --- boundary helpers ----------------------------------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const KINDS = ["polling", "websocket", "sse"];  // engineio::Transport order
const A = {  // client::ActionType
  openWebSocket: 1, openEventSource: 2, httpGet: 3, httpPost: 4, sendText: 5, sendBinary: 6, closeTransport: 7,
  setTimer: 8, engineOpen: 9, engineMessage: 10, engineClose: 11, engineError: 12, engineUpgrade: 13,
  engineUpgradeError: 14, open: 15, close: 16, error: 17, reconnectAttempt: 18, reconnect: 19, reconnectError: 20,
  reconnectFailed: 21, authRequest: 22, connect: 23, connectError: 24, disconnect: 25, event: 26, ack: 27,
  outgoing: 28,
};

const now = () => performance.now();

// Writes the strings / byte arrays back to back into the core's scratch buffer (strings
// encoded in place); returns their byte lengths.
function put(...parts) {
  let room = 0;
  for (const p of parts) room += typeof p === "string" ? p.length * 3 : p.length;
  let at = core._chorus_scratch(room);
  const heap = core.HEAPU8;
  const lengths = [];
  for (const p of parts) {
    let n;
    if (typeof p === "string") {
      n = encoder.encodeInto(p, heap.subarray(at, at + p.length * 3)).written;
    } else {
      heap.set(p, at);
      n = p.length;
    }
    at += n;
    lengths.push(n);
  }
  return lengths;
}

function stage(binaries) {
  for (const b of binaries) core._chorus_stage_binary(put(b)[0]);
}

function text(ptr, len) {
  return len ? decoder.decode(core.HEAPU8.subarray(ptr, ptr + len)) : "";
}

function cstring(ptr) {
  const heap = core.HEAPU8;
  let end = ptr;
  while (heap[end] !== 0) end++;
  return decoder.decode(heap.subarray(ptr, end));
}

// Reads the descriptor of the current action (bindings.cpp). Everything is copied out at
// once: the memory behind it is reused by the next core call (a user callback may make one).
function readAction(desc) {
  const u32 = core.HEAPU32;
  const d = desc >>> 2;
  const lo = u32[d + 4];
  const hi = u32[d + 5];
  const type = u32[d];
  const field = (slot) => text(u32[d + 6 + 2 * slot], u32[d + 7 + 2 * slot]);
  const a = {
    type,
    transport: u32[d + 1],
    kind: KINDS[u32[d + 2]],
    flag: u32[d + 3] === 1,
    number: hi === 0xffffffff && lo === 0xffffffff ? Infinity : hi * 4294967296 + lo,
    url: field(0),
    nsp: field(2),
    sid: field(3),
    reason: field(4),
    description: field(5),
    binaries: [],
  };
  const dataPtr = u32[d + 8];
  const dataLen = u32[d + 9];
  // Binary frames and messages stay bytes; everything else is text.
  a.data = type === A.sendBinary || (type === A.engineMessage && a.flag)
    ? core.HEAPU8.slice(dataPtr, dataPtr + dataLen)
    : text(dataPtr, dataLen);
  const count = u32[d + 18];
  const table = u32[d + 19] >>> 2;
  for (let i = 0; i < count; i++) {
    const p = u32[table + 2 * i];
    const n = u32[table + 2 * i + 1];
    a.binaries.push(core.HEAPU8.slice(p, p + n).buffer);
  }
  return a;
}

// --- values: binaries <-> placeholders ---------------------------------------------------

const hasBlob = typeof Blob === "function";
const isBinary = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v) || (hasBlob && v instanceof Blob);

function toBytes(v) {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

const HAS_BINARY = 1;
const HAS_BLOB = 2;

// What a value holds: HAS_BINARY and/or HAS_BLOB (one walk, as socket.io-parser's hasBinary).
function scan(value, depth = 0) {
  if (value === null || typeof value !== "object" || depth > 128) return 0;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return HAS_BINARY;
  if (hasBlob && value instanceof Blob) return HAS_BLOB;
  let found = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length && found !== 3; i++) found |= scan(value[i], depth + 1);
  } else if (typeof value.toJSON !== "function") {
    for (const key in value) {
      if (found === 3) break;
      if (Object.prototype.hasOwnProperty.call(value, key)) found |= scan(value[key], depth + 1);
    }
  }
  return found;
}

// JSON text with Socket.IO placeholders, plus the binaries (as socket.io-parser does).
function deconstruct(list, flags = scan(list)) {
  if (!(flags & HAS_BINARY)) return [JSON.stringify(list) ?? "null", []];
  const binaries = [];
  const json = JSON.stringify(list, function (key, value) {
    const original = this[key];  // before toJSON (Node's Buffer has one)
    if (original instanceof ArrayBuffer || ArrayBuffer.isView(original)) {
      binaries.push(toBytes(original));
      return { _placeholder: true, num: binaries.length - 1 };
    }
    return value;
  });
  return [json ?? "null", binaries];
}

function reconstruct(json, binaries) {
  if (!binaries.length) return JSON.parse(json);
  return JSON.parse(json, (key, value) =>
    value !== null && typeof value === "object" && value._placeholder === true && typeof value.num === "number"
      ? binaries[value.num]
      : value);
}

// Replaces every Blob by its bytes (an ArrayBuffer).
async function readBlobs(value, depth = 0) {
  if (depth > 64 || value === null || typeof value !== "object") return value;
  if (value instanceof Blob) return value.arrayBuffer();
  if (isBinary(value)) return value;
  if (Array.isArray(value)) return Promise.all(value.map((v) => readBlobs(v, depth + 1)));
  if (typeof value.toJSON === "function") return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = await readBlobs(v, depth + 1);
  return out;
}

// An error from a user callback must not break the core's action loop: report it the way
// the platform reports uncaught errors, after the loop.
function report(error) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(error);
  else setTimeout(() => { throw error; });
}

// An error's message, with its cause (Node's fetch says only "fetch failed" without it).
function why(e) {
  const cause = e?.cause?.message ?? e?.cause?.code;
  return cause ? `${e?.message ?? e}: ${cause}` : String(e?.message ?? e);
}

// --- SSE: the event stream format (WHATWG HTML, "Server-sent events", parsing) ----------
//
// Bytes in (any chunking), events out: UTF-8 with one leading BOM skipped, lines ending in
// CRLF, LF or CR, `data:` lines joined with LF, `event:`, `id:`, `retry:`, comments, fields
// with or without a value, one optional space after the colon. What one event may buffer is
// bounded by maxPayload (base64-expanded, for `event: b64`) and checked as it arrives: a
// longer event or line fails the stream before it is held whole.
class EventStreamParser {
  constructor(maxPayload, onEvent) {
    this.maxPayload = maxPayload;
    this.dataLimit = 4 * Math.ceil(maxPayload / 3);
    this.lineLimit = this.dataLimit + 64;  // room for a field name, colon and space
    this.onEvent = onEvent;
    this.decoder = new TextDecoder("utf-8");  // strips one leading BOM; bad bytes become U+FFFD
    this.pending = "";  // the current line, so far
    this.skipLF = false;  // the last chunk ended in CR: an LF opening the next one is its pair
    this.type = "";
    this.data = [];
    this.dataLength = -1;  // length of the data lines joined with LF (-1: none)
    this.lastEventId = "";
    this.retry = -1;
  }

  push(bytes) {
    this.text(this.decoder.decode(bytes, { stream: true }));
  }

  text(chunk) {
    if (!chunk.length) return;
    let at = 0;
    if (this.skipLF) {
      this.skipLF = false;
      if (chunk.charCodeAt(0) === 10) at = 1;
    }
    const ends = /[\r\n]/g;
    ends.lastIndex = at;
    for (let m; (m = ends.exec(chunk)) !== null;) {
      const end = m.index;
      this.checkLine(this.pending.length + end - at);
      const line = this.pending + chunk.slice(at, end);
      this.pending = "";
      at = end + 1;
      if (chunk.charCodeAt(end) === 13) {
        if (at === chunk.length) this.skipLF = true;
        else if (chunk.charCodeAt(at) === 10) at++;
      }
      ends.lastIndex = at;
      this.line(line);
    }
    this.checkLine(this.pending.length + chunk.length - at);
    this.pending += chunk.slice(at);
  }

  checkLine(length) {
    if (length > this.lineLimit) {
      throw new Error(`SSE line longer than ${this.lineLimit} characters (maxPayload ${this.maxPayload} bytes)`);
    }
  }

  line(line) {
    if (line === "") return this.dispatch();
    if (line.charCodeAt(0) === 58) return;  // ":" comment
    const colon = line.indexOf(":");
    let field = line;
    let value = "";
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
    }
    switch (field) {
      case "event":
        this.type = value;
        return;
      case "data": {
        const length = this.dataLength + 1 + value.length;
        if (length > this.dataLimit) {
          throw new Error(`SSE event data longer than ${this.dataLimit} characters (maxPayload ${this.maxPayload} bytes)`);
        }
        this.data.push(value);
        this.dataLength = length;
        return;
      }
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        return;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);  // kept, unused: the engine reconnects
        return;
      default:
        return;  // unknown fields are ignored
    }
  }

  dispatch() {
    const type = this.type || "message";
    const data = this.data;
    this.type = "";
    this.data = [];
    this.dataLength = -1;
    if (data.length) this.onEvent(type, data.join("\n"), this.lastEventId);
  }
}

// --- Emitter (component-emitter's API, as socket.io-client's) ----------------------------

class Emitter {
  constructor() {
    this._callbacks = new Map();
  }
  on(event, fn) {
    if (!this._callbacks.has(event)) this._callbacks.set(event, []);
    this._callbacks.get(event).push(fn);
    return this;
  }
  addEventListener(event, fn) {
    return this.on(event, fn);
  }
  once(event, fn) {
    const wrapper = (...args) => {
      this.off(event, wrapper);
      fn.apply(this, args);
    };
    wrapper.fn = fn;
    return this.on(event, wrapper);
  }
  off(event, fn) {
    if (event === undefined) {
      this._callbacks.clear();
      return this;
    }
    const list = this._callbacks.get(event);
    if (!list) return this;
    if (fn === undefined) {
      this._callbacks.delete(event);
      return this;
    }
    const i = list.findIndex((cb) => cb === fn || cb.fn === fn);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this._callbacks.delete(event);
    return this;
  }
  removeListener(event, fn) {
    return this.off(event, fn);
  }
  removeAllListeners(event) {
    return this.off(event);
  }
  removeEventListener(event, fn) {
    return this.off(event, fn);
  }
  emit(event, ...args) {
    this.emitReserved(event, ...args);
    return this;
  }
  emitReserved(event, ...args) {
    const list = this._callbacks.get(event);
    if (!list) return this;
    for (const fn of list.slice()) {
      try {
        fn.apply(this, args);
      } catch (e) {
        report(e);
      }
    }
    return this;
  }
  listeners(event) {
    return (this._callbacks.get(event) ?? []).slice();
  }
  hasListeners(event) {
    return (this._callbacks.get(event)?.length ?? 0) > 0;
  }
}

// --- URLs --------------------------------------------------------------------------------

// socket.io-client's url(): absolute or relative to the page; the path is the namespace.
function parseUri(uri) {
  const loc = typeof location === "object" && location !== null ? location : null;
  if (uri == null) {
    if (!loc) throw new TypeError("io(): a URL is required outside a browser page");
    uri = `${loc.protocol}//${loc.host}`;
  }
  uri = String(uri);
  if (uri.startsWith("//")) uri = (loc ? loc.protocol : "https:") + uri;
  else if (uri.startsWith("/")) {
    if (!loc) throw new TypeError(`io(): relative URL "${uri}" outside a browser page`);
    uri = `${loc.protocol}//${loc.host}${uri}`;
  } else if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    uri = `${loc ? loc.protocol : "https:"}//${uri}`;
  }
  const u = new URL(uri);
  const secure = u.protocol === "https:" || u.protocol === "wss:";
  const port = u.port || (secure ? "443" : "80");
  return {
    secure,
    host: u.host,
    id: `${u.protocol}//${u.hostname}:${port}`,
    source: u.href,
    path: u.pathname || "/",
    query: u.search.length > 1 ? u.search.slice(1) : "",
  };
}

function encodeQuery(query) {
  if (query == null) return "";
  if (typeof query === "string") return query.replace(/^\?/, "");
  return Object.entries(query)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");
}

// --- Manager ---------------------------------------------------------------------------

const registry = typeof FinalizationRegistry === "function"
  ? new FinalizationRegistry((handle) => core._chorus_manager_destroy(handle))
  : null;

// What socket.io-client exposes as `manager.engine`: the Engine.IO connection.
class Engine extends Emitter {
  constructor(sid, transport) {
    super();
    this.id = sid;
    this.transport = { name: transport };
    this.readyState = "open";
  }
}

export class Manager extends Emitter {
  constructor(uri, opts) {
    super();
    if (uri && typeof uri === "object") {
      opts = uri;
      uri = undefined;
    }
    opts = Object.assign({}, opts);
    this.opts = opts;
    this.uri = uri;
    this.nsps = {};
    this.engine = null;
    this._autoConnect = opts.autoConnect !== false;
    this._reconnection = opts.reconnection !== false;
    this._reconnectionAttempts = opts.reconnectionAttempts ?? Infinity;
    this._reconnectionDelay = opts.reconnectionDelay ?? 1000;
    this._reconnectionDelayMax = opts.reconnectionDelayMax ?? 5000;
    this._randomizationFactor = opts.randomizationFactor ?? 0.5;
    this._timeout = opts.timeout == null ? 20000 : opts.timeout;
    const target = parseUri(uri);
    let path = opts.path || "/socket.io";
    if (opts.addTrailingSlash !== false && !path.endsWith("/")) path += "/";
    if (!path.startsWith("/")) path = `/${path}`;
    const transports = (opts.transports ?? ["polling", "websocket"]).filter((t) => KINDS.includes(t));
    const config = {
      secure: opts.secure ?? target.secure,
      host: opts.hostname ? `${opts.hostname}${opts.port ? `:${opts.port}` : ""}` : target.host,
      path,
      query: encodeQuery(opts.query ?? target.query),
      transports,
      upgrade: opts.upgrade !== false,
      tryAllTransports: opts.tryAllTransports !== false,
      timestampRequests: opts.timestampRequests !== false,
      maxPayload: opts.maxPayload ?? 0,
      seed: Math.floor(Math.random() * 2 ** 52) + 1,
      ...this._reconnectionConfig(),
    };
    this._h = core._chorus_manager_create(put(JSON.stringify(config))[0]);
    registry?.register(this, this._h);
    this._tokens = new Map();
    this._nextToken = 1;
    this._transports = new Map();
    this._timer = null;
    this._pumping = false;
    this._WebSocket = opts.WebSocket ?? globalThis.WebSocket ?? nodeWebSocket;
    this._fetch = opts.fetch ?? globalThis.fetch?.bind(globalThis);
    this._maxPayload = opts.maxPayload >= 1 ? Math.min(opts.maxPayload, 4294967295) : 10_000_000;
    if (this._autoConnect) this.open();
  }

  _reconnectionConfig() {
    return {
      reconnection: this._reconnection,
      reconnectionAttempts: Number.isFinite(this._reconnectionAttempts) ? this._reconnectionAttempts : null,
      reconnectionDelay: this._reconnectionDelay,
      reconnectionDelayMax: this._reconnectionDelayMax,
      randomizationFactor: this._randomizationFactor,
      timeout: this._timeout === false ? false : this._timeout,
    };
  }

  _configure() {
    core._chorus_manager_configure(this._h, put(JSON.stringify(this._reconnectionConfig()))[0]);
  }

  reconnection(v) {
    if (!arguments.length) return this._reconnection;
    this._reconnection = !!v;
    this._configure();
    return this;
  }
  reconnectionAttempts(v) {
    if (v === undefined) return this._reconnectionAttempts;
    this._reconnectionAttempts = v;
    this._configure();
    return this;
  }
  reconnectionDelay(v) {
    if (v === undefined) return this._reconnectionDelay;
    this._reconnectionDelay = v;
    this._configure();
    return this;
  }
  reconnectionDelayMax(v) {
    if (v === undefined) return this._reconnectionDelayMax;
    this._reconnectionDelayMax = v;
    this._configure();
    return this;
  }
  randomizationFactor(v) {
    if (v === undefined) return this._randomizationFactor;
    this._randomizationFactor = v;
    this._configure();
    return this;
  }
  timeout(v) {
    if (!arguments.length) return this._timeout;
    this._timeout = v;
    this._configure();
    return this;
  }

  get _readyState() {
    return ["closed", "opening", "open"][core._chorus_manager_state(this._h) & 3];
  }
  get _reconnecting() {
    return (core._chorus_manager_state(this._h) & 4) !== 0;
  }

  open(fn) {
    if (typeof fn === "function") {
      const onOpen = () => {
        this.off("error", onError);
        fn();
      };
      const onError = (err) => {
        this.off("open", onOpen);
        fn(err);
      };
      this.once("open", onOpen);
      this.once("error", onError);
    }
    this._call(() => core._chorus_manager_open(this._h, now()));
    return this;
  }
  connect(fn) {
    return this.open(fn);
  }

  socket(nsp, opts) {
    let socket = this.nsps[nsp];
    if (!socket) {
      socket = new Socket(this, nsp, opts);
      this.nsps[nsp] = socket;
    } else if (this._autoConnect && !socket.active) {
      socket.connect();
    }
    return socket;
  }

  close() {
    this._call(() => core._chorus_manager_close(this._h, now()));
    return this;
  }
  disconnect() {
    return this.close();
  }

  // Runs a core call, then hands its actions out. Calls made while actions are being
  // handed out (from a user callback) only queue theirs: the running loop picks them up,
  // so every callback sees events in order.
  _call(fn) {
    const rc = fn();
    this._pump();
    return rc;
  }

  _pump() {
    if (this._pumping) return;
    this._pumping = true;
    try {
      for (;;) {
        const desc = core._chorus_next_action(this._h);
        if (!desc) break;
        this._handle(readAction(desc));
      }
    } finally {
      this._pumping = false;
    }
  }

  _register(fn) {
    const token = this._nextToken++;
    this._tokens.set(token, fn);
    return token;
  }

  _handle(a) {
    switch (a.type) {
      case A.openWebSocket: return this._openWebSocket(a.transport, a.url);
      case A.openEventSource: return this._openEventStream(a.transport, a.url);
      case A.httpGet: return this._get(a.transport, a.url);
      case A.httpPost: return this._post(a.transport, a.url, a.data);
      case A.sendText:
      case A.sendBinary: {
        const t = this._transports.get(a.transport);
        if (t?.ws) {
          try {
            t.ws.send(a.data);
          } catch (e) {
            this._lost(a.transport, true, String(e?.message ?? e));
          }
        }
        return;
      }
      case A.closeTransport: return this._closeTransport(a.transport);
      case A.setTimer: return this._setTimer(a.number);
      case A.engineOpen:
        this.engine = new Engine(a.sid, a.kind);
        return;
      case A.engineUpgrade:
        if (this.engine) {
          this.engine.transport = { name: a.kind };
          this.engine.emitReserved("upgrade", this.engine.transport);
        }
        return;
      case A.engineUpgradeError:
        if (this.engine) {
          const err = new Error(a.reason);
          err.transport = "websocket";
          this.engine.emitReserved("upgradeError", err);
        }
        return;
      case A.open: return this.emitReserved("open");
      case A.close:
        if (this.engine) {
          this.engine.readyState = "closed";
          this.engine.emitReserved("close", a.reason, a.description || undefined);
        }
        return this.emitReserved("close", a.reason, a.description || undefined);
      case A.error: return this.emitReserved("error", transportError(a));
      case A.reconnectAttempt: return this.emitReserved("reconnect_attempt", a.number);
      case A.reconnect: return this.emitReserved("reconnect", a.number);
      case A.reconnectError: return this.emitReserved("reconnect_error", transportError(a));
      case A.reconnectFailed: return this.emitReserved("reconnect_failed");
      default: {
        const socket = this.nsps[a.nsp];
        if (socket) socket._onAction(a);
        else if (a.type === A.ack) this._tokens.delete(a.number);
      }
    }
  }

  // --- timers --------------------------------------------------------------------------
  _setTimer(deadline) {
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
    if (!Number.isFinite(deadline)) return;
    const delay = Math.max(0, Math.ceil(deadline - now()));
    this._timer = setTimeout(() => {
      this._timer = null;
      this._call(() => core._chorus_timer(this._h, now()));
    }, delay);
  }

  // --- transports ----------------------------------------------------------------------
  _later(fn) {
    // Transport events never run inside the action loop that caused them.
    queueMicrotask(() => this._call(fn));
  }

  _lost(tid, error, description) {
    if (!this._transports.delete(tid)) return;
    this._later(() => core._chorus_transport_close(this._h, tid, error ? 1 : 0, put(description)[0], now()));
  }

  _openWebSocket(tid, url) {
    const WS = this._WebSocket;
    let ws;
    try {
      if (typeof WS !== "function") throw new Error(NO_WEBSOCKET);
      // The `ws` package takes headers (a browser's WebSocket cannot send any).
      ws = WS === nodeWebSocket && this.opts.extraHeaders
        ? new WS(url, this.opts.protocols, { headers: this.opts.extraHeaders })
        : new WS(url, this.opts.protocols);
      // Binary messages as ArrayBuffer (the `ws` package would give Buffers otherwise).
      ws.binaryType = "arraybuffer";
    } catch (e) {
      this._transports.set(tid, {});
      this._lost(tid, true, String(e?.message ?? e));
      return;
    }
    this._transports.set(tid, { ws });
    const live = () => this._transports.get(tid)?.ws === ws;
    ws.onopen = () => {
      if (live()) this._call(() => core._chorus_transport_open(this._h, tid, now()));
    };
    ws.onmessage = (ev) => {
      if (!live()) return;
      const data = ev.data;
      if (typeof data === "string") {
        this._call(() => core._chorus_transport_text(this._h, tid, put(data)[0], now()));
      } else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
        this._call(() => core._chorus_transport_binary(this._h, tid, put(toBytes(data))[0], now()));
      } else if (hasBlob && data instanceof Blob) {
        // binaryType is "arraybuffer"; a Blob means a non-conforming implementation.
        this._lost(tid, true, "unexpected Blob message");
      }
    };
    ws.onerror = (ev) => {
      // The `ws` package says why (ECONNREFUSED, unexpected response, ...); browsers do not.
      if (live()) this._lostNow(tid, true, typeof ev?.message === "string" && ev.message ? ev.message : "websocket error");
    };
    ws.onclose = (ev) => {
      if (live()) this._lostNow(tid, false, `websocket closed (code ${ev?.code ?? "?"})`);
    };
  }

  _lostNow(tid, error, description) {
    if (!this._transports.delete(tid)) return;
    this._call(() => core._chorus_transport_close(this._h, tid, error ? 1 : 0, put(description)[0], now()));
  }

  // The SSE transport, read with fetch: the stream is parsed here (EventStreamParser), so it
  // works wherever fetch can stream a body (browsers, workers, Node), sends extraHeaders,
  // sees the HTTP status, never reconnects on its own and bounds what it buffers.
  _openEventStream(tid, url) {
    const controller = new AbortController();
    const t = { controller, opened: false };
    this._transports.set(tid, t);
    const live = () => this._transports.get(tid) === t;
    const onEvent = (type, data) => {
      if (!live()) return;
      let packet = data;
      if (type === "b64") {
        // A packet holding CR comes as `event: b64`, base64 of its UTF-8 text (README,
        // "Protocol: the SSE transport").
        try {
          packet = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        } catch {
          packet = encoder.encode("\u0000bad base64");  // the core rejects it: "parser error"
        }
      } else if (type !== "message") {
        return;  // as an EventSource with only onmessage: other event types are not delivered
      }
      this._call(() => core._chorus_transport_text(this._h, tid, put(packet)[0], now()));
    };
    const read = async () => {
      const res = await this._request(url, { signal: controller.signal, headers: { accept: "text/event-stream" } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const type = res.headers.get("content-type") ?? "";
      if (!/^text\/event-stream\s*(;|$)/i.test(type)) throw new Error(`not an event stream (Content-Type "${type}")`);
      if (typeof res.body?.getReader !== "function") throw new Error("fetch cannot stream response bodies here");
      const reader = res.body.getReader();
      if (!live()) return reader.cancel().catch(() => {});
      t.opened = true;
      this._call(() => core._chorus_transport_open(this._h, tid, now()));
      const parser = new EventStreamParser(this._maxPayload, onEvent);
      for (;;) {
        const { done, value } = await reader.read();
        if (!live()) return reader.cancel().catch(() => {});
        if (done) break;
        try {
          parser.push(value);
        } catch (e) {
          reader.cancel().catch(() => {});
          throw e;
        }
      }
      if (live()) this._lostNow(tid, false, "sse stream ended");
    };
    Promise.resolve()
      .then(read)
      .catch((e) => {
        if (live()) this._lostNow(tid, true, why(e));
      });
  }

  _request(url, init) {
    const headers = Object.assign({}, this.opts.extraHeaders, init.headers);
    return this._fetch(url, {
      ...init,
      headers,
      credentials: this.opts.withCredentials ? "include" : "same-origin",
      ...(isNode ? {} : { cache: "no-store" }),
    });
  }

  _get(tid, url) {
    let t = this._transports.get(tid);
    if (!t) {
      t = { polling: true };
      this._transports.set(tid, t);
    }
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    t.controller = controller;
    const live = () => this._transports.get(tid) === t;
    let request;
    try {
      request = this._request(url, { signal: controller?.signal });
    } catch (e) {
      request = Promise.reject(e);
    }
    request
      .then(async (res) => {
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return res.text();
      })
      .then(
        (body) => {
          if (live()) this._call(() => core._chorus_http_response(this._h, tid, 0, 1, put(body)[0], now()));
        },
        (e) => {
          if (live()) this._call(() => core._chorus_http_response(this._h, tid, 0, 0, put(String(e?.message ?? e))[0], now()));
        },
      );
  }

  _post(tid, url, body) {
    if (!this._transports.has(tid)) this._transports.set(tid, { polling: true });
    const t = this._transports.get(tid);
    const live = () => this._transports.get(tid) === t;
    let request;
    try {
      // keepalive: a POST made while the page unloads (the goodbye of a disconnect() in
      // pagehide) still reaches the server. Browsers allow it for bodies up to 64 KiB.
      const keepalive = !isNode && body.length < 20_000;  // UTF-16 units: at most 60 kB of UTF-8
      request = this._request(url, { method: "POST", body, keepalive, headers: { "content-type": "text/plain;charset=UTF-8" } });
    } catch (e) {
      request = Promise.reject(e);
    }
    request
      .then(async (res) => {
        await res.arrayBuffer().catch(() => {});
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
      })
      .then(
        () => {
          if (live()) this._call(() => core._chorus_http_response(this._h, tid, 1, 1, 0, now()));
        },
        (e) => {
          if (live()) this._call(() => core._chorus_http_response(this._h, tid, 1, 0, put(String(e?.message ?? e))[0], now()));
        },
      );
  }

  _closeTransport(tid) {
    const t = this._transports.get(tid);
    if (!t) return;
    this._transports.delete(tid);
    if (t.ws) {
      t.ws.onopen = t.ws.onmessage = t.ws.onclose = null;
      // Not null: Node's `ws` reports closing a connecting socket as an "error" event, which
      // throws when nothing listens.
      t.ws.onerror = () => {};
      try {
        t.ws.close();
      } catch {
        // already closed
      }
    }
    t.controller?.abort();
  }
}

function transportError(a) {
  const err = new Error(a.reason);
  if (a.reason !== "timeout") {
    err.type = "TransportError";
    err.description = a.description || undefined;
  }
  return err;
}

// --- Socket ----------------------------------------------------------------------------

const RESERVED_EVENTS = new Set([
  "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
]);

export class Socket extends Emitter {
  constructor(io, nsp, opts) {
    super();
    opts = opts ?? {};
    this.io = io;
    this.nsp = nsp;
    this.id = undefined;
    this.connected = false;
    this.recovered = false;
    this.auth = opts.auth;
    this.flags = {};
    this._opts = Object.assign({}, opts);
    this._anyListeners = [];
    this._anyOutgoingListeners = [];
    this._chain = null;  // emits waiting for Blob reads, in order
    const config = { retries: opts.retries ?? 0 };
    if (opts.ackTimeout !== undefined) config.ackTimeout = opts.ackTimeout;
    core._chorus_socket_add(io._h, ...put(nsp, JSON.stringify(config)));
    if (io._autoConnect) this.open();
  }

  get disconnected() {
    return !this.connected;
  }

  get active() {
    return (core._chorus_socket_state(this.io._h, put(this.nsp)[0]) & 1) !== 0;
  }

  connect() {
    if (this.connected) return this;
    this.io._call(() => core._chorus_socket_connect(this.io._h, put(this.nsp)[0], now()));
    return this;
  }
  open() {
    return this.connect();
  }

  disconnect() {
    this.io._call(() => core._chorus_socket_disconnect(this.io._h, put(this.nsp)[0], now()));
    return this;
  }
  close() {
    return this.disconnect();
  }

  send(...args) {
    return this.emit("message", ...args);
  }

  emit(event, ...args) {
    if (RESERVED_EVENTS.has(event)) throw new Error(`"${String(event)}" is a reserved event name`);
    const flags = this.flags;
    this.flags = {};
    let ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    this._emit([event, ...args], ack, flags);
    return this;
  }

  emitWithAck(event, ...args) {
    return new Promise((resolve, reject) => {
      const fn = (err, response) => (err ? reject(err) : resolve(response));
      fn.withError = true;
      args.push(fn);
      this.emit(event, ...args);
    });
  }

  // Sends now, or after the Blobs of this emit and of earlier ones are read.
  _emit(list, ack, flags) {
    const found = scan(list);
    if (!this._chain && !(found & HAS_BLOB)) {
      this._send(list, ack, flags, found);
      return;
    }
    const previous = this._chain ?? Promise.resolve();
    const next = previous
      .then(() => readBlobs(list))
      .then((resolved) => this._send(resolved, ack, flags))
      .catch(report)
      .finally(() => {
        if (this._chain === next) this._chain = null;
      });
    this._chain = next;
  }

  _send(list, ack, flags, found) {
    const [json, binaries] = deconstruct(list, found);
    const token = ack ? this.io._register(ack) : 0;
    const withError = !!ack?.withError;
    const timeout = typeof flags.timeout === "number" ? flags.timeout : -1;
    stage(binaries);
    const rc = this.io._call(() =>
      core._chorus_emit(this.io._h, ...put(this.nsp, json), token, withError ? 1 : 0, timeout, flags.volatile ? 1 : 0, now()));
    if (rc !== 0) {
      if (token) this.io._tokens.delete(token);
      throw new Error(`cannot emit "${String(list[0])}": ${cstring(core._chorus_error())}`);
    }
  }

  timeout(ms) {
    this.flags.timeout = ms;
    return this;
  }
  get volatile() {
    this.flags.volatile = true;
    return this;
  }
  compress(compress) {
    this.flags.compress = compress;
    return this;
  }

  onAny(listener) {
    this._anyListeners.push(listener);
    return this;
  }
  prependAny(listener) {
    this._anyListeners.unshift(listener);
    return this;
  }
  offAny(listener) {
    if (!listener) this._anyListeners = [];
    else this._anyListeners = this._anyListeners.filter((l) => l !== listener);
    return this;
  }
  listenersAny() {
    return this._anyListeners.slice();
  }
  onAnyOutgoing(listener) {
    this._anyOutgoingListeners.push(listener);
    this._notifyOutgoing();
    return this;
  }
  prependAnyOutgoing(listener) {
    this._anyOutgoingListeners.unshift(listener);
    this._notifyOutgoing();
    return this;
  }
  offAnyOutgoing(listener) {
    if (!listener) this._anyOutgoingListeners = [];
    else this._anyOutgoingListeners = this._anyOutgoingListeners.filter((l) => l !== listener);
    this._notifyOutgoing();
    return this;
  }
  listenersAnyOutgoing() {
    return this._anyOutgoingListeners.slice();
  }
  _notifyOutgoing() {
    core._chorus_socket_notify_outgoing(this.io._h, put(this.nsp)[0], this._anyOutgoingListeners.length ? 1 : 0);
  }

  _onAction(a) {
    switch (a.type) {
      case A.authRequest: return this._provideAuth();
      case A.connect:
        this.id = a.sid;
        this.connected = true;
        this.recovered = a.flag;
        return this.emitReserved("connect");
      case A.connectError: {
        if (a.flag) return this.emitReserved("connect_error", transportError(a));
        const err = new Error(a.reason);
        if (a.data) {
          try {
            err.data = JSON.parse(a.data);
          } catch {
            // data is JSON from the core
          }
        }
        return this.emitReserved("connect_error", err);
      }
      case A.disconnect:
        this.connected = false;
        this.id = undefined;
        return this.emitReserved("disconnect", a.reason, a.description || undefined);
      case A.event: {
        let args;
        try {
          args = reconstruct(a.data, a.binaries);
        } catch {
          return;  // the core only produces valid JSON
        }
        if (a.flag) args.push(this._ackFor(a.number));
        for (const listener of this._anyListeners.slice()) {
          try {
            listener.apply(this, args);
          } catch (e) {
            report(e);
          }
        }
        return this.emitReserved(...args);
      }
      case A.ack: {
        const fn = this.io._tokens.get(a.number);
        this.io._tokens.delete(a.number);
        if (!fn) return;
        let args;
        try {
          args = reconstruct(a.data, a.binaries);
        } catch {
          args = [];
        }
        try {
          if (a.flag) fn.call(this, a.reason ? new Error(a.reason) : null, ...args);
          else fn.apply(this, args);
        } catch (e) {
          report(e);
        }
        return;
      }
      case A.outgoing: {
        let args;
        try {
          args = reconstruct(a.data, a.binaries);
        } catch {
          return;
        }
        for (const listener of this._anyOutgoingListeners.slice()) {
          try {
            listener.apply(this, args);
          } catch (e) {
            report(e);
          }
        }
      }
    }
  }

  _provideAuth() {
    const send = (data) => {
      let json = "";
      try {
        json = data && typeof data === "object" ? JSON.stringify(data) : "";
      } catch (e) {
        report(e);
      }
      this.io._call(() => core._chorus_socket_auth(this.io._h, ...put(this.nsp, json ?? ""), now()));
    };
    if (typeof this.auth === "function") {
      try {
        this.auth(send);
      } catch (e) {
        report(e);
      }
    } else {
      send(this.auth);
    }
  }

  _ackFor(id) {
    let sent = false;
    return (...args) => {
      if (sent) return;
      sent = true;
      const reply = (list) => {
        const [json, binaries] = deconstruct(list);
        stage(binaries);
        this.io._call(() => core._chorus_ack(this.io._h, ...put(this.nsp, json), id, now()));
      };
      if (scan(args) & HAS_BLOB) readBlobs(args).then(reply).catch(report);
      else reply(args);
    };
  }
}

// --- io() --------------------------------------------------------------------------------

const cache = {};

// socket.io-client's lookup(): one Manager per origin unless forceNew / multiplex: false,
// or when the namespace is already in use on the cached one.
export function io(uri, opts) {
  if (typeof uri === "object" && uri !== null) {
    opts = uri;
    uri = undefined;
  }
  opts = opts || {};
  const parsed = parseUri(uri);
  const id = parsed.id;
  const nsp = parsed.path;
  const sameNamespace = cache[id] && nsp in cache[id].nsps;
  const newConnection = opts.forceNew || opts["force new connection"] || opts.multiplex === false || sameNamespace;
  let manager;
  if (newConnection) {
    manager = new Manager(parsed.source, opts);
  } else {
    if (!cache[id]) cache[id] = new Manager(parsed.source, opts);
    manager = cache[id];
  }
  if (parsed.query && !opts.query) opts.query = parsed.query;
  return manager.socket(nsp, opts);
}

export const connect = io;
export const protocol = 5;
Object.assign(io, { Manager, Socket, io, connect: io, protocol });
export default io;
