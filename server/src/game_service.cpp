// The arena game: rooms, players, bots, the fixed-tick simulation and its snapshots.
#include "chorus/game_service.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chorus/game/snapshot.h"
#include "chorus/utf8.h"
#include "plain_name.h"

namespace chorus {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kDefaultRoom = "lobby";

bool valid_player_name(const std::string& name, std::size_t max) {
  if (name.empty() || name.size() > max || !utf8::is_valid(name)) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7F) return false;
  }
  return true;
}

Value refused(const std::string& error) {
  return Value::object({{"ok", false}, {"error", error}});
}

std::int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Player {
  std::uint16_t id = 0;
  std::string name;
  bool bot = false;
  double x = 0, y = 0;
  double dx = 0, dy = 0;  // steering, length <= 1
  std::uint16_t score = 0;
  std::uint16_t latency_ms = 0;
  bool has_seq = false;
  double last_seq = 0;
  double tokens = 0;  // input bucket
  Clock::time_point refilled{};
};

struct Item {
  double x = 0, y = 0;
};

struct Room {
  std::string name;
  std::map<std::uint16_t, Player> players;  // by id: snapshots list them in id order
  std::vector<Item> items;
  std::uint16_t next_id = 1;
  std::uint32_t tick = 0;
  std::size_t humans = 0;
  std::size_t bots = 0;
  std::mt19937 rng;

  std::uint16_t take_id() {
    while (next_id == 0 || players.count(next_id) > 0) ++next_id;
    return next_id++;
  }
  Value roster() const {
    Value list = Value::array();
    for (const auto& [id, p] : players) list.push_back(Value::array({static_cast<unsigned>(id), p.name}));
    return list;
  }
};

// Where a socket plays.
struct Seat {
  std::string room;
  std::uint16_t id = 0;
};

}  // namespace

struct GameService::Impl : std::enable_shared_from_this<GameService::Impl> {
  Server* server = nullptr;
  Namespace* ns = nullptr;
  GameOptions opts;

  mutable std::mutex mu;
  std::map<std::string, Room> rooms;
  std::unordered_map<std::string, Seat> seats;  // socket id -> seat
  std::mt19937 rng;
  GameStats counters;  // ticks, snapshots, bytes, refused inputs (guarded by mu)

  std::thread ticker;
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;

  double rand01(std::mt19937& r) { return std::uniform_real_distribution<double>(0, 1)(r); }

  void place(std::mt19937& r, double& x, double& y, double margin) {
    x = margin + rand01(r) * (opts.arena_width - 2 * margin);
    y = margin + rand01(r) * (opts.arena_height - 2 * margin);
  }

  Player& add_player(Room& room, std::string name, bool bot) {
    std::uint16_t id = room.take_id();
    Player& p = room.players[id];
    p.id = id;
    p.name = std::move(name);
    p.bot = bot;
    p.tokens = opts.max_inputs_per_second;
    p.refilled = Clock::now();
    place(room.rng, p.x, p.y, opts.player_radius);
    ++(bot ? room.bots : room.humans);
    return p;
  }

  Room& create_room(const std::string& name) {
    Room& room = rooms[name];
    room.name = name;
    room.rng.seed(rng());
    room.items.resize(opts.items_per_room);
    for (Item& item : room.items) place(room.rng, item.x, item.y, opts.item_radius);
    std::size_t bots = std::min(opts.bots_per_room, opts.max_players_per_room - 1);
    for (std::size_t i = 0; i < bots; ++i) add_player(room, "bot-" + std::to_string(i + 1), true);
    return room;
  }

  // ---- handlers (any connection's thread) ----

  void on_join(Socket& socket, const Args& args, const Ack& ack) {
    const Value* req = args.empty() ? nullptr : &args[0];
    if (req == nullptr || !req->is_object()) {
      ack(refused("join: expected {name, room}"));
      return;
    }
    const Value* name_v = req->find("name");
    std::string name = name_v && name_v->is_string() ? name_v->as_string() : std::string();
    if (!valid_player_name(name, opts.max_name_bytes)) {
      ack(refused("join: name must be 1 to " + std::to_string(opts.max_name_bytes) +
                  " bytes of text without control characters (max_name_bytes)"));
      return;
    }
    const Value* room_v = req->find("room");
    std::string room_name = kDefaultRoom;
    if (room_v != nullptr && !room_v->is_null()) {
      room_name = room_v->is_string() ? room_v->as_string() : std::string();
      if (!is_plain_name(room_name, opts.max_room_name_bytes)) {
        ack(refused("join: room must be 1 to " + std::to_string(opts.max_room_name_bytes) +
                    " bytes of [A-Za-z0-9._-] (max_room_name_bytes)"));
        return;
      }
    }
    Value reply;
    Value roster;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto seat = seats.find(socket.id());
      if (seat != seats.end()) {
        ack(refused("join: already in room " + seat->second.room + " (leave first)"));
        return;
      }
      auto it = rooms.find(room_name);
      if (it == rooms.end()) {
        if (rooms.size() >= opts.max_rooms) {
          ack(refused("join: the server has " + std::to_string(opts.max_rooms) +
                      " rooms already, the most it holds (max_rooms)"));
          return;
        }
        it = rooms.find(create_room(room_name).name);
      }
      Room& room = it->second;
      if (room.players.size() >= opts.max_players_per_room) {
        // A human takes a bot's place.
        auto bot = std::find_if(room.players.begin(), room.players.end(), [](const auto& e) { return e.second.bot; });
        if (bot == room.players.end()) {
          ack(refused("join: room " + room_name + " is full (" + std::to_string(opts.max_players_per_room) +
                      " players, max_players_per_room)"));
          return;
        }
        room.players.erase(bot);
        --room.bots;
      }
      Player& p = add_player(room, name, false);
      seats[socket.id()] = Seat{room_name, p.id};
      roster = room.roster();
      reply = Value::object({{"ok", true},
                             {"id", static_cast<unsigned>(p.id)},
                             {"room", room_name},
                             {"tickRate", opts.tick_hz},
                             {"arena", Value::object({{"width", opts.arena_width}, {"height", opts.arena_height}})},
                             {"players", roster}});
    }
    socket.join("game:" + room_name);
    socket.to("game:" + room_name).emit("roster", Args{roster});
    ack(reply);
  }

  // The socket leaves its room (if any; which one is returned); the others get the roster.
  std::string leave(const std::string& sid) {
    std::string room_name;
    Value roster;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto seat = seats.find(sid);
      if (seat == seats.end()) return {};
      room_name = seat->second.room;
      auto it = rooms.find(room_name);
      if (it != rooms.end()) {
        Room& room = it->second;
        if (room.players.erase(seat->second.id) > 0) --room.humans;
        if (room.humans == 0) {
          rooms.erase(it);
        } else {
          roster = room.roster();
        }
      }
      seats.erase(seat);
    }
    if (!roster.is_null()) ns->to("game:" + room_name).emit("roster", Args{roster});
    return room_name;
  }

  void on_input(Socket& socket, const Args& args, const Ack& ack) {
    auto refuse = [&](const std::string& error) {
      {
        std::lock_guard<std::mutex> lock(mu);
        ++counters.inputs_refused;
      }
      ack(refused(error));
    };
    const Value* req = args.empty() ? nullptr : &args[0];
    if (req == nullptr || !req->is_object()) return refuse("input: expected {seq, dx, dy}");
    const Value* seq_v = req->find("seq");
    const Value* dx_v = req->find("dx");
    const Value* dy_v = req->find("dy");
    if (seq_v == nullptr || !seq_v->is_number() || !(seq_v->as_number() >= 0) ||
        seq_v->as_number() > 9007199254740991.0 || std::floor(seq_v->as_number()) != seq_v->as_number()) {
      return refuse("input: seq must be a non-negative integer");
    }
    if (dx_v == nullptr || dy_v == nullptr || !dx_v->is_number() || !dy_v->is_number() ||
        !(std::fabs(dx_v->as_number()) <= 1) || !(std::fabs(dy_v->as_number()) <= 1)) {
      return refuse("input: dx and dy must be numbers in [-1, 1]");
    }
    double seq = seq_v->as_number();
    double dx = dx_v->as_number();
    double dy = dy_v->as_number();
    double len = std::hypot(dx, dy);
    if (len > 1) {
      dx /= len;
      dy /= len;
    }
    std::string error;
    bool stale = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto seat = seats.find(socket.id());
      Player* p = nullptr;
      if (seat != seats.end()) {
        auto room = rooms.find(seat->second.room);
        if (room != rooms.end()) {
          auto it = room->second.players.find(seat->second.id);
          if (it != room->second.players.end()) p = &it->second;
        }
      }
      if (p == nullptr) {
        error = "input: join a room first";
      } else {
        auto now = Clock::now();
        double rate = opts.max_inputs_per_second;
        p->tokens = std::min(rate, p->tokens + std::chrono::duration<double>(now - p->refilled).count() * rate);
        p->refilled = now;
        if (p->tokens < 1) {
          error = "input: more than " + std::to_string(opts.max_inputs_per_second) +
                  " inputs per second (max_inputs_per_second)";
        } else {
          p->tokens -= 1;
          if (p->has_seq && seq <= p->last_seq) {
            stale = true;
          } else {
            p->has_seq = true;
            p->last_seq = seq;
            p->dx = dx;
            p->dy = dy;
          }
        }
      }
      if (!error.empty()) ++counters.inputs_refused;
    }
    if (!error.empty()) {
      ack(refused(error));
    } else if (stale) {
      ack(Value::object({{"ok", true}, {"stale", true}}));
    } else {
      ack(Value::object({{"ok", true}}));
    }
  }

  void on_ping(Socket& socket, const Args& args, const Ack& ack) {
    const Value* rtt = args.empty() ? nullptr : args[0].find("rtt");
    if (rtt != nullptr && rtt->is_number() && rtt->as_number() >= 0) {
      auto ms = static_cast<std::uint16_t>(std::min(rtt->as_number(), 65535.0));
      std::lock_guard<std::mutex> lock(mu);
      auto seat = seats.find(socket.id());
      if (seat != seats.end()) {
        auto room = rooms.find(seat->second.room);
        if (room != rooms.end()) {
          auto it = room->second.players.find(seat->second.id);
          if (it != room->second.players.end()) it->second.latency_ms = ms;
        }
      }
    }
    ack(Value::object({{"t", static_cast<double>(epoch_ms())}}));
  }

  // ---- the simulation (tick thread) ----

  void steer_bot(Room& room, Player& p) {
    const Item* best = nullptr;
    double best_d = 0;
    for (const Item& item : room.items) {
      double d = std::hypot(item.x - p.x, item.y - p.y);
      if (best == nullptr || d < best_d) {
        best = &item;
        best_d = d;
      }
    }
    if (best == nullptr || best_d < 1) return;
    // Bots are a little slower and wander a little, so people can win.
    double wobble = (rand01(room.rng) - 0.5) * 0.6;
    double angle = std::atan2(best->y - p.y, best->x - p.x) + wobble;
    p.dx = std::cos(angle) * 0.7;
    p.dy = std::sin(angle) * 0.7;
  }

  void step(Room& room, double dt) {
    ++room.tick;
    double r = opts.player_radius;
    double reach = opts.player_radius + opts.item_radius;
    for (auto& [id, p] : room.players) {
      if (p.bot) steer_bot(room, p);
      p.x = std::clamp(p.x + p.dx * opts.player_speed * dt, r, opts.arena_width - r);
      p.y = std::clamp(p.y + p.dy * opts.player_speed * dt, r, opts.arena_height - r);
      for (Item& item : room.items) {
        if (std::hypot(item.x - p.x, item.y - p.y) < reach) {
          if (p.score < 65535) ++p.score;
          place(room.rng, item.x, item.y, opts.item_radius);
        }
      }
    }
  }

  Binary snapshot(const Room& room, std::uint32_t time_ms) {
    game::Snapshot s;
    s.tick = room.tick;
    s.time_ms = time_ms;
    s.players.reserve(room.players.size());
    for (const auto& [id, p] : room.players) {
      s.players.push_back({id, game::to_fixed(p.x), game::to_fixed(p.y), p.score, p.latency_ms});
    }
    for (const Item& item : room.items) s.items.push_back({game::to_fixed(item.x), game::to_fixed(item.y)});
    std::string bytes;
    (void)game::encode_snapshot(s, bytes);  // attach() bounds players and items to the codec's limits
    return Binary(bytes.begin(), bytes.end());
  }

  void tick_once(double dt) {
    std::vector<std::pair<std::string, Binary>> out;
    auto now_ms = static_cast<std::uint32_t>(epoch_ms() & 0xFFFFFFFF);
    {
      std::lock_guard<std::mutex> lock(mu);
      ++counters.ticks;
      out.reserve(rooms.size());
      for (auto& [name, room] : rooms) {
        step(room, dt);
        out.emplace_back("game:" + name, snapshot(room, now_ms));
        ++counters.snapshots;
        counters.snapshot_bytes += out.back().second.size();
      }
    }
    // Encoded once per room: each recipient's queue holds a reference to the same frame.
    for (auto& [room, bytes] : out) ns->to(room).volatile_().emit("s", Args{Value(std::move(bytes))});
  }

  void tick_loop() {
    auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / opts.tick_hz));
    double dt = 1.0 / opts.tick_hz;
    auto next = Clock::now() + period;
    std::unique_lock<std::mutex> lock(stop_mu);
    while (!stopping) {
      if (stop_cv.wait_until(lock, next, [&] { return stopping; })) break;
      lock.unlock();
      tick_once(dt);
      lock.lock();
      next += period;
      // Fell behind by more than a tick (a stalled machine): skip ahead instead of bursting.
      auto now = Clock::now();
      if (now > next + period) next = now + period;
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(stop_mu);
      stopping = true;
    }
    stop_cv.notify_all();
    if (ticker.joinable()) ticker.join();
  }
};

Result<std::unique_ptr<GameService>> GameService::attach(Server& server, GameOptions options) {
  auto bad = [](const std::string& what) { return make_error(ErrorCode::kProtocol, "game: " + what); };
  if (options.tick_hz < 1 || options.tick_hz > 120) return bad("tick_hz must be 1..120");
  if (!(options.arena_width >= 100 && options.arena_width <= 4000 && options.arena_height >= 100 &&
        options.arena_height <= 4000)) {
    return bad("the arena must be 100..4000 units wide and high");
  }
  if (options.max_players_per_room < 1 || options.max_players_per_room > game::kMaxSnapshotPlayers) {
    return bad("max_players_per_room must be 1.." + std::to_string(game::kMaxSnapshotPlayers));
  }
  if (options.items_per_room > game::kMaxSnapshotItems) {
    return bad("items_per_room must be at most " + std::to_string(game::kMaxSnapshotItems));
  }
  if (options.max_rooms < 1) return bad("max_rooms must be at least 1");
  if (options.max_inputs_per_second < 1) return bad("max_inputs_per_second must be at least 1");
  if (options.max_name_bytes < 1 || options.max_room_name_bytes < 1) return bad("name limits must be at least 1");

  auto impl = std::make_shared<Impl>();
  impl->server = &server;
  impl->opts = std::move(options);
  impl->rng.seed(impl->opts.seed != 0 ? impl->opts.seed : std::random_device{}());
  impl->ns = &server.of(impl->opts.nsp);
  std::weak_ptr<Impl> weak = impl;
  impl->ns->on_connection([weak](Socket& socket) {
    Socket* s = &socket;  // handlers run while the socket lives
    socket.on("join", [weak, s](const Args& a, Ack ack) {
      if (auto self = weak.lock()) self->on_join(*s, a, ack);
    });
    socket.on("input", [weak, s](const Args& a, Ack ack) {
      if (auto self = weak.lock()) self->on_input(*s, a, ack);
    });
    socket.on("ping", [weak, s](const Args& a, Ack ack) {
      if (auto self = weak.lock()) self->on_ping(*s, a, ack);
    });
    socket.on("leave", [weak, s](const Args&, Ack ack) {
      if (auto self = weak.lock()) {
        std::string room = self->leave(s->id());
        if (!room.empty()) s->leave("game:" + room);
        ack(Value::object({{"ok", !room.empty()}}));
      }
    });
    socket.on_disconnect([weak, id = socket.id()](const std::string&) {
      if (auto self = weak.lock()) self->leave(id);
    });
  });
  impl->ticker = std::thread([raw = impl.get()] { raw->tick_loop(); });
  return std::unique_ptr<GameService>(new GameService(std::move(impl)));
}

GameService::GameService(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

GameService::~GameService() {
  impl_->stop();
}

GameStats GameService::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  GameStats s = impl_->counters;
  s.rooms = impl_->rooms.size();
  s.players = 0;
  s.bots = 0;
  for (const auto& [name, room] : impl_->rooms) {
    s.players += room.humans;
    s.bots += room.bots;
  }
  return s;
}

const GameOptions& GameService::options() const {
  return impl_->opts;
}

}  // namespace chorus
