// Which decoder the game page should use: the C++ snapshot codec compiled to WebAssembly
// (wasm/game/decode.cpp, the wasm tree's chorus_game_decode target) or the plain JavaScript
// one (demo/game/snapshot.js). Decodes a 200-player snapshot N times with each, into the
// objects the page draws from, and weighs what each would add to the page (gzipped), next to
// the SDK and CRDT modules' budget (100 kB gzipped together).
//   node bench/game_decode.mjs [--n 20000] [--players 200]   (CHORUS_WASM_DIR: the wasm tree)
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { decodeSnapshot, encodeSnapshot, POSITION_SCALE } from "../demo/game/snapshot.js";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg("n", 20000);
const PLAYERS = arg("players", 200);
const wasmDir = join(process.env.CHORUS_WASM_DIR ?? join(import.meta.dirname ?? ".", "..", "build", "wasm"), "wasm");

const snap = encodeSnapshot({
  tick: 1234, timeMs: 5678,
  players: Array.from({ length: PLAYERS }, (_, i) => ({ id: i + 1, x: (i * 37) % 1200, y: (i * 53) % 800, score: i, latency: 20 + (i % 50) })),
  items: Array.from({ length: 16 }, (_, i) => ({ x: i * 70, y: i * 45 })),
});

const { default: createGameDecode } = await import(pathToFileURL(join(wasmDir, "chorus_game_decode.mjs")).href);
const wasm = await createGameDecode({ wasmBinary: readFileSync(join(wasmDir, "chorus_game_decode.wasm")) });

function decodeWasm(bytes) {
  const ptr = wasm._chorus_game_input(bytes.length);
  wasm.HEAPU8.set(bytes, ptr);
  const np = wasm._chorus_game_decode(bytes.length);
  if (np < 0) throw new Error("snapshot rejected");
  const o = wasm._chorus_game_output() >>> 2;
  const h = wasm.HEAPU32;
  const ni = h[o + 3];
  const players = new Array(np);
  let k = o + 4;
  for (let i = 0; i < np; i++, k += 5) {
    players[i] = { id: h[k], x: h[k + 1] / POSITION_SCALE, y: h[k + 2] / POSITION_SCALE, score: h[k + 3], latency: h[k + 4] };
  }
  const items = new Array(ni);
  for (let i = 0; i < ni; i++, k += 2) items[i] = { x: h[k] / POSITION_SCALE, y: h[k + 1] / POSITION_SCALE };
  return { tick: h[o], timeMs: h[o + 1], players, items };
}

// Same result from both.
const a = decodeSnapshot(snap);
const b = decodeWasm(snap);
if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error("the decoders disagree");

function time(fn) {
  for (let i = 0; i < 2000; i++) fn(snap); // warm up
  const runs = [];
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn(snap);
    runs.push(Number(process.hrtime.bigint() - t0) / N / 1000);
  }
  return runs.sort((x, y) => x - y)[1]; // median of 3, microseconds per decode
}
const js = time(decodeSnapshot);
const wa = time(decodeWasm);
const gz = (p) => gzipSync(readFileSync(p), { level: 9 }).length;
const jsBytes = gz(new URL("../demo/game/snapshot.js", import.meta.url));
const wasmBytes = gz(join(wasmDir, "chorus_game_decode.wasm")) + gz(join(wasmDir, "chorus_game_decode.mjs"));
let budget = 0;
for (const f of ["chorus.mjs", "chorus.wasm", "chorus_collab.mjs", "chorus_collab.wasm"]) budget += gz(join(wasmDir, f));
const result = {
  players: PLAYERS, snapshotBytes: snap.length, decodes: N,
  jsMicros: +js.toFixed(2), wasmMicros: +wa.toFixed(2), wasmOverJs: +(wa / js).toFixed(2),
  jsGzipBytes: jsBytes, wasmGzipBytes: wasmBytes, sdkAndCrdtGzipBytes: budget,
};
console.log(JSON.stringify(result));
