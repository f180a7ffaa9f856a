// The SDK as an npm package: the tarball the wasm tree's chorus_sdk_package target packs
// (env CHORUS_SDK_TARBALL), installed with `npm install --offline` into a scratch project in
// the temporary folder (empty npm cache, a registry address nobody answers: installing must
// need no network, so the package can have no dependencies), then used as its README says:
//  - the tarball holds exactly package.json, README.md, chorus.mjs (+ .map), chorus.wasm, chorus.d.ts,
//    the SDK files equal to the wasm tree's, and package.json names the CMake version;
//  - Node: `import { io } from "chorus-sdk"` (with `ws` installed beside it, as on Node 20)
//    joins a room on the real chorus-server and receives what another SDK client publishes
//    there, acks included;
//  - TypeScript (nodenext resolution) finds the types through the package's exports;
//  - a page importing "chorus-sdk", bundled by esbuild with chorus.wasm copied next to the
//    bundle, served by chorus-server (--root), connects in headless Chromium and receives
//    an event published by socket.io-client, with no page error or console message.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { io as referenceIo } from "socket.io-client";
import { startProcess } from "../common/process.mjs";
import { tempDir } from "../common/util.mjs";
import { ROOT, sdkPath } from "./harness.mjs";

const TARBALL = process.env.CHORUS_SDK_TARBALL;
const VERSION = process.env.CHORUS_VERSION;
const NPM = process.env.CHORUS_NPM ?? "npm";
const CHROMIUM = process.env.CHORUS_CHROMIUM ?? "/usr/bin/chromium";
const SERVER = process.env.CHORUS_SERVER_BIN;
const FILES = ["README.md", "chorus.d.ts", "chorus.mjs", "chorus.mjs.map", "chorus.wasm", "package.json"];

function run(cmd, args, { cwd, env = process.env, ms = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, timeout: ms, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(" ")} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

let scratch;  // { dir, remove }
let project;  // the scratch project's folder
let server;
let browser;

before(async () => {
  for (const [name, value] of Object.entries({ CHORUS_SDK_TARBALL: TARBALL, CHORUS_VERSION: VERSION, CHORUS_SERVER_BIN: SERVER })) {
    if (!value) throw new Error(`set ${name}`);
  }
  if (!existsSync(TARBALL)) throw new Error(`${TARBALL} not found: build the chorus_sdk_package target of the wasm tree`);
  scratch = tempDir("chorus-npm-");
  project = join(scratch.dir, "app");
  mkdirSync(join(project, "src"), { recursive: true });
  mkdirSync(join(project, "dist"));
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "chorus-sdk-consumer", private: true, type: "module" }));
  // Offline, from an empty cache, with a registry address that refuses connections.
  const env = {
    ...process.env,
    npm_config_cache: join(scratch.dir, "npm-cache"),
    npm_config_registry: "http://127.0.0.1:9/",
    npm_config_update_notifier: "false",
    npm_config_userconfig: join(scratch.dir, "npmrc"),
  };
  await run(NPM, ["install", "--offline", "--no-audit", "--no-fund", TARBALL, join(ROOT, "node_modules", "ws")],
    { cwd: project, env });
  // Connection state recovery off: with it, a room broadcast carries its offset as one more
  // argument (as socket.io does), which is not what this test is about.
  server = await startProcess(SERVER, ["--host", "127.0.0.1", "--port", "0", "--root", join(project, "dist"),
    "--docs-db", "", "--recovery-ms", "0", "--log-level", "warn"], { name: "chorus-server", cwd: scratch.dir, timeoutMs: 20_000 });
  server.url = `http://127.0.0.1:${server.port}`;
});

after(async () => {
  await browser?.close();
  if (server) await server.stop({ graceMs: 5_000, strict: true });
  scratch?.remove();
});

test("the tarball: exactly the package's files, the built SDK, the project's version", async () => {
  const { stdout } = await run("tar", ["-tzf", TARBALL]);
  assert.deepEqual(stdout.trim().split("\n").sort(), FILES.map((f) => `package/${f}`));
  const installed = join(project, "node_modules", "chorus-sdk");
  for (const name of ["chorus.mjs", "chorus.mjs.map", "chorus.wasm", "chorus.d.ts"]) {
    assert.ok(readFileSync(join(installed, name)).equals(readFileSync(join(dirname(sdkPath()), name))),
      `${name} in the package differs from the wasm tree's`);
  }
  const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
  assert.equal(pkg.name, "chorus-sdk");
  assert.equal(pkg.version, VERSION);
  assert.equal(pkg.type, "module");
  assert.deepEqual(pkg.exports, {
    ".": { types: "./chorus.d.ts", import: "./chorus.mjs" },
    "./chorus.wasm": "./chorus.wasm",
    "./package.json": "./package.json",
  });
  assert.equal(pkg.types, "./chorus.d.ts");
  for (const key of ["dependencies", "peerDependencies", "optionalDependencies", "bundleDependencies", "scripts"]) {
    assert.equal(pkg[key], undefined, `package.json has ${key}`);
  }
  assert.match(pkg.engines?.node ?? "", /^>=\d+$/);
  assert.equal(basename(TARBALL), `chorus-sdk-${VERSION}.tgz`);
  // Bundlers (webpack, Vite) copy what `new URL("file", import.meta.url)` names: each must be
  // a file of the package.
  const source = readFileSync(join(installed, "chorus.mjs"), "utf8");
  const named = [...source.matchAll(/new URL\(\s*["']([^"']+)["']\s*,\s*import\.meta\.url\s*\)/g)].map((m) => m[1]);
  assert.ok(named.includes("chorus.wasm"), "chorus.mjs finds chorus.wasm beside itself");
  for (const file of named) assert.ok(FILES.includes(file), `chorus.mjs names ${file}, which the package does not have`);
});

const NODE_CLIENT = `
import { io } from "chorus-sdk";
const url = process.argv[2];
const out = { resolved: import.meta.resolve?.("chorus-sdk") };
const open = (socket) => new Promise((resolve, reject) => {
  socket.once("connect", resolve);
  socket.once("connect_error", (e) => reject(new Error("connect_error: " + e.message + " " + (e.description ?? ""))));
});
const options = { transports: ["websocket"], forceNew: true, reconnection: false };
const reader = io(url, options);
const writer = io(url, options);
await Promise.all([open(reader), open(writer)]);
out.transports = [reader.io.engine.transport.name, writer.io.engine.transport.name];
out.joined = await reader.timeout(10000).emitWithAck("join", "news");
const received = new Promise((resolve) => reader.once("headline", (...args) => resolve(args)));
out.published = await writer.timeout(10000).emitWithAck("publish", "news", "headline", "hello", { n: 1 });
out.received = await received;
reader.disconnect();
writer.disconnect();
console.log(JSON.stringify(out));
`;

test("Node: import { io } from \"chorus-sdk\" talks to chorus-server (event and acks)", async () => {
  writeFileSync(join(project, "node-client.mjs"), NODE_CLIENT);
  // Nothing outside the project resolves: no NODE_PATH, a HOME without ~/.node_modules.
  const env = { ...process.env, NODE_PATH: "", NODE_OPTIONS: "", HOME: scratch.dir };
  const { stdout } = await run(process.execPath, ["node-client.mjs", server.url], { cwd: project, env, ms: 60_000 });
  const out = JSON.parse(stdout.trim().split("\n").pop());
  assert.equal(out.resolved, pathToFileURL(join(project, "node_modules", "chorus-sdk", "chorus.mjs")).href);
  assert.deepEqual(out.transports, ["websocket", "websocket"]);
  assert.equal(out.joined, true);
  assert.equal(out.published, true);
  assert.deepEqual(out.received, ["hello", { n: 1 }]);
});

test("TypeScript finds the types through the package's exports", async () => {
  writeFileSync(join(project, "check.ts"), `import { io, type Socket } from "chorus-sdk";
const socket: Socket = io("http://127.0.0.1:8080", { transports: ["websocket", "sse", "polling"] });
socket.on("connect_error", (err) => console.log(err.message));
export const joined: Promise<boolean> = socket.timeout(1000).emitWithAck("join", "news");
// @ts-expect-error: not a transport
io({ transports: ["carrier-pigeon"] });
`);
  await run(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "--strict",
    "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--lib", "es2022,dom",
    "check.ts"], { cwd: project });
});

const PAGE_SOURCE = `
import { io } from "chorus-sdk";
const state = window.state;  // set up by the page before the bundle loads
const socket = io("/", { reconnection: false });
socket.on("connect_error", (e) => state.errors.push("connect_error: " + e.message));
socket.on("headline", (...args) => (state.headline = args));
socket.on("connect", async () => {
  try {
    state.joined = await socket.timeout(10000).emitWithAck("join", "news");
  } catch (e) {
    state.errors.push("join: " + e.message);
  }
});
`;

test("a page bundled by esbuild (chorus.wasm copied beside it) connects in Chromium", async () => {
  writeFileSync(join(project, "src", "page.mjs"), PAGE_SOURCE);
  writeFileSync(join(project, "dist", "index.html"),
    `<!doctype html><meta charset="utf-8"><title>chorus-sdk</title><link rel="icon" href="data:,">
<script>
  // Before the bundle: an error while it loads (the SDK's top-level await) is caught too.
  window.state = { errors: [] };
  window.addEventListener("error", (e) => window.state.errors.push(String(e.message)));
  window.addEventListener("unhandledrejection", (e) => window.state.errors.push(String(e.reason)));
</script>
<script type="module" src="app.js"></script>`);
  const { build } = await import(pathToFileURL(join(ROOT, "node_modules", "esbuild", "lib", "main.js")).href);
  const result = await build({
    absWorkingDir: project,
    entryPoints: ["src/page.mjs"],
    outfile: "dist/app.js",
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    metafile: true,
    logLevel: "silent",
  });
  assert.deepEqual([result.errors, result.warnings], [[], []]);
  assert.deepEqual(Object.keys(result.metafile.inputs).sort(), ["node_modules/chorus-sdk/chorus.mjs", "src/page.mjs"]);
  // As the package's README says: the .wasm goes next to the bundle.
  copyFileSync(createRequire(join(project, "package.json")).resolve("chorus-sdk/chorus.wasm"), join(project, "dist", "chorus.wasm"));

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage();
  const messages = [];
  page.on("pageerror", (e) => messages.push(`pageerror: ${e}`));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") messages.push(`${m.type()}: ${m.text()}`);
  });
  const wasm = [];
  page.on("response", (r) => {
    if (r.status() >= 400) messages.push(`${r.status()}: ${r.url()}`);
    if (r.url().endsWith(".wasm")) wasm.push([new URL(r.url()).pathname, r.status(), r.headers()["content-type"]]);
  });
  await page.goto(`${server.url}/index.html`);
  await page.waitForFunction(() => window.state && (window.state.joined !== undefined || window.state.errors.length > 0),
    null, { timeout: 30_000 });
  assert.deepEqual(await page.evaluate(() => window.state), { errors: [], joined: true });

  const publisher = referenceIo(server.url, { transports: ["websocket"], forceNew: true, reconnection: false });
  try {
    const sent = await publisher.timeout(10_000).emitWithAck("publish", "news", "headline", "hello", { n: 1 });
    assert.equal(sent, true);
  } finally {
    publisher.disconnect();
  }
  await page.waitForFunction(() => window.state.headline !== undefined || window.state.errors.length > 0, null,
    { timeout: 30_000 });
  const state = await page.evaluate(() => window.state);
  assert.deepEqual(state, { errors: [], joined: true, headline: ["hello", { n: 1 }] });
  assert.deepEqual(wasm, [["/chorus.wasm", 200, "application/wasm"]]);
  assert.deepEqual(messages, []);
  await page.close();
});
