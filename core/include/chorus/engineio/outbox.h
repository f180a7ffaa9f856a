// Engine.IO server side: what a session has to send, and how each transport carries it.
// Sans-I/O: the adapter pushes frames, asks for a polling payload, SSE events or the frames
// for its WebSocket, and writes them itself.
//
//  - A frame is encoded once and shared by every recipient of a broadcast (a text packet with
//    its Engine.IO type digit, then raw binary attachments).
//  - The queue is bounded (max_bytes): a volatile frame is queued only when the transport can
//    take it at once (nothing queued, and for polling a poll waiting); past the bound the
//    volatile frames queued are shed first, and if that is not enough the push fails with
//    kOverflow: the client is not reading, and the session ends ("transport error").
//  - Heartbeat PINGs bypass both rules (push_control).
//  - Polling (Engine.IO v4 payload): packets joined with 0x1E, binary as 'b' + base64; CLOSE
//    ends the payload of a closed session; an empty answer that must go out (upgrade, stop)
//    is a NOOP.
//  - SSE (Chorus's transport, README "Protocol: the SSE transport"): one event per packet,
//    `data:` lines split at LF; a packet holding CR travels as `event: b64` with base64 of
//    its text (an EventSource turns CR into LF); binary as 'b' + base64, as in polling.
//
// Thread-safety: none; the adapter serialises access per session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/util/ring_queue.h"

namespace chorus::engineio {

// One outbound unit: text parts carry their Engine.IO type digit ("42[...]", "2", "6");
// binary parts are raw attachment bytes.
struct OutFrame {
  struct Part {
    bool binary = false;
    std::string data;
  };
  std::vector<Part> parts;
  bool is_volatile = false;
  std::size_t bytes = 0;  // sum of the parts' sizes

  // A text packet, e.g. "2" or "40{...}".
  static std::shared_ptr<const OutFrame> text(std::string data, bool is_volatile = false);
};
using FramePtr = std::shared_ptr<const OutFrame>;

// Appends the SSE event carrying one Engine.IO packet (text, or binary as 'b' + base64).
void append_sse_event(std::string& out, bool binary, std::string_view data);

class Outbox {
 public:
  explicit Outbox(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  enum class Push : std::uint8_t {
    kQueued,
    kDropped,   // a volatile frame the transport could not take at once
    kOverflow,  // past max_bytes after shedding volatile frames: end the session
  };
  // `ready`: the transport can take a frame right now (for polling: a poll is waiting).
  Push push(FramePtr frame, bool ready);
  // A frame past every rule (heartbeat PING).
  void push_control(FramePtr frame);

  bool empty() const { return queue_.empty(); }
  std::size_t bytes() const { return bytes_; }
  std::size_t frames() const { return queue_.size(); }
  const FramePtr& front() const { return queue_.front(); }
  FramePtr pop();
  void clear();

  // Everything queued as one polling payload; then CLOSE when `closed`, or NOOP when nothing
  // else went in. Never empty.
  std::string take_payload(bool closed);
  // Queued frames as SSE events, while `out` is shorter than `max_out` bytes.
  void take_sse(std::string& out, std::size_t max_out);

 private:
  std::size_t max_bytes_;
  RingQueue<FramePtr> queue_;
  std::size_t bytes_ = 0;
};

}  // namespace chorus::engineio
