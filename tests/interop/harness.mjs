// Shared harness of the interop suite (tests/interop/*.test.mjs).
//
// The server under test is the Chorus interop app (env CHORUS_INTEROP_BIN, built from
// tests/apps/interop_app.cpp) or, with CHORUS_TARGET=reference, its twin on the official
// socket.io server (tests/apps/interop_reference.mjs). Clients are the official
// socket.io-client 4.x from node_modules, run over three transport setups.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { io, Manager } from "socket.io-client";

export { io, Manager };

const here = dirname(fileURLToPath(import.meta.url));
export const TARGET = process.env.CHORUS_TARGET === "reference" ? "reference" : "chorus";
const REFERENCE_APP = join(here, "..", "apps", "interop_reference.mjs");

export const MODES = [
  { name: "websocket", opts: { transports: ["websocket"] }, upgrade: false },
  { name: "polling", opts: { transports: ["polling"] }, upgrade: false },
  { name: "polling+upgrade", opts: { transports: ["polling", "websocket"] }, upgrade: true },
];

export const JWT_SECRET = "chorus-test-secret";

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function command(port) {
  if (TARGET === "reference") return [process.execPath, [REFERENCE_APP, "--port", String(port)]];
  const bin = process.env.CHORUS_INTEROP_BIN;
  if (!bin) throw new Error("set CHORUS_INTEROP_BIN to the chorus-interop-app binary (or CHORUS_TARGET=reference)");
  return [bin, ["--port", String(port)]];
}

function launch(port) {
  const [cmd, args] = command(port);
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
  const listening = new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`${cmd}: no "listening" line within 10 s`)), 10_000);
    const onData = (chunk) => {
      buffered += chunk.toString();
      const newline = buffered.indexOf("\n");
      if (newline < 0) return;
      clearTimeout(timer);
      proc.stdout.off("data", onData);
      proc.stdout.resume();  // keep draining later output
      const m = /^chorus: listening on http:\/\/127\.0\.0\.1:(\d+)$/.exec(buffered.slice(0, newline).trim());
      if (m) resolve(Number(m[1]));
      else reject(new Error(`unexpected first line: ${JSON.stringify(buffered.slice(0, newline))}`));
    };
    proc.stdout.on("data", onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited before listening (code ${code}, signal ${signal})`));
    });
  });
  return { proc, exited, listening };
}

// Starts the app; with a fixed port, retries while the port is still held by a previous run.
export async function startServer(port = 0) {
  let lastError;
  for (let attempt = 0; attempt < 30; attempt++) {
    const { proc, exited, listening } = launch(port);
    try {
      const bound = await listening;
      return {
        port: bound,
        url: `http://127.0.0.1:${bound}`,
        proc,
        exited,
        // Resolves with {code, signal} once the process is gone.
        async stop(signal = "SIGTERM") {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
          const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
          const result = await exited;
          clearTimeout(timer);
          return result;
        },
      };
    } catch (e) {
      lastError = e;
      proc.kill("SIGKILL");
      if (port === 0) break;
      await sleep(100);
    }
  }
  throw lastError;
}

// A socket.io-client socket whose events are queued, so tests can await them in order
// without racing the server.
export class Peer {
  constructor(socket) {
    this.socket = socket;
    this.queues = new Map();
    this.waiters = new Map();
    socket.onAny((event, ...args) => this.push(event, args));
    socket.on("connect", () => this.push("connect", []));
    socket.on("disconnect", (reason) => this.push("disconnect", [reason]));
    socket.on("connect_error", (err) => this.push("connect_error", [err]));
  }

  push(event, args) {
    const waiters = this.waiters.get(event);
    if (waiters && waiters.length) return waiters.shift()(args);
    if (!this.queues.has(event)) this.queues.set(event, []);
    this.queues.get(event).push(args);
  }

  // The arguments of the next `event` (queued or future).
  async next(event, ms = 3_000) {
    return (await this.first([event], ms)).args;
  }

  // The next of several events: {event, args}. Waiters for the others are withdrawn.
  first(events, ms = 3_000) {
    for (const event of events) {
      const queue = this.queues.get(event);
      if (queue && queue.length) return Promise.resolve({ event, args: queue.shift() });
    }
    return new Promise((resolve, reject) => {
      const entries = [];
      const withdraw = () => {
        for (const [event, fn] of entries) {
          const list = this.waiters.get(event);
          const i = list.indexOf(fn);
          if (i >= 0) list.splice(i, 1);
        }
      };
      const timer = setTimeout(() => {
        withdraw();
        reject(new Error(`no ${events.map((e) => `"${e}"`).join(" or ")} event within ${ms} ms`));
      }, ms);
      for (const event of events) {
        const fn = (args) => {
          clearTimeout(timer);
          withdraw();
          resolve({ event, args });
        };
        entries.push([event, fn]);
        if (!this.waiters.has(event)) this.waiters.set(event, []);
        this.waiters.get(event).push(fn);
      }
    });
  }

  // Asserts that no `event` arrives within `ms`.
  async none(event, ms = 250) {
    await sleep(ms);
    const queue = this.queues.get(event);
    assert.equal(queue ? queue.length : 0, 0, `unexpected "${event}": ${JSON.stringify(queue?.[0])}`);
  }

  get id() {
    return this.socket.id;
  }

  close() {
    this.socket.disconnect();
    this.socket.io.engine?.close();
  }
}

export async function waitUpgrade(socket, ms = 3_000) {
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") return;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no upgrade to websocket within ${ms} ms`)), ms);
    engine.once("upgrade", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  assert.equal(engine.transport.name, "websocket");
}

// A Peer on namespace `nsp`, not yet connected (listeners can be attached first).
export function peer(server, nsp, mode, extra = {}) {
  const socket = io(server.url + nsp, {
    ...mode.opts,
    forceNew: true,
    reconnection: false,
    autoConnect: false,
    timeout: 5_000,
    ...extra,
  });
  return new Peer(socket);
}

// A connected Peer; in polling+upgrade mode, also waits for the WebSocket upgrade.
export async function connectPeer(server, nsp, mode, extra = {}) {
  const p = peer(server, nsp, mode, extra);
  p.socket.connect();
  const outcome = await p.first(["connect", "connect_error"]);
  if (outcome.event === "connect_error") {
    p.close();
    throw new Error(`connect_error on ${nsp}: ${outcome.args[0].message}`);
  }
  if (mode.upgrade) await waitUpgrade(p.socket);
  return p;
}

// Connects and expects a refusal: returns the connect_error.
export async function refusedPeer(server, nsp, mode, extra = {}) {
  const p = peer(server, nsp, mode, extra);
  p.socket.connect();
  const outcome = await p.first(["connect", "connect_error"]);
  p.close();
  assert.equal(outcome.event, "connect_error", `${nsp} should refuse this connection`);
  return outcome.args[0];
}

// Binary values come back as Buffer or ArrayBuffer depending on the transport: compare
// them as {$bin: hex}.
export function normalize(value) {
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex") };
  }
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

// Retries `fn` until it returns without throwing (server-side state settles asynchronously).
export async function eventually(fn, ms = 3_000) {
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

function b64url(data) {
  return Buffer.from(data).toString("base64url");
}

export function signHs256(claims, secret = JWT_SECRET, header = { alg: "HS256", typ: "JWT" }) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

export function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}
