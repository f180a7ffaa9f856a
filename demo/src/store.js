// OfflineStore: the page's copy of a document in IndexedDB, so that edits nobody has
// acknowledged survive a reload, a closed tab or a crashed browser, and reach the server when
// the document is opened again.
//
// Each tab writes only its own records: a snapshot (the whole document as one update, with
// the number of edits then unacknowledged) and the updates appended since (every local
// update as it is sent, every remote one as it is applied: a local edit can refer to remote
// characters, so both are needed to rebuild the document). Every few seconds, and whenever
// everything is acknowledged, the snapshot is rewritten and the appended updates go.
//
// A page that opens the document merges every record of it into its Doc before it joins
// (updates are idempotent: a record the server already has costs nothing), writes its own
// snapshot holding them all, and deletes the records of tabs that are gone, in one
// transaction. A tab is gone when it no longer holds its Web Lock; without Web Locks (an
// insecure origin) other tabs' records are merged but never deleted.
//
// Records name the document's epoch (collab_service.h; absent: 0). A page merges the records
// of the newest epoch among them; those of older epochs (tabs that were offline when the
// server started a new one) are handed back as `stale` [{epoch, bytes}], one state per epoch,
// for the page to carry over (doc:carry), and are deleted like the others.
//
// Database "chorus-demo": store "snapshots" {tab, doc, epoch, bytes, edits, savedAt} keyed by
// tab; store "updates" {id (auto), tab, doc, epoch, bytes, edits}, indexed by tab and by doc.

const DB_NAME = "chorus-demo";
const DB_VERSION = 1;
const COMPACT_AFTER_UPDATES = 200;
const COMPACT_IDLE_MS = 2000;

const request = (req) =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });

const done = (tx) =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
  });

function openDb() {
  const req = indexedDB.open(DB_NAME, DB_VERSION);
  req.onupgradeneeded = () => {
    const db = req.result;
    const snapshots = db.createObjectStore("snapshots", { keyPath: "tab" });
    snapshots.createIndex("doc", "doc");
    const updates = db.createObjectStore("updates", { keyPath: "id", autoIncrement: true });
    updates.createIndex("tab", "tab");
    updates.createIndex("doc", "doc");
  };
  return request(req);
}

function randomTab() {
  const words = new Uint32Array(2);
  crypto.getRandomValues(words);
  return words[0].toString(36) + words[1].toString(36);
}

export class OfflineStore {
  /**
   * Opens the store for one document and merges into `doc` what earlier tabs kept of it.
   * Resolves with {store, edits, epoch, stale} (edits: how many of the merged edits were
   * unacknowledged when they were kept; epoch: the epoch they belong to; stale: older epochs'
   * states to carry over), or {store: null, edits: 0, epoch: 0, stale: []} when IndexedDB is
   * not available.
   */
  static async open(docName, doc) {
    const none = { store: null, edits: 0, epoch: 0, stale: [] };
    if (typeof indexedDB === "undefined") return none;
    let db;
    try {
      db = await openDb();
    } catch (e) {
      console.warn("chorus demo: no offline copy (IndexedDB)", e);
      return none;
    }
    const store = new OfflineStore(db, docName, doc);
    await store.#holdLock();
    const { edits, stale } = await store.#takeOver();
    return { store, edits, epoch: store.epoch, stale };
  }

  constructor(db, docName, doc) {
    this.db = db;
    this.docName = docName;
    this.doc = doc;
    this.tab = randomTab();
    this.epoch = 0;
    this.unacknowledged = () => 0;  // set by the page: edits the server has not acknowledged
    this.appended = 0;
    this.compactTimer = null;
    this.writes = Promise.resolve();  // every write, in order (tests wait for it)
    this.failed = false;
  }

  async #holdLock() {
    if (!navigator.locks) return;
    await new Promise((held) => {
      navigator.locks.request(`chorus-demo-tab-${this.tab}`, () => {
        held();
        return new Promise(() => {});  // held as long as the page lives
      });
    });
  }

  async #liveTabs() {
    if (!navigator.locks) return null;
    const { held = [] } = await navigator.locks.query();
    const prefix = "chorus-demo-tab-";
    return new Set(held.filter((l) => l.name?.startsWith(prefix)).map((l) => l.name.slice(prefix.length)));
  }

  // Merges every record of this document into the Doc; keeps them as this tab's snapshot and
  // deletes the gone tabs' records.
  async #takeOver() {
    const live = await this.#liveTabs();
    const tx = this.db.transaction(["snapshots", "updates"], "readonly");
    const [snapshots, updates] = await Promise.all([
      request(tx.objectStore("snapshots").index("doc").getAll(this.docName)),
      request(tx.objectStore("updates").index("doc").getAll(this.docName)),
    ]);
    const epochOf = (r) => r.epoch ?? 0;
    this.epoch = Math.max(0, ...snapshots.map(epochOf), ...updates.map(epochOf));
    let edits = 0;
    // One Doc per epoch: the newest is the page's; older ones become states to carry over.
    const docs = new Map([[this.epoch, this.doc]]);
    const docFor = (epoch) => {
      if (!docs.has(epoch)) docs.set(epoch, new this.doc.constructor());
      return docs.get(epoch);
    };
    const apply = (record) => {
      try {
        docFor(epochOf(record)).applyUpdate(record.bytes);
      } catch (e) {
        console.warn("chorus demo: a kept update was rejected", e);
      }
    };
    for (const s of snapshots) {
      apply(s);
      if (epochOf(s) === this.epoch) edits += s.edits || 0;
    }
    updates.sort((a, b) => a.id - b.id);
    for (const u of updates) {
      apply(u);
      if (epochOf(u) === this.epoch) edits += u.edits || 0;
    }
    const stale = [];
    for (const [epoch, d] of docs) {
      if (epoch === this.epoch) continue;
      stale.push({ epoch, bytes: d.encodeStateAsUpdate() });
      d.free?.();
    }
    const gone = (tab) => live !== null && !live.has(tab);
    const write = this.db.transaction(["snapshots", "updates"], "readwrite");
    write.objectStore("snapshots").put({
      tab: this.tab, doc: this.docName, epoch: this.epoch, bytes: this.doc.encodeStateAsUpdate(), edits, savedAt: Date.now(),
    });
    for (const s of snapshots) if (gone(s.tab)) write.objectStore("snapshots").delete(s.tab);
    for (const u of updates) if (gone(u.tab)) write.objectStore("updates").delete(u.id);
    await done(write);
    return { edits, stale };
  }

  /** The document moved to `epoch` (a join said so, or this tab's state was carried over):
   *  this tab's records now belong to it. With `reset`, they are emptied (the page loads the
   *  new epoch from the server), leaving an empty snapshot that names the epoch: the next page
   *  then treats what other tabs keep of older epochs as states to carry, not to merge. */
  setEpoch(epoch, { reset = false } = {}) {
    if (epoch === this.epoch && !reset) return this.writes;
    this.epoch = epoch;
    if (!reset) return this.compact();
    const empty = new this.doc.constructor();
    const bytes = empty.encodeStateAsUpdate();
    empty.free?.();
    return this.#queue(async () => {
      const tx = this.db.transaction(["snapshots", "updates"], "readwrite");
      tx.objectStore("snapshots").put({ tab: this.tab, doc: this.docName, epoch, bytes, edits: 0, savedAt: Date.now() });
      const keys = await request(tx.objectStore("updates").index("tab").getAllKeys(this.tab));
      for (const key of keys) tx.objectStore("updates").delete(key);
      return done(tx);
    });
  }

  #queue(fn) {
    this.writes = this.writes.then(fn).catch((e) => {
      if (!this.failed) console.warn("chorus demo: the offline copy could not be written", e);
      this.failed = true;
    });
    return this.writes;
  }

  /** Keeps one update (local: `edits` > 0 of this user's edits; remote: 0). */
  append(bytes, edits = 0) {
    if (bytes.length === 0) return;
    this.#queue(() => {
      const tx = this.db.transaction("updates", "readwrite");
      tx.objectStore("updates").add({ tab: this.tab, doc: this.docName, epoch: this.epoch, bytes, edits });
      return done(tx);
    });
    if (++this.appended >= COMPACT_AFTER_UPDATES) this.compact();
    else this.#compactLater();
  }

  #compactLater() {
    if (this.compactTimer !== null) clearTimeout(this.compactTimer);
    this.compactTimer = setTimeout(() => this.compact(), COMPACT_IDLE_MS);
  }

  /** Rewrites this tab's snapshot from the Doc and drops its appended updates. */
  compact() {
    if (this.compactTimer !== null) clearTimeout(this.compactTimer);
    this.compactTimer = null;
    this.appended = 0;
    // Taken now, in the same task as the Doc's state: the updates queued before it are in it.
    const bytes = this.doc.encodeStateAsUpdate();
    const edits = this.unacknowledged();
    return this.#queue(async () => {
      const tx = this.db.transaction(["snapshots", "updates"], "readwrite");
      tx.objectStore("snapshots").put({ tab: this.tab, doc: this.docName, epoch: this.epoch, bytes, edits, savedAt: Date.now() });
      const keys = await request(tx.objectStore("updates").index("tab").getAllKeys(this.tab));
      for (const key of keys) tx.objectStore("updates").delete(key);
      return done(tx);
    });
  }

  /** Resolves once every write so far is in IndexedDB. */
  flushed() {
    return this.writes;
  }
}
