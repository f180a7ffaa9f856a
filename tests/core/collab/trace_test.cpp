// The editing traces of shared/traces (see its README.md) replayed through Doc.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "chorus/collab/doc.h"
#include "core/collab/collab_test_util.h"
#include "core/collab/trace_reader.h"
#include "core/collab/trace_replay.h"

namespace chorus::collab {
namespace {

TEST(CollabTrace, AutomergePaperReachesEndContent) {
  std::string path = testing::traces_dir() + "/automerge-paper.json";
  std::string json;
  if (!trace::read_file(path, &json)) GTEST_SKIP() << "trace not found: " << path;
  trace::FlatTrace t;
  ASSERT_TRUE(trace::parse_flat(json, &t));
  ASSERT_EQ(t.edits.size(), 259778u);

  Doc doc(1);
  auto t0 = std::chrono::steady_clock::now();
  for (const trace::Edit& e : t.edits) {
    if (e.del) {
      ASSERT_TRUE(doc.erase(e.pos, e.del, Unit::kCodePoint).ok());
    }
    if (!e.ins.empty()) {
      ASSERT_TRUE(doc.insert(e.pos, e.ins, Unit::kCodePoint).ok());
    }
  }
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(doc.text(), t.end_content);
  CHORUS_EXPECT_SOUND(doc);
  std::printf("automerge-paper: %zu items, %.1f ms (this build)\n", doc.item_count(),
              std::chrono::duration<double, std::milli>(t1 - t0).count());

  // The encoded document loads into an empty replica.
  std::string encoded = doc.encode_state_as_update();
  Doc loaded(2);
  ASSERT_TRUE(loaded.apply_update(encoded).ok());
  EXPECT_EQ(loaded.text(), t.end_content);
  EXPECT_EQ(loaded.state_vector(), doc.state_vector());
  CHORUS_EXPECT_SOUND(loaded);
  EXPECT_EQ(loaded.encode_state_as_update(), encoded);
  std::printf("automerge-paper: encoded %zu bytes\n", encoded.size());
}

// A prefix of the same trace sent one update per edit to a second replica, whose deltas
// must replay the text as an editor binding would.
TEST(CollabTrace, AutomergePaperPrefixThroughUpdatesAndDeltas) {
  std::string path = testing::traces_dir() + "/automerge-paper.json";
  std::string json;
  if (!trace::read_file(path, &json)) GTEST_SKIP() << "trace not found: " << path;
  trace::FlatTrace t;
  ASSERT_TRUE(trace::parse_flat(json, &t));
  Doc author(1), editor(2);
  std::string editor_text;
  for (std::size_t i = 0; i < 20000; ++i) {
    const trace::Edit& e = t.edits[i];
    if (e.del) {
      ASSERT_TRUE(author.erase(e.pos, e.del).ok());
    }
    if (!e.ins.empty()) {
      ASSERT_TRUE(author.insert(e.pos, e.ins).ok());
    }
    TextDelta delta;
    ASSERT_TRUE(editor.apply_update(author.take_update(), &delta).ok());
    ASSERT_TRUE(apply_delta(editor_text, delta));
  }
  EXPECT_EQ(editor.text(), author.text());
  EXPECT_EQ(editor_text, author.text());
  CHORUS_EXPECT_SOUND(editor);
}

TEST(CollabTrace, FriendsForeverConvergesToEndContent) {
  std::string path = testing::traces_dir() + "/friendsforever.concurrent.json";
  std::string json;
  if (!trace::read_file(path, &json)) GTEST_SKIP() << "trace not found: " << path;
  trace::ConcurrentTrace t;
  ASSERT_TRUE(trace::parse_concurrent(json, &t));
  ASSERT_EQ(t.num_agents, 2u);
  ASSERT_EQ(t.txns.size(), 26078u);
  trace::ConcurrentReplay replay;
  ASSERT_TRUE(trace::replay_concurrent(t, &replay));
  for (const auto& doc : replay.replicas) {
    EXPECT_EQ(doc->text(), t.end_content);
    CHORUS_EXPECT_SOUND(*doc);
  }
  EXPECT_EQ(replay.replicas[0]->state_vector(), replay.replicas[1]->state_vector());
  EXPECT_EQ(replay.replicas[0]->encode_state_as_update(), replay.replicas[1]->encode_state_as_update());
}

}  // namespace
}  // namespace chorus::collab
