// The game's snapshot decoder (chorus/game/snapshot.h) in WebAssembly, for the measurement
// that chose the page's decoder (bench/game_decode.mjs; README, "The game"). Not shipped: the
// page decodes in plain JavaScript (demo/game/snapshot.js).
//
//   chorus_game_input(n)  -> pointer to n bytes to fill with a snapshot
//   chorus_game_decode(n) -> players decoded (or -1: rejected); the result is at
//                            chorus_game_output(): u32 tick, u32 time_ms, u32 players, u32 items,
//                            then per player 5 x u32 (id, x, y, score, latency_ms; x and y
//                            fixed point), per item 2 x u32
#include <emscripten/emscripten.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "chorus/game/snapshot.h"

namespace {
std::vector<std::uint8_t> g_input;
std::vector<std::uint32_t> g_output;
}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE std::uint8_t* chorus_game_input(std::size_t n) {
  g_input.resize(n);
  return g_input.data();
}

EMSCRIPTEN_KEEPALIVE int chorus_game_decode(std::size_t n) {
  auto s = chorus::game::decode_snapshot(std::string_view(reinterpret_cast<const char*>(g_input.data()), n));
  if (!s.ok()) return -1;
  const chorus::game::Snapshot& snap = s.value();
  g_output.clear();
  g_output.reserve(4 + snap.players.size() * 5 + snap.items.size() * 2);
  g_output.insert(g_output.end(), {snap.tick, snap.time_ms, static_cast<std::uint32_t>(snap.players.size()),
                                   static_cast<std::uint32_t>(snap.items.size())});
  for (const auto& p : snap.players) g_output.insert(g_output.end(), {p.id, p.x, p.y, p.score, p.latency_ms});
  for (const auto& i : snap.items) g_output.insert(g_output.end(), {i.x, i.y});
  return static_cast<int>(snap.players.size());
}

EMSCRIPTEN_KEEPALIVE const std::uint32_t* chorus_game_output() {
  return g_output.data();
}
}
