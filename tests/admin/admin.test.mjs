// chorus-server's Admin UI namespace, driven over the wire as @socket.io/admin-ui 0.5's UI
// drives it (its App.vue: io(url + "/admin", {auth: {username, password} | {sessionId}})):
// the login and its session, config, all_sockets, the live events, server_stats, the
// commands (emit, join, leave, _disconnect) and readonly mode.
import { test } from "node:test";
import assert from "node:assert/strict";
import { io, Manager } from "socket.io-client";
import { client, connected, once, ack, run, startServer } from "../cli/helpers.mjs";
import { eventually } from "../common/util.mjs";

// bcrypt hashes of "changeit" (cost 4): libxcrypt's $2b$, and the $2a$ that bcryptjs writes.
const HASH_2B = "$2b$04$Ol9.P2cvUKUqSrxDYbjKL.vDTV8lxEEU.pMFWU.1xQgBza4RGYOri";
const HASH_2A = "$2a$04$Ol9.P2cvUKUqSrxDYbjKL.vDTV8lxEEU.pMFWU.1xQgBza4RGYOri";

// An admin socket as the UI makes it; `seen` gathers every event it receives, in order.
function admin(srv, auth, opts = {}) {
  const socket = io(srv.url + "/admin", {
    forceNew: true,
    reconnection: false,
    autoConnect: false,
    withCredentials: true,
    auth,
    ...opts,
  });
  socket.seen = [];
  socket.onAny((event, ...args) => socket.seen.push([event, ...args]));
  return socket;
}

// The first event named `name` in `socket.seen` matching `pred` (waits for it).
async function seen(socket, name, pred = () => true, ms = 10_000) {
  let found;
  await eventually(() => {
    found = socket.seen.find(([event, ...args]) => event === name && pred(...args));
    assert.ok(found, `no ${name} yet; seen: ${socket.seen.map((e) => e[0]).join(", ")}`);
  }, ms);
  return found.slice(1);
}

test("the login: wrong or missing credentials are refused, the right ones give a session", async () => {
  const srv = await startServer(["--admin-auth", `admin:${HASH_2B}`]);
  try {
    for (const auth of [{ username: "admin", password: "wrong" }, { username: "other", password: "changeit" }, {}]) {
      const bad = admin(srv, auth);
      await assert.rejects(connected(bad), (err) => err.message === "invalid credentials");
      bad.close();
    }
    const ui = admin(srv, { username: "admin", password: "changeit" });
    // The UI listens for "session" once connected: it must come after the CONNECT reply.
    const session = new Promise((resolve) => ui.once("connect", () => ui.once("session", resolve)));
    await connected(ui);
    const id = await session;
    assert.match(id, /^[0-9a-f]{16}$/);
    const [config] = await seen(ui, "config");
    assert.deepEqual(config.supportedFeatures, [
      "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS",
    ]);
    await seen(ui, "all_sockets");
    ui.close();
    // A reconnect presents the session instead of the password.
    const again = admin(srv, { sessionId: id });
    await connected(again);
    again.close();
    const forged = admin(srv, { sessionId: "0123456789abcdef" });
    await assert.rejects(connected(forged), (err) => err.message === "invalid credentials");
    forged.close();
  } finally {
    await srv.stop();
  }
});

test("a $2a$ hash (bcryptjs) is accepted; a bad hash or a missing login mode refuses to start", async () => {
  const srv = await startServer(["--admin-auth", `admin:${HASH_2A}`]);
  try {
    const ui = admin(srv, { username: "admin", password: "changeit" });
    await connected(ui);
    ui.close();
  } finally {
    await srv.stop();
  }
  for (const args of [["--admin-auth", "admin:plaintext"], ["--admin-auth", "admin"], ["--admin-auth", `:${HASH_2B}`]]) {
    const r = await run(["--port", "0", ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /admin/);
  }
  // Without --admin-*, there is no /admin namespace.
  const plain = await startServer();
  try {
    const ui = admin(plain, {});
    await assert.rejects(connected(ui), (err) => err.message === "Invalid namespace");
    ui.close();
  } finally {
    await plain.stop();
  }
});

test("all_sockets, live events and server_stats", async () => {
  const srv = await startServer(["--admin-no-auth"]);
  const sockets = [];
  try {
    const early = client(srv, { query: { who: "early" } });
    sockets.push(early);
    await connected(early);
    const ui = admin(srv, {});
    sockets.push(ui);
    await connected(ui);
    const [all] = await seen(ui, "all_sockets");
    const mine = all.find((s) => s.id === early.id);
    assert.ok(mine, JSON.stringify(all));
    assert.equal(mine.nsp, "/");
    assert.equal(mine.clientId, early.io.engine.id.slice(0, 12));
    assert.ok(["polling", "websocket"].includes(mine.transport));
    assert.equal(mine.handshake.query.who, "early");
    assert.equal(mine.handshake.address, "127.0.0.1");
    assert.deepEqual(mine.rooms, [early.id]);
    assert.deepEqual(mine.data, {});
    assert.ok(all.some((s) => s.nsp === "/admin" && s.id === ui.id));

    // A polling client that upgrades: socket_connected, then socket_updated.
    const late = client(srv, { transports: ["polling", "websocket"] });
    sockets.push(late);
    await connected(late);
    const [conn, date] = await seen(ui, "socket_connected", (s) => s.id === late.id);
    assert.equal(conn.nsp, "/");
    assert.ok(!Number.isNaN(Date.parse(date)));
    await seen(ui, "socket_updated", (u) => u.id === late.id && u.transport === "websocket");

    assert.deepEqual(await ack(late, "join", "r1"), [true]);
    assert.deepEqual(await ack(early, "join", "r1"), [true]);
    await seen(ui, "room_joined", (nsp, room, id) => nsp === "/" && room === "r1" && id === late.id);
    await seen(ui, "event_received", (nsp, id, args) => id === late.id && args[0] === "join" && args[1] === "r1");
    const got = once(early, "news");
    late.emit("publish", "r1", "news", { n: 1 });
    await got;
    await seen(ui, "event_sent", (nsp, id, args) => id === early.id && args[0] === "news" && args[1].n === 1);
    assert.deepEqual(await ack(late, "leave", "r1"), [true]);
    await seen(ui, "room_left", (nsp, room, id) => room === "r1" && id === late.id);
    const lateId = late.id; // cleared by close()
    late.close();
    const [, , reason] = await seen(ui, "socket_disconnected", (nsp, id) => id === lateId);
    assert.ok(["client namespace disconnect", "transport close"].includes(reason), reason);

    // server_stats every 2 s, with the traffic counted by the metrics.
    const [stats] = await seen(ui, "server_stats", (s) => s.aggregatedEvents.some((e) => e.type === "packetsIn"), 15_000);
    assert.equal(typeof stats.serverId, "string");
    assert.equal(typeof stats.pid, "number");
    assert.ok(stats.clientsCount >= 2, JSON.stringify(stats));
    assert.ok(stats.namespaces.some((n) => n.name === "/" && n.socketsCount >= 1), JSON.stringify(stats));
    for (const e of stats.aggregatedEvents) {
      assert.equal(e.timestamp % 1000, 0);
      assert.ok(e.count > 0);
    }
  } finally {
    for (const s of sockets) s.close();
    await srv.stop();
  }
});

test("the commands: emit, join, leave and _disconnect, by socket id", async () => {
  const srv = await startServer(["--admin-auth", `admin:${HASH_2B}`]);
  const sockets = [];
  try {
    const target = client(srv);
    sockets.push(target);
    await connected(target);
    const ui = admin(srv, { username: "admin", password: "changeit" });
    sockets.push(ui);
    await connected(ui);
    await seen(ui, "all_sockets");
    const got = once(target, "hello");
    ui.emit("emit", "/", target.id, "hello", "world", 2);
    assert.deepEqual((await got).slice(0, 2), ["world", 2]); // then the recovery offset
    await seen(ui, "event_sent", (nsp, id, args) => id === target.id && args[0] === "hello");
    ui.emit("join", "/", "room-x", target.id);
    await seen(ui, "room_joined", (nsp, room, id) => room === "room-x" && id === target.id);
    const inRoom = once(target, "to-room");
    ui.emit("emit", "/", "room-x", "to-room");
    await inRoom;
    ui.emit("leave", "/", "room-x", target.id);
    await seen(ui, "room_left", (nsp, room, id) => room === "room-x" && id === target.id);
    // Commands naming a namespace that does not exist create nothing and do nothing.
    ui.emit("emit", "/nowhere", null, "x");
    ui.emit("join", 42, "r");
    const gone = once(target, "disconnect");
    const targetId = target.id;
    ui.emit("_disconnect", "/", false, targetId);
    assert.equal((await gone)[0], "io server disconnect");
    await seen(ui, "socket_disconnected", (nsp, id, reason) => id === targetId && reason === "server namespace disconnect");
  } finally {
    for (const s of sockets) s.close();
    await srv.stop();
  }
});

test("--admin-readonly offers no command and ignores those sent anyway", async () => {
  const srv = await startServer(["--admin-auth", `admin:${HASH_2B}`, "--admin-readonly"]);
  const manager = new Manager(srv.url, { forceNew: true, reconnection: false, autoConnect: false });
  try {
    // The UI's socket and a plain one on the same connection: the plain socket's ack comes
    // after anything a command would have queued to it.
    const ui = manager.socket("/admin", { auth: { username: "admin", password: "changeit" } });
    ui.seen = [];
    ui.onAny((event, ...args) => ui.seen.push([event, ...args]));
    const plain = manager.socket("/");
    const received = [];
    plain.onAny((event) => received.push(event));
    manager.open();
    await connected(ui);
    await connected(plain);
    const [config] = await seen(ui, "config");
    assert.deepEqual(config.supportedFeatures, ["AGGREGATED_EVENTS", "ALL_EVENTS"]);
    ui.emit("emit", "/", plain.id, "hello");
    ui.emit("join", "/", "room-y", plain.id);
    ui.emit("_disconnect", "/", true, plain.id);
    assert.deepEqual(await ack(plain, "join", "after"), [true]);
    assert.deepEqual(received, []);
    assert.ok(plain.connected);
    await seen(ui, "room_joined", (nsp, room, id) => room === "after" && id === plain.id);
    assert.ok(!ui.seen.some(([event, nsp, room]) => event === "room_joined" && room === "room-y"));
  } finally {
    manager.engine?.close();
    await srv.stop();
  }
});

// A slower hash (cost 12, ~0.25 s a check) keeps the login thread busy while other logins wait.
const HASH_SLOW = "$2b$12$aRMiP2STxE.PfaOiQfA.2OQxw8xqGPeLcILM2pMMuX2a7S.43Yoj2";

test("--admin-max-sessions 2: at the limit both sessions log in again; past it the oldest is forgotten", async () => {
  const srv = await startServer(["--admin-auth", `admin:${HASH_2B}`, "--admin-max-sessions", "2"]);
  try {
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const ui = admin(srv, { username: "admin", password: "changeit" });
      const session = new Promise((resolve) => ui.once("connect", () => ui.once("session", resolve)));
      await connected(ui);
      ids.push(await session);
      ui.close();
      if (i === 1) {
        for (const id of ids) {
          const back = admin(srv, { sessionId: id });
          await connected(back);
          back.close();
        }
      }
    }
    const oldest = admin(srv, { sessionId: ids[0] });
    await assert.rejects(connected(oldest), (err) => err.message === "invalid credentials");
    oldest.close();
    for (const id of ids.slice(1)) {
      const back = admin(srv, { sessionId: id });
      await connected(back);
      back.close();
    }
  } finally {
    await srv.stop();
  }
});

test("--admin-max-pending-logins 1: one at a time logs in; logins waiting past it are refused", async () => {
  const srv = await startServer(["--admin-auth", `admin:${HASH_SLOW}`, "--admin-max-pending-logins", "1"]);
  try {
    const one = admin(srv, { username: "admin", password: "changeit" });
    await connected(one); // at the limit
    one.close();
    // Six at once: the login thread checks one, one waits, the others are refused.
    const many = Array.from({ length: 6 }, () => admin(srv, { username: "admin", password: "changeit" }));
    const outcomes = await Promise.allSettled(many.map((s) => connected(s)));
    many.forEach((s) => s.close());
    const refused = outcomes.filter((o) => o.status === "rejected");
    for (const r of refused) assert.equal(r.reason.message, "too many login attempts");
    assert.ok(refused.length >= 1, "some logins refused");
    assert.ok(refused.length <= 5, "the first one is checked");
  } finally {
    await srv.stop();
  }
});
