// Fuzz target: chorus::websocket::FrameChecker against a model of RFC 6455.
//
// Input: byte 0 sets max_payload (byte * 3, or the default for 0xFF); byte 1 sets
// max_ws_fragments (1 + low nibble, or the default when bit 7 is set); then frames, each a
// header byte (FIN | RSV1-3 | opcode), a length byte and that many payload bytes.
//
// The model below is written from RFC 6455 and the rules in frame_checker.h. Every result
// must match it: same kind, same data; a failure closes with one of the codes the model
// allows (when a frame breaks several rules any of their codes will do), never with a code
// that may not be sent; nothing past max_payload is delivered; after kClose only kIgnore.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/limits.h"
#include "chorus/websocket/frame_checker.h"
#include "fuzz_util.h"

namespace {

namespace ws = chorus::websocket;
using Kind = ws::FrameResult::Kind;

bool reference_valid_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

struct Expected {
  Kind kind = Kind::kNone;
  std::vector<std::uint16_t> codes;  // allowed close codes for kClose
  std::string data;
  std::uint8_t opcode = 0;
  bool peer_initiated = false;
};

class Model {
 public:
  explicit Model(const chorus::Limits& limits) : limits_(limits) {}

  Expected on_frame(std::uint8_t header, std::string_view payload) {
    if (closed_) return Expected{Kind::kIgnore, {}, {}, 0, false};
    bool fin = (header & 0x80) != 0;
    std::uint8_t op = header & 0x0F;
    bool reserved_op = (op >= 3 && op <= 7) || op >= 0xB;
    if ((header & 0x70) != 0 || reserved_op) return fail({1002});

    if (op >= 0x8) {
      if (!fin || payload.size() > 125) return fail({1002});
      if (op == 0x9) return Expected{Kind::kPing, {}, std::string(payload), op, false};
      if (op == 0xA) return Expected{Kind::kPong, {}, std::string(payload), op, false};
      if (payload.size() == 1) return fail({1002});
      if (payload.empty()) return close_by_peer({1000});
      auto code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                             static_cast<std::uint8_t>(payload[1]));
      bool code_ok = reference_valid_close_code(code);
      bool reason_ok = chorus::fuzz::RefUtf8::is_valid(payload.substr(2));
      if (!code_ok && !reason_ok) return fail({1002, 1007});
      if (!code_ok) return fail({1002});
      if (!reason_ok) return fail({1007});
      return close_by_peer({code, 1000});
    }

    if (op == 0x0 && !in_message_) return fail({1002});
    if (op != 0x0 && in_message_) return fail({1002});
    if (op != 0x0) {
      opcode_ = op;
      frames_ = 0;
      buffer_.clear();
      utf8_ = chorus::fuzz::RefUtf8{};
    }
    std::vector<std::uint16_t> codes;
    if (frames_ + 1 > limits_.max_ws_fragments) codes.push_back(1009);
    if (buffer_.size() + payload.size() > limits_.max_payload) codes.push_back(1009);
    if (opcode_ == 0x1) {
      if (!utf8_.feed(payload) || (fin && !utf8_.complete())) codes.push_back(1007);
    }
    if (!codes.empty()) return fail(codes);
    ++frames_;
    buffer_.append(payload);
    if (!fin) {
      in_message_ = true;
      return Expected{Kind::kNone, {}, {}, 0, false};
    }
    in_message_ = false;
    Expected message{Kind::kMessage, {}, std::move(buffer_), opcode_, false};
    buffer_.clear();
    return message;
  }

 private:
  Expected fail(std::vector<std::uint16_t> codes) {
    closed_ = true;
    return Expected{Kind::kClose, std::move(codes), {}, 0x8, false};
  }
  Expected close_by_peer(std::vector<std::uint16_t> codes) {
    closed_ = true;
    return Expected{Kind::kClose, std::move(codes), {}, 0x8, true};
  }

  chorus::Limits limits_;
  bool closed_ = false;
  bool in_message_ = false;
  std::uint8_t opcode_ = 0x1;
  std::uint32_t frames_ = 0;
  std::string buffer_;
  chorus::fuzz::RefUtf8 utf8_;
};

bool contains(const std::vector<std::uint16_t>& codes, std::uint16_t code) {
  for (std::uint16_t c : codes) {
    if (c == code) return true;
  }
  return false;
}

void check_close_code_table() {
  static bool checked = false;
  if (checked) return;
  checked = true;
  for (std::uint32_t code = 0; code <= 0xFFFF; ++code) {
    auto c = static_cast<std::uint16_t>(code);
    CHORUS_FUZZ_CHECK(ws::is_valid_close_code(c) == reference_valid_close_code(c));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_close_code_table();

  chorus::fuzz::ByteReader reader(data, size);
  std::uint8_t payload_config = reader.byte();
  std::uint8_t fragments_config = reader.byte();
  chorus::Limits limits;
  if (payload_config != 0xFF) limits.max_payload = std::size_t{payload_config} * 3;
  if ((fragments_config & 0x80) == 0) limits.max_ws_fragments = 1 + (fragments_config & 0x0F);

  ws::FrameChecker checker(limits);
  Model model(limits);
  while (!reader.empty()) {
    std::uint8_t header = reader.byte();
    std::size_t length = reader.byte();
    std::string_view payload = reader.take(length);

    bool was_closed = checker.closed();
    Expected expected = model.on_frame(header, payload);
    ws::FrameResult result = checker.on_frame(header, payload);

    CHORUS_FUZZ_CHECK(result.kind == expected.kind);
    if (was_closed) CHORUS_FUZZ_CHECK(result.kind == Kind::kIgnore);
    switch (result.kind) {
      case Kind::kMessage:
        CHORUS_FUZZ_CHECK(result.data.size() <= limits.max_payload);
        CHORUS_FUZZ_CHECK(static_cast<std::uint8_t>(result.opcode) == expected.opcode);
        CHORUS_FUZZ_CHECK(result.data == expected.data);
        break;
      case Kind::kPing:
      case Kind::kPong:
        CHORUS_FUZZ_CHECK(result.data.size() <= 125);
        CHORUS_FUZZ_CHECK(result.data == expected.data);
        break;
      case Kind::kClose:
        CHORUS_FUZZ_CHECK(ws::is_valid_close_code(result.close_code));
        CHORUS_FUZZ_CHECK(contains(expected.codes, result.close_code));
        CHORUS_FUZZ_CHECK(result.peer_initiated == expected.peer_initiated);
        CHORUS_FUZZ_CHECK(result.reason.size() <= 123);
        CHORUS_FUZZ_CHECK(chorus::fuzz::RefUtf8::is_valid(result.reason));
        break;
      default:
        break;
    }
    CHORUS_FUZZ_CHECK(checker.closed() == (was_closed || result.kind == Kind::kClose));
  }
  return 0;
}
