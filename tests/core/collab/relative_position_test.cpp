// Relative positions: anchored to a character, they follow it through remote edits.
#include "chorus/collab/relative_position.h"

#include <string>

#include <gtest/gtest.h>

#include "chorus/collab/doc.h"
#include "core/collab/collab_test_util.h"

namespace chorus::collab {
namespace {

void sync(Doc& from, Doc& to) {
  ASSERT_TRUE(to.apply_update(from.take_update()).ok());
}

TEST(CollabRelativePosition, FollowsRemoteEdits) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.insert(0, "hello world").ok());
  sync(a, b);
  // A cursor before "world" (anchored to "w"), and one after "hello" (anchored to "o").
  RelativePosition right = a.relative_position(6, Assoc::kRight).value();
  RelativePosition left = a.relative_position(5, Assoc::kLeft).value();
  EXPECT_EQ(right.kind, RelativePosition::Kind::kItem);
  ASSERT_TRUE(b.insert(0, ">> ").ok());
  ASSERT_TRUE(b.insert(8, "--").ok());  // right after "hello"
  sync(b, a);
  EXPECT_EQ(a.text(), ">> hello-- world");
  EXPECT_EQ(a.resolve(right).value(), 11u);  // still before "w"
  EXPECT_EQ(a.resolve(left).value(), 8u);    // still right after "hello"
  // The other replica resolves them the same way.
  EXPECT_EQ(b.resolve(right).value(), 11u);
  EXPECT_EQ(b.resolve(left).value(), 8u);
}

TEST(CollabRelativePosition, InsertAtTheCursorGoesToTheAssociatedSide) {
  Doc a(1);
  ASSERT_TRUE(a.insert(0, "ab").ok());
  RelativePosition right = a.relative_position(1, Assoc::kRight).value();
  RelativePosition left = a.relative_position(1, Assoc::kLeft).value();
  ASSERT_TRUE(a.insert(1, "XYZ").ok());
  EXPECT_EQ(a.resolve(right).value(), 4u);  // stays before "b": after the insert
  EXPECT_EQ(a.resolve(left).value(), 1u);   // stays after "a": before the insert
}

TEST(CollabRelativePosition, DocumentEdges) {
  Doc a(1);
  EXPECT_EQ(a.relative_position(0, Assoc::kRight).value().kind, RelativePosition::Kind::kEnd);
  EXPECT_EQ(a.relative_position(0, Assoc::kLeft).value().kind, RelativePosition::Kind::kStart);
  ASSERT_TRUE(a.insert(0, "abc").ok());
  RelativePosition end = a.relative_position(3, Assoc::kRight).value();
  RelativePosition start = a.relative_position(0, Assoc::kLeft).value();
  ASSERT_TRUE(a.insert(3, "def").ok());
  ASSERT_TRUE(a.insert(0, "0").ok());
  EXPECT_EQ(a.resolve(end).value(), 7u);
  EXPECT_EQ(a.resolve(start).value(), 0u);
  EXPECT_FALSE(a.relative_position(8).ok());
}

TEST(CollabRelativePosition, DeletedAnchorResolvesToWhereItWas) {
  Doc a(1);
  ASSERT_TRUE(a.insert(0, "abcdef").ok());
  RelativePosition p = a.relative_position(3, Assoc::kRight).value();  // before "d"
  RelativePosition q = a.relative_position(3, Assoc::kLeft).value();   // after "c"
  ASSERT_TRUE(a.erase(2, 2).ok());                                     // "abef"
  EXPECT_EQ(a.resolve(p).value(), 2u);
  EXPECT_EQ(a.resolve(q).value(), 2u);
}

TEST(CollabRelativePosition, CountsInEveryUnit) {
  Doc a(1);
  ASSERT_TRUE(a.insert(0, "\xF0\x9F\x98\x80\xC3\xA9x").ok());          // 😀éx
  RelativePosition p = a.relative_position(3, Assoc::kRight).value();  // before "x"
  EXPECT_EQ(a.resolve(p, Unit::kUtf16).value(), 3u);
  EXPECT_EQ(a.resolve(p, Unit::kCodePoint).value(), 2u);
  EXPECT_EQ(a.resolve(p, Unit::kUtf8).value(), 6u);
  RelativePosition q = a.relative_position(2, Assoc::kLeft).value();  // after 😀
  EXPECT_EQ(a.resolve(q).value(), 2u);
  EXPECT_FALSE(a.relative_position(1, Assoc::kRight).ok());  // inside the surrogate pair
  EXPECT_FALSE(a.relative_position(1, Assoc::kLeft).ok());
}

TEST(CollabRelativePosition, EncodesAndDecodes) {
  Doc a(123456789);
  ASSERT_TRUE(a.insert(0, "text").ok());
  for (std::size_t pos = 0; pos <= 4; ++pos) {
    for (Assoc assoc : {Assoc::kLeft, Assoc::kRight}) {
      RelativePosition p = a.relative_position(pos, assoc).value();
      auto back = RelativePosition::decode(p.encode());
      ASSERT_TRUE(back.ok());
      EXPECT_EQ(back.value(), p);
      EXPECT_EQ(a.resolve(back.value()).value(), pos);
    }
  }
  EXPECT_FALSE(RelativePosition::decode("").ok());
  EXPECT_FALSE(RelativePosition::decode("\x03").ok());
  EXPECT_FALSE(RelativePosition::decode(std::string("\x00\x01", 2)).ok());          // truncated
  EXPECT_FALSE(RelativePosition::decode(std::string("\x00\x01\x01\x02", 4)).ok());  // bad assoc
  EXPECT_FALSE(RelativePosition::decode(std::string("\x01\x00", 2)).ok());          // trailing
}

TEST(CollabRelativePosition, UnknownCharacterIsAnError) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.insert(0, "abc").ok());
  RelativePosition p = a.relative_position(1).value();
  EXPECT_EQ(b.resolve(p).error().code, ErrorCode::kProtocol);
  sync(a, b);
  EXPECT_EQ(b.resolve(p).value(), 1u);
}

}  // namespace
}  // namespace chorus::collab
