#include "chorus/websocket/frame_checker.h"

#include <utility>

namespace chorus::websocket {
namespace {

constexpr std::uint8_t kFinBit = 0x80;
constexpr std::uint8_t kRsvBits = 0x70;
constexpr std::uint8_t kOpcodeBits = 0x0F;
constexpr std::uint8_t kControlBit = 0x08;

bool is_known_opcode(std::uint8_t op) {
  switch (op) {
    case 0x0:
    case 0x1:
    case 0x2:
    case 0x8:
    case 0x9:
    case 0xA:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool is_valid_close_code(std::uint16_t code) {
  // RFC 6455 §7.4.1: 1004 is reserved and 1005/1006/1015 are local-only; the IANA
  // "WebSocket Close Code Number Registry" (§11.7) has since assigned 1012-1014, so those
  // are accepted. §7.4.2: 1016-2999 are reserved for future protocol use, 3000-4999 belong
  // to libraries/applications, everything else is invalid on the wire.
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

FrameChecker::FrameChecker(const Limits& limits)
    : max_payload_(limits.max_payload), max_ws_fragments_(limits.max_ws_fragments) {}

FrameResult FrameChecker::fail(std::uint16_t code, std::string reason) {
  closed_ = true;
  in_message_ = false;
  fragments_ = 0;
  message_bytes_ = 0;
  // Drop the partial message right away: the connection is going down and a hostile peer
  // should not pin up to max_payload bytes until the socket is finally released.
  std::string().swap(buffer_);
  utf8_.reset();
  FrameResult r;
  r.kind = FrameResult::Kind::kClose;
  r.opcode = Opcode::kClose;
  r.close_code = code;
  r.reason = std::move(reason);
  return r;
}

namespace {

FrameResult ignored() {
  FrameResult r;
  r.kind = FrameResult::Kind::kIgnore;
  return r;
}

}  // namespace

FrameResult FrameChecker::begin_frame(std::uint8_t header_byte, std::uint64_t length) {
  if (closed_) return ignored();
  const bool fin = (header_byte & kFinBit) != 0;
  const std::uint8_t op = header_byte & kOpcodeBits;

  // §5.2: a nonzero RSV bit without a negotiated extension fails the connection. Chorus
  // negotiates none (no permessage-deflate).
  if ((header_byte & kRsvBits) != 0) return fail(close_code::kProtocolError, "reserved bits set");
  // §5.2: opcodes 3-7 and 0xB-0xF are reserved.
  if (!is_known_opcode(op)) return fail(close_code::kProtocolError, "reserved opcode");
  frame_opcode_ = op;
  frame_fin_ = fin;

  if ((op & kControlBit) != 0) {
    // §5.5: control frames must not be fragmented and carry <= 125 bytes. §5.4 lets them
    // arrive between the fragments of a data message, so they leave the message state alone.
    if (!fin) return fail(close_code::kProtocolError, "fragmented control frame");
    if (length > kMaxControlPayload) {
      return fail(close_code::kProtocolError, "control frame payload over 125 bytes");
    }
    return FrameResult{};
  }

  // Data frames, §5.4.
  const bool continuation = op == 0x0;
  if (continuation && !in_message_) {
    return fail(close_code::kProtocolError, "continuation frame with no message in progress");
  }
  if (!continuation && in_message_) {
    return fail(close_code::kProtocolError, "new data frame inside a fragmented message");
  }
  if (!continuation) {
    message_opcode_ = static_cast<Opcode>(op);
    message_bytes_ = 0;
    fragments_ = 0;
    utf8_.reset();
  }

  // Limits are checked on the declared length, before any payload is taken, so nothing past
  // max_payload is ever buffered. Written as a subtraction because message_bytes_ <=
  // max_payload always holds, whereas the sum could overflow.
  if (fragments_ >= max_ws_fragments_) {
    return fail(close_code::kMessageTooBig, "message exceeds " + std::to_string(max_ws_fragments_) + " fragments");
  }
  if (length > max_payload_ - message_bytes_) {
    return fail(close_code::kMessageTooBig, "message exceeds " + std::to_string(max_payload_) + " bytes");
  }
  ++fragments_;
  message_bytes_ += length;
  return FrameResult{};
}

FrameResult FrameChecker::data(std::string_view chunk) {
  if (closed_) return ignored();
  // §8.1: text must be UTF-8. Validating each piece as it comes fails fast on a bad byte; a
  // code point may still be split across pieces and fragments, so completeness waits for FIN.
  if (message_opcode_ == Opcode::kText && !utf8_.feed(chunk)) {
    return fail(close_code::kInvalidPayload, "invalid UTF-8 in text message");
  }
  return FrameResult{};
}

FrameResult FrameChecker::end_data_frame() {
  if (closed_) return ignored();
  if (!frame_fin_) {
    in_message_ = true;
    return FrameResult{};
  }
  if (message_opcode_ == Opcode::kText && !utf8_.complete()) {
    return fail(close_code::kInvalidPayload, "invalid UTF-8 in text message");
  }
  FrameResult r;
  r.kind = FrameResult::Kind::kMessage;
  r.opcode = message_opcode_;
  in_message_ = false;
  fragments_ = 0;
  message_bytes_ = 0;
  utf8_.reset();
  return r;
}

FrameResult FrameChecker::control_frame(std::string_view payload) {
  if (closed_) return ignored();
  FrameResult r;
  r.opcode = static_cast<Opcode>(frame_opcode_);
  // Ping and pong leave `data` to the caller (on_frame copies it; FrameParser keeps its own
  // copy), so the streaming path allocates nothing per control frame.
  if (r.opcode == Opcode::kPing) {
    r.kind = FrameResult::Kind::kPing;  // §5.5.2: the Pong echoes the Ping's payload
    return r;
  }
  if (r.opcode == Opcode::kPong) {
    r.kind = FrameResult::Kind::kPong;
    return r;
  }
  // Close, §5.5.1: a body, if present, starts with a 2-byte big-endian status code.
  if (payload.size() == 1) return fail(close_code::kProtocolError, "close payload of 1 byte");
  std::uint16_t code = close_code::kNormal;  // no status given: answer 1000
  if (payload.size() >= 2) {
    code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                      static_cast<unsigned char>(payload[1]));
    if (!is_valid_close_code(code)) return fail(close_code::kProtocolError, "invalid close code");
    // §5.5.1: the reason is UTF-8; §8.1 makes invalid text a 1007 failure.
    if (!utf8::is_valid(payload.substr(2))) {
      return fail(close_code::kInvalidPayload, "invalid UTF-8 in close reason");
    }
  }
  // §5.5.1: answer the peer's Close, echoing its status code, then close.
  r = fail(code, std::string());
  r.data.assign(payload);
  r.peer_initiated = true;
  return r;
}

FrameResult FrameChecker::on_frame(std::uint8_t header_byte, std::string_view payload) {
  FrameResult r = begin_frame(header_byte, payload.size());
  if (r.kind != FrameResult::Kind::kNone) return r;
  if ((frame_opcode_ & kControlBit) != 0) {
    r = control_frame(payload);
    if (r.kind == FrameResult::Kind::kPing || r.kind == FrameResult::Kind::kPong) r.data.assign(payload);
    return r;
  }
  r = data(payload);
  if (r.kind != FrameResult::Kind::kNone) return r;
  buffer_.append(payload);
  r = end_data_frame();
  if (r.kind == FrameResult::Kind::kMessage) {
    r.data = std::move(buffer_);
    buffer_.clear();  // a moved-from string is valid but unspecified
  }
  return r;
}

}  // namespace chorus::websocket
