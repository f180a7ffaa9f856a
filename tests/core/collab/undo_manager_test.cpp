// UndoManager: per-user undo/redo with a capture window, in a shared document.
#include "chorus/collab/undo_manager.h"

#include <string>

#include <gtest/gtest.h>

#include "chorus/collab/doc.h"
#include "core/collab/collab_test_util.h"

namespace chorus::collab {
namespace {

void sync(Doc& from, Doc& to) {
  ASSERT_TRUE(to.apply_update(from.take_update()).ok());
}

TEST(CollabUndo, BackspacesAndDeletesBesideATombstoneUndo) {
  Doc doc(1);
  UndoManager um(doc, UndoOptions{500});
  ASSERT_TRUE(um.insert(0, "hello world", 0).ok());
  um.stop_capturing();
  // Backspaces from the end of "hello" and deletes from the start of " world": each one
  // after the first moves a boundary between a live run and its tombstone.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(um.erase(5 - i - 1, 1, 10).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(um.erase(2, 1, 20).ok());
  EXPECT_EQ(doc.text(), "herld");
  EXPECT_EQ(um.undo_size(), 2u);
  ASSERT_TRUE(um.undo());
  EXPECT_EQ(doc.text(), "hello world");
  ASSERT_TRUE(um.redo());
  EXPECT_EQ(doc.text(), "herld");
  ASSERT_TRUE(um.undo());
  ASSERT_TRUE(um.undo());
  EXPECT_EQ(doc.text(), "");
  CHORUS_EXPECT_SOUND(doc);
}

TEST(CollabUndo, TypingWithinTheWindowIsOneStep) {
  Doc doc(1);
  UndoManager um(doc, UndoOptions{500});
  std::uint64_t t = 1000;
  for (char c : std::string("hello")) {
    ASSERT_TRUE(um.insert(doc.length(), std::string(1, c), t).ok());
    t += 100;
  }
  t += 1000;  // a pause: the next word is its own step
  ASSERT_TRUE(um.insert(doc.length(), " world", t).ok());
  EXPECT_EQ(um.undo_size(), 2u);
  EXPECT_TRUE(um.undo());
  EXPECT_EQ(doc.text(), "hello");
  EXPECT_TRUE(um.undo());
  EXPECT_EQ(doc.text(), "");
  EXPECT_FALSE(um.undo());
  EXPECT_TRUE(um.redo());
  EXPECT_EQ(doc.text(), "hello");
  EXPECT_TRUE(um.redo());
  EXPECT_EQ(doc.text(), "hello world");
  EXPECT_FALSE(um.redo());
  CHORUS_EXPECT_SOUND(doc);
}

TEST(CollabUndo, StopCapturingEndsTheStep) {
  Doc doc(1);
  UndoManager um(doc);
  ASSERT_TRUE(um.insert(0, "a", 0).ok());
  um.stop_capturing();
  ASSERT_TRUE(um.insert(1, "b", 1).ok());
  EXPECT_EQ(um.undo_size(), 2u);
  um.undo();
  EXPECT_EQ(doc.text(), "a");
}

TEST(CollabUndo, UndoesDeletionsInPlace) {
  Doc doc(1);
  UndoManager um(doc);
  ASSERT_TRUE(um.insert(0, "one two three", 0).ok());
  um.stop_capturing();
  ASSERT_TRUE(um.erase(3, 4, 10).ok());  // "one three"
  EXPECT_EQ(doc.text(), "one three");
  TextDelta delta;
  ASSERT_TRUE(um.undo(&delta));
  EXPECT_EQ(doc.text(), "one two three");
  std::string text = "one three";
  ASSERT_TRUE(apply_delta(text, delta));
  EXPECT_EQ(text, doc.text());
  ASSERT_TRUE(um.redo(&delta));
  EXPECT_EQ(doc.text(), "one three");
  CHORUS_EXPECT_SOUND(doc);
}

TEST(CollabUndo, TypedThenBackspacedInOneStepUndoesCleanly) {
  Doc doc(1);
  UndoManager um(doc);
  ASSERT_TRUE(um.insert(0, "abc", 0).ok());
  ASSERT_TRUE(um.erase(2, 1, 10).ok());  // backspace within the window
  EXPECT_EQ(um.undo_size(), 1u);
  um.undo();
  EXPECT_EQ(doc.text(), "");  // the "c" is not brought back
  um.redo();
  EXPECT_EQ(doc.text(), "ab");
}

TEST(CollabUndo, OnlyUndoesThisReplicasEdits) {
  Doc a(1), b(2);
  UndoManager ua(a);
  ASSERT_TRUE(ua.insert(0, "mine ", 0).ok());
  sync(a, b);
  ASSERT_TRUE(b.insert(5, "theirs").ok());
  sync(b, a);
  ua.stop_capturing();
  ASSERT_TRUE(ua.erase(0, 1, 10).ok());  // "ine theirs"
  sync(a, b);
  ASSERT_TRUE(b.insert(0, "[").ok());
  sync(b, a);
  EXPECT_EQ(a.text(), "[ine theirs");
  ua.undo();
  EXPECT_EQ(a.text(), "[mine theirs");
  ua.undo();
  EXPECT_EQ(a.text(), "[theirs");
  sync(a, b);
  EXPECT_EQ(b.text(), a.text());
  ua.redo();
  ua.redo();
  sync(a, b);
  EXPECT_EQ(a.text(), "[ine theirs");
  EXPECT_EQ(b.text(), a.text());
  CHORUS_EXPECT_SOUND(a);
  CHORUS_EXPECT_SOUND(b);
}

TEST(CollabUndo, RepeatedUndoRedoCyclesStayConsistent) {
  Doc a(1), b(2);
  UndoManager ua(a);
  ASSERT_TRUE(ua.insert(0, "keep ", 0).ok());
  ua.stop_capturing();
  ASSERT_TRUE(ua.insert(5, "typed", 10).ok());
  ua.stop_capturing();
  ASSERT_TRUE(ua.erase(0, 2, 20).ok());  // "ep typed"
  sync(a, b);
  for (int cycle = 0; cycle < 20; ++cycle) {
    SCOPED_TRACE(cycle);
    ASSERT_TRUE(ua.undo());
    EXPECT_EQ(a.text(), "keep typed");
    ASSERT_TRUE(ua.undo());
    EXPECT_EQ(a.text(), "keep ");
    ASSERT_TRUE(ua.redo());
    EXPECT_EQ(a.text(), "keep typed");
    ASSERT_TRUE(ua.redo());
    EXPECT_EQ(a.text(), "ep typed");
    sync(a, b);
    ASSERT_EQ(b.text(), a.text());
  }
  ASSERT_TRUE(ua.undo());
  ASSERT_TRUE(ua.undo());
  ASSERT_TRUE(ua.undo());
  EXPECT_EQ(a.text(), "");
  CHORUS_EXPECT_SOUND(a);
}

TEST(CollabUndo, RemoteEditsInsideUndoneTextSurvive) {
  Doc a(1), b(2);
  UndoManager ua(a);
  ASSERT_TRUE(ua.insert(0, "abcdef", 0).ok());
  sync(a, b);
  ASSERT_TRUE(b.insert(3, "XYZ").ok());
  sync(b, a);
  ua.undo();
  EXPECT_EQ(a.text(), "XYZ");
  ua.redo();
  EXPECT_EQ(a.text(), "abcXYZdef");
}

TEST(CollabUndo, NewEditsClearRedoAndStepsAreBounded) {
  Doc doc(1);
  UndoManager um(doc, UndoOptions{0, 3});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(um.insert(doc.length(), "x", static_cast<std::uint64_t>(i) * 10).ok());
  EXPECT_EQ(um.undo_size(), 3u);
  um.undo();
  EXPECT_TRUE(um.can_redo());
  ASSERT_TRUE(um.insert(0, "y", 100).ok());
  EXPECT_FALSE(um.can_redo());
  um.clear();
  EXPECT_FALSE(um.can_undo());
  // Failed edits record nothing.
  EXPECT_FALSE(um.insert(1000, "z", 200).ok());
  EXPECT_FALSE(um.can_undo());
}

}  // namespace
}  // namespace chorus::collab
