// Streaming, sans-I/O RFC 6455 parser for the frames a server receives.
//
// The event loop reads raw bytes from a socket and hands them to feed() in whatever pieces
// the kernel returns; the parser reads headers incrementally, unmasks payload in place,
// reassembles fragmented messages as their bytes stream in and reports what to do: deliver a
// message, answer a ping, or close with a code. Every rule of FrameChecker applies (it runs
// them: RSV bits, reserved opcodes, control frame rules, fragment order, UTF-8 failing fast
// with 1007, close codes, max_payload and max_ws_fragments with 1009), plus the framing rules
// only raw bytes show (RFC 6455 §5.1, §5.2):
//  - a client frame without the MASK bit                       -> 1002, at its second byte
//  - a 64-bit length with the most significant bit set         -> 1002
//  - a length not in its shortest form (the 16-bit form for
//    < 126, the 64-bit form for < 65536)                       -> 1002
//  - a declared length that takes the message past
//    Limits::max_payload                                        -> 1009, as soon as the length
//    is read, before the mask key or any payload: nothing of it is buffered.
// Memory follows the bytes received, never the length declared: a frame declaring 1 MB and
// sending 10 bytes costs 10 bytes. Messages are held at most up to max_payload.
// After a kClose event the parser stays closed: feed() drops what it is given (kIgnore).
//
// Why hand-written rather than wslay (Debian's libwslay-dev): wslay_event_recv() pulls bytes
// through a recv callback and answers pings and closes on its own, where Chorus's core takes
// bytes in and hands results out (no callbacks, DESIGN §1); it copies every message into its
// own buffer, and wslay_event_queue_msg() copies every outgoing message per connection, which
// defeats encoding a broadcast once and writing the shared frame to each recipient;
// wslay_frame_recv() also pulls through a callback and hands payload back read-only from its
// own buffer. Either layer would still need FrameChecker for UTF-8 (1007), close codes and the
// fragment limit, and Debian ships wslay only as a native shared library, while core also
// builds to WebAssembly. What is left to write is the header state machine and unmasking.
//
// Thread-safety: one FrameParser per connection, used by one thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chorus/limits.h"
#include "chorus/websocket/frame_checker.h"

namespace chorus::websocket {

// Bytes read from a socket. feed() unmasks payload in place and advances `data`/`size` past
// what it consumed.
struct MutableBytes {
  char* data = nullptr;
  std::size_t size = 0;
  bool empty() const { return size == 0; }
};

// What one feed() call found. Views stay valid until the next feed() call on the same parser
// (and as long as the fed bytes, which a message's `data` may point into).
struct FrameEvent {
  using Kind = FrameResult::Kind;
  // kNone: the bytes were used up and nothing completed. kMessage, kPing, kPong, kClose: as in
  // FrameResult. kIgnore: bytes fed after a close, dropped.
  Kind kind = Kind::kNone;
  Opcode opcode = Opcode::kText;
  // The message (text already validated as UTF-8), the ping/pong payload, or for a
  // peer-initiated close the peer's raw Close payload.
  std::string_view data;
  std::uint16_t close_code = 0;
  std::string_view reason;  // for kClose: valid UTF-8, <= 123 bytes; empty when peer_initiated
  bool peer_initiated = false;
};

class FrameParser {
 public:
  // Longest client frame header: 2 bytes, 8 of extended length, 4 of mask key.
  static constexpr std::size_t kMaxHeaderSize = 14;
  // Reassembly buffer capacity kept between messages; a larger one (after a large fragmented
  // or split message) is freed once that message has been consumed, so an idle connection
  // holds at most this much.
  static constexpr std::size_t kRetainedBufferBytes = 16 * 1024;

  explicit FrameParser(const Limits& limits = Limits{});

  // Consumes bytes from the front of `input` until one event completes or `input` is empty,
  // and returns that event (kNone when the bytes ran out first). Call again while `input` is
  // not empty. Any chunking gives the same events. Never throws; allocates only when a
  // message spans several frames or several feed() calls (the buffer is reused).
  // A message whose single frame arrives within one feed() call is not copied: its `data`
  // points into `input`.
  FrameEvent feed(MutableBytes& input);

  bool closed() const { return checker_.closed(); }
  // Bytes held for the message in progress (or the last one delivered from the buffer, until
  // the next feed()); never above Limits::max_payload, 0 once closed.
  std::size_t buffered_bytes() const { return buffer_.size(); }
  std::size_t buffer_capacity() const { return buffer_.capacity(); }

 private:
  enum class State : std::uint8_t { kHeader, kPayload };

  bool header_byte(char byte, FrameEvent& event);
  bool start_frame(std::uint64_t length, FrameEvent& event);
  bool payload(MutableBytes& input, FrameEvent& event);
  bool finish_frame(std::string_view chunk, bool direct, FrameEvent& event);
  bool close_event(FrameResult&& result, FrameEvent& event);
  bool fail(std::uint16_t code, const char* reason, FrameEvent& event);
  void unmask(char* data, std::size_t size);
  void append(std::string_view chunk);

  std::size_t max_payload_;
  FrameChecker checker_;
  State state_ = State::kHeader;
  std::array<unsigned char, kMaxHeaderSize> header_{};
  std::size_t header_size_ = 0;  // bytes of the current header read so far
  std::size_t header_need_ = 2;  // its full size, once the second byte is known
  std::size_t extended_ = 0;     // extended length bytes: 0, 2 or 8
  bool control_ = false;
  bool whole_message_ = false;  // a data frame with FIN that starts a message
  std::uint64_t frame_length_ = 0;
  std::uint64_t remaining_ = 0;
  std::array<unsigned char, 4> mask_{};
  std::size_t mask_offset_ = 0;
  std::string control_payload_;  // <= 125 bytes (small ones need no allocation)
  std::string buffer_;           // a message spanning frames or feed() calls
  bool release_buffer_ = false;  // buffer_ was delivered: empty it at the next feed()
  std::string close_reason_;
};

}  // namespace chorus::websocket
