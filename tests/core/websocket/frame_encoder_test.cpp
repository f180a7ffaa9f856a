#include "chorus/websocket/frame_encoder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "chorus/websocket/frame_parser.h"

namespace chorus::websocket {
namespace {

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

// What a client would send for this server frame: the MASK bit and a key added (§5.3), so the
// server-side parser can read it back.
std::string as_client_frame(std::string_view header, std::string_view payload) {
  const unsigned char key[4] = {0xA1, 0x02, 0xC3, 0x44};
  std::string s(header);
  s[1] = static_cast<char>(s[1] | 0x80);
  s.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    s.push_back(static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i % 4]));
  }
  return s;
}

TEST(FrameEncoderTest, HeaderUsesTheShortestLengthForm) {
  EXPECT_EQ(encode_frame_header(Opcode::kText, 0).view(), bytes({0x81, 0x00}));
  EXPECT_EQ(encode_frame_header(Opcode::kText, 125).view(), bytes({0x81, 125}));
  EXPECT_EQ(encode_frame_header(Opcode::kBinary, 126).view(), bytes({0x82, 126, 0x00, 126}));
  EXPECT_EQ(encode_frame_header(Opcode::kBinary, 65'535).view(), bytes({0x82, 126, 0xFF, 0xFF}));
  EXPECT_EQ(encode_frame_header(Opcode::kBinary, 65'536).view(), bytes({0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(encode_frame_header(Opcode::kText, (std::uint64_t{1} << 63) - 1).view(),
            bytes({0x81, 127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}));
  EXPECT_EQ(encode_frame_header(Opcode::kText, 5, false).view(), bytes({0x01, 5}));
  EXPECT_EQ(encode_frame_header(Opcode::kContinuation, 5).view(), bytes({0x80, 5}));
}

TEST(FrameEncoderTest, FramesThatMayNotBeSentEncodeToNothing) {
  EXPECT_EQ(encode_frame_header(Opcode::kText, std::uint64_t{1} << 63).size, 0u);
  EXPECT_EQ(encode_frame_header(Opcode::kPing, 126).size, 0u);
  EXPECT_EQ(encode_frame_header(Opcode::kPing, 125).size, 2u);
  EXPECT_EQ(encode_frame_header(Opcode::kClose, 0, false).size, 0u);
  EXPECT_EQ(encode_frame_header(static_cast<Opcode>(0x3), 1).size, 0u);
  EXPECT_EQ(encode_control_frame(Opcode::kText, "x").size, 0u);
  EXPECT_EQ(encode_control_frame(Opcode::kPong, std::string(126, 'p')).size, 0u);
}

TEST(FrameEncoderTest, ControlFrames) {
  EXPECT_EQ(encode_control_frame(Opcode::kPong, "abc").view(), bytes({0x8A, 3, 'a', 'b', 'c'}));
  EXPECT_EQ(encode_control_frame(Opcode::kPing, "").view(), bytes({0x89, 0}));
  const ControlFrame full = encode_control_frame(Opcode::kPong, std::string(125, 'p'));
  EXPECT_EQ(full.size, 127u);
  EXPECT_EQ(full.view(), bytes({0x8A, 125}) + std::string(125, 'p'));
}

TEST(FrameEncoderTest, CloseBodies) {
  EXPECT_EQ(encode_close_payload(1000).view(), bytes({0x03, 0xE8}));
  EXPECT_EQ(encode_close_payload(1009, "too big").view(), bytes({0x03, 0xF1}) + "too big");
  EXPECT_EQ(encode_close_frame(1002, "x").view(), bytes({0x88, 3, 0x03, 0xEA, 'x'}));
  // Codes that may not be sent give a Close without status.
  for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 2999, 5000}) {
    EXPECT_EQ(encode_close_payload(code, "reason").size, 0u) << code;
    EXPECT_EQ(encode_close_frame(code, "reason").view(), bytes({0x88, 0})) << code;
  }
}

TEST(FrameEncoderTest, CloseReasonIsCutAt123BytesOnACodePointBoundary) {
  const std::string at_limit(kMaxCloseReason, 'r');
  EXPECT_EQ(encode_close_payload(1000, at_limit).view().substr(2), at_limit);
  EXPECT_EQ(encode_close_payload(1000, at_limit + "s").view().substr(2), at_limit);
  EXPECT_EQ(encode_close_frame(1000, at_limit + "s").size, 127u);
  // "é" (2 bytes) at offsets 122-123 would be cut in half: it goes whole.
  const std::string accent = std::string(122, 'a') + "\xC3\xA9";
  EXPECT_EQ(encode_close_payload(1000, accent).view().substr(2), std::string(122, 'a'));
  // U+1F600 (4 bytes) at offsets 120-123.
  const std::string emoji = std::string(120, 'a') + "\xF0\x9F\x98\x80";
  EXPECT_EQ(encode_close_payload(1000, emoji).view().substr(2), std::string(120, 'a'));
  const std::string fits = std::string(119, 'a') + "\xF0\x9F\x98\x80";
  EXPECT_EQ(encode_close_payload(1000, fits).view().substr(2), fits);
  // A reason that is not UTF-8 is left out rather than sent for the peer to fail on.
  EXPECT_EQ(encode_close_payload(1000, "bad \xFF").view(), bytes({0x03, 0xE8}));
}

// Whatever the encoder writes, the parser reads back (once masked as a client would).
TEST(FrameEncoderTest, RoundTripsThroughTheParser) {
  for (std::size_t size : {0, 1, 125, 126, 65'535, 65'536, 100'000}) {
    const std::string payload(size, 'q');
    std::string wire = as_client_frame(encode_frame_header(Opcode::kBinary, size).view(), payload);
    FrameParser parser;
    MutableBytes input{wire.data(), wire.size()};
    const FrameEvent e = parser.feed(input);
    ASSERT_EQ(e.kind, FrameEvent::Kind::kMessage) << size;
    EXPECT_EQ(e.data, payload);
  }
  const ControlFrame close = encode_close_frame(1001, "bye");
  std::string wire = as_client_frame(close.view().substr(0, 2), close.view().substr(2));
  FrameParser parser;
  MutableBytes input{wire.data(), wire.size()};
  const FrameEvent e = parser.feed(input);
  EXPECT_EQ(e.kind, FrameEvent::Kind::kClose);
  EXPECT_TRUE(e.peer_initiated);
  EXPECT_EQ(e.close_code, 1001);
}

}  // namespace
}  // namespace chorus::websocket
