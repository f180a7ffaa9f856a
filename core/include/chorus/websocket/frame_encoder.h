// RFC 6455 frames a server sends (§5.2): unmasked, shortest length encoding.
//
// The header is built apart from the payload so that one encoded payload can go to many
// connections: each writes its own 2-10 header bytes and the shared payload with one
// writev(), without copying the payload per recipient. Control frames (at most 127 bytes in
// all) are built whole.
//
// Nothing here allocates or throws; a request that cannot be encoded yields size 0.
// Thread-safety: pure functions on values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chorus/websocket/frame_checker.h"

namespace chorus::websocket {

// Longest server frame header: 2 bytes and 8 of extended length (no mask key).
constexpr std::size_t kMaxServerHeaderSize = 10;

template <std::size_t N>
struct FrameBytes {
  std::array<char, N> bytes{};
  std::size_t size = 0;  // 0: nothing could be encoded
  std::string_view view() const { return std::string_view(bytes.data(), size); }
};

using FrameHeader = FrameBytes<kMaxServerHeaderSize>;
using ClosePayload = FrameBytes<kMaxControlPayload>;
using ControlFrame = FrameBytes<2 + kMaxControlPayload>;

// The header of a frame with `length` payload bytes: 2 bytes up to 125, 4 up to 65535, else
// 10. Size 0 when the frame is not allowed: `length` of 2^63 or more (§5.2), or a control
// opcode with more than 125 bytes or without FIN (§5.5), or an opcode Chorus does not know.
FrameHeader encode_frame_header(Opcode opcode, std::uint64_t length, bool fin = true);

// A whole control frame (Close, Ping, Pong) with `payload`; size 0 for a data opcode or a
// payload over 125 bytes.
ControlFrame encode_control_frame(Opcode opcode, std::string_view payload);

// A Close body (§5.5.1): the 2-byte big-endian `code`, then `reason`. The reason is cut to
// 123 bytes at a code point boundary, and left out unless it is valid UTF-8 (§5.5.1 and §8.1
// make the peer fail on bad UTF-8). A code that may not be sent (is_valid_close_code() false,
// e.g. close_code::kNoStatus) gives an empty body: a Close without status, reason left out.
ClosePayload encode_close_payload(std::uint16_t code, std::string_view reason = {});

// A whole Close frame with encode_close_payload(code, reason) as its body.
ControlFrame encode_close_frame(std::uint16_t code, std::string_view reason = {});

}  // namespace chorus::websocket
