// Shared harness of the interop suite (tests/interop/*.test.mjs).
//
// The server under test is the Chorus interop app (env CHORUS_INTEROP_BIN, built from
// tests/apps/interop_app.cpp) or, with CHORUS_TARGET=reference, its twin on the official
// socket.io server (tests/apps/interop_reference.mjs). Clients are the official
// socket.io-client 4.x from node_modules, run over three transport setups.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { io, Manager } from "socket.io-client";
import { Peer } from "../common/peer.mjs";
import { startAppServer } from "../common/process.mjs";
import { signHs256 as sign } from "../common/util.mjs";

export { io, Manager, Peer };
export { eventually, normalize, nowSeconds, sleep } from "../common/util.mjs";

const here = dirname(fileURLToPath(import.meta.url));
export const TARGET = process.env.CHORUS_TARGET === "reference" ? "reference" : "chorus";
const REFERENCE_APP = join(here, "..", "apps", "interop_reference.mjs");

export const MODES = [
  { name: "websocket", opts: { transports: ["websocket"] }, upgrade: false },
  { name: "polling", opts: { transports: ["polling"] }, upgrade: false },
  { name: "polling+upgrade", opts: { transports: ["polling", "websocket"] }, upgrade: true },
];

export const JWT_SECRET = "chorus-test-secret";

function command(port) {
  if (TARGET === "reference") return [process.execPath, [REFERENCE_APP, "--port", String(port)]];
  const bin = process.env.CHORUS_INTEROP_BIN;
  if (!bin) throw new Error("set CHORUS_INTEROP_BIN to the chorus-interop-app binary (or CHORUS_TARGET=reference)");
  return [bin, ["--port", String(port)]];
}

// Starts the app; with a fixed port, retries while a server that was just stopped holds it.
export async function startServer(port = 0) {
  const [cmd, args] = command(port);
  return startAppServer(cmd, args, { port });
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

export const signHs256 = (claims, secret = JWT_SECRET, header = undefined) => sign(claims, secret, header);
