// DocSync: keeps one collab Doc in step with the server's copy over the "/docs" namespace of
// chorus-server (server/include/chorus/collab_service.h):
//   doc:join   (name, stateVector, epoch)  ack {ok, epoch, update, stateVector, awareness}
//   doc:update (name, update, epoch)       ack {ok} once the server stored it durably
//   doc:carry  (name, epoch, state)        ack {ok, epoch, inserted, deleted}
//   awareness  (name, state)               relayed as awareness (name, socketId, state)
//
// Epochs: when the server has started a newer epoch of the document (its tombstones gone), a
// join or an update of ours is refused with that epoch. The Doc's whole state is then carried
// over (doc:carry: what we changed is replayed there), and "epoch" (newEpoch, {inserted,
// deleted}) tells the page to load the new epoch into a fresh Doc; this DocSync stops.
//
// Events: "update" (bytes, edits) for every update taken from or applied to the Doc (edits:
// how many local edits it holds, 0 for a remote one), besides status, joined, resumed, merged,
// peers, join, leave, remote and error.
//
// Local edits are taken from the Doc one update per editor transaction and kept until the
// server acknowledges them: while offline they simply wait (the Doc already holds them).
// On every (re)connection the client joins with its state vector, applies what the server
// sent back, and, if anything is still unacknowledged, replaces the queue with one update
// holding everything the server lacks (encodeStateAsUpdate(server's state vector)): edits
// made offline and updates whose acknowledgement was lost in a drop alike. Updates are
// idempotent, so resending one the server already has is harmless.
//
// A connection that comes back recovered (connection state recovery: socket.recovered) is
// not joined again: it kept its socket id and the document's room, the server kept it in the
// document (CollabOptions::leave_grace), and every update and awareness change it missed
// arrived, in order, before "connect". It only resends what is unacknowledged and its
// awareness state. Who is here is kept through a drop for the same reason: the missed
// awareness changes bring it up to date, and a fresh join replaces it whole.

const RESEND_AFTER_MS = 6000;
const AWARENESS_EVERY_MS = 60;

export function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data && data.type === "Buffer" && Array.isArray(data.data)) return Uint8Array.from(data.data);
  return new Uint8Array(0);
}

export function toBase64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function fromBase64(text) {
  try {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

// A state vector with no clients: varuint(0).
const isEmptyStateVector = (sv) => sv.length === 0 || (sv.length === 1 && sv[0] === 0);

// State vector bytes (core/include/chorus/collab/state_vector.h): varuint(count), then
// count (client, clock) varuint pairs. Returns Map(client -> clock), or null if malformed.
export function decodeStateVector(bytes) {
  let at = 0;
  const varuint = () => {
    let value = 0;
    for (let scale = 1; at < bytes.length && scale <= 2 ** 56; scale *= 128) {
      const b = bytes[at++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
    }
    return null;
  };
  const count = varuint();
  if (count === null) return null;
  const out = new Map();
  for (let i = 0; i < count; i++) {
    const client = varuint();
    const clock = varuint();
    if (client === null || clock === null) return null;
    out.set(client, clock);
  }
  return out;
}

// True when `ours` holds characters `theirs` lacks.
function ahead(ours, theirs) {
  const a = decodeStateVector(ours);
  const b = decodeStateVector(theirs);
  if (a === null || b === null) return true;
  for (const [client, clock] of a) if (clock > (b.get(client) ?? 0)) return true;
  return false;
}

export class DocSync {
  /**
   * @param socket   a Socket.IO-style socket on "/docs"
   * @param name     document name
   * @param doc      the local replica (Doc of chorus_collab.mjs)
   * @param options  {seed?: () => Uint8Array}: content for a document the server has never seen;
   *                 {restoredEdits?: number}: the Doc holds that many edits kept from an earlier
   *                 page (OfflineStore) that the server may lack: they wait like offline edits
   *                 {epoch?: number}: the epoch the Doc belongs to (0 by default)
   */
  constructor(socket, name, doc, options = {}) {
    this.socket = socket;
    this.name = name;
    this.doc = doc;
    this.seed = options.seed;
    this.joined = false;
    this.pending = [];          // [{bytes, edits, inflight, sentAt}], oldest first
    this.peers = new Map();     // socket id -> awareness state
    this.localState = null;
    this.recordAcks = false;    // tests: keep every acknowledged update in `acked`
    this.acked = [];
    // rejoins: doc:join answered; resumes: connections recovered without a join.
    this.stats = { sent: 0, acked: 0, received: 0, rejoins: 0, resumes: 0 };
    this.onRemoteDeltas = null;  // ([delta, ...]) => void: apply remote changes to the editor
    this.inbox = [];             // remote updates not applied yet (see #receive)
    this.inboxTimer = null;
    this.listeners = new Map();
    this.generation = 0;
    this.awarenessTimer = null;
    this.lastAwarenessAt = 0;
    this.restoredEdits = options.restoredEdits ?? 0;
    this.epoch = options.epoch ?? 0;
    this.carrying = false;  // a carry-over to a newer epoch is under way: nothing else is sent
    if (this.restoredEdits > 0) {
      // Counted while they wait; the join replaces this entry with what the server lacks, so
      // no bytes are encoded for it before then.
      this.pending.push({ bytes: null, edits: this.restoredEdits, inflight: false, sentAt: 0 });
    }

    socket.on("connect", () => {
      if (socket.recovered && this.stats.rejoins > 0) this.#resumed();
      else this.join();
    });
    socket.on("disconnect", () => this.#dropped());
    socket.on("doc:update", (docName, update) => {
      if (docName !== this.name) return;
      this.stats.received++;
      this.#receive(toBytes(update));
    });
    socket.on("awareness", (docName, id, state) => {
      if (docName !== this.name) return;
      this.#setPeer(id, state ?? null);
      this.#emit("peers");
    });
    this.resendTimer = setInterval(() => this.#resendStale(), 1000);
    if (socket.connected) this.join();
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
    return () => this.listeners.get(event).delete(fn);
  }

  #emit(event, ...args) {
    for (const fn of this.listeners.get(event) ?? []) {
      try { fn(...args); } catch (e) { console.error(e); }
    }
  }

  /** Local edits waiting for the server's acknowledgement. */
  get waitingEdits() {
    return this.pending.reduce((n, p) => n + p.edits, 0);
  }

  /** Sends what the Doc collected since the last call; `edits` counts them for the status. */
  commitLocal(edits = 1) {
    if (!this.doc.hasLocalChanges) return;
    const entry = { bytes: this.doc.takeUpdate(), edits, inflight: false, sentAt: 0 };
    this.pending.push(entry);
    this.#emit("update", entry.bytes, edits);
    this.#send(entry);
    this.#emit("status");
  }

  join() {
    this.joined = false;
    const generation = ++this.generation;
    if (this.carrying) return;
    this.socket.emit("doc:join", this.name, this.doc.stateVector(), this.epoch, (res) => {
      if (generation !== this.generation || !this.socket.connected) return;
      if (res && !res.ok && typeof res.epoch === "number" && res.epoch > this.epoch) {
        this.#carry();
        return;
      }
      if (!res || !res.ok) {
        this.#emit("error", (res && res.error) || "doc:join refused");
        setTimeout(() => { if (generation === this.generation && this.socket.connected) this.join(); }, 2000);
        return;
      }
      this.#joined(res);
    });
  }

  // The server is at a newer epoch: hand it the Doc's whole state to carry over, then let the
  // page load the new epoch. Retried on the next connection if the answer is lost (the server
  // carries what it has not carried yet, so nothing comes twice).
  #carry() {
    if (this.carrying) return;
    this.carrying = true;
    this.joined = false;
    this.#emit("status");
    this.socket.emit("doc:carry", this.name, this.epoch, this.doc.encodeStateAsUpdate(), (res) => {
      if (res && res.ok) {
        this.pending = [];
        this.#emit("epoch", res.epoch, { inserted: res.inserted, deleted: res.deleted });
        return;
      }
      this.carrying = false;
      if (res && typeof res.epoch === "number" && res.epoch > this.epoch + 1) {
        // Two epochs or more behind: the server no longer has what our edits refer to.
        this.pending = [];
        this.#emit("epoch", res.epoch, { lost: this.waitingEdits, error: res.error });
        return;
      }
      this.#emit("error", (res && res.error) || "doc:carry refused");
    });
  }

  #joined(res) {
    if (typeof res.epoch === "number") this.epoch = res.epoch;
    const serverVector = toBytes(res.stateVector);
    this.inbox.push(toBytes(res.update));
    this.flushInbox();
    if (this.seed && isEmptyStateVector(serverVector) && this.doc.length === 0 && this.pending.length === 0) {
      // Every client seeds with the same bytes (one fixed client id): racing seeds merge.
      const seed = this.seed();
      this.inbox.push(seed);
      this.flushInbox();
      this.pending.push({ bytes: seed, edits: 0, inflight: false, sentAt: 0 });
    } else if (this.pending.length > 0 || ahead(this.doc.stateVector(), serverVector)) {
      // Edits the server has not acknowledged, or (a server restored from an old backup)
      // characters it does not have: send everything it lacks in one update.
      const edits = this.waitingEdits;
      this.pending = [{ bytes: this.doc.encodeStateAsUpdate(serverVector), edits, inflight: false, sentAt: 0 }];
      if (this.stats.rejoins > 0 || this.restoredEdits > 0) this.#emit("merged", edits);
    }
    this.restoredEdits = 0;
    this.stats.rejoins++;
    this.peers.clear();
    for (const p of res.awareness ?? []) {
      if (p && p.id && p.state) this.peers.set(p.id, p.state);
    }
    this.joined = true;
    for (const entry of this.pending) this.#send(entry);
    if (this.localState) this.socket.emit("awareness", this.name, this.localState);
    this.#emit("joined");
    this.#emit("peers");
    this.#emit("status");
  }

  // Recovered: the server still has this socket in the document and sent what it missed.
  #resumed() {
    this.generation++;  // an answer to a join sent before the drop is moot
    this.stats.resumes++;
    this.joined = true;
    for (const entry of this.pending) this.#send(entry);  // acknowledgements lost in the drop
    if (this.localState) this.socket.emit("awareness", this.name, this.localState);
    this.#emit("resumed");
    this.#emit("peers");
    this.#emit("status");
  }

  #dropped() {
    this.joined = false;
    this.generation++;
    for (const entry of this.pending) entry.inflight = false;
    // The peers stay: a recovered connection brings their changes, a join replaces them.
    this.#emit("status");
  }

  #send(entry) {
    if (!this.joined || this.carrying || !this.socket.connected || entry.bytes === null) return;
    entry.inflight = true;
    entry.sentAt = Date.now();
    this.stats.sent++;
    this.socket.emit("doc:update", this.name, entry.bytes, this.epoch, (res) => {
      if (res && !res.ok && typeof res.epoch === "number" && res.epoch > this.epoch) {
        entry.inflight = false;
        this.#carry();
        return;
      }
      if (res && res.ok) {
        const at = this.pending.indexOf(entry);
        if (at >= 0) this.pending.splice(at, 1);
        this.stats.acked++;
        if (this.recordAcks) this.acked.push(entry.bytes);
        this.#emit("status");
      } else {
        entry.inflight = false;
        this.#emit("error", (res && res.error) || "update refused");
        if (res && /join/.test(res.error || "")) this.join();
      }
    });
  }

  #resendStale() {
    if (!this.joined) return;
    const now = Date.now();
    for (const entry of this.pending) {
      if (!entry.inflight || now - entry.sentAt > RESEND_AFTER_MS) this.#send(entry);
    }
  }

  // Remote updates arriving in a burst are applied together, a task later: one editor
  // transaction batch (one DOM update and layout) instead of one per message. Until then they
  // are in neither the Doc nor the editor, which therefore stay identical for local edits.
  #receive(bytes) {
    if (bytes.length === 0) return;
    this.inbox.push(bytes);
    if (this.inboxTimer === null) this.inboxTimer = setTimeout(() => this.flushInbox(), 0);
  }

  /** Applies the received updates to the Doc and hands their deltas to the editor. */
  flushInbox() {
    if (this.inboxTimer !== null) clearTimeout(this.inboxTimer);
    this.inboxTimer = null;
    const deltas = [];
    for (const bytes of this.inbox.splice(0)) {
      if (bytes.length === 0) continue;
      try {
        const delta = this.doc.applyUpdate(bytes);
        if (delta.length > 0) deltas.push(delta);
        this.#emit("update", bytes, 0);
      } catch (e) {
        console.warn("chorus demo: update rejected", e);
      }
    }
    if (deltas.length > 0 && this.onRemoteDeltas) this.onRemoteDeltas(deltas);
    this.#emit("remote", deltas);
  }

  #setPeer(id, state) {
    const had = this.peers.get(id);
    if (state === null) {
      if (had) {
        this.peers.delete(id);
        this.#emit("leave", id, had);
      }
      return;
    }
    this.peers.set(id, state);
    if (!had) this.#emit("join", id, state);
  }

  /** Publishes this user's presence (name, color, cursor, typing); throttled. */
  setLocalState(state) {
    this.localState = state;
    if (this.awarenessTimer !== null) return;
    const wait = Math.max(0, this.lastAwarenessAt + AWARENESS_EVERY_MS - Date.now());
    this.awarenessTimer = setTimeout(() => {
      this.awarenessTimer = null;
      this.lastAwarenessAt = Date.now();
      if (this.joined && this.socket.connected) this.socket.emit("awareness", this.name, this.localState);
    }, wait);
  }

  /** Relative position (bytes) -> index in the current text, or null. */
  resolve(encoded) {
    const bytes = typeof encoded === "string" ? fromBase64(encoded) : null;
    return bytes ? this.doc.resolve(bytes) : null;
  }

  relative(pos, assoc = 0) {
    return toBase64(this.doc.relativePosition(pos, assoc));
  }

  get status() {
    if (this.joined) return "connected";
    if (typeof navigator === "object" && navigator.onLine === false) return "offline";
    return this.stats.rejoins === 0 ? "connecting" : "reconnecting";
  }

  destroy() {
    clearInterval(this.resendTimer);
    if (this.inboxTimer !== null) clearTimeout(this.inboxTimer);
    if (this.awarenessTimer !== null) clearTimeout(this.awarenessTimer);
  }
}
