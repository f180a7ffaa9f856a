// Epochs of the collaboration service over the wire (collab_service.h, collab/epoch.h): the
// official socket.io-client and the shipped CRDT module (chorus_collab.mjs) against
// chorus-collab-app with a real SQLite file. A document whose deletions outnumber its text
// starts a new epoch when it leaves memory; a replica of the old epoch that edited offline is
// refused, carries its edits over (doc:carry), joins afresh and converges with the others;
// everything survives a restart; bad and stale requests get clear errors.
// Env: CHORUS_COLLAB_APP (the app), CHORUS_WASM_DIR (the wasm build tree).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, describe, test } from "node:test";
import { startApp as startCollabApp } from "./collab_app.mjs";

const WASM = process.env.CHORUS_WASM_DIR;
if (!WASM) throw new Error("set CHORUS_WASM_DIR to the wasm build tree");
const { Doc } = await import(pathToFileURL(join(WASM, "wasm", "chorus_collab.mjs")).href);

const dir = mkdtempSync(join(tmpdir(), "chorus-epoch-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const IDLE_MS = 300;
const MIN_DELETED = 20;

function startApp(db) {
  return startCollabApp(["--db", db, "--idle-unload-ms", String(IDLE_MS), "--epoch-min-deleted", String(MIN_DELETED)]);
}

const bytes = (b) => new Uint8Array(b);

// A replica as the editor keeps one: its Doc and the epoch it belongs to.
async function joinDoc(socket, name, replica) {
  const sv = replica && replica.synced ? replica.doc.stateVector() : undefined;
  const ack = await socket.emitWithAck("doc:join", name, sv, replica ? replica.epoch : undefined);
  if (ack.ok && replica) {
    replica.doc.applyUpdate(bytes(ack.update));
    replica.epoch = ack.epoch;
    replica.synced = true;
  }
  return ack;
}

async function send(socket, name, replica) {
  return socket.emitWithAck("doc:update", name, replica.doc.takeUpdate(), replica.epoch);
}

// Waits until the document has left memory (and so had its chance to start an epoch).
async function waitUnloaded(app) {
  const deadline = Date.now() + 10_000;
  while ((await app.get("/api/docs")).loaded > 0) {
    if (Date.now() > deadline) throw new Error("the document never left memory");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("collaboration epochs", () => {
  test("an old-epoch replica's offline edits are carried over; all converge, also after a restart", async () => {
    const db = join(dir, "carry.db");
    let app = await startApp(db);
    const a = { doc: new Doc({ clientId: 11 }), epoch: 0 };
    const s1 = await app.connect();
    assert.equal((await joinDoc(s1, "paper", a)).epoch, 0);
    a.doc.insert(0, "The quick brown fox jumps over the lazy dog. ".repeat(3));
    assert.equal((await send(s1, "paper", a)).ok, true);
    a.doc.erase(0, 90);  // deletions outnumber the text left (45 characters)
    assert.equal((await send(s1, "paper", a)).ok, true);

    // B copies the document (as the editor's IndexedDB does), then edits offline.
    const b = { doc: new Doc({ clientId: 22 }), epoch: 0, synced: true };
    b.doc.applyUpdate(a.doc.encodeStateAsUpdate());
    b.doc.insert(4, "very ");
    b.doc.erase(b.doc.text.indexOf("lazy"), 5);
    const offline = b.doc.text;

    s1.disconnect();
    await waitUnloaded(app);

    // A comes back with its state vector: refused with the new epoch, then joins afresh.
    const s2 = await app.connect();
    const refused = await joinDoc(s2, "paper", a);
    assert.equal(refused.ok, false);
    assert.equal(refused.epoch, 1);
    assert.match(refused.error, /epoch 1, not 0/);
    const a1 = { doc: new Doc({ clientId: 12 }), epoch: 1 };
    const fresh = await joinDoc(s2, "paper", a1);
    assert.equal(fresh.ok, true);
    assert.equal(fresh.epoch, 1);
    assert.equal(a1.doc.text, a.doc.text);
    // No tombstone travels: the whole document is about its text.
    assert.ok(fresh.update.byteLength < a1.doc.text.length + 40, `${fresh.update.byteLength} bytes`);

    // An update of the old epoch is refused too.
    a.doc.insert(0, "x");
    const stale = await send(s2, "paper", a);
    assert.equal(stale.ok, false);
    assert.equal(stale.epoch, 1);

    // A types in the new epoch meanwhile.
    a1.doc.insert(0, "Note: ");
    assert.equal((await send(s2, "paper", a1)).ok, true);

    // B comes back: refused, carries over, A hears it, B joins afresh.
    const s3 = await app.connect();
    assert.equal((await joinDoc(s3, "paper", b)).ok, false);
    const heard = new Promise((resolve) => s2.once("doc:update", (name, u) => resolve(bytes(u))));
    const carried = await s3.emitWithAck("doc:carry", "paper", b.epoch, b.doc.encodeStateAsUpdate());
    assert.equal(carried.ok, true, carried.error);
    assert.equal(carried.epoch, 1);
    assert.equal(carried.inserted, 5);
    assert.equal(carried.deleted, 5);
    a1.doc.applyUpdate(await heard);
    const b1 = { doc: new Doc({ clientId: 23 }), epoch: 1 };
    assert.equal((await joinDoc(s3, "paper", b1)).ok, true);
    assert.equal(b1.doc.text, a1.doc.text);
    assert.equal(a1.doc.text, "Note: " + offline);
    assert.equal((await app.get("/api/docs/paper/text")).text, a1.doc.text);

    // The same state carried again (as after a lost acknowledgement) changes nothing.
    const again = await s3.emitWithAck("doc:carry", "paper", 0, b.doc.encodeStateAsUpdate());
    assert.equal(again.ok, true);
    assert.deepEqual([again.inserted, again.deleted], [0, 0]);
    assert.equal((await app.get("/api/docs/paper/text")).text, a1.doc.text);

    // A restart keeps the epoch, the text and what a straggler of epoch 0 needs.
    await app.stop();
    app = await startApp(db);
    const s4 = await app.connect();
    const c = { doc: new Doc({ clientId: 31 }), epoch: 0 };
    const afterRestart = await joinDoc(s4, "paper", c);
    assert.equal(afterRestart.epoch, 1);
    assert.equal(c.doc.text, a1.doc.text);
    const late = { doc: new Doc({ clientId: 24 }), epoch: 0 };
    late.doc.applyUpdate(a.doc.encodeStateAsUpdate());  // A's old copy, with its stray "x"
    const carriedLate = await s4.emitWithAck("doc:carry", "paper", 0, late.doc.encodeStateAsUpdate());
    assert.equal(carriedLate.ok, true, carriedLate.error);
    assert.equal(carriedLate.inserted, 1);
    // At the very start of the old text: before its first character, after "Note: ".
    assert.equal((await app.get("/api/docs/paper/text")).text, "Note: x" + offline);
    // What was carried before the restart is still known: B's state again brings nothing.
    const afterRestartAgain = await s4.emitWithAck("doc:carry", "paper", 0, b.doc.encodeStateAsUpdate());
    assert.deepEqual([afterRestartAgain.inserted, afterRestartAgain.deleted], [0, 0]);
    await app.stop();
  });

  test("no epoch below the threshold; two epochs on, the oldest cannot be carried; bad requests", async () => {
    const app = await startApp(join(dir, "limits.db"));
    const s = await app.connect();
    const a = { doc: new Doc({ clientId: 41 }), epoch: 0 };
    await joinDoc(s, "small", a);
    a.doc.insert(0, "abcdefghij");
    await send(s, "small", a);
    a.doc.erase(0, MIN_DELETED / 2);  // 10 deleted: below the threshold
    await send(s, "small", a);
    assert.equal((await s.emitWithAck("doc:leave", "small")), true);
    await waitUnloaded(app);
    assert.equal((await joinDoc(s, "small", a)).epoch, 0, "no epoch below epoch_min_deleted");
    a.doc.insert(0, "k".repeat(MIN_DELETED + 1));
    await send(s, "small", a);
    a.doc.erase(0, MIN_DELETED + 1);
    await send(s, "small", a);
    const epoch0 = a.doc.encodeStateAsUpdate();
    await s.emitWithAck("doc:leave", "small");
    await waitUnloaded(app);

    // Epoch 1: more churn, then epoch 2.
    const b = { doc: new Doc({ clientId: 42 }), epoch: 1 };
    assert.equal((await joinDoc(s, "small", b)).epoch, 1);
    b.doc.insert(0, "z".repeat(MIN_DELETED + 1));
    await send(s, "small", b);
    b.doc.erase(0, MIN_DELETED + 1);
    await send(s, "small", b);
    await s.emitWithAck("doc:leave", "small");
    await waitUnloaded(app);
    const c = { doc: new Doc({ clientId: 43 }), epoch: 2 };
    assert.equal((await joinDoc(s, "small", c)).epoch, 2);
    assert.equal(c.doc.text, "");
    // A replica with nothing (an empty state vector) joins whatever its epoch says.
    const empty = await s.emitWithAck("doc:join", "small", new Doc({ clientId: 45 }).stateVector(), 0);
    assert.equal(empty.ok, true, empty.error);
    assert.equal(empty.epoch, 2);

    const tooOld = await s.emitWithAck("doc:carry", "small", 0, epoch0);
    assert.equal(tooOld.ok, false);
    assert.match(tooOld.error, /keeps only the state of the epoch before/);
    const current = await s.emitWithAck("doc:carry", "small", 2, epoch0);
    assert.equal(current.ok, false);
    assert.match(current.error, /at epoch 2 already/);
    for (const args of [["small"], ["small", "1", epoch0], ["small", 1.5, epoch0], ["small", -1, epoch0],
      ["no/such name", 1, epoch0]]) {
      const r = await s.emitWithAck("doc:carry", ...args);
      assert.equal(r.ok, false, JSON.stringify(args));
    }
    const garbage = await s.emitWithAck("doc:carry", "small", 1, new Uint8Array([2, 9, 9, 9]));
    assert.equal(garbage.ok, false);
    assert.match(garbage.error, /carry-over refused/);
    const badEpoch = await s.emitWithAck("doc:join", "small", undefined, "two");
    assert.equal(badEpoch.ok, false);
    assert.match(badEpoch.error, /whole number/);
    // The document took no harm.
    const d = { doc: new Doc({ clientId: 44 }), epoch: 2 };
    assert.equal((await joinDoc(s, "small", d)).ok, true);
    assert.equal(d.doc.text, "");
    await app.stop();
  });
});
