// Doc: one replica of a collaboratively edited text, the same code in the server and in the
// browser (WASM).
//
// The text is a sequence CRDT of the YATA / Fugue family. Every inserted character keeps
// its Id, the Id of the character to its left when it was typed (left origin) and of the
// one to its right (right origin); deleted characters stay as tombstones so that concurrent
// inserts can still find their origins. Concurrent inserts at one place are ordered by the
// FugueMax rule (in its list form: left origin first, then the position of the right
// origin, then the client id), which never interleaves two runs typed concurrently at one
// place, forwards or backwards, so replicas converge to text a person can read.
//
// Local edits:
//   insert(pos, text) / erase(pos, len) take positions in UTF-16 code units by default
//   (Unit::kCodePoint and Unit::kUtf8 also work); a position inside a character is an
//   error. Edits are collected until take_update(), which returns one update carrying all
//   of them (send it to the other replicas; an editor sending per keystroke calls it after
//   every edit).
// Remote edits:
//   apply_update(bytes) takes updates in any order, duplicated, or ahead of what they
//   depend on: what cannot be integrated yet is buffered and integrated as soon as its
//   dependencies arrive. The bytes are fully validated before anything changes, so a
//   rejected update leaves the document as it was. Pass a TextDelta to learn what changed.
// Sync:
//   state_vector() says what this replica has; encode_state_as_update(&their_vector)
//   returns what the other replica lacks (nullptr: the whole document, which loads with
//   apply_update on an empty Doc).
//
// Update encoding: version 1 for small updates (a keystroke's), version 2 for the others;
// both are read. All integers are LEB128 varuints.
//
// Version 1:
//   byte 0x01, varuint(n) client ids (the client table: each 64-bit id once per update;
//   everything below refers to a client by its index), varuint(blocks), each block:
//   varuint(client) varuint(first clock) varuint(items), each item: byte info, then its
//   left / right origin when explicit (varuint client, varuint clock), then either the UTF-8
//   content (varuint bytes + bytes) or, for a deleted run, its length in code points.
//   The info byte: bits 0-1 left origin (0 document start, 1 the item's own previous
//   clock, 2 explicit), bits 2-3 right origin (0 document end, 1 as the previous item of
//   the block, 2 explicit), bit 4 deleted run; other bits zero.
//   Items of a block have consecutive clocks. Then the delete set: varuint(clients), each:
//   varuint(client) varuint(ranges) and per range varuint(gap from the previous end)
//   varuint(length).
//
// Version 2, the same runs with their fields in columns: byte 0x02, byte flags (bit 0: the
// body is one LZ4 block; other bits zero), varuint(body size), then the body, raw or
// compressed. A compressed body expands to at most 64 times its size plus 64 KiB. Body:
//   varuint(n) client ids, the first one whole and each next one as its difference from
//   the one before (ascending); varuint(blocks), each block: varuint(client)
//   varuint(first clock) varuint(runs); seven columns, each varuint(bytes) + bytes:
//     infos          (info byte, varuint(repeats - 1)) pairs, one info per run;
//     left clients   varuint(client) per run with an explicit left origin;
//     left clocks    the same runs' left clocks, each as the zigzag varint of its
//                    difference from the previous one in this column (the first: from 0);
//     right clients, right clocks   the same for explicit right origins;
//     lengths        varuint per run: content bytes, or a deleted run's code points;
//     content        the runs' UTF-8, concatenated;
//   then the delete set as in version 1. The info byte is version 1's, plus right origin
//   kind 3: the left origin's next clock (same client).
//
// Memory: characters are stored in runs (one item, ~44 bytes, per run of characters typed
// in a row by one client, split where later edits cut it), their UTF-8 in one buffer.
// Deleted text stays in memory for undo; a document loaded from an encoding has none (the
// encoding sends deleted runs by length only). Tombstones stay for the document's life: a new
// epoch (chorus/collab/epoch.h) is how they go.
//
// Limits: a client's clock stays below kMaxClock; the document's UTF-8 content (tombstones
// included) stays below 4 GiB; updates buffered for missing dependencies stay below
// DocOptions::max_pending_bytes (past it, buffered updates are dropped and counted in
// dropped_pending(): nothing is half-applied, and the next state-vector sync brings the
// missing part again).
//
// Trust: updates are validated for structure, never for honesty. A replica that crafts
// origins contradicting its own history (a left origin after the right one, say) cannot
// crash a Doc or half-apply, but replicas that integrate such items in different orders can
// place them differently, as with Yjs. A server that must defend against hostile clients
// keeps the authoritative Doc and sends its own encoding to the others.
//
// Thread-safety: none. A Doc is a plain object; guard it with a lock when several threads
// touch it (a server keeping one Doc per room would use the room's lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/collab/delta.h"
#include "chorus/collab/id.h"
#include "chorus/collab/relative_position.h"
#include "chorus/collab/state_vector.h"
#include "chorus/error.h"

namespace chorus::collab {

namespace detail {
class DocCore;
}

struct DocOptions {
  // Most bytes of updates kept waiting for missing dependencies.
  std::size_t max_pending_bytes = 64u << 20;
};

class Doc {
 public:
  explicit Doc(ClientId client, DocOptions options = {});
  ~Doc();
  Doc(Doc&&) noexcept;
  Doc& operator=(Doc&&) noexcept;
  Doc(const Doc&) = delete;
  Doc& operator=(const Doc&) = delete;

  ClientId client_id() const;

  // ---- local edits -------------------------------------------------------------------
  // Inserts UTF-8 `text` at `pos`. Errors: kInvalidUtf8 (text), kProtocol (pos past the end
  // or inside a character), kLimitExceeded (clock or content limits).
  Status insert(std::size_t pos, std::string_view text, Unit unit = Unit::kUtf16);
  // Deletes `len` units from `pos`. Errors: kProtocol (range past the end or splitting a
  // character).
  Status erase(std::size_t pos, std::size_t len, Unit unit = Unit::kUtf16);
  // True when local edits wait for take_update().
  bool has_local_changes() const;
  // One update with every local edit since the last call (an empty update when there were
  // none): the content this replica inserted and the characters it deleted.
  std::string take_update();

  // ---- reading ------------------------------------------------------------------------
  std::string text() const;  // UTF-8
  std::size_t length(Unit unit = Unit::kUtf16) const;
  std::size_t length_utf16() const { return length(Unit::kUtf16); }
  // Converts a position between units. kProtocol when `pos` is past the end or inside a
  // character.
  Result<std::size_t> convert(std::size_t pos, Unit from, Unit to) const;

  // ---- sync ---------------------------------------------------------------------------
  StateVector state_vector() const;
  std::string encode_state_vector() const { return state_vector().encode(); }
  // What a replica whose state is `since` lacks; the whole document when `since` is null.
  std::string encode_state_as_update(const StateVector* since = nullptr) const;
  // The same from another replica's encoded state vector (as received from the network).
  // kInvalidPacket when `encoded_state_vector` is malformed.
  Result<std::string> encode_state_as_update(std::string_view encoded_state_vector) const;
  // Applies an update produced by any replica (take_update, encode_state_as_update, or a
  // merge of them). When `delta` is given it receives the visible change. Errors:
  // kInvalidPacket (malformed), kInvalidUtf8 (content), kLimitExceeded (clock limits);
  // on error nothing changed.
  Status apply_update(std::string_view update, TextDelta* delta = nullptr);
  // Updates' items and deletions waiting for missing dependencies.
  std::size_t pending_count() const;
  // What they count against DocOptions::max_pending_bytes (content plus a fixed cost per
  // item or deletion range).
  std::size_t pending_bytes() const;
  // At most how much apply_update(update) would add to pending_bytes() (never less than it
  // adds; more only when the update wakes waiting items that its own items depend on).
  // Lets a caller refuse an update before anything changes. kInvalidPacket / kInvalidUtf8
  // as apply_update.
  Result<std::size_t> pending_cost(std::string_view update) const;
  // Pending items dropped because of DocOptions::max_pending_bytes.
  std::size_t dropped_pending() const;
  // Everything waiting for missing dependencies, as one update: apply_update() on another
  // replica (or on this one reloaded from encode_state_as_update()) buffers the same items
  // and deletions. With encode_state_as_update() it is the whole received state, so a
  // snapshot made of both loses nothing that was accepted.
  std::string encode_pending() const;

  // ---- relative positions -------------------------------------------------------------
  Result<RelativePosition> relative_position(std::size_t pos, Assoc assoc = Assoc::kRight,
                                             Unit unit = Unit::kUtf16) const;
  // The index `position` stands for now. kProtocol when its character is not known here
  // (yet).
  Result<std::size_t> resolve(const RelativePosition& position, Unit unit = Unit::kUtf16) const;

  // ---- introspection ------------------------------------------------------------------
  // Runs of characters stored (tombstones included).
  std::size_t item_count() const;
  // Code points of deleted characters still held as tombstones (what a new epoch drops:
  // chorus/collab/epoch.h).
  std::size_t deleted_length() const;
  // Bytes allocated for this document's structures (content, tree, indexes, buffers).
  std::size_t memory_usage() const;
  // Internal consistency check for tests (weights, indexes, links): empty when sound.
  std::string check_invariants() const;

 private:
  friend class UndoManager;
  std::unique_ptr<detail::DocCore> core_;
};

}  // namespace chorus::collab
