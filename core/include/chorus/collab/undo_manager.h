// Per-user undo / redo over a Doc.
//
// The UndoManager makes this replica's edits (and only those: remote edits are never
// undone) go through it, so it knows which characters each edit inserted and deleted, by
// Id. Undo deletes what an undo step inserted and brings back what it deleted (as new
// characters at the place of the old ones, so remote edits made meanwhile stay where they
// are); redo does the reverse. Undo and redo are local edits like any other: their changes
// go out with the Doc's next take_update().
//
// Consecutive edits closer together than `capture_window_ms` form one undo step (typing a
// word undoes as one). Core has no clock: the caller passes the current time with every
// edit; stop_capturing() ends the step early (e.g. when the cursor jumps).
//
// Thread-safety: none; use it under the same lock as its Doc. The Doc must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "chorus/collab/delta.h"
#include "chorus/collab/doc.h"
#include "chorus/collab/id.h"
#include "chorus/error.h"

namespace chorus::collab {

namespace detail {
struct LocalRange;
}

struct UndoOptions {
  std::uint64_t capture_window_ms = 500;
  // Oldest undo steps are forgotten past this many.
  std::size_t max_steps = 1000;
};

class UndoManager {
 public:
  explicit UndoManager(Doc& doc, UndoOptions options = {});
  ~UndoManager();
  UndoManager(const UndoManager&) = delete;
  UndoManager& operator=(const UndoManager&) = delete;

  // Doc::insert / Doc::erase, recorded for undo. `now_ms` is any monotonic time in ms.
  Status insert(std::size_t pos, std::string_view text, std::uint64_t now_ms, Unit unit = Unit::kUtf16);
  Status erase(std::size_t pos, std::size_t len, std::uint64_t now_ms, Unit unit = Unit::kUtf16);
  // The next edit starts a new undo step.
  void stop_capturing() { capture_open_ = false; }

  bool can_undo() const { return !undo_.empty(); }
  bool can_redo() const { return !redo_.empty(); }
  // Undoes the last step; false when there was nothing to undo. `delta` receives the
  // visible change for the editor.
  bool undo(TextDelta* delta = nullptr);
  bool redo(TextDelta* delta = nullptr);
  void clear();

  std::size_t undo_size() const { return undo_.size(); }
  std::size_t redo_size() const { return redo_.size(); }

 private:
  struct Step {
    std::vector<IdRange> inserted;  // characters this step made visible
    std::vector<IdRange> deleted;   // characters this step deleted
  };
  // Reverts `step`, returning the step that reverts the revert.
  Step revert(const Step& step, TextDelta* delta);
  void push_undo(Step step);

  Doc& doc_;
  UndoOptions options_;
  std::vector<Step> undo_;
  std::vector<Step> redo_;
  std::vector<detail::LocalRange> erased_;  // scratch of erase()
  std::uint64_t last_edit_ms_ = 0;
  bool capture_open_ = false;
};

}  // namespace chorus::collab
