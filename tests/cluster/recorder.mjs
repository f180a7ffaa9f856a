// Clients for the connection state recovery tests (recovery.test.mjs, streams.test.mjs): the
// official socket.io-client, recording every event (offsets included), "connect" (with the id
// and `recovered`), "disconnect" and "connect_error" in one ordered log, reconnecting only when
// told to.
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { waitFor } from "./harness.mjs";

export const WAIT = 10_000;

// A socket for `node` (namespace `nsp`) whose log records everything; not connected yet.
function recording(node, { transport = "websocket", auth, nsp = "/" } = {}) {
  const socket = io(node.base + nsp, {
    transports: [transport],
    forceNew: true,
    reconnection: false,
    autoConnect: false,
    ...(auth ? { auth } : {}),
  });
  const log = [];
  socket.onAny((event, ...args) => log.push([event, ...args]));
  socket.on("connect", () => log.push(["connect", socket.id, socket.recovered]));
  socket.on("disconnect", (reason) => log.push(["disconnect", reason]));
  socket.on("connect_error", (err) => log.push(["connect_error", err.message]));
  return { socket, log, node, transport };
}

// Connects r.socket and waits for its "connect" (a connect_error fails): {from, at}, the log
// indexes where this connection attempt began and where its "connect" is.
async function connect(r, what) {
  const from = r.log.length;
  r.socket.connect();
  const at = await until(r, (e) => e[0] === "connect" || e[0] === "connect_error", what, from);
  assert.equal(r.log[at][0], "connect", `${what}: connect_error: ${r.log[at][1]}`);
  return { from, at };
}

// A connected recording client: {socket, log, node, transport}.
export async function recorder(node, { transport = "websocket", auth, nsp = "/" } = {}) {
  const r = recording(node, { transport, auth, nsp });
  await connect(r, `the first connect to ${node.nodeName ?? node.base}`);
  return r;
}

// Waits until an entry of r.log satisfies `pred` (at or after index `from`), returns its index.
export async function until(r, pred, what, from = 0, ms = WAIT) {
  let found = -1;
  await waitFor(
    () => {
      found = r.log.findIndex((e, i) => i >= from && pred(e));
      return found >= 0;
    },
    { ms, what },
  );
  return found;
}

// Drops the transport from the client's side (the server sees "transport close") and waits for
// the client's "disconnect".
export async function drop(r) {
  const from = r.log.length;
  r.socket.io.engine.close();
  await until(r, (e) => e[0] === "disconnect", "the disconnect", from);
}

// Connects the same socket again (to the same node): {from, at} as connect().
export async function reconnect(r) {
  return connect(r, "the reconnect");
}

// A new client for `node` that presents the session of the client `from` (dropped from another
// node): {r, from, at} with the new recorder and connect()'s indexes.
//
// socket.io-client 4.8 puts {pid, offset} into its CONNECT from the socket's own `_pid` and
// `_lastOffset` (not from an option), and reports `recovered` only when the CONNECT reply's pid
// equals the `_pid` it held. Passing them as `auth` would put the same bytes on the wire but
// leave `recovered` false whatever the server did. So the new socket gets the two fields before
// it connects: what the old socket would have sent had its Manager been pointed at `node`.
export async function resume(node, from, { transport = from.transport, nsp = "/", pid = from.socket._pid, offset = from.socket._lastOffset } = {}) {
  const r = recording(node, { transport, nsp });
  r.socket._pid = pid;
  r.socket._lastOffset = offset;
  const at = await connect(r, `the return to ${node.nodeName ?? node.base}`);
  return { r, ...at };
}

// The log entries of event `name` in [from, to).
export const events = (r, from, to, name) => r.log.slice(from, to).filter((e) => e[0] === name);
