// The game's snapshot decoder: the format of core/include/chorus/game/snapshot.h, in plain
// JavaScript (README, "The game": why not the C++ codec in WebAssembly). Used by the page,
// the tests and the benchmark.
export const MAGIC = 0x47;
export const VERSION = 1;
export const POSITION_SCALE = 16;
export const HEADER_BYTES = 14;
export const PLAYER_BYTES = 10;
export const ITEM_BYTES = 4;
export const MAX_PLAYERS = 1024;
export const MAX_ITEMS = 1024;

/**
 * Decodes one snapshot (ArrayBuffer, a typed array or a Node Buffer) into
 * { tick, timeMs, players: [{id, x, y, score, latency}], items: [{x, y}] } with positions in
 * arena units. Throws an Error saying what is wrong on anything else.
 */
export function decodeSnapshot(data) {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.byteLength < HEADER_BYTES) throw new Error(`snapshot: ${view.byteLength} bytes, shorter than its header`);
  if (view.getUint8(0) !== MAGIC) throw new Error("snapshot: bad magic byte");
  if (view.getUint8(1) !== VERSION) throw new Error(`snapshot: unknown version ${view.getUint8(1)}`);
  const tick = view.getUint32(2, true);
  const timeMs = view.getUint32(6, true);
  const np = view.getUint16(10, true);
  const ni = view.getUint16(12, true);
  if (np > MAX_PLAYERS || ni > MAX_ITEMS) throw new Error(`snapshot: ${np} players and ${ni} items, past the limits`);
  const want = HEADER_BYTES + np * PLAYER_BYTES + ni * ITEM_BYTES;
  if (view.byteLength !== want) throw new Error(`snapshot: ${view.byteLength} bytes where its counts take ${want}`);
  const players = new Array(np);
  const seen = new Set();
  let o = HEADER_BYTES;
  for (let i = 0; i < np; i++, o += PLAYER_BYTES) {
    const id = view.getUint16(o, true);
    if (seen.has(id)) throw new Error("snapshot: a player id listed twice");
    seen.add(id);
    players[i] = {
      id,
      x: view.getUint16(o + 2, true) / POSITION_SCALE,
      y: view.getUint16(o + 4, true) / POSITION_SCALE,
      score: view.getUint16(o + 6, true),
      latency: view.getUint16(o + 8, true),
    };
  }
  const items = new Array(ni);
  for (let i = 0; i < ni; i++, o += ITEM_BYTES) {
    items[i] = { x: view.getUint16(o, true) / POSITION_SCALE, y: view.getUint16(o + 2, true) / POSITION_SCALE };
  }
  return { tick, timeMs, players, items };
}

/** Encodes a snapshot in the same format (the benchmark's reference server and the tests). */
export function encodeSnapshot({ tick, timeMs, players, items }) {
  const out = new Uint8Array(HEADER_BYTES + players.length * PLAYER_BYTES + items.length * ITEM_BYTES);
  const view = new DataView(out.buffer);
  const fixed = (v) => Math.max(0, Math.min(65535, Math.round(v * POSITION_SCALE)));
  view.setUint8(0, MAGIC);
  view.setUint8(1, VERSION);
  view.setUint32(2, tick >>> 0, true);
  view.setUint32(6, timeMs >>> 0, true);
  view.setUint16(10, players.length, true);
  view.setUint16(12, items.length, true);
  let o = HEADER_BYTES;
  for (const p of players) {
    view.setUint16(o, p.id, true);
    view.setUint16(o + 2, fixed(p.x), true);
    view.setUint16(o + 4, fixed(p.y), true);
    view.setUint16(o + 6, p.score, true);
    view.setUint16(o + 8, p.latency ?? 0, true);
    o += PLAYER_BYTES;
  }
  for (const it of items) {
    view.setUint16(o, fixed(it.x), true);
    view.setUint16(o + 2, fixed(it.y), true);
    o += ITEM_BYTES;
  }
  return out;
}
