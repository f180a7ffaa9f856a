// Load for the game benchmark (bench/game.sh): N simulated players in one room of a game
// server (Chorus's /game, or bench/game_reference.mjs), over plain WebSockets speaking
// Engine.IO 4 / Socket.IO 5 by hand (the official client's per-message cost would make the
// load generator the bottleneck). Each player joins, steers with an input every 100 ms and
// answers the heartbeat; every snapshot's delivery delay is now minus the server clock it
// carries (same machine, same clock).
//
//   node bench/game_load.mjs --url http://127.0.0.1:PORT --pid SERVER_PID [--players 200]
//        [--seconds 10] [--warmup 2] [--tick-hz 30]
// Prints one JSON line: server CPU (% of one core, from /proc/PID/stat over the window),
// snapshots received and expected, snapshot bytes per second (all players, wire payload),
// delay p50 / p99 / max in ms.
import { readFileSync } from "node:fs";
import WebSocket from "ws";

const opts = { url: "", pid: 0, players: 200, seconds: 10, warmup: 2, tickHz: 30, clkTck: 100 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[++i];
  if (a === "--url") opts.url = v;
  else if (a === "--pid") opts.pid = Number(v);
  else if (a === "--players") opts.players = Number(v);
  else if (a === "--seconds") opts.seconds = Number(v);
  else if (a === "--warmup") opts.warmup = Number(v);
  else if (a === "--tick-hz") opts.tickHz = Number(v);
  else if (a === "--clk-tck") opts.clkTck = Number(v);
  else throw new Error(`game_load.mjs: unknown option ${a}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cpuTicks = () => {
  const f = readFileSync(`/proc/${opts.pid}/stat`, "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return Number(rest[11]) + Number(rest[12]); // utime + stime
};

let measuring = false;
const delays = [];
let snapshots = 0;
let bytes = 0;
let refused = 0;

function player(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${opts.url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
    let expectBinary = 0;
    let seq = 0;
    let timer = null;
    const fail = setTimeout(() => reject(new Error(`player ${i}: no join within 30 s`)), 30_000);
    ws.on("message", (data, isBinary) => {
      if (isBinary) {
        if (expectBinary === 0) return;
        expectBinary = 0;
        if (measuring) {
          const timeMs = data.readUInt32LE(6);
          delays.push(((Date.now() % 2 ** 32) - timeMs + 2 ** 32) % 2 ** 32);
          ++snapshots;
          bytes += data.length;
        }
        return;
      }
      const s = data.toString();
      if (s === "2") return ws.send("3");
      if (s.startsWith("0{")) return ws.send("40/game,");
      if (s.startsWith("40/game,")) return ws.send(`42/game,1["join",{"name":"p${i}","room":"bench"}]`);
      if (s.startsWith("451-/game,")) {
        expectBinary = 1;
        if (measuring) bytes += s.length;
        return;
      }
      if (s.startsWith("43/game,1")) {
        if (!s.includes('"ok":true')) return reject(new Error(`player ${i}: join refused: ${s}`));
        clearTimeout(fail);
        let dx = Math.random() * 2 - 1;
        let dy = Math.random() * 2 - 1;
        timer = setInterval(() => {
          if (Math.random() < 0.2) { dx = Math.random() * 2 - 1; dy = Math.random() * 2 - 1; }
          ws.send(`42/game,["input",{"seq":${++seq},"dx":${dx.toFixed(3)},"dy":${dy.toFixed(3)}}]`);
        }, 100);
        resolve({ close: () => { clearInterval(timer); ws.close(); } });
      }
    });
    ws.on("error", (e) => { clearTimeout(fail); reject(e); });
    ws.on("close", () => clearInterval(timer));
  });
}

const list = [];
for (let i = 0; i < opts.players; i++) {
  list.push(await player(i)); // one at a time: each joins before the next connects
}
await sleep(opts.warmup * 1000);
const c0 = cpuTicks();
const t0 = performance.now();
measuring = true;
await sleep(opts.seconds * 1000);
measuring = false;
const wall = (performance.now() - t0) / 1000;
const c1 = cpuTicks();
for (const p of list) p.close();
delays.sort((a, b) => a - b);
const q = (p) => (delays.length ? delays[Math.min(delays.length - 1, Math.floor(p * delays.length))] : null);
console.log(JSON.stringify({
  players: opts.players,
  seconds: +wall.toFixed(2),
  serverCpuPercent: +((100 * (c1 - c0)) / opts.clkTck / wall).toFixed(1),
  snapshots,
  expected: Math.round(opts.players * opts.tickHz * wall),
  bytesPerSecond: Math.round(bytes / wall),
  delayP50: q(0.5),
  delayP99: q(0.99),
  delayMax: delays.length ? delays[delays.length - 1] : null,
  refused,
}));
process.exit(0);
