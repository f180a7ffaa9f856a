// The game's namespace (/game on chorus-server, GameService) driven with the official
// socket.io-client: join, inputs moving players, snapshots decoded with the page's decoder,
// leaving, bots, every limit at and past it, and bad input (refused with a clear error,
// nobody else disturbed).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { io } from "socket.io-client";
import { decodeSnapshot, HEADER_BYTES, ITEM_BYTES, PLAYER_BYTES } from "../../demo/game/snapshot.js";
import { startProcess } from "../common/process.mjs";
import { sleep, withTimeout } from "../common/util.mjs";

const servers = [];
const sockets = [];

async function start(extra = []) {
  const bin = process.env.CHORUS_SERVER;
  if (!bin) throw new Error("set CHORUS_SERVER to the chorus-server binary");
  const srv = await startProcess(bin, ["--host", "127.0.0.1", "--port", "0", "--docs-db", "", "--log-level", "warn",
    ...extra], { name: "chorus-server", timeoutMs: 30_000 });
  srv.url = `http://127.0.0.1:${srv.port}`;
  servers.push(srv);
  return srv;
}

// A connected socket on /game that keeps the latest decoded snapshot, and waits for one that
// passes a test.
async function connect(srv) {
  const socket = io(`${srv.url}/game`, { transports: ["websocket"], reconnection: false, forceNew: true });
  sockets.push(socket);
  socket.snapshots = 0;
  socket.waiters = [];
  socket.rosters = [];
  socket.on("s", (buf) => {
    socket.raw = buf;
    socket.latest = decodeSnapshot(buf);
    ++socket.snapshots;
    socket.waiters = socket.waiters.filter((w) => !w(socket.latest));
  });
  socket.on("roster", (list) => socket.rosters.push(list));
  await withTimeout(new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }), 10_000, "connect to /game");
  return socket;
}

// Resolves with the first snapshot for which pred(snapshot) is true (within ms).
function until(socket, pred, ms = 10_000, what = "a matching snapshot") {
  if (socket.latest && pred(socket.latest)) return Promise.resolve(socket.latest);
  return withTimeout(new Promise((resolve) => {
    socket.waiters.push((s) => {
      if (!pred(s)) return false;
      resolve(s);
      return true;
    });
  }), ms, what);
}

const ack = (socket, event, ...args) => withTimeout(socket.emitWithAck(event, ...args), 10_000, `${event} ack`);
const me = (snap, id) => snap.players.find((p) => p.id === id);

after(async () => {
  for (const s of sockets) s.disconnect();
  for (const srv of servers) {
    const { code } = await srv.stop();
    assert.equal(code, 0, `chorus-server exit code\n${srv.stderr}`);
    assert.doesNotMatch(srv.stderr, /runtime error|AddressSanitizer|LeakSanitizer/);
  }
});

describe("game protocol", () => {
  let srv;
  before(async () => {
    srv = await start();
  });

  test("join answers the id, room, tick rate and arena; snapshots decode and hold the player", async () => {
    const a = await connect(srv);
    const r = await ack(a, "join", { name: "Ada", room: "r1" });
    assert.equal(r.ok, true, r.error);
    assert.equal(r.room, "r1");
    assert.equal(r.tickRate, 30);
    assert.deepEqual(r.arena, { width: 1200, height: 800 });
    assert.deepEqual(r.players, [[r.id, "Ada"]]);
    const first = await until(a, (s) => me(s, r.id) !== undefined);
    assert.equal(first.items.length, 16);
    assert.equal(a.raw.byteLength, HEADER_BYTES + first.players.length * PLAYER_BYTES + first.items.length * ITEM_BYTES);
    const later = await until(a, (s) => s.tick >= first.tick + 3);
    assert.ok(later.tick > first.tick);
    // The server's clock in the snapshot is this machine's clock (mod 2^32).
    const skew = ((Date.now() % 2 ** 32) - later.timeMs + 2 ** 32) % 2 ** 32;
    assert.ok(skew < 10_000, `snapshot time ${skew} ms behind`);
    // Leaving by "leave": no more snapshots of r1 to it, and a new join works.
    assert.deepEqual(await ack(a, "leave"), { ok: true });
    const again = await ack(a, "join", { name: "Ada", room: "r1b" });
    assert.equal(again.ok, true);
    a.disconnect();
  });

  test("inputs move the player; a stale sequence number is ignored", async () => {
    const a = await connect(srv);
    const { id } = await ack(a, "join", { name: "Mover", room: "move" });
    const start = me(await until(a, (s) => me(s, id)), id);
    const goRight = start.x < 600;
    assert.deepEqual(await ack(a, "input", { seq: 1, dx: goRight ? 1 : -1, dy: 0 }), { ok: true });
    const moved = await until(a, (s) => Math.abs(me(s, id).x - start.x) > 60, 10_000, "the player to move");
    assert.equal(Math.sign(me(moved, id).x - start.x), goRight ? 1 : -1);
    assert.ok(Math.abs(me(moved, id).y - start.y) < 1, "dy 0 keeps y");
    // Stop with seq 2; a late seq 1 must not start it again.
    assert.deepEqual(await ack(a, "input", { seq: 2, dx: 0, dy: 0 }), { ok: true });
    assert.deepEqual(await ack(a, "input", { seq: 1, dx: 1, dy: 1 }), { ok: true, stale: true });
    const t = a.latest.tick;
    const s1 = await until(a, (s) => s.tick >= t + 2);
    const s2 = await until(a, (s) => s.tick >= s1.tick + 5);
    assert.deepEqual([me(s2, id).x, me(s2, id).y], [me(s1, id).x, me(s1, id).y], "stopped");
    a.disconnect();
  });

  test("two players see each other; one that disconnects is gone from the other's snapshots", async () => {
    const a = await connect(srv);
    const b = await connect(srv);
    const ra = await ack(a, "join", { name: "Ann", room: "duo" });
    const rosterSeen = new Promise((resolve) => a.once("roster", resolve));
    const rb = await ack(b, "join", { name: "Ben", room: "duo" });
    assert.deepEqual(rb.players, [[ra.id, "Ann"], [rb.id, "Ben"]]);
    assert.deepEqual(await withTimeout(rosterSeen, 10_000, "roster"), [[ra.id, "Ann"], [rb.id, "Ben"]]);
    const both = (s) => me(s, ra.id) && me(s, rb.id);
    await Promise.all([until(a, both), until(b, both)]);
    // The latency a client reports with its ping shows in everyone's snapshots.
    const pong = await ack(b, "ping", { rtt: 42 });
    assert.ok(Math.abs(pong.t - Date.now()) < 10_000);
    await until(a, (s) => me(s, rb.id)?.latency === 42, 10_000, "Ben's latency");
    const gone = Date.now();
    b.disconnect();
    await until(a, (s) => !me(s, rb.id), 2_000, "Ben gone within 2 s");
    assert.ok(Date.now() - gone < 2_000);
    a.disconnect();
  });

  test("bad input gets a clear error in the ack, or is ignored; the others go on", async () => {
    const watcher = await connect(srv);
    const w = await ack(watcher, "join", { name: "Watcher", room: "bad" });
    const bad = await connect(srv);
    // Before joining.
    assert.match((await ack(bad, "input", { seq: 1, dx: 0, dy: 0 })).error, /join a room first/);
    for (const [args, error] of [
      [[], /expected \{name, room\}/],
      [["Ada"], /expected \{name, room\}/],
      [[{ room: "bad" }], /name must be 1 to 24 bytes/],
      [[{ name: 7, room: "bad" }], /name must be 1 to 24 bytes/],
      [[{ name: "", room: "bad" }], /name must be 1 to 24 bytes/],
      [[{ name: "a\u0007b", room: "bad" }], /without control characters/],
      [[{ name: "Eve", room: "../x" }], /room must be 1 to 32 bytes of \[A-Za-z0-9._-\]/],
      [[{ name: "Eve", room: 5 }], /room must be/],
      [[{ name: "Eve", room: "" }], /room must be/],
    ]) {
      const r = await ack(bad, "join", ...args);
      assert.equal(r.ok, false, JSON.stringify(args));
      assert.match(r.error, error, JSON.stringify(args));
    }
    const rb = await ack(bad, "join", { name: "Eve", room: "bad" });
    assert.equal(rb.ok, true);
    assert.match((await ack(bad, "join", { name: "Eve", room: "other" })).error, /already in room bad/);
    for (const [args, error] of [
      [[], /expected \{seq, dx, dy\}/],
      [["up"], /expected \{seq, dx, dy\}/],
      [[{ dx: 0, dy: 0 }], /seq must be a non-negative integer/],
      [[{ seq: -1, dx: 0, dy: 0 }], /seq must be a non-negative integer/],
      [[{ seq: 1.5, dx: 0, dy: 0 }], /seq must be a non-negative integer/],
      [[{ seq: 2 ** 53, dx: 0, dy: 0 }], /seq must be a non-negative integer/],
      [[{ seq: 1, dx: 2, dy: 0 }], /dx and dy must be numbers in \[-1, 1\]/],
      [[{ seq: 1, dx: "1", dy: 0 }], /dx and dy must be numbers/],
      [[{ seq: 1, dx: 0 }], /dx and dy must be numbers/],
      [[{ seq: 1, dx: 0, dy: null }], /dx and dy must be numbers/],
    ]) {
      const r = await ack(bad, "input", ...args);
      assert.equal(r.ok, false, JSON.stringify(args));
      assert.match(r.error, error, JSON.stringify(args));
    }
    // Without an ack: ignored. Unknown events and odd ping payloads: ignored.
    bad.emit("input", { seq: 1, dx: 9, dy: 9 });
    bad.emit("input", "garbage");
    bad.emit("nonsense", 1, 2, 3);
    assert.ok(typeof (await ack(bad, "ping", "not an object")).t === "number");
    assert.ok(typeof (await ack(bad, "ping", { rtt: -5 })).t === "number");
    // A refused input changed nothing: Eve has not moved; the watcher still gets snapshots.
    const s0 = await until(watcher, (s) => me(s, rb.id));
    const s1 = await until(watcher, (s) => s.tick >= s0.tick + 5);
    assert.deepEqual([me(s1, rb.id).x, me(s1, rb.id).y], [me(s0, rb.id).x, me(s0, rb.id).y]);
    assert.ok(me(s1, w.id));
    assert.ok(bad.connected && watcher.connected);
    bad.disconnect();
    watcher.disconnect();
  });

  test("a name of 24 bytes is taken, 25 bytes refused; a room name of 32 bytes taken, 33 refused", async () => {
    const a = await connect(srv);
    const name24 = "é".repeat(12); // 24 bytes of UTF-8
    assert.match((await ack(a, "join", { name: name24 + "x", room: "names" })).error, /max_name_bytes/);
    assert.match((await ack(a, "join", { name: "Ok", room: "r".repeat(33) })).error, /max_room_name_bytes/);
    const r32 = await ack(a, "join", { name: "Ok", room: "r".repeat(32) });
    assert.equal(r32.ok, true, r32.error);
    await ack(a, "leave");
    const r = await ack(a, "join", { name: name24, room: "names" });
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(r.players, [[r.id, name24]]);
    a.disconnect();
  });
});

describe("game limits", () => {
  let srv;
  before(async () => {
    srv = await start(["--game-max-players", "2", "--game-max-rooms", "2", "--game-max-inputs-per-second", "5"]);
  });

  test("players per room: 2 join, the third is refused; the two play on", async () => {
    const [a, b, c] = await Promise.all([connect(srv), connect(srv), connect(srv)]);
    const ra = await ack(a, "join", { name: "A", room: "full" });
    const rb = await ack(b, "join", { name: "B", room: "full" });
    assert.equal(ra.ok && rb.ok, true);
    const rc = await ack(c, "join", { name: "C", room: "full" });
    assert.equal(rc.ok, false);
    assert.match(rc.error, /room full is full \(2 players, max_players_per_room\)/);
    const s = await until(a, (x) => me(x, ra.id) && me(x, rb.id));
    assert.equal(s.players.length, 2);
    // When one leaves, the third gets in.
    b.disconnect();
    await until(a, (x) => !me(x, rb.id), 5_000, "B gone");
    const again = await ack(c, "join", { name: "C", room: "full" });
    assert.equal(again.ok, true, again.error);
    a.disconnect();
    c.disconnect();
  });

  test("rooms: 2 at once, a third is refused until one closes", async () => {
    const [a, b, c] = await Promise.all([connect(srv), connect(srv), connect(srv)]);
    assert.equal((await ack(a, "join", { name: "A", room: "one" })).ok, true);
    assert.equal((await ack(b, "join", { name: "B", room: "two" })).ok, true);
    const refused = await ack(c, "join", { name: "C", room: "three" });
    assert.equal(refused.ok, false);
    assert.match(refused.error, /2 rooms already, the most it holds \(max_rooms\)/);
    // Joining an existing room is still fine.
    const inTwo = await ack(c, "join", { name: "C", room: "two" });
    assert.equal(inTwo.ok, true, inTwo.error);
    await ack(c, "leave");
    // Room "one" closes when its last player leaves.
    await ack(a, "leave");
    const now = await ack(c, "join", { name: "C", room: "three" });
    assert.equal(now.ok, true, now.error);
    for (const s of [a, b, c]) s.disconnect();
  });

  test("inputs per second: a burst gets the first 5 through and refuses the rest", async () => {
    const a = await connect(srv);
    const { id } = await ack(a, "join", { name: "Fast", room: "rate" });
    await until(a, (s) => me(s, id));
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      ack(a, "input", { seq: i + 1, dx: 0.5, dy: 0 })));
    const elapsed = (Date.now() - started) / 1000;
    const ok = replies.filter((r) => r.ok).length;
    // The bucket holds 5 and refills 5 per second: the first 5 pass; at most 5 more per
    // second the burst took (plus one) can.
    assert.deepEqual(replies.slice(0, 5).map((r) => r.ok), [true, true, true, true, true]);
    assert.ok(ok <= 5 + Math.ceil(elapsed * 5) + 1, `${ok} accepted in ${elapsed} s`);
    const refused = replies.filter((r) => !r.ok);
    assert.ok(refused.length > 0 || elapsed > 2.5, `nothing refused (${elapsed} s)`);
    for (const r of refused) assert.match(r.error, /more than 5 inputs per second \(max_inputs_per_second\)/);
    // The player still plays: an input after the bucket refills is taken.
    await sleep(1_100);
    assert.deepEqual(await ack(a, "input", { seq: 100, dx: 0, dy: 0 }), { ok: true });
    a.disconnect();
  });
});

describe("game bots and options", () => {
  test("--game-bots fills a new room; they move and score; a person takes a bot's place in a full room", async () => {
    const srv = await start(["--game-bots", "3", "--game-max-players", "4"]);
    const a = await connect(srv);
    const r = await ack(a, "join", { name: "Human", room: "bots" });
    assert.equal(r.ok, true);
    assert.deepEqual(r.players.map(([, n]) => n), ["bot-1", "bot-2", "bot-3", "Human"]);
    const s0 = await until(a, (s) => s.players.length === 4);
    const s1 = await until(a, (s) => s.tick >= s0.tick + 15);
    const botIds = r.players.filter(([, n]) => n.startsWith("bot-")).map(([i]) => i);
    assert.ok(botIds.some((i) => me(s0, i).x !== me(s1, i).x || me(s0, i).y !== me(s1, i).y), "bots move");
    await until(a, (s) => botIds.some((i) => me(s, i).score > 0), 60_000, "a bot to score");
    // The room is full (3 bots + 1): a second person replaces a bot.
    const b = await connect(srv);
    const rb = await ack(b, "join", { name: "Second", room: "bots" });
    assert.equal(rb.ok, true, rb.error);
    assert.equal(rb.players.length, 4);
    assert.equal(rb.players.filter(([, n]) => n.startsWith("bot-")).length, 2);
    a.disconnect();
    b.disconnect();
  });

  test("--no-game: /game is not served", async () => {
    const srv = await start(["--no-game"]);
    const socket = io(`${srv.url}/game`, { transports: ["websocket"], reconnection: false, forceNew: true });
    sockets.push(socket);
    const err = await withTimeout(new Promise((resolve) => socket.once("connect_error", resolve)), 10_000,
      "connect_error");
    assert.match(err.message, /Invalid namespace/);
  });
});
