// Fuzz target: chorus::collab::Doc::apply_update on arbitrary bytes.
//
// The document under test has content from two clients, tombstones and a non-BMP
// character, so that updates referring to existing characters, deleting them or inserting
// between them are all reachable. Invariants: nothing crashes; a rejected update leaves the
// document exactly as it was (text, state vector, encoding, pending buffer); an accepted
// one leaves it internally consistent, applying it again changes nothing visible, and the
// document still takes local edits and reloads from its own encoding (what waits, too:
// encode_pending). pending_cost() accepts what apply_update() accepts and never counts
// less than it adds. The same
// bytes also go through StateVector::decode and RelativePosition::decode.
#include <cstddef>
#include <cstdint>
#include <string>

#include "chorus/collab/doc.h"
#include "chorus/collab/relative_position.h"
#include "chorus/collab/state_vector.h"
#include "fuzz_util.h"

namespace {

using chorus::collab::Doc;

// Built once: the update that gives every run the same starting document.
const std::string& base_update() {
  static const std::string update = [] {
    Doc a(1), b(2);
    (void)a.insert(0, "hello w\xC3\xB6rld \xF0\x9F\x98\x80!");
    (void)b.apply_update(a.take_update());
    (void)b.insert(6, "big ");
    (void)b.erase(0, 2);
    (void)a.apply_update(b.take_update());
    (void)a.erase(a.length() - 1, 1);
    (void)a.insert(3, "ABC");
    return a.encode_state_as_update();
  }();
  return update;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = chorus::fuzz::as_view(data, size);

  Doc doc(3);
  CHORUS_FUZZ_CHECK(doc.apply_update(base_update()).ok());
  const std::string text = doc.text();
  const std::string encoded = doc.encode_state_as_update();
  const auto sv = doc.state_vector();

  auto cost = doc.pending_cost(input);
  chorus::collab::TextDelta delta;
  chorus::Status status = doc.apply_update(input, &delta);
  // pending_cost() decides as apply_update() does, and is never below what it added.
  CHORUS_FUZZ_CHECK(cost.ok() == status.ok());
  CHORUS_FUZZ_CHECK(!cost.ok() || doc.pending_bytes() <= cost.value());  // nothing waited before
  if (!status.ok()) {
    CHORUS_FUZZ_CHECK(doc.text() == text);
    CHORUS_FUZZ_CHECK(doc.state_vector() == sv);
    CHORUS_FUZZ_CHECK(doc.encode_state_as_update() == encoded);
    CHORUS_FUZZ_CHECK(doc.pending_count() == 0);
    CHORUS_FUZZ_CHECK(delta.empty());
  } else {
    CHORUS_FUZZ_CHECK(doc.check_invariants().empty());
    std::string patched = text;
    CHORUS_FUZZ_CHECK(chorus::collab::apply_delta(patched, delta));
    CHORUS_FUZZ_CHECK(patched == doc.text());
    const std::string after = doc.text();
    CHORUS_FUZZ_CHECK(doc.apply_update(input).ok());
    CHORUS_FUZZ_CHECK(doc.text() == after);
    // The encoding reloads into a sound replica with the same characters. (Their order can
    // differ: an update whose origins contradict its author's own history, which no honest
    // replica produces, is integrated differently in a different order; see doc.h.)
    Doc copy(4);
    CHORUS_FUZZ_CHECK(copy.apply_update(doc.encode_state_as_update()).ok());
    CHORUS_FUZZ_CHECK(copy.check_invariants().empty());
    CHORUS_FUZZ_CHECK(copy.state_vector() == doc.state_vector());
    CHORUS_FUZZ_CHECK(copy.length(chorus::collab::Unit::kUtf8) == doc.length(chorus::collab::Unit::kUtf8));
    CHORUS_FUZZ_CHECK(copy.length() == doc.length());
    // What waits re-encodes into the same buffer (overlapping waiting deletions merged).
    CHORUS_FUZZ_CHECK(copy.apply_update(doc.encode_pending()).ok());
    CHORUS_FUZZ_CHECK(copy.check_invariants().empty());
    CHORUS_FUZZ_CHECK(copy.state_vector() == doc.state_vector());
    CHORUS_FUZZ_CHECK(copy.pending_bytes() <= doc.pending_bytes());
    CHORUS_FUZZ_CHECK((copy.pending_count() == 0) == (doc.pending_count() == 0));
  }
  CHORUS_FUZZ_CHECK(doc.insert(0, "z").ok());
  CHORUS_FUZZ_CHECK(doc.erase(0, 1).ok());
  CHORUS_FUZZ_CHECK(doc.check_invariants().empty());

  auto decoded_sv = chorus::collab::StateVector::decode(input);
  if (decoded_sv.ok()) {
    auto again = chorus::collab::StateVector::decode(decoded_sv.value().encode());
    CHORUS_FUZZ_CHECK(again.ok() && again.value() == decoded_sv.value());
    (void)doc.encode_state_as_update(&decoded_sv.value());
  }
  auto rp = chorus::collab::RelativePosition::decode(input);
  if (rp.ok()) {
    auto pos = doc.resolve(rp.value());
    if (pos.ok()) CHORUS_FUZZ_CHECK(pos.value() <= doc.length());
  }
  return 0;
}
