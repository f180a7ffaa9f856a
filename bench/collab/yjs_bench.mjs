// The Yjs side of bench/collab: the same traces and metrics as collab_bench.cpp, through the
// yjs npm package (Y.Text). Run by run.sh as: node --expose-gc yjs_bench.mjs TRACES_DIR RUNS
// Prints one JSON object per run and trace, with the field names collab_bench uses.
import { readFileSync } from "node:fs";
import * as Y from "yjs";

const [dir, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 5);
const paper = JSON.parse(readFileSync(`${dir}/automerge-paper.json`, "utf8"));
const friends = JSON.parse(readFileSync(`${dir}/friendsforever.concurrent.json`, "utf8"));

const gcOnce = globalThis.gc ?? (() => {});
// Several passes: V8 frees some objects only on a later collection.
const gc = () => { for (let i = 0; i < 4; i++) gcOnce(); };
const now = () => performance.now();

// Trace positions count code points; the traces are ASCII, where they equal UTF-16 units.
function replay(doc, edits) {
  const text = doc.getText("text");
  for (const [pos, del, ins] of edits) {
    if (del) text.delete(pos, del);
    if (ins) text.insert(pos, ins);
  }
}

// One update per edit, made once (not timed).
const perEdit = [];
{
  const author = new Y.Doc();
  author.on("update", (u) => perEdit.push(u));
  replay(author, paper.edits);
}

function replayConcurrent(trace) {
  const docs = [];
  for (let a = 0; a < trace.numAgents; a++) {
    const d = new Y.Doc();
    d.clientID = 1000 + a;
    docs.push(d);
  }
  const n = trace.txns.length;
  const updates = new Array(n);
  const has = docs.map(() => new Uint8Array(n));
  let merges = 0;
  for (let i = 0; i < n; i++) {
    const txn = trace.txns[i];
    const doc = docs[txn.agent];
    const mine = has[txn.agent];
    const missing = [];
    const stack = [...txn.parents];
    while (stack.length) {
      const p = stack.pop();
      if (mine[p]) continue;
      mine[p] = 1;
      missing.push(p);
      for (const q of trace.txns[p].parents) stack.push(q);
    }
    missing.sort((a, b) => a - b);
    for (const p of missing) {
      Y.applyUpdate(doc, updates[p]);
      merges++;
    }
    let update = null;
    const grab = (u) => { update = u; };
    doc.on("update", grab);
    const text = doc.getText("text");
    doc.transact(() => {
      for (const [pos, del, ins] of txn.patches) {
        if (del) text.delete(pos, del);
        if (ins) text.insert(pos, ins);
      }
    });
    doc.off("update", grab);
    updates[i] = update ?? Y.encodeStateAsUpdate(new Y.Doc());
    mine[i] = 1;
  }
  for (let a = 0; a < docs.length; a++) {
    for (let i = 0; i < n; i++) if (!has[a][i]) Y.applyUpdate(docs[a], updates[i]);
  }
  return { docs, merges };
}

// Heap held by a document: heap in use with it alive, less heap in use once it is dropped
// (garbage of earlier work is collected by the first measurement, so it cannot mix in).
function heapOfDocument() {
  let doc = new Y.Doc();
  replay(doc, paper.edits);
  gc();
  const alive = process.memoryUsage().heapUsed;
  doc.destroy();
  doc = null;
  gc();
  return alive - process.memoryUsage().heapUsed;
}

for (let run = 0; run < runs; run++) {
  const heap = heapOfDocument();
  gc();
  let t0 = now();
  const doc = new Y.Doc();
  replay(doc, paper.edits);
  const applyMs = now() - t0;
  if (doc.getText("text").toString() !== paper.endContent) throw new Error("yjs: wrong text");

  t0 = now();
  const encoded = Y.encodeStateAsUpdate(doc);
  const encodeMs = now() - t0;

  t0 = now();
  const loaded = new Y.Doc();
  Y.applyUpdate(loaded, encoded);
  const loadMs = now() - t0;
  if (loaded.getText("text").toString() !== paper.endContent) throw new Error("yjs: bad load");

  t0 = now();
  const remote = new Y.Doc();
  for (const u of perEdit) Y.applyUpdate(remote, u);
  const remoteMs = now() - t0;
  if (remote.getText("text").toString() !== paper.endContent) throw new Error("yjs: bad remote");

  console.log(JSON.stringify({
    trace: "automerge-paper", run, apply_ms: applyMs, remote_apply_ms: remoteMs,
    encode_ms: encodeMs, encoded_bytes: encoded.length, load_ms: loadMs, heap_bytes: heap,
  }));

  t0 = now();
  const { docs, merges } = replayConcurrent(friends);
  const replayMs = now() - t0;
  for (const d of docs) {
    if (d.getText("text").toString() !== friends.endContent) throw new Error("yjs: no convergence");
  }
  console.log(JSON.stringify({ trace: "friendsforever", run, replay_ms: replayMs, merges }));
  doc.destroy();
}
