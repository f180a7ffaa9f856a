// Shared helpers of the chorus-server command-line suite (tests/cli/*.test.mjs).
//
// The binary under test is chorus-server (env CHORUS_SERVER_BIN). Every server is started
// with --port 0 unless a test says otherwise; its first stdout line is
// "chorus: listening on http(s)://HOST:PORT/socket.io/".
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { io } from "socket.io-client";
import { httpRequest } from "../common/http.mjs";
import { runToExit, startProcess } from "../common/process.mjs";
import { tempDir as makeTempDir } from "../common/util.mjs";

export { io };
export { freePort, sleep } from "../common/util.mjs";

export const BIN = process.env.CHORUS_SERVER_BIN;
if (!BIN) throw new Error("set CHORUS_SERVER_BIN to the chorus-server binary");

// A temporary directory, removed when the process exits.
export const tempDir = (prefix = "chorus-cli-") => makeTempDir(prefix).dir;

// Writes {relativePath: content} below `dir`.
export function writeTree(dir, files) {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}

// The working directory of every chorus-server started here: files it creates by default
// (relative paths) land in a temporary directory, not in the source tree.
let cwd;
function workDir() {
  if (!cwd) cwd = tempDir("chorus-cli-cwd-");
  return cwd;
}

// Runs chorus-server to completion (for arguments that must make it exit): {code, signal,
// stdout, stderr}. Kills it after `ms` (a server that started when it should not have).
// A sanitizer build exits slowly (the leak check) on a busy machine: a generous limit.
export const run = (args, ms = 60_000) => runToExit(BIN, args, { cwd: workDir(), ms });

// run() for each argument list, `parallel` at a time (dozens of sanitizer processes started at
// once starve each other on two cores); results in order.
export async function runMany(argLists, { parallel = 4 } = {}) {
  const results = new Array(argLists.length);
  let next = 0;
  const worker = async () => {
    while (next < argLists.length) {
      const i = next++;
      results[i] = await run(argLists[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, argLists.length) }, worker));
  return results;
}

// An empty document root, so servers never depend on the working directory.
let emptyRoot;
function defaultRoot() {
  if (!emptyRoot) emptyRoot = tempDir();
  return emptyRoot;
}

// Starts chorus-server; resolves once it printed its "listening" line. `args` replace the
// defaults (--port 0 --root <empty temp dir> --sdk <same>) key by key.
export async function startServer(args = [], { defaults = true } = {}) {
  const all = [...args];
  if (defaults) {
    if (!all.includes("--port") && !all.includes("--config")) all.push("--port", "0");
    if (!all.includes("--root")) all.push("--root", defaultRoot());
    if (!all.includes("--sdk")) all.push("--sdk", defaultRoot());
  }
  const srv = await startProcess(BIN, all, { name: "chorus-server", cwd: workDir(), timeoutMs: 30_000 });  // a sanitizer build on a busy machine starts slowly
  srv.url = `${srv.scheme}://${srv.host}:${srv.port}`;
  const exited = srv.exited.then(({ code, signal }) => ({ code, signal, stdout: srv.stdout, stderr: srv.stderr }));
  const server = {
    proc: srv.proc,
    scheme: srv.scheme,
    host: srv.host,
    port: srv.port,
    path: srv.path,
    url: srv.url,
    line: srv.line,
    exited,
    get stdout() {
      return srv.stdout;
    },
    get stderr() {
      return srv.stderr;
    },
    // Sends `signal`; resolves with {code, signal, stdout, stderr, ms} (SIGKILL after 10 s).
    async stop(sig = "SIGTERM") {
      const { code, signal, ms } = await srv.stop({ signal: sig, graceMs: 10_000 });
      return { code, signal, stdout: srv.stdout, stderr: srv.stderr, ms };
    },
  };
  return server;
}

// A raw HTTP(S) request (no URL normalization: `path` goes out as written). Resolves with
// {status, headers, body} (body as a string).
export async function request(server, path, { method = "GET", headers = {}, body, timeout = 5_000 } = {}) {
  const res = await httpRequest(server, { method, path, headers, body, timeout });
  return { status: res.status, headers: res.headers, body: res.text };
}

// The Engine.IO open packet of a polling handshake: {sid, upgrades, pingInterval, ...}.
export async function handshake(server, headers = {}) {
  const res = await request(server, `${server.path}?EIO=4&transport=polling`, { headers });
  if (res.status !== 200 || !res.body.startsWith("0")) {
    throw new Error(`handshake: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { open: JSON.parse(res.body.slice(1)), headers: res.headers };
}

// A socket.io-client socket (not connected yet: attach listeners, then .connect()).
export function client(server, opts = {}) {
  return io(server.url, {
    forceNew: true,
    reconnection: false,
    autoConnect: false,
    timeout: 5_000,
    ...opts,
  });
}

// Resolves with the socket once connected; rejects with the connect_error.
export function connected(socket, ms = 5_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connect within ${ms} ms`)), ms);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (!socket.connected && !socket.active) socket.connect();
  });
}

// Resolves with the arguments of the next `event` on an emitter.
export function once(emitter, event, ms = 3_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${ms} ms`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

// Emits with an acknowledgement; resolves with every argument of the ack (emitWithAck keeps
// only the first).
export function ack(socket, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(3_000).emit(...args, (err, ...res) => (err ? reject(err) : resolve(res)));
  });
}
