// Shared harness of the SDK suite (tests/sdk/*.test.mjs).
//
// The SDK under test is the built chorus.mjs (env CHORUS_SDK, or CHORUS_WASM_DIR/wasm/).
// Servers: the Chorus interop app (env CHORUS_INTEROP_BIN) or, with CHORUS_TARGET=reference,
// its twin on the official socket.io server (tests/apps/interop_reference.mjs). Both print
// "chorus: listening on http://127.0.0.1:PORT" first.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, "..", "..");
export const TARGET = process.env.CHORUS_TARGET === "reference" ? "reference" : "chorus";

export function sdkPath() {
  const explicit = process.env.CHORUS_SDK;
  if (explicit) return explicit;
  const dir = process.env.CHORUS_WASM_DIR;
  if (!dir) throw new Error("set CHORUS_SDK (path of chorus.mjs) or CHORUS_WASM_DIR (wasm build tree)");
  return join(dir, "wasm", "chorus.mjs");
}

// The SDK as a program imports it: nothing is injected (under Node 20, which has no global
// WebSocket, the SDK finds the `ws` package itself; SSE is read with fetch).
export async function loadSdk() {
  const path = sdkPath();
  if (!existsSync(path)) throw new Error(`${path} not found: build the chorus_sdk target of the wasm tree`);
  return import(pathToFileURL(path).href);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function command(port) {
  if (TARGET === "reference") {
    return [process.execPath, [join(ROOT, "tests", "apps", "interop_reference.mjs"), "--port", String(port)]];
  }
  const bin = process.env.CHORUS_INTEROP_BIN;
  if (!bin) throw new Error("set CHORUS_INTEROP_BIN to the chorus-interop-app binary (or CHORUS_TARGET=reference)");
  return [bin, ["--port", String(port)]];
}

function launch(cmd, args) {
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
      proc.stdout.resume();
      const m = /^chorus: listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(buffered.slice(0, newline).trim());
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

// Starts the app (Chorus or reference); with a fixed port, retries while it is still held.
export async function startServer(port = 0, cmdline = command(port)) {
  let lastError;
  for (let attempt = 0; attempt < 50; attempt++) {
    const { proc, exited, listening } = launch(...cmdline);
    try {
      const bound = await listening;
      return {
        port: bound,
        url: `http://127.0.0.1:${bound}`,
        proc,
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

// Whether the server speaks the SSE transport (the reference socket.io server does not).
export async function supportsSse(url) {
  const controller = new AbortController();
  try {
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=sse`, { signal: controller.signal });
    const ok = res.ok && (res.headers.get("content-type") ?? "").startsWith("text/event-stream");
    controller.abort();
    return ok;
  } catch {
    return false;
  }
}

// Queues a socket's events so tests await them in order (as tests/interop/harness.mjs).
export class Peer {
  constructor(socket) {
    this.socket = socket;
    this.queues = new Map();
    this.waiters = new Map();
    socket.onAny((event, ...args) => this.push(event, args));
    for (const event of ["connect", "disconnect", "connect_error"]) socket.on(event, (...args) => this.push(event, args));
  }
  push(event, args) {
    const waiters = this.waiters.get(event);
    if (waiters && waiters.length) return waiters.shift()(args);
    if (!this.queues.has(event)) this.queues.set(event, []);
    this.queues.get(event).push(args);
  }
  async next(event, ms = 10_000) {
    return (await this.first([event], ms)).args;
  }
  first(events, ms = 10_000) {
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
  async none(event, ms = 300) {
    await sleep(ms);
    const queue = this.queues.get(event);
    assert.equal(queue ? queue.length : 0, 0, `unexpected "${event}": ${JSON.stringify(queue?.[0])}`);
  }
}

// Binary values compare as {$bin: hex}.
export function normalize(value) {
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (ArrayBuffer.isView(value)) return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex") };
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

// Fails the test run on any uncaught error or unhandled rejection: the SDK must not throw
// into the page.
export function trapUncaught() {
  const seen = [];
  const onError = (e) => seen.push(e);
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  return {
    check() {
      assert.deepEqual(seen.map((e) => String(e?.stack ?? e)), []);
    },
    release() {
      process.off("uncaughtException", onError);
      process.off("unhandledRejection", onError);
    },
  };
}

// fetch with SSE response bodies handed on one byte per chunk: the SDK's stream parser then
// meets every possible chunk boundary (inside CRLF, a UTF-8 sequence, the BOM, a field name).
export async function byteFetch(url, init) {
  const res = await fetch(url, init);
  if (!String(url).includes("transport=sse") || init?.method === "POST" || !res.body) return res;
  const reader = res.body.getReader();
  let chunk = new Uint8Array(0);
  let at = 0;
  const body = new ReadableStream({
    async pull(controller) {
      while (at >= chunk.length) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        chunk = value;
        at = 0;
      }
      controller.enqueue(chunk.slice(at, at + 1));
      at++;
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}
