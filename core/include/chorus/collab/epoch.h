// Epochs: how tombstones leave a document for good.
//
// Deleted characters stay in a Doc as tombstones because any replica that still holds one can
// name it as an origin of a later insert (Chorus's right origin is the next item, tombstones
// included), and the integration of inserts concurrent with a tombstone's own insert reads
// its origins. No state vector says when every replica has stopped holding a tombstone: a
// client can keep the document offline (the editor's IndexedDB copy) for weeks and come back
// with edits that name it. So tombstones are never removed from a document in place; instead
// the server starts a new epoch:
//
//   start_epoch(old, epoch_client) makes a new document holding old's text as one run typed
//   by `epoch_client` (code point k of the text is Id{epoch_client, k}), without a single
//   tombstone. Replicas of the new epoch load it from the server; ids of the old epoch mean
//   nothing in it.
//
//   carry_over(frozen, update, epoch_client, current) merges what a replica of the old epoch
//   did after the epoch began (its offline edits) into the new epoch's document. `frozen` is
//   the old epoch's document as it was when the new one started (start_epoch's input, kept
//   encoded while old-epoch replicas may still come back). The update's characters not yet
//   carried over are applied to a copy of it (so a straggler that sends its state twice,
//   its acknowledgement lost, is carried once); the visible change they make there is
//   replayed on `current` as local edits, each
//   at the place the old text's characters have now: an insert goes after the character it
//   followed in the old text, a deletion removes the old text's characters that are still
//   visible. The straggler then loads the new epoch's document (its undo history ends
//   there). Two stragglers inserting at one old place keep the order in which they were
//   carried over (the later one first).
//
// When to start an epoch is the caller's choice: when no replica of the document is
// connected (so no live undo history is cut), after a snapshot. The server decides; its
// choice of `epoch_client` must never be a real replica's id (e.g. from a reserved range).
//
// Thread-safety: none beyond Doc's.
#pragma once

#include <cstddef>
#include <string_view>

#include "chorus/collab/doc.h"
#include "chorus/collab/id.h"
#include "chorus/error.h"

namespace chorus::collab {

// A document of the next epoch: old's visible text as one run by `epoch_client`, owned by
// replica `owner` (the id its own later edits carry), with `options`. kLimitExceeded when the
// text has more than kMaxClock code points.
Result<Doc> start_epoch(const Doc& old, ClientId epoch_client, ClientId owner, DocOptions options = {});

// What carry_over did.
struct CarryOver {
  std::size_t inserted = 0;  // code points inserted into `current`
  std::size_t deleted = 0;   // code points deleted from `current`
  std::size_t pending = 0;   // items of the update that the frozen document could not integrate
};

// Replays on `current` (a document of the epoch start_epoch(frozen, epoch_client, ...) began)
// the visible change `update` makes to `frozen`, leaving out the characters `carried` already
// covers (what earlier carry_over calls of this epoch brought; `carried` then covers this
// update's too). The edits are local edits of `current`: take_update() afterwards sends them
// to the new epoch's replicas. Deletions are replayed whole every time (deleting a deleted
// character changes nothing). Errors: those of Doc::apply_update for `update` (nothing
// changed then), kProtocol when `current` does not hold the epoch's run (another epoch, or
// frozen's text was not its start). Inserts that depend on characters carried earlier
// cannot be placed: they count as `pending`.
Result<CarryOver> carry_over(const Doc& frozen, std::string_view update, ClientId epoch_client, Doc& current,
                             StateVector& carried);

}  // namespace chorus::collab
