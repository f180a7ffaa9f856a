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
// Database "chorus-demo": store "snapshots" {tab, doc, bytes, edits, savedAt} keyed by tab;
// store "updates" {id (auto), tab, doc, bytes, edits}, indexed by tab and by doc.

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
   * Resolves with {store, edits} (edits: how many of the merged edits were unacknowledged
   * when they were kept), or {store: null, edits: 0} when IndexedDB is not available.
   */
  static async open(docName, doc) {
    if (typeof indexedDB === "undefined") return { store: null, edits: 0 };
    let db;
    try {
      db = await openDb();
    } catch (e) {
      console.warn("chorus demo: no offline copy (IndexedDB)", e);
      return { store: null, edits: 0 };
    }
    const store = new OfflineStore(db, docName, doc);
    await store.#holdLock();
    const edits = await store.#takeOver();
    return { store, edits };
  }

  constructor(db, docName, doc) {
    this.db = db;
    this.docName = docName;
    this.doc = doc;
    this.tab = randomTab();
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
    let edits = 0;
    const apply = (bytes) => {
      try {
        this.doc.applyUpdate(bytes);
      } catch (e) {
        console.warn("chorus demo: a kept update was rejected", e);
      }
    };
    for (const s of snapshots) {
      apply(s.bytes);
      edits += s.edits || 0;
    }
    updates.sort((a, b) => a.id - b.id);
    for (const u of updates) {
      apply(u.bytes);
      edits += u.edits || 0;
    }
    const gone = (tab) => live !== null && !live.has(tab);
    const write = this.db.transaction(["snapshots", "updates"], "readwrite");
    write.objectStore("snapshots").put({ tab: this.tab, doc: this.docName, bytes: this.doc.encodeStateAsUpdate(), edits, savedAt: Date.now() });
    for (const s of snapshots) if (gone(s.tab)) write.objectStore("snapshots").delete(s.tab);
    for (const u of updates) if (gone(u.tab)) write.objectStore("updates").delete(u.id);
    await done(write);
    return edits;
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
      tx.objectStore("updates").add({ tab: this.tab, doc: this.docName, bytes, edits });
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
      tx.objectStore("snapshots").put({ tab: this.tab, doc: this.docName, bytes, edits, savedAt: Date.now() });
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
