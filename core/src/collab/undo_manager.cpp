#include "chorus/collab/undo_manager.h"

#include <algorithm>
#include <utility>

#include "doc_core.h"

namespace chorus::collab {
namespace {

using detail::ClientIndex;
using detail::DocCore;
using detail::LocalRange;

// Steps keep ClientIds (not DocCore's client indexes) so they read the same to anyone.
IdRange to_id(const DocCore& core, const LocalRange& r) {
  return IdRange{core.client_of(r.client), r.clock, r.len};
}

LocalRange to_local(const DocCore& core, const IdRange& r) {
  return LocalRange{core.lookup(r.client), r.clock, r.len};
}

// Appends `r`, merging with the last range when it continues it.
void append_range(std::vector<IdRange>& ranges, const IdRange& r) {
  if (!ranges.empty()) {
    IdRange& last = ranges.back();
    if (last.client == r.client && last.clock + last.len == r.clock) {
      last.len += r.len;
      return;
    }
  }
  ranges.push_back(r);
}

// The parts of `r` that no range of `minus` covers.
std::vector<IdRange> subtract(const IdRange& r, const std::vector<IdRange>& minus) {
  std::vector<IdRange> out{r};
  for (const IdRange& m : minus) {
    if (m.client != r.client) continue;
    std::vector<IdRange> next;
    for (const IdRange& piece : out) {
      Clock a = piece.clock, b = piece.clock + piece.len;
      Clock ma = m.clock, mb = m.clock + m.len;
      if (mb <= a || ma >= b) {
        next.push_back(piece);
        continue;
      }
      if (ma > a) next.push_back(IdRange{r.client, a, ma - a});
      if (mb < b) next.push_back(IdRange{r.client, mb, b - mb});
    }
    out = std::move(next);
  }
  return out;
}

}  // namespace

UndoManager::UndoManager(Doc& doc, UndoOptions options) : doc_(doc), options_(options) {}
UndoManager::~UndoManager() = default;

void UndoManager::push_undo(Step step) {
  undo_.push_back(std::move(step));
  if (undo_.size() > options_.max_steps) undo_.erase(undo_.begin());
}

Status UndoManager::insert(std::size_t pos, std::string_view text, std::uint64_t now_ms, Unit unit) {
  DocCore& core = *doc_.core_;
  Clock before = core.next_clock(core.self());
  Status s = core.insert(pos, text, unit);
  if (!s.ok()) return s;
  Clock after = core.next_clock(core.self());
  if (after == before) return s;
  bool merge = capture_open_ && !undo_.empty() && now_ms - last_edit_ms_ < options_.capture_window_ms;
  if (!merge) push_undo(Step{});
  append_range(undo_.back().inserted, IdRange{core.client_id(), before, after - before});
  last_edit_ms_ = now_ms;
  capture_open_ = true;
  redo_.clear();
  return s;
}

Status UndoManager::erase(std::size_t pos, std::size_t len, std::uint64_t now_ms, Unit unit) {
  DocCore& core = *doc_.core_;
  std::vector<LocalRange>& deleted = erased_;  // reused: no allocation per keystroke
  deleted.clear();
  Status s = core.erase(pos, len, unit, &deleted);
  if (!s.ok() || deleted.empty()) return s;
  bool merge = capture_open_ && !undo_.empty() && now_ms - last_edit_ms_ < options_.capture_window_ms;
  if (!merge) push_undo(Step{});
  for (const LocalRange& r : deleted) append_range(undo_.back().deleted, to_id(core, r));
  last_edit_ms_ = now_ms;
  capture_open_ = true;
  redo_.clear();
  return s;
}

UndoManager::Step UndoManager::revert(const Step& step, TextDelta* delta) {
  DocCore& core = *doc_.core_;
  core.begin_changes(delta != nullptr);
  Step inverse;
  std::vector<LocalRange> out;
  // Bring back what the step deleted, except what it had inserted itself.
  for (const IdRange& r : step.deleted) {
    for (const IdRange& piece : subtract(r, step.inserted)) {
      out.clear();
      LocalRange local = to_local(core, piece);
      if (local.client != detail::kNoClient) core.restore_ids(local, &out);
      for (const LocalRange& x : out) append_range(inverse.inserted, to_id(core, x));
    }
  }
  for (const IdRange& r : step.inserted) {
    out.clear();
    LocalRange local = to_local(core, r);
    if (local.client != detail::kNoClient) core.delete_ids(local, &out);
    for (const LocalRange& x : out) append_range(inverse.deleted, to_id(core, x));
  }
  core.end_changes(delta);
  return inverse;
}

bool UndoManager::undo(TextDelta* delta) {
  if (undo_.empty()) return false;
  Step step = std::move(undo_.back());
  undo_.pop_back();
  redo_.push_back(revert(step, delta));
  capture_open_ = false;
  return true;
}

bool UndoManager::redo(TextDelta* delta) {
  if (redo_.empty()) return false;
  Step step = std::move(redo_.back());
  redo_.pop_back();
  push_undo(revert(step, delta));
  capture_open_ = false;
  return true;
}

void UndoManager::clear() {
  undo_.clear();
  redo_.clear();
  capture_open_ = false;
}

}  // namespace chorus::collab
