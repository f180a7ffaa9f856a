// Text deltas: how an editor binding learns what an applied update (or an undo) changed.
//
// A delta is read front to back with a cursor at 0 over the text as it was before the
// change: retain(n) moves over n unchanged units, insert(s) inserts s at the cursor and
// moves past it, erase(n) removes n units at the cursor. All lengths are in UTF-16 code
// units, the unit of browser editors (CodeMirror, ProseMirror, Quill, textarea). Adjacent
// operations of the same kind are merged and a trailing retain is never emitted.
//
// Thread-safety: plain value types.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace chorus::collab {

struct DeltaOp {
  enum class Kind : unsigned char { kRetain, kInsert, kDelete };
  Kind kind = Kind::kRetain;
  std::size_t length = 0;  // UTF-16 code units (for an insert: those of `text`)
  std::string text;        // UTF-8, inserts only

  friend bool operator==(const DeltaOp& a, const DeltaOp& b) {
    return a.kind == b.kind && a.length == b.length && a.text == b.text;
  }
};

using TextDelta = std::vector<DeltaOp>;

// Applies `delta` to `text` (UTF-8), as an editor binding would. Returns false (leaving
// `text` unspecified) when the delta reaches past the text or splits a UTF-16 surrogate
// pair. Meant for tests and simple bindings; O(size of text).
bool apply_delta(std::string& text, const TextDelta& delta);

}  // namespace chorus::collab
