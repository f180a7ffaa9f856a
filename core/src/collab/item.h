// The unit of storage of the text CRDT: a run of consecutive code points inserted by one
// client (clocks clock .. clock + len - 1), each character's left origin being the one before
// it in the run, the first one's `origin_left`, and all sharing `origin_right`. Runs are
// split on demand (an insert inside one, a partial delete) and extended in place while a
// client keeps typing. Internal to core/src/collab.
#pragma once

#include <cstdint>

#include "chorus/collab/id.h"

namespace chorus::collab::detail {

// Index of a client in DocCore's client table: 4 bytes instead of 8 in every item.
using ClientIndex = std::uint32_t;
inline constexpr ClientIndex kNoClient = 0xFFFFFFFFu;

// An Id with the client as a table index. kNoClient stands for "document start" as a left
// origin and "document end" as a right origin.
struct LocalId {
  ClientIndex client = kNoClient;
  Clock clock = 0;

  bool none() const { return client == kNoClient; }
  friend bool operator==(const LocalId& a, const LocalId& b) { return a.client == b.client && a.clock == b.clock; }
  friend bool operator!=(const LocalId& a, const LocalId& b) { return !(a == b); }
};

// Weights summed by the tree: visible code points, UTF-16 units and UTF-8 bytes (what the
// position lookups count), and all code points including tombstones (the document order
// that concurrent-insert ordering compares).
struct Weights {
  std::uint64_t cp = 0;
  std::uint64_t u16 = 0;
  std::uint64_t u8 = 0;
  std::uint64_t all = 0;

  Weights& operator+=(const Weights& o) {
    cp += o.cp;
    u16 += o.u16;
    u8 += o.u8;
    all += o.all;
    return *this;
  }
  Weights& operator-=(const Weights& o) {
    cp -= o.cp;
    u16 -= o.u16;
    u8 -= o.u8;
    all -= o.all;
    return *this;
  }
  friend Weights operator-(Weights a, const Weights& b) { return a -= b; }
  std::uint64_t get(Unit unit) const {
    switch (unit) {
      case Unit::kUtf16:
        return u16;
      case Unit::kCodePoint:
        return cp;
      case Unit::kUtf8:
        return u8;
    }
    return cp;
  }
};

struct Item {
  ClientIndex client = kNoClient;
  Clock clock = 0;
  std::uint32_t len = 0;         // code points (= clocks)
  std::uint32_t u16_len = 0;     // UTF-16 units of the content (0 when content is gone)
  std::uint32_t byte_start = 0;  // offset of the content in DocCore's arena
  std::uint32_t byte_len = 0;    // UTF-8 bytes (0 when content is gone)
  LocalId origin_left;
  LocalId origin_right;
  bool deleted = false;
  // A tombstone received without its content (remote documents do not ship deleted text).
  bool gone = false;

  LocalId id_at(std::uint32_t offset) const { return LocalId{client, clock + offset}; }
  LocalId last_id() const { return LocalId{client, clock + len - 1}; }
  bool contains(ClientIndex c, Clock k) const { return client == c && k >= clock && k - clock < len; }
  bool ascii() const { return byte_len == len && u16_len == len; }

  Weights weights() const {
    Weights w;
    w.all = len;
    if (!deleted) {
      w.cp = len;
      w.u16 = u16_len;
      w.u8 = byte_len;
    }
    return w;
  }
};

}  // namespace chorus::collab::detail
