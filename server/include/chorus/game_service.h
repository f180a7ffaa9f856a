// A small real-time arena game over Chorus: the server side of the /game/ page (README, "The
// game"). Server-authoritative: players send inputs, the server runs the simulation at a fixed
// tick and sends every room one binary snapshot per tick (chorus/game/snapshot.h), encoded once
// and emitted volatile to the room, so a stalled client drops snapshots instead of slowing the
// others. Built on the public C++ API only (Namespace, Socket, BroadcastOperator) and a tick
// thread of its own that only calls the thread-safe emit API.
//
// Events on GameOptions::nsp (default "/game"):
//   client -> "join"  ({name, room?})   ack: {ok, id, room, tickRate, arena: {width, height},
//                      players: [[id, name], ...]}, or {ok:false, error}. room defaults to
//                      "lobby". The room is created on its first join (with bots_per_room bots).
//   client -> "input" ({seq, dx, dy})   dx, dy in [-1, 1] steer the player (a longer vector is
//                      scaled to length 1); seq, a non-negative integer, orders them (an input
//                      whose seq is not above the last one is ignored). Optional ack: {ok} or
//                      {ok:false, error}; a refused input without an ack is ignored.
//   client -> "ping"  ({rtt?})          ack: {t: server epoch ms}. rtt: the client's last
//                      measured round trip in ms, shown to the room (each player's latency).
//   client -> "leave" ()                leaves the room (as a disconnect does).
//   server -> "s"     (Binary)          the room's snapshot, every tick, volatile.
//   server -> "roster"([[id, name], ...]) the room's players, when someone joins or leaves.
// A room nobody (but bots) plays in is closed. A human who joins a full room takes a bot's
// place when there is one.
//
// Create the service before server.start() and destroy it before the server (its tick thread
// emits through the server).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "chorus/error.h"
#include "chorus/server.h"

namespace chorus {

struct GameOptions {
  std::string nsp = "/game";
  // Simulation steps and snapshots per second.
  std::uint32_t tick_hz = 30;
  double arena_width = 1200;  // arena units (the snapshot holds up to 4095)
  double arena_height = 800;
  double player_speed = 300;  // units per second
  double player_radius = 18;
  double item_radius = 10;
  std::size_t items_per_room = 16;
  // Server-side bots added to a room when it is created (chorus-server --game-bots N): demos
  // and load. At most max_players_per_room - 1, so that a human always fits.
  std::size_t bots_per_room = 0;
  std::uint32_t seed = 0;  // 0: a random seed

  // What one room, one player or the whole server can make the game hold (README, Limits).
  // Each refusal says which limit in the ack ({ok:false, error}); nothing else changes.
  std::size_t max_players_per_room = 256;  // bots included (kMaxSnapshotPlayers at most)
  std::size_t max_rooms = 100;
  std::size_t max_name_bytes = 24;       // player names: 1..max bytes of UTF-8, no control characters
  std::size_t max_room_name_bytes = 32;  // room names: 1..max bytes of [A-Za-z0-9._-]
  // Inputs one player may send per second (a bucket of this many, refilled at this rate);
  // more are refused.
  std::uint32_t max_inputs_per_second = 60;
};

// Counters for tests and health checks.
struct GameStats {
  std::size_t rooms = 0;
  std::size_t players = 0;  // humans
  std::size_t bots = 0;
  std::uint64_t ticks = 0;
  std::uint64_t snapshots = 0;  // encoded (one per room per tick)
  std::uint64_t snapshot_bytes = 0;
  std::uint64_t inputs_refused = 0;
};

class GameService {
 public:
  // Checks the options, registers the namespace handlers and starts the tick thread.
  static Result<std::unique_ptr<GameService>> attach(Server& server, GameOptions options);
  ~GameService();  // stops the tick thread; the handlers do nothing after it

  GameStats stats() const;
  const GameOptions& options() const;

  struct Impl;

 private:
  explicit GameService(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace chorus
