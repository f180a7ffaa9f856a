// The update encoding (format in chorus/collab/doc.h): a writer fed by DocCore and a
// decoder that validates a whole update before anyone acts on it. Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chorus/collab/id.h"
#include "chorus/error.h"

namespace chorus::collab::detail {

inline constexpr std::uint8_t kUpdateVersion = 1;
// The column-oriented version (format in chorus/collab/doc.h), written for larger updates.
inline constexpr std::uint8_t kUpdateVersion2 = 2;
// An LZ4 body may expand to at most this many times its size (plus 64 KiB): the encoder
// stores a body raw rather than pass it, and the decoder refuses more, so a small hostile
// update cannot make a replica allocate much.
inline constexpr std::size_t kMaxExpansion = 64;
inline constexpr std::size_t kMaxExpansionSlack = 64 * 1024;
// Updates with at most this many runs and content bytes are written in version 1, which is
// smaller for them (a keystroke's update).
inline constexpr std::size_t kSmallRuns = 8;
inline constexpr std::size_t kSmallContent = 256;

// Item info byte.
inline constexpr std::uint8_t kLeftMask = 0x03;
inline constexpr std::uint8_t kLeftNone = 0x00;      // document start
inline constexpr std::uint8_t kLeftPrev = 0x01;      // the item's own previous clock
inline constexpr std::uint8_t kLeftExplicit = 0x02;  // client, clock follow
inline constexpr std::uint8_t kRightMask = 0x0C;
inline constexpr std::uint8_t kRightNone = 0x00;      // document end
inline constexpr std::uint8_t kRightSame = 0x04;      // as the previous item of the block
inline constexpr std::uint8_t kRightExplicit = 0x08;  // client, clock follow
inline constexpr std::uint8_t kDeleted = 0x10;        // a tombstone run: length, no content
inline constexpr std::uint8_t kReservedBits = 0xE0;
inline constexpr std::uint8_t kRightAfterLeft = 0x0C;  // version 2: the left origin's next clock

struct EncOrigin {
  bool none = true;
  ClientId client = 0;
  Clock clock = 0;

  friend bool operator==(const EncOrigin& a, const EncOrigin& b) {
    return a.none == b.none && (a.none || (a.client == b.client && a.clock == b.clock));
  }
};

struct EncItem {
  Clock clock = 0;
  Clock len = 0;
  EncOrigin left;
  EncOrigin right;
  bool deleted = false;
  std::string_view content;  // UTF-8 of the run unless deleted
};

// Items of one client with consecutive clocks, in clock order.
struct EncBlock {
  ClientId client = 0;
  std::vector<EncItem> items;
};

// Sorted, non-overlapping [clock, clock + len) ranges of one client.
struct EncDeletes {
  ClientId client = 0;
  std::vector<std::pair<Clock, Clock>> ranges;  // (clock, len)
};

// Consecutive items that continue each other (a run split by a later edit) are written as
// one. Small updates are written in version 1, others in version 2.
std::string encode_update(const std::vector<EncBlock>& blocks, const std::vector<EncDeletes>& deletes);
// One version explicitly (tests; `version` 1 or 2).
std::string encode_update(const std::vector<EncBlock>& blocks, const std::vector<EncDeletes>& deletes, int version);

inline constexpr std::uint32_t kNoRef = 0xFFFFFFFFu;

struct DecOrigin {
  std::uint32_t client_ref = kNoRef;  // index into DecodedUpdate::clients
  Clock clock = 0;
  bool none() const { return client_ref == kNoRef; }
};

struct DecItem {
  std::uint32_t client_ref = 0;
  Clock clock = 0;
  Clock len = 0;          // code points
  std::uint32_t u16 = 0;  // UTF-16 units of content
  DecOrigin left;
  DecOrigin right;
  bool deleted = false;
  std::string_view content;  // points into the update bytes
};

struct DecDelete {
  std::uint32_t client_ref = 0;
  Clock clock = 0;
  Clock len = 0;
};

struct DecodedUpdate {
  // The decompressed body of a version 2 update, which the contents point into (a heap
  // buffer of its own: moving the update moves no bytes).
  std::unique_ptr<std::string> storage;
  std::vector<ClientId> clients;
  std::vector<DecItem> items;
  std::vector<DecDelete> deletes;
  std::uint64_t content_bytes = 0;
};

// Parses and validates `bytes` completely: structure, bounds, UTF-8, clock ranges, origins
// that cannot refer to the item itself or later. Nothing about the receiving document is
// checked here.
Result<DecodedUpdate> decode_update(std::string_view bytes);

}  // namespace chorus::collab::detail
