// Chorus collaborative text: the CRDT of chorus::collab (the same code as the server's
// copy) as an ES module for browsers and Node. Ready right after import:
//
//   import { Doc } from "/chorus/chorus_collab.mjs";
//   const doc = new Doc();
//   doc.insert(0, "hello");                       // UTF-16 positions, as editors count
//   socket.emit("doc:update", name, doc.takeUpdate(), ack);
//   const delta = doc.applyUpdate(bytes);          // [{retain: n} | {insert: "s"} | {delete: n}]
//   const stored = Doc.load(bytes);                // a new Doc from a stored document
//
// Every local edit goes through the document's UndoManager (doc.undoManager), so undo and
// redo touch this replica's own edits only. Call free() when done with a Doc (a
// FinalizationRegistry frees forgotten ones eventually).
import createChorusCollab from "./chorus_collab_glue.mjs";

const isNode = typeof process === "object" && process.versions != null &&
  process.versions.node != null && typeof window === "undefined";

async function load() {
  const url = new URL("./chorus_collab.wasm", import.meta.url);
  let wasm;
  if (isNode) {
    const { readFile } = await import("node:fs/promises");
    wasm = await readFile(url);
  } else {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`chorus_collab.wasm: HTTP ${response.status} from ${url}`);
    wasm = await response.arrayBuffer();
  }
  // The minimal runtime's glue would leave its promise pending on bytes it cannot compile.
  if (!WebAssembly.validate(wasm)) throw new Error(`chorus_collab.wasm from ${url} is not a valid WebAssembly module`);
  return createChorusCollab({ wasm });
}

const M = await load();
// The exports, read once: the per-keystroke calls go straight to the WebAssembly functions.
const {
  _chorus_collab_input: input, _chorus_collab_output: output, _chorus_collab_error: lastError,
  _chorus_collab_create: create, _chorus_collab_destroy: destroy,
  _chorus_collab_insert: insertText, _chorus_collab_insert_unit: insertUnit, _chorus_collab_erase: erase,
  _chorus_collab_take_update: takeUpdate, _chorus_collab_has_local_changes: hasLocalChanges,
  _chorus_collab_apply_update: applyUpdate, _chorus_collab_text: textOf, _chorus_collab_length: lengthOf,
  _chorus_collab_memory: memoryOf, _chorus_collab_pending: pendingOf, _chorus_collab_state_vector: stateVector,
  _chorus_collab_encode_state: encodeState, _chorus_collab_relative_position: relativePosition,
  _chorus_collab_resolve: resolve, _chorus_collab_undo: undo, _chorus_collab_undo_state: undoState,
  _chorus_collab_stop_capturing: stopCapturing, _chorus_collab_clear_undo: clearUndo,
} = M;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function freed() {
  throw new Error("Doc used after free()");
}

function fail(what) {
  const ptr = lastError();
  const heap = M.HEAPU8;
  let end = ptr;
  while (heap[end] !== 0) end++;
  throw new Error(`${what}: ${decoder.decode(heap.subarray(ptr, end))}`);
}

// Copies bytes into the module's input buffer; returns their length.
function putBytes(bytes) {
  if (!(bytes instanceof Uint8Array)) {
    if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
    else if (ArrayBuffer.isView(bytes)) bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    else throw new TypeError("expected a Uint8Array or an ArrayBuffer");
  }
  const ptr = input(bytes.length);
  M.HEAPU8.set(bytes, ptr);
  return bytes.length;
}

function putText(text) {
  const n = text.length;
  const ptr = input(n * 3);
  const heap = M.HEAPU8;
  // Short ASCII text is copied as it is: no encoder call, no subarray.
  if (n <= 64) {
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      heap[ptr + i] = c;
    }
    if (i === n) return n;
  }
  const { written } = encoder.encodeInto(text, heap.subarray(ptr, ptr + n * 3));
  return written;
}

function outBytes(len) {
  const ptr = output();
  return M.HEAPU8.slice(ptr, ptr + len);
}

// Delta records (bindings.cpp): kind byte, u32le UTF-16 length, inserts: u32le bytes + UTF-8.
function outDelta(len) {
  const ptr = output();
  const view = new DataView(M.HEAPU8.buffer, ptr, len);
  const delta = [];
  for (let at = 0; at < len;) {
    const kind = view.getUint8(at);
    const n = view.getUint32(at + 1, true);
    at += 5;
    if (kind === 1) {
      const bytes = view.getUint32(at, true);
      at += 4;
      delta.push({ insert: decoder.decode(M.HEAPU8.subarray(ptr + at, ptr + at + bytes)) });
      at += bytes;
    } else {
      delta.push(kind === 0 ? { retain: n } : { delete: n });
    }
  }
  return delta;
}

const registry = typeof FinalizationRegistry === "function"
  ? new FinalizationRegistry((handle) => destroy(handle)) : null;

function randomClientId() {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  // 53 bits, never 0: exact in a double.
  return (words[0] & 0x1fffff) * 2 ** 32 + words[1] || 1;
}

const clock = () => (typeof performance === "object" ? performance.now() : Date.now());
// The time of an edit, for undo's capture window: read once per task (every edit made in
// one run of JavaScript happens at the same moment as far as the page can tell), so a
// burst of edits does not pay for a clock read each.
let stamp = -1;
const forgetStamp = () => { stamp = -1; };
function now() {
  if (stamp < 0) {
    stamp = clock();
    queueMicrotask(forgetStamp);
  }
  return stamp;
}

/** Undo / redo of this replica's own edits; consecutive edits within 500 ms undo as one. */
export class UndoManager {
  #doc;
  constructor(doc) { this.#doc = doc; }
  /** Undoes the last step; returns its delta (to apply to the editor) or null. */
  undo() { return this.#run(0); }
  redo() { return this.#run(1); }
  get canUndo() { return (undoState(this.#doc._handle) & 1) !== 0; }
  get canRedo() { return (undoState(this.#doc._handle) & 2) !== 0; }
  /** The next edit starts a new undo step (e.g. the cursor jumped). */
  stopCapturing() { stopCapturing(this.#doc._handle); }
  clear() { clearUndo(this.#doc._handle); }
  #run(redo) {
    const len = undo(this.#doc._handle, redo);
    return len < 0 ? null : outDelta(len);
  }
}

export class Doc {
  #handle;
  #clientId;
  /** @param {{clientId?: number}} [options] clientId: unique per replica, below 2^53. */
  constructor(options = {}) {
    this.#clientId = options.clientId ?? randomClientId();
    this.#handle = create(this.#clientId);
    registry?.register(this, this.#handle, this);
    this.undoManager = new UndoManager(this);
  }

  get _handle() {
    if (this.#handle === 0) freed();
    return this.#handle;
  }
  get clientId() { return this.#clientId; }

  /** Inserts `text` at UTF-16 position `pos`. */
  insert(pos, text) {
    // The per-keystroke path: no getter or helper call that can be avoided (a page's first
    // edits run before the engine optimises this code).
    const handle = this.#handle;
    if (handle === 0) freed();
    if (typeof text !== "string") text = String(text);
    // One keystroke (one UTF-16 unit, not half of a surrogate pair): passed as a number.
    const c = text.length === 1 ? text.charCodeAt(0) : -1;
    const t = stamp >= 0 ? stamp : now();
    const r = c >= 0 && (c < 0xd800 || c > 0xdfff)
      ? insertUnit(handle, pos, c, t)
      : insertText(handle, pos, putText(text), t);
    if (r < 0) fail("insert");
  }
  /** Deletes `len` UTF-16 units from `pos`. */
  erase(pos, len) {
    if (len === 0) return;
    const handle = this.#handle;
    if (handle === 0) freed();
    if (erase(handle, pos, len, stamp >= 0 ? stamp : now()) < 0) fail("erase");
  }
  delete(pos, len) { this.erase(pos, len); }

  /** True when local edits wait for takeUpdate(). */
  get hasLocalChanges() { return hasLocalChanges(this._handle) !== 0; }
  /** One update carrying every local edit since the last call. */
  takeUpdate() { return outBytes(takeUpdate(this._handle)); }

  /** Applies a remote update; returns what changed as a delta. Throws on malformed bytes
   *  (the document is then unchanged). */
  applyUpdate(update) {
    const len = putBytes(update);
    const out = applyUpdate(this._handle, len, 1);
    if (out < 0) fail("applyUpdate");
    return outDelta(out);
  }

  /** A new Doc holding a stored document (an update, e.g. from encodeStateAsUpdate()):
   *  applyUpdate on a new Doc without building the delta. Throws on malformed bytes.
   *  @param {Uint8Array | ArrayBuffer} update @param {{clientId?: number}} [options] */
  static load(update, options) {
    const len = putBytes(update);
    const doc = new Doc(options);
    if (applyUpdate(doc._handle, len, 0) < 0) {
      doc.free();
      fail("Doc.load");
    }
    return doc;
  }

  get text() { return decoder.decode(outBytes(textOf(this._handle))); }
  toString() { return this.text; }
  /** Length in UTF-16 code units. */
  get length() { return lengthOf(this._handle); }
  /** Bytes the document's structures hold in the module's memory (content, tree, indexes). */
  get memoryUsage() { return memoryOf(this._handle); }
  /** Items of updates waiting for their dependencies. */
  get pending() { return pendingOf(this._handle); }

  stateVector() { return outBytes(stateVector(this._handle)); }
  /** What a replica with state vector `sv` lacks; the whole document without one. */
  encodeStateAsUpdate(sv) {
    const len = sv == null ? -1 : putBytes(sv);
    const out = encodeState(this._handle, len);
    if (out < 0) fail("encodeStateAsUpdate");
    return outBytes(out);
  }

  /** A position that follows the text it is in under remote edits. assoc >= 0 keeps to the
   *  character after `pos` (text typed at the position goes before it), assoc < 0 to the
   *  one before. */
  relativePosition(pos, assoc = 0) {
    const side = assoc === "left" || (typeof assoc === "number" && assoc < 0) ? 1 : 0;
    const out = relativePosition(this._handle, pos, side);
    if (out < 0) fail("relativePosition");
    return outBytes(out);
  }
  /** The index a relative position stands for now, or null when its character is unknown. */
  resolve(position) {
    if (position == null) return null;
    const at = resolve(this._handle, putBytes(position));
    return at < 0 ? null : at;
  }

  free() {
    if (this.#handle === 0) return;
    registry?.unregister(this);
    destroy(this.#handle);
    this.#handle = 0;
  }
}

export default Doc;
