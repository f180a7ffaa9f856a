// Fuzz target: chorus::websocket::FrameParser on raw client bytes, against a reference decode.
//
// Input: byte 0 sets max_payload (byte * 3, or the default for 0xFF); byte 1 sets
// max_ws_fragments (1 + low nibble, or the default when bit 7 is set); byte 2 seeds the
// chunking; the rest is what a client sent.
//
// The same bytes are parsed three times: whole, one byte per feed() and in pseudo-random
// pieces. The three event lists must be identical (any chunking gives the same events), and
// must match a reference decoder written here from RFC 6455 that works on the whole buffer:
// same kinds, same data, close codes from the set the violated rules allow (a frame breaking
// several rules may be failed by any of them), detected at the same point of the stream. Also:
// nothing past max_payload is buffered or delivered, text is valid UTF-8, every close code
// may be sent and every reason fits a Close frame, after kClose only kIgnore, and the encoder
// writes a header for every delivered message that the parser would read back.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/limits.h"
#include "chorus/websocket/frame_encoder.h"
#include "chorus/websocket/frame_parser.h"
#include "fuzz_util.h"

namespace {

namespace ws = chorus::websocket;
using Kind = ws::FrameEvent::Kind;

struct Event {
  Kind kind = Kind::kNone;
  std::uint8_t opcode = 0;
  std::string data;
  std::uint16_t close_code = 0;
  std::string reason;
  bool peer_initiated = false;

  bool operator==(const Event& o) const {
    return kind == o.kind && opcode == o.opcode && data == o.data && close_code == o.close_code && reason == o.reason &&
           peer_initiated == o.peer_initiated;
  }
};

struct Expected {
  Kind kind = Kind::kNone;
  std::vector<std::uint16_t> codes;  // allowed close codes for kClose
  std::string data;
  std::uint8_t opcode = 0;
  bool peer_initiated = false;
};

bool reference_valid_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

// Decodes a whole buffer frame by frame, RFC 6455 §5 by the book. A frame cut short by the
// end of the buffer yields what the bytes present already decide: a header failure once the
// length is known, a UTF-8 failure in the payload present.
class Reference {
 public:
  explicit Reference(const chorus::Limits& limits) : limits_(limits) {}

  std::vector<Expected> decode(std::string_view wire) {
    std::vector<Expected> out;
    std::size_t pos = 0;
    while (!closed_ && wire.size() - pos >= 2) {
      const auto h0 = static_cast<std::uint8_t>(wire[pos]);
      const auto h1 = static_cast<std::uint8_t>(wire[pos + 1]);
      if ((h1 & 0x80) == 0) return fail(out, {1002});  // §5.1: client frames are masked
      const std::uint8_t length7 = h1 & 0x7F;
      const std::size_t extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
      if (wire.size() - pos < 2 + extended) break;
      std::uint64_t length = length7;
      if (extended != 0) {
        length = 0;
        for (std::size_t i = 0; i < extended; ++i)
          length = (length << 8) | static_cast<std::uint8_t>(wire[pos + 2 + i]);
      }
      const std::vector<std::uint16_t> codes = header_violations(h0, length, extended);
      if (!codes.empty()) return fail(out, codes);

      const bool fin = (h0 & 0x80) != 0;
      const std::uint8_t op = h0 & 0x0F;
      const bool control = op >= 0x8;
      if (!control) {
        if (op != 0x0) {
          opcode_ = op;
          frames_ = 0;
          bytes_ = 0;
          buffer_.clear();
          utf8_ = chorus::fuzz::RefUtf8{};
        }
        ++frames_;
        bytes_ += length;
      }
      const std::size_t header_size = 2 + extended + 4;
      if (wire.size() - pos < header_size) break;
      const std::size_t start = pos + header_size;
      const std::size_t present = static_cast<std::size_t>(std::min<std::uint64_t>(length, wire.size() - start));
      std::string payload(wire.substr(start, present));
      for (std::size_t i = 0; i < payload.size(); ++i) {
        payload[i] = static_cast<char>(static_cast<std::uint8_t>(payload[i]) ^
                                       static_cast<std::uint8_t>(wire[pos + 2 + extended + i % 4]));
      }
      if (!control && opcode_ == 0x1 && !utf8_.feed(payload)) return fail(out, {1007});
      if (present < length) break;
      pos = start + present;

      if (op == 0x9 || op == 0xA) {
        out.push_back(Expected{op == 0x9 ? Kind::kPing : Kind::kPong, {}, payload, op, false});
      } else if (op == 0x8) {
        if (payload.size() == 1) return fail(out, {1002});
        if (payload.empty()) return close_by_peer(out, 1000, payload);
        const auto code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                                     static_cast<std::uint8_t>(payload[1]));
        const bool code_ok = reference_valid_close_code(code);
        const bool reason_ok = chorus::fuzz::RefUtf8::is_valid(std::string_view(payload).substr(2));
        if (!code_ok && !reason_ok) return fail(out, {1002, 1007});
        if (!code_ok) return fail(out, {1002});
        if (!reason_ok) return fail(out, {1007});
        return close_by_peer(out, code, payload);
      } else {
        buffer_ += payload;
        if (!fin) {
          in_message_ = true;
          continue;
        }
        if (opcode_ == 0x1 && !utf8_.complete()) return fail(out, {1007});
        in_message_ = false;
        out.push_back(Expected{Kind::kMessage, {}, buffer_, opcode_, false});
        buffer_.clear();
      }
    }
    return out;
  }

 private:
  // Every rule a header with this first byte and length breaks, with its code.
  std::vector<std::uint16_t> header_violations(std::uint8_t h0, std::uint64_t length, std::size_t extended) const {
    std::vector<std::uint16_t> codes;
    // §5.2: the top bit of a 64-bit length is 0, and lengths use their shortest form.
    if (extended == 8 && (length >> 63) != 0) codes.push_back(1002);
    if ((extended == 2 && length < 126) || (extended == 8 && length < 65536)) codes.push_back(1002);
    const bool fin = (h0 & 0x80) != 0;
    const std::uint8_t op = h0 & 0x0F;
    if ((h0 & 0x70) != 0) codes.push_back(1002);
    if ((op >= 3 && op <= 7) || op >= 0xB) {
      codes.push_back(1002);
      return codes;
    }
    if (op >= 0x8) {
      if (!fin || length > 125) codes.push_back(1002);
      return codes;
    }
    if ((op == 0x0) != in_message_) {
      codes.push_back(1002);
      return codes;
    }
    const std::uint32_t frames = op == 0x0 ? frames_ : 0;
    const std::uint64_t bytes = op == 0x0 ? bytes_ : 0;
    if (frames + 1 > limits_.max_ws_fragments) codes.push_back(1009);
    if (length > limits_.max_payload || bytes + length > limits_.max_payload) codes.push_back(1009);
    return codes;
  }

  std::vector<Expected> fail(std::vector<Expected>& out, std::vector<std::uint16_t> codes) {
    closed_ = true;
    out.push_back(Expected{Kind::kClose, std::move(codes), {}, 0x8, false});
    return out;
  }
  std::vector<Expected> close_by_peer(std::vector<Expected>& out, std::uint16_t code, std::string payload) {
    closed_ = true;
    out.push_back(Expected{Kind::kClose, {code}, std::move(payload), 0x8, true});
    return out;
  }

  chorus::Limits limits_;
  bool closed_ = false;
  bool in_message_ = false;
  std::uint8_t opcode_ = 0x1;
  std::uint32_t frames_ = 0;
  std::uint64_t bytes_ = 0;
  std::string buffer_;
  chorus::fuzz::RefUtf8 utf8_;
};

void check_event(const ws::FrameEvent& e, const chorus::Limits& limits) {
  switch (e.kind) {
    case Kind::kMessage: {
      CHORUS_FUZZ_CHECK(e.data.size() <= limits.max_payload);
      CHORUS_FUZZ_CHECK(e.opcode == ws::Opcode::kText || e.opcode == ws::Opcode::kBinary);
      if (e.opcode == ws::Opcode::kText) CHORUS_FUZZ_CHECK(chorus::fuzz::RefUtf8::is_valid(e.data));
      // The encoder's header for this message, masked as a client would send it, reads back.
      const ws::FrameHeader header = ws::encode_frame_header(e.opcode, e.data.size());
      CHORUS_FUZZ_CHECK(header.size == (e.data.size() <= 125 ? 2u : e.data.size() <= 0xFFFF ? 4u : 10u));
      std::string wire(header.view());
      wire[1] = static_cast<char>(wire[1] | 0x80);
      wire.append(4, '\0');  // mask key 0: the payload goes as is
      wire.append(e.data);
      ws::FrameParser parser(limits);
      ws::MutableBytes input{wire.data(), wire.size()};
      const ws::FrameEvent back = parser.feed(input);
      CHORUS_FUZZ_CHECK(back.kind == Kind::kMessage && back.data == e.data && input.empty());
      break;
    }
    case Kind::kPing:
    case Kind::kPong:
      CHORUS_FUZZ_CHECK(e.data.size() <= ws::kMaxControlPayload);
      break;
    case Kind::kClose:
      CHORUS_FUZZ_CHECK(ws::is_valid_close_code(e.close_code));
      CHORUS_FUZZ_CHECK(e.reason.size() <= ws::kMaxCloseReason);
      CHORUS_FUZZ_CHECK(chorus::fuzz::RefUtf8::is_valid(e.reason));
      CHORUS_FUZZ_CHECK(ws::encode_close_frame(e.close_code, e.reason).size == 4 + e.reason.size());
      break;
    default:
      break;
  }
}

// Feeds `wire` in pieces of the given sizes (cycled; 0 = all at once), checking each event
// and the parser's memory as it goes; returns the events but kIgnore.
std::vector<Event> parse(std::string wire, const chorus::Limits& limits, const std::vector<std::size_t>& pieces) {
  ws::FrameParser parser(limits);
  std::vector<Event> events;
  bool closed = false;
  std::size_t pos = 0;
  for (std::size_t index = 0; pos < wire.size(); ++index) {
    std::size_t n = pieces.empty() ? wire.size() : pieces[index % pieces.size()];
    n = std::min(n, wire.size() - pos);
    ws::MutableBytes input{wire.data() + pos, n};
    while (!input.empty()) {
      const std::size_t before = input.size;
      const ws::FrameEvent e = parser.feed(input);
      CHORUS_FUZZ_CHECK(input.size < before || e.kind != Kind::kNone);  // progress
      CHORUS_FUZZ_CHECK(parser.buffered_bytes() <= limits.max_payload);
      CHORUS_FUZZ_CHECK(parser.buffer_capacity() <= std::max<std::size_t>(limits.max_payload, 32));
      if (closed) CHORUS_FUZZ_CHECK(e.kind == Kind::kIgnore);
      if (e.kind == Kind::kIgnore) CHORUS_FUZZ_CHECK(closed && input.empty());
      check_event(e, limits);
      if (e.kind == Kind::kClose) closed = true;
      CHORUS_FUZZ_CHECK(parser.closed() == closed);
      if (e.kind == Kind::kNone || e.kind == Kind::kIgnore) continue;
      events.push_back(Event{e.kind, static_cast<std::uint8_t>(e.opcode), std::string(e.data), e.close_code,
                             std::string(e.reason), e.peer_initiated});
    }
    pos += n;
  }
  return events;
}

bool contains(const std::vector<std::uint16_t>& codes, std::uint16_t code) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  chorus::fuzz::ByteReader reader(data, size);
  const std::uint8_t payload_config = reader.byte();
  const std::uint8_t fragments_config = reader.byte();
  const std::uint8_t chunk_seed = reader.byte();
  chorus::Limits limits;
  if (payload_config != 0xFF) limits.max_payload = std::size_t{payload_config} * 3;
  if ((fragments_config & 0x80) == 0) limits.max_ws_fragments = 1 + (fragments_config & 0x0F);
  const std::string wire(reader.take(reader.remaining()));

  // Pseudo-random piece sizes: up to 16 bytes (splitting headers and mask keys) or up to 4 KiB.
  std::vector<std::size_t> pieces;
  std::uint32_t state = 0x9E3779B9u ^ chunk_seed;
  const std::uint32_t span = (chunk_seed & 0x80) != 0 ? 4096 : 16;
  for (int i = 0; i < 61; ++i) {
    state = state * 1664525u + 1013904223u;
    pieces.push_back(1 + (state >> 8) % span);
  }

  const std::vector<Event> whole = parse(wire, limits, {});
  CHORUS_FUZZ_CHECK(parse(wire, limits, {1}) == whole);
  CHORUS_FUZZ_CHECK(parse(wire, limits, pieces) == whole);

  const std::vector<Expected> expected = Reference(limits).decode(wire);
  CHORUS_FUZZ_CHECK(whole.size() == expected.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    const Event& got = whole[i];
    const Expected& want = expected[i];
    CHORUS_FUZZ_CHECK(got.kind == want.kind);
    if (got.kind == Kind::kClose) {
      CHORUS_FUZZ_CHECK(contains(want.codes, got.close_code));
      CHORUS_FUZZ_CHECK(got.peer_initiated == want.peer_initiated);
      CHORUS_FUZZ_CHECK(got.data == want.data);
      CHORUS_FUZZ_CHECK(i + 1 == whole.size());
    } else {
      CHORUS_FUZZ_CHECK(got.opcode == want.opcode);
      CHORUS_FUZZ_CHECK(got.data == want.data);
    }
  }
  return 0;
}
