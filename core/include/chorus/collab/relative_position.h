// Relative positions: a place in the text that stays put under remote edits (cursors,
// selections, comment anchors), encoded as the Id of a character plus which side of it the
// position keeps to. Create with Doc::relative_position(), turn back into an index with
// Doc::resolve(); both replicas of a document resolve the same RelativePosition to the same
// place once they have the same content.
//
// Encoding (for sending a cursor to other replicas): byte kind (0 = character, 1 = start of
// document, 2 = end of document) then, for a character, varuint(client) varuint(clock)
// byte(assoc: 0 = right, 1 = left).
//
// Thread-safety: a plain value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chorus/collab/id.h"
#include "chorus/error.h"

namespace chorus::collab {

enum class Assoc : std::uint8_t {
  // Anchored to the character after the position: the position stays in front of `item`
  // wherever it moves, so text inserted at the position ends up before the cursor.
  kRight = 0,
  // Anchored to the character before the position: the position stays just after `item`,
  // so text inserted at the position ends up after the cursor.
  kLeft = 1,
};

struct RelativePosition {
  enum class Kind : std::uint8_t { kItem = 0, kStart = 1, kEnd = 2 };
  Kind kind = Kind::kStart;
  Id item;                      // kItem only
  Assoc assoc = Assoc::kRight;  // kItem only

  std::string encode() const;
  static Result<RelativePosition> decode(std::string_view bytes);

  friend bool operator==(const RelativePosition& a, const RelativePosition& b) {
    return a.kind == b.kind && (a.kind != Kind::kItem || (a.item == b.item && a.assoc == b.assoc));
  }
};

}  // namespace chorus::collab
