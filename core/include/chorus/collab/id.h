// Identifiers of the Chorus text CRDT.
//
// Every character ever inserted gets a unique Id: the inserting replica's ClientId and that
// replica's clock, which counts the code points it has inserted so far (one clock per code
// point, so an Id never points inside a character). A run of characters typed by one client
// is addressed as an IdRange.
//
// Thread-safety: plain value types.
#pragma once

#include <cstdint>

namespace chorus::collab {

// Chosen by each replica, unique among the replicas of a document for as long as the
// replica edits (a random 53-bit number keeps it exact in JavaScript). Two replicas editing
// under the same ClientId corrupt each other's history.
using ClientId = std::uint64_t;

// Per-client counter of inserted code points.
using Clock = std::uint32_t;

// Clocks stop here: an update whose clocks would pass it is rejected. 2^32 - 2 code points
// per client and session is far past any document this engine is meant for.
inline constexpr Clock kMaxClock = 0xFFFFFFFEu;

struct Id {
  ClientId client = 0;
  Clock clock = 0;

  friend bool operator==(const Id& a, const Id& b) { return a.client == b.client && a.clock == b.clock; }
  friend bool operator!=(const Id& a, const Id& b) { return !(a == b); }
};

// The code points client.clock .. client.clock + len - 1.
struct IdRange {
  ClientId client = 0;
  Clock clock = 0;
  Clock len = 0;

  friend bool operator==(const IdRange& a, const IdRange& b) {
    return a.client == b.client && a.clock == b.clock && a.len == b.len;
  }
};

// How text positions are counted. Browsers (and so editor bindings) index strings in UTF-16
// code units; traces and some servers count code points; UTF-8 bytes are the storage unit.
enum class Unit : std::uint8_t { kUtf16, kCodePoint, kUtf8 };

}  // namespace chorus::collab
