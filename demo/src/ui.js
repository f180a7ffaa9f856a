// The page around the editor: who am I, who is here, status pill, chat, toasts.

export const PALETTE = ["#e5484d", "#f76b15", "#d6a000", "#30a46c", "#12a594", "#0090ff", "#6d5dfc", "#d6409f"];
const ADJECTIVES = ["Brave", "Calm", "Clever", "Curious", "Eager", "Gentle", "Happy", "Jolly", "Lucky", "Quick", "Sunny", "Witty"];
const ANIMALS = ["Otter", "Panda", "Fox", "Heron", "Lynx", "Koala", "Puffin", "Badger", "Falcon", "Marten", "Wombat", "Ibis"];

const $ = (id) => document.getElementById(id);
const pick = (list) => list[Math.floor(Math.random() * list.length)];

function stored(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}
function store(key, value) {
  try { localStorage.setItem(key, value); } catch { /* private mode: not remembered */ }
}

/** Colors and names come from other people's browsers: only "#rgb"-style colors and short
 *  names go into the page (a color ends up inside style attributes). */
export function safeColor(color) {
  return typeof color === "string" && /^#[0-9a-fA-F]{3,8}$/.test(color) ? color : "#8a90a6";
}
export function safeName(name) {
  const text = typeof name === "string" ? name.trim() : "";
  return text ? [...text].slice(0, 40).join("") : "Anonymous";
}

export function initials(name) {
  const words = String(name).trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return "?";
  const first = [...words[0]][0] ?? "?";
  const second = words.length > 1 ? [...words[words.length - 1]][0] ?? "" : "";
  return (first + second).toUpperCase();
}

/** Name and color of this user: ?name=, then localStorage, else asked once. */
export async function askUser(fromUrl) {
  let name = (fromUrl || stored("chorus.name") || "").trim().slice(0, 40);
  if (!name) {
    const dialog = $("name-dialog");
    const input = $("name-input");
    input.value = `${pick(ADJECTIVES)} ${pick(ANIMALS)}`;
    dialog.showModal();
    input.select();
    name = await new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(input.value.trim().slice(0, 40)), { once: true });
      dialog.addEventListener("cancel", (e) => e.preventDefault());
    });
    if (!name) name = `${pick(ADJECTIVES)} ${pick(ANIMALS)}`;
  }
  if (!fromUrl) store("chorus.name", name);
  let color = stored("chorus.color");
  if (!PALETTE.includes(color)) {
    color = pick(PALETTE);
    store("chorus.color", color);
  }
  return { name, color };
}

/** A color nobody else here uses (remembered), or `current` when all are taken. */
export function freeColor(current, taken) {
  if (!taken.has(current)) return current;
  const free = PALETTE.filter((c) => !taken.has(c));
  if (free.length === 0) return current;
  const color = pick(free);
  store("chorus.color", color);
  return color;
}

// ---- status ------------------------------------------------------------------------------
const STATUS_TEXT = { connected: "Connected", connecting: "Connecting…", reconnecting: "Reconnecting…", offline: "Offline" };

let lastStatus = "";
export function setStatus(state, waiting) {
  if (lastStatus === `${state}/${waiting}`) return;
  lastStatus = `${state}/${waiting}`;
  const el = $("status");
  el.className = `status ${state}`;
  el.querySelector(".label").textContent = STATUS_TEXT[state] ?? state;
  el.querySelector(".waiting").textContent = waiting > 0 ? `${waiting} edit${waiting === 1 ? "" : "s"} waiting` : "";
  el.title = waiting > 0 ? "Edits are kept here and sent as soon as the server is reachable" : "";
}

export function setTransport(text) {
  const label = text ? `transport: ${text}` : "";
  if ($("transport").textContent !== label) $("transport").textContent = label;
}

export function setCounts(text) {
  const trimmed = text.trim();
  const words = trimmed ? trimmed.split(/\s+/).length : 0;
  $("counts").textContent = `${words} word${words === 1 ? "" : "s"} · ${text.length} character${text.length === 1 ? "" : "s"}`;
}

// ---- people ------------------------------------------------------------------------------
function avatar(person, extra = "") {
  const el = document.createElement("span");
  el.className = `avatar ${extra}`.trim();
  el.style.background = person.color;
  el.textContent = initials(person.name);
  el.title = person.name + (person.typing ? " (typing)" : "");
  return el;
}

/** people: [{id, name, color, typing, me}] with me first. */
export function renderPeople(people) {
  const bar = $("avatars");
  bar.replaceChildren();
  const shown = people.slice(0, 6);
  for (const p of shown) bar.append(avatar(p, (p.me ? "me " : "") + (p.typing ? "typing" : "")));
  if (people.length > shown.length) {
    const more = avatar({ name: `${people.length - shown.length} more`, color: "" }, "more");
    more.textContent = `+${people.length - shown.length}`;
    bar.append(more);
  }

  const list = $("people");
  list.replaceChildren();
  for (const p of people) {
    const li = document.createElement("li");
    li.dataset.peer = p.id;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = p.name;
    if (p.me) {
      const you = document.createElement("span");
      you.className = "you";
      you.textContent = " (you)";
      who.append(you);
    }
    li.append(avatar(p), who);
    if (p.typing) {
      const what = document.createElement("span");
      what.className = "what";
      what.textContent = "typing…";
      li.append(what);
    }
    list.append(li);
  }
  $("people-count").textContent = String(people.length);

  const typing = people.filter((p) => p.typing && !p.me).map((p) => p.name);
  const line = $("typing");
  if (typing.length === 0) line.textContent = "";
  else if (typing.length === 1) line.textContent = `${typing[0]} is typing…`;
  else if (typing.length === 2) line.textContent = `${typing[0]} and ${typing[1]} are typing…`;
  else line.textContent = `${typing.length} people are typing…`;
}

// ---- toasts ------------------------------------------------------------------------------
// Every toast's text, newest last (the last 100): toasts fade after 3.5 s, the log stays
// (tests read it through window.chorusDemo.toasts).
export const toastLog = [];

export function toast(text, color) {
  toastLog.push(String(text));
  if (toastLog.length > 100) toastLog.shift();
  const box = $("toasts");
  const el = document.createElement("div");
  el.className = "toast";
  if (color) {
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = color;
    el.append(swatch);
  }
  el.append(text);
  box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => {
    el.classList.add("out");
    setTimeout(() => el.remove(), 350);
  }, 3500);
}

// ---- chat --------------------------------------------------------------------------------
function formatTime(ms) {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
}

export function addMessage(msg, mine) {
  const list = $("messages");
  list.querySelector(".empty")?.remove();
  const li = document.createElement("li");
  li.className = `msg${mine ? " mine" : ""}`;
  const meta = document.createElement("span");
  meta.className = "meta";
  const who = document.createElement("b");
  who.textContent = mine ? "You" : msg.name;
  if (!mine) who.style.color = msg.color;
  meta.append(who, ` · ${formatTime(msg.at)}`);
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = msg.text;
  li.append(meta, text);
  list.append(li);
  while (list.children.length > 200) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

/** Calls send(text) for each message typed in the chat box. */
export function onChatSubmit(send) {
  const form = $("chat-form");
  const input = $("chat-input");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
}

export function setDocName(name) {
  $("doc-name").textContent = name;
  document.title = `${name} · Chorus`;
  $("copy-link").addEventListener("click", async () => {
    const url = new URL(location.href);
    for (const key of [...url.searchParams.keys()]) if (key !== "doc") url.searchParams.delete(key);
    try {
      await navigator.clipboard.writeText(url.href);
      toast("Link copied: open it in another window to edit together");
    } catch {
      toast(url.href);
    }
  });
}
