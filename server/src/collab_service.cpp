// Collaborative documents: CRDT replicas per document, SQLite persistence, awareness.
#include "chorus/collab_service.h"

#include <sqlite3.h>

#include <mutex>
#include <set>
#include <unordered_map>

#include "chorus/collab/doc.h"
#include "internal.h"

namespace chorus {
namespace {

bool valid_name(const std::string& name, std::size_t max) {
  if (name.empty() || name.size() > max) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string as_bytes(const Binary& b) { return std::string(b.begin(), b.end()); }
Value as_binary(const std::string& s) { return Value::binary(s.data(), s.size()); }

// The server's replica never edits: its client id is never used for new content.
constexpr collab::ClientId kServerClient = 0;

struct DocEntry {
  std::mutex mu;
  collab::Doc doc{kServerClient};
  std::size_t log_count = 0;                        // updates appended since the snapshot
  std::unordered_map<std::string, Value> awareness;  // socket id -> state
};

}  // namespace

struct CollabService::Impl {
  Server* server = nullptr;
  CollabOptions opts;
  sqlite3* db = nullptr;
  std::mutex db_mu;
  std::mutex docs_mu;
  std::unordered_map<std::string, std::shared_ptr<DocEntry>> docs;
  std::mutex joined_mu;
  std::unordered_map<std::string, std::set<std::string>> joined;  // socket id -> documents

  ~Impl() {
    if (db != nullptr) sqlite3_close(db);
  }

  Status exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string message = err ? err : "sqlite error";
      sqlite3_free(err);
      return make_error(ErrorCode::kProtocol, "database: " + message);
    }
    return Ok{};
  }

  Status open() {
    if (opts.database_path.empty()) return Ok{};
    if (sqlite3_open_v2(opts.database_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
      std::string message = db ? sqlite3_errmsg(db) : "cannot open";
      return make_error(ErrorCode::kProtocol, "database " + opts.database_path + ": " + message);
    }
    sqlite3_busy_timeout(db, 5000);
    // WAL with synchronous=NORMAL: a committed append survives a crash of this process
    // (kill -9); FULL would also cover power loss at the cost of an fsync per edit.
    for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                            "CREATE TABLE IF NOT EXISTS snapshots(doc TEXT PRIMARY KEY, data BLOB NOT NULL, upto INTEGER NOT NULL)",
                            "CREATE TABLE IF NOT EXISTS updates(seq INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL, data BLOB NOT NULL)",
                            "CREATE INDEX IF NOT EXISTS updates_by_doc ON updates(doc, seq)"}) {
      Status s = exec(sql);
      if (!s) return s;
    }
    return Ok{};
  }

  // Loads a document: its snapshot, then the log after it.
  Status load(const std::string& name, DocEntry& e) {
    if (db == nullptr) return Ok{};
    std::lock_guard<std::mutex> lock(db_mu);
    sqlite3_int64 upto = 0;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT data, upto FROM snapshots WHERE doc = ?", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
      std::string data(static_cast<const char*>(sqlite3_column_blob(st, 0)), static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
      upto = sqlite3_column_int64(st, 1);
      Status s = e.doc.apply_update(data);
      if (!s) log(LogLevel::kError, "document " + name + ": snapshot rejected: " + s.error().message);
    }
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "SELECT data FROM updates WHERE doc = ? AND seq > ? ORDER BY seq", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, upto);
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string data(static_cast<const char*>(sqlite3_column_blob(st, 0)), static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
      Status s = e.doc.apply_update(data);
      if (!s) log(LogLevel::kError, "document " + name + ": logged update rejected: " + s.error().message);
      ++e.log_count;
    }
    sqlite3_finalize(st);
    return Ok{};
  }

  Status append(const std::string& name, std::string_view update) {
    if (db == nullptr) return Ok{};
    std::lock_guard<std::mutex> lock(db_mu);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO updates(doc, data) VALUES(?, ?)", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, update.data(), static_cast<int>(update.size()), SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return make_error(ErrorCode::kProtocol, std::string("database: ") + sqlite3_errmsg(db));
    return Ok{};
  }

  // Replaces the log of `name` by one snapshot (caller holds the document's lock).
  void compact(const std::string& name, DocEntry& e) {
    if (db == nullptr) return;
    std::string snapshot = e.doc.encode_state_as_update();
    std::lock_guard<std::mutex> lock(db_mu);
    if (!exec("BEGIN IMMEDIATE")) return;
    sqlite3_int64 upto = 0;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(seq), 0) FROM updates WHERE doc = ?", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) upto = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO snapshots(doc, data, upto) VALUES(?, ?, ?)", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, snapshot.data(), static_cast<int>(snapshot.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, upto);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "DELETE FROM updates WHERE doc = ? AND seq <= ?", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, upto);
    ok = ok && sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    (void)exec(ok ? "COMMIT" : "ROLLBACK");
    if (ok) e.log_count = 0;
  }

  Result<std::shared_ptr<DocEntry>> get(const std::string& name) {
    std::lock_guard<std::mutex> lock(docs_mu);
    auto it = docs.find(name);
    if (it != docs.end()) return it->second;
    auto e = std::make_shared<DocEntry>();
    Status s = load(name, *e);
    if (!s) return s.error();
    docs.emplace(name, e);
    return e;
  }

  bool has_joined(const std::string& sid, const std::string& name) {
    std::lock_guard<std::mutex> lock(joined_mu);
    auto it = joined.find(sid);
    return it != joined.end() && it->second.count(name) > 0;
  }

  void clear_awareness(Socket& socket, const std::string& name) {
    auto e = get(name);
    if (!e) return;
    bool had = false;
    {
      std::lock_guard<std::mutex> lock((*e)->mu);
      had = (*e)->awareness.erase(socket.id()) > 0;
    }
    if (had) socket.to("doc:" + name).emit("awareness", Args{name, socket.id(), Value()});
  }

  void leave(Socket& socket, const std::string& name) {
    {
      std::lock_guard<std::mutex> lock(joined_mu);
      auto it = joined.find(socket.id());
      if (it == joined.end() || it->second.erase(name) == 0) return;
    }
    clear_awareness(socket, name);
    socket.leave("doc:" + name);
  }

  void on_connection(Socket& socket);
};

void CollabService::Impl::on_connection(Socket& socket) {
  auto fail = [](Ack& ack, const std::string& message) { ack(Value::object({{"ok", false}, {"error", message}})); };

  socket.on("doc:join", [this, &socket, fail](const Args& a, Ack ack) {
    if (a.empty() || !a[0].is_string() || !valid_name(a[0].as_string(), opts.max_name_bytes)) {
      return fail(ack, "document name must be 1-" + std::to_string(opts.max_name_bytes) + " characters of A-Z a-z 0-9 . _ -");
    }
    const std::string& name = a[0].as_string();
    std::optional<collab::StateVector> theirs;
    if (a.size() > 1 && a[1].is_binary()) {
      auto sv = collab::StateVector::decode(as_bytes(a[1].as_binary()));
      if (!sv) return fail(ack, "invalid state vector: " + sv.error().message);
      theirs = std::move(sv).value();
    }
    auto e = get(name);
    if (!e) return fail(ack, e.error().message);
    {
      std::lock_guard<std::mutex> lock(joined_mu);
      joined[socket.id()].insert(name);
    }
    socket.join("doc:" + name);
    Value reply = Value::object({{"ok", true}});
    {
      std::lock_guard<std::mutex> lock((*e)->mu);
      reply.set("update", as_binary((*e)->doc.encode_state_as_update(theirs ? &*theirs : nullptr)));
      reply.set("stateVector", as_binary((*e)->doc.state_vector().encode()));
      Value peers = Value::array();
      for (const auto& [sid, state] : (*e)->awareness) {
        if (sid != socket.id()) peers.push_back(Value::object({{"id", sid}, {"state", state}}));
      }
      reply.set("awareness", std::move(peers));
    }
    ack(std::move(reply));
  });

  socket.on("doc:update", [this, &socket, fail](const Args& a, Ack ack) {
    if (a.size() < 2 || !a[0].is_string() || !a[1].is_binary()) return fail(ack, "doc:update takes (name, update bytes)");
    const std::string& name = a[0].as_string();
    if (!has_joined(socket.id(), name)) return fail(ack, "join the document first");
    const Binary& bytes = a[1].as_binary();
    if (bytes.size() > opts.max_update_bytes) return fail(ack, "update larger than " + std::to_string(opts.max_update_bytes) + " bytes");
    auto e = get(name);
    if (!e) return fail(ack, e.error().message);
    std::string update = as_bytes(bytes);
    {
      std::lock_guard<std::mutex> lock((*e)->mu);
      Status applied = (*e)->doc.apply_update(update);  // validates fully; nothing changes on error
      if (!applied) return fail(ack, "update rejected: " + applied.error().message);
      Status stored = append(name, update);  // durable before the acknowledgement
      if (!stored) return fail(ack, stored.error().message);
      if (++(*e)->log_count >= opts.compact_every) compact(name, **e);
      // Broadcast under the document lock so every replica sees updates in log order.
      socket.to("doc:" + name).emit("doc:update", Args{name, a[1]});
    }
    ack(Value::object({{"ok", true}}));
  });

  socket.on("doc:leave", [this, &socket](const Args& a, Ack ack) {
    if (!a.empty() && a[0].is_string()) leave(socket, a[0].as_string());
    ack(true);
  });

  socket.on("awareness", [this, &socket](const Args& a) {
    if (a.size() < 2 || !a[0].is_string()) return;
    const std::string& name = a[0].as_string();
    if (!has_joined(socket.id(), name)) return;
    if (!a[1].is_object() && !a[1].is_null()) return;
    auto e = get(name);
    if (!e) return;
    {
      std::lock_guard<std::mutex> lock((*e)->mu);
      if (a[1].is_null()) {
        (*e)->awareness.erase(socket.id());
      } else {
        (*e)->awareness[socket.id()] = a[1];
      }
    }
    socket.to("doc:" + name).emit("awareness", Args{name, socket.id(), a[1]});
  });

  socket.on_disconnecting([this, &socket](const std::string&) {
    std::set<std::string> names;
    {
      std::lock_guard<std::mutex> lock(joined_mu);
      auto it = joined.find(socket.id());
      if (it == joined.end()) return;
      names = it->second;
    }
    for (const std::string& name : names) leave(socket, name);
    std::lock_guard<std::mutex> lock(joined_mu);
    joined.erase(socket.id());
  });
}

CollabService::CollabService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CollabService::~CollabService() = default;

Result<std::unique_ptr<CollabService>> CollabService::attach(Server& server, CollabOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->server = &server;
  impl->opts = std::move(options);
  Status opened = impl->open();
  if (!opened) return opened.error();
  Impl* raw = impl.get();
  server.of(raw->opts.nsp).on_connection([raw](Socket& s) { raw->on_connection(s); });
  return std::unique_ptr<CollabService>(new CollabService(std::move(impl)));
}

Result<std::string> CollabService::text(const std::string& name) {
  auto e = impl_->get(name);
  if (!e) return e.error();
  std::lock_guard<std::mutex> lock((*e)->mu);
  return (*e)->doc.text();
}

Status CollabService::apply(const std::string& name, std::string_view update) {
  auto e = impl_->get(name);
  if (!e) return e.error();
  std::lock_guard<std::mutex> lock((*e)->mu);
  Status applied = (*e)->doc.apply_update(update);
  if (!applied) return applied;
  Status stored = impl_->append(name, update);
  if (!stored) return stored;
  impl_->server->of(impl_->opts.nsp).to("doc:" + name).emit("doc:update", Args{name, as_binary(std::string(update))});
  return Ok{};
}

}  // namespace chorus
