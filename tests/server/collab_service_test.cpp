#include "chorus/collab_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "chorus/collab/doc.h"

namespace chorus {
namespace {

std::string temp_db() {
  char path[] = "/tmp/chorus-collab-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  std::remove(path);
  return path;
}

std::unique_ptr<CollabService> open_service(Server& server, const std::string& db, std::size_t compact_every = 1000,
                                            CollabOptions o = {}) {
  o.database_path = db;
  o.compact_every = compact_every;
  auto s = CollabService::attach(server, o);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return s.ok() ? std::move(s).value() : nullptr;
}

TEST(CollabService, UpdatesSurviveARestart) {
  std::string db = temp_db();
  collab::Doc alice(101);
  {
    Server server;
    auto svc = open_service(server, db);
    ASSERT_TRUE(alice.insert(0, "hello").ok());
    ASSERT_TRUE(svc->apply("notes", alice.take_update()).ok());
    ASSERT_TRUE(alice.insert(5, " world").ok());
    ASSERT_TRUE(svc->apply("notes", alice.take_update()).ok());
    EXPECT_EQ(svc->text("notes").value(), "hello world");
  }
  Server server;
  auto svc = open_service(server, db);
  EXPECT_EQ(svc->text("notes").value(), "hello world");
  EXPECT_EQ(svc->text("other").value(), "");
  std::remove(db.c_str());
}

TEST(CollabService, CompactionKeepsEveryEdit) {
  std::string db = temp_db();
  collab::Doc bob(202);
  std::string expected;
  {
    Server server;
    auto svc = open_service(server, db, /*compact_every=*/3);
    for (int i = 0; i < 10; ++i) {
      std::string piece = std::to_string(i);
      ASSERT_TRUE(bob.insert(expected.size(), piece).ok());
      expected += piece;
      ASSERT_TRUE(svc->apply("log", bob.take_update()).ok());
    }
    ASSERT_TRUE(bob.erase(0, 2).ok());
    expected.erase(0, 2);
    ASSERT_TRUE(svc->apply("log", bob.take_update()).ok());
  }
  Server server;
  auto svc = open_service(server, db);
  EXPECT_EQ(svc->text("log").value(), expected);
  std::remove(db.c_str());
}

TEST(CollabService, RejectedUpdateChangesNothing) {
  Server server;
  auto svc = open_service(server, "");  // memory only
  collab::Doc carol(303);
  ASSERT_TRUE(carol.insert(0, "abc").ok());
  ASSERT_TRUE(svc->apply("d", carol.take_update()).ok());
  EXPECT_FALSE(svc->apply("d", std::string("\x01\xff\xff\xff", 4)).ok());
  EXPECT_FALSE(svc->apply("d", "").ok());
  EXPECT_EQ(svc->text("d").value(), "abc");
}

// Acknowledged updates that wait for a causal gap when the log is compacted must survive a
// restart: the snapshot holds only integrated items.
TEST(CollabService, CompactionKeepsUpdatesWaitingForAGap) {
  for (bool fill_before_restart : {true, false}) {
    SCOPED_TRACE(fill_before_restart ? "gap filled, then restart" : "restart, then the gap is filled");
    std::string db = temp_db();
    collab::Doc writer(50);
    ASSERT_TRUE(writer.insert(0, "abc").ok());  // clocks 0-2
    std::string abc = writer.take_update();
    ASSERT_TRUE(writer.insert(3, "de").ok());  // clocks 3-4
    std::string de = writer.take_update();
    ASSERT_TRUE(writer.insert(5, "XYZ").ok());  // clocks 5-7, waits for 3-4
    std::string xyz = writer.take_update();
    collab::Doc filler(60);
    std::string expected;
    {
      Server server;
      auto svc = open_service(server, db);
      ASSERT_TRUE(svc->apply("gap", abc).ok());
      ASSERT_TRUE(svc->apply("gap", xyz).ok());
      EXPECT_EQ(svc->text("gap").value(), "abc");
      for (int i = 0; i < 1000; ++i) {  // the 1,000th append compacts
        ASSERT_TRUE(filler.insert(0, "f").ok());
        ASSERT_TRUE(svc->apply("gap", filler.take_update()).ok());
      }
      if (fill_before_restart) {
        ASSERT_TRUE(svc->apply("gap", de).ok());
      }
      expected = svc->text("gap").value();
      if (fill_before_restart) {
        ASSERT_NE(expected.find("abcdeXYZ"), std::string::npos) << expected;
      }
    }
    Server server;
    auto svc = open_service(server, db);
    EXPECT_EQ(svc->text("gap").value(), expected);
    if (!fill_before_restart) {
      ASSERT_TRUE(svc->apply("gap", de).ok());
      EXPECT_NE(svc->text("gap").value().find("abcdeXYZ"), std::string::npos);
      svc.reset();
      Server again;
      auto reopened = open_service(again, db);
      EXPECT_NE(reopened->text("gap").value().find("abcdeXYZ"), std::string::npos);
    }
    std::remove(db.c_str());
  }
}

// Property: updates of several writers delivered in random order with gaps, compaction at
// random points, restarts at random points: after each restart the document is what a
// replica that received the same acknowledged updates holds, and once everything arrived
// it is the writers' text. Seeded and bounded.
TEST(CollabService, EveryAcknowledgedUpdateSurvivesCompactionAndRestarts) {
  for (std::uint32_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
    // Writers edit and sometimes sync with each other, so updates depend across clients.
    std::vector<collab::Doc> writers;
    for (collab::ClientId id : {11u, 22u, 33u}) writers.emplace_back(id);
    std::vector<std::string> updates;
    for (int step = 0; step < 40; ++step) {
      collab::Doc& w = writers[pick(writers.size())];
      std::size_t len = w.length();
      if (len > 0 && pick(4) == 0) {
        std::size_t at = pick(len);
        ASSERT_TRUE(w.erase(at, 1 + pick(std::min<std::size_t>(3, len - at))).ok());
      } else {
        ASSERT_TRUE(
            w.insert(len == 0 ? 0 : pick(len + 1), std::string(1 + pick(3), static_cast<char>('a' + step % 26))).ok());
      }
      std::string u = w.take_update();
      updates.push_back(u);
      for (collab::Doc& other : writers) {
        if (&other != &w && pick(3) == 0) {
          ASSERT_TRUE(other.apply_update(u).ok());
        }
      }
    }
    collab::Doc all(99);
    for (const std::string& u : updates) ASSERT_TRUE(all.apply_update(u).ok());

    std::shuffle(updates.begin(), updates.end(), rng);
    std::string db = temp_db();
    std::size_t compact_every = 1 + pick(6);
    collab::Doc reference(98);  // what the service acknowledged, in the same order
    auto server = std::make_unique<Server>();
    auto svc = open_service(*server, db, compact_every);
    for (const std::string& u : updates) {
      ASSERT_TRUE(svc->apply("p", u).ok());
      ASSERT_TRUE(reference.apply_update(u).ok());
      if (pick(8) == 0) {
        svc.reset();
        server = std::make_unique<Server>();
        svc = open_service(*server, db, 1 + pick(6));
        ASSERT_EQ(svc->text("p").value(), reference.text());
      }
    }
    svc.reset();
    server = std::make_unique<Server>();
    svc = open_service(*server, db, compact_every);
    EXPECT_EQ(svc->text("p").value(), all.text());
    svc.reset();
    std::remove(db.c_str());
  }
}

template <class F>
bool eventually(F condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(CollabService, IdleDocumentsLeaveMemoryAndComeBackIntact) {
  std::string db = temp_db();
  CollabOptions o;
  o.idle_unload_after = std::chrono::milliseconds(20);
  Server server;
  auto svc = open_service(server, db, 4, o);
  collab::Doc w(7);
  std::string expected;
  std::string waiting;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(w.insert(expected.size(), std::to_string(i)).ok());
    expected += std::to_string(i);
    std::string u = w.take_update();
    if (i == 6) {
      waiting = u;  // held back: the later ones wait for it
      continue;
    }
    ASSERT_TRUE(svc->apply("idle", u).ok());
  }
  ASSERT_TRUE(svc->apply("other", w.encode_state_as_update()).ok());
  ASSERT_TRUE(eventually([&] { return svc->loaded_documents() == 0; }));
  EXPECT_EQ(svc->text("idle").value(), "012345");  // reloaded, 7-9 still waiting
  EXPECT_EQ(svc->loaded_documents(), 1u);
  ASSERT_TRUE(svc->apply("idle", waiting).ok());
  EXPECT_EQ(svc->text("idle").value(), expected);
  EXPECT_EQ(svc->text("other").value(), expected);
  ASSERT_TRUE(eventually([&] { return svc->loaded_documents() == 0; }));
  EXPECT_EQ(svc->text("idle").value(), expected);
  std::remove(db.c_str());
}

TEST(CollabService, MemoryOnlyDocumentsAreNeverUnloaded) {
  CollabOptions o;
  o.idle_unload_after = std::chrono::milliseconds(0);
  Server server;
  auto svc = open_service(server, "", 1000, o);
  collab::Doc w(8);
  ASSERT_TRUE(w.insert(0, "kept").ok());
  ASSERT_TRUE(svc->apply("m", w.take_update()).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // no sweeper runs at all
  EXPECT_EQ(svc->loaded_documents(), 1u);
  EXPECT_EQ(svc->text("m").value(), "kept");
}

// max_pending_bytes_per_document at and past the limit (the server-side path; connections
// are tested with socket.io-client in tests/cli/collab.test.mjs).
TEST(CollabService, PendingBytesPerDocumentAtAndPastTheLimit) {
  collab::Doc w(9);
  ASSERT_TRUE(w.insert(0, "a").ok());
  std::string first = w.take_update();
  std::vector<std::string> later;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(w.insert(w.length(), std::string(100, 'x')).ok());
    later.push_back(w.take_update());
  }
  collab::Doc probe(1);
  std::size_t limit = 0;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(probe.apply_update(later[i]).ok());
  }
  limit = probe.pending_bytes();  // exactly two of them
  ASSERT_GT(limit, 0u);
  CollabOptions o;
  o.max_pending_bytes_per_document = limit;
  std::string db = temp_db();
  {
    Server server;
    auto svc = open_service(server, db, 1000, o);
    ASSERT_TRUE(svc->apply("lim", later[0]).ok());
    ASSERT_TRUE(svc->apply("lim", later[1]).ok());  // at the limit
    Status past = svc->apply("lim", later[2]);      // past it: refused, nothing changes
    ASSERT_FALSE(past.ok());
    EXPECT_EQ(past.error().code, ErrorCode::kLimitExceeded);
    EXPECT_NE(past.error().message.find("waiting for missing edits"), std::string::npos) << past.error().message;
    ASSERT_TRUE(svc->apply("lim", first).ok());  // fills the gap: the waiting ones integrate
    EXPECT_EQ(svc->text("lim").value(), "a" + std::string(200, 'x'));
    ASSERT_TRUE(svc->apply("lim", later[2]).ok());  // in order now
    EXPECT_EQ(svc->text("lim").value(), w.text());
  }
  Server server;
  auto svc = open_service(server, db, 1000, o);
  EXPECT_EQ(svc->text("lim").value(), w.text());  // the refused update was not logged either
  std::remove(db.c_str());
}

TEST(CollabService, BadDatabasePathIsAnError) {
  Server server;
  CollabOptions o;
  o.database_path = "/nonexistent-dir/x/docs.db";
  auto s = CollabService::attach(server, o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("database"), std::string::npos);
}

}  // namespace
}  // namespace chorus
