// Shared harness of the end-to-end suite (tests/e2e/*.test.mjs): the real demo page
// (demo/, bundled by demo/build.mjs) served by the real chorus-server, driven in Debian's
// Chromium through playwright-core.
//
// Environment:
//   CHORUS_SERVER    the chorus-server binary (required by the editor tests)
//   CHORUS_SDK_DIR   the folder served at /chorus/ (chorus.mjs, chorus.wasm,
//                    chorus_collab.mjs, chorus_collab.wasm); default CHORUS_WASM_DIR/wasm
//   CHORUS_WASM_DIR  the wasm preset's build tree
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startProcess } from "../common/process.mjs";
import { sleep, tempDir as makeTempDir } from "../common/util.mjs";

export { freePort } from "../common/util.mjs";
export { sleep };

/** A temporary directory: { dir, remove() } (removed at exit too). */
export const tempDir = (prefix = "chorus-e2e-") => makeTempDir(prefix);

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, "..", "..");
export const DEMO_ROOT = join(ROOT, "demo");

export function sdkDir() {
  if (process.env.CHORUS_SDK_DIR) return process.env.CHORUS_SDK_DIR;
  if (process.env.CHORUS_WASM_DIR) return join(process.env.CHORUS_WASM_DIR, "wasm");
  throw new Error("set CHORUS_SDK_DIR (folder with chorus.mjs and chorus_collab.mjs) or CHORUS_WASM_DIR");
}

/** The collab module (Doc) under Node. */
export async function loadCollab() {
  const path = join(sdkDir(), "chorus_collab.mjs");
  if (!existsSync(path)) throw new Error(`${path} not found: build the chorus_collab target of the wasm tree`);
  return import(pathToFileURL(path).href);
}

/** Bundles the page (esbuild, well under a second) so the test sees the current sources. */
export async function buildDemo() {
  const { buildDemo: build } = await import(pathToFileURL(join(DEMO_ROOT, "build.mjs")).href);
  return build();
}

/**
 * Starts chorus-server on `port` with the demo root, the SDK folder and the SQLite file
 * `db`. Resolves once it prints its "listening" line; retries while the port is still held
 * by a server that was just killed.
 */
export async function startServer({ port, db, extra = [] }) {
  const bin = process.env.CHORUS_SERVER;
  if (!bin) throw new Error("set CHORUS_SERVER to the chorus-server binary");
  const args = ["--host", "127.0.0.1", "--port", String(port), "--root", DEMO_ROOT, "--sdk", sdkDir(),
    "--docs-db", db, "--log-level", "warn", "--max-connections", "200", ...extra];
  const srv = await startProcess(bin, args, { name: "chorus-server", timeoutMs: 15_000, retryMs: 10_000 });
  srv.url = `http://127.0.0.1:${srv.port}`;
  const stop = srv.stop.bind(srv);
  srv.stop = () => stop({ graceMs: 5000 });
  return srv;
}

export async function launchBrowser() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: process.env.CHORUS_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}

/** Content types chorus-server gives the browser modules (a module needs a JavaScript one). */
export async function moduleTypes(base) {
  const types = {};
  for (const file of ["chorus.mjs", "chorus_collab.mjs", "chorus_collab.wasm", "chorus.wasm"]) {
    const res = await fetch(`${base}/chorus/${file}`);
    await res.arrayBuffer();
    types[file] = `${res.status} ${res.headers.get("content-type")}`;
  }
  return types;
}

const isScriptType = (t) => /^200 (text|application)\/javascript/.test(t);
let mimeWorkaround = null;

// Installed before the page's scripts with `dropSwitch`: window.chorusTest.drop() closes the
// page's open WebSockets as a network drop would (the SDK sees its transport close), and while
// window.chorusTest.blocked is true new WebSockets go to a path the server refuses, so the
// page stays away (its reconnection attempts fail) until the test lets it back.
function installDropSwitch() {
  const Native = window.WebSocket;
  const open = new Set();
  window.chorusTest = {
    blocked: false,
    drop() {
      let closed = 0;
      for (const ws of open) {
        if (ws.readyState === Native.OPEN || ws.readyState === Native.CONNECTING) {
          ws.close();
          ++closed;
        }
      }
      open.clear();
      return closed;
    },
  };
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(window.chorusTest.blocked ? String(url).replace("/socket.io/", "/refused-by-test/") : url, protocols);
      open.add(this);
    }
  };
}

/**
 * Opens the editor in a fresh browser context (its own storage and network switch) and waits
 * until it has joined the document. Console errors are collected in page.errors. With
 * `dropSwitch`, window.chorusTest can drop and hold off the page's WebSockets.
 */
export async function openEditor(browser, base, { doc, name, transport, viewport, dropSwitch } = {}) {
  const context = await browser.newContext({ viewport: viewport ?? { width: 1200, height: 800 } });
  if (dropSwitch) await context.addInitScript(installDropSwitch);
  // Until chorus-server maps .mjs / .wasm to their MIME types (the "serves the modules"
  // test fails meanwhile), correct them here so the rest of the suite still runs.
  if (mimeWorkaround === null) mimeWorkaround = !isScriptType((await moduleTypes(base))["chorus.mjs"]);
  if (mimeWorkaround) {
    await context.route("**/chorus/*", async (route) => {
      const res = await route.fetch();
      const type = route.request().url().endsWith(".wasm") ? "application/wasm" : "text/javascript";
      await route.fulfill({ response: res, headers: { ...res.headers(), "content-type": type } });
    });
  }
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") page.errors.push(m.text()); });
  const query = new URLSearchParams({ doc, name });
  if (transport) query.set("transport", transport);
  await page.goto(`${base}/?${query}`);
  await page.waitForFunction(() => window.chorusDemo?.sync?.joined === true, null, { timeout: 20_000 });
  return page;
}

/** The page's state: text in the editor and in the Doc, edits waiting, connection. */
export function pageState(page) {
  return page.evaluate(() => {
    const d = window.chorusDemo;
    return {
      editor: d.view.state.doc.toString(),
      doc: d.doc.text,
      waiting: d.sync.pending.length + d.sync.inbox.length,
      joined: d.sync.joined,
      pendingItems: d.doc.pending,
    };
  });
}

/** Reads the server's copy of a document by joining it from Node (socket.io-client + Doc). */
export async function serverText(base, name) {
  const { Doc } = await loadCollab();
  const { io } = await import("socket.io-client");
  const socket = io(`${base}/docs`, { transports: ["websocket"], reconnection: false, forceNew: true });
  try {
    const res = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("doc:join: no answer within 10 s")), 10_000);
      socket.on("connect_error", (e) => { clearTimeout(timer); reject(e); });
      socket.on("connect", () => socket.emit("doc:join", name, (r) => { clearTimeout(timer); resolve(r); }));
    });
    assert.equal(res.ok, true, `doc:join refused: ${res.error}`);
    const doc = new Doc();
    doc.applyUpdate(new Uint8Array(res.update));
    return { text: doc.text, doc };
  } finally {
    socket.disconnect();
  }
}

/**
 * Waits until every page has nothing waiting, the same text in its editor and its Doc, and
 * all of them agree. Returns that text.
 */
export async function converge(pages, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let states = [];
  while (Date.now() < deadline) {
    states = await Promise.all(pages.map(pageState));
    const settled = states.every((s) => s.joined && s.waiting === 0 && s.pendingItems === 0 && s.editor === s.doc);
    if (settled && states.every((s) => s.editor === states[0].editor)) return states[0].editor;
    await sleep(100);
  }
  const summary = states.map((s, i) =>
    `page ${i}: joined=${s.joined} waiting=${s.waiting} pendingItems=${s.pendingItems} editor==doc:${s.editor === s.doc} len=${s.editor.length}`);
  throw new Error(`pages did not converge in ${timeoutMs} ms\n${summary.join("\n")}`);
}

/**
 * In the page: `count` random edits through CodeMirror (the same path as typing), with
 * short pauses so that they interleave with the other pages' on the wire. A third of them
 * happen at position 0, where every page types at once.
 */
export function randomEdits(page, { count, seed, alphabet = "abcdefghij klmnopé\n😀", pauseMs = 4 }) {
  return page.evaluate(async ({ count, seed, alphabet, pauseMs }) => {
    let s = seed >>> 0;
    const rand = () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
    const { view } = window.chorusDemo;
    const chars = [...alphabet];
    // Never between the two halves of a surrogate pair, as an editor never is.
    const low = (pos) => { const c = view.state.doc.sliceString(pos, pos + 1).charCodeAt(0); return c >= 0xdc00 && c <= 0xdfff; };
    for (let i = 0; i < count; i++) {
      const len = view.state.doc.length;
      const r = rand();
      let at = r < 0.33 ? 0 : Math.floor(rand() * (len + 1));
      if (at < len && low(at)) at--;
      if (rand() < 0.25 && len > 0) {
        let from = Math.min(at, len - 1);
        if (low(from)) from--;
        let to = Math.min(len, from + 1 + Math.floor(rand() * 3));
        if (to < len && low(to)) to++;
        view.dispatch({ changes: { from, to }, userEvent: "delete" });
      } else {
        let text = "";
        const n = 1 + Math.floor(rand() * 4);
        for (let k = 0; k < n; k++) text += chars[Math.floor(rand() * chars.length)];
        view.dispatch({ changes: { from: at, insert: text }, selection: { anchor: at + text.length }, userEvent: "input.type" });
      }
      if (pauseMs > 0 && rand() < 0.5) await new Promise((r2) => setTimeout(r2, pauseMs));
    }
  }, { count, seed, alphabet, pauseMs });
}

/** Places the cursor (or a selection) in the page's editor and focuses it. */
export function select(page, anchor, head = anchor) {
  return page.evaluate(([a, h]) => {
    const { view } = window.chorusDemo;
    view.focus();
    view.dispatch({ selection: { anchor: a, head: h } });
  }, [anchor, head]);
}
