// The SDK where a program finds it, with nothing injected:
//  - a Node process in which the `ws` package cannot be imported and there is no global
//    WebSocket (the SDK copied to a temporary folder with no node_modules above it): the
//    websocket transport fails with a connect_error whose description names the fix, the
//    fallback to polling and SSE (read with fetch) still work;
//  - a Node process with a global WebSocket: that one is used;
//  - bundled by esbuild for the browser: `ws` and Node's modules stay out of the bundle.
// Runs against the Chorus interop app (env CHORUS_INTEROP_BIN).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT, sdkPath, startServer } from "./harness.mjs";

// Run in the child: prints one JSON line describing what happened.
const PROBE = `
import { createRequire } from "node:module";
const [url, mode] = process.argv.slice(2);
const out = {};
if (mode === "bare") {
  delete globalThis.WebSocket;
  out.wsImportable = await import("ws").then(() => true, () => false);
  try {
    createRequire(process.cwd() + "/").resolve("ws");
    out.wsResolvable = true;
  } catch {
    out.wsResolvable = false;
  }
} else {
  const Platform = globalThis.WebSocket;
  out.hasGlobal = typeof Platform === "function";
  out.globalUsed = 0;
  globalThis.WebSocket = class extends Platform {
    constructor(...args) {
      super(...args);
      out.globalUsed++;
    }
  };
}
const { io } = await import("./chorus.mjs");
async function attempt(transports) {
  const socket = io(url, { transports, forceNew: true, reconnection: false });
  const [event, arg] = await new Promise((resolve) => {
    for (const e of ["connect", "connect_error"]) socket.once(e, (...args) => resolve([e, ...args]));
  });
  const r = { event, transport: socket.io.engine?.transport.name };
  if (event === "connect_error") Object.assign(r, { message: arg.message, type: arg.type, description: arg.description });
  else r.echo = await socket.timeout(5000).emitWithAck("echo", "hi");
  socket.disconnect();
  return r;
}
out.websocket = await attempt(["websocket"]);
if (mode === "bare") {
  out.fallback = await attempt(["websocket", "polling"]);
  out.sse = await attempt(["sse"]);
}
console.log(JSON.stringify(out));
process.exit(0);
`;

const available = existsSync(sdkPath()) && !!process.env.CHORUS_INTEROP_BIN;
let server;
let dir;

before(async () => {
  if (!available) return;
  server = await startServer();
  // Outside the source tree: no node_modules in this folder or above it.
  dir = mkdtempSync(join(tmpdir(), "chorus-sdk-"));
  for (const name of ["chorus.mjs", "chorus.wasm"]) copyFileSync(join(dirname(sdkPath()), name), join(dir, name));
  writeFileSync(join(dir, "probe.mjs"), PROBE);
});
after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function probe(mode, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    // No NODE_PATH and a HOME without ~/.node_modules: nothing outside the folder resolves.
    const env = { ...process.env, NODE_PATH: "", HOME: dir, NODE_OPTIONS: "" };
    execFile(process.execPath, [...nodeArgs, "probe.mjs", server.url, mode], { cwd: dir, env, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`probe ${mode} failed: ${error.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout.trim().split("\n").pop()));
        } catch (e) {
          reject(new Error(`probe ${mode}: no JSON result (${e.message})\n${stdout}\n${stderr}`));
        }
      });
  });
}

describe("Node", { skip: available ? false : "needs the built SDK and CHORUS_INTEROP_BIN" }, () => {
  test("no ws package, no global WebSocket: connect_error naming the fix; polling and SSE work", async () => {
    const out = await probe("bare");
    assert.equal(out.wsImportable, false, "precondition: ws must not be importable from the probe's folder");
    assert.equal(out.wsResolvable, false, "precondition: ws must not resolve from the probe's folder");
    assert.equal(out.websocket.event, "connect_error", JSON.stringify(out.websocket));
    assert.equal(out.websocket.message, "websocket error");
    assert.equal(out.websocket.type, "TransportError");
    assert.match(out.websocket.description, /no WebSocket in this runtime: install the ws package \(npm install ws\)/);
    assert.deepEqual(out.fallback, { event: "connect", transport: "polling", echo: "hi" });
    assert.deepEqual(out.sse, { event: "connect", transport: "sse", echo: "hi" });
  });

  test("a global WebSocket is used (not the ws package)", async () => {
    // Node 20 has one behind a flag; later versions always.
    const args = typeof globalThis.WebSocket === "function" ? [] : ["--experimental-websocket"];
    const out = await probe("global", args);
    assert.equal(out.hasGlobal, true);
    assert.deepEqual(out.websocket, { event: "connect", transport: "websocket", echo: "hi" });
    assert.equal(out.globalUsed, 1);
  });
});

describe("esbuild, for the browser", { skip: existsSync(sdkPath()) ? false : "needs the built SDK" }, () => {
  test("bundles the SDK alone: ws and node: modules stay out", async () => {
    const { build } = await import(join(ROOT, "node_modules", "esbuild", "lib", "main.js"));
    const result = await build({
      entryPoints: [sdkPath()],
      bundle: true,
      write: false,
      metafile: true,
      format: "esm",
      platform: "browser",
      target: ["chrome100", "firefox100", "safari15.4"],
      logLevel: "silent",
    });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(Object.keys(result.metafile.inputs).map((p) => p.split("/").pop()), ["chorus.mjs"]);
    const code = result.outputFiles[0].text;
    assert.doesNotMatch(code, /node_modules|WebSocketServer|require\(/);
  });
});
