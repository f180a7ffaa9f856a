// The SDK in headless Chromium (Debian's, driven by playwright-core): a page served from the
// Chorus interop app's origin (the SDK files are routed in by the test, with the right MIME
// types) runs a scripted session over each transport forced alone, over polling with the
// upgrade, and with WebSocket blocked (fallback to SSE, read with fetch: the page's
// EventSource is not needed), then with SSE requests refused too (fallback to polling).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { sdkPath, startServer, supportsSse } from "./harness.mjs";

const CHROMIUM = process.env.CHORUS_CHROMIUM ?? "/usr/bin/chromium";
const sdkDir = dirname(sdkPath());

const PAGE = `<!doctype html><meta charset="utf-8"><title>Chorus SDK test</title>
<script type="module">
import { io } from "/__sdk/chorus.mjs";
const next = (socket, event, ms = 5000) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("no " + event)), ms);
  socket.once(event, (...args) => { clearTimeout(timer); resolve(args); });
});
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
window.errors = [];
window.addEventListener("error", (e) => window.errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => window.errors.push(String(e.reason)));
window.runSession = async (transports, expected) => {
  const out = {};
  const socket = io("/", { transports, forceNew: true, reconnection: false, autoConnect: false });
  const welcome = next(socket, "welcome");
  socket.connect();
  await next(socket, "connect");
  out.idMatches = (await welcome)[0].id === socket.id;
  const deadline = Date.now() + 5000;
  while (socket.io.engine.transport.name !== expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  out.transport = socket.io.engine.transport.name;
  const echo = next(socket, "echo");
  socket.emit("echo", "hi", { n: 1 });
  out.echo = await echo;
  out.ack = await socket.timeout(3000).emitWithAck("echo", "acked");
  const first = next(socket, "binary-back");
  try { await socket.timeout(150).emitWithAck("binary", 0); out.timeout = "none"; } catch (e) { out.timeout = e.message; }
  await first;
  const blob = new Blob([new Uint8Array([5, 6])]);
  const second = next(socket, "binary-back");
  socket.emit("binary", new Uint8Array([1, 2]), { nested: [new Uint8Array([3]).buffer, blob] }, "\\r\\n");
  const back = await second;
  out.binary = [back[0] instanceof ArrayBuffer, hex(back[0]), hex(back[1].nested[0]), hex(back[1].nested[1]), back[2]];
  socket.once("question", (q, ack) => ack(q + "!"));
  const answer = next(socket, "answer");
  socket.emit("ask", "q");
  out.answer = await answer;
  const admin = socket.io.socket("/admin", { auth: { token: "letmein" } });
  const adminWelcome = next(admin, "welcome");
  admin.connect();
  out.adminAuth = (await adminWelcome)[0].auth;
  admin.disconnect();
  const refused = io("/admin", { transports, forceNew: true, reconnection: false });
  const [err] = await next(refused, "connect_error");
  out.refusal = [err.message, err.data];
  const down = next(socket, "disconnect");
  socket.emit("disconnect-me");
  out.reason = (await down)[0];
  out.errors = window.errors;
  return out;
};
window.ready = true;
</script>`;

const BLOCK_WEBSOCKET = () => {
  // A network that refuses WebSockets: construction works, then error and close.
  window.WebSocket = class extends EventTarget {
    constructor(url) {
      super();
      this.url = url;
      this.readyState = 0;
      setTimeout(() => {
        this.readyState = 3;
        this.onerror?.(new Event("error"));
        this.onclose?.({ code: 1006, reason: "", wasClean: false });
      }, 5);
    }
    send() { throw new DOMException("not open", "InvalidStateError"); }
    close() {}
  };
};
const BLOCK_EVENTSOURCE = () => {
  window.EventSource = class {
    constructor() { throw new DOMException("blocked by policy", "SecurityError"); }
  };
};
// A network that refuses the SSE stream's request.
const BLOCK_SSE = (page) =>
  page.route((url) => url.searchParams.get("transport") === "sse", (route) => route.abort("blockedbyclient"));

const available = existsSync(CHROMIUM) && existsSync(join(sdkDir, "chorus.wasm"));
let server;
let browser;
let sse = false;

before(async () => {
  if (!available) return;
  server = await startServer();
  sse = await supportsSse(server.url);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // A page fulfilled by page.route() has no network address, so Chromium's Local Network
    // Access checks would treat its WebSockets to 127.0.0.1 as public -> local requests
    // (ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS); a page served by the server itself is
    // loopback and not affected.
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-features=LocalNetworkAccessChecks"],
  });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function openPage(...setup) {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  for (const step of setup) {
    if (step === BLOCK_SSE) await step(page);
    else await page.addInitScript(step);
  }
  await page.route(`${server.url}/__sdk/**`, (route) => {
    const name = new URL(route.request().url()).pathname.slice("/__sdk/".length);
    if (name === "index.html") return route.fulfill({ contentType: "text/html", body: PAGE });
    const types = { "chorus.mjs": "text/javascript", "chorus.wasm": "application/wasm" };
    if (!types[name]) return route.fulfill({ status: 404, body: "" });
    return route.fulfill({ contentType: types[name], body: readFileSync(join(sdkDir, name)) });
  });
  await page.goto(`${server.url}/__sdk/index.html`);
  await page.waitForFunction(() => window.ready === true);
  return { page, consoleErrors };
}

function checkSession(out, transport) {
  assert.equal(out.transport, transport);
  assert.equal(out.idMatches, true);
  assert.deepEqual(out.echo, ["hi", { n: 1 }]);
  assert.equal(out.ack, "acked");
  assert.equal(out.timeout, "operation has timed out");
  assert.deepEqual(out.binary, [true, "0102", "03", "0506", "\r\n"]);
  assert.deepEqual(out.answer, ["q!"]);
  assert.deepEqual(out.adminAuth, { token: "letmein" });
  assert.deepEqual(out.refusal, ["not authorized", { code: 403 }]);
  assert.equal(out.reason, "io server disconnect");
  assert.deepEqual(out.errors, []);
}

describe("Chromium", { skip: available ? false : `needs ${CHROMIUM} and the built SDK` }, () => {
  const cases = [
    { name: "websocket alone", transports: ["websocket"], expect: "websocket" },
    { name: "polling alone", transports: ["polling"], expect: "polling" },
    { name: "sse alone", transports: ["sse"], expect: "sse", sse: true },
    { name: "polling, upgraded to websocket", transports: ["polling", "websocket"], expect: "websocket" },
    { name: "sse, upgraded to websocket", transports: ["sse", "websocket"], expect: "websocket", sse: true },
  ];
  for (const c of cases) {
    test(c.name, async (t) => {
      if (c.sse && !sse) return t.skip("the server has no SSE transport");
      const { page, consoleErrors } = await openPage();
      checkSession(await page.evaluate(([tr, ex]) => window.runSession(tr, ex), [c.transports, c.expect]), c.expect);
      assert.deepEqual(consoleErrors, []);
      await page.close();
    });
  }

  test("WebSocket blocked: falls back to SSE", async (t) => {
    if (!sse) return t.skip("the server has no SSE transport");
    const { page, consoleErrors } = await openPage(BLOCK_WEBSOCKET, BLOCK_EVENTSOURCE);
    const out = await page.evaluate(() => window.runSession(["websocket", "sse", "polling"], "sse"));
    checkSession(out, "sse");
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  test("WebSocket and SSE blocked: falls back to polling", async () => {
    const { page, consoleErrors } = await openPage(BLOCK_WEBSOCKET, BLOCK_SSE);
    const out = await page.evaluate(() => window.runSession(["websocket", "sse", "polling"], "polling"));
    checkSession(out, "polling");
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  test("nothing reachable: connect_error with a reason, no page error", async () => {
    const { page, consoleErrors } = await openPage(BLOCK_WEBSOCKET);
    const out = await page.evaluate(async () => {
      const { io } = await import("/__sdk/chorus.mjs");
      const socket = io("http://127.0.0.1:9/", { transports: ["websocket", "sse", "polling"], reconnection: false, forceNew: true });
      const err = await new Promise((resolve) => socket.on("connect_error", resolve));
      return { message: err.message, type: err.type, errors: window.errors };
    });
    assert.equal(out.message, "xhr poll error");
    assert.equal(out.type, "TransportError");
    assert.deepEqual(out.errors, []);
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });
});
