#include "chorus/websocket/frame_parser.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace chorus::websocket {
namespace {

constexpr unsigned char kMaskBit = 0x80;
constexpr unsigned char kLengthBits = 0x7F;
constexpr unsigned char kOpcodeBits = 0x0F;
constexpr unsigned char kFinBit = 0x80;
constexpr unsigned char kControlBit = 0x08;
constexpr std::size_t kMaskKeySize = 4;

}  // namespace

FrameParser::FrameParser(const Limits& limits) : max_payload_(limits.max_payload), checker_(limits) {}

FrameEvent FrameParser::feed(MutableBytes& input) {
  FrameEvent event;
  if (release_buffer_) {
    // The message delivered from buffer_ has been consumed: keep a small buffer for the next
    // one, but do not let one large message pin its memory on an idle connection.
    release_buffer_ = false;
    if (buffer_.capacity() > kRetainedBufferBytes) {
      std::string().swap(buffer_);
    } else {
      buffer_.clear();
    }
  }
  if (checker_.closed()) {
    if (!input.empty()) event.kind = FrameEvent::Kind::kIgnore;
    input.data += input.size;
    input.size = 0;
    return event;
  }
  while (!input.empty()) {
    if (state_ == State::kHeader) {
      const char byte = *input.data;
      ++input.data;
      --input.size;
      if (header_byte(byte, event)) return event;
    } else if (payload(input, event)) {
      return event;
    }
  }
  return event;
}

// Headers are at most 14 bytes: taking them one byte at a time keeps every check at the
// exact byte that decides it, whatever the chunking.
bool FrameParser::header_byte(char byte, FrameEvent& event) {
  header_[header_size_++] = static_cast<unsigned char>(byte);
  if (header_size_ == 2) {
    // §5.1: a server must fail the connection on a frame from the client that is not masked.
    if ((header_[1] & kMaskBit) == 0) return fail(close_code::kProtocolError, "unmasked client frame", event);
    const unsigned char length7 = header_[1] & kLengthBits;
    extended_ = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
    header_need_ = 2 + extended_ + kMaskKeySize;
    if (extended_ == 0 && start_frame(length7, event)) return true;
  } else if (extended_ != 0 && header_size_ == 2 + extended_) {
    std::uint64_t length = 0;
    for (std::size_t i = 2; i < header_size_; ++i) length = (length << 8) | header_[i];
    // §5.2: the 64-bit length's most significant bit must be 0, and "the minimal number of
    // bytes MUST be used to encode the length".
    if (extended_ == 8 && (length >> 63) != 0) {
      return fail(close_code::kProtocolError, "64-bit payload length with the top bit set", event);
    }
    if ((extended_ == 2 && length < 126) || (extended_ == 8 && length <= 0xFFFF)) {
      return fail(close_code::kProtocolError, "payload length not in its shortest form", event);
    }
    if (start_frame(length, event)) return true;
  }
  if (header_size_ < header_need_) return false;

  std::memcpy(mask_.data(), header_.data() + header_need_ - kMaskKeySize, kMaskKeySize);
  mask_offset_ = 0;
  header_size_ = 0;
  header_need_ = 2;
  control_payload_.clear();
  state_ = State::kPayload;
  // An empty frame is complete with its header: no payload byte will come to finish it.
  if (remaining_ == 0) return finish_frame(std::string_view(), whole_message_, event);
  return false;
}

// The length is known (the mask key may not be): every rule about the frame as a whole runs
// now, so a frame declaring too much fails before any of its payload is read.
bool FrameParser::start_frame(std::uint64_t length, FrameEvent& event) {
  FrameResult r = checker_.begin_frame(header_[0], length);
  if (r.kind != FrameResult::Kind::kNone) return close_event(std::move(r), event);
  const unsigned char op = header_[0] & kOpcodeBits;
  control_ = (op & kControlBit) != 0;
  whole_message_ = !control_ && op != 0x0 && (header_[0] & kFinBit) != 0;
  frame_length_ = length;
  remaining_ = length;
  return false;
}

bool FrameParser::payload(MutableBytes& input, FrameEvent& event) {
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size));
  char* chunk_data = input.data;
  input.data += n;
  input.size -= n;
  remaining_ -= n;
  unmask(chunk_data, n);
  const std::string_view chunk(chunk_data, n);

  bool direct = false;
  if (control_) {
    // begin_frame() bounded control payloads to 125 bytes.
    control_payload_.append(chunk.data(), n);
  } else {
    FrameResult r = checker_.data(chunk);
    if (r.kind != FrameResult::Kind::kNone) return close_event(std::move(r), event);
    if (whole_message_ && n == frame_length_) {
      direct = true;  // the whole message is in the caller's bytes: no copy
    } else {
      append(chunk);
    }
  }
  if (remaining_ != 0) return false;
  return finish_frame(chunk, direct, event);
}

// `direct` tells whether the message is `chunk` itself (a whole message in one piece, or an
// empty one) rather than buffer_.
bool FrameParser::finish_frame(std::string_view chunk, bool direct, FrameEvent& event) {
  state_ = State::kHeader;
  if (control_) {
    const std::string_view payload(control_payload_);
    FrameResult r = checker_.control_frame(payload);
    if (r.kind == FrameResult::Kind::kClose) return close_event(std::move(r), event);
    event.kind = r.kind;
    event.opcode = r.opcode;
    event.data = payload;
    return true;
  }
  FrameResult r = checker_.end_data_frame();
  if (r.kind == FrameResult::Kind::kClose) return close_event(std::move(r), event);
  if (r.kind != FrameResult::Kind::kMessage) return false;
  event.kind = FrameEvent::Kind::kMessage;
  event.opcode = r.opcode;
  if (direct) {
    event.data = chunk;
  } else {
    event.data = buffer_;
    release_buffer_ = true;
  }
  return true;
}

bool FrameParser::close_event(FrameResult&& result, FrameEvent& event) {
  // The connection is going down: do not keep a partial message alive until it is released.
  std::string().swap(buffer_);
  release_buffer_ = false;
  close_reason_ = std::move(result.reason);
  event.kind = FrameEvent::Kind::kClose;
  event.opcode = Opcode::kClose;
  event.close_code = result.close_code;
  event.reason = close_reason_;
  event.peer_initiated = result.peer_initiated;
  if (result.peer_initiated) event.data = std::string_view(control_payload_);
  return true;
}

bool FrameParser::fail(std::uint16_t code, const char* reason, FrameEvent& event) {
  return close_event(checker_.close(code, reason), event);
}

// §5.3: octet i of the payload is XORed with octet (i mod 4) of the mask key. Eight bytes at
// a time with a pattern rotated to where the previous piece stopped; memcpy keeps the word
// accesses aligned-safe and endianness-free.
void FrameParser::unmask(char* data, std::size_t size) {
  unsigned char key[8];
  for (std::size_t k = 0; k < 8; ++k) key[k] = mask_[(mask_offset_ + k) & 3];
  std::size_t i = 0;
  if (size >= 8) {
    std::uint64_t word_key;
    std::memcpy(&word_key, key, 8);
    for (; i + 8 <= size; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, data + i, 8);
      word ^= word_key;
      std::memcpy(data + i, &word, 8);
    }
  }
  for (; i < size; ++i) data[i] = static_cast<char>(static_cast<unsigned char>(data[i]) ^ key[i & 3]);
  mask_offset_ = (mask_offset_ + size) & 3;
}

// Grows geometrically, but never past max_payload: begin_frame() keeps the message within it,
// so a message at the limit costs the limit and no more.
void FrameParser::append(std::string_view chunk) {
  const std::size_t need = buffer_.size() + chunk.size();
  if (need > buffer_.capacity()) {
    std::size_t capacity = std::max(need, buffer_.capacity() * 2);
    capacity = std::min(capacity, std::max(need, max_payload_));
    // Not buffer_.reserve(): libstdc++ rounds a growing reserve up to twice the old capacity.
    std::string grown;
    grown.reserve(capacity);
    grown.append(buffer_);
    buffer_.swap(grown);
  }
  buffer_.append(chunk);
}

}  // namespace chorus::websocket
