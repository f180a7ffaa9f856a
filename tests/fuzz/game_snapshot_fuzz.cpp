// Fuzz target: chorus::game::decode_snapshot on arbitrary bytes.
//
// Invariants: an accepted input is exactly as long as its counts say, within the record
// limits, with distinct player ids, and encodes back to the same bytes; a rejected one costs
// nothing (no read past the input, under ASan).
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "chorus/game/snapshot.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = chorus::fuzz::as_view(data, size);
  auto decoded = chorus::game::decode_snapshot(input);
  if (!decoded.ok()) {
    CHORUS_FUZZ_CHECK(!decoded.error().message.empty());
    return 0;
  }
  const chorus::game::Snapshot& s = decoded.value();
  CHORUS_FUZZ_CHECK(s.players.size() <= chorus::game::kMaxSnapshotPlayers);
  CHORUS_FUZZ_CHECK(s.items.size() <= chorus::game::kMaxSnapshotItems);
  CHORUS_FUZZ_CHECK(size == chorus::game::snapshot_size(s.players.size(), s.items.size()));
  std::set<std::uint16_t> ids;
  for (const auto& p : s.players) CHORUS_FUZZ_CHECK(ids.insert(p.id).second);
  auto again = chorus::game::encode_snapshot(s);
  CHORUS_FUZZ_CHECK(again.ok());
  CHORUS_FUZZ_CHECK(again.value() == input);
  return 0;
}
