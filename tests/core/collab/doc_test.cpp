// chorus::collab::Doc: local edits, units, errors, updates between replicas, deltas.
#include "chorus/collab/doc.h"

#include <string>

#include <gtest/gtest.h>

#include "core/collab/collab_test_util.h"

namespace chorus::collab {
namespace {

TEST(CollabDoc, StartsEmpty) {
  Doc doc(1);
  EXPECT_EQ(doc.text(), "");
  EXPECT_EQ(doc.length(), 0u);
  EXPECT_EQ(doc.client_id(), 1u);
  EXPECT_TRUE(doc.state_vector().empty());
  EXPECT_FALSE(doc.has_local_changes());
  EXPECT_EQ(doc.item_count(), 0u);
  CHORUS_EXPECT_SOUND(doc);
}

TEST(CollabDoc, InsertAndErase) {
  Doc doc(1);
  ASSERT_TRUE(doc.insert(0, "hello world").ok());
  ASSERT_TRUE(doc.insert(5, ",").ok());
  EXPECT_EQ(doc.text(), "hello, world");
  ASSERT_TRUE(doc.erase(0, 7).ok());
  EXPECT_EQ(doc.text(), "world");
  ASSERT_TRUE(doc.insert(5, "!").ok());
  ASSERT_TRUE(doc.insert(0, "big ").ok());
  EXPECT_EQ(doc.text(), "big world!");
  EXPECT_EQ(doc.length(), 10u);
  CHORUS_EXPECT_SOUND(doc);
}

TEST(CollabDoc, TypingExtendsOneItem) {
  Doc doc(1);
  const std::string text = "typing one character at a time";
  for (std::size_t i = 0; i < text.size(); ++i) {
    ASSERT_TRUE(doc.insert(i, text.substr(i, 1)).ok());
  }
  EXPECT_EQ(doc.text(), text);
  EXPECT_EQ(doc.item_count(), 1u);
  // Backspacing over the end leaves one tombstone run, not one item per character.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(doc.erase(doc.length() - 1, 1).ok());
  EXPECT_EQ(doc.text(), text.substr(0, text.size() - 10));
  EXPECT_EQ(doc.item_count(), 2u);
  CHORUS_EXPECT_SOUND(doc);
}

TEST(CollabDoc, DeletesBesideATombstoneMoveItsBoundary) {
  Doc doc(1);
  ASSERT_TRUE(doc.insert(0, "hello world").ok());
  // Forward deletes in the middle: the first splits the run, the next ones grow the
  // tombstone rightwards.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(doc.erase(5, 1).ok());
  EXPECT_EQ(doc.text(), "hellorld");
  EXPECT_EQ(doc.item_count(), 3u);
  // Backspaces before it grow it leftwards.
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(doc.erase(4 - i, 1).ok());
  EXPECT_EQ(doc.text(), "helrld");
  EXPECT_EQ(doc.item_count(), 3u);
  CHORUS_EXPECT_SOUND(doc);
  // The same deletions reach another replica, and typing at the boundary still works.
  Doc other(2);
  ASSERT_TRUE(other.apply_update(doc.take_update()).ok());
  EXPECT_EQ(other.text(), "helrld");
  ASSERT_TRUE(doc.insert(3, "p wo").ok());
  ASSERT_TRUE(other.apply_update(doc.take_update()).ok());
  EXPECT_EQ(doc.text(), "help world");
  EXPECT_EQ(other.text(), doc.text());
  CHORUS_EXPECT_SOUND(doc);
  CHORUS_EXPECT_SOUND(other);
}

TEST(CollabDoc, CountsUtf16CodePointsAndBytes) {
  Doc doc(1);
  // "a😀é中": 1 + 4 + 2 + 3 bytes, 4 code points, 1 + 2 + 1 + 1 UTF-16 units.
  ASSERT_TRUE(doc.insert(0, "a\xF0\x9F\x98\x80\xC3\xA9\xE4\xB8\xAD").ok());
  EXPECT_EQ(doc.length(Unit::kUtf8), 10u);
  EXPECT_EQ(doc.length(Unit::kCodePoint), 4u);
  EXPECT_EQ(doc.length(Unit::kUtf16), 5u);
  // Insert after the emoji: UTF-16 position 3, code point 2, byte 5.
  ASSERT_TRUE(doc.insert(3, "X").ok());
  ASSERT_TRUE(doc.insert(3, "Y", Unit::kCodePoint).ok());
  ASSERT_TRUE(doc.insert(9, "Z", Unit::kUtf8).ok());
  EXPECT_EQ(doc.text(), "a\xF0\x9F\x98\x80XY\xC3\xA9Z\xE4\xB8\xAD");
  EXPECT_EQ(doc.convert(3, Unit::kUtf16, Unit::kCodePoint).value(), 2u);
  EXPECT_EQ(doc.convert(2, Unit::kCodePoint, Unit::kUtf8).value(), 5u);
  EXPECT_EQ(doc.convert(doc.length(), Unit::kUtf16, Unit::kUtf8).value(), doc.length(Unit::kUtf8));
  // Erase the emoji by its two UTF-16 units.
  ASSERT_TRUE(doc.erase(1, 2).ok());
  EXPECT_EQ(doc.text(), "aXY\xC3\xA9Z\xE4\xB8\xAD");
  CHORUS_EXPECT_SOUND(doc);
}

TEST(CollabDoc, RejectsPositionsInsideCharacters) {
  Doc doc(1);
  ASSERT_TRUE(doc.insert(0,
                         "a\xF0\x9F\x98\x80"
                         "b")
                  .ok());  // a😀b
  std::string before = doc.text();
  Status s = doc.insert(2, "x");  // between the surrogates
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kProtocol);
  EXPECT_FALSE(doc.erase(2, 1).ok());
  EXPECT_FALSE(doc.erase(1, 1).ok());
  EXPECT_FALSE(doc.erase(0, 2).ok());
  EXPECT_FALSE(doc.insert(3, "x", Unit::kUtf8).ok());
  EXPECT_FALSE(doc.convert(2, Unit::kUtf16, Unit::kCodePoint).ok());
  EXPECT_EQ(doc.text(), before);
  EXPECT_EQ(doc.item_count(), 1u);
  CHORUS_EXPECT_SOUND(doc);
}

TEST(CollabDoc, RejectsOutOfRangeAndBadText) {
  Doc doc(1);
  ASSERT_TRUE(doc.insert(0, "abc").ok());
  EXPECT_EQ(doc.insert(4, "x").error().code, ErrorCode::kProtocol);
  EXPECT_EQ(doc.erase(2, 2).error().code, ErrorCode::kProtocol);
  EXPECT_EQ(doc.erase(4, 0).error().code, ErrorCode::kProtocol);
  EXPECT_EQ(doc.insert(0, "\xC3").error().code, ErrorCode::kInvalidUtf8);
  EXPECT_EQ(doc.insert(0, "\xED\xA0\x80").error().code, ErrorCode::kInvalidUtf8);  // surrogate
  EXPECT_TRUE(doc.insert(3, "").ok());
  EXPECT_TRUE(doc.erase(3, 0).ok());
  EXPECT_EQ(doc.text(), "abc");
}

TEST(CollabDoc, UpdatesCarryEditsToAnotherReplica) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.insert(0, "hello").ok());
  ASSERT_TRUE(a.insert(5, " world").ok());
  EXPECT_TRUE(a.has_local_changes());
  std::string u1 = a.take_update();
  EXPECT_FALSE(a.has_local_changes());
  ASSERT_TRUE(b.apply_update(u1).ok());
  EXPECT_EQ(b.text(), "hello world");
  ASSERT_TRUE(b.erase(0, 6).ok());
  ASSERT_TRUE(b.insert(5, "!").ok());
  ASSERT_TRUE(a.apply_update(b.take_update()).ok());
  EXPECT_EQ(a.text(), "world!");
  // Applying again changes nothing.
  ASSERT_TRUE(b.apply_update(u1).ok());
  EXPECT_EQ(b.text(), "world!");
  EXPECT_EQ(a.state_vector(), b.state_vector());
  CHORUS_EXPECT_SOUND(a);
  CHORUS_EXPECT_SOUND(b);
}

TEST(CollabDoc, EmptyTakeUpdateIsValid) {
  Doc a(1), b(2);
  std::string empty = a.take_update();
  EXPECT_FALSE(empty.empty());
  ASSERT_TRUE(b.apply_update(empty).ok());
  EXPECT_EQ(b.text(), "");
}

TEST(CollabDoc, InsertedThenDeletedBeforeTakeTravelsAsTombstone) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.insert(0, "abcdef").ok());
  ASSERT_TRUE(a.erase(1, 3).ok());
  std::string u = a.take_update();
  ASSERT_TRUE(b.apply_update(u).ok());
  EXPECT_EQ(b.text(), "aef");
  // A concurrent insert next to the deleted characters still finds its place.
  Doc c(3);
  ASSERT_TRUE(c.apply_update(u).ok());
  ASSERT_TRUE(c.insert(1, "X").ok());
  ASSERT_TRUE(b.apply_update(c.take_update()).ok());
  EXPECT_EQ(b.text(), "aXef");
  CHORUS_EXPECT_SOUND(b);
}

TEST(CollabDoc, ConcurrentInsertsAtOnePlaceOrderByClient) {
  Doc base(1);
  ASSERT_TRUE(base.insert(0, "[]").ok());
  std::string init = base.take_update();
  Doc a(10), b(20);
  ASSERT_TRUE(a.apply_update(init).ok());
  ASSERT_TRUE(b.apply_update(init).ok());
  ASSERT_TRUE(a.insert(1, "aaa").ok());
  ASSERT_TRUE(b.insert(1, "bbb").ok());
  std::string ua = a.take_update(), ub = b.take_update();
  ASSERT_TRUE(a.apply_update(ub).ok());
  ASSERT_TRUE(b.apply_update(ua).ok());
  EXPECT_EQ(a.text(), b.text());
  EXPECT_EQ(a.text(), "[aaabbb]");  // the lower client id first
}

TEST(CollabDoc, DeltaDescribesRemoteChange) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.insert(0, "hello world").ok());
  ASSERT_TRUE(b.apply_update(a.take_update()).ok());
  ASSERT_TRUE(a.erase(0, 6).ok());
  ASSERT_TRUE(a.insert(5, "\xF0\x9F\x98\x80!").ok());  // world😀!
  TextDelta delta;
  ASSERT_TRUE(b.apply_update(a.take_update(), &delta).ok());
  ASSERT_EQ(delta.size(), 3u);
  EXPECT_EQ(delta[0].kind, DeltaOp::Kind::kDelete);
  EXPECT_EQ(delta[0].length, 6u);
  EXPECT_EQ(delta[1].kind, DeltaOp::Kind::kRetain);
  EXPECT_EQ(delta[1].length, 5u);
  EXPECT_EQ(delta[2].kind, DeltaOp::Kind::kInsert);
  EXPECT_EQ(delta[2].text, "\xF0\x9F\x98\x80!");
  EXPECT_EQ(delta[2].length, 3u);  // UTF-16 units
  std::string text = "hello world";
  ASSERT_TRUE(apply_delta(text, delta));
  EXPECT_EQ(text, b.text());
}

TEST(CollabDoc, DeltaIsEmptyForDuplicates) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.insert(0, "x").ok());
  std::string u = a.take_update();
  ASSERT_TRUE(b.apply_update(u).ok());
  TextDelta delta;
  ASSERT_TRUE(b.apply_update(u, &delta).ok());
  EXPECT_TRUE(delta.empty());
}

TEST(CollabDoc, ApplyDeltaRejectsBadDeltas) {
  std::string text = "a\xF0\x9F\x98\x80";
  EXPECT_FALSE(apply_delta(text, {DeltaOp{DeltaOp::Kind::kRetain, 2, {}}}));
  text = "abc";
  EXPECT_FALSE(apply_delta(text, {DeltaOp{DeltaOp::Kind::kDelete, 4, {}}}));
  text = "abc";
  EXPECT_TRUE(apply_delta(text, {DeltaOp{DeltaOp::Kind::kRetain, 1, {}}, DeltaOp{DeltaOp::Kind::kInsert, 1, "X"},
                                 DeltaOp{DeltaOp::Kind::kDelete, 1, {}}}));
  EXPECT_EQ(text, "aXc");
}

TEST(CollabDoc, ManyEditsKeepTheTreeSound) {
  // Enough items for several levels of the tree, edited all over.
  Doc doc(1);
  std::string model;
  std::uint64_t x = 12345;
  auto next = [&x] {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>(x >> 33);
  };
  for (int i = 0; i < 20000; ++i) {
    if (model.empty() || next() % 3) {
      std::size_t pos = next() % (model.size() + 1);
      std::string s(1 + next() % 3, static_cast<char>('a' + next() % 26));
      ASSERT_TRUE(doc.insert(pos, s).ok());
      model.insert(pos, s);
    } else {
      std::size_t pos = next() % model.size();
      std::size_t len = std::min<std::size_t>(1 + next() % 4, model.size() - pos);
      ASSERT_TRUE(doc.erase(pos, len).ok());
      model.erase(pos, len);
    }
  }
  EXPECT_EQ(doc.text(), model);
  CHORUS_EXPECT_SOUND(doc);
  Doc copy(2);
  ASSERT_TRUE(copy.apply_update(doc.encode_state_as_update()).ok());
  EXPECT_EQ(copy.text(), model);
  CHORUS_EXPECT_SOUND(copy);
  EXPECT_GT(doc.memory_usage(), model.size());
}

TEST(CollabDoc, MovesKeepTheDocument) {
  Doc a(1);
  ASSERT_TRUE(a.insert(0, "moved").ok());
  Doc b = std::move(a);
  EXPECT_EQ(b.text(), "moved");
  Doc c(3);
  c = std::move(b);
  EXPECT_EQ(c.text(), "moved");
}

}  // namespace
}  // namespace chorus::collab
