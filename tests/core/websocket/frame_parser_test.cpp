#include "chorus/websocket/frame_parser.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "chorus/utf8.h"

namespace chorus::websocket {
namespace {

using Kind = FrameEvent::Kind;
using Key = std::array<std::uint8_t, 4>;

constexpr std::uint8_t kFin = 0x80;
constexpr Key kKey = {0x37, 0xFA, 0x21, 0x3D};

std::uint8_t header(Opcode op, bool fin = true) {
  return static_cast<std::uint8_t>((fin ? kFin : 0) | static_cast<std::uint8_t>(op));
}

enum class LengthForm { kShortest, k16, k64 };

// The length field of a client frame header with the MASK bit set (or not), in the given form.
std::string length_field(std::uint64_t length, LengthForm form = LengthForm::kShortest, bool masked = true) {
  const char mask_bit = masked ? '\x80' : '\x00';
  std::string s;
  if (form == LengthForm::kShortest) {
    form = length <= 125 ? LengthForm::kShortest : length <= 0xFFFF ? LengthForm::k16 : LengthForm::k64;
  }
  if (form == LengthForm::kShortest) {
    s.push_back(static_cast<char>(mask_bit | static_cast<char>(length)));
  } else if (form == LengthForm::k16) {
    s.push_back(static_cast<char>(mask_bit | 126));
    s.push_back(static_cast<char>(length >> 8));
    s.push_back(static_cast<char>(length & 0xFF));
  } else {
    s.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>((length >> (8 * i)) & 0xFF));
  }
  return s;
}

// A client frame (RFC 6455 §5.2, §5.3): header, mask key, masked payload.
std::string client_frame(std::uint8_t first, std::string_view payload, const Key& key = kKey,
                         LengthForm form = LengthForm::kShortest) {
  std::string s(1, static_cast<char>(first));
  s += length_field(payload.size(), form);
  s.append(reinterpret_cast<const char*>(key.data()), key.size());
  for (std::size_t i = 0; i < payload.size(); ++i) {
    s.push_back(static_cast<char>(static_cast<std::uint8_t>(payload[i]) ^ key[i % 4]));
  }
  return s;
}

std::string close_body(std::uint16_t code, std::string_view reason = {}) {
  std::string s;
  s.push_back(static_cast<char>(code >> 8));
  s.push_back(static_cast<char>(code & 0xFF));
  s.append(reason);
  return s;
}

Limits small_limits(std::size_t max_payload, std::uint32_t max_fragments = 1'024) {
  Limits limits;
  limits.max_payload = max_payload;
  limits.max_ws_fragments = max_fragments;
  return limits;
}

// An event with its views copied, so it outlives the next feed().
struct Event {
  Kind kind = Kind::kNone;
  Opcode opcode = Opcode::kText;
  std::string data;
  std::uint16_t close_code = 0;
  std::string reason;
  bool peer_initiated = false;

  bool operator==(const Event& o) const {
    return kind == o.kind && opcode == o.opcode && data == o.data && close_code == o.close_code && reason == o.reason &&
           peer_initiated == o.peer_initiated;
  }
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
  return os << "{kind " << static_cast<int>(e.kind) << ", opcode " << static_cast<int>(e.opcode) << ", "
            << e.data.size() << " bytes, close " << e.close_code << " '" << e.reason << "'"
            << (e.peer_initiated ? " by peer" : "") << "}";
}

Event copy(const FrameEvent& e) {
  return Event{e.kind, e.opcode, std::string(e.data), e.close_code, std::string(e.reason), e.peer_initiated};
}

Event message(Opcode op, std::string data) {
  return Event{Kind::kMessage, op, std::move(data), 0, {}, false};
}
Event control(Kind kind, Opcode op, std::string data) {
  return Event{kind, op, std::move(data), 0, {}, false};
}

// Feeds `bytes` in the given piece sizes (the last piece takes the rest) and collects every
// event but kIgnore.
std::vector<Event> parse(FrameParser& parser, std::string bytes, const std::vector<std::size_t>& pieces) {
  std::vector<Event> events;
  std::size_t pos = 0;
  std::size_t index = 0;
  while (pos < bytes.size()) {
    std::size_t n = index < pieces.size() ? pieces[index++] : bytes.size() - pos;
    if (n > bytes.size() - pos) n = bytes.size() - pos;
    MutableBytes input{bytes.data() + pos, n};
    while (!input.empty()) {
      const FrameEvent e = parser.feed(input);
      if (e.kind != Kind::kNone && e.kind != Kind::kIgnore) events.push_back(copy(e));
    }
    pos += n;
  }
  return events;
}

std::vector<Event> parse_whole(std::string bytes, const Limits& limits = Limits{}) {
  FrameParser parser(limits);
  return parse(parser, std::move(bytes), {});
}

std::vector<Event> parse_in_chunks_of(std::string bytes, std::size_t chunk, const Limits& limits = Limits{}) {
  FrameParser parser(limits);
  return parse(parser, std::move(bytes), std::vector<std::size_t>(bytes.size() / chunk + 1, chunk));
}

std::vector<Event> parse_randomly(std::string bytes, std::uint32_t seed, const Limits& limits = Limits{}) {
  std::mt19937 rng(seed);
  std::vector<std::size_t> pieces;
  for (std::size_t total = 0; total < bytes.size();) {
    pieces.push_back(1 + rng() % 300);
    total += pieces.back();
  }
  FrameParser parser(limits);
  return parse(parser, std::move(bytes), pieces);
}

// Same events whole, in 1-byte pieces, in 7-byte pieces (unmasking across word boundaries)
// and in random pieces.
void expect_any_chunking(const std::string& bytes, const std::vector<Event>& expected,
                         const Limits& limits = Limits{}) {
  EXPECT_EQ(parse_whole(bytes, limits), expected) << "whole";
  EXPECT_EQ(parse_in_chunks_of(bytes, 1, limits), expected) << "1-byte pieces";
  EXPECT_EQ(parse_in_chunks_of(bytes, 7, limits), expected) << "7-byte pieces";
  for (std::uint32_t seed = 1; seed <= 5; ++seed) {
    EXPECT_EQ(parse_randomly(bytes, seed, limits), expected) << "random pieces, seed " << seed;
  }
}

Event close_failure(std::uint16_t code, std::string reason) {
  return Event{Kind::kClose, Opcode::kClose, {}, code, std::move(reason), false};
}

Event close_by_peer(std::uint16_t code, std::string body) {
  return Event{Kind::kClose, Opcode::kClose, std::move(body), code, {}, true};
}

// ---- Messages, payload sizes, masking ----

TEST(FrameParserTest, DeliversTextAndBinaryMessages) {
  const std::string binary("\x00\xFF\xC0\x80", 4);
  const std::string bytes = client_frame(header(Opcode::kText), "hello") +
                            client_frame(header(Opcode::kBinary), binary) + client_frame(header(Opcode::kText), "");
  expect_any_chunking(bytes,
                      {message(Opcode::kText, "hello"), message(Opcode::kBinary, binary), message(Opcode::kText, "")});
}

TEST(FrameParserTest, PayloadSizesAtEachLengthForm) {
  for (std::size_t size : {0, 1, 7, 8, 9, 125, 126, 127, 65'535, 65'536, 65'537, 200'000}) {
    std::string payload(size, '\0');
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>('a' + i % 26);
    const std::string bytes = client_frame(header(Opcode::kText), payload);
    const std::size_t header_size = 2 + (size <= 125 ? 0 : size <= 0xFFFF ? 2 : 8) + 4;
    EXPECT_EQ(bytes.size(), header_size + size);
    SCOPED_TRACE(size);
    expect_any_chunking(bytes, {message(Opcode::kText, payload)});
    expect_any_chunking(client_frame(header(Opcode::kBinary), payload), {message(Opcode::kBinary, payload)});
  }
}

TEST(FrameParserTest, UnmasksWithAnyKey) {
  std::string payload;
  for (int i = 0; i < 256; ++i) payload.push_back(static_cast<char>(i));
  for (const Key& key : {Key{0, 0, 0, 0}, Key{0xFF, 0xFF, 0xFF, 0xFF}, Key{1, 2, 3, 4}, Key{0x80, 0, 0x7F, 0xFE}}) {
    // Two frames with different keys, fragmented, so the mask position restarts per frame.
    const std::string bytes = client_frame(header(Opcode::kBinary, false), payload.substr(0, 13), key) +
                              client_frame(header(Opcode::kContinuation), payload.substr(13), Key{9, 8, 7, 6}) +
                              client_frame(header(Opcode::kBinary), payload, key);
    expect_any_chunking(bytes, {message(Opcode::kBinary, payload), message(Opcode::kBinary, payload)});
  }
}

TEST(FrameParserTest, AWholeMessageInOneFeedIsNotCopied) {
  std::string bytes = client_frame(header(Opcode::kText), "in place");
  FrameParser parser;
  MutableBytes input{bytes.data(), bytes.size()};
  const FrameEvent e = parser.feed(input);
  ASSERT_EQ(e.kind, Kind::kMessage);
  EXPECT_EQ(e.data, "in place");
  EXPECT_EQ(e.data.data(), bytes.data() + 6);  // unmasked where it was read
  EXPECT_TRUE(input.empty());
  EXPECT_EQ(parser.buffered_bytes(), 0u);
}

TEST(FrameParserTest, EmptyInputAndPartialHeadersReportNothing) {
  FrameParser parser;
  MutableBytes none{nullptr, 0};
  EXPECT_EQ(parser.feed(none).kind, Kind::kNone);
  std::string bytes = client_frame(header(Opcode::kText), std::string(70'000, 'x'));
  for (std::size_t i = 0; i < 14; ++i) {  // the whole 14-byte header, one byte at a time
    MutableBytes one{bytes.data() + i, 1};
    EXPECT_EQ(parser.feed(one).kind, Kind::kNone);
    EXPECT_TRUE(one.empty());
  }
  EXPECT_FALSE(parser.closed());
}

// ---- Fragmentation and control frames (RFC 6455 §5.4, §5.5) ----

TEST(FrameParserTest, ReassemblesFragmentsWithControlFramesBetween) {
  const std::string bytes =
      client_frame(header(Opcode::kText, false), "Hel") + client_frame(header(Opcode::kPing), "p1") +
      client_frame(header(Opcode::kContinuation, false), "lo, ") + client_frame(header(Opcode::kPong), "") +
      client_frame(header(Opcode::kContinuation, false), "") +
      client_frame(header(Opcode::kPing), std::string(125, 'p')) +
      client_frame(header(Opcode::kContinuation), "world") + client_frame(header(Opcode::kBinary), "next");
  const std::vector<Event> expected = {control(Kind::kPing, Opcode::kPing, "p1"),
                                       control(Kind::kPong, Opcode::kPong, ""),
                                       control(Kind::kPing, Opcode::kPing, std::string(125, 'p')),
                                       message(Opcode::kText, "Hello, world"), message(Opcode::kBinary, "next")};
  expect_any_chunking(bytes, expected);
}

// Every way of cutting a stream of several messages into three pieces gives the same events.
TEST(FrameParserTest, EverySplitIntoThreePiecesGivesTheSameEvents) {
  const std::string bytes = client_frame(header(Opcode::kText, false), "ab\xE2\x82") +
                            client_frame(header(Opcode::kPing), "!") +
                            client_frame(header(Opcode::kContinuation),
                                         "\xAC"
                                         "cd",
                                         Key{5, 6, 7, 8}) +
                            client_frame(header(Opcode::kBinary), std::string(130, 'z')) +
                            client_frame(header(Opcode::kClose), close_body(1000, "bye"));
  const std::vector<Event> expected = {control(Kind::kPing, Opcode::kPing, "!"),
                                       message(Opcode::kText,
                                               "ab\xE2\x82\xAC"
                                               "cd"),
                                       message(Opcode::kBinary, std::string(130, 'z')),
                                       close_by_peer(1000, close_body(1000, "bye"))};
  ASSERT_EQ(parse_whole(bytes), expected);
  for (std::size_t i = 0; i <= bytes.size(); ++i) {
    for (std::size_t j = i; j <= bytes.size(); ++j) {
      FrameParser parser;
      ASSERT_EQ(parse(parser, bytes, {i, j - i}), expected) << "split at " << i << " and " << j;
    }
  }
}

TEST(FrameParserTest, ContinuationWithoutAStartAndDataInsideAMessageAreProtocolErrors) {
  expect_any_chunking(client_frame(header(Opcode::kContinuation), "a"),
                      {close_failure(1002, "continuation frame with no message in progress")});
  expect_any_chunking(client_frame(header(Opcode::kText, false), "a") + client_frame(header(Opcode::kBinary), "b"),
                      {close_failure(1002, "new data frame inside a fragmented message")});
}

TEST(FrameParserTest, HeaderRulesFailBeforeThePayload) {
  struct Case {
    std::uint8_t first;
    std::uint64_t length;
    const char* reason;
  };
  const Case cases[] = {
      {0xC1, 5, "reserved bits set"},
      {0xA1, 5, "reserved bits set"},
      {0x91, 5, "reserved bits set"},
      {0x83, 5, "reserved opcode"},
      {0x0F, 5, "reserved opcode"},
      {0x09, 5, "fragmented control frame"},
      {0x88, 126, "control frame payload over 125 bytes"},
  };
  for (const Case& c : cases) {
    // Only the header arrives: the verdict does not wait for the mask key or the payload.
    std::string bytes(1, static_cast<char>(c.first));
    bytes += length_field(c.length);
    FrameParser parser;
    MutableBytes input{bytes.data(), bytes.size()};
    const Event e = copy(parser.feed(input));
    EXPECT_EQ(e, close_failure(1002, c.reason)) << int{c.first};
    EXPECT_TRUE(parser.closed());
  }
}

TEST(FrameParserTest, ControlPayloadOf125BytesIsAcceptedAnd126IsNot) {
  expect_any_chunking(client_frame(header(Opcode::kPong), std::string(125, 'x')),
                      {control(Kind::kPong, Opcode::kPong, std::string(125, 'x'))});
  expect_any_chunking(client_frame(header(Opcode::kPing), std::string(126, 'x')),
                      {close_failure(1002, "control frame payload over 125 bytes")});
}

// ---- Framing rules only raw bytes show (§5.1, §5.2) ----

TEST(FrameParserTest, UnmaskedClientFrameIsAProtocolErrorAtItsSecondByte) {
  std::string bytes = "\x81" + length_field(5, LengthForm::kShortest, false) + "hello";
  FrameParser parser;
  MutableBytes input{bytes.data(), 2};
  EXPECT_EQ(copy(parser.feed(input)), close_failure(1002, "unmasked client frame"));
  for (LengthForm form : {LengthForm::k16, LengthForm::k64}) {
    std::string unmasked = "\x82" + length_field(70'000, form, false);
    expect_any_chunking(unmasked, {close_failure(1002, "unmasked client frame")});
  }
  // Control frames too.
  expect_any_chunking("\x89" + length_field(0, LengthForm::kShortest, false),
                      {close_failure(1002, "unmasked client frame")});
}

TEST(FrameParserTest, SixtyFourBitLengthWithTheTopBitSetIsAProtocolError) {
  for (std::uint64_t length : {std::uint64_t{1} << 63, ~std::uint64_t{0}}) {
    const std::string bytes = "\x82" + length_field(length, LengthForm::k64);  // no mask key, no payload
    expect_any_chunking(bytes, {close_failure(1002, "64-bit payload length with the top bit set")});
  }
  // 2^63 - 1 is a well-formed length, just far too big.
  expect_any_chunking("\x82" + length_field((std::uint64_t{1} << 63) - 1, LengthForm::k64),
                      {close_failure(1009, "message exceeds 1000000 bytes")});
}

TEST(FrameParserTest, LengthsMustUseTheirShortestForm) {
  const Event bad = close_failure(1002, "payload length not in its shortest form");
  // 16-bit form: 126 is its smallest length.
  expect_any_chunking(client_frame(0x81, std::string(125, 'a'), kKey, LengthForm::k16), {bad});
  expect_any_chunking(client_frame(0x81, "", kKey, LengthForm::k16), {bad});
  expect_any_chunking(client_frame(0x81, std::string(126, 'a'), kKey, LengthForm::k16),
                      {message(Opcode::kText, std::string(126, 'a'))});
  // 64-bit form: 65536 is its smallest length.
  expect_any_chunking(client_frame(0x82, std::string(65'535, 'a'), kKey, LengthForm::k64), {bad});
  expect_any_chunking(client_frame(0x82, std::string(5, 'a'), kKey, LengthForm::k64), {bad});
  expect_any_chunking(client_frame(0x82, std::string(65'536, 'a'), kKey, LengthForm::k64),
                      {message(Opcode::kBinary, std::string(65'536, 'a'))});
}

// ---- Limits: max_payload and max_ws_fragments ----

TEST(FrameParserTest, MessageOfExactlyMaxPayloadIsAcceptedWithDefaultLimits) {
  const std::string payload(Limits{}.max_payload, 'm');
  expect_any_chunking(client_frame(header(Opcode::kBinary), payload), {message(Opcode::kBinary, payload)});
  // Split over frames and feeds, the buffer holds the message and no more.
  const std::string fragmented = client_frame(header(Opcode::kText, false), payload.substr(0, 600'000)) +
                                 client_frame(header(Opcode::kContinuation), payload.substr(600'000));
  FrameParser parser;
  std::string bytes = fragmented;
  MutableBytes input{bytes.data(), bytes.size()};
  const FrameEvent e = parser.feed(input);
  ASSERT_EQ(e.kind, Kind::kMessage);
  EXPECT_EQ(e.data, payload);
  EXPECT_EQ(parser.buffer_capacity(), Limits{}.max_payload);
}

TEST(FrameParserTest, DeclaredLengthPastMaxPayloadIsTooBigAsSoonAsTheLengthArrives) {
  const std::string too_big = "message exceeds 1000000 bytes";
  for (std::uint64_t length : {std::uint64_t{1'000'001}, std::uint64_t{2} << 30, std::uint64_t{400'000'000}}) {
    // Only the 10 bytes up to the length: no mask key, no payload, and nothing buffered.
    std::string bytes = "\x82" + length_field(length);
    FrameParser parser;
    MutableBytes input{bytes.data(), bytes.size()};
    EXPECT_EQ(copy(parser.feed(input)), close_failure(1009, too_big)) << length;
    EXPECT_EQ(parser.buffered_bytes(), 0u);
    EXPECT_EQ(parser.buffer_capacity(), std::string().capacity());
  }
  // The limit counts the whole message: the second fragment's header already takes it past.
  FrameParser parser;
  std::string first = client_frame(header(Opcode::kBinary, false), std::string(600'000, 'a'));
  std::string second = "\x80" + length_field(400'001);
  EXPECT_EQ(parse(parser, first, {}), std::vector<Event>{});
  EXPECT_EQ(parser.buffered_bytes(), 600'000u);
  EXPECT_EQ(parse(parser, second, {}), std::vector<Event>{close_failure(1009, too_big)});
  EXPECT_EQ(parser.buffered_bytes(), 0u);  // the partial message is dropped at once
}

TEST(FrameParserTest, MaxPayloadAtAndPastTheLimitWithSmallLimits) {
  const Limits limits = small_limits(6);
  expect_any_chunking(client_frame(0x01, "abc") + client_frame(0x80, "def"), {message(Opcode::kText, "abcdef")},
                      limits);
  expect_any_chunking(client_frame(0x01, "abc") + client_frame(0x80, "defg"),
                      {close_failure(1009, "message exceeds 6 bytes")}, limits);
  // Control frames do not count against max_payload.
  expect_any_chunking(client_frame(0x89, "1234567"), {control(Kind::kPing, Opcode::kPing, "1234567")}, limits);
  expect_any_chunking(client_frame(0x82, ""), {message(Opcode::kBinary, "")}, small_limits(0));
  expect_any_chunking(client_frame(0x82, "x"), {close_failure(1009, "message exceeds 0 bytes")}, small_limits(0));
}

TEST(FrameParserTest, MemoryFollowsTheBytesReceivedNotTheLengthDeclared) {
  FrameParser parser;
  std::string bytes = client_frame(header(Opcode::kBinary), std::string(1'000'000, 'x'));
  MutableBytes input{bytes.data(), 14 + 10};  // the header and 10 bytes of a 1 MB frame
  EXPECT_EQ(parser.feed(input).kind, Kind::kNone);
  EXPECT_EQ(parser.buffered_bytes(), 10u);
  EXPECT_LT(parser.buffer_capacity(), 1'000u);
}

TEST(FrameParserTest, FragmentCountAtAndPastTheLimit) {
  const Limits limits = small_limits(1'000, 3);
  const std::string three = client_frame(0x01, "a") + client_frame(0x00, "b") + client_frame(0x80, "c");
  expect_any_chunking(three + three, {message(Opcode::kText, "abc"), message(Opcode::kText, "abc")}, limits);
  const std::string four =
      client_frame(0x01, "a") + client_frame(0x00, "b") + client_frame(0x00, "c") + client_frame(0x80, "d");
  expect_any_chunking(four, {close_failure(1009, "message exceeds 3 fragments")}, limits);
}

TEST(FrameParserTest, FragmentCountWithDefaultLimits) {
  auto fragments = [](std::uint32_t n) {
    std::string s = client_frame(0x02, "a");
    for (std::uint32_t i = 2; i < n; ++i) s += client_frame(0x00, "a");
    return s + client_frame(0x80, "a");
  };
  EXPECT_EQ(parse_whole(fragments(1'024)), std::vector<Event>{message(Opcode::kBinary, std::string(1'024, 'a'))});
  EXPECT_EQ(parse_whole(fragments(1'025)), std::vector<Event>{close_failure(1009, "message exceeds 1024 fragments")});
}

TEST(FrameParserTest, ALargeBufferIsFreedOnceItsMessageIsConsumed) {
  for (std::size_t size : {FrameParser::kRetainedBufferBytes, FrameParser::kRetainedBufferBytes + 1}) {
    FrameParser parser;
    // Split over two feed() calls, so the message is reassembled in the buffer.
    const std::string bytes = client_frame(header(Opcode::kBinary), std::string(size, 'b'));
    const std::vector<Event> events = parse(parser, bytes, {100});
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data.size(), size);
    EXPECT_GE(parser.buffer_capacity(), size);  // the delivered message is still readable
    // The next feed() (a ping) keeps the buffer up to the retained size, frees a larger one.
    EXPECT_EQ(parse(parser, client_frame(header(Opcode::kPing), ""), {}).size(), 1u);
    EXPECT_EQ(parser.buffered_bytes(), 0u);
    if (size <= FrameParser::kRetainedBufferBytes) {
      EXPECT_GE(parser.buffer_capacity(), size);
    } else {
      EXPECT_EQ(parser.buffer_capacity(), std::string().capacity());
    }
  }
}

TEST(FrameParserTest, ABufferedMessageStaysReadableUntilTheNextFeed) {
  FrameParser parser;
  std::string bytes = client_frame(0x01, "first ") + client_frame(0x80, "message") + client_frame(0x81, "second");
  MutableBytes input{bytes.data(), bytes.size()};
  const FrameEvent first = parser.feed(input);
  ASSERT_EQ(first.kind, Kind::kMessage);
  const std::string_view kept = first.data;
  EXPECT_EQ(kept, "first message");
  EXPECT_FALSE(input.empty());  // the second message waits for the next call
  const FrameEvent second = parser.feed(input);
  EXPECT_EQ(second.data, "second");
  EXPECT_TRUE(input.empty());
}

// ---- UTF-8 (§8.1) ----

TEST(FrameParserTest, InvalidUtf8FailsAtTheFirstBadByteBeforeTheRestArrives) {
  std::string bytes = client_frame(header(Opcode::kText), "ok\xFF" + std::string(1'000, 'a'));
  FrameParser parser;
  MutableBytes input{bytes.data(), 8 + 3};  // header (16-bit length) and "ok\xFF"
  EXPECT_EQ(copy(parser.feed(input)), close_failure(1007, "invalid UTF-8 in text message"));
  // Across fragments too: the first fragment's bad byte is enough.
  expect_any_chunking(client_frame(0x01, "\xE0\x80") + client_frame(0x80, "\x80"),
                      {close_failure(1007, "invalid UTF-8 in text message")});
}

TEST(FrameParserTest, CodePointsSplitAcrossFramesAndFeedsAreAccepted) {
  const std::string euro = "\xE2\x82\xAC";
  expect_any_chunking(client_frame(0x01, euro.substr(0, 1)) + client_frame(0x00, euro.substr(1, 1)) +
                          client_frame(0x80, euro.substr(2) + "\xF0\x9F\x98\x80"),
                      {message(Opcode::kText, euro + "\xF0\x9F\x98\x80")});
  expect_any_chunking(client_frame(0x81, "\xE2\x82"), {close_failure(1007, "invalid UTF-8 in text message")});
  expect_any_chunking(client_frame(0x81, "\xED\xA0\x80"), {close_failure(1007, "invalid UTF-8 in text message")});
  // Binary is not UTF-8 and need not be.
  expect_any_chunking(client_frame(0x82, "\xFF\xE2"), {message(Opcode::kBinary, "\xFF\xE2")});
}

// ---- Close handshake (§5.5.1, §7) ----

TEST(FrameParserTest, PeerCloseIsEchoedAndThenEverythingIsIgnored) {
  const std::string body = close_body(1001, "going away");
  std::string bytes = client_frame(header(Opcode::kClose), body) + client_frame(0x81, "late") + "\x81\x05";
  expect_any_chunking(bytes, {close_by_peer(1001, body)});

  FrameParser parser;
  MutableBytes input{bytes.data(), bytes.size()};
  EXPECT_EQ(copy(parser.feed(input)), close_by_peer(1001, body));
  EXPECT_TRUE(parser.closed());
  EXPECT_FALSE(input.empty());
  EXPECT_EQ(parser.feed(input).kind, Kind::kIgnore);  // dropped, all of it
  EXPECT_TRUE(input.empty());
  EXPECT_EQ(parser.feed(input).kind, Kind::kNone);
}

TEST(FrameParserTest, CloseBodies) {
  expect_any_chunking(client_frame(0x88, ""), {close_by_peer(1000, "")});
  expect_any_chunking(client_frame(0x88, close_body(4999, std::string(123, 'r'))),
                      {close_by_peer(4999, close_body(4999, std::string(123, 'r')))});
  expect_any_chunking(client_frame(0x88, "\x03"), {close_failure(1002, "close payload of 1 byte")});
  for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    expect_any_chunking(client_frame(0x88, close_body(code)), {close_failure(1002, "invalid close code")});
  }
  expect_any_chunking(client_frame(0x88, close_body(1000, "\xFF")),
                      {close_failure(1007, "invalid UTF-8 in close reason")});
}

TEST(FrameParserTest, CloseInsideAFragmentedMessageDropsTheMessage) {
  FrameParser parser;
  const std::vector<Event> events =
      parse(parser, client_frame(0x02, std::string(5'000, 'a')) + client_frame(0x88, close_body(1000)), {});
  EXPECT_EQ(events, std::vector<Event>{close_by_peer(1000, close_body(1000))});
  EXPECT_EQ(parser.buffered_bytes(), 0u);
  EXPECT_EQ(parser.buffer_capacity(), std::string().capacity());
}

TEST(FrameParserTest, FailureReasonsFitACloseFrame) {
  for (const std::string& bytes : {std::string("\x82") + length_field(std::uint64_t{1} << 62), std::string("\x81\x05"),
                                   client_frame(0x81, "\xFF"), client_frame(0x88, close_body(1000, "\xC0"))}) {
    const std::vector<Event> events = parse_whole(bytes);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, Kind::kClose);
    EXPECT_LE(events[0].reason.size(), kMaxCloseReason);
    EXPECT_TRUE(utf8::is_valid(events[0].reason));
    EXPECT_TRUE(is_valid_close_code(events[0].close_code));
  }
}

// The parser and FrameChecker::on_frame (fed the same frames, already unmasked) agree.
TEST(FrameParserTest, AgreesWithTheFrameChecker) {
  std::mt19937 rng(42);
  const std::uint8_t headers[] = {0x01, 0x81, 0x02, 0x82, 0x00, 0x80, 0x89, 0x8A, 0x88, 0xC1, 0x83, 0x09};
  const std::string payloads[] = {
      "", "a", "\xE2\x82", "\xAC", "\xFF", std::string(3, 'x'), close_body(1000), close_body(1005)};
  for (int run = 0; run < 2'000; ++run) {
    const Limits limits = small_limits(rng() % 12, 1 + rng() % 4);
    FrameChecker checker(limits);
    std::vector<Event> expected;
    std::string bytes;
    for (int i = 0; i < 6; ++i) {
      const std::uint8_t h = headers[rng() % std::size(headers)];
      const std::string& payload = payloads[rng() % std::size(payloads)];
      bytes += client_frame(h, payload, Key{static_cast<std::uint8_t>(rng()), 1, 2, 3});
      const FrameResult r = checker.on_frame(h, payload);
      if (r.kind == Kind::kNone || r.kind == Kind::kIgnore) continue;
      expected.push_back(Event{r.kind, r.opcode, r.data, r.close_code, r.reason, r.peer_initiated});
    }
    ASSERT_EQ(parse_randomly(bytes, run, limits), expected) << "run " << run;
  }
}

}  // namespace
}  // namespace chorus::websocket
