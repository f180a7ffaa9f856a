// Collaborative documents over Chorus: the server side of the editor.
//
// A CollabService serves documents on one namespace (default "/docs"). Each document is a
// chorus::collab::Doc (the same CRDT code as the browser) kept in memory while used and
// persisted in SQLite: every update is appended to the log, durably, *before* it is
// acknowledged, and the log is compacted into a snapshot every `compact_every` updates. After
// a crash (even kill -9) and a restart, every acknowledged edit is there.
//
// Events (all binary arguments are Socket.IO binary attachments):
//   client -> "doc:join"   (name, stateVector?: Binary)  ack: {ok, update: Binary (what the
//                           client lacks), stateVector: Binary (the server's), awareness: [...]}
//   client -> "doc:update" (name, update: Binary)        ack: {ok} once durable; others in the
//                           document get "doc:update" (name, update)
//   client -> "doc:leave"  (name)
//   client -> "awareness"  (name, state: object|null)   others get "awareness" (name, socketId,
//                           state); state is application data (user name, color, cursor as
//                           relative positions, typing...). Cleared (null) when the socket
//                           leaves the document or drops.
// A refused update (malformed, or too large) is answered {ok:false, error} and changes nothing.
//
// Thread-safety: handlers run on connection threads; each document has its own lock; the
// SQLite connection is serialised. Create the service before server.start(); it must
// outlive the server.
#pragma once

#include <cstddef>
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
};

class CollabService {
 public:
  // Opens (or creates) the database and registers the namespace handlers.
  static Result<std::unique_ptr<CollabService>> attach(Server& server, CollabOptions options);
  ~CollabService();

  // The current text of a document (loading it if needed); for tests and admin tools.
  Result<std::string> text(const std::string& name);
  // Applies an update from the server side (e.g. a REST import) as a client would.
  Status apply(const std::string& name, std::string_view update);

  struct Impl;

 private:
  explicit CollabService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus
