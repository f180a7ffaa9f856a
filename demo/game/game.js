// Chorus arena: the browser side of the game (README, "The game"). The server (GameService,
// namespace "/game") runs the simulation; this page sends inputs, draws the snapshots it gets
// (decoded by ./snapshot.js), interpolated between ticks, and shows the scoreboard with each
// player's latency (measured by a ping's acknowledgement round trip).
//
// URL parameters: name (skips the prompt), room (default "lobby"), transport (websocket, sse
// or polling; comma-separated to allow several).
//
// For tests: window.chorusGame = { me, room, connected, players() }; players() is
// [{id, name, x, y, score}] of the latest snapshot.
import { io } from "/chorus/chorus.mjs";
import { decodeSnapshot } from "./snapshot.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const requestedRoom = params.get("room") ?? "";
const roomName = /^[A-Za-z0-9._-]{1,32}$/.test(requestedRoom) ? requestedRoom : "lobby";
const transports = (params.get("transport") ?? "").split(",").map((s) => s.trim())
  .filter((s) => ["websocket", "sse", "polling"].includes(s));
$("room-name").textContent = roomName;
$("copy-link").addEventListener("click", async () => {
  const url = `${location.origin}/game/?room=${encodeURIComponent(roomName)}`;
  try { await navigator.clipboard.writeText(url); } catch { /* not allowed here: nothing to do */ }
});

// ---- name ------------------------------------------------------------------------------------
const ANIMALS = ["Otter", "Falcon", "Lynx", "Heron", "Koala", "Panda", "Badger", "Gecko", "Moose", "Orca"];
function storedName() {
  try { return localStorage.getItem("chorus.name") ?? ""; } catch { return ""; }
}
async function askName() {
  const fromUrl = (params.get("name") ?? "").trim();
  if (fromUrl) return fromUrl;
  const dialog = $("name-dialog");
  const input = $("name-input");
  input.value = storedName() || `${ANIMALS[Math.floor(Math.random() * ANIMALS.length)]} ${Math.floor(Math.random() * 90 + 10)}`;
  dialog.showModal();
  input.select();
  const name = await new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(input.value.trim()), { once: true });
    dialog.addEventListener("cancel", (e) => e.preventDefault());
  });
  try { localStorage.setItem("chorus.name", name); } catch { /* private mode */ }
  return name || "Player";
}
// The server counts bytes (24 at most): cut whole characters.
function fitName(name) {
  const enc = new TextEncoder();
  let out = "";
  for (const ch of name.replace(/[\u0000-\u001f\u007f]/g, "")) {
    if (enc.encode(out + ch).length > 24) break;
    out += ch;
  }
  return out || "Player";
}
const myName = fitName(await askName());

// ---- state -----------------------------------------------------------------------------------
const game = {
  me: null,         // my player id in the room
  room: roomName,
  connected: false,
  tickRate: 30,
  arena: { width: 1200, height: 800 },
  names: new Map(), // id -> name
  frames: [],       // recent snapshots: { t (ms on the server's tick timeline), players: Map, items }
  latest: null,
  rtt: null,
  error: null,
};
window.chorusGame = {
  get me() { return game.me; },
  get room() { return game.room; },
  get connected() { return game.connected; },
  get error() { return game.error; },
  players() {
    if (!game.latest) return [];
    return [...game.latest.players.values()].map((p) => ({
      id: p.id, name: game.names.get(p.id) ?? "", x: p.x, y: p.y, score: p.score,
    }));
  },
};

function setStatus(kind, label) {
  const el = $("status");
  el.className = `status ${kind}`;
  el.querySelector(".label").textContent = label;
}

// ---- connection ------------------------------------------------------------------------------
const options = { reconnectionDelay: 300, reconnectionDelayMax: 2000 };
if (transports.length > 0) options.transports = transports;
const socket = io("/game", options);

function setRoster(list) {
  game.names = new Map(list.map(([id, name]) => [id, name]));
}

socket.on("connect", async () => {
  setStatus("connecting", "Joining…");
  const reply = await socket.emitWithAck("join", { name: myName, room: roomName });
  if (!reply?.ok) {
    game.error = reply?.error ?? "join refused";
    setStatus("offline", game.error);
    return;
  }
  game.me = reply.id;
  game.tickRate = reply.tickRate;
  game.arena = reply.arena;
  game.frames = [];
  setRoster(reply.players);
  game.connected = true;
  game.error = null;
  setStatus("connected", "Playing");
  lastSent = null;
  sendInput(true);
  ping();
});
socket.on("disconnect", () => {
  game.connected = false;
  game.me = null;
  setStatus("reconnecting", "Reconnecting…");
});
socket.on("roster", (list) => setRoster(list));

// Snapshots: the tick says where each one sits on the server's timeline; the clock offset is
// the smallest (arrival - server time) seen, relaxing slowly so that a late burst does not
// pull the view back.
let clockOffset = null;
socket.on("s", (buf) => {
  let snap;
  try {
    snap = decodeSnapshot(buf);
  } catch (e) {
    console.warn(`ignored snapshot: ${e.message}`);
    return;
  }
  const t = (snap.tick * 1000) / game.tickRate;
  const offset = performance.now() - t;
  if (clockOffset === null || offset < clockOffset || Math.abs(offset - clockOffset) > 1000) clockOffset = offset;
  else clockOffset += (offset - clockOffset) * 0.02;
  const frame = { t, tick: snap.tick, players: new Map(snap.players.map((p) => [p.id, p])), items: snap.items };
  if (game.latest && snap.tick < game.latest.tick) game.frames = []; // the room restarted
  game.latest = frame;
  game.frames.push(frame);
  if (game.frames.length > 30) game.frames.shift();
});

// Latency: the ack's round trip, every 2 s; the last one rides along so the others see it.
async function ping() {
  if (!socket.connected) return;
  const start = performance.now();
  try {
    await socket.timeout(5000).emitWithAck("ping", { rtt: game.rtt ?? 0 });
    game.rtt = Math.round(performance.now() - start);
    $("me-latency").textContent = `${game.rtt} ms`;
  } catch {
    $("me-latency").textContent = "—";
  }
}
setInterval(ping, 2000);

// ---- input -----------------------------------------------------------------------------------
const keys = new Set();
let pointer = null; // { x, y } in arena units while a finger or the mouse is down
let seq = 0;
let lastSent = null;
let lastSentAt = 0;

function direction() {
  let dx = 0;
  let dy = 0;
  if (keys.has("ArrowLeft") || keys.has("KeyA")) dx -= 1;
  if (keys.has("ArrowRight") || keys.has("KeyD")) dx += 1;
  if (keys.has("ArrowUp") || keys.has("KeyW")) dy -= 1;
  if (keys.has("ArrowDown") || keys.has("KeyS")) dy += 1;
  if ((dx !== 0 || dy !== 0) || !pointer) {
    const len = Math.hypot(dx, dy) || 1;
    return [dx / len, dy / len];
  }
  // Toward the finger, slowing down close to it.
  const p = game.latest?.players.get(game.me);
  if (!p) return [0, 0];
  const vx = pointer.x - p.x;
  const vy = pointer.y - p.y;
  const dist = Math.hypot(vx, vy);
  if (dist < 8) return [0, 0];
  const speed = Math.min(1, dist / 60);
  return [(vx / dist) * speed, (vy / dist) * speed];
}

function sendInput(force = false) {
  if (!game.connected) return;
  const [dx, dy] = direction().map((v) => Math.round(v * 1000) / 1000);
  const now = performance.now();
  if (!force && lastSent && lastSent[0] === dx && lastSent[1] === dy) return;
  if (!force && now - lastSentAt < 50) return; // at most 20 per second (the server allows 60)
  lastSent = [dx, dy];
  lastSentAt = now;
  socket.emit("input", { seq: ++seq, dx, dy });
}
setInterval(() => sendInput(), 50);

const STEER = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "KeyW", "KeyA", "KeyS", "KeyD"]);
addEventListener("keydown", (e) => {
  if (!STEER.has(e.code) || document.querySelector("dialog[open]")) return;
  e.preventDefault();
  keys.add(e.code);
  sendInput();
});
addEventListener("keyup", (e) => {
  if (!STEER.has(e.code)) return;
  keys.delete(e.code);
  sendInput();
});
addEventListener("blur", () => { keys.clear(); pointer = null; sendInput(); });

const canvas = $("arena");
function toArena(e) {
  const r = canvas.getBoundingClientRect();
  return { x: ((e.clientX - r.left) / r.width) * game.arena.width, y: ((e.clientY - r.top) / r.height) * game.arena.height };
}
canvas.addEventListener("pointerdown", (e) => { canvas.setPointerCapture(e.pointerId); pointer = toArena(e); sendInput(); });
canvas.addEventListener("pointermove", (e) => { if (pointer) pointer = toArena(e); });
for (const type of ["pointerup", "pointercancel"]) canvas.addEventListener(type, () => { pointer = null; sendInput(); });

// ---- drawing ---------------------------------------------------------------------------------
function hue(id) { return (id * 137.508) % 360; }
function color(id) { return `hsl(${hue(id)} 75% 60%)`; }

// Positions at render time: two ticks behind the newest, interpolated between the snapshots
// around it (the newest one alone when there is nothing newer).
function interpolated() {
  const frames = game.frames;
  if (frames.length === 0 || clockOffset === null) return null;
  const delay = 2 * (1000 / game.tickRate);
  const t = performance.now() - clockOffset - delay;
  let a = frames[0];
  let b = frames[frames.length - 1];
  if (t >= b.t) return { players: b.players, items: b.items };
  for (let i = frames.length - 1; i > 0; i--) {
    if (frames[i - 1].t <= t) { a = frames[i - 1]; b = frames[i]; break; }
  }
  if (t <= a.t) return { players: a.players, items: b.items };
  const k = (t - a.t) / (b.t - a.t);
  const players = new Map();
  for (const [id, pb] of b.players) {
    const pa = a.players.get(id);
    players.set(id, pa ? { ...pb, x: pa.x + (pb.x - pa.x) * k, y: pa.y + (pb.y - pa.y) * k } : pb);
  }
  return { players, items: b.items };
}

function resize() {
  const r = canvas.getBoundingClientRect();
  const dpr = Math.min(devicePixelRatio || 1, 2);
  const w = Math.max(1, Math.round(r.width * dpr));
  const h = Math.max(1, Math.round(r.height * dpr));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
}

function draw() {
  resize();
  const ctx = canvas.getContext("2d");
  const s = canvas.width / game.arena.width;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#10131f";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.setTransform(s, 0, 0, canvas.height / game.arena.height, 0, 0);
  ctx.strokeStyle = "rgba(255,255,255,0.05)";
  ctx.lineWidth = 1 / s;
  for (let x = 0; x <= game.arena.width; x += 50) { ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, game.arena.height); ctx.stroke(); }
  for (let y = 0; y <= game.arena.height; y += 50) { ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(game.arena.width, y); ctx.stroke(); }
  const view = interpolated();
  if (view) {
    for (const it of view.items) {
      ctx.beginPath();
      ctx.fillStyle = "#ffc93c";
      ctx.shadowColor = "#ffc93c";
      ctx.shadowBlur = 12;
      ctx.arc(it.x, it.y, 10, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.shadowBlur = 0;
    // Labels 12 CSS pixels high whatever the scale.
    const unitsPerCssPx = game.arena.width / Math.max(1, canvas.getBoundingClientRect().width);
    ctx.textAlign = "center";
    ctx.font = `600 ${Math.round(12 * unitsPerCssPx)}px system-ui, sans-serif`;
    for (const p of view.players.values()) {
      const mine = p.id === game.me;
      ctx.beginPath();
      ctx.fillStyle = color(p.id);
      ctx.arc(p.x, p.y, 18, 0, Math.PI * 2);
      ctx.fill();
      if (mine) { ctx.lineWidth = 4; ctx.strokeStyle = "#ffffff"; ctx.stroke(); }
      ctx.fillStyle = mine ? "#ffffff" : "rgba(255,255,255,0.8)";
      ctx.fillText(game.names.get(p.id) ?? "…", p.x, p.y - 18 - 6 * unitsPerCssPx);
    }
  } else {
    ctx.fillStyle = "rgba(255,255,255,0.6)";
    ctx.textAlign = "center";
    ctx.font = "600 28px system-ui, sans-serif";
    ctx.fillText(game.error ?? "Joining…", game.arena.width / 2, game.arena.height / 2);
  }
  requestAnimationFrame(draw);
}
requestAnimationFrame(draw);

// ---- scoreboard (4 times a second) -----------------------------------------------------------
function renderScores() {
  const list = $("scores");
  const players = game.latest ? [...game.latest.players.values()] : [];
  players.sort((a, b) => b.score - a.score || a.id - b.id);
  $("player-count").textContent = String(players.length);
  const rows = players.map((p) => {
    const li = document.createElement("li");
    li.dataset.id = String(p.id);
    if (p.id === game.me) li.className = "me";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = color(p.id);
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = (game.names.get(p.id) ?? "…") + (p.id === game.me ? " (you)" : "");
    const pts = document.createElement("span");
    pts.className = "pts";
    pts.textContent = String(p.score);
    const ms = document.createElement("span");
    ms.className = "ms";
    ms.title = "Round trip to the server";
    ms.textContent = p.latency > 0 ? `${p.latency} ms` : (p.id === game.me && game.rtt !== null ? `${game.rtt} ms` : "—");
    li.append(swatch, who, pts, ms);
    return li;
  });
  list.replaceChildren(...rows);
}
setInterval(renderScores, 250);
