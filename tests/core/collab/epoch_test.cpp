// Epochs (chorus/collab/epoch.h): a new epoch's document holds no tombstone, replicas of the
// old epoch that come back late (offline edits) are carried over, and every replica converges.
// The property test models the editor's star: a server, clients that sync through it, some
// going offline across the epoch change and coming back in random order, new-epoch clients
// editing (with undo) meanwhile.
#include "chorus/collab/epoch.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "chorus/collab/doc.h"
#include "chorus/collab/undo_manager.h"

namespace chorus::collab {
namespace {

constexpr ClientId kServer = 1;
constexpr ClientId kEpochClient = 0xC0FFEE0000ull;

std::string encode(const Doc& d) {
  return d.encode_state_as_update();
}

Doc load(ClientId id, const std::string& bytes) {
  Doc d(id);
  EXPECT_TRUE(d.apply_update(bytes).ok());
  return d;
}

// Tombstones counted through the encoding: a document without any encodes to about its text.
TEST(CollabEpoch, StartEpochKeepsTheTextAndNoTombstone) {
  Doc old(7);
  ASSERT_TRUE(old.insert(0, "hello brave new world").ok());
  ASSERT_TRUE(old.erase(6, 6).ok());  // "brave "
  ASSERT_TRUE(old.insert(0, "¡").ok());
  ASSERT_TRUE(old.erase(1, 1).ok());
  ASSERT_GT(old.item_count(), 1u);
  EXPECT_EQ(old.deleted_length(), 7u);
  auto next = start_epoch(old, kEpochClient, kServer);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->text(), old.text());
  EXPECT_EQ(next->item_count(), 1u);
  EXPECT_EQ(next->deleted_length(), 0u);
  EXPECT_EQ(next->client_id(), kServer);
  EXPECT_EQ(next->state_vector().get(kEpochClient), old.length(Unit::kCodePoint));
  EXPECT_EQ(next->check_invariants(), "");
  // Every replica that loads it gets the same document.
  Doc replica = load(42, encode(*next));
  EXPECT_EQ(replica.text(), old.text());
  EXPECT_EQ(replica.item_count(), 1u);

  Doc empty(8);
  auto e = start_epoch(empty, kEpochClient, kServer);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->text(), "");
  EXPECT_EQ(e->item_count(), 0u);
  EXPECT_FALSE(start_epoch(old, kServer, kServer).ok());
}

TEST(CollabEpoch, CarryOverPlacesAStragglersEditsByTheOldText) {
  Doc server(kServer);
  ASSERT_TRUE(server.insert(0, "hello world").ok());
  Doc straggler = load(50, encode(server));  // then goes offline
  Doc frozen = load(kServer, encode(server));
  auto next = start_epoch(frozen, kEpochClient, kServer);
  ASSERT_TRUE(next.ok());
  Doc current = std::move(next.value());

  // The new epoch: "big " before "world".
  Doc online = load(60, encode(current));
  ASSERT_TRUE(online.insert(6, "big ").ok());
  ASSERT_TRUE(current.apply_update(online.take_update()).ok());
  ASSERT_EQ(current.text(), "hello big world");

  // Offline in the old epoch: "world" replaced by "there", "!" at the end.
  ASSERT_TRUE(straggler.erase(6, 5).ok());
  ASSERT_TRUE(straggler.insert(6, "there").ok());
  ASSERT_TRUE(straggler.insert(11, "!").ok());
  StateVector carried_sv;
  auto carried = carry_over(frozen, straggler.encode_state_as_update(), kEpochClient, current, carried_sv);
  ASSERT_TRUE(carried.ok()) << carried.error().message;
  EXPECT_EQ(carried->deleted, 5u);
  EXPECT_EQ(carried->inserted, 6u);
  EXPECT_EQ(carried->pending, 0u);
  // "there!" (one run in the old text, where "world" was) goes right after the old space,
  // before the new epoch's "big ".
  EXPECT_EQ(current.text(), "hello there!big ");
  // The carried edits are ordinary edits of the new epoch.
  ASSERT_TRUE(online.apply_update(current.take_update()).ok());
  EXPECT_EQ(online.text(), current.text());
  EXPECT_EQ(current.check_invariants(), "");

  // The same state carried again (its acknowledgement lost) changes nothing: its inserts were
  // carried, its deletions find nothing visible.
  EXPECT_EQ(carried_sv.get(50), straggler.state_vector().get(50));
  const std::string text = current.text();
  auto again = carry_over(frozen, straggler.encode_state_as_update(), kEpochClient, current, carried_sv);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->inserted, 0u);
  EXPECT_EQ(again->deleted, 0u);
  EXPECT_EQ(current.text(), text);
  EXPECT_FALSE(current.has_local_changes());
  // Without the record of what was carried, the inserts would come twice.
  StateVector none;
  auto twice = carry_over(frozen, straggler.encode_state_as_update(), kEpochClient, current, none);
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->inserted, 6u);
}

TEST(CollabEpoch, CarryOverCountsCodePointsNotUnits) {
  Doc server(kServer);
  ASSERT_TRUE(server.insert(0, "a😀b€c").ok());
  Doc straggler = load(51, encode(server));
  auto next = start_epoch(server, kEpochClient, kServer);
  ASSERT_TRUE(next.ok());
  Doc current = std::move(next.value());
  ASSERT_TRUE(current.insert(0, "中").ok());
  // UTF-16 positions: a=0, 😀=1-2, b=3, €=4, c=5.
  ASSERT_TRUE(straggler.insert(3, "X").ok());  // after the emoji
  ASSERT_TRUE(straggler.erase(4, 1).ok());     // "b"
  ASSERT_TRUE(straggler.insert(5, "Y").ok());  // after "€": "a😀X€Yc"
  const std::string offline = straggler.text();
  StateVector carried_sv;
  auto carried = carry_over(server, straggler.encode_state_as_update(), kEpochClient, current, carried_sv);
  ASSERT_TRUE(carried.ok()) << carried.error().message;
  EXPECT_EQ(current.text(), "中" + offline);
  EXPECT_EQ(current.check_invariants(), "");
}

TEST(CollabEpoch, CarryOverRefusesBadInputAndOtherEpochs) {
  Doc server(kServer);
  ASSERT_TRUE(server.insert(0, "abc").ok());
  auto next = start_epoch(server, kEpochClient, kServer);
  ASSERT_TRUE(next.ok());
  Doc current = std::move(next.value());
  const std::string before = encode(current);
  StateVector carried_sv;
  auto bad = carry_over(server, "\x02garbage", kEpochClient, current, carried_sv);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidPacket);
  EXPECT_EQ(encode(current), before);
  auto other = carry_over(server, "", kEpochClient + 1, current, carried_sv);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kProtocol);
  EXPECT_FALSE(current.has_local_changes());
  EXPECT_TRUE(carried_sv.empty());
}

// ---------------------------------------------------------------------------------------
// The property test.

constexpr const char* kPieces[] = {"a", "b", " ", "é", "ж", "中", "😀", "xyz"};

std::string random_text(std::mt19937_64& rng) {
  std::string s;
  int n = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < n; ++i) s += kPieces[rng() % (sizeof kPieces / sizeof kPieces[0])];
  return s;
}

std::size_t random_boundary(const Doc& doc, std::mt19937_64& rng) {
  std::size_t cps = doc.length(Unit::kCodePoint);
  return doc.convert(rng() % (cps + 1), Unit::kCodePoint, Unit::kUtf16).value();
}

// A random range of 1..max_len whole characters of a non-empty doc: {UTF-16 start, length}.
std::pair<std::size_t, std::size_t> random_range(const Doc& doc, std::mt19937_64& rng, std::size_t max_len) {
  std::size_t cps = doc.length(Unit::kCodePoint);
  std::size_t a = rng() % cps;
  std::size_t b = std::min(cps, a + 1 + rng() % max_len);
  std::size_t pa = doc.convert(a, Unit::kCodePoint, Unit::kUtf16).value();
  std::size_t pb = doc.convert(b, Unit::kCodePoint, Unit::kUtf16).value();
  return {pa, pb - pa};
}

// One random edit: an erase of 1..max_len characters one time in `erase_one_in` (when there
// is text), else an insert.
Status random_edit(Doc& doc, std::mt19937_64& rng, unsigned erase_one_in, std::size_t max_len) {
  if (doc.length(Unit::kCodePoint) > 0 && rng() % erase_one_in == 0) {
    auto [pos, len] = random_range(doc, rng, max_len);
    return doc.erase(pos, len);
  }
  return doc.insert(random_boundary(doc, rng), random_text(rng));
}

// True when `small` can be made from `big` by removing characters (UTF-8, code point-wise:
// both are valid UTF-8, and matching lead bytes keeps whole characters aligned).
bool is_subsequence(const std::string& small, const std::string& big) {
  std::size_t i = 0;
  for (std::size_t j = 0; i < small.size() && j < big.size(); ++j) {
    if (small[i] == big[j]) ++i;
  }
  return i == small.size();
}

struct Client {
  std::unique_ptr<Doc> doc;
  std::unique_ptr<UndoManager> undo;  // new-epoch clients only
  int epoch = 0;
  bool online = true;
};

// One random session. `deletes`: whether anyone deletes (without, every replica's text must
// stay a subsequence of the final text: nothing typed is lost).
void run_session(std::uint64_t seed, bool deletes) {
  SCOPED_TRACE("seed " + std::to_string(seed) + (deletes ? ", with deletes" : ", inserts only"));
  std::mt19937_64 rng(seed);
  std::uint64_t clock_ms = 0;
  auto server = std::make_unique<Doc>(kServer);
  std::vector<Client> clients(5);
  ClientId next_id = 100;
  for (Client& c : clients) c.doc = std::make_unique<Doc>(next_id++);

  auto edit = [&](Client& c) {
    Doc& d = *c.doc;
    clock_ms += 1 + rng() % 700;
    if (deletes && d.length(Unit::kCodePoint) > 0 && rng() % 3 == 0) {
      auto [pos, len] = random_range(d, rng, 4);
      ASSERT_TRUE(c.undo ? c.undo->erase(pos, len, clock_ms).ok() : d.erase(pos, len).ok());
    } else {
      std::size_t pos = random_boundary(d, rng);
      std::string t = random_text(rng);
      ASSERT_TRUE(c.undo ? c.undo->insert(pos, t, clock_ms).ok() : d.insert(pos, t).ok());
    }
    if (deletes && c.undo && rng() % 6 == 0) {
      if (rng() % 2 == 0) {
        c.undo->undo();
      } else {
        c.undo->redo();
      }
    }
  };
  // A client of the server's epoch syncs both ways through the server.
  auto sync = [&](Client& c) {
    ASSERT_TRUE(server->apply_update(c.doc->take_update()).ok());
    StateVector sv = c.doc->state_vector();
    ASSERT_TRUE(c.doc->apply_update(server->encode_state_as_update(&sv)).ok());
  };

  // Epoch 0: everyone edits and syncs; two clients go offline at random moments.
  int offline = 0;
  for (int step = 0; step < 120; ++step) {
    Client& c = clients[rng() % clients.size()];
    if (rng() % 2 == 0) {
      ASSERT_NO_FATAL_FAILURE(edit(c));
    } else if (c.online) {
      ASSERT_NO_FATAL_FAILURE(sync(c));
    }
    if (offline < 2 && c.online && rng() % 25 == 0) {
      c.online = false;
      ++offline;
    }
  }
  // The epoch changes: online clients sync, then the server starts epoch 1 and they load it.
  for (Client& c : clients) {
    if (c.online) {
      ASSERT_NO_FATAL_FAILURE(sync(c));
    }
  }
  const std::string frozen_bytes = encode(*server);
  Doc frozen = load(kServer, frozen_bytes);
  auto next = start_epoch(frozen, kEpochClient, kServer);
  ASSERT_TRUE(next.ok());
  server = std::make_unique<Doc>(std::move(next.value()));
  ASSERT_LE(server->item_count(), 1u);
  auto join_epoch = [&](Client& c) {
    c.doc = std::make_unique<Doc>(next_id++);
    ASSERT_TRUE(c.doc->apply_update(encode(*server)).ok());
    c.undo = std::make_unique<UndoManager>(*c.doc);
    c.epoch = 1;
    c.online = true;
  };
  for (Client& c : clients) {
    if (c.online) {
      ASSERT_NO_FATAL_FAILURE(join_epoch(c));
    }
  }

  // Epoch 1: new-epoch clients edit (with undo) and sync; stragglers edit offline, then come
  // back one by one: carried over, then they load the new epoch.
  std::vector<std::string> returned_texts;
  StateVector carried_sv;
  for (int step = 0; step < 150; ++step) {
    Client& c = clients[rng() % clients.size()];
    unsigned action = rng() % 10;
    if (action < 5) {
      ASSERT_NO_FATAL_FAILURE(edit(c));
    } else if (c.epoch == 1) {
      ASSERT_NO_FATAL_FAILURE(sync(c));
    } else if (action == 9) {
      const std::string offline_text = c.doc->text();
      auto carried = carry_over(frozen, c.doc->encode_state_as_update(), kEpochClient, *server, carried_sv);
      ASSERT_TRUE(carried.ok()) << carried.error().message;
      EXPECT_EQ(carried->pending, 0u);
      if (!deletes) {
        // What it typed offline is in the server's text now, in its order.
        EXPECT_TRUE(is_subsequence(offline_text, server->text()))
            << "offline: " << offline_text << "\nserver: " << server->text();
      }
      returned_texts.push_back(offline_text);
      ASSERT_NO_FATAL_FAILURE(join_epoch(c));
    }
  }
  // Stragglers still away come back now.
  for (Client& c : clients) {
    if (c.epoch == 0) {
      const std::string offline_text = c.doc->text();
      auto carried = carry_over(frozen, c.doc->encode_state_as_update(), kEpochClient, *server, carried_sv);
      ASSERT_TRUE(carried.ok()) << carried.error().message;
      returned_texts.push_back(offline_text);
      ASSERT_NO_FATAL_FAILURE(join_epoch(c));
    }
  }
  // Everyone syncs twice (the second round brings each what others sent in the first).
  for (int round = 0; round < 2; ++round) {
    for (Client& c : clients) ASSERT_NO_FATAL_FAILURE(sync(c));
  }
  const std::string final_text = server->text();
  EXPECT_EQ(server->check_invariants(), "");
  for (Client& c : clients) {
    EXPECT_EQ(c.doc->text(), final_text);
    EXPECT_EQ(c.doc->state_vector(), server->state_vector());
    EXPECT_EQ(c.doc->check_invariants(), "");
  }
  if (!deletes) {
    EXPECT_TRUE(is_subsequence(frozen.text(), final_text));
    for (const std::string& t : returned_texts) EXPECT_TRUE(is_subsequence(t, final_text));
  }
  // The new epoch's document carries none of the old epoch's tombstones: at most the text
  // inserted since, plus the epoch's run.
  Doc reloaded = load(999, encode(*server));
  EXPECT_EQ(reloaded.text(), final_text);
}

// One straggler and a new epoch nobody else edited: carrying it over must give exactly the
// text of the old epoch merged with the straggler (its deletions and inserts, in place).
TEST(CollabEpoch, OneStragglerOnAQuietEpochGivesTheMergedText) {
  for (std::uint64_t seed = 201; seed <= 400; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    Doc server(kServer);
    std::vector<std::unique_ptr<Doc>> writers;
    for (ClientId id = 10; id < 13; ++id) writers.push_back(std::make_unique<Doc>(id));
    std::string snapshot;  // the server when the straggler left
    const int leave_at = static_cast<int>(rng() % 40);
    for (int step = 0; step < 40; ++step) {
      if (step == leave_at) snapshot = encode(server);
      Doc& w = *writers[rng() % writers.size()];
      StateVector sv = w.state_vector();
      ASSERT_TRUE(w.apply_update(server.encode_state_as_update(&sv)).ok());
      ASSERT_TRUE(random_edit(w, rng, 3, 4).ok());
      ASSERT_TRUE(server.apply_update(w.take_update()).ok());
    }
    Doc straggler = load(77, snapshot);
    for (int k = 0; k < 12; ++k) ASSERT_TRUE(random_edit(straggler, rng, 2, 6).ok());
    Doc merged = load(kServer, encode(server));
    ASSERT_TRUE(merged.apply_update(straggler.encode_state_as_update()).ok());
    auto next = start_epoch(server, kEpochClient, kServer);
    ASSERT_TRUE(next.ok());
    Doc current = std::move(next.value());
    StateVector carried_sv;
    auto carried = carry_over(server, straggler.encode_state_as_update(), kEpochClient, current, carried_sv);
    ASSERT_TRUE(carried.ok()) << carried.error().message;
    EXPECT_EQ(current.text(), merged.text());
    EXPECT_EQ(current.check_invariants(), "");
  }
}

TEST(CollabEpoch, RandomSessionsConvergeAcrossAnEpochChange) {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    ASSERT_NO_FATAL_FAILURE(run_session(seed, true));
  }
}

TEST(CollabEpoch, NothingTypedOfflineIsLostAcrossAnEpochChange) {
  for (std::uint64_t seed = 101; seed <= 160; ++seed) {
    ASSERT_NO_FATAL_FAILURE(run_session(seed, false));
  }
}

}  // namespace
}  // namespace chorus::collab
