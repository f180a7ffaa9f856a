// Property tests: replicas editing concurrently (ASCII, 2- and 3-byte characters, emoji
// outside the BMP), updates delivered late, out of order and duplicated, must converge;
// every delta must turn the text before an update into the text after it; and runs typed
// concurrently at one place must never interleave.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "chorus/collab/doc.h"
#include "chorus/utf8.h"
#include "core/collab/collab_test_util.h"

namespace chorus::collab {
namespace {

constexpr const char* kPieces[] = {"a", "b", "c", " ", "\n", "é", "ж", "€", "中", "😀", "🎉", "𝄞", "xyz", "hello"};

std::string random_text(std::mt19937_64& rng) {
  std::string s;
  int n = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < n; ++i) s += kPieces[rng() % (sizeof kPieces / sizeof kPieces[0])];
  return s;
}

struct Message {
  std::string update;
  bool delivered_once = false;
};

struct Replica {
  std::unique_ptr<Doc> doc;
  std::vector<Message> inbox;
};

// Applies `update` to `r`, checking that the delta reproduces the change.
void deliver(Replica& r, const std::string& update) {
  std::string before = r.doc->text();
  TextDelta delta;
  ASSERT_TRUE(r.doc->apply_update(update, &delta).ok());
  std::string patched = before;
  ASSERT_TRUE(apply_delta(patched, delta));
  ASSERT_EQ(patched, r.doc->text());
}

// A random position at a character boundary, in UTF-16 units.
std::size_t random_boundary(Doc& doc, std::mt19937_64& rng) {
  std::size_t cps = doc.length(Unit::kCodePoint);
  std::size_t cp = rng() % (cps + 1);
  return doc.convert(cp, Unit::kCodePoint, Unit::kUtf16).value();
}

void run_random_session(std::uint64_t seed, int replicas, int steps) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<Replica> rs(replicas);
  for (int i = 0; i < replicas; ++i) {
    // Client ids in no particular order relative to the replica index.
    rs[i].doc = std::make_unique<Doc>(ClientId{(seed * 7919 + static_cast<std::uint64_t>(i) * 104729) % 1000003 + 1});
  }
  auto broadcast = [&](int from) {
    std::string u = rs[from].doc->take_update();
    for (int j = 0; j < replicas; ++j) {
      if (j != from) rs[j].inbox.push_back(Message{u});
    }
  };

  for (int step = 0; step < steps; ++step) {
    int who = static_cast<int>(rng() % replicas);
    Replica& r = rs[who];
    unsigned action = rng() % 100;
    if (action < 40) {
      std::size_t pos = random_boundary(*r.doc, rng);
      ASSERT_TRUE(r.doc->insert(pos, random_text(rng)).ok());
      // Sometimes several edits travel in one update.
      if (rng() % 3 != 0) broadcast(who);
    } else if (action < 55) {
      std::size_t cps = r.doc->length(Unit::kCodePoint);
      if (cps == 0) continue;
      std::size_t a = rng() % cps;
      std::size_t b = std::min(cps, a + 1 + rng() % 5);
      std::size_t pa = r.doc->convert(a, Unit::kCodePoint, Unit::kUtf16).value();
      std::size_t pb = r.doc->convert(b, Unit::kCodePoint, Unit::kUtf16).value();
      ASSERT_TRUE(r.doc->erase(pa, pb - pa).ok());
      if (rng() % 3 != 0) broadcast(who);
    } else if (action < 90) {
      // Deliver a random waiting message (out of order); sometimes deliver it again later.
      if (r.inbox.empty()) continue;
      std::size_t k = rng() % r.inbox.size();
      ASSERT_NO_FATAL_FAILURE(deliver(r, r.inbox[k].update));
      if (!r.inbox[k].delivered_once && rng() % 4 == 0) {
        r.inbox[k].delivered_once = true;  // keep it for a duplicate delivery
      } else {
        r.inbox.erase(r.inbox.begin() + static_cast<std::ptrdiff_t>(k));
      }
    } else if (action < 95) {
      // State-vector sync from another replica.
      int other = static_cast<int>(rng() % replicas);
      if (other == who) continue;
      StateVector sv = r.doc->state_vector();
      auto decoded = StateVector::decode(sv.encode());
      ASSERT_TRUE(decoded.ok());
      ASSERT_NO_FATAL_FAILURE(deliver(r, rs[other].doc->encode_state_as_update(&decoded.value())));
    } else {
      broadcast(who);
    }
    if (step % 50 == 0) {
      ASSERT_EQ(r.doc->check_invariants(), "");
    }
  }

  // Flush: every replica sends what it still holds, everything is delivered.
  for (int i = 0; i < replicas; ++i) broadcast(i);
  for (auto& r : rs) {
    std::shuffle(r.inbox.begin(), r.inbox.end(), rng);
    for (const Message& m : r.inbox) ASSERT_NO_FATAL_FAILURE(deliver(r, m.update));
    r.inbox.clear();
  }
  const std::string expected = rs[0].doc->text();
  for (auto& r : rs) {
    EXPECT_EQ(r.doc->text(), expected);
    EXPECT_EQ(r.doc->pending_count(), 0u);
    EXPECT_EQ(r.doc->state_vector(), rs[0].doc->state_vector());
    EXPECT_EQ(r.doc->check_invariants(), "");
    EXPECT_EQ(r.doc->length(Unit::kUtf16), utf8::utf16_length(expected));
  }
  // The whole document round-trips through its encoding, in either direction.
  Doc loaded(999999999);
  ASSERT_TRUE(loaded.apply_update(rs[1].doc->encode_state_as_update()).ok());
  EXPECT_EQ(loaded.text(), expected);
  EXPECT_EQ(loaded.check_invariants(), "");
  EXPECT_EQ(loaded.encode_state_as_update(), rs[1].doc->encode_state_as_update());
}

TEST(CollabConvergence, RandomSessionsConverge) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    run_random_session(seed, 3 + static_cast<int>(seed % 3), 300);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(CollabConvergence, LongSessionConverges) {
  run_random_session(424242, 5, 2500);
}

// Every replica's updates delivered to a fresh replica in every order of a random shuffle:
// dependencies arrive late, so items wait in the pending buffer.
TEST(CollabConvergence, AnyDeliveryOrderGivesTheSameDocument) {
  std::mt19937_64 rng(7);
  std::vector<std::string> updates;
  std::vector<std::unique_ptr<Doc>> docs;
  docs.reserve(3);
  for (int i = 0; i < 3; ++i) docs.push_back(std::make_unique<Doc>(ClientId{10} + i));
  for (int step = 0; step < 300; ++step) {
    Doc& d = *docs[rng() % docs.size()];
    if (rng() % 4 == 0 && d.length() > 0) {
      std::size_t cps = d.length(Unit::kCodePoint);
      std::size_t a = rng() % cps;
      std::size_t pa = d.convert(a, Unit::kCodePoint, Unit::kUtf16).value();
      std::size_t pb = d.convert(a + 1, Unit::kCodePoint, Unit::kUtf16).value();
      ASSERT_TRUE(d.erase(pa, pb - pa).ok());
    } else {
      ASSERT_TRUE(d.insert(random_boundary(d, rng), random_text(rng)).ok());
    }
    std::string u = d.take_update();
    updates.push_back(u);
    // Replicas see each other's edits often, so later edits depend on earlier ones.
    for (auto& other : docs) {
      if (other.get() != &d && rng() % 2) {
        ASSERT_TRUE(other->apply_update(u).ok());
      }
    }
  }
  Doc reference(99);
  for (const auto& u : updates) ASSERT_TRUE(reference.apply_update(u).ok());
  ASSERT_EQ(reference.pending_count(), 0u);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> order = updates;
    std::shuffle(order.begin(), order.end(), rng);
    Doc d(100 + round);
    std::size_t waited = 0;
    for (const auto& u : order) {
      ASSERT_TRUE(d.apply_update(u).ok());
      waited = std::max(waited, d.pending_count());
    }
    EXPECT_GT(waited, 0u);
    EXPECT_EQ(d.pending_count(), 0u);
    EXPECT_EQ(d.text(), reference.text());
    EXPECT_EQ(d.check_invariants(), "");
  }
}

// Counts maximal blocks of each letter: a run that interleaved with another shows up as
// more than one block.
std::map<char, int> blocks_per_letter(const std::string& s) {
  std::map<char, int> blocks;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 0 || s[i] != s[i - 1]) ++blocks[s[i]];
  }
  return blocks;
}

enum class Typing { kForward, kBackward, kMixed };

void check_no_interleaving(Typing typing, std::uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int n = 2 + static_cast<int>(seed % 4);
  std::vector<std::unique_ptr<Doc>> docs;
  Doc base(1);
  ASSERT_TRUE(base.insert(0, "<>").ok());
  std::string base_update = base.take_update();
  std::vector<std::string> updates;
  for (int i = 0; i < n; ++i) {
    docs.push_back(std::make_unique<Doc>(ClientId{(rng() % 1000) * 16 + static_cast<unsigned>(i) + 2}));
    ASSERT_TRUE(docs.back()->apply_update(base_update).ok());
    char letter = static_cast<char>('a' + i);
    int len = 2 + static_cast<int>(rng() % 6);
    bool backward = typing == Typing::kBackward || (typing == Typing::kMixed && rng() % 2);
    for (int k = 0; k < len; ++k) {
      std::size_t pos = backward ? 1 : 1 + static_cast<std::size_t>(k);
      ASSERT_TRUE(docs.back()->insert(pos, std::string(1, letter)).ok());
      // One update per keystroke, as an editor sends them.
      updates.push_back(docs.back()->take_update());
    }
  }
  std::string expected;
  for (int i = 0; i < n; ++i) {
    Doc& d = *docs[i];
    std::vector<std::string> order = updates;
    std::shuffle(order.begin(), order.end(), rng);
    for (const auto& u : order) ASSERT_TRUE(d.apply_update(u).ok());
    std::string text = d.text();
    if (i == 0) expected = text;
    EXPECT_EQ(text, expected);
  }
  ASSERT_GE(expected.size(), 2u);
  for (auto [letter, count] : blocks_per_letter(expected.substr(1, expected.size() - 2))) {
    EXPECT_EQ(count, 1) << "run of '" << letter << "' interleaved: " << expected;
  }
}

TEST(CollabConvergence, ConcurrentForwardRunsDoNotInterleave) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) check_no_interleaving(Typing::kForward, seed);
}

TEST(CollabConvergence, ConcurrentBackwardRunsDoNotInterleave) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) check_no_interleaving(Typing::kBackward, seed);
}

TEST(CollabConvergence, ConcurrentMixedRunsDoNotInterleave) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) check_no_interleaving(Typing::kMixed, seed);
}

// Runs typed at one place while other replicas' runs arrive in between (partial merges):
// each run still stays in one piece.
TEST(CollabConvergence, RunsStayWholeWithPartialMerges) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    Doc a(5), b(3), c(8);
    std::vector<Doc*> docs{&a, &b, &c};
    ASSERT_TRUE(a.insert(0, "<>").ok());
    std::string base = a.take_update();
    ASSERT_TRUE(b.apply_update(base).ok());
    ASSERT_TRUE(c.apply_update(base).ok());
    // Each replica types its run forward at the place right after "<" that it saw when it
    // started; updates reach others only after their own runs are done.
    std::vector<std::string> updates;
    for (int i = 0; i < 3; ++i) {
      Doc& d = *docs[i];
      char letter = static_cast<char>('p' + i);
      std::size_t start = 1;
      int len = 3 + static_cast<int>(rng() % 4);
      for (int k = 0; k < len; ++k) {
        ASSERT_TRUE(d.insert(start + static_cast<std::size_t>(k), std::string(1, letter)).ok());
        updates.push_back(d.take_update());
      }
    }
    for (Doc* d : docs) {
      std::vector<std::string> order = updates;
      std::shuffle(order.begin(), order.end(), rng);
      for (const auto& u : order) ASSERT_TRUE(d->apply_update(u).ok());
    }
    EXPECT_EQ(a.text(), b.text());
    EXPECT_EQ(a.text(), c.text());
    std::string mid = a.text().substr(1, a.text().size() - 2);
    for (auto [letter, count] : blocks_per_letter(mid)) EXPECT_EQ(count, 1) << a.text();
  }
}

}  // namespace
}  // namespace chorus::collab
