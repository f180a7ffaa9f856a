#include "chorus/client/backoff.h"

#include <gtest/gtest.h>

namespace chorus::client {
namespace {

TEST(ClientBackoff, DoublesUpToTheCapWithoutJitter) {
  Backoff b(1000, 5000, 0);
  EXPECT_EQ(b.duration(0.3), 1000u);
  EXPECT_EQ(b.duration(0.3), 2000u);
  EXPECT_EQ(b.duration(0.3), 4000u);
  EXPECT_EQ(b.duration(0.3), 5000u);
  EXPECT_EQ(b.duration(0.3), 5000u);
  EXPECT_EQ(b.attempts(), 5u);
  b.reset();
  EXPECT_EQ(b.attempts(), 0u);
  EXPECT_EQ(b.duration(0.3), 1000u);
}

TEST(ClientBackoff, JitterDirectionFollowsTheDrawAsBacko2) {
  // rand 0.25: floor(2.5) = 2 is even -> minus floor(0.25 * 0.5 * 1000) = 125.
  Backoff down(1000, 5000, 0.5);
  EXPECT_EQ(down.duration(0.25), 875u);
  // rand 0.35: floor(3.5) = 3 is odd -> plus floor(0.35 * 0.5 * 1000) = 175.
  Backoff up(1000, 5000, 0.5);
  EXPECT_EQ(up.duration(0.35), 1175u);
  // Capped after the jitter.
  Backoff capped(4000, 5000, 0.5);
  EXPECT_EQ(capped.duration(0.99), 5000u);
}

TEST(ClientBackoff, HugeAttemptCountsStayAtTheCap) {
  Backoff b(1, 30000, 0.5);
  for (int i = 0; i < 5000; ++i) EXPECT_LE(b.duration(0.5), 30000u);
  EXPECT_EQ(b.duration(0.0), 30000u);
}

}  // namespace
}  // namespace chorus::client
