// Chorus browser SDK: the C ABI between chorus.mjs and the client core (client::Manager).
// The only SDK file that includes Emscripten headers.
//
// Data crosses in bulk: JavaScript writes every string argument of a call back to back into
// one scratch buffer (chorus_scratch) and passes their byte lengths; binaries are staged
// one by one (chorus_stage_binary) before the call that uses them. Event arguments travel
// as JSON text with Socket.IO placeholders plus the staged binaries (client/wire_value.h).
// Actions come back one at a time as a descriptor of 32-bit words that JavaScript reads
// straight from memory (layout below); its pointers stay valid until the next call.
#include <emscripten/emscripten.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/client/manager.h"
#include "chorus/client/wire_value.h"
#include "chorus/json/json.h"

using chorus::Binary;
using chorus::Value;
using namespace chorus::client;

// chorus.mjs mirrors these numberings in its tables.
static_assert(static_cast<int>(ActionType::kOpenWebSocket) == 1 && static_cast<int>(ActionType::kSetTimer) == 8 &&
                  static_cast<int>(ActionType::kManagerOpen) == 15 && static_cast<int>(ActionType::kOutgoing) == 28,
              "update the action table of chorus.mjs");
static_assert(static_cast<int>(Transport::kPolling) == 0 && static_cast<int>(Transport::kWebSocket) == 1 &&
                  static_cast<int>(Transport::kSse) == 2,
              "update KINDS in chorus.mjs");

namespace {

std::vector<std::unique_ptr<Manager>> g_managers;  // handle = index + 1
std::string g_scratch;
std::vector<Binary> g_staged;
std::string g_error;

// Current action and its descriptor:
//  [0] type  [1] transport  [2] kind  [3] flag  [4] number low  [5] number high
//  [6..17] (pointer, length) of url, data, nsp, sid, reason, description
//  [18] binary count  [19] pointer to (pointer, length) pairs
Action g_action;
std::uint32_t g_desc[20];
std::vector<std::uint32_t> g_bins;

Manager* get(int handle) {
  if (handle <= 0 || static_cast<std::size_t>(handle) > g_managers.size()) return nullptr;
  return g_managers[static_cast<std::size_t>(handle) - 1].get();
}

std::uint64_t ms(double now) {
  return now > 0 ? static_cast<std::uint64_t>(now) : 0;
}

// Splits the scratch buffer into consecutive strings of the given lengths.
struct Args {
  std::size_t offset = 0;
  std::string_view next(std::size_t len) {
    if (offset + len > g_scratch.size()) len = g_scratch.size() - offset;
    std::string_view s(g_scratch.data() + offset, len);
    offset += len;
    return s;
  }
};

double number(const Value& obj, const char* key, double fallback) {
  const Value* v = obj.find(key);
  return v != nullptr && v->is_number() ? v->as_number() : fallback;
}

bool boolean(const Value& obj, const char* key, bool fallback) {
  const Value* v = obj.find(key);
  return v != nullptr && v->is_bool() ? v->as_bool() : fallback;
}

std::uint32_t u32(double d, std::uint32_t fallback) {
  if (!(d >= 0)) return fallback;
  if (d >= 4294967295.0) return UINT32_MAX;
  return static_cast<std::uint32_t>(d);
}

std::optional<std::uint32_t> optional_ms(const Value& obj, const char* key) {
  const Value* v = obj.find(key);
  if (v == nullptr || !v->is_number() || !(v->as_number() >= 0)) return std::nullopt;
  return u32(v->as_number(), UINT32_MAX);
}

void set_str(int slot, const std::string& s) {
  g_desc[6 + slot * 2] = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(s.data()));
  g_desc[7 + slot * 2] = static_cast<std::uint32_t>(s.size());
}

void apply_reconnection(Manager& m, const Value& o) {
  const Value* attempts = o.find("reconnectionAttempts");
  std::uint32_t n = attempts != nullptr && attempts->is_number() ? u32(attempts->as_number(), UINT32_MAX) : UINT32_MAX;
  const Value* timeout = o.find("timeout");
  std::optional<std::uint32_t> t = 20'000;
  if (timeout != nullptr && timeout->is_bool() && !timeout->as_bool()) t.reset();
  if (timeout != nullptr && timeout->is_number()) t = u32(timeout->as_number(), 20'000);
  m.set_reconnection(boolean(o, "reconnection", true), n, u32(number(o, "reconnectionDelay", 1000), 1000),
                     u32(number(o, "reconnectionDelayMax", 5000), 5000),
                     std::clamp(number(o, "randomizationFactor", 0.5), 0.0, 1.0), t);
}

Value parse_or_null(std::string_view text) {
  if (text.empty()) return Value();
  auto v = chorus::json::parse(text, [] {
    chorus::Limits l = client_limits();
    l.max_payload = SIZE_MAX;
    return l;
  }());
  return v.ok() ? std::move(v).value() : Value();
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE char* chorus_scratch(std::size_t size) {
  g_scratch.resize(size);
  return g_scratch.data();
}

EMSCRIPTEN_KEEPALIVE void chorus_stage_binary(std::size_t len) {
  g_staged.emplace_back(g_scratch.begin(),
                        g_scratch.begin() + static_cast<std::ptrdiff_t>(std::min(len, g_scratch.size())));
}

EMSCRIPTEN_KEEPALIVE const char* chorus_error() {
  return g_error.c_str();
}

// Options JSON: {secure, host, path, query, transports: [names], upgrade, tryAllTransports,
// timestampRequests, maxPayload, reconnection, reconnectionAttempts, reconnectionDelay,
// reconnectionDelayMax, randomizationFactor, timeout (ms or false), seed}.
EMSCRIPTEN_KEEPALIVE int chorus_manager_create(std::size_t json_len) {
  Args a;
  Value o = parse_or_null(a.next(json_len));
  ManagerOptions mo;
  mo.engine.secure = boolean(o, "secure", false);
  mo.engine.host = o.find("host") ? o.find("host")->get_string() : "";
  mo.engine.path = o.find("path") ? o.find("path")->get_string("/socket.io/") : "/socket.io/";
  mo.engine.query = o.find("query") ? o.find("query")->get_string() : "";
  if (const Value* t = o.find("transports"); t != nullptr && t->is_array()) {
    mo.engine.transports.clear();
    for (const Value& name : t->as_array()) {
      if (auto kind = chorus::engineio::transport_from_string(name.get_string())) mo.engine.transports.push_back(*kind);
    }
  }
  mo.engine.upgrade = boolean(o, "upgrade", true);
  mo.engine.try_all_transports = boolean(o, "tryAllTransports", true);
  mo.engine.timestamp_requests = boolean(o, "timestampRequests", true);
  double max_payload = number(o, "maxPayload", 0);
  if (max_payload >= 1) mo.engine.limits.max_payload = static_cast<std::size_t>(std::min(max_payload, 4294967295.0));
  // Jitter draws: xorshift64* seeded by JavaScript (Math.random / crypto).
  std::uint64_t seed = static_cast<std::uint64_t>(std::fabs(number(o, "seed", 1))) | 1;
  mo.random = [state = seed]() mutable {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return static_cast<double>((state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
  };
  auto m = std::make_unique<Manager>(std::move(mo));
  apply_reconnection(*m, o);
  g_managers.push_back(std::move(m));
  return static_cast<int>(g_managers.size());
}

EMSCRIPTEN_KEEPALIVE void chorus_manager_destroy(int h) {
  if (get(h) != nullptr) g_managers[static_cast<std::size_t>(h) - 1].reset();
}

EMSCRIPTEN_KEEPALIVE void chorus_manager_configure(int h, std::size_t json_len) {
  Args a;
  if (Manager* m = get(h)) apply_reconnection(*m, parse_or_null(a.next(json_len)));
}

EMSCRIPTEN_KEEPALIVE void chorus_manager_open(int h, double now) {
  if (Manager* m = get(h)) m->open(ms(now));
}

EMSCRIPTEN_KEEPALIVE void chorus_manager_close(int h, double now) {
  if (Manager* m = get(h)) m->close(ms(now));
}

// 0 closed, 1 opening, 2 open; +4 while reconnecting.
EMSCRIPTEN_KEEPALIVE int chorus_manager_state(int h) {
  Manager* m = get(h);
  if (m == nullptr) return 0;
  return static_cast<int>(m->ready_state()) | (m->reconnecting() ? 4 : 0);
}

// Socket options JSON: {retries, ackTimeout}. The auth is always asked for (kAuthRequest):
// socket.io-client reads `socket.auth` anew before each CONNECT.
EMSCRIPTEN_KEEPALIVE void chorus_socket_add(int h, std::size_t nsp_len, std::size_t json_len) {
  Args a;
  std::string nsp(a.next(nsp_len));
  Value o = parse_or_null(a.next(json_len));
  SocketOptions so;
  so.auth_callback = true;
  so.retries = u32(number(o, "retries", 0), 0);
  so.ack_timeout_ms = optional_ms(o, "ackTimeout");
  if (Manager* m = get(h)) m->add_socket(nsp, std::move(so));
}

// Bit 0: active, bit 1: connected.
EMSCRIPTEN_KEEPALIVE int chorus_socket_state(int h, std::size_t nsp_len) {
  Args a;
  std::string nsp(a.next(nsp_len));
  Manager* m = get(h);
  if (m == nullptr) return 0;
  return (m->active(nsp) ? 1 : 0) | (m->connected(nsp) ? 2 : 0);
}

EMSCRIPTEN_KEEPALIVE void chorus_socket_connect(int h, std::size_t nsp_len, double now) {
  Args a;
  if (Manager* m = get(h)) m->connect(std::string(a.next(nsp_len)), ms(now));
}

EMSCRIPTEN_KEEPALIVE void chorus_socket_disconnect(int h, std::size_t nsp_len, double now) {
  Args a;
  if (Manager* m = get(h)) m->disconnect(std::string(a.next(nsp_len)), ms(now));
}

EMSCRIPTEN_KEEPALIVE void chorus_socket_auth(int h, std::size_t nsp_len, std::size_t json_len, double now) {
  Args a;
  std::string nsp(a.next(nsp_len));
  Value auth = parse_or_null(a.next(json_len));
  if (Manager* m = get(h)) {
    m->provide_auth(nsp, auth.is_object() ? std::optional<Value>(std::move(auth)) : std::nullopt, ms(now));
  }
}

EMSCRIPTEN_KEEPALIVE void chorus_socket_notify_outgoing(int h, std::size_t nsp_len, int on) {
  Args a;
  if (Manager* m = get(h)) m->set_notify_outgoing(std::string(a.next(nsp_len)), on != 0);
}

// Returns 0, or 1 with chorus_error() set. `timeout` < 0: none.
EMSCRIPTEN_KEEPALIVE int chorus_emit(int h, std::size_t nsp_len, std::size_t json_len, double token, int with_error,
                                     double timeout, int is_volatile, double now) {
  Args a;
  std::string nsp(a.next(nsp_len));
  std::string_view json = a.next(json_len);
  std::vector<Binary> staged = std::move(g_staged);
  g_staged.clear();
  Manager* m = get(h);
  if (m == nullptr) return 0;
  chorus::Limits limits = client_limits();
  limits.max_payload = SIZE_MAX;
  auto args = from_wire(json, std::move(staged), limits);
  if (!args) {
    g_error = args.error().message;
    return 1;
  }
  EmitOptions eo;
  eo.token = token > 0 ? static_cast<std::uint64_t>(token) : 0;
  eo.with_error = with_error != 0;
  if (timeout >= 0) eo.timeout_ms = u32(timeout, UINT32_MAX);
  eo.is_volatile = is_volatile != 0;
  chorus::Status st = m->emit(nsp, std::move(args).value(), eo, ms(now));
  if (!st) {
    g_error = st.error().message;
    return 1;
  }
  return 0;
}

EMSCRIPTEN_KEEPALIVE int chorus_ack(int h, std::size_t nsp_len, std::size_t json_len, double id, double now) {
  Args a;
  std::string nsp(a.next(nsp_len));
  std::string_view json = a.next(json_len);
  std::vector<Binary> staged = std::move(g_staged);
  g_staged.clear();
  Manager* m = get(h);
  if (m == nullptr) return 0;
  chorus::Limits limits = client_limits();
  limits.max_payload = SIZE_MAX;
  auto args = from_wire(json, std::move(staged), limits);
  if (!args) {
    g_error = args.error().message;
    return 1;
  }
  chorus::Status st = m->ack(nsp, id > 0 ? static_cast<std::uint64_t>(id) : 0, std::move(args).value(), ms(now));
  if (!st) {
    g_error = st.error().message;
    return 1;
  }
  return 0;
}

EMSCRIPTEN_KEEPALIVE void chorus_transport_open(int h, int tid, double now) {
  if (Manager* m = get(h)) m->on_transport_open(static_cast<std::uint32_t>(tid), ms(now));
}

EMSCRIPTEN_KEEPALIVE void chorus_transport_text(int h, int tid, std::size_t len, double now) {
  Args a;
  if (Manager* m = get(h)) m->on_text(static_cast<std::uint32_t>(tid), a.next(len), ms(now));
}

EMSCRIPTEN_KEEPALIVE void chorus_transport_binary(int h, int tid, std::size_t len, double now) {
  Args a;
  if (Manager* m = get(h)) m->on_binary(static_cast<std::uint32_t>(tid), a.next(len), ms(now));
}

EMSCRIPTEN_KEEPALIVE void chorus_transport_close(int h, int tid, int error, std::size_t desc_len, double now) {
  Args a;
  if (Manager* m = get(h))
    m->on_transport_close(static_cast<std::uint32_t>(tid), error != 0, a.next(desc_len), ms(now));
}

EMSCRIPTEN_KEEPALIVE void chorus_http_response(int h, int tid, int post, int ok, std::size_t len, double now) {
  Args a;
  if (Manager* m = get(h)) {
    m->on_http_response(static_cast<std::uint32_t>(tid), post != 0 ? Engine::Http::kPost : Engine::Http::kGet, ok != 0,
                        a.next(len), ms(now));
  }
}

EMSCRIPTEN_KEEPALIVE void chorus_timer(int h, double now) {
  if (Manager* m = get(h)) m->on_timer(ms(now));
}

// Pointer to the descriptor of the next action, or 0 when there is none.
EMSCRIPTEN_KEEPALIVE std::uint32_t* chorus_next_action(int h) {
  Manager* m = get(h);
  if (m == nullptr) return nullptr;
  auto next = m->next_action();
  if (!next) return nullptr;
  g_action = std::move(*next);
  g_desc[0] = static_cast<std::uint32_t>(g_action.type);
  g_desc[1] = g_action.transport;
  g_desc[2] = static_cast<std::uint32_t>(g_action.kind);
  g_desc[3] = g_action.flag ? 1 : 0;
  g_desc[4] = static_cast<std::uint32_t>(g_action.number & 0xffffffffu);
  g_desc[5] = static_cast<std::uint32_t>(g_action.number >> 32);
  set_str(0, g_action.url);
  set_str(1, g_action.data);
  set_str(2, g_action.nsp);
  set_str(3, g_action.sid);
  set_str(4, g_action.reason);
  set_str(5, g_action.description);
  g_bins.clear();
  for (const Binary& b : g_action.binaries) {
    g_bins.push_back(static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(b.data())));
    g_bins.push_back(static_cast<std::uint32_t>(b.size()));
  }
  g_desc[18] = static_cast<std::uint32_t>(g_action.binaries.size());
  g_desc[19] = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(g_bins.data()));
  return g_desc;
}

}  // extern "C"
