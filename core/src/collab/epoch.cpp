// Epochs (epoch.h).
#include "chorus/collab/epoch.h"

#include <string>

namespace chorus::collab {

Result<Doc> start_epoch(const Doc& old, ClientId epoch_client, ClientId owner, DocOptions options) {
  if (owner == epoch_client) {
    return make_error(ErrorCode::kProtocol, "start_epoch: the owner cannot be the epoch's own client id");
  }
  if (old.length(Unit::kCodePoint) > kMaxClock) {
    return make_error(ErrorCode::kLimitExceeded, "start_epoch: the text has more code points than a clock counts");
  }
  Doc seed(epoch_client);
  const std::string text = old.text();
  if (!text.empty()) {
    if (auto s = seed.insert(0, text, Unit::kUtf8); !s) return s.error();
  }
  Doc next(owner, options);
  if (auto s = next.apply_update(seed.take_update()); !s) return s.error();
  return next;
}

namespace {

std::size_t code_points(std::string_view utf8) {
  std::size_t n = 0;
  for (char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

// Deletes from `current` the characters Id{epoch, first} .. Id{epoch, end - 1} that are
// still visible there, each stretch of adjacent ones in one erase; returns how many it deleted.
Result<std::size_t> erase_epoch_chars(Doc& current, ClientId epoch, Clock first, Clock end) {
  std::size_t deleted = 0;
  std::size_t run_start = 0;
  std::size_t run_end = 0;  // [run_start, run_end): visible, adjacent, not erased yet
  auto flush = [&]() -> Status {
    if (run_end > run_start) {
      if (auto s = current.erase(run_start, run_end - run_start); !s) return s;
    }
    run_start = run_end = 0;
    return Ok{};
  };
  for (Clock j = first; j < end; ++j) {
    RelativePosition rp;
    rp.kind = RelativePosition::Kind::kItem;
    rp.item = Id{epoch, j};
    rp.assoc = Assoc::kRight;
    auto before = current.resolve(rp);
    rp.assoc = Assoc::kLeft;
    auto after = current.resolve(rp);
    if (!before.ok()) return before.error();
    if (!after.ok()) return after.error();
    if (after.value() <= before.value()) continue;  // deleted already
    // Visible: it spans [before, after), counted before the pending run (to its left) goes.
    std::size_t from = before.value();
    std::size_t to = after.value();
    if (from != run_end || run_end == run_start) {
      const std::size_t shift = run_end - run_start;
      if (auto s = flush(); !s) return s.error();
      from -= shift;
      to -= shift;
      run_start = from;
    }
    run_end = to;
    ++deleted;
  }
  if (auto s = flush(); !s) return s.error();
  return deleted;
}

}  // namespace

Result<CarryOver> carry_over(const Doc& frozen, std::string_view update, ClientId epoch_client, Doc& current,
                             StateVector& carried) {
  const std::size_t old_chars = frozen.length(Unit::kCodePoint);
  if (current.state_vector().get(epoch_client) < old_chars) {
    return make_error(ErrorCode::kProtocol, "carry_over: the document does not hold this epoch's text");
  }
  // A scratch copy of the frozen document (with what it had waiting), which takes the update.
  const std::string base = frozen.encode_state_as_update();
  const std::string waiting = frozen.encode_pending();
  Doc scratch(frozen.client_id());
  if (auto s = scratch.apply_update(base); !s) return s.error();
  if (auto s = scratch.apply_update(waiting); !s) return s.error();
  // The update less what was carried before: the frozen state plus the update, diffed
  // against the frozen state vector raised to `carried`.
  Doc whole(frozen.client_id());
  if (auto s = whole.apply_update(base); !s) return s.error();
  if (auto s = whole.apply_update(waiting); !s) return s.error();
  if (auto s = whole.apply_update(update); !s) return s.error();
  StateVector skip = frozen.state_vector();
  for (const auto& [client, clock] : carried.entries()) {
    if (clock > skip.get(client)) skip.set(client, clock);
  }
  const std::string fresh = whole.encode_state_as_update(&skip);
  const std::size_t pending_before = scratch.pending_count();
  TextDelta delta;
  if (auto s = scratch.apply_update(fresh, &delta); !s) return s.error();
  const StateVector brought = whole.state_vector();
  for (const auto& [client, clock] : brought.entries()) {
    if (clock > carried.get(client)) carried.set(client, clock);
  }

  CarryOver out;
  out.pending = scratch.pending_count() > pending_before ? scratch.pending_count() - pending_before : 0;
  if (whole.pending_count() > frozen.pending_count()) out.pending += whole.pending_count() - frozen.pending_count();
  // The delta's cursor runs over the frozen text (UTF-16 units); the epoch's run numbers the
  // same text by code point.
  std::size_t cursor = 0;
  for (const DeltaOp& op : delta) {
    switch (op.kind) {
      case DeltaOp::Kind::kRetain:
        cursor += op.length;
        break;
      case DeltaOp::Kind::kDelete: {
        auto first = frozen.convert(cursor, Unit::kUtf16, Unit::kCodePoint);
        auto end = frozen.convert(cursor + op.length, Unit::kUtf16, Unit::kCodePoint);
        if (!first.ok()) return first.error();
        if (!end.ok()) return end.error();
        auto n = erase_epoch_chars(current, epoch_client, static_cast<Clock>(first.value()),
                                   static_cast<Clock>(end.value()));
        if (!n.ok()) return n.error();
        out.deleted += n.value();
        cursor += op.length;
        break;
      }
      case DeltaOp::Kind::kInsert: {
        auto at = frozen.convert(cursor, Unit::kUtf16, Unit::kCodePoint);
        if (!at.ok()) return at.error();
        // After the old character it followed; before the first one at the very start.
        RelativePosition rp;
        if (old_chars == 0) {
          rp.kind = RelativePosition::Kind::kStart;
        } else {
          rp.kind = RelativePosition::Kind::kItem;
          const bool front = at.value() == 0;
          rp.item = Id{epoch_client, static_cast<Clock>(front ? 0 : at.value() - 1)};
          rp.assoc = front ? Assoc::kRight : Assoc::kLeft;
        }
        auto index = current.resolve(rp);
        if (!index.ok()) return index.error();
        if (auto s = current.insert(index.value(), op.text); !s) return s.error();
        out.inserted += code_points(op.text);
        break;
      }
    }
  }
  return out;
}

}  // namespace chorus::collab
