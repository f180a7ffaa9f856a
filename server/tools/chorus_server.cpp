// chorus-server: a ready-to-run Chorus server.
//
// Serves a static document root (the demo by default) and the browser SDK under /chorus/,
// and runs a small publish/subscribe app on the main namespace:
//   emit("join", room[, ack])  emit("leave", room[, ack])
//   emit("publish", room, event, ...args)  -> every other socket in `room` gets event(...args)
// With --jwt-secret, every connection must present an HS256 token (auth.token, ?token= or
// Authorization: Bearer) that expires within 24 h; its claims land in socket.data()["user"].
//
// Beside realtime ("REST for CRUD, realtime for updates"):
//   POST /api/login {"name": "..."}  -> {"token": "<HS256 JWT, 12 h>", "name": "..."}
//   GET  /api/health                 -> {"ok": true, "connections": N}
//   GET  /metrics                    -> Prometheus metrics (--metrics-path)
//   GET  /events/time                -> SSE: a "time" event every second
//   WS   /ws/echo                    -> plain WebSocket echo
//   GET  /feeds/<room>[?nsp=&token=] -> the room as a plain SSE feed
#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <unistd.h>

#include "chorus/collab_service.h"
#include "chorus/game_service.h"
#include "chorus/json/json.h"
#include "chorus/jwt.h"
#include "chorus/server.h"

namespace {

constexpr const char* kUsage = R"(usage: chorus-server [options]

  --host ADDR            listen address (default 127.0.0.1)
  --port N               listen port (default 8080; 0 picks a free one)
  --root DIR             static files (default: demo, when there is one here)
  --sdk DIR              browser SDK served at /chorus/ (default: build/wasm/wasm, else the
                         installed one, <bin>/../share/chorus/sdk)
  --path PATH            Engine.IO endpoint (default /socket.io/)
  --cors ORIGINS         comma-separated allowed origins, or * (default: none)
  --cors-credentials     allow credentials in CORS answers
  --max-payload BYTES    largest message/body accepted (default 1000000)
  --ping-interval MS     heartbeat interval (default 25000)
  --ping-timeout MS      heartbeat timeout (default 20000)
  --connect-timeout MS   time to join a namespace (default 45000)
  --max-connections N    connections held open at once (default 100000)
  --body-timeout MS      time a request body may take to arrive, else 408 (default 10000)
  --io-threads N         event loop threads serving open connections (default 0: one per core)
  --http-threads N       CivetWeb workers for short HTTP requests (default 32)
  --keep-alive-timeout MS  idle keep-alive connections close after this (default 5000)
  --header-timeout MS    time a request head may take to arrive, else 408 (default 5000)
  --max-pending-per-address N
                         requests from one address served at once, else 503 (default 8)
  --max-pending-sessions-per-address N
                         sessions from one address not yet in a namespace (default 1000)
  --transports LIST      comma-separated: polling,websocket,sse (default all three)
  --jwt-secret SECRET    require an HS256 token on every connection
  --docs-db FILE         SQLite file of the collaborative documents (default chorus-docs.db;
                         "" keeps them in memory only)
  --game-bots N          server-side bots in each game room (/game/), from its creation
                         (default 0; people take their places when a room is full)
  --game-tick-hz N       game simulation steps and snapshots per second (default 30; 1..120)
  --game-max-players N   players in one game room, bots included (default 256; 1..1024)
  --game-max-rooms N     game rooms at once (default 100)
  --game-max-inputs-per-second N
                         inputs one player may send per second (default 60; more are refused)
  --no-game              do not serve the game's namespace /game
  --tls-cert FILE        PEM with certificate and key: serve https/wss
  --redis URL            join a cluster through Redis: redis://[[user]:password@]host[:port][/db]
                         (the protocol of @socket.io/redis-adapter; default: a single node)
  --redis-key PREFIX     the cluster's channel prefix (default socket.io)
  --redis-adapter KIND   classic (default: @socket.io/redis-adapter, pub/sub) or streams
                         (@socket.io/redis-streams-adapter: a dropped client recovers on any
                         node; every broadcast is written to the Redis stream "socket.io")
  --recovery-ms MS       connection state recovery: a dropped client comes back with its id,
                         rooms and missed events within MS (default 120000; 0 turns it off)
  --leave-grace-ms MS    a collaborative editor whose connection dropped stays in its documents
                         this long before the others see it leave (default 5000; at most the
                         recovery window)
  --doc-idle-unload-ms MS
                         a document nobody has open leaves memory after MS (default 30000)
  --doc-epoch-min-deleted N
                         a document leaving memory with N deleted characters or more, and more
                         than its text, drops its tombstones: a new epoch (default 10000;
                         0 never)
  --admin-auth USER:BCRYPT_HASH
                         serve the Socket.IO Admin UI's namespace /admin, for USER with the
                         password of this bcrypt hash ($2a$/$2b$/$2y$)
  --admin-no-auth        serve /admin to anyone, without a login (instead of --admin-auth)
  --admin-readonly       the Admin UI inspects only (no emit, join, leave, disconnect)
  --admin-server-id ID   how this node appears in the Admin UI (default: the host name; give
                         each node of a cluster on one host its own)
  --admin-max-sessions N Admin UI login sessions kept (default 1000; the oldest go first)
  --admin-max-pending-logins N
                         password checks waiting for the login thread (default 16; past it:
                         "too many login attempts")
  --admin-ui DIR         the Admin UI's built files, served at /admin/ (default, with --admin-*:
                         node_modules/@socket.io/admin-ui/ui/dist when there is one here)
  --metrics-path PATH    where GET answers Prometheus metrics (default /metrics; off: none)
  --log-level LEVEL      error, warn, info or debug (default info)
  --log-format FORMAT    text (default) or json: one JSON object per line on stderr,
                         {"time": ISO 8601 UTC, "level", "msg"}
  --config FILE          JSON file with any of the above (keys without "--")
  --version              print "chorus-server VERSION" and exit
  --help                 this text
)";

// What /chorus/ serves from the SDK folder: the browser SDK, its typings, the collaborative
// text module (the editor demo) and the WASM core smoke module (demo/inspector/).
const std::vector<std::string> kSdkFiles = {"chorus.mjs",         "chorus.mjs.map",       "chorus.wasm",
                                            "chorus.d.ts",        "chorus_collab.mjs",    "chorus_collab.mjs.map",
                                            "chorus_collab.wasm", "chorus_inspector.mjs", "chorus_inspector.wasm"};

constexpr std::int64_t kLoginTokenSeconds = 12 * 3600;        // tokens issued by POST /api/login
constexpr std::int64_t kMaxTokenLifetimeSeconds = 24 * 3600;  // JwtOptions::max_lifetime_seconds

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string g_docs_db = "chorus-docs.db";
std::string g_admin_ui = std::string(1, '\0');  // unset
std::chrono::milliseconds g_leave_grace{chorus::CollabOptions{}.leave_grace};
std::chrono::milliseconds g_doc_idle_unload{chorus::CollabOptions{}.idle_unload_after};
std::size_t g_doc_epoch_min_deleted = 10'000;
chorus::GameOptions g_game;
bool g_no_game = false;

bool apply(chorus::ServerOptions& o, std::string& sdk, std::string& jwt_secret, const std::string& key,
           const std::string& value, std::string& error) {
  // Plain decimal digits only (no sign, no spaces), at most 4294967295.
  auto number = [&](std::uint64_t& out) {
    bool ok = !value.empty() && value.size() <= 10;
    std::uint64_t v = 0;
    for (char c : value) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (!ok || v > 4294967295ull) {
      error = "--" + key + " needs a whole number from 0 to 4294967295, got '" + value + "'";
      return false;
    }
    out = v;
    return true;
  };
  std::uint64_t n = 0;
  if (key == "host")
    o.host = value;
  else if (key == "port") {
    if (!number(n) || n > 65535) {
      error = "--port needs 0..65535";
      return false;
    }
    o.port = static_cast<int>(n);
  } else if (key == "root")
    o.document_root = value;
  else if (key == "sdk")
    sdk = value;
  else if (key == "path")
    o.path = value;
  else if (key == "cors")
    o.cors_origins = split(value);
  else if (key == "cors-credentials")
    o.cors_credentials = value != "false";
  else if (key == "max-payload") {
    if (!number(n)) return false;
    if (n < 16 || n > 256'000'000) {
      error = "--max-payload must be 16 to 256000000 bytes";
      return false;
    }
    o.limits.max_payload = n;
  } else if (key == "ping-interval" || key == "ping-timeout") {
    if (!number(n)) return false;
    if (n == 0 || n > 86'400'000) {
      error = "--" + key + " must be 1 to 86400000 ms";
      return false;
    }
    (key == "ping-interval" ? o.limits.ping_interval_ms : o.limits.ping_timeout_ms) = static_cast<std::uint32_t>(n);
  } else if (key == "connect-timeout") {
    if (!number(n)) return false;
    if (n == 0 || n > 86'400'000) {
      error = "--connect-timeout must be 1 to 86400000 ms";
      return false;
    }
    o.limits.connect_timeout_ms = static_cast<std::uint32_t>(n);
  } else if (key == "max-connections") {
    if (!number(n)) return false;
    if (n == 0) {
      error = "--max-connections must be at least 1";
      return false;
    }
    o.max_connections = n;
  } else if (key == "io-threads" || key == "http-threads") {
    if (!number(n)) return false;
    const bool io = key == "io-threads";
    if (n > 1024 || (!io && n == 0)) {
      error = io ? "--io-threads must be 0 (one per core) to 1024" : "--http-threads must be 1 to 1024";
      return false;
    }
    (io ? o.io_threads : o.http_threads) = n;
  } else if (key == "body-timeout") {
    if (!number(n)) return false;
    if (n < 100 || n > 3'600'000) {
      error = "--body-timeout must be 100 to 3600000 ms";
      return false;
    }
    o.body_timeout_ms = static_cast<std::uint32_t>(n);
  } else if (key == "keep-alive-timeout" || key == "header-timeout") {
    if (!number(n)) return false;
    if (n < 100 || n > 3'600'000) {
      error = "--" + key + " must be 100 to 3600000 ms";
      return false;
    }
    (key == "header-timeout" ? o.header_timeout_ms : o.keep_alive_timeout_ms) = static_cast<std::uint32_t>(n);
  } else if (key == "max-pending-per-address" || key == "max-pending-sessions-per-address") {
    if (!number(n)) return false;
    if (n == 0) {
      error = "--" + key + " must be at least 1";
      return false;
    }
    (key == "max-pending-per-address" ? o.max_pending_per_address : o.max_pending_sessions_per_address) = n;
  } else if (key == "transports")
    o.transports = split(value);
  else if (key == "jwt-secret")
    jwt_secret = value;
  else if (key == "docs-db")
    g_docs_db = value;
  else if (key == "tls-cert")
    o.tls_certificate = value;
  else if (key == "recovery-ms") {
    if (!number(n)) return false;
    if (n > 86'400'000) {
      error = "--recovery-ms must be 0 (off) to 86400000 ms";
      return false;
    }
    o.connection_state_recovery.enabled = n > 0;
    o.connection_state_recovery.max_disconnection_ms = static_cast<std::uint32_t>(n);
  } else if (key == "no-game") {
    g_no_game = value != "false";
  } else if (key.rfind("game-", 0) == 0) {
    if (!number(n)) return false;
    auto in = [&](std::uint64_t lo, std::uint64_t hi) {
      if (n >= lo && n <= hi) return true;
      error = "--" + key + " must be " + std::to_string(lo) + " to " + std::to_string(hi);
      return false;
    };
    if (key == "game-bots") {
      if (!in(0, 1023)) return false;
      g_game.bots_per_room = n;
    } else if (key == "game-tick-hz") {
      if (!in(1, 120)) return false;
      g_game.tick_hz = static_cast<std::uint32_t>(n);
    } else if (key == "game-max-players") {
      if (!in(1, 1024)) return false;
      g_game.max_players_per_room = n;
    } else if (key == "game-max-rooms") {
      if (!in(1, 1'000'000)) return false;
      g_game.max_rooms = n;
    } else if (key == "game-max-inputs-per-second") {
      if (!in(1, 1'000'000)) return false;
      g_game.max_inputs_per_second = static_cast<std::uint32_t>(n);
    } else {
      error = "unknown option --" + key;
      return false;
    }
  } else if (key == "leave-grace-ms") {
    if (!number(n)) return false;
    if (n > 86'400'000) {
      error = "--leave-grace-ms must be 0 to 86400000 ms";
      return false;
    }
    g_leave_grace = std::chrono::milliseconds(n);
  } else if (key == "doc-idle-unload-ms") {
    if (!number(n)) return false;
    if (n < 10 || n > 86'400'000) {
      error = "--doc-idle-unload-ms must be 10 to 86400000 ms";
      return false;
    }
    g_doc_idle_unload = std::chrono::milliseconds(n);
  } else if (key == "doc-epoch-min-deleted") {
    if (!number(n)) return false;
    if (n > 1'000'000'000) {
      error = "--doc-epoch-min-deleted must be 0 (never) to 1000000000";
      return false;
    }
    g_doc_epoch_min_deleted = static_cast<std::size_t>(n);
  } else if (key == "metrics-path") {
    if (value.empty()) {
      error = "--metrics-path needs a path (e.g. /metrics), or off";
      return false;
    }
    o.metrics_path = value == "off" ? std::string() : value;  // checked by check_options
  } else if (key == "admin-auth") {
    std::size_t colon = value.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == value.size()) {
      error = "--admin-auth needs USER:BCRYPT_HASH (e.g. from `htpasswd -nbBC 10 USER PASSWORD`)";
      return false;
    }
    o.admin.enabled = true;
    o.admin.username = value.substr(0, colon);
    o.admin.password_hash = value.substr(colon + 1);  // checked by check_options
  } else if (key == "admin-no-auth") {
    o.admin.no_auth = value != "false";
    o.admin.enabled = o.admin.enabled || o.admin.no_auth;
  } else if (key == "admin-readonly") {
    o.admin.readonly = value != "false";
  } else if (key == "admin-ui") {
    g_admin_ui = value;
  } else if (key == "admin-server-id") {
    if (value.empty() || value.size() > 255) {
      error = "--admin-server-id needs 1 to 255 characters";
      return false;
    }
    o.admin.server_id = value;
  } else if (key == "admin-max-sessions") {
    if (!number(n)) return false;
    if (n < 1 || n > 1'000'000) {
      error = "--admin-max-sessions must be 1 to 1000000";
      return false;
    }
    o.admin.max_sessions = static_cast<std::size_t>(n);
  } else if (key == "admin-max-pending-logins") {
    if (!number(n)) return false;
    if (n < 1 || n > 10'000) {
      error = "--admin-max-pending-logins must be 1 to 10000";
      return false;
    }
    o.admin.max_pending_logins = static_cast<std::size_t>(n);
  } else if (key == "redis")
    o.redis.url = value;
  else if (key == "redis-key") {
    if (value.empty()) {
      error = "--redis-key needs a prefix (the Node adapter's default is socket.io)";
      return false;
    }
    o.redis.key = value;
  } else if (key == "redis-adapter") {
    if (value == "classic") {
      o.redis.adapter = chorus::RedisAdapterOptions::Kind::kClassic;
    } else if (value == "streams") {
      o.redis.adapter = chorus::RedisAdapterOptions::Kind::kStreams;
    } else {
      error = "--redis-adapter: classic (@socket.io/redis-adapter) or streams (@socket.io/redis-streams-adapter)";
      return false;
    }
  } else if (key == "log-format") {
    if (value == "text") {
      o.log_format = chorus::ServerOptions::LogFormat::kText;
    } else if (value == "json") {
      o.log_format = chorus::ServerOptions::LogFormat::kJson;
    } else {
      error = "--log-format: text or json";
      return false;
    }
  } else if (key == "log-level") {
    if (value == "error")
      o.log_level = chorus::LogLevel::kError;
    else if (value == "warn")
      o.log_level = chorus::LogLevel::kWarn;
    else if (value == "info")
      o.log_level = chorus::LogLevel::kInfo;
    else if (value == "debug")
      o.log_level = chorus::LogLevel::kDebug;
    else {
      error = "--log-level: error, warn, info or debug";
      return false;
    }
  } else {
    error = "unknown option --" + key;
    return false;
  }
  return true;
}

bool load_config(const std::string& path, chorus::ServerOptions& o, std::string& sdk, std::string& jwt_secret,
                 std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read config file " + path;
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto v = chorus::json::parse(ss.str());
  if (!v || !v->is_object()) {
    error = path + ": " + (v ? std::string("not a JSON object") : v.error().message);
    return false;
  }
  for (const chorus::Member& m : v->as_object()) {
    std::string value;
    if (m.value.is_string())
      value = m.value.as_string();
    else if (m.value.is_bool())
      value = m.value.as_bool() ? "true" : "false";
    else if (m.value.is_number())
      value = std::to_string(static_cast<long long>(m.value.as_number()));
    else if (m.value.is_array()) {
      for (const chorus::Value& item : m.value.as_array()) value += (value.empty() ? "" : ",") + item.get_string();
    }
    if (!apply(o, sdk, jwt_secret, m.key, value, error)) {
      error = path + ": " + error;
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  chorus::ServerOptions opts;
  // Unset until the command line or config says (no path holds a NUL byte).
  const std::string unset(1, '\0');
  opts.document_root = unset;
  opts.connection_state_recovery.enabled = true;  // --recovery-ms 0 turns it off
  opts.metrics_path = "/metrics";                 // --metrics-path off turns it off
  std::string sdk = unset;
  std::string jwt_secret;
  std::string error;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--version") {
      std::printf("chorus-server %s\n", CHORUS_VERSION);
      return 0;
    }
    if (arg.rfind("--", 0) != 0) {
      std::fprintf(stderr, "chorus-server: unexpected argument '%s' (see --help)\n", arg.c_str());
      return 2;
    }
    std::string key = arg.substr(2);
    std::string value;
    if (key == "cors-credentials" || key == "admin-no-auth" || key == "admin-readonly" || key == "no-game") {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "chorus-server: %s needs a value (see --help)\n", arg.c_str());
      return 2;
    }
    bool ok = key == "config" ? load_config(value, opts, sdk, jwt_secret, error)
                              : apply(opts, sdk, jwt_secret, key, value, error);
    if (!ok) {
      std::fprintf(stderr, "chorus-server: %s\n", error.empty() ? ("bad value for " + arg).c_str() : error.c_str());
      return 2;
    }
  }
  // CivetWeb resolves rewrite targets literally: give it absolute folders.
  auto absolute = [](const std::string& dir) {
    char buf[PATH_MAX];
    return realpath(dir.c_str(), buf) != nullptr ? std::string(buf) : std::string();
  };
  // The defaults are the source tree's folders; an installed chorus-server (cmake --install)
  // run elsewhere serves the installed SDK and no document root unless told otherwise.
  if (sdk == unset) {
    sdk = "build/wasm/wasm";
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (absolute(sdk).empty() && n > 0) {
      std::string bin(exe, static_cast<std::size_t>(n));
      std::string installed = bin.substr(0, bin.rfind('/')) + "/../share/chorus/sdk";
      if (!absolute(installed).empty()) sdk = installed;
    }
  }
  if (opts.document_root == unset) {
    opts.document_root = "demo";
    if (absolute(opts.document_root).empty()) {
      std::fprintf(stderr, "chorus-server: no folder 'demo' here: no static files served (--root DIR serves one)\n");
      opts.document_root.clear();
    }
  }
  if (!opts.document_root.empty()) {
    std::string root = absolute(opts.document_root);
    if (root.empty()) {
      std::fprintf(stderr, "chorus-server: document root '%s' does not exist\n", opts.document_root.c_str());
      return 2;
    }
    opts.document_root = root;
  }
  if (!sdk.empty()) {
    std::string dir = absolute(sdk);
    if (dir.empty()) {
      std::fprintf(stderr, "chorus-server: SDK folder '%s' not found; /chorus/ is not served\n", sdk.c_str());
    } else {
      // The SDK's own files only, never the rest of a build folder (CMake files, objects).
      opts.mounts.push_back(chorus::StaticMount{"/chorus/", dir, kSdkFiles});
    }
  }
  // The Admin UI's built files (@socket.io/admin-ui ships them), beside its namespace.
  if (opts.admin.enabled || g_admin_ui != unset) {
    const bool given = g_admin_ui != unset;
    std::string dir = absolute(given ? g_admin_ui : "node_modules/@socket.io/admin-ui/ui/dist");
    if (!dir.empty()) {
      opts.mounts.push_back(chorus::StaticMount{"/admin/", dir, {}, "index.html"});
    } else if (given) {
      std::fprintf(stderr, "chorus-server: Admin UI folder '%s' not found\n", g_admin_ui.c_str());
      return 2;
    }
  }

  if (chorus::Status valid = chorus::check_options(opts); !valid) {
    std::fprintf(stderr, "chorus-server: %s\n", valid.error().message.c_str());
    return 2;
  }

  chorus::Server server(opts);
  const bool require_token = !jwt_secret.empty();
  if (jwt_secret.empty()) {
    // Tokens are still issued (the demo shows the flow) but signed with a per-run secret.
    std::random_device rd;
    for (int i = 0; i < 4; ++i) jwt_secret += std::to_string(rd());
  }
  // Tokens must expire, and within a day (login issues them for 12 h).
  chorus::JwtOptions jwt_options;
  jwt_options.secret = jwt_secret;
  jwt_options.require_exp = true;
  jwt_options.max_lifetime_seconds = kMaxTokenLifetimeSeconds;
  if (require_token) server.use(chorus::jwt_middleware(jwt_options));

  server.route(
      "POST", "/api/login",
      [jwt_secret](const chorus::HttpRequest& req, chorus::HttpResponse& res) {
        auto body = req.json();
        if (!body) return res.error(400, "invalid JSON: " + body.error().message);
        const chorus::Value* name = body->find("name");
        if (name == nullptr || !name->is_string() || name->as_string().empty() || name->as_string().size() > 64) {
          return res.error(422, "name must be a string of 1 to 64 bytes");
        }
        auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                       .count();
        chorus::Value claims = chorus::Value::object(
            {{"sub", name->as_string()}, {"name", name->as_string()}, {"iat", now}, {"exp", now + kLoginTokenSeconds}});
        res.json(chorus::Value::object(
            {{"token", chorus::jwt::sign_hs256(claims, jwt_secret)}, {"name", name->as_string()}}));
      },
      4096);
  server.route("GET", "/api/health", [&server](const chorus::HttpRequest&, chorus::HttpResponse& res) {
    res.json(chorus::Value::object({{"ok", true}, {"connections", static_cast<double>(server.connection_count())}}));
  });

  // Server time over plain SSE: one ticker thread feeds every open stream.
  struct TimeStreams {
    std::mutex mu;
    std::vector<std::weak_ptr<chorus::SseStream>> streams;
    std::condition_variable stop_cv;
    bool stopped = false;
  };
  auto time_streams = std::make_shared<TimeStreams>();
  server.sse("/events/time", [time_streams](const std::shared_ptr<chorus::SseStream>& s) {
    std::lock_guard<std::mutex> lock(time_streams->mu);
    time_streams->streams.push_back(s);
  });
  std::thread ticker;
  auto start_ticker = [&] {
    ticker = std::thread([time_streams] {
      std::unique_lock<std::mutex> stop_lock(time_streams->mu);
      // One tick a second until stop: the wait ends at once when `stopped` is set.
      while (
          !time_streams->stop_cv.wait_for(stop_lock, std::chrono::seconds(1), [&] { return time_streams->stopped; })) {
        auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        auto& v = time_streams->streams;
        v.erase(std::remove_if(v.begin(), v.end(),
                               [&](const auto& w) {
                                 auto s = w.lock();
                                 return !s || !s->send("time", "{\"epochMs\":" + std::to_string(ms) + "}");
                               }),
                v.end());
      }
    });
  };

  // Collaborative documents (the editor demo) on "/docs", persisted in SQLite.
  chorus::CollabOptions collab_options;
  collab_options.database_path = g_docs_db;
  collab_options.leave_grace = g_leave_grace;
  collab_options.idle_unload_after = g_doc_idle_unload;
  collab_options.epoch_min_deleted = g_doc_epoch_min_deleted;
  auto collab = chorus::CollabService::attach(server, collab_options);
  if (!collab) {
    std::fprintf(stderr, "chorus-server: %s\n", collab.error().message.c_str());
    return 1;
  }
  if (require_token) server.of("/docs").use(chorus::jwt_middleware(jwt_options));

  // The arena game (the /game/ page) on "/game".
  std::unique_ptr<chorus::GameService> game;
  if (!g_no_game) {
    auto attached = chorus::GameService::attach(server, g_game);
    if (!attached) {
      std::fprintf(stderr, "chorus-server: %s\n", attached.error().message.c_str());
      return 1;
    }
    game = std::move(attached.value());
  }

  chorus::WebSocketHandlers echo;
  echo.on_message = [](const std::shared_ptr<chorus::WebSocketConnection>& ws, const std::string& data, bool binary) {
    if (binary)
      ws->send_binary(data);
    else
      ws->send_text(data);
  };
  server.websocket("/ws/echo", echo);
  server.on_connection([](chorus::Socket& socket) {
    socket.on("join", [&socket](const chorus::Args& a, chorus::Ack ack) {
      if (a.empty() || !a[0].is_string()) return ack(chorus::Args{false, "join needs a room name"});
      socket.join(a[0].as_string());
      ack(chorus::Args{true});
    });
    socket.on("leave", [&socket](const chorus::Args& a, chorus::Ack ack) {
      if (a.empty() || !a[0].is_string()) return ack(chorus::Args{false, "leave needs a room name"});
      socket.leave(a[0].as_string());
      ack(chorus::Args{true});
    });
    socket.on("publish", [&socket](const chorus::Args& a, chorus::Ack ack) {
      if (a.size() < 2 || !a[0].is_string() || !a[1].is_string()) {
        return ack(chorus::Args{false, "publish needs a room and an event name"});
      }
      chorus::Args rest(a.begin() + 2, a.end());
      bool sent = socket.to(a[0].as_string()).emit(a[1].as_string(), std::move(rest));
      ack(chorus::Args{sent});
    });
  });

  chorus::stop_on_signals(server);
  chorus::Status started = server.start();
  if (!started) {
    std::fprintf(stderr, "chorus-server: %s\n", started.error().message.c_str());
    return 1;
  }
  start_ticker();
  std::printf("chorus: listening on %s://%s:%d%s (up to %zu connections, %zu I/O threads%s)\n",
              opts.tls_certificate.empty() ? "http" : "https", opts.host.c_str(), server.port(), opts.path.c_str(),
              server.capacity(), server.io_threads(), opts.redis.url.empty() ? "" : ", cluster through Redis");
  std::fflush(stdout);
  chorus::Status ran = server.run();
  {
    std::lock_guard<std::mutex> lock(time_streams->mu);
    time_streams->stopped = true;
  }
  time_streams->stop_cv.notify_all();
  ticker.join();
  std::printf("chorus: stopped\n");
  return ran ? 0 : 1;
}
