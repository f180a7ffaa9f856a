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

// Node 20 has no global WebSocket without --experimental-websocket: the tests then give the
// SDK the `ws` package's (browser-compatible API).
export async function loadSdk() {
  if (!globalThis.WebSocket) globalThis.WebSocket = (await import("ws")).WebSocket;
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
