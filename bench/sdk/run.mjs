// SDK benchmark: messages per second sent and received by one client, the Chorus SDK
// (chorus.mjs + chorus.wasm) against the official socket.io-client 4, same server, same run,
// in Node and in headless Chromium; plus the gzip size of both bundles. See README.md.
//
//   node bench/sdk/run.mjs [--sdk build/wasm/wasm] [--server chorus|reference] [--reps 5]
//                          [--messages 20000] [--transport websocket|polling] [--no-browser]
//
// With --server chorus, CHORUS_INTEROP_BIN names the chorus-interop-app binary (a release
// build: a debug/ASan server measures itself more than the clients).
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const SDK_DIR = resolve(opt("sdk", process.env.CHORUS_WASM_DIR ? join(process.env.CHORUS_WASM_DIR, "wasm") : join(ROOT, "build", "wasm", "wasm")));
const SERVER = opt("server", process.env.CHORUS_INTEROP_BIN ? "chorus" : "reference");
const REPS = Number(opt("reps", 5));
const MESSAGES = Number(opt("messages", 20000));
const TRANSPORT = opt("transport", "websocket");
const BROWSER = !args.includes("--no-browser");
const CHROMIUM = process.env.CHORUS_CHROMIUM ?? "/usr/bin/chromium";

function startServer() {
  const [cmd, argv] = SERVER === "chorus"
    ? [process.env.CHORUS_INTEROP_BIN, ["--port", "0"]]
    : [process.execPath, [join(ROOT, "tests", "apps", "interop_reference.mjs"), "--port", "0"]];
  if (!cmd) throw new Error("--server chorus needs CHORUS_INTEROP_BIN");
  const proc = spawn(cmd, argv, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolvePort, reject) => {
    let buf = "";
    proc.stdout.on("data", (chunk) => {
      buf += chunk;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(buf);
      if (m) resolvePort({ url: `http://127.0.0.1:${m[1]}`, stop: () => proc.kill("SIGTERM") });
    });
    proc.once("exit", (code) => reject(new Error(`server exited (${code})`)));
  });
}

// The scenario, shared verbatim by Node and the page (it only uses the io() API).
async function scenario(io, url, transport, n) {
  const socket = io(url, { transports: [transport], forceNew: true, reconnection: false });
  await new Promise((res, rej) => {
    socket.once("connect", res);
    socket.once("connect_error", rej);
  });
  const payload = { text: "hello chorus", n: 0 };
  await socket.emitWithAck("echo", 0);
  // Sent: n emits to an event nobody handles, flushed by one ack.
  let t0 = performance.now();
  for (let i = 0; i < n; i++) {
    payload.n = i;
    socket.emit("sink", payload);
  }
  await socket.emitWithAck("echo", 0);
  const sent = n / ((performance.now() - t0) / 1000);
  // Echo: n emits, each answered by an "echo" event: sent and received.
  let received = 0;
  const done = new Promise((res) => socket.on("echo", () => {
    if (++received === n) res();
  }));
  t0 = performance.now();
  for (let i = 0; i < n; i++) {
    payload.n = i;
    socket.emit("echo", payload);
  }
  await done;
  const echoed = n / ((performance.now() - t0) / 1000);
  socket.disconnect();
  return { sent, echoed };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(label, run) {
  await run();  // warm-up: JIT, connection setup paths
  const sent = [];
  const echoed = [];
  for (let r = 0; r < REPS; r++) {
    const out = await run();
    sent.push(out.sent);
    echoed.push(out.echoed);
  }
  return { label, sent: median(sent), echoed: median(echoed), runs: { sent, echoed } };
}

const gz = (path) => gzipSync(readFileSync(path), { level: 9 }).length;

const server = await startServer();
const results = [];
try {
  const chorus = await import(pathToFileURL(join(SDK_DIR, "chorus.mjs")).href);
  const reference = await import("socket.io-client");
  // Alternate the clients within each repetition so load drift hits both alike.
  for (const [label, io] of [["node chorus", chorus.io], ["node socket.io-client", reference.io]]) {
    results.push(await measure(label, () => scenario(io, server.url, TRANSPORT, MESSAGES)));
  }
  if (BROWSER && existsSync(CHROMIUM)) {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-features=LocalNetworkAccessChecks"],
    });
    const page = await browser.newPage();
    const files = {
      "/__bench/chorus.mjs": [join(SDK_DIR, "chorus.mjs"), "text/javascript"],
      "/__bench/chorus.wasm": [join(SDK_DIR, "chorus.wasm"), "application/wasm"],
      "/__bench/sio.mjs": [join(ROOT, "node_modules", "socket.io-client", "dist", "socket.io.esm.min.js"), "text/javascript"],
    };
    await page.route(`${server.url}/__bench/**`, (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path === "/__bench/index.html") {
        return route.fulfill({
          contentType: "text/html",
          body: `<!doctype html><script type="module">
            import { io as chorus } from "/__bench/chorus.mjs";
            import { io as sio } from "/__bench/sio.mjs";
            window.clients = { chorus, sio };
            window.scenario = ${scenario.toString()};
            window.ready = true;
          </script>`,
        });
      }
      const f = files[path];
      return f ? route.fulfill({ contentType: f[1], body: readFileSync(f[0]) }) : route.fulfill({ status: 404 });
    });
    await page.goto(`${server.url}/__bench/index.html`);
    await page.waitForFunction(() => window.ready === true);
    const n = Math.min(MESSAGES, 10000);
    for (const [label, key] of [["chromium chorus", "chorus"], ["chromium socket.io-client", "sio"]]) {
      results.push(await measure(label, () => page.evaluate(
        ([k, u, t, m]) => window.scenario(window.clients[k], u, t, m), [key, server.url, TRANSPORT, n])));
    }
    await browser.close();
  }
} finally {
  server.stop();
}

const chorusSize = gz(join(SDK_DIR, "chorus.mjs")) + gz(join(SDK_DIR, "chorus.wasm"));
const sioMin = join(ROOT, "node_modules", "socket.io-client", "dist", "socket.io.min.js");
const sioSize = gz(sioMin);

const fmt = (x) => Math.round(x).toLocaleString("en-US");
console.log(`\nSDK benchmark: ${SERVER} server, ${TRANSPORT}, ${MESSAGES} messages (Chromium: ${Math.min(MESSAGES, 10000)}), median of ${REPS}`);
console.log(`load average: ${(await import("node:os")).loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
console.log("| client | sent msg/s | echo msg/s (sent+received) |");
console.log("| --- | ---: | ---: |");
for (const r of results) console.log(`| ${r.label} | ${fmt(r.sent)} | ${fmt(r.echoed)} |`);
console.log("\n| ratio Chorus / socket.io-client | sent | echo |");
console.log("| --- | ---: | ---: |");
for (const env of ["node", "chromium"]) {
  const c = results.find((r) => r.label === `${env} chorus`);
  const s = results.find((r) => r.label === `${env} socket.io-client`);
  if (c && s) console.log(`| ${env} | ${(c.sent / s.sent).toFixed(2)} | ${(c.echoed / s.echoed).toFixed(2)} |`);
}
console.log("\n| bundle | gzip -9 bytes |");
console.log("| --- | ---: |");
console.log(`| Chorus SDK: chorus.mjs + chorus.wasm | ${fmt(chorusSize)} (${fmt(gz(join(SDK_DIR, "chorus.mjs")))} + ${fmt(gz(join(SDK_DIR, "chorus.wasm")))}) |`);
console.log(`| socket.io-client dist/socket.io.min.js | ${fmt(sioSize)} |`);
if (args.includes("--json")) console.log(JSON.stringify({ server: SERVER, transport: TRANSPORT, messages: MESSAGES, reps: REPS, results, chorusSize, sioSize }));
