#include "chorus/websocket/frame_checker.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace chorus::websocket {
namespace {

using Kind = FrameResult::Kind;

constexpr std::uint8_t kFin = 0x80;

std::uint8_t header(Opcode op, bool fin = true) {
  return static_cast<std::uint8_t>((fin ? kFin : 0) | static_cast<std::uint8_t>(op));
}

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string s;
  s.push_back(static_cast<char>(code >> 8));
  s.push_back(static_cast<char>(code & 0xFF));
  s.append(reason);
  return s;
}

Limits small_limits(std::size_t max_payload, std::uint32_t max_fragments) {
  Limits limits;
  limits.max_payload = max_payload;
  limits.max_ws_fragments = max_fragments;
  return limits;
}

void expect_close(const FrameResult& r, std::uint16_t code, bool peer_initiated = false) {
  EXPECT_EQ(r.kind, Kind::kClose);
  EXPECT_EQ(r.close_code, code);
  EXPECT_EQ(r.peer_initiated, peer_initiated);
  // The reason goes into our own Close frame: §5.5 caps it at 123 bytes of UTF-8.
  EXPECT_LE(r.reason.size(), 123u);
  EXPECT_TRUE(utf8::is_valid(r.reason));
}

// ---- Opcodes and header bits (RFC 6455 §5.2) ----

TEST(FrameCheckerTest, DeliversUnfragmentedTextAndBinary) {
  FrameChecker checker;
  FrameResult r = checker.on_frame(header(Opcode::kText), "hello");
  EXPECT_EQ(r.kind, Kind::kMessage);
  EXPECT_EQ(r.opcode, Opcode::kText);
  EXPECT_EQ(r.data, "hello");

  const std::string binary("\x00\xFF\xC0\x80", 4);  // not UTF-8, and needn't be
  r = checker.on_frame(header(Opcode::kBinary), binary);
  EXPECT_EQ(r.kind, Kind::kMessage);
  EXPECT_EQ(r.opcode, Opcode::kBinary);
  EXPECT_EQ(r.data, binary);

  r = checker.on_frame(header(Opcode::kText), "");
  EXPECT_EQ(r.kind, Kind::kMessage);
  EXPECT_EQ(r.data, "");
  EXPECT_FALSE(checker.closed());
}

TEST(FrameCheckerTest, EveryReservedOpcodeIsAProtocolError) {
  for (std::uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    for (bool fin : {true, false}) {
      FrameChecker checker;
      const FrameResult r = checker.on_frame(static_cast<std::uint8_t>((fin ? kFin : 0) | op), "x");
      expect_close(r, close_code::kProtocolError);
      EXPECT_EQ(r.reason, "reserved opcode") << int{op};
      EXPECT_TRUE(checker.closed());
    }
  }
}

TEST(FrameCheckerTest, EachReservedBitIsAProtocolError) {
  for (std::uint8_t rsv : {0x40, 0x20, 0x10, 0x70}) {
    for (Opcode op : {Opcode::kText, Opcode::kBinary, Opcode::kPing, Opcode::kClose}) {
      FrameChecker checker;
      const FrameResult r = checker.on_frame(header(op) | rsv, "");
      expect_close(r, close_code::kProtocolError);
      EXPECT_EQ(r.reason, "reserved bits set");
    }
  }
  // Also on a continuation frame in the middle of a message.
  FrameChecker checker;
  EXPECT_EQ(checker.on_frame(header(Opcode::kText, false), "a").kind, Kind::kNone);
  expect_close(checker.on_frame(header(Opcode::kContinuation) | 0x40, "b"), close_code::kProtocolError);
}

// ---- Control frames (§5.5) ----

TEST(FrameCheckerTest, ControlFrameWithoutFinIsAProtocolError) {
  for (Opcode op : {Opcode::kPing, Opcode::kPong, Opcode::kClose}) {
    FrameChecker checker;
    const FrameResult r = checker.on_frame(header(op, false), "");
    expect_close(r, close_code::kProtocolError);
    EXPECT_EQ(r.reason, "fragmented control frame");
  }
}

TEST(FrameCheckerTest, ControlPayloadOf125BytesIsAcceptedAnd126IsNot) {
  const std::string max(125, 'p');
  const std::string over(126, 'p');
  {
    FrameChecker checker;
    FrameResult r = checker.on_frame(header(Opcode::kPing), max);
    EXPECT_EQ(r.kind, Kind::kPing);
    EXPECT_EQ(r.data, max);
    r = checker.on_frame(header(Opcode::kPong), max);
    EXPECT_EQ(r.kind, Kind::kPong);
    EXPECT_EQ(r.data, max);
    r = checker.on_frame(header(Opcode::kClose), close_payload(1000, std::string(123, 'r')));
    expect_close(r, 1000, /*peer_initiated=*/true);
  }
  for (Opcode op : {Opcode::kPing, Opcode::kPong}) {
    FrameChecker checker;
    expect_close(checker.on_frame(header(op), over), close_code::kProtocolError);
  }
  FrameChecker checker;
  expect_close(checker.on_frame(header(Opcode::kClose), close_payload(1000, std::string(124, 'r'))),
               close_code::kProtocolError);
}

TEST(FrameCheckerTest, EmptyPingAndPong) {
  FrameChecker checker;
  FrameResult r = checker.on_frame(header(Opcode::kPing), "");
  EXPECT_EQ(r.kind, Kind::kPing);
  EXPECT_EQ(r.opcode, Opcode::kPing);
  EXPECT_EQ(r.data, "");
  r = checker.on_frame(header(Opcode::kPong), "");
  EXPECT_EQ(r.kind, Kind::kPong);
  EXPECT_EQ(r.opcode, Opcode::kPong);
}

// ---- Fragmentation (§5.4) ----

TEST(FrameCheckerTest, ReassemblesFragmentedMessages) {
  FrameChecker checker;
  EXPECT_EQ(checker.on_frame(header(Opcode::kBinary, false), "ab").kind, Kind::kNone);
  EXPECT_EQ(checker.buffered_bytes(), 2u);
  EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation, false), "").kind, Kind::kNone);
  EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation, false), "cd").kind, Kind::kNone);
  FrameResult r = checker.on_frame(header(Opcode::kContinuation), "e");
  EXPECT_EQ(r.kind, Kind::kMessage);
  EXPECT_EQ(r.opcode, Opcode::kBinary);
  EXPECT_EQ(r.data, "abcde");
  EXPECT_EQ(checker.buffered_bytes(), 0u);

  // The checker is ready for the next message, of either type.
  EXPECT_EQ(checker.on_frame(header(Opcode::kText, false), "x").kind, Kind::kNone);
  r = checker.on_frame(header(Opcode::kContinuation), "y");
  EXPECT_EQ(r.kind, Kind::kMessage);
  EXPECT_EQ(r.opcode, Opcode::kText);
  EXPECT_EQ(r.data, "xy");
}

TEST(FrameCheckerTest, ContinuationWithoutAStartIsAProtocolError) {
  for (bool fin : {true, false}) {
    FrameChecker checker;
    expect_close(checker.on_frame(header(Opcode::kContinuation, fin), "x"), close_code::kProtocolError);
  }
  // Also right after a complete message.
  FrameChecker checker;
  EXPECT_EQ(checker.on_frame(header(Opcode::kText), "done").kind, Kind::kMessage);
  expect_close(checker.on_frame(header(Opcode::kContinuation), "x"), close_code::kProtocolError);
}

TEST(FrameCheckerTest, NewDataFrameInsideAFragmentedMessageIsAProtocolError) {
  for (Opcode first : {Opcode::kText, Opcode::kBinary}) {
    for (Opcode second : {Opcode::kText, Opcode::kBinary}) {
      for (bool fin : {true, false}) {
        FrameChecker checker;
        EXPECT_EQ(checker.on_frame(header(first, false), "a").kind, Kind::kNone);
        expect_close(checker.on_frame(header(second, fin), "b"), close_code::kProtocolError);
        EXPECT_EQ(checker.buffered_bytes(), 0u);
      }
    }
  }
}

TEST(FrameCheckerTest, PingAndPongMayBeInterleavedWithFragments) {
  FrameChecker checker;
  EXPECT_EQ(checker.on_frame(header(Opcode::kText, false), "Hel").kind, Kind::kNone);
  FrameResult r = checker.on_frame(header(Opcode::kPing), "p1");
  EXPECT_EQ(r.kind, Kind::kPing);
  EXPECT_EQ(r.data, "p1");
  EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation, false), "lo, ").kind, Kind::kNone);
  r = checker.on_frame(header(Opcode::kPong), "p2");
  EXPECT_EQ(r.kind, Kind::kPong);
  EXPECT_EQ(r.data, "p2");
  r = checker.on_frame(header(Opcode::kContinuation), "world");
  EXPECT_EQ(r.kind, Kind::kMessage);
  EXPECT_EQ(r.opcode, Opcode::kText);
  EXPECT_EQ(r.data, "Hello, world");
}

TEST(FrameCheckerTest, CloseInsideAFragmentedMessageDropsTheBuffer) {
  FrameChecker checker;
  EXPECT_EQ(checker.on_frame(header(Opcode::kText, false), "partial").kind, Kind::kNone);
  expect_close(checker.on_frame(header(Opcode::kClose), close_payload(1001)), 1001, true);
  EXPECT_EQ(checker.buffered_bytes(), 0u);
  EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation), "rest").kind, Kind::kIgnore);
}

// ---- UTF-8 in text messages (§8.1) ----

TEST(FrameCheckerTest, CodePointSplitAcrossFragmentsIsAccepted) {
  // é, €, 😀: 2-, 3- and 4-byte sequences; try every single cut and every cut pair.
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";
  for (std::size_t i = 0; i <= text.size(); ++i) {
    for (std::size_t j = i; j <= text.size(); ++j) {
      FrameChecker checker;
      ASSERT_EQ(checker.on_frame(header(Opcode::kText, false), text.substr(0, i)).kind, Kind::kNone) << i << "," << j;
      ASSERT_EQ(checker.on_frame(header(Opcode::kContinuation, false), text.substr(i, j - i)).kind, Kind::kNone)
          << i << "," << j;
      const FrameResult r = checker.on_frame(header(Opcode::kContinuation), text.substr(j));
      ASSERT_EQ(r.kind, Kind::kMessage) << i << "," << j;
      ASSERT_EQ(r.data, text);
    }
  }
}

TEST(FrameCheckerTest, InvalidUtf8InTextIsInvalidPayload) {
  const std::vector<std::string> bad = {
      std::string("\xC0\x80", 2),  // overlong
      "\xE0\x80\x80",              // overlong
      "\xF0\x80\x80\x80",          // overlong
      "\xED\xA0\x80",              // surrogate U+D800
      "\xF4\x90\x80\x80",          // U+110000
      "\xF5\x80\x80\x80",          // lead byte past U+10FFFF
      "\xFF",
      "ok\xE2\x82",  // truncated at the end of the message
  };
  for (const auto& payload : bad) {
    FrameChecker checker;
    const FrameResult r = checker.on_frame(header(Opcode::kText), payload);
    expect_close(r, close_code::kInvalidPayload);
    EXPECT_EQ(r.reason, "invalid UTF-8 in text message");
  }
  // The same, fragmented: it fails no later than the fragment that completes the evidence.
  for (const auto& payload : bad) {
    FrameChecker checker;
    bool closed = false;
    for (std::size_t i = 0; i < payload.size() && !closed; ++i) {
      const bool fin = i + 1 == payload.size();
      const Opcode op = i == 0 ? Opcode::kText : Opcode::kContinuation;
      const FrameResult r = checker.on_frame(header(op, fin), payload.substr(i, 1));
      if (r.kind == Kind::kClose) {
        EXPECT_EQ(r.close_code, close_code::kInvalidPayload);
        closed = true;
      } else {
        EXPECT_EQ(r.kind, Kind::kNone);
      }
    }
    EXPECT_TRUE(closed) << testing::PrintToString(payload);
  }
}

TEST(FrameCheckerTest, InvalidUtf8FailsFastBeforeTheFinalFragment) {
  FrameChecker checker;
  EXPECT_EQ(checker.on_frame(header(Opcode::kText, false), "fine ").kind, Kind::kNone);
  // E0 80 can never become valid: no need to wait for FIN.
  expect_close(checker.on_frame(header(Opcode::kContinuation, false), "\xE0\x80"), close_code::kInvalidPayload);
  EXPECT_EQ(checker.buffered_bytes(), 0u);
}

TEST(FrameCheckerTest, TruncatedCodePointAtTheFinalFragmentIsInvalidPayload) {
  FrameChecker checker;
  EXPECT_EQ(checker.on_frame(header(Opcode::kText, false), "\xF0\x9F").kind, Kind::kNone);
  EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation, false), "\x98").kind, Kind::kNone);
  expect_close(checker.on_frame(header(Opcode::kContinuation), ""), close_code::kInvalidPayload);
}

TEST(FrameCheckerTest, Utf8StateResetsBetweenMessages) {
  FrameChecker checker;
  EXPECT_EQ(checker.on_frame(header(Opcode::kText), "\xC3\xA9").kind, Kind::kMessage);
  // A binary message in between is not validated and does not disturb the text state.
  EXPECT_EQ(checker.on_frame(header(Opcode::kBinary), "\xC3").kind, Kind::kMessage);
  EXPECT_EQ(checker.on_frame(header(Opcode::kText), "\xE2\x82\xAC").kind, Kind::kMessage);
}

// ---- Close frames (§5.5.1, §7.4) ----

TEST(FrameCheckerTest, CloseWithoutPayloadIsAnsweredWith1000) {
  FrameChecker checker;
  const FrameResult r = checker.on_frame(header(Opcode::kClose), "");
  expect_close(r, close_code::kNormal, /*peer_initiated=*/true);
  EXPECT_EQ(r.opcode, Opcode::kClose);
  EXPECT_TRUE(checker.closed());
}

TEST(FrameCheckerTest, CloseWithOneBytePayloadIsAProtocolError) {
  FrameChecker checker;
  const FrameResult r = checker.on_frame(header(Opcode::kClose), "\x03");
  expect_close(r, close_code::kProtocolError);
  EXPECT_TRUE(checker.closed());
}

TEST(FrameCheckerTest, InvalidCloseCodesAreProtocolErrors) {
  for (std::uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    EXPECT_FALSE(is_valid_close_code(code)) << code;
    FrameChecker checker;
    const FrameResult r = checker.on_frame(header(Opcode::kClose), close_payload(code, "bye"));
    expect_close(r, close_code::kProtocolError);
    EXPECT_EQ(r.reason, "invalid close code") << code;
  }
}

TEST(FrameCheckerTest, ValidCloseCodesAreEchoed) {
  for (std::uint16_t code :
       {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}) {
    EXPECT_TRUE(is_valid_close_code(code)) << code;
    FrameChecker checker;
    const std::string payload = close_payload(code, "bye \xF0\x9F\x91\x8B");
    const FrameResult r = checker.on_frame(header(Opcode::kClose), payload);
    expect_close(r, code, /*peer_initiated=*/true);
    EXPECT_EQ(r.data, payload);  // the peer's own payload, for logging
    EXPECT_EQ(r.reason, "");
  }
}

TEST(FrameCheckerTest, CloseReasonMustBeUtf8) {
  for (const std::string reason : {"\xFF", "\xC3", "\xED\xA0\x80", "ok\xC0\x80"}) {
    FrameChecker checker;
    const FrameResult r = checker.on_frame(header(Opcode::kClose), close_payload(1000, reason));
    expect_close(r, close_code::kInvalidPayload);
    EXPECT_EQ(r.reason, "invalid UTF-8 in close reason");
  }
}

TEST(FrameCheckerTest, FramesAfterCloseAreIgnored) {
  FrameChecker peer_closed;
  expect_close(peer_closed.on_frame(header(Opcode::kClose), close_payload(1000)), 1000, true);
  FrameChecker failed;
  expect_close(failed.on_frame(header(Opcode::kText) | 0x40, "x"), close_code::kProtocolError);
  for (FrameChecker* checker : {&peer_closed, &failed}) {
    EXPECT_TRUE(checker->closed());
    for (std::uint8_t h : {header(Opcode::kText), header(Opcode::kBinary, false), header(Opcode::kContinuation),
                           header(Opcode::kPing), header(Opcode::kPong), header(Opcode::kClose), std::uint8_t{0xFF}}) {
      const FrameResult r = checker->on_frame(h, "data");
      EXPECT_EQ(r.kind, Kind::kIgnore);
      EXPECT_TRUE(r.data.empty());
    }
    EXPECT_EQ(checker->buffered_bytes(), 0u);
  }
}

// ---- Limits (Limits::max_payload, Limits::max_ws_fragments) ----

TEST(FrameCheckerTest, MessageOfExactlyMaxPayloadIsAcceptedWithDefaultLimits) {
  const Limits defaults;
  ASSERT_EQ(defaults.max_payload, 1'000'000u);
  FrameChecker checker;
  const FrameResult r = checker.on_frame(header(Opcode::kText), std::string(defaults.max_payload, 'a'));
  EXPECT_EQ(r.kind, Kind::kMessage);
  EXPECT_EQ(r.data.size(), defaults.max_payload);
}

TEST(FrameCheckerTest, MessageOneBytePastMaxPayloadIsTooBig) {
  FrameChecker checker;
  const FrameResult r = checker.on_frame(header(Opcode::kBinary), std::string(1'000'001, 'a'));
  expect_close(r, close_code::kMessageTooBig);
  EXPECT_EQ(r.reason, "message exceeds 1000000 bytes");
  EXPECT_EQ(checker.buffered_bytes(), 0u);
}

TEST(FrameCheckerTest, MaxPayloadAcrossFragments) {
  const Limits limits = small_limits(10, 1024);
  {
    FrameChecker checker(limits);
    EXPECT_EQ(checker.on_frame(header(Opcode::kText, false), "01234").kind, Kind::kNone);
    EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation, false), "567").kind, Kind::kNone);
    const FrameResult r = checker.on_frame(header(Opcode::kContinuation), "89");
    EXPECT_EQ(r.kind, Kind::kMessage);
    EXPECT_EQ(r.data, "0123456789");
  }
  {
    FrameChecker checker(limits);
    EXPECT_EQ(checker.on_frame(header(Opcode::kBinary, false), "01234").kind, Kind::kNone);
    EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation, false), "56789").kind, Kind::kNone);
    EXPECT_EQ(checker.buffered_bytes(), 10u);
    // Even an empty final fragment is fine at the limit ...
    EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation), "").kind, Kind::kMessage);
  }
  {
    FrameChecker checker(limits);
    EXPECT_EQ(checker.on_frame(header(Opcode::kBinary, false), "01234").kind, Kind::kNone);
    EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation, false), "56789").kind, Kind::kNone);
    // ... but one more byte is refused before it is appended.
    const FrameResult r = checker.on_frame(header(Opcode::kContinuation, false), "X");
    expect_close(r, close_code::kMessageTooBig);
    EXPECT_EQ(r.reason, "message exceeds 10 bytes");
    EXPECT_EQ(checker.buffered_bytes(), 0u);
  }
  {
    // A single huge fragment on top of a partial message, without overflowing the sum.
    FrameChecker checker(limits);
    EXPECT_EQ(checker.on_frame(header(Opcode::kText, false), "0123").kind, Kind::kNone);
    expect_close(checker.on_frame(header(Opcode::kContinuation), std::string(100, 'a')), close_code::kMessageTooBig);
  }
}

TEST(FrameCheckerTest, MaxPayloadIsCheckedBeforeUtf8) {
  // A message that is both too big and not UTF-8 is reported as too big: the limit is
  // checked before the checker looks at (or keeps) the bytes.
  FrameChecker checker(small_limits(4, 1024));
  expect_close(checker.on_frame(header(Opcode::kText), "\xFF\xFF\xFF\xFF\xFF"), close_code::kMessageTooBig);
}

TEST(FrameCheckerTest, ExactlyMaxFragmentsIsAcceptedAndOneMoreIsTooBig) {
  const Limits defaults;
  ASSERT_EQ(defaults.max_ws_fragments, 1024u);
  {
    FrameChecker checker;
    EXPECT_EQ(checker.on_frame(header(Opcode::kText, false), "a").kind, Kind::kNone);
    for (std::uint32_t i = 2; i < defaults.max_ws_fragments; ++i) {
      ASSERT_EQ(checker.on_frame(header(Opcode::kContinuation, false), "a").kind, Kind::kNone);
    }
    const FrameResult r = checker.on_frame(header(Opcode::kContinuation), "a");
    EXPECT_EQ(r.kind, Kind::kMessage);
    EXPECT_EQ(r.data, std::string(defaults.max_ws_fragments, 'a'));
  }
  {
    FrameChecker checker;
    EXPECT_EQ(checker.on_frame(header(Opcode::kText, false), "a").kind, Kind::kNone);
    for (std::uint32_t i = 2; i <= defaults.max_ws_fragments; ++i) {
      ASSERT_EQ(checker.on_frame(header(Opcode::kContinuation, false), "a").kind, Kind::kNone);
    }
    const FrameResult r = checker.on_frame(header(Opcode::kContinuation), "a");
    expect_close(r, close_code::kMessageTooBig);
    EXPECT_EQ(r.reason, "message exceeds 1024 fragments");
  }
}

TEST(FrameCheckerTest, FragmentCountResetsBetweenMessages) {
  FrameChecker checker(small_limits(1'000, 3));
  for (int message = 0; message < 3; ++message) {
    EXPECT_EQ(checker.on_frame(header(Opcode::kBinary, false), "a").kind, Kind::kNone);
    EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation, false), "b").kind, Kind::kNone);
    EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation), "c").kind, Kind::kMessage);
  }
  // Interleaved control frames do not count as fragments.
  EXPECT_EQ(checker.on_frame(header(Opcode::kBinary, false), "a").kind, Kind::kNone);
  EXPECT_EQ(checker.on_frame(header(Opcode::kPing), "").kind, Kind::kPing);
  EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation, false), "b").kind, Kind::kNone);
  EXPECT_EQ(checker.on_frame(header(Opcode::kPong), "").kind, Kind::kPong);
  EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation), "c").kind, Kind::kMessage);
}

TEST(FrameCheckerTest, HundredThousandOneByteFragmentsStopAtTheFragmentLimit) {
  FrameChecker checker;  // default limits: 1024 fragments
  const std::uint32_t limit = Limits{}.max_ws_fragments;
  std::uint32_t closes = 0;
  std::uint32_t ignored = 0;
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    const Opcode op = i == 0 ? Opcode::kText : Opcode::kContinuation;
    const FrameResult r = checker.on_frame(header(op, false), "a");
    if (i < limit) {
      ASSERT_EQ(r.kind, Kind::kNone) << i;
      ASSERT_EQ(checker.buffered_bytes(), i + 1);
    } else if (i == limit) {
      expect_close(r, close_code::kMessageTooBig);
      ++closes;
    } else {
      ASSERT_EQ(r.kind, Kind::kIgnore) << i;
      ++ignored;
    }
    ASSERT_LE(checker.buffered_bytes(), limit);
  }
  EXPECT_EQ(closes, 1u);
  EXPECT_EQ(ignored, 100'000u - limit - 1);
  EXPECT_EQ(checker.buffered_bytes(), 0u);
}

TEST(FrameCheckerTest, HundredThousandOneByteFragmentsStopAtAPayloadLimit) {
  // With the fragment guard out of the way, a small max_payload stops the flood.
  FrameChecker checker(small_limits(100, 1'000'000));
  std::uint32_t first_close = 0;
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    const Opcode op = i == 0 ? Opcode::kBinary : Opcode::kContinuation;
    const FrameResult r = checker.on_frame(header(op, false), "a");
    if (r.kind == Kind::kClose) {
      EXPECT_EQ(r.close_code, close_code::kMessageTooBig);
      first_close = i;
      break;
    }
    ASSERT_EQ(r.kind, Kind::kNone);
    ASSERT_LE(checker.buffered_bytes(), 100u);
  }
  EXPECT_EQ(first_close, 100u);
  EXPECT_EQ(checker.buffered_bytes(), 0u);
  EXPECT_EQ(checker.on_frame(header(Opcode::kContinuation), "a").kind, Kind::kIgnore);
}

TEST(FrameCheckerTest, RandomFramesNeverBreakTheInvariants) {
  // Arbitrary header bytes and payloads: every result is one of the documented kinds, closes
  // carry a sendable code, and the buffer stays within the limit.
  std::mt19937 rng(6455);
  const Limits limits = small_limits(64, 8);
  for (int round = 0; round < 2'000; ++round) {
    FrameChecker checker(limits);
    for (int i = 0; i < 20; ++i) {
      std::string payload(rng() % 140, '\0');
      for (char& c : payload) c = static_cast<char>(rng() % 4 == 0 ? rng() : 'a' + rng() % 26);
      // Bias towards well-formed headers so that deeper states are reached.
      const std::uint8_t h = rng() % 3 == 0 ? static_cast<std::uint8_t>(rng())
                                            : static_cast<std::uint8_t>((rng() % 2 ? kFin : 0) | rng() % 3);
      const bool was_closed = checker.closed();
      const FrameResult r = checker.on_frame(h, payload);
      if (was_closed) {
        ASSERT_EQ(r.kind, Kind::kIgnore);
      }
      if (r.kind == Kind::kClose) {
        ASSERT_TRUE(is_valid_close_code(r.close_code)) << r.close_code;
        ASSERT_TRUE(checker.closed());
      }
      if (r.kind == Kind::kMessage) {
        ASSERT_LE(r.data.size(), limits.max_payload);
        if (r.opcode == Opcode::kText) {
          ASSERT_TRUE(utf8::is_valid(r.data));
        }
      }
      ASSERT_LE(checker.buffered_bytes(), limits.max_payload);
    }
  }
}

}  // namespace
}  // namespace chorus::websocket
