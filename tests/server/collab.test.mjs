// The collaboration service over the wire: the official socket.io-client against
// chorus-collab-app (env CHORUS_COLLAB_APP), a real SQLite file, restarts of the process.
// Updates are written by hand in the update encoding (core/include/chorus/collab/doc.h):
// one client, one run of text, origins "document start" or "the client's previous clock".
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { startApp } from "./collab_app.mjs";


const dir = mkdtempSync(join(tmpdir(), "chorus-collab-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let dbCount = 0;
const freshDb = () => join(dir, `docs-${++dbCount}.db`);


function varuint(n, out) {
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
}

// One run of `text` by `client` starting at `clock`, right after the client's previous
// character (or at the document start when clock is 0).
function update(client, clock, text) {
  const bytes = [...Buffer.from(text, "utf8")];
  const out = [1];
  varuint(1, out);  // client table
  varuint(client, out);
  varuint(1, out);  // blocks
  varuint(0, out);
  varuint(clock, out);
  varuint(1, out);  // items
  out.push(clock === 0 ? 0x00 : 0x01);  // left origin: start / previous clock; right: end
  varuint(bytes.length, out);
  out.push(...bytes);
  varuint(0, out);  // delete set
  return Buffer.from(out);
}

const join_ = (s, name) => s.emitWithAck("doc:join", name);
const send = (s, name, u) => s.emitWithAck("doc:update", name, u);

async function eventually(check, what, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("collaboration service", () => {
  test("updates waiting for a gap at compaction survive kill -9 (1,000 fillers)", async () => {
    const db = freshDb();
    let app = await startApp(["--db", db]);
    try {
      const s = await app.connect();
      assert.equal((await join_(s, "gap")).ok, true);
      assert.deepEqual(await send(s, "gap", update(50, 0, "abc")), { ok: true, waiting: 0 });
      const pending = await send(s, "gap", update(50, 5, "XYZ"));  // waits for clocks 3-4
      assert.equal(pending.ok, true);
      assert.ok(pending.waiting > 0, "the server says the update waits");
      for (let i = 0; i < 1000; i++) {  // compaction runs at the 1,000th append
        assert.equal((await send(s, "gap", update(60, i, "f"))).ok, true);
      }
      assert.deepEqual(await send(s, "gap", update(50, 3, "de")), { ok: true, waiting: 0 });
      assert.match((await app.get("/api/docs/gap/text")).text, /abcdeXYZ/);
      await app.stop("SIGKILL");
      app = await startApp(["--db", db]);
      const { text } = await app.get("/api/docs/gap/text");
      assert.match(text, /abcdeXYZ/, "an acknowledged update was lost");
      assert.equal(text.length, 8 + 1000);
    } finally {
      await app.stop();
    }
  });

  test("documents per connection: at the limit, past it, and freed by a leave", async () => {
    const app = await startApp(["--db", freshDb(), "--max-documents", "3"]);
    try {
      const s = await app.connect();
      for (const name of ["d1", "d2", "d3"]) assert.equal((await join_(s, name)).ok, true, name);
      assert.equal((await join_(s, "d1")).ok, true, "joining an open document again costs nothing");
      const refused = await join_(s, "d4");
      assert.equal(refused.ok, false);
      assert.match(refused.error, /at most 3 documents open per connection/);
      assert.equal((await send(s, "d4", update(1, 0, "x"))).ok, false, "the refused join opened nothing");
      const other = await app.connect();
      assert.equal((await join_(other, "d4")).ok, true, "the limit is per connection");
      assert.equal(await s.emitWithAck("doc:leave", "d2"), true);
      assert.equal((await join_(s, "d4")).ok, true);
    } finally {
      await app.stop();
    }
  });

  test("pending bytes per connection: at the limit, past it, released when the gap fills", async () => {
    const limit = 2000;
    const app = await startApp(["--db", freshDb(), "--max-pending-connection", String(limit)]);
    try {
      const s = await app.connect();
      await join_(s, "p");
      const first = await send(s, "p", update(70, 10, "x".repeat(100)));  // waits for 0-9
      assert.equal(first.ok, true);
      const overhead = first.waiting - 100;  // what the server counts per waiting item
      assert.ok(overhead > 0 && overhead < 1000, `overhead ${overhead}`);
      const fill = limit - first.waiting - overhead;
      const atLimit = await send(s, "p", update(70, 500, "y".repeat(fill)));  // ids from the future
      assert.deepEqual(atLimit, { ok: true, waiting: limit });
      const past = await send(s, "p", update(71, 5, "z"));
      assert.equal(past.ok, false);
      assert.match(past.error, new RegExp(`this connection would have more than ${limit} bytes`));
      // Another connection has its own budget.
      const other = await app.connect();
      await join_(other, "p2");
      assert.equal((await send(other, "p2", update(72, 5, "w"))).ok, true);
      // Filling the gap integrates the first one: its bytes are released.
      const filled = await send(s, "p", update(70, 0, "0123456789"));
      assert.deepEqual(filled, { ok: true, waiting: limit - first.waiting });
      assert.equal((await app.get("/api/docs/p/text")).text, "0123456789" + "x".repeat(100));
      assert.equal((await send(s, "p", update(71, 5, "z"))).ok, true);
    } finally {
      await app.stop();
    }
  });

  test("pending bytes per document: at the limit and past it, across connections", async () => {
    const db = freshDb();
    let app = await startApp(["--db", db]);
    let overhead;
    try {  // learn what one waiting item costs
      const s = await app.connect();
      await join_(s, "probe");
      overhead = (await send(s, "probe", update(80, 3, "abc"))).waiting - 3;
    } finally {
      await app.stop();
    }
    const limit = 3000;
    app = await startApp(["--db", db, "--max-pending-document", String(limit)]);
    try {
      const [a, b] = [await app.connect(), await app.connect()];
      await join_(a, "q");
      await join_(b, "q");
      assert.deepEqual(await send(a, "q", update(81, 1, "a".repeat(1000))), { ok: true, waiting: 1000 + overhead });
      const rest = limit - (1000 + overhead) - overhead;
      assert.deepEqual(await send(b, "q", update(82, 1, "b".repeat(rest))), { ok: true, waiting: rest + overhead });
      const past = await send(a, "q", update(83, 1, "c"));
      assert.equal(past.ok, false);
      assert.match(past.error, new RegExp(`document q would hold more than ${limit} bytes`));
      const alsoPast = await send(b, "q", update(83, 1, "c"));
      assert.equal(alsoPast.ok, false);
      // In-order updates never wait: always accepted.
      assert.deepEqual(await send(a, "q", update(84, 0, "fine")), { ok: true, waiting: 1000 + overhead });
      assert.equal((await app.get("/api/docs/q/text")).text, "fine");
    } finally {
      await app.stop();
    }
  });

  test("awareness state size: at the limit, past it (ack or doc:error)", async () => {
    const app = await startApp(["--db", freshDb(), "--max-awareness", "100"]);
    try {
      const [a, b] = [await app.connect(), await app.connect()];
      await join_(a, "w");
      await join_(b, "w");
      const state = (n) => ({ user: "x".repeat(n - JSON.stringify({ user: "" }).length) });
      assert.equal(JSON.stringify(state(100)).length, 100);
      const seen = new Promise((resolve) => b.on("awareness", (name, id, st) => resolve([name, id, st])));
      assert.deepEqual(await a.emitWithAck("awareness", "w", state(100)), { ok: true });
      assert.deepEqual(await seen, ["w", a.id, state(100)]);
      const refused = await a.emitWithAck("awareness", "w", state(101));
      assert.equal(refused.ok, false);
      assert.match(refused.error, /awareness state larger than 100 bytes/);
      const error = new Promise((resolve) => a.once("doc:error", (...args) => resolve(args)));
      a.emit("awareness", "w", state(5000));
      const [name, message] = await error;
      assert.equal(name, "w");
      assert.match(message, /larger than 100 bytes/);
      // The refused states reached nobody and replaced nothing.
      const c = await app.connect();
      const joined = await join_(c, "w");
      assert.deepEqual(joined.awareness.map((p) => p.state), [state(100)]);
    } finally {
      await app.stop();
    }
  });

  test("an idle document leaves memory, one in use stays, and comes back intact", async () => {
    const app = await startApp(["--db", freshDb(), "--idle-unload-ms", "50", "--compact-every", "3"]);
    try {
      const s = await app.connect();
      await join_(s, "kept");
      await join_(s, "idle");
      let clock = 0;
      for (const piece of ["one ", "two ", "three ", "four"]) {
        assert.equal((await send(s, "idle", update(90, clock, piece))).ok, true);
        clock += piece.length;
      }
      assert.equal((await send(s, "idle", update(90, 100, "later"))).ok, true);  // waits
      assert.equal((await send(s, "kept", update(91, 0, "in use"))).ok, true);
      assert.equal((await app.get("/api/docs")).loaded, 2);
      await s.emitWithAck("doc:leave", "idle");
      // "kept" was idle for longer than "idle" but has a user: only "idle" goes.
      await eventually(async () => (await app.get("/api/docs")).loaded === 1, "the idle document to unload");
      const again = await app.connect();
      const reply = await join_(again, "idle");
      assert.equal(reply.ok, true);
      assert.ok(reply.update.length > 0);
      assert.equal((await app.get("/api/docs")).loaded, 2);
      assert.equal((await app.get("/api/docs/idle/text")).text, "one two three four");
      // What waited is still waiting after the reload: filling the gap shows it.
      assert.equal((await send(again, "idle", update(90, clock, "x".repeat(100 - clock)))).ok, true);
      assert.equal((await app.get("/api/docs/idle/text")).text, "one two three four" + "x".repeat(100 - clock) + "later");
    } finally {
      await app.stop();
    }
  });
  // Connection state recovery: a drop the client comes back from is invisible to the others.
  async function droppedAndBack(app, a) {
    const id = a.id;
    const gone = new Promise((resolve) => a.once("disconnect", resolve));
    a.io.engine.close();  // the transport goes away as in a network drop; the session is kept
    await gone;
    return async () => {
      const back = new Promise((resolve, reject) => {
        a.once("connect", resolve);
        a.once("connect_error", reject);
      });
      a.connect();
      await back;
      assert.equal(a.recovered, true, "the session was recovered");
      assert.equal(a.id, id);
    };
  }

  test("a socket back within its grace never left: no awareness cleared, no rejoin needed", async () => {
    const app = await startApp(["--db", freshDb(), "--recovery-ms", "60000", "--leave-grace-ms", "60000"]);
    try {
      const [a, b] = [await app.connect(), await app.connect()];
      await join_(a, "r");
      await join_(b, "r");
      const seen = [];
      b.on("awareness", (name, id, state) => seen.push([id, state]));
      assert.deepEqual(await a.emitWithAck("awareness", "r", { user: "A" }), { ok: true });
      await eventually(() => seen.length === 1, "B to see A's awareness");
      const aid = a.id;
      const missed = [];
      a.on("doc:update", (name, u) => missed.push(Buffer.from(u).toString("hex")));
      const comeBack = await droppedAndBack(app, a);
      const fromB = update(2, 0, "typed while A was away");
      assert.equal((await send(b, "r", fromB)).ok, true);
      await comeBack();
      await eventually(() => missed.length === 1, "the missed update to be replayed");
      assert.equal(missed[0], fromB.toString("hex"));
      // Still joined on the server: an update without doc:join is taken and relayed.
      const fromA = new Promise((resolve) => b.once("doc:update", resolve));
      assert.equal((await send(a, "r", update(1, 0, "A again"))).ok, true);
      await fromA;
      assert.deepEqual(seen, [[aid, { user: "A" }]], "B saw A neither leave nor come back");
      const c = await app.connect();
      assert.deepEqual((await join_(c, "r")).awareness, [{ id: aid, state: { user: "A" } }]);
      // An explicit disconnect is a leave at once, grace or not.
      a.disconnect();
      await eventually(() => seen.length === 2, "B to see A leave");
      assert.deepEqual(seen[1], [aid, null]);
      assert.match((await app.get("/api/docs/r/text")).text, /A again/);
    } finally {
      await app.stop();
    }
  });

  test("a grace that runs out is a leave; a later recovery is subscribed again, silently", async () => {
    const app = await startApp(["--db", freshDb(), "--recovery-ms", "60000", "--leave-grace-ms", "100"]);
    try {
      const [a, b] = [await app.connect(), await app.connect()];
      await join_(a, "g");
      await join_(b, "g");
      const seen = [];
      b.on("awareness", (name, id, state) => seen.push([id, state]));
      assert.deepEqual(await a.emitWithAck("awareness", "g", { user: "A" }), { ok: true });
      await eventually(() => seen.length === 1, "B to see A's awareness");
      const aid = a.id;
      const missed = [];
      a.on("doc:update", (name, u) => missed.push(Buffer.from(u).toString("hex")));
      const comeBack = await droppedAndBack(app, a);
      await eventually(() => seen.length === 2, "B to see A leave when the grace ends");
      assert.deepEqual(seen[1], [aid, null]);
      const fromB = update(2, 0, "typed after the grace");
      assert.equal((await send(b, "g", fromB)).ok, true);
      await comeBack();
      await eventually(() => missed.length === 1, "the missed update to be replayed");
      assert.equal(missed[0], fromB.toString("hex"));
      assert.equal((await send(a, "g", update(1, 0, "back"))).ok, true, "subscribed again without doc:join");
      assert.deepEqual(await a.emitWithAck("awareness", "g", { user: "A" }), { ok: true });
      await eventually(() => seen.length === 3, "B to see A again");
      assert.deepEqual(seen[2], [aid, { user: "A" }]);
    } finally {
      await app.stop();
    }
  });

  test("the grace is at most the recovery window, and none without recovery", async () => {
    for (const args of [["--recovery-ms", "100", "--leave-grace-ms", "600000"], ["--leave-grace-ms", "600000"]]) {
      const app = await startApp(["--db", freshDb(), ...args]);
      try {
        const [a, b] = [await app.connect(), await app.connect()];
        await join_(a, "w");
        await join_(b, "w");
        const seen = [];
        b.on("awareness", (name, id, state) => seen.push([id, state]));
        assert.deepEqual(await a.emitWithAck("awareness", "w", { user: "A" }), { ok: true });
        await eventually(() => seen.length === 1, "B to see A's awareness");
        const aid = a.id;
        a.io.engine.close();
        await eventually(() => seen.length === 2, `B to see A leave (${args.join(" ")})`);
        assert.deepEqual(seen[1], [aid, null]);
      } finally {
        await app.stop();
      }
    }
  });
});
