// Shared harness of the SDK suite (tests/sdk/*.test.mjs).
//
// The SDK under test is the built chorus.mjs (env CHORUS_SDK, or CHORUS_WASM_DIR/wasm/).
// Servers: the Chorus interop app (env CHORUS_INTEROP_BIN) or, with CHORUS_TARGET=reference,
// its twin on the official socket.io server (tests/apps/interop_reference.mjs). Both print
// "chorus: listening on http://127.0.0.1:PORT" first.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Peer as QueuedPeer } from "../common/peer.mjs";
import { startAppServer } from "../common/process.mjs";

export { normalize, sleep } from "../common/util.mjs";

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

function command(port) {
  if (TARGET === "reference") {
    return [process.execPath, [join(ROOT, "tests", "apps", "interop_reference.mjs"), "--port", String(port)]];
  }
  const bin = process.env.CHORUS_INTEROP_BIN;
  if (!bin) throw new Error("set CHORUS_INTEROP_BIN to the chorus-interop-app binary (or CHORUS_TARGET=reference)");
  return [bin, ["--port", String(port)]];
}

// Starts the app (Chorus or reference); with a fixed port, retries while it is still held.
export async function startServer(port = 0, cmdline = command(port)) {
  return startAppServer(...cmdline, { port });
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

// Queues a socket's events so tests await them in order (10 s default waits: the SDK runs
// its protocol core in WebAssembly under a sanitized server).
export class Peer extends QueuedPeer {
  constructor(socket, opts = {}) {
    super(socket, { timeoutMs: 10_000, ...opts });
  }
  async none(event, ms = 300) {
    return super.none(event, ms);
  }
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
