// Collaborative documents: CRDT replicas per document, SQLite persistence, awareness.
#include "chorus/collab_service.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "chorus/collab/doc.h"
#include "chorus/collab/epoch.h"
#include "chorus/json/json.h"
#include "internal.h"
#include "plain_name.h"

namespace chorus {
namespace {

std::string as_bytes(const Binary& b) {
  return std::string(b.begin(), b.end());
}
Value as_binary(const std::string& s) {
  return Value::binary(s.data(), s.size());
}

// The server's replica: its client id carries only the edits it carries over from replicas
// of an earlier epoch (doc:carry).
constexpr collab::ClientId kServerClient = 0;
// Epoch N's run (collab/epoch.h) is typed by kEpochClientBase + N, a range no replica uses
// (the SDK's random ids stay below 2^53).
constexpr collab::ClientId kEpochClientBase = collab::ClientId{1} << 62;
collab::ClientId epoch_client(std::uint64_t epoch) {
  return kEpochClientBase + epoch;
}

using Clock = std::chrono::steady_clock;

// An epoch argument: absent or null means 0 (a client that knows nothing of epochs); anything
// else must be a whole number.
bool read_epoch(const Args& a, std::size_t i, std::uint64_t& out) {
  out = 0;
  if (a.size() <= i || a[i].is_null()) return true;
  if (!a[i].is_number()) return false;
  double v = a[i].as_number();
  if (!(v >= 0 && v <= 9007199254740991.0) || v != static_cast<double>(static_cast<std::uint64_t>(v))) return false;
  out = static_cast<std::uint64_t>(v);
  return true;
}

std::string epoch_message(std::uint64_t theirs, std::uint64_t ours) {
  return "document is at epoch " + std::to_string(ours) + ", not " + std::to_string(theirs) +
         (theirs + 1 == ours ? ": carry your edits over (doc:carry), then join without a state vector"
                             : ": join without a state vector");
}

// The socket may come back recovered (the server keeps its session).
bool may_come_back(const std::string& reason) {
  return disconnect_keeps_session(reason);
}

// One connection of the namespace: what it joined and the bytes of its updates still
// waiting for missing edits (the sum of its charges in the documents).
struct Conn {
  std::set<std::string> joined;  // guarded by Impl::joined_mu
  std::atomic<std::size_t> pending{0};
};

struct DocEntry {
  // The service refuses updates past its own pending limits before the Doc would drop
  // anything (CollabOptions); the Doc's limit stays a backstop at least as large.
  explicit DocEntry(std::size_t max_pending)
      : doc(kServerClient, collab::DocOptions{std::max(max_pending, collab::DocOptions{}.max_pending_bytes)}) {}

  std::mutex mu;
  collab::Doc doc;
  std::size_t log_count = 0;                         // updates appended since the snapshot
  std::uint64_t epoch = 0;                           // collab/epoch.h: 0 until the first one starts
  std::string frozen;                                // the previous epoch's final state, for its stragglers (doc:carry)
  collab::StateVector carried;                       // what doc:carry brought from that epoch so far
  std::unordered_map<std::string, Value> awareness;  // socket id -> state
  // Socket id -> (its connection, bytes of pending_bytes() charged to it).
  std::unordered_map<std::string, std::pair<std::shared_ptr<Conn>, std::size_t>> charges;
  // Guarded by Impl::docs_mu: sockets that joined, and since when nobody has.
  std::size_t subscribers = 0;
  Clock::time_point idle_since = Clock::now();

  // Releases what the charges no longer stand for: a charge is at most what is still
  // pending in the document (integrated items leave the charges of whoever sent them
  // shrinking with the total). Caller holds mu.
  void settle() {
    std::size_t total = doc.pending_bytes();
    for (auto it = charges.begin(); it != charges.end();) {
      auto& [conn, bytes] = it->second;
      if (bytes > total) {
        conn->pending -= bytes - total;
        bytes = total;
      }
      it = bytes == 0 ? charges.erase(it) : std::next(it);
    }
  }
  void release(const std::string& sid) {  // caller holds mu
    auto it = charges.find(sid);
    if (it == charges.end()) return;
    it->second.first->pending -= it->second.second;
    charges.erase(it);
  }
};

}  // namespace

struct CollabService::Impl {
  Server* server = nullptr;
  CollabOptions opts;
  sqlite3* db = nullptr;
  std::mutex db_mu;
  mutable std::mutex docs_mu;
  std::unordered_map<std::string, std::shared_ptr<DocEntry>> docs;
  std::mutex joined_mu;
  std::unordered_map<std::string, std::shared_ptr<Conn>> conns;  // socket id -> connection

  // Sockets whose transport dropped, still in their documents until their grace ends
  // (CollabOptions::leave_grace). grace_mu serialises a grace's end with the socket's return.
  std::chrono::milliseconds grace{0};
  std::mutex grace_mu;
  struct Away {
    TimerService::Id timer = 0;
    std::uint64_t token = 0;
  };
  std::unordered_map<std::string, Away> away;  // socket id -> its grace; guarded by grace_mu
  std::uint64_t next_token = 0;                // guarded by grace_mu

  // Idle documents are dropped by this thread (only with a database).
  std::thread sweeper;
  std::mutex sweep_mu;
  std::condition_variable sweep_cv;
  bool stopping = false;

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(sweep_mu);
      stopping = true;
    }
    sweep_cv.notify_all();
    if (sweeper.joinable()) sweeper.join();
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
    if (sqlite3_open_v2(opts.database_path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
      std::string message = db ? sqlite3_errmsg(db) : "cannot open";
      return make_error(ErrorCode::kProtocol, "database " + opts.database_path + ": " + message);
    }
    sqlite3_busy_timeout(db, 5000);
    // WAL with synchronous=NORMAL: a committed append survives a crash of this process
    // (kill -9); FULL would also cover power loss at the cost of an fsync per edit.
    for (const char* sql :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
          "CREATE TABLE IF NOT EXISTS snapshots(doc TEXT PRIMARY KEY, data BLOB NOT NULL, upto INTEGER NOT NULL)",
          "CREATE TABLE IF NOT EXISTS updates(seq INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL, data BLOB NOT "
          "NULL)",
          "CREATE INDEX IF NOT EXISTS updates_by_doc ON updates(doc, seq)",
          "CREATE TABLE IF NOT EXISTS epochs(doc TEXT PRIMARY KEY, epoch INTEGER NOT NULL, frozen BLOB NOT NULL, "
          "carried BLOB NOT NULL)"}) {
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
      std::string data(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                       static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
      upto = sqlite3_column_int64(st, 1);
      Status s = e.doc.apply_update(data);
      if (!s) log(LogLevel::kError, "document " + name + ": snapshot rejected: " + s.error().message);
    }
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "SELECT epoch, frozen, carried FROM epochs WHERE doc = ?", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
      e.epoch = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
      e.frozen.assign(static_cast<const char*>(sqlite3_column_blob(st, 1)),
                      static_cast<std::size_t>(sqlite3_column_bytes(st, 1)));
      auto carried = collab::StateVector::decode(std::string_view(
          static_cast<const char*>(sqlite3_column_blob(st, 2)), static_cast<std::size_t>(sqlite3_column_bytes(st, 2))));
      if (carried) {
        e.carried = std::move(carried).value();
      } else {
        log(LogLevel::kError, "document " + name + ": epoch record unreadable: " + carried.error().message);
      }
    }
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "SELECT data FROM updates WHERE doc = ? AND seq > ? ORDER BY seq", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, upto);
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string data(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                       static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
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

  // A carried-over update and the record of what has been carried, in one transaction: a
  // straggler that retries after a crash is carried once.
  Status append_carried(const std::string& name, std::string_view update, const collab::StateVector& carried) {
    if (db == nullptr) return Ok{};
    const std::string record = carried.encode();
    std::lock_guard<std::mutex> lock(db_mu);
    if (Status s = exec("BEGIN IMMEDIATE"); !s) return s;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO updates(doc, data) VALUES(?, ?)", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, update.data(), static_cast<int>(update.size()), SQLITE_TRANSIENT);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "UPDATE epochs SET carried = ? WHERE doc = ?", -1, &st, nullptr);
    sqlite3_bind_blob(st, 1, record.data(), static_cast<int>(record.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    ok = ok && sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    if (!ok) {
      std::string message = sqlite3_errmsg(db);
      (void)exec("ROLLBACK");
      return make_error(ErrorCode::kProtocol, "database: " + message);
    }
    return exec("COMMIT");
  }

  // Inside a transaction (caller holds db_mu): `snapshot` becomes the document's snapshot and
  // the log up to now goes. False on a database error (the caller rolls back).
  bool replace_log_in_transaction(const std::string& name, const std::string& snapshot) {
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
    return ok;
  }

  // Replaces the log of `name` by one snapshot of the integrated state and, in the same
  // transaction, one logged update holding whatever still waits for missing edits: those
  // parts were acknowledged too, and the snapshot cannot carry them (caller holds the
  // document's lock).
  void compact(const std::string& name, DocEntry& e) {
    if (db == nullptr) return;
    std::string snapshot = e.doc.encode_state_as_update();
    std::string pending = e.doc.pending_count() > 0 ? e.doc.encode_pending() : std::string();
    std::lock_guard<std::mutex> lock(db_mu);
    if (!exec("BEGIN IMMEDIATE")) return;
    bool ok = replace_log_in_transaction(name, snapshot);
    sqlite3_stmt* st = nullptr;
    if (ok && !pending.empty()) {
      sqlite3_prepare_v2(db, "INSERT INTO updates(doc, data) VALUES(?, ?)", -1, &st, nullptr);
      sqlite3_bind_text(st, 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
      sqlite3_bind_blob(st, 2, pending.data(), static_cast<int>(pending.size()), SQLITE_TRANSIENT);
      ok = sqlite3_step(st) == SQLITE_DONE;
      sqlite3_finalize(st);
    }
    (void)exec(ok ? "COMMIT" : "ROLLBACK");
    if (ok) e.log_count = pending.empty() ? 0 : 1;
  }

  // Starts the next epoch of `name` (collab/epoch.h): the document becomes its text without a
  // tombstone, and the state it had is kept (in SQLite too) for replicas of the epoch ending
  // now that come back with offline edits. Snapshot, log and epoch change in one transaction.
  // Refused while updates wait for missing edits (the new epoch could not place them).
  // Caller holds e.mu and has checked that nobody has the document open.
  Status begin_epoch_locked(const std::string& name, DocEntry& e) {
    if (e.doc.pending_count() > 0) {
      return make_error(ErrorCode::kProtocol, "document " + name + ": updates wait for missing edits");
    }
    std::string frozen = e.doc.encode_state_as_update();
    const std::size_t dropped = e.doc.deleted_length();
    auto next = collab::start_epoch(
        e.doc, epoch_client(e.epoch + 1), kServerClient,
        collab::DocOptions{std::max(opts.max_pending_bytes_per_document, collab::DocOptions{}.max_pending_bytes)});
    if (!next) return next.error();
    if (db != nullptr) {
      std::string snapshot = next->encode_state_as_update();
      std::lock_guard<std::mutex> lock(db_mu);
      if (Status s = exec("BEGIN IMMEDIATE"); !s) return s;
      bool ok = replace_log_in_transaction(name, snapshot);
      sqlite3_stmt* st = nullptr;
      const std::string none = collab::StateVector().encode();
      sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO epochs(doc, epoch, frozen, carried) VALUES(?, ?, ?, ?)", -1, &st,
                         nullptr);
      sqlite3_bind_text(st, 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(e.epoch + 1));
      sqlite3_bind_blob(st, 3, frozen.data(), static_cast<int>(frozen.size()), SQLITE_TRANSIENT);
      sqlite3_bind_blob(st, 4, none.data(), static_cast<int>(none.size()), SQLITE_TRANSIENT);
      ok = ok && sqlite3_step(st) == SQLITE_DONE;
      sqlite3_finalize(st);
      (void)exec(ok ? "COMMIT" : "ROLLBACK");
      if (!ok) return make_error(ErrorCode::kProtocol, std::string("database: ") + sqlite3_errmsg(db));
    }
    e.doc = std::move(next.value());
    e.epoch += 1;
    e.frozen = std::move(frozen);
    e.carried = collab::StateVector();
    e.log_count = 0;
    log(LogLevel::kInfo, "document " + name + ": epoch " + std::to_string(e.epoch) + " started, " +
                             std::to_string(dropped) + " deleted characters dropped");
    return Ok{};
  }

  // The document, loaded if needed; `subscribe` counts a socket that joins it.
  Result<std::shared_ptr<DocEntry>> get(const std::string& name, bool subscribe = false) {
    std::lock_guard<std::mutex> lock(docs_mu);
    auto it = docs.find(name);
    std::shared_ptr<DocEntry> e;
    if (it != docs.end()) {
      e = it->second;
    } else {
      e = std::make_shared<DocEntry>(opts.max_pending_bytes_per_document);
      Status s = load(name, *e);
      if (!s) return s.error();
      docs.emplace(name, e);
    }
    if (subscribe) ++e->subscribers;
    e->idle_since = Clock::now();
    return e;
  }

  // The document if it is in memory (never loads).
  std::shared_ptr<DocEntry> peek(const std::string& name) {
    std::lock_guard<std::mutex> lock(docs_mu);
    auto it = docs.find(name);
    return it == docs.end() ? nullptr : it->second;
  }

  void unsubscribe(const std::string& name) {
    std::lock_guard<std::mutex> lock(docs_mu);
    auto it = docs.find(name);
    if (it == docs.end() || it->second->subscribers == 0) return;
    if (--it->second->subscribers == 0) it->second->idle_since = Clock::now();
  }

  // A new epoch for a document about to leave memory, when it holds at least
  // CollabOptions::epoch_min_deleted deleted characters and no fewer than its text.
  void maybe_begin_epoch(const std::string& name, DocEntry& e) {
    std::lock_guard<std::mutex> lock(e.mu);
    const std::size_t deleted = e.doc.deleted_length();
    if (opts.epoch_min_deleted == 0 || deleted < opts.epoch_min_deleted ||
        deleted < e.doc.length(collab::Unit::kCodePoint)) {
      return;
    }
    if (Status s = begin_epoch_locked(name, e); !s) {
      log(LogLevel::kWarn, "document " + name + ": no new epoch: " + s.error().message);
    }
  }

  // Drops the documents nobody has joined or holds for idle_unload_after. Everything they
  // hold is in SQLite (the log keeps even what waits for missing edits); awareness is empty
  // without subscribers.
  void sweep() {
    auto now = Clock::now();
    std::vector<std::shared_ptr<DocEntry>> dropped;
    {
      std::lock_guard<std::mutex> lock(docs_mu);
      for (auto it = docs.begin(); it != docs.end();) {
        DocEntry& e = *it->second;
        // use_count 1: only the map holds it, and new holders only come through get()
        // under docs_mu, so nobody is using it.
        if (e.subscribers == 0 && it->second.use_count() == 1 && now - e.idle_since >= opts.idle_unload_after) {
          // Nobody has it open: the moment to drop its tombstones, when they are many. Still
          // under docs_mu, so nobody loads the document meanwhile from the rows this rewrites.
          maybe_begin_epoch(it->first, e);
          dropped.push_back(std::move(it->second));
          it = docs.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& e : dropped) {
      std::lock_guard<std::mutex> lock(e->mu);
      for (auto& [sid, charge] : e->charges) charge.first->pending -= charge.second;
      e->charges.clear();
    }
  }

  void sweep_loop() {
    auto every = std::clamp<std::chrono::milliseconds>(opts.idle_unload_after / 4, std::chrono::milliseconds(5),
                                                       std::chrono::milliseconds(1000));
    std::unique_lock<std::mutex> lock(sweep_mu);
    while (!stopping) {
      sweep_cv.wait_for(lock, every, [&] { return stopping; });
      if (stopping) break;
      lock.unlock();
      sweep();
      lock.lock();
    }
  }

  // Applies, logs (durably) and broadcasts one update, or refuses it whole. `conn` is the
  // sending connection (null from the server side); caller holds e.mu.
  Status apply_locked(const std::string& name, DocEntry& e, std::string_view update, Socket* from,
                      const std::shared_ptr<Conn>& conn) {
    auto cost = e.doc.pending_cost(update);  // validates fully
    if (!cost) return make_error(cost.error().code, "update rejected: " + cost.error().message);
    if (*cost > 0) {
      if (e.doc.pending_bytes() + *cost > opts.max_pending_bytes_per_document) {
        return make_error(ErrorCode::kLimitExceeded,
                          "update refused: document " + name + " would hold more than " +
                              std::to_string(opts.max_pending_bytes_per_document) +
                              " bytes of updates waiting for missing edits (sync with a state vector first)");
      }
      if (conn && conn->pending.load() + *cost > opts.max_pending_bytes_per_connection) {
        return make_error(ErrorCode::kLimitExceeded,
                          "update refused: this connection would have more than " +
                              std::to_string(opts.max_pending_bytes_per_connection) +
                              " bytes of updates waiting for missing edits (sync with a state vector first)");
      }
    }
    std::size_t before = e.doc.pending_bytes();
    Status applied = e.doc.apply_update(update);  // nothing changes on error
    if (!applied) return make_error(applied.error().code, "update rejected: " + applied.error().message);
    Status stored = append(name, update);  // durable before the acknowledgement
    if (!stored) return stored;
    std::size_t after = e.doc.pending_bytes();
    if (conn && from && after > before) {
      auto& charge = e.charges[from->id()];
      charge.first = conn;
      charge.second += after - before;
      conn->pending += after - before;
    }
    e.settle();
    if (++e.log_count >= opts.compact_every) compact(name, e);
    // Broadcast under the document lock so every replica sees updates in log order.
    Args args{name, as_binary(std::string(update))};
    if (from) {
      from->to("doc:" + name).emit("doc:update", std::move(args));
    } else {
      server->of(opts.nsp).to("doc:" + name).emit("doc:update", std::move(args));
    }
    return Ok{};
  }

  std::shared_ptr<Conn> conn_of(const std::string& sid) {
    std::lock_guard<std::mutex> lock(joined_mu);
    auto& c = conns[sid];
    if (!c) c = std::make_shared<Conn>();
    return c;
  }

  bool has_joined(const std::string& sid, const std::string& name) {
    std::lock_guard<std::mutex> lock(joined_mu);
    auto it = conns.find(sid);
    return it != conns.end() && it->second->joined.count(name) > 0;
  }

  void clear_awareness(Socket& socket, const std::string& name) {
    auto e = peek(name);
    if (!e) return;
    bool had = false;
    {
      std::lock_guard<std::mutex> lock(e->mu);
      had = e->awareness.erase(socket.id()) > 0;
    }
    if (had) socket.to("doc:" + name).emit("awareness", Args{name, socket.id(), Value()});
  }

  // Its grace ran out: what leave() does for each document, then what a disconnect does, for
  // a socket that is gone (the others hear it from the server). Caller holds grace_mu.
  void grace_over(const std::string& sid) {
    std::set<std::string> names;
    std::shared_ptr<Conn> conn;
    {
      std::lock_guard<std::mutex> lock(joined_mu);
      auto it = conns.find(sid);
      if (it == conns.end()) return;
      conn = it->second;
      names = std::move(conn->joined);
      conn->joined.clear();
    }
    for (const std::string& name : names) {
      if (auto e = peek(name)) {
        bool had = false;
        {
          std::lock_guard<std::mutex> lock(e->mu);
          had = e->awareness.erase(sid) > 0;
        }
        if (had) server->of(opts.nsp).to("doc:" + name).emit("awareness", Args{name, sid, Value()});
      }
      unsubscribe(name);
    }
    forget(sid, conn);
  }

  // A socket that has left for good: its updates that still wait stay in the documents,
  // charged to nobody.
  void forget(const std::string& sid, const std::shared_ptr<Conn>& conn) {
    if (conn->pending.load() > 0) {
      std::vector<std::shared_ptr<DocEntry>> loaded;
      {
        std::lock_guard<std::mutex> lock(docs_mu);
        for (auto& [name, e] : docs) loaded.push_back(e);
      }
      for (auto& e : loaded) {
        std::lock_guard<std::mutex> lock(e->mu);
        e->release(sid);
      }
    }
    std::lock_guard<std::mutex> lock(joined_mu);
    conns.erase(sid);
  }

  // A recovered socket (same id, rooms restored). Within its grace: it never left, nothing to
  // do. After it: subscribe it again to the documents its rooms name, silently (the others
  // saw it leave; its next awareness state shows it again).
  void returned(Socket& socket) {
    std::lock_guard<std::mutex> grace_lock(grace_mu);
    auto it = away.find(socket.id());
    if (it != away.end()) {
      server->impl().timers.cancel(it->second.timer);
      away.erase(it);
      return;
    }
    const std::string prefix = "doc:";
    for (const std::string& room : socket.rooms()) {
      if (room.compare(0, prefix.size(), prefix) != 0) continue;
      std::string name = room.substr(prefix.size());
      std::shared_ptr<Conn> conn = conn_of(socket.id());
      bool fits = false;
      {
        std::lock_guard<std::mutex> lock(joined_mu);
        fits = conn->joined.count(name) == 0 && conn->joined.size() < opts.max_documents_per_connection;
      }
      bool ok = fits && is_plain_name(name, opts.max_name_bytes);
      if (ok) ok = static_cast<bool>(get(name, /*subscribe=*/true));
      if (!ok) {
        socket.leave(room);
        continue;
      }
      std::lock_guard<std::mutex> lock(joined_mu);
      conn->joined.insert(name);
    }
  }

  void leave(Socket& socket, const std::string& name) {
    {
      std::lock_guard<std::mutex> lock(joined_mu);
      auto it = conns.find(socket.id());
      if (it == conns.end() || it->second->joined.erase(name) == 0) return;
    }
    clear_awareness(socket, name);
    socket.leave("doc:" + name);
    unsubscribe(name);
  }

  void on_connection(Socket& socket);
};

void CollabService::Impl::on_connection(Socket& socket) {
  if (socket.recovered()) returned(socket);
  auto fail = [](Ack& ack, const std::string& message) { ack(Value::object({{"ok", false}, {"error", message}})); };

  socket.on("doc:join", [this, &socket, fail](const Args& a, Ack ack) {
    if (a.empty() || !a[0].is_string() || !is_plain_name(a[0].as_string(), opts.max_name_bytes)) {
      return fail(
          ack, "document name must be 1-" + std::to_string(opts.max_name_bytes) + " characters of A-Z a-z 0-9 . _ -");
    }
    const std::string& name = a[0].as_string();
    std::optional<collab::StateVector> theirs;
    if (a.size() > 1 && a[1].is_binary()) {
      auto sv = collab::StateVector::decode(as_bytes(a[1].as_binary()));
      if (!sv) return fail(ack, "invalid state vector: " + sv.error().message);
      theirs = std::move(sv).value();
    }
    std::uint64_t their_epoch = 0;
    if (!read_epoch(a, 2, their_epoch)) return fail(ack, "epoch must be a whole number");
    std::shared_ptr<Conn> conn = conn_of(socket.id());
    bool again = false;
    {
      std::lock_guard<std::mutex> lock(joined_mu);
      again = conn->joined.count(name) > 0;
      if (!again && conn->joined.size() >= opts.max_documents_per_connection) {
        return fail(ack, "at most " + std::to_string(opts.max_documents_per_connection) +
                             " documents open per connection: leave one first");
      }
    }
    auto e = get(name, /*subscribe=*/!again);
    if (!e) return fail(ack, e.error().message);
    if (!again) {
      std::lock_guard<std::mutex> lock(joined_mu);
      conn->joined.insert(name);
    }
    socket.join("doc:" + name);
    Value reply = Value::object({{"ok", true}});
    {
      std::lock_guard<std::mutex> lock((*e)->mu);
      if (theirs && !theirs->empty() && their_epoch != (*e)->epoch) {
        // Their state vector names another epoch's ids: nothing in it can be diffed here. (An
        // empty one names none: a replica that has nothing joins any epoch.)
        const std::uint64_t ours = (*e)->epoch;
        reply = Value::object(
            {{"ok", false}, {"error", epoch_message(their_epoch, ours)}, {"epoch", static_cast<double>(ours)}});
      } else {
        reply.set("epoch", static_cast<double>((*e)->epoch));
        reply.set("update", as_binary((*e)->doc.encode_state_as_update(theirs ? &*theirs : nullptr)));
        reply.set("stateVector", as_binary((*e)->doc.state_vector().encode()));
        Value peers = Value::array();
        for (const auto& [sid, state] : (*e)->awareness) {
          if (sid != socket.id()) peers.push_back(Value::object({{"id", sid}, {"state", state}}));
        }
        reply.set("awareness", std::move(peers));
      }
    }
    if (const Value* ok = reply.find("ok"); ok != nullptr && !ok->get_bool()) {
      if (!again) leave(socket, name);
    }
    ack(std::move(reply));
  });

  socket.on("doc:update", [this, &socket, fail](const Args& a, Ack ack) {
    if (a.size() < 2 || !a[0].is_string() || !a[1].is_binary())
      return fail(ack, "doc:update takes (name, update bytes)");
    const std::string& name = a[0].as_string();
    if (!has_joined(socket.id(), name)) return fail(ack, "join the document first");
    const Binary& bytes = a[1].as_binary();
    if (bytes.size() > opts.max_update_bytes)
      return fail(ack, "update larger than " + std::to_string(opts.max_update_bytes) + " bytes");
    std::uint64_t their_epoch = 0;
    if (!read_epoch(a, 2, their_epoch)) return fail(ack, "epoch must be a whole number");
    auto e = get(name);
    if (!e) return fail(ack, e.error().message);
    std::shared_ptr<Conn> conn = conn_of(socket.id());
    {
      std::lock_guard<std::mutex> lock((*e)->mu);
      if (their_epoch != (*e)->epoch) {
        const std::uint64_t ours = (*e)->epoch;
        return ack(Value::object({{"ok", false},
                                  {"error", "update refused: " + epoch_message(their_epoch, ours)},
                                  {"epoch", static_cast<double>(ours)}}));
      }
      Status s = apply_locked(name, **e, as_bytes(bytes), &socket, conn);
      if (!s) return fail(ack, s.error().message);
    }
    ack(Value::object({{"ok", true}, {"waiting", static_cast<double>(conn->pending.load())}}));
  });

  socket.on("doc:carry", [this, fail](const Args& a, Ack ack) {
    std::uint64_t their_epoch = 0;
    if (a.size() < 3 || !a[0].is_string() || !a[1].is_number() || !a[2].is_binary() || !read_epoch(a, 1, their_epoch)) {
      return fail(ack, "doc:carry takes (name, epoch, state bytes)");
    }
    const std::string& name = a[0].as_string();
    if (!is_plain_name(name, opts.max_name_bytes)) return fail(ack, "invalid document name");
    const Binary& bytes = a[2].as_binary();
    if (bytes.size() > opts.max_update_bytes)
      return fail(ack, "state larger than " + std::to_string(opts.max_update_bytes) + " bytes");
    auto e = get(name);
    if (!e) return fail(ack, e.error().message);
    std::lock_guard<std::mutex> lock((*e)->mu);
    DocEntry& entry = **e;
    if (their_epoch + 1 != entry.epoch || entry.frozen.empty()) {
      const std::string why = their_epoch == entry.epoch
                                  ? "nothing to carry over: the document is at epoch " + std::to_string(entry.epoch) +
                                        " already (send doc:update)"
                                  : "cannot carry over from epoch " + std::to_string(their_epoch) +
                                        ": the document is at epoch " + std::to_string(entry.epoch) +
                                        " and keeps only the state of the epoch before";
      return ack(Value::object({{"ok", false}, {"error", why}, {"epoch", static_cast<double>(entry.epoch)}}));
    }
    collab::Doc frozen(kServerClient);
    if (Status s = frozen.apply_update(entry.frozen); !s)
      return fail(ack, "epoch state unreadable: " + s.error().message);
    collab::StateVector carried_sv = entry.carried;
    auto carried = collab::carry_over(frozen, as_bytes(bytes), epoch_client(entry.epoch), entry.doc, carried_sv);
    // What was replayed (all of it, or up to an error) goes out like any update.
    if (entry.doc.has_local_changes()) {
      std::string update = entry.doc.take_update();
      if (Status stored = append_carried(name, update, carried_sv); !stored) return fail(ack, stored.error().message);
      entry.carried = carried_sv;
      if (++entry.log_count >= opts.compact_every) compact(name, entry);
      server->of(opts.nsp).to("doc:" + name).emit("doc:update", Args{name, as_binary(update)});
    }
    if (!carried) return fail(ack, "carry-over refused: " + carried.error().message);
    ack(Value::object({{"ok", true},
                       {"epoch", static_cast<double>(entry.epoch)},
                       {"inserted", static_cast<double>(carried->inserted)},
                       {"deleted", static_cast<double>(carried->deleted)}}));
  });

  socket.on("doc:leave", [this, &socket](const Args& a, Ack ack) {
    if (!a.empty() && a[0].is_string()) leave(socket, a[0].as_string());
    ack(true);
  });

  socket.on("awareness", [this, &socket](const Args& a, Ack ack) {
    if (a.size() < 2 || !a[0].is_string()) return;
    const std::string& name = a[0].as_string();
    auto refuse = [&](const std::string& message) {
      if (ack.requested()) {
        ack(Value::object({{"ok", false}, {"error", message}}));
      } else {
        socket.emit("doc:error", Args{name, message});
      }
    };
    if (!has_joined(socket.id(), name)) return refuse("join the document first");
    if (!a[1].is_object() && !a[1].is_null()) return refuse("awareness state must be an object or null");
    if (a[1].is_object()) {
      auto text = json::stringify(a[1]);
      if (!text || text->size() > opts.max_awareness_bytes) {
        return refuse("awareness state larger than " + std::to_string(opts.max_awareness_bytes) + " bytes of JSON");
      }
    }
    auto e = peek(name);  // joined: in memory
    if (!e) return refuse("document not open");
    {
      std::lock_guard<std::mutex> lock(e->mu);
      if (a[1].is_null()) {
        e->awareness.erase(socket.id());
      } else {
        e->awareness[socket.id()] = a[1];
      }
    }
    socket.to("doc:" + name).emit("awareness", Args{name, socket.id(), a[1]});
    ack(Value::object({{"ok", true}}));
  });

  socket.on_disconnecting([this, &socket](const std::string& reason) {
    std::shared_ptr<Conn> conn;
    std::set<std::string> names;
    {
      std::lock_guard<std::mutex> lock(joined_mu);
      auto it = conns.find(socket.id());
      if (it == conns.end()) return;
      conn = it->second;
      names = conn->joined;
    }
    if (grace.count() > 0 && may_come_back(reason) && !names.empty()) {
      // It may come back recovered: it stays in its documents (and its rooms stay in the kept
      // session) until its grace ends.
      std::lock_guard<std::mutex> away_lock(grace_mu);
      std::uint64_t token = ++next_token;
      std::string sid = socket.id();
      TimerService::Id timer = server->impl().timers.schedule_in(grace, [this, sid, token] {
        std::lock_guard<std::mutex> lock(grace_mu);
        auto it = away.find(sid);
        if (it == away.end() || it->second.token != token) return;  // it came back
        away.erase(it);
        grace_over(sid);
      });
      away[sid] = Away{timer, token};
      return;
    }
    for (const std::string& name : names) leave(socket, name);
    forget(socket.id(), conn);
  });
}

CollabService::CollabService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CollabService::~CollabService() = default;

Result<std::unique_ptr<CollabService>> CollabService::attach(Server& server, CollabOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->server = &server;
  impl->opts = std::move(options);
  // The grace is only worth having while the server keeps the session, and at most as long.
  const ConnectionStateRecoveryOptions& recovery = server.options().connection_state_recovery;
  if (recovery.enabled && impl->opts.leave_grace.count() > 0) {
    impl->grace = std::min(impl->opts.leave_grace, std::chrono::milliseconds(recovery.max_disconnection_ms));
  }
  Status opened = impl->open();
  if (!opened) return opened.error();
  Impl* raw = impl.get();
  if (raw->db != nullptr) raw->sweeper = std::thread([raw] { raw->sweep_loop(); });
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
  return impl_->apply_locked(name, **e, update, nullptr, nullptr);
}

Result<std::uint64_t> CollabService::epoch(const std::string& name) {
  auto e = impl_->get(name);
  if (!e) return e.error();
  std::lock_guard<std::mutex> lock((*e)->mu);
  return (*e)->epoch;
}

Status CollabService::start_epoch(const std::string& name) {
  auto e = impl_->get(name);
  if (!e) return e.error();
  {
    std::lock_guard<std::mutex> lock(impl_->docs_mu);
    if ((*e)->subscribers > 0) {
      return make_error(ErrorCode::kProtocol, "document " + name + " is open (" + std::to_string((*e)->subscribers) +
                                                  " sockets): epochs start when nobody has it open");
    }
  }
  std::lock_guard<std::mutex> lock((*e)->mu);
  return impl_->begin_epoch_locked(name, **e);
}

std::size_t CollabService::loaded_documents() const {
  std::lock_guard<std::mutex> lock(impl_->docs_mu);
  return impl_->docs.size();
}

}  // namespace chorus
