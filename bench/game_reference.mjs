// Reference peer for the game benchmark (bench/game.sh): the npm socket.io 4.8 server running
// the same game as Chorus's GameService (server/src/game_service.cpp) on "/game": the same
// join / input / ping / leave events and answers, the same simulation step (bots included),
// the same snapshot bytes (demo/game/snapshot.js encodes the format of
// core/include/chorus/game/snapshot.h), one encode per room per tick, emitted volatile to the
// room. The tick is a timer chained to absolute deadlines (as the C++ loop), not setInterval.
//
//   node bench/game_reference.mjs --port N [--host ADDR] [--game-tick-hz 30]
//        [--game-max-players 256] [--game-bots 0]
// First stdout line: "chorus: listening on http://HOST:PORT". Exits on SIGTERM / SIGINT.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { encodeSnapshot } from "../demo/game/snapshot.js";

const opts = { port: 0, host: "127.0.0.1", tickHz: 30, maxPlayers: 256, bots: 0, maxInputs: 60 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => process.argv[++i];
  if (a === "--port") opts.port = Number(v());
  else if (a === "--host") opts.host = v();
  else if (a === "--game-tick-hz") opts.tickHz = Number(v());
  else if (a === "--game-max-players") opts.maxPlayers = Number(v());
  else if (a === "--game-bots") opts.bots = Number(v());
  else if (a === "--game-max-inputs-per-second") opts.maxInputs = Number(v());
  else if (a === "--help" || a === "-h") {
    process.stdout.write("usage: game_reference.mjs --port N [--host ADDR] [--game-tick-hz N] [--game-max-players N] [--game-bots N]\n");
    process.exit(0);
  } else {
    process.stderr.write(`game_reference.mjs: unknown option ${a}\n`);
    process.exit(2);
  }
}

const ARENA = { width: 1200, height: 800 };
const SPEED = 300;
const PR = 18;
const IR = 10;
const ITEMS = 16;
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const place = (margin) => ({ x: margin + Math.random() * (ARENA.width - 2 * margin), y: margin + Math.random() * (ARENA.height - 2 * margin) });

const rooms = new Map(); // name -> { players: Map(id -> player), items, nextId, tick, humans }
const seats = new Map(); // socket id -> { room, id }

function addPlayer(room, name, bot) {
  while (room.nextId === 0 || room.players.has(room.nextId)) room.nextId = (room.nextId + 1) & 0xffff;
  const id = room.nextId++;
  const p = { id, name, bot, ...place(PR), dx: 0, dy: 0, score: 0, latency: 0, lastSeq: -1, tokens: opts.maxInputs, refilled: performance.now() };
  room.players.set(id, p);
  if (!bot) room.humans++;
  return p;
}
function createRoom(name) {
  const room = { players: new Map(), items: Array.from({ length: ITEMS }, () => place(IR)), nextId: 1, tick: 0, humans: 0 };
  for (let i = 0; i < Math.min(opts.bots, opts.maxPlayers - 1); i++) addPlayer(room, `bot-${i + 1}`, true);
  rooms.set(name, room);
  return room;
}
const roster = (room) => [...room.players.values()].sort((a, b) => a.id - b.id).map((p) => [p.id, p.name]);

function step(room, dt) {
  room.tick = (room.tick + 1) >>> 0;
  for (const p of room.players.values()) {
    if (p.bot) {
      let best = null;
      let bestD = 0;
      for (const it of room.items) {
        const d = Math.hypot(it.x - p.x, it.y - p.y);
        if (!best || d < bestD) { best = it; bestD = d; }
      }
      if (best && bestD >= 1) {
        const angle = Math.atan2(best.y - p.y, best.x - p.x) + (Math.random() - 0.5) * 0.6;
        p.dx = Math.cos(angle) * 0.7;
        p.dy = Math.sin(angle) * 0.7;
      }
    }
    p.x = clamp(p.x + p.dx * SPEED * dt, PR, ARENA.width - PR);
    p.y = clamp(p.y + p.dy * SPEED * dt, PR, ARENA.height - PR);
    for (const it of room.items) {
      if (Math.hypot(it.x - p.x, it.y - p.y) < PR + IR) {
        if (p.score < 65535) p.score++;
        Object.assign(it, place(IR));
      }
    }
  }
}

const http = createServer();
const io = new Server(http, { serveClient: false });
const game = io.of("/game");
const refuse = (error) => ({ ok: false, error });

game.on("connection", (socket) => {
  const leave = () => {
    const seat = seats.get(socket.id);
    if (!seat) return null;
    seats.delete(socket.id);
    const room = rooms.get(seat.room);
    if (room) {
      if (room.players.delete(seat.id)) room.humans--;
      if (room.humans === 0) rooms.delete(seat.room);
      else game.to(`game:${seat.room}`).emit("roster", roster(room));
    }
    socket.leave(`game:${seat.room}`);
    return seat.room;
  };
  socket.on("join", (req, ack = () => {}) => {
    if (typeof ack !== "function") return;
    if (!req || typeof req !== "object") return ack(refuse("join: expected {name, room}"));
    const name = typeof req.name === "string" ? req.name : "";
    if (!name || Buffer.byteLength(name) > 24 || /[\u0000-\u001f\u007f]/.test(name)) return ack(refuse("join: bad name"));
    const roomName = req.room ?? "lobby";
    if (typeof roomName !== "string" || !/^[A-Za-z0-9._-]{1,32}$/.test(roomName)) return ack(refuse("join: bad room"));
    if (seats.has(socket.id)) return ack(refuse(`join: already in room ${seats.get(socket.id).room} (leave first)`));
    const room = rooms.get(roomName) ?? createRoom(roomName);
    if (room.players.size >= opts.maxPlayers) {
      const bot = [...room.players.values()].find((p) => p.bot);
      if (!bot) return ack(refuse(`join: room ${roomName} is full`));
      room.players.delete(bot.id);
    }
    const p = addPlayer(room, name, false);
    seats.set(socket.id, { room: roomName, id: p.id });
    socket.join(`game:${roomName}`);
    const list = roster(room);
    socket.to(`game:${roomName}`).emit("roster", list);
    ack({ ok: true, id: p.id, room: roomName, tickRate: opts.tickHz, arena: ARENA, players: list });
  });
  socket.on("input", (req, ack) => {
    const reply = typeof ack === "function" ? ack : () => {};
    const seat = seats.get(socket.id);
    const p = seat && rooms.get(seat.room)?.players.get(seat.id);
    if (!req || typeof req !== "object") return reply(refuse("input: expected {seq, dx, dy}"));
    const { seq, dx, dy } = req;
    if (!Number.isSafeInteger(seq) || seq < 0) return reply(refuse("input: seq must be a non-negative integer"));
    if (typeof dx !== "number" || typeof dy !== "number" || !(Math.abs(dx) <= 1) || !(Math.abs(dy) <= 1)) {
      return reply(refuse("input: dx and dy must be numbers in [-1, 1]"));
    }
    if (!p) return reply(refuse("input: join a room first"));
    const now = performance.now();
    p.tokens = Math.min(opts.maxInputs, p.tokens + ((now - p.refilled) / 1000) * opts.maxInputs);
    p.refilled = now;
    if (p.tokens < 1) return reply(refuse(`input: more than ${opts.maxInputs} inputs per second`));
    p.tokens -= 1;
    if (seq <= p.lastSeq) return reply({ ok: true, stale: true });
    const len = Math.hypot(dx, dy);
    p.lastSeq = seq;
    p.dx = len > 1 ? dx / len : dx;
    p.dy = len > 1 ? dy / len : dy;
    reply({ ok: true });
  });
  socket.on("ping", (req, ack) => {
    if (req && typeof req.rtt === "number" && req.rtt >= 0) {
      const seat = seats.get(socket.id);
      const p = seat && rooms.get(seat.room)?.players.get(seat.id);
      if (p) p.latency = Math.min(65535, Math.floor(req.rtt));
    }
    if (typeof ack === "function") ack({ t: Date.now() });
  });
  socket.on("leave", (ack) => {
    const room = leave();
    if (typeof ack === "function") ack({ ok: room !== null });
  });
  socket.on("disconnect", leave);
});

// The tick: absolute deadlines, skipping ahead when more than a tick behind.
const period = 1000 / opts.tickHz;
let next = performance.now() + period;
function tick() {
  const now32 = Date.now() % 2 ** 32;
  for (const [name, room] of rooms) {
    step(room, 1 / opts.tickHz);
    const players = [...room.players.values()].sort((a, b) => a.id - b.id);
    const buf = Buffer.from(encodeSnapshot({ tick: room.tick, timeMs: now32, players, items: room.items }).buffer);
    game.to(`game:${name}`).volatile.emit("s", buf);
  }
  next += period;
  const now = performance.now();
  if (now > next + period) next = now + period;
  setTimeout(tick, Math.max(0, next - now));
}
setTimeout(tick, period);

http.listen(opts.port, opts.host, () => {
  process.stdout.write(`chorus: listening on http://${opts.host}:${http.address().port}\n`);
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    io.close();
    process.exit(0);
  });
}
