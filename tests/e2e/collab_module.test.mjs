// chorus_collab.mjs (wasm/collab/) under Node: the JavaScript face of the CRDT the editor
// uses. The C++ behind it has its own unit tests; these check the bindings: UTF-16
// positions, deltas, byte arrays in and out, relative positions, undo, errors.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadCollab } from "./harness.mjs";

const { Doc, UndoManager } = await loadCollab();

// Applies a delta to a JS string, as the editor binding does.
function applyDelta(text, delta) {
  let out = "";
  let at = 0;
  for (const op of delta) {
    if (op.retain !== undefined) { out += text.slice(at, at + op.retain); at += op.retain; }
    else if (op.insert !== undefined) out += op.insert;
    else { at += op.delete; }
  }
  return out + text.slice(at);
}

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test("insert, erase, text and length count UTF-16 units", () => {
  const d = new Doc();
  d.insert(0, "a😀b");
  assert.equal(d.text, "a😀b");
  assert.equal(d.length, 4);
  d.insert(3, "é");
  assert.equal(d.text, "a😀éb");
  d.erase(1, 2);
  assert.equal(d.text, "aéb");
  assert.throws(() => d.erase(0, 10), /erase/);
  assert.throws(() => d.insert(99, "x"), /insert/);
  const e = new Doc();
  e.insert(0, "x😀y");
  assert.throws(() => e.insert(2, "!"), /insert/, "inside a surrogate pair");
  assert.equal(e.text, "x😀y");
  d.free();
  e.free();
});

test("keystrokes of every width and texts of every length insert as typed, here and remotely", () => {
  // One UTF-16 unit goes in as a number, short ASCII is copied as it is, anything else
  // through the text encoder: every path must give the same document.
  const a = new Doc();
  const b = new Doc();
  const pieces = ["a", "\u00e9", "\u4e2d", "\uffff", "😀", "ascii only", "x".repeat(64), "y".repeat(65),
    "ascii then \u00e9", "\u4e2d".repeat(70), "\ud83d", "\ude00"];
  let expected = "";
  for (const [i, piece] of pieces.entries()) {
    const at = i % 2 ? 0 : a.length;
    a.insert(at, piece);
    // A lone surrogate has no UTF-8 form: it arrives as U+FFFD, as TextEncoder makes it.
    const stored = /^[\ud800-\udfff]$/.test(piece) ? "\ufffd" : piece;
    expected = expected.slice(0, at) + stored + expected.slice(at);
    assert.equal(a.text, expected, `after inserting ${JSON.stringify(piece)}`);
    assert.equal(a.length, expected.length);
    b.applyUpdate(a.takeUpdate());
    assert.equal(b.text, expected);
  }
  a.erase(1, a.length - 2);
  b.applyUpdate(a.takeUpdate());
  assert.equal(b.text, a.text);
  assert.equal(a.text.length, 2);
  a.free();
  b.free();
});

test("memoryUsage counts what the document holds", () => {
  const d = new Doc();
  const empty = d.memoryUsage;
  assert.ok(Number.isSafeInteger(empty) && empty > 0, `empty document: ${empty}`);
  for (let i = 0; i < 2000; i++) d.insert(d.length >> 1, "abc");
  assert.ok(d.memoryUsage > empty + 6000, `${d.memoryUsage} bytes for 6000 characters`);
  d.free();
  assert.throws(() => d.memoryUsage, /free/);
});

test("edits made in one run of JavaScript undo as one step", () => {
  const d = new Doc();
  for (const ch of "typed at once") d.insert(d.length, ch);
  d.erase(0, 6);
  assert.equal(d.text, "at once");
  assert.deepEqual(d.undoManager.undo(), [{ delete: 7 }]);
  assert.equal(d.text, "");
  assert.equal(d.undoManager.canUndo, false, "one step");
  assert.deepEqual(d.undoManager.redo(), [{ insert: "at once" }]);
  d.free();
});

test("takeUpdate / applyUpdate: deltas reproduce the text; updates are Uint8Arrays", () => {
  const a = new Doc();
  const b = new Doc();
  a.insert(0, "hello world");
  const u = a.takeUpdate();
  assert.ok(u instanceof Uint8Array);
  assert.equal(a.hasLocalChanges, false);
  assert.deepEqual(b.applyUpdate(u), [{ insert: "hello world" }]);
  a.erase(0, 6);
  a.insert(5, "!");
  assert.deepEqual(b.applyUpdate(a.takeUpdate().buffer), [{ delete: 6 }, { retain: 5 }, { insert: "!" }]);
  assert.equal(b.text, "world!");
  // Duplicates change nothing.
  assert.deepEqual(b.applyUpdate(u), []);
  a.free();
  b.free();
});

test("three replicas with shuffled, duplicated delivery converge", () => {
  const next = rng(7);
  const docs = [new Doc(), new Doc(), new Doc()];
  const mirrors = ["", "", ""];
  const inFlight = [];
  for (let step = 0; step < 600; step++) {
    const i = Math.floor(next() * 3);
    const d = docs[i];
    const len = d.length;
    if (next() < 0.3 && len > 0) {
      const at = Math.floor(next() * len);
      d.erase(at, Math.min(len - at, 1 + Math.floor(next() * 3)));
    } else {
      const at = next() < 0.3 ? 0 : Math.floor(next() * (len + 1));
      d.insert(at, ["x", "yz", "é", "\n", "ab"][Math.floor(next() * 5)]);
    }
    mirrors[i] = d.text;
    inFlight.push({ from: i, bytes: d.takeUpdate() });
    // Deliver a random pending update (or a duplicate) to the others.
    if (next() < 0.6 && inFlight.length > 0) {
      const k = Math.floor(next() * inFlight.length);
      const { from, bytes } = next() < 0.9 ? inFlight.splice(k, 1)[0] : inFlight[k];
      for (let j = 0; j < 3; j++) {
        if (j === from) continue;
        mirrors[j] = applyDelta(mirrors[j], docs[j].applyUpdate(bytes));
        assert.equal(mirrors[j], docs[j].text, "the delta describes the change");
      }
    }
  }
  for (const { from, bytes } of inFlight.splice(0)) {
    for (let j = 0; j < 3; j++) if (j !== from) mirrors[j] = applyDelta(mirrors[j], docs[j].applyUpdate(bytes));
  }
  assert.equal(docs[0].text, docs[1].text);
  assert.equal(docs[1].text, docs[2].text);
  assert.deepEqual(mirrors, docs.map((d) => d.text));
  for (const d of docs) assert.equal(d.pending, 0);
  for (const d of docs) d.free();
});

test("state vectors: a replica gets exactly what it lacks", () => {
  const a = new Doc();
  const b = new Doc();
  a.insert(0, "shared ");
  b.applyUpdate(a.takeUpdate());
  a.insert(7, "only a");
  a.takeUpdate();
  const missing = a.encodeStateAsUpdate(b.stateVector());
  assert.ok(missing.length < a.encodeStateAsUpdate().length);
  assert.deepEqual(b.applyUpdate(missing), [{ retain: 7 }, { insert: "only a" }]);
  assert.equal(b.text, a.text);
  const fresh = new Doc();
  fresh.applyUpdate(a.encodeStateAsUpdate());
  assert.equal(fresh.text, a.text);
  assert.deepEqual(a.stateVector(), fresh.stateVector());
  for (const d of [a, b, fresh]) d.free();
});

test("Doc.load: a stored document into a new Doc, which edits on with its own client id", () => {
  const a = new Doc({ clientId: 5 });
  a.insert(0, "stored text, ünïcode 🎉");
  a.erase(0, 7);
  const loaded = Doc.load(a.encodeStateAsUpdate(), { clientId: 6 });
  assert.equal(loaded.clientId, 6);
  assert.equal(loaded.text, a.text);
  assert.deepEqual(loaded.stateVector(), a.stateVector());
  loaded.insert(0, "still ");
  a.applyUpdate(loaded.takeUpdate());
  assert.equal(a.text, "still text, ünïcode 🎉");
  const empty = new Doc();
  assert.equal(Doc.load(empty.encodeStateAsUpdate()).text, "");
  empty.free();
  assert.throws(() => Doc.load(new Uint8Array([1, 200, 200, 200])), /Doc\.load/);
  assert.throws(() => Doc.load("nope"), TypeError);
  for (const d of [a, loaded]) d.free();
});

test("a malformed update throws and changes nothing", () => {
  const d = new Doc();
  d.insert(0, "keep");
  assert.throws(() => d.applyUpdate(new Uint8Array([1, 200, 200, 200])), /applyUpdate/);
  assert.throws(() => d.applyUpdate("nope"), TypeError);
  assert.equal(d.text, "keep");
  d.free();
});

test("relative positions follow the text and survive the trip to another replica", () => {
  const a = new Doc();
  const b = new Doc();
  a.insert(0, "hello world");
  b.applyUpdate(a.takeUpdate());
  const right = a.relativePosition(6);      // before "w"
  const left = a.relativePosition(5, -1);   // after "o"
  assert.ok(right instanceof Uint8Array);
  b.insert(0, ">> ");
  b.insert(8, "___");  // at the position itself: "right" keeps to "w", "left" to "o"
  a.applyUpdate(b.takeUpdate());
  assert.equal(a.text, ">> hello___ world");
  assert.equal(a.resolve(right), 12);
  assert.equal(a.resolve(left), 8);
  assert.equal(b.resolve(right), 12);
  assert.equal(a.resolve(a.relativePosition(a.length)), a.length);
  const unknown = new Doc();
  assert.equal(unknown.resolve(right), null, "its character is not known there");
  assert.equal(unknown.resolve(new Uint8Array([7, 7])), null);
  for (const d of [a, b, unknown]) d.free();
});

test("undo and redo take back this replica's edits only", () => {
  const a = new Doc();
  const b = new Doc();
  assert.ok(a.undoManager instanceof UndoManager);
  a.insert(0, "mine ");
  b.applyUpdate(a.takeUpdate());
  b.insert(5, "theirs");
  a.applyUpdate(b.takeUpdate());
  assert.equal(a.text, "mine theirs");
  assert.equal(a.undoManager.canUndo, true);
  const delta = a.undoManager.undo();
  assert.deepEqual(delta, [{ delete: 5 }]);
  assert.equal(a.text, "theirs");
  assert.equal(a.undoManager.undo(), null, "nothing else of a's to undo");
  assert.equal(a.undoManager.canRedo, true);
  assert.deepEqual(a.undoManager.redo(), [{ insert: "mine " }]);
  b.applyUpdate(a.takeUpdate());
  assert.equal(b.text, "mine theirs");
  // b's undo leaves a's text alone.
  b.undoManager.undo();
  assert.equal(b.text, "mine ");
  a.free();
  b.free();
});

test("free() makes a Doc unusable; client ids are distinct", () => {
  const a = new Doc();
  const b = new Doc();
  assert.notEqual(a.clientId, b.clientId);
  assert.ok(Number.isSafeInteger(a.clientId));
  a.free();
  a.free();
  assert.throws(() => a.insert(0, "x"), /free/);
  const fixed = new Doc({ clientId: 42 });
  assert.equal(fixed.clientId, 42);
  fixed.free();
  b.free();
});
