// Collaborative documents over Chorus: the server side of the editor.
//
// A CollabService serves documents on one namespace (default "/docs"). Each document is a
// chorus::collab::Doc (the same CRDT code as the browser) kept in memory while used and
// persisted in SQLite: every update is appended to the log, durably, *before* it is
// acknowledged, and the log is compacted into a snapshot every `compact_every` updates (the
// snapshot holds the integrated text; what still waits for missing edits stays in the log as
// one update). After a crash (even kill -9) and a restart, every acknowledged edit is there.
// A document nobody has joined leaves memory after `idle_unload_after` and is loaded again
// from SQLite when needed.
//
// Epochs (chorus/collab/epoch.h): a document whose tombstones outnumber its text
// (CollabOptions::epoch_min_deleted) starts a new epoch when it leaves memory, nobody having it
// open: it becomes its text without tombstones, and the epoch number goes up. A replica of the
// epoch before (offline edits in the editor's IndexedDB copy) is carried over: its join is
// refused with the current epoch, it sends its whole state with doc:carry, then joins afresh.
//
// Events (all binary arguments are Socket.IO binary attachments):
//   client -> "doc:join"   (name, stateVector?: Binary, epoch?: number)  ack: {ok, epoch,
//                           update: Binary (what the client lacks), stateVector: Binary (the
//                           server's), awareness: [...]}. With a non-empty state vector of
//                           another epoch than the document's (no epoch given: 0):
//                           {ok:false, error, epoch}.
//   client -> "doc:update" (name, update: Binary, epoch?: number)  ack: {ok, waiting} once
//                           durable; others in the document get "doc:update" (name, update).
//                           `waiting`: bytes of this connection's updates still waiting for
//                           missing edits (counted against max_pending_bytes_per_connection).
//                           An update of another epoch: {ok:false, error, epoch}.
//   client -> "doc:carry"  (name, epoch: number, state: Binary)  a replica of the epoch before
//                           the document's: its whole state (encodeStateAsUpdate()); what it
//                           changed there is replayed on the document (collab::carry_over) and
//                           sent to the others as a "doc:update". ack: {ok, epoch, inserted,
//                           deleted} once durable. Older epochs are refused (their state is
//                           gone): {ok:false, error, epoch}.
//   client -> "doc:leave"  (name)
//   client -> "awareness"  (name, state: object|null)   others get "awareness" (name, socketId,
//                           state); state is application data (user name, color, cursor as
//                           relative positions, typing...). Cleared (null) when the socket
//                           leaves the document or drops (after leave_grace_ms for a drop the
//                           socket can recover from). Optional ack: {ok} or {ok:false, error}.
// A refused join, update or awareness state (malformed, or past a limit below) is answered
// {ok:false, error} and changes nothing; an awareness state sent without an ack is answered
// by "doc:error" (name, error) to the sender.
//
// Thread-safety: handlers run where the server runs its connections' handlers (an event
// loop, or a front-door worker for a polling POST); each document has its own lock; the SQLite
// connection is serialised, and its writes (one small log row per update) run in the handler.
// Create the service before server.start(); it must outlive the server.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "chorus/error.h"
#include "chorus/server.h"

namespace chorus {

struct CollabOptions {
  std::string nsp = "/docs";
  std::string database_path;         // SQLite file; empty: memory only (nothing survives)
  std::size_t compact_every = 1000;  // updates appended before a snapshot replaces the log
  std::size_t max_update_bytes = 1'000'000;
  std::size_t max_name_bytes = 128;  // document names: 1..max bytes of [A-Za-z0-9._-]

  // What one connection can make the server hold (README, Limits). Each is refused with
  // {ok:false, error} past the limit; nothing is half-applied.
  // Documents one connection has joined at once (doc:join of another one is refused).
  std::size_t max_documents_per_connection = 32;
  // Bytes of updates waiting for missing edits (out-of-order updates, or ids from the
  // future), as collab::Doc::pending_bytes() counts them: per document, and of those the
  // ones one connection sent. An update that could take either past its limit is refused.
  std::size_t max_pending_bytes_per_document = 16u << 20;
  std::size_t max_pending_bytes_per_connection = 4u << 20;
  // One awareness state, as JSON text.
  std::size_t max_awareness_bytes = 4096;
  // A document nobody has joined is dropped from memory this long after its last user left
  // (it stays in SQLite). Only with a database: a memory-only document is never dropped.
  std::chrono::milliseconds idle_unload_after{30'000};
  // A socket whose transport dropped ("transport close", "transport error", "ping timeout",
  // ...: the reasons after which the server keeps its session for connection state recovery)
  // stays in its documents this long before the others see it leave (awareness cleared). If
  // it comes back recovered (same socket id) within it, nothing is visible to the others: its
  // documents, awareness and pending charges are as it left them. A recovered socket whose
  // grace ran out is subscribed again to the documents its restored rooms name (the others
  // saw it leave; its next awareness state shows it again). At most the server's recovery
  // window (ServerOptions::connection_state_recovery.max_disconnection_ms); 0, or recovery
  // off: the leave is immediate. An explicit disconnect or doc:leave is always immediate.
  std::chrono::milliseconds leave_grace{5'000};
  // A document leaving memory (idle_unload_after) with at least this many deleted characters,
  // and no fewer than its text's, starts a new epoch (above). 0: never. Only for clients that
  // send epochs (the editor demo does); the previous epoch's state stays in SQLite for its
  // stragglers, one epoch back.
  std::size_t epoch_min_deleted = 0;
};

class CollabService {
 public:
  // Opens (or creates) the database and registers the namespace handlers.
  static Result<std::unique_ptr<CollabService>> attach(Server& server, CollabOptions options);
  ~CollabService();

  // The current text of a document (loading it if needed); for tests and admin tools.
  Result<std::string> text(const std::string& name);
  // Applies an update from the server side (e.g. a REST import) as a client would (the
  // per-document pending limit applies; kLimitExceeded past it).
  Status apply(const std::string& name, std::string_view update);
  // Documents in memory now; for tests and health checks.
  std::size_t loaded_documents() const;
  // The document's epoch (loading it if needed).
  Result<std::uint64_t> epoch(const std::string& name);
  // Starts the document's next epoch now (an admin tool). kProtocol while a socket has it
  // open, or while updates wait for missing edits.
  Status start_epoch(const std::string& name);

  struct Impl;

 private:
  explicit CollabService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus
