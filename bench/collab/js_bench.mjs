// One run of one JavaScript-driven engine on one trace file, in this fresh process (run.sh
// starts one process per engine, trace and run). Prints one JSON line.
//
//   node --expose-gc js_bench.mjs ENGINE TRACE_FILE [CHORUS_COLLAB_MJS [LABEL]]
//
// ENGINE: chorus (the shipped module, chorus_collab.mjs, as a page drives it: one JS call per
// edit), yjs (npm yjs, Y.Text; documents encoded in its V2 format), dt (npm diamond-types-node: Doc.ins / Doc.del). LABEL names
// the engine in the output (run.sh: "before" for an older build of the module).
// The trace's "format" says how to replay it (../shared/traces/README.md):
//   flat-edits-v1: apply_ms (one call per insert or delete), apply_update_ms (the same with
//     the engine's per-edit update taken after every trace edit), update_bytes (their sum),
//     encode_ms / encoded_bytes (the final document as one update), load_ms (that update
//     decoded into a fresh document), memory_bytes (what the document built by apply_ms
//     holds: V8 heap plus external and WASM memory after GC, less the same before).
//   concurrent-v1: replay_ms (one replica per agent; before each transaction its replica
//     merges the updates of the ancestry it lacks; the patches as one local change whose
//     update is taken; at the end everything merged everywhere), merges, then encode_ms,
//     encoded_bytes, load_ms of one final replica and memory_bytes of all of them.
// Positions: the traces count code points and are ASCII, where code points, UTF-16 units and
// bytes agree, so every engine takes the trace's positions as they are.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [engineName, traceFile, chorusModule, label] = process.argv.slice(2);
if (!engineName || !traceFile) {
  console.error("usage: js_bench.mjs chorus|yjs|dt TRACE_FILE [CHORUS_COLLAB_MJS]");
  process.exit(2);
}
const trace = JSON.parse(readFileSync(traceFile, "utf8"));
const require = createRequire(import.meta.url);

const gcOnce = globalThis.gc ?? (() => { throw new Error("run node with --expose-gc"); });
// Several passes: V8 frees some objects only on a later collection.
const gc = () => { for (let i = 0; i < 4; i++) gcOnce(); };
const memoryInUse = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;  // external includes ArrayBuffers and WASM memories
};
const now = () => performance.now();

// Each engine: create(agentIndex), ins(doc, pos, text), del(doc, pos, len), update(doc) ->
// bytes since the last update(), batch(doc, fn) (one local change), encode(doc), load(bytes)
// -> doc, apply(doc, bytes), text(doc), free(doc).
async function makeEngine(name) {
  if (name === "chorus") {
    if (!chorusModule) throw new Error("chorus: pass the path of chorus_collab.mjs");
    const { Doc } = await import(pathToFileURL(chorusModule).href);
    return {
      create: (agent) => new Doc({ clientId: 1000 + agent }),
      ins: (d, pos, s) => d.insert(pos, s),
      del: (d, pos, n) => d.erase(pos, n),
      update: (d) => d.takeUpdate(),
      batch: (d, fn) => fn(),
      encode: (d) => d.encodeStateAsUpdate(),
      // Doc.load: a stored document into a new Doc, no delta (a module from before it:
      // applyUpdate on a new Doc).
      load: Doc.load ? (bytes) => Doc.load(bytes, { clientId: 999 })
        : (bytes) => { const d = new Doc({ clientId: 999 }); d.applyUpdate(bytes); return d; },
      apply: (d, bytes) => d.applyUpdate(bytes),
      text: (d) => d.text,
      free: (d) => d.free(),
      // Its own count (Doc::memory_usage, as native reports): the module's memory starts at
      // 16 MB and grows in 64 kB pages, so the process's figures would not see the document.
      memory: (d) => d.memoryUsage,
    };
  }
  if (name === "yjs") {
    const Y = await import("yjs");
    // Yjs makes its update per transaction, in its "update" event: the latest is kept.
    const last = new WeakMap();
    return {
      create: (agent) => {
        const d = new Y.Doc();
        d.clientID = 1000 + agent;
        d.on("update", (u, origin) => { if (origin !== "remote") last.set(d, u); });
        return d;
      },
      ins: (d, pos, s) => d.getText("text").insert(pos, s),
      del: (d, pos, n) => d.getText("text").delete(pos, n),
      update: (d) => { const u = last.get(d) ?? new Uint8Array(0); last.delete(d); return u; },
      batch: (d, fn) => d.transact(fn),
      // Yjs's V2 encoding: its smaller one (column-oriented), the one to compare sizes with.
      encode: (d) => Y.encodeStateAsUpdateV2(d),
      load: (bytes) => { const d = new Y.Doc(); Y.applyUpdateV2(d, bytes, "remote"); return d; },
      apply: (d, bytes) => Y.applyUpdate(d, bytes, "remote"),
      text: (d) => d.getText("text").toString(),
      free: (d) => d.destroy(),
    };
  }
  if (name === "dt") {
    const dt = require("diamond-types-node");
    // The per-edit update: the operations since the version last sent (getPatchSince), the
    // version then moved to the document's current one.
    const sent = new WeakMap();
    return {
      create: (agent) => { const d = new dt.Doc(`agent${agent}`); sent.set(d, d.getLocalVersion()); return d; },
      ins: (d, pos, s) => d.ins(pos, s),
      del: (d, pos, n) => d.del(pos, n),
      update: (d) => { const u = d.getPatchSince(sent.get(d)); sent.set(d, d.getLocalVersion()); return u; },
      batch: (d, fn) => fn(),
      encode: (d) => d.toBytes(),
      load: (bytes) => dt.Doc.fromBytes(bytes, "loader"),
      apply: (d, bytes) => { d.mergeBytes(bytes); sent.set(d, d.getLocalVersion()); },
      text: (d) => d.get(),
      free: (d) => d.free(),
    };
  }
  throw new Error(`unknown engine ${name}`);
}

const E = await makeEngine(engineName);

function check(doc, what) {
  if (E.text(doc) !== trace.endContent) throw new Error(`${engineName}: ${what}: wrong final text`);
}

function replayFlat(doc, withUpdates) {
  let bytes = 0;
  for (const [pos, del, ins] of trace.edits) {
    if (del) E.del(doc, pos, del);
    if (ins) E.ins(doc, pos, ins);
    if (withUpdates) bytes += E.update(doc).length;
  }
  return bytes;
}

function encodeAndLoad(doc, out) {
  let t0 = now();
  const encoded = E.encode(doc);
  out.encode_ms = now() - t0;
  out.encoded_bytes = encoded.length;
  t0 = now();
  const loaded = E.load(encoded);
  out.load_ms = now() - t0;
  check(loaded, "load");
  E.free(loaded);
}

function flat() {
  const out = {};
  gc();
  const before = memoryInUse();
  let t0 = now();
  let doc = E.create(0);
  replayFlat(doc, false);
  out.apply_ms = now() - t0;
  gc();
  out.memory_bytes = E.memory ? E.memory(doc) : memoryInUse() - before;
  check(doc, "apply");
  encodeAndLoad(doc, out);
  E.free(doc);
  doc = null;
  gc();

  t0 = now();
  doc = E.create(1);
  out.update_bytes = replayFlat(doc, true);
  out.apply_update_ms = now() - t0;
  check(doc, "apply with updates");
  E.free(doc);
  return out;
}

function concurrent() {
  const out = {};
  gc();
  const before = memoryInUse();
  const t0 = now();
  const docs = [];
  for (let a = 0; a < trace.numAgents; a++) docs.push(E.create(a));
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
    missing.sort((a, b) => a - b);  // ancestors before descendants
    for (const p of missing) {
      E.apply(doc, updates[p]);
      merges++;
    }
    E.batch(doc, () => {
      for (const [pos, del, ins] of txn.patches) {
        if (del) E.del(doc, pos, del);
        if (ins) E.ins(doc, pos, ins);
      }
    });
    updates[i] = E.update(doc);
    mine[i] = 1;
  }
  for (let a = 0; a < docs.length; a++) {
    for (let i = 0; i < n; i++) if (!has[a][i]) E.apply(docs[a], updates[i]);
  }
  out.replay_ms = now() - t0;
  out.merges = merges;
  updates.length = 0;
  gc();
  out.memory_bytes = E.memory ? docs.reduce((sum, d) => sum + E.memory(d), 0) : memoryInUse() - before;
  docs.forEach((d, a) => check(d, `replica ${a}`));
  encodeAndLoad(docs[0], out);
  docs.forEach((d) => E.free(d));
  return out;
}

const result = trace.format === "flat-edits-v1" ? flat()
  : trace.format === "concurrent-v1" ? concurrent()
  : null;
if (result == null) throw new Error(`${traceFile}: unknown format ${trace.format}`);
// An older module without doc.memoryUsage has no figure rather than a wrong one.
if (!Number.isFinite(result.memory_bytes)) delete result.memory_bytes;
// Named by its file, as collab_bench names it: automerge-paper.json -> automerge-paper.
const name = traceFile.split("/").pop().split(".")[0];
console.log(JSON.stringify({ engine: label ?? engineName, trace: name, format: trace.format, ...result }));
