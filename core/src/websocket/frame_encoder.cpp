#include "chorus/websocket/frame_encoder.h"

#include <cstring>

#include "chorus/utf8.h"

namespace chorus::websocket {
namespace {

bool is_control(Opcode opcode) {
  return (static_cast<std::uint8_t>(opcode) & 0x08) != 0;
}

bool is_known(Opcode opcode) {
  switch (opcode) {
    case Opcode::kContinuation:
    case Opcode::kText:
    case Opcode::kBinary:
    case Opcode::kClose:
    case Opcode::kPing:
    case Opcode::kPong:
      return true;
  }
  return false;
}

}  // namespace

FrameHeader encode_frame_header(Opcode opcode, std::uint64_t length, bool fin) {
  FrameHeader header;
  if (!is_known(opcode) || (length >> 63) != 0) return header;
  if (is_control(opcode) && (!fin || length > kMaxControlPayload)) return header;
  header.bytes[0] = static_cast<char>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(opcode));
  // §5.2: the shortest of the three length forms; the server never masks (§5.1).
  if (length <= 125) {
    header.bytes[1] = static_cast<char>(length);
    header.size = 2;
  } else if (length <= 0xFFFF) {
    header.bytes[1] = 126;
    header.bytes[2] = static_cast<char>(length >> 8);
    header.bytes[3] = static_cast<char>(length & 0xFF);
    header.size = 4;
  } else {
    header.bytes[1] = 127;
    for (int i = 0; i < 8; ++i) header.bytes[2 + i] = static_cast<char>((length >> (56 - 8 * i)) & 0xFF);
    header.size = 10;
  }
  return header;
}

ControlFrame encode_control_frame(Opcode opcode, std::string_view payload) {
  ControlFrame frame;
  if (!is_control(opcode)) return frame;
  const FrameHeader header = encode_frame_header(opcode, payload.size());
  if (header.size == 0) return frame;
  std::memcpy(frame.bytes.data(), header.bytes.data(), header.size);
  if (!payload.empty()) std::memcpy(frame.bytes.data() + header.size, payload.data(), payload.size());
  frame.size = header.size + payload.size();
  return frame;
}

ClosePayload encode_close_payload(std::uint16_t code, std::string_view reason) {
  ClosePayload body;
  if (!is_valid_close_code(code)) return body;
  body.bytes[0] = static_cast<char>(code >> 8);
  body.bytes[1] = static_cast<char>(code & 0xFF);
  body.size = 2;
  if (!utf8::is_valid(reason)) return body;
  if (reason.size() > kMaxCloseReason) {
    // Back off to the start of the code point the cut falls into: a UTF-8 continuation byte
    // is 10xxxxxx, and a code point has at most 3 of them.
    std::size_t cut = kMaxCloseReason;
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  if (!reason.empty()) std::memcpy(body.bytes.data() + 2, reason.data(), reason.size());
  body.size += reason.size();
  return body;
}

ControlFrame encode_close_frame(std::uint16_t code, std::string_view reason) {
  return encode_control_frame(Opcode::kClose, encode_close_payload(code, reason).view());
}

}  // namespace chorus::websocket
