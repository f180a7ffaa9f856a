// RFC 6455 frame checker and message reassembler for the server adapter.
//
// CivetWeb 1.15 hands the WebSocket handler every frame as it arrives, valid or not, with
// the payload already unmasked: the first header byte (FIN, RSV1-3, opcode) and the payload.
// FrameChecker validates each frame against RFC 6455 and reassembles fragmented messages,
// returning what the adapter must do: deliver a message, answer a ping, or close with a code.
//
// Rules enforced (RFC 6455 §5.2, §5.4, §5.5, §7.4, §8.1):
//  - RSV1-3 must be 0 (no extension negotiated)               -> 1002
//  - opcodes 3-7 and 0xB-0xF are reserved                      -> 1002
//  - control frames: FIN set, payload <= 125 bytes             -> 1002
//  - continuation with no message in progress, or a new data
//    frame while one is in progress                            -> 1002
//  - text message not valid UTF-8 (checked per fragment, so a
//    bad byte fails fast)                                      -> 1007
//  - close payload of 1 byte, or a close code that may not be
//    sent on the wire (<1000, 1004-1006, 1015, 1016-2999, >=5000) -> 1002
//  - close reason not valid UTF-8                              -> 1007
//  - message larger than Limits::max_payload, or more than
//    Limits::max_ws_fragments frames                           -> 1009
// After a kClose result the checker stays closed: further frames yield kIgnore.
//
// The same rules also run frame by frame while a frame's bytes are still arriving (the
// streaming calls below): FrameParser (frame_parser.h) drives them from raw socket bytes, so
// both paths share one implementation of every rule.
//
// Thread-safety: one FrameChecker per connection, used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "chorus/limits.h"
#include "chorus/utf8.h"

namespace chorus::websocket {

enum class Opcode : std::uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// RFC 6455 §7.4.1 status codes Chorus sends.
namespace close_code {
constexpr std::uint16_t kNormal = 1000;
constexpr std::uint16_t kGoingAway = 1001;
constexpr std::uint16_t kProtocolError = 1002;
constexpr std::uint16_t kUnsupportedData = 1003;
constexpr std::uint16_t kNoStatus = 1005;  // never sent: "the peer gave no code"
constexpr std::uint16_t kInvalidPayload = 1007;
constexpr std::uint16_t kPolicyViolation = 1008;
constexpr std::uint16_t kMessageTooBig = 1009;
constexpr std::uint16_t kInternalError = 1011;
}  // namespace close_code

// RFC 6455 §5.5: control frames carry at most 125 payload bytes, so a Close reason (after the
// 2-byte code) at most 123.
constexpr std::size_t kMaxControlPayload = 125;
constexpr std::size_t kMaxCloseReason = kMaxControlPayload - 2;

// True when `code` may appear in a Close frame on the wire (RFC 6455 §7.4.1, §7.4.2).
bool is_valid_close_code(std::uint16_t code);

struct FrameResult {
  enum class Kind {
    kNone,     // fragment buffered; nothing to do yet
    kMessage,  // a complete text or binary message: `opcode`, `data`
    kPing,     // answer with a Pong carrying `data`
    kPong,     // unsolicited or answering pong; `data` is its payload
    kClose,    // send a Close frame with `close_code`/`reason`, then close the connection.
               // `peer_initiated` tells whether this echoes the peer's Close; if so,
               // `close_code` is the peer's code (1000 when it sent none), `reason` is
               // empty and `data` holds the peer's raw Close payload (for logging).
    kIgnore,   // frame after close; drop it
  };
  Kind kind = Kind::kNone;
  Opcode opcode = Opcode::kText;
  std::string data;  // message or control payload (moved out of the checker)
  std::uint16_t close_code = 0;
  std::string reason;  // for kClose: human-readable, valid UTF-8, <= 123 bytes
  bool peer_initiated = false;
};

class FrameChecker {
 public:
  explicit FrameChecker(const Limits& limits = Limits{});

  // `header_byte` is the first byte of the frame header (FIN | RSV1-3 | opcode); `payload`
  // the unmasked payload. Any size, any order: this never crashes or throws. Limits are
  // checked before a fragment is appended, so the checker never buffers past max_payload.
  FrameResult on_frame(std::uint8_t header_byte, std::string_view payload);

  // ---- Streaming use: the rules above, applied as a frame arrives, buffering nothing. ----
  // Per frame: begin_frame() as soon as the header's payload length is known; then, for a
  // data frame, data() for each piece of its payload (any split) and end_data_frame() after
  // the last piece; for a control frame, control_frame() with its whole payload (begin_frame
  // has bounded it to 125 bytes). The caller keeps the payload bytes.
  // Each call returns kClose on a violation (the checker is then closed), kIgnore once
  // closed, kNone otherwise, except: end_data_frame() returns kMessage (with `opcode` set and
  // `data` empty) when the frame completes a message, and control_frame() returns what
  // on_frame() would for that frame, except that a ping's or pong's `data` is left empty
  // (the caller holds the payload).

  // `length` is the declared payload length: a data frame that would take its message past
  // max_payload fails here (1009), before any of its payload arrives.
  FrameResult begin_frame(std::uint8_t header_byte, std::uint64_t length);
  // A piece of the current data frame's payload, unmasked: checks UTF-8 as it comes (1007).
  FrameResult data(std::string_view chunk);
  FrameResult end_data_frame();
  FrameResult control_frame(std::string_view payload);

  // Fails the connection for a violation the caller found (e.g. in the framing): the checker
  // closes and the kClose result carries `code` (one valid on the wire) and `reason`.
  FrameResult close(std::uint16_t code, std::string reason) { return fail(code, std::move(reason)); }

  bool closed() const { return closed_; }
  // Bytes of the fragmented message buffered so far by on_frame(); never above
  // Limits::max_payload, and 0 once closed.
  std::size_t buffered_bytes() const { return buffer_.size(); }
  // Payload bytes accepted so far into the message in progress (either API), counting the
  // declared length of a frame begun; never above Limits::max_payload.
  std::uint64_t message_bytes() const { return message_bytes_; }

 private:
  FrameResult fail(std::uint16_t code, std::string reason);

  std::size_t max_payload_;
  std::size_t max_ws_fragments_;
  bool in_message_ = false;
  bool closed_ = false;
  Opcode message_opcode_ = Opcode::kText;
  std::uint32_t fragments_ = 0;
  std::uint64_t message_bytes_ = 0;
  // The frame begun by begin_frame().
  std::uint8_t frame_opcode_ = 0;
  bool frame_fin_ = false;
  std::string buffer_;  // on_frame() only
  utf8::Validator utf8_;
};

}  // namespace chorus::websocket
