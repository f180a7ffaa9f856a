// Chorus collaborative editor: CodeMirror 6 + the Chorus CRDT (WebAssembly) + the Chorus
// browser SDK, against chorus-server's "/docs" namespace (documents) and its main-namespace
// publish app (chat).
//
// URL parameters: doc (document name, default "welcome"), name (skip the name prompt),
// transport (websocket, sse or polling; comma-separated to allow several).
import { io } from "/chorus/chorus.mjs";
import { Doc } from "/chorus/chorus_collab.mjs";
import { DocSync } from "./sync.js";
import { OfflineStore } from "./store.js";
import { createEditor, showCursors } from "./editor.js";
import { welcomeSeed } from "./welcome.js";
import * as ui from "./ui.js";

const params = new URLSearchParams(location.search);
const requested = params.get("doc") ?? "";
const docName = /^[A-Za-z0-9._-]{1,128}$/.test(requested) ? requested : "welcome";
const transports = (params.get("transport") ?? "").split(",").map((s) => s.trim())
  .filter((s) => ["websocket", "sse", "polling"].includes(s));

ui.setDocName(docName);
const user = await ui.askUser(params.get("name"));

// A token from the REST login, so that the demo also works against a server started with
// --jwt-secret; without one the server accepts anyone.
async function login(name) {
  try {
    const res = await fetch("/api/login", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }),
    });
    return res.ok ? (await res.json()).token : null;
  } catch {
    return null;
  }
}
const token = await login(user.name);

const options = { reconnectionDelay: 300, reconnectionDelayMax: 2000 };
if (transports.length > 0) options.transports = transports;
if (token) options.auth = { token };
// What earlier pages kept of this document (IndexedDB): edits made offline and never
// acknowledged survive a reload and are merged once the server is reached. Read before the
// sockets exist: every handler below is in place before they can connect.
const doc = new Doc();
const { store, edits: restoredEdits, epoch, stale } = await OfflineStore.open(docName, doc);

const docSocket = io("/docs", options);
const chatSocket = io("/", options);
// Copies other tabs kept from an older epoch of the document (offline when the server
// dropped its tombstones): carried over before the join (emits go out in order).
if (stale.length > 0) {
  docSocket.once("connect", () => {
    for (const s of stale) {
      docSocket.emit("doc:carry", docName, s.epoch, s.bytes, (res) => {
        if (res?.ok) ui.toast("Edits kept from an earlier version of this document were merged");
        else ui.toast(`Edits kept from an older version could not be merged: ${res?.error ?? "no answer"}`);
      });
    }
  });
}
const sync = new DocSync(docSocket, docName, doc, {
  seed: docName === "welcome" ? welcomeSeed : undefined, restoredEdits, epoch,
});
if (store) {
  store.unacknowledged = () => sync.waitingEdits;
  sync.on("update", (bytes, edits) => store.append(bytes, edits));
}

// ---- presence ------------------------------------------------------------------------------
let typing = false;
let typingTimer = null;
let cursorTouched = false;

function publishPresence() {
  const sel = view.state.selection.main;
  const cursor = cursorTouched ? { anchor: sync.relative(sel.anchor), head: sync.relative(sel.head) } : null;
  sync.setLocalState({ user, cursor, typing });
}

function people() {
  const list = [{ id: "me", name: user.name, color: user.color, typing, me: true }];
  const others = [];
  for (const [id, state] of sync.peers) {
    if (!state || !state.user) continue;
    others.push({ id, name: ui.safeName(state.user.name), color: ui.safeColor(state.user.color), typing: !!state.typing });
  }
  others.sort((a, b) => a.name.localeCompare(b.name));
  return list.concat(others);
}

let renderQueued = false;
let peopleQueued = false;
// Cursors follow every change of the text; the people list only changes with awareness.
function renderPresence(withPeople = true) {
  peopleQueued ||= withPeople;
  if (renderQueued) return;
  renderQueued = true;
  // Never from inside an editor update: dispatch after it.
  queueMicrotask(() => {
    renderQueued = false;
    const cursors = [];
    for (const [id, state] of sync.peers) {
      if (!state?.user || !state.cursor) continue;
      const head = sync.resolve(state.cursor.head);
      if (head === null) continue;  // its character has not arrived yet
      const anchor = sync.resolve(state.cursor.anchor) ?? head;
      cursors.push({
        id, name: ui.safeName(state.user.name), color: ui.safeColor(state.user.color), typing: !!state.typing, head, anchor,
      });
    }
    showCursors(view, cursors);
    if (peopleQueued) ui.renderPeople(people());
    peopleQueued = false;
  });
}

// ---- editor ------------------------------------------------------------------------------
const view = createEditor(document.getElementById("editor"), sync, {
  onSelection(v) {
    if (v.hasFocus) cursorTouched = true;
    if (cursorTouched) publishPresence();
  },
  onLocalEdit() {
    cursorTouched = true;
    if (!typing) {
      typing = true;
      ui.renderPeople(people());
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => {
      typing = false;
      publishPresence();
      ui.renderPeople(people());
    }, 1500);
    publishPresence();
    countsSoon();
    // Remote cursors need no work here: their decorations map through local changes.
  },
});

let countsTimer = null;
function countsSoon() {
  if (countsTimer !== null) return;
  countsTimer = setTimeout(() => {
    countsTimer = null;
    ui.setCounts(view.state.doc.toString());
  }, 250);
}
ui.setCounts("");

// ---- status ------------------------------------------------------------------------------
function transportName() {
  try {
    return docSocket.io?.engine?.transport?.name ?? "";
  } catch {
    return "";
  }
}

function renderStatus() {
  const state = sync.status;
  // While connected, only edits whose acknowledgement is late count as waiting.
  const now = Date.now();
  const waiting = state === "connected"
    ? sync.pending.filter((p) => p.inflight && now - p.sentAt > 1500).reduce((n, p) => n + p.edits, 0)
    : sync.waitingEdits;
  ui.setStatus(state, waiting);
  ui.setTransport(state === "connected" ? transportName() : "");
}
setInterval(renderStatus, 1000);

sync.on("status", renderStatus);
sync.on("remote", () => { renderPresence(false); countsSoon(); });
sync.on("peers", () => renderPresence(true));
sync.on("joined", () => {
  // Two people with one color are hard to tell apart: take another while some are free.
  const taken = new Set([...sync.peers.values()].map((s) => s?.user?.color));
  user.color = ui.freeColor(user.color, taken);
  store?.setEpoch(sync.epoch);
  publishPresence();
  renderStatus();
  renderPresence();
});
// Back from a short drop with the session recovered: nothing was rejoined or resynced.
sync.on("resumed", () => {
  renderStatus();
  renderPresence();
});
// The server started a newer epoch (it dropped the document's tombstones) while this page
// held the old one: our edits were carried over; load the new epoch afresh.
sync.on("epoch", async (newEpoch, info) => {
  if (info.lost) ui.toast(`${info.lost} offline edits could not be merged: ${info.error}`);
  try {
    await store?.setEpoch(newEpoch, { reset: true });
  } finally {
    location.reload();
  }
});
sync.on("merged", (edits) => { if (edits > 0) ui.toast(`Back online: ${edits} edit${edits === 1 ? "" : "s"} merged`); });
sync.on("error", (message) => console.warn("chorus demo:", message));

// Join / leave toasts: someone reloading or reconnecting without recovery shows up as leave +
// join within a moment; both are swallowed. A short drop that recovers shows neither (the
// server keeps the socket in the document for a grace period).
const leaving = new Map();  // name|color -> timer
const personKey = (state) => `${state.user?.name}|${state.user?.color}`;
sync.on("join", (id, state) => {
  const key = personKey(state);
  if (leaving.has(key)) {
    clearTimeout(leaving.get(key));
    leaving.delete(key);
    return;
  }
  if (state.user) ui.toast(`${ui.safeName(state.user.name)} joined`, ui.safeColor(state.user.color));
});
sync.on("leave", (id, state) => {
  const key = personKey(state);
  clearTimeout(leaving.get(key));
  leaving.set(key, setTimeout(() => {
    leaving.delete(key);
    if (state.user) ui.toast(`${ui.safeName(state.user.name)} left`, ui.safeColor(state.user.color));
  }, 2500));
});

docSocket.on("disconnect", renderStatus);
docSocket.on("connect_error", renderStatus);
docSocket.on("connect", () => {
  renderStatus();
  docSocket.io?.engine?.on?.("upgrade", renderStatus);
});

// The browser knows before the transport does: go offline at once and come back as soon as
// the network does, instead of waiting for a heartbeat timeout or a backoff.
window.addEventListener("offline", () => {
  docSocket.disconnect();
  chatSocket.disconnect();
  renderStatus();
});
window.addEventListener("online", () => {
  docSocket.connect();
  chatSocket.connect();
  renderStatus();
});

// Closing or leaving the tab says goodbye, so the others see "left" at once. Without it the
// server notices a vanished WebSocket as soon as its TCP connection closes, but a long-poll
// (the first transport, before the upgrade) only at the heartbeat timeout, 45 s later.
// pagehide rather than unload: it fires on close, navigation and bfcache entry alike.
window.addEventListener("pagehide", () => {
  docSocket.disconnect();
  chatSocket.disconnect();
});
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;  // back from the bfcache: join again
  docSocket.connect();
  chatSocket.connect();
});

// ---- chat --------------------------------------------------------------------------------
const chatRoom = `doc-chat:${docName}`;
chatSocket.on("connect", () => chatSocket.emit("join", chatRoom, () => {}));
chatSocket.on("chat", (msg) => {
  if (!msg || typeof msg.text !== "string" || typeof msg.name !== "string") return;
  ui.addMessage({
    name: ui.safeName(msg.name), color: ui.safeColor(msg.color), text: msg.text.slice(0, 500), at: Number(msg.at) || Date.now(),
  }, false);
});
ui.onChatSubmit((text) => {
  const msg = { name: user.name, color: user.color, text, at: Date.now() };
  ui.addMessage(msg, true);
  chatSocket.emit("publish", chatRoom, "chat", msg, () => {});
});

renderStatus();
ui.renderPeople(people());
publishPresence();  // name and color go out with the join, before any cursor

// For tests and the curious.
window.chorusDemo = { view, doc, sync, store, docSocket, chatSocket, user, docName, toasts: ui.toastLog, ready: true };

// Server time over a plain SSE route (GET /events/time), beside the realtime socket: Chorus
// serves REST, SSE and Socket.IO from one process.
if (typeof EventSource !== "undefined") {
  const clock = document.getElementById("server-time");
  const events = new EventSource("/events/time");
  events.addEventListener("time", (e) => {
    try {
      const { epochMs } = JSON.parse(e.data);
      clock.textContent = "server time " + new Date(epochMs).toLocaleTimeString();
    } catch { /* a malformed event changes nothing */ }
  });
  events.onerror = () => { clock.textContent = ""; };
}
