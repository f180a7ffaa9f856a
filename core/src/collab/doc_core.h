// DocCore: the state and algorithms behind chorus::collab::Doc (and UndoManager). Internal.
//
// Data structures:
//  - clients_: the client table (64-bit ids interned to 4-byte indexes), each client with
//    its next clock, its ClockIndex (Id -> leaf) and what waits on it (pending items,
//    pending deletions).
//  - tree_: every item in document order (ContentTree, weights per unit).
//  - arena_: UTF-8 content of all items, appended as it arrives; items point into it, so
//    splitting a run never copies text and a typed run is contiguous.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chorus/collab/delta.h"
#include "chorus/collab/doc.h"
#include "chorus/collab/id.h"
#include "chorus/collab/relative_position.h"
#include "chorus/collab/state_vector.h"
#include "chorus/error.h"
#include "clock_index.h"
#include "content_tree.h"
#include "item.h"
#include "update_codec.h"

namespace chorus::collab::detail {

struct LocalRange {
  ClientIndex client = kNoClient;
  Clock clock = 0;
  Clock len = 0;
};

class DocCore final : public LeafMoveListener {
 public:
  DocCore(ClientId client, DocOptions options);
  DocCore(const DocCore&) = delete;
  DocCore& operator=(const DocCore&) = delete;

  ClientId client_id() const { return clients_[self_].id; }
  ClientIndex self() const { return self_; }
  Clock next_clock(ClientIndex c) const { return clients_[c].next; }
  ClientId client_of(ClientIndex c) const { return clients_[c].id; }
  ClientIndex lookup(ClientId id) const;

  // ---- local edits (positions in `unit`) ----
  Status insert(std::uint64_t pos, std::string_view text, Unit unit);
  // `deleted` (optional) receives the Id ranges this erase deleted.
  Status erase(std::uint64_t pos, std::uint64_t len, Unit unit, std::vector<LocalRange>* deleted);
  bool has_local_changes() const;
  std::string take_update();

  // ---- reading ----
  std::string text() const;
  std::uint64_t length(Unit unit) const { return tree_.total().get(unit); }
  std::uint64_t deleted_length() const { return tree_.total().all - tree_.total().cp; }
  Result<std::uint64_t> convert(std::uint64_t pos, Unit from, Unit to) const;

  // ---- sync ----
  StateVector state_vector() const;
  std::string encode(const StateVector* since) const;
  Status apply(std::string_view bytes, TextDelta* delta);
  std::size_t pending_count() const;
  std::size_t dropped_pending() const { return dropped_; }
  std::size_t pending_bytes() const { return pending_bytes_; }
  Result<std::size_t> pending_cost(std::string_view bytes) const;
  std::string encode_pending() const;

  // ---- relative positions ----
  Result<RelativePosition> relative_position(std::uint64_t pos, Assoc assoc, Unit unit) const;
  Result<std::uint64_t> resolve(const RelativePosition& position, Unit unit) const;

  // ---- undo support: local edits by Id ----
  // Starts recording what changes (for a delta); finish with end_changes().
  void begin_changes(bool record);
  void end_changes(TextDelta* delta);
  // Deletes the visible characters of `range` and of copies an undo made of them; appends
  // what it deleted to `deleted`.
  void delete_ids(const LocalRange& range, std::vector<LocalRange>* deleted);
  // Brings back the deleted characters of `range` as new characters of this client placed
  // right after them (or brings back a copy made earlier); appends the characters it made
  // visible to `restored`.
  void restore_ids(const LocalRange& range, std::vector<LocalRange>* restored);

  // ---- introspection ----
  std::size_t item_count() const;
  std::size_t memory_usage() const;
  std::string check_invariants() const;

  void on_item_moved(const Item& item, std::uint32_t leaf_number) override {
    clients_[item.client].index.set(item.clock, leaf_number);
  }

 private:
  // What a waiting deletion range counts against DocOptions::max_pending_bytes (its map node).
  static constexpr std::size_t kPendingDeleteCost = 48;

  struct PendingItem {
    ClientIndex client = kNoClient;
    Clock clock = 0;
    Clock len = 0;
    std::uint32_t u16 = 0;
    LocalId left;
    LocalId right;
    bool deleted = false;
    bool alive = false;
    std::string content;
  };

  struct ClientState {
    ClientId id = 0;
    Clock next = 0;
    ClockIndex index;
    // Min-heap of (clock that must become known, pending item slot).
    std::vector<std::pair<Clock, std::uint32_t>> waiters;
    // Deletions of clocks not integrated yet: start -> end.
    std::multimap<Clock, Clock> pending_deletes;
  };

  ClientIndex intern(ClientId id);

  // Lookup of the item holding `id` (which must be integrated); `*offset` receives the
  // offset of id in the item.
  Cursor find(LocalId id, std::uint32_t* offset) const;
  // Document order of a left origin's "just after" point (document start = 0) and of a
  // right origin (document end = max).
  std::uint64_t order_after(LocalId id) const;
  std::uint64_t order_of_right(LocalId id) const;

  std::string_view content(const Item& item) const {
    return std::string_view(arena_).substr(item.byte_start, item.byte_len);
  }

  // Splits the item at `at` after `offset` code points (0 < offset < len); returns the tail.
  Cursor split(Cursor at, std::uint32_t offset);
  // Marks the item at `at` deleted, joining it with neighbouring tombstones it continues;
  // returns the item now holding its characters.
  Cursor mark_deleted(Cursor at);
  // Deletes `count` characters of the ASCII item at `at` from `first` when they end it and
  // the next item of the leaf is a tombstone they continue (a backspace), or start it and
  // the previous one is (a forward delete): the boundary between the two items moves, with
  // no split and no merge. Returns the deleted range, or len 0 when the case does not apply.
  LocalRange shift_into_tombstone(Cursor at, std::uint32_t first, std::uint32_t count);
  // Deletes the visible characters of clocks [clock, clock + len) of client c (all known).
  void delete_known(ClientIndex c, Clock clock, Clock len, bool local, std::vector<LocalRange>* deleted);
  // Inserts `item` at `at`, or extends the item before `at` when `item` continues it.
  Cursor place(Cursor at, const Item& item);
  // Integrates a remote item whose dependencies are all known (FugueMax ordering).
  void integrate(Item item);
  // A new item of this client right after the item at `left` (whole item) or at the start.
  Cursor insert_local_after(Cursor left_item, std::uint32_t left_offset, bool at_start, std::string_view text,
                            Clock len, std::uint32_t u16);

  bool known(LocalId id) const { return id.none() || id.clock < clients_[id.client].next; }
  // First dependency of a pending item that is not integrated yet, if any.
  bool missing_dependency(const PendingItem& p, LocalId* missing) const;
  void delete_known_tombstone(const PendingItem& p);
  void integrate_ready(const PendingItem& p, std::string_view text);
  // One item of an update being applied (refs: the update's client table as indexes here).
  void apply_item(const DecItem& d, const std::vector<ClientIndex>& refs);
  void add_pending(PendingItem p);
  // Takes a waiting item out of the buffer (integrated, or known by now).
  void release_pending(std::uint32_t slot);
  // Waiting items of client c whose characters all became known through other items (a
  // hostile update can give the same ids twice): what they carry is done (a tombstone's
  // deletion applies), and nothing would ever wake them.
  void settle_known_pending(ClientIndex c);
  bool has_own_pending(ClientIndex c) const {
    if (pending_keys_.empty()) return false;
    auto it = pending_keys_.lower_bound(std::make_tuple(c, Clock{0}, Clock{0}));
    return it != pending_keys_.end() && std::get<0>(it->first) == c;
  }
  void wake(ClientIndex c);
  void apply_delete(ClientIndex c, Clock clock, Clock len);

  void push_local_delete(const LocalRange& r);
  void record_inserted(ClientIndex c, Clock clock, Clock len);
  void record_deleted(ClientIndex c, Clock clock, Clock len);
  void build_delta(TextDelta* delta);

  DocOptions options_;
  ClientIndex self_ = 0;
  std::vector<ClientState> clients_;
  std::unordered_map<ClientId, ClientIndex> client_lookup_;
  ContentTree tree_;
  std::string arena_;

  // Local changes since the last take_update().
  Clock taken_clock_ = 0;
  std::vector<LocalRange> local_deletes_;
  // Scratch of take_update(), kept between calls.
  std::vector<ClientId> take_ids_;
  std::vector<EncBlock> take_blocks_;

  // Changes recorded for a delta.
  bool recording_ = false;
  // The visible text was empty when the change began: its delta is the whole text inserted.
  bool changes_from_empty_ = false;
  std::vector<LocalRange> changed_inserted_;
  std::vector<LocalRange> changed_deleted_;

  // Updates waiting for dependencies.
  std::vector<PendingItem> pending_;
  std::vector<std::uint32_t> pending_free_;
  std::vector<std::uint32_t> ready_;
  // (client, clock, len) of every waiting item -> its slot in pending_.
  std::map<std::tuple<ClientIndex, Clock, Clock>, std::uint32_t> pending_keys_;
  std::size_t pending_items_ = 0;
  std::size_t pending_deletes_ = 0;
  std::size_t pending_bytes_ = 0;
  std::size_t dropped_ = 0;

  // Copies made by restore_ids: (client, clock) of the first original character ->
  // (length, clock of the copy in this client).
  std::map<std::pair<ClientIndex, Clock>, std::pair<Clock, Clock>> copies_;
};

}  // namespace chorus::collab::detail
