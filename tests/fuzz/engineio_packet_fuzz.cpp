// Fuzz target: chorus::engineio::decode_text (and parse_handshake on OPEN data).
//
// Invariants: decode_text accepts exactly what the Engine.IO v4 text form allows ('0'..'6'
// followed by UTF-8 text, or 'b' followed by valid base64); a text packet re-encodes to the
// same bytes; encode_text/decode_text round-trip every packet, binary ones included; an
// accepted handshake re-encodes and re-parses equal.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chorus/base64.h"
#include "chorus/engineio/packet.h"
#include "chorus/utf8.h"
#include "fuzz_util.h"

namespace {

namespace eio = chorus::engineio;

void check_round_trip(const eio::Packet& packet) {
  std::string encoded = "#";
  eio::encode_text(packet, encoded);
  CHORUS_FUZZ_CHECK(encoded.substr(1) == eio::encode_text(packet));
  auto again = eio::decode_text(std::string_view(encoded).substr(1));
  CHORUS_FUZZ_CHECK(again.ok());
  CHORUS_FUZZ_CHECK(again.value() == packet);
}

void check_handshake(std::string_view json) {
  auto handshake = eio::parse_handshake(json);
  if (!handshake.ok()) return;
  std::string encoded = eio::encode_handshake(handshake.value());
  CHORUS_FUZZ_CHECK(chorus::utf8::is_valid(encoded));
  auto again = eio::parse_handshake(encoded);
  CHORUS_FUZZ_CHECK(again.ok());
  CHORUS_FUZZ_CHECK(again.value() == handshake.value());
  CHORUS_FUZZ_CHECK(eio::encode_handshake(again.value()) == encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = chorus::fuzz::as_view(data, size);

  auto packet = eio::decode_text(input);
  if (input.empty()) {
    CHORUS_FUZZ_CHECK(!packet.ok());
  } else if (input[0] >= '0' && input[0] <= '6') {
    CHORUS_FUZZ_CHECK(packet.ok() == chorus::utf8::is_valid(input));
  } else if (input[0] == 'b') {
    CHORUS_FUZZ_CHECK(packet.ok() == chorus::base64::decode(input.substr(1)).ok());
  } else {
    CHORUS_FUZZ_CHECK(!packet.ok());
  }

  if (packet.ok()) {
    const eio::Packet& p = packet.value();
    if (p.binary) {
      CHORUS_FUZZ_CHECK(input[0] == 'b');
      CHORUS_FUZZ_CHECK(p.type == eio::PacketType::kMessage);
      CHORUS_FUZZ_CHECK(p.data == chorus::base64::decode(input.substr(1)).value());
    } else {
      CHORUS_FUZZ_CHECK(static_cast<int>(p.type) == input[0] - '0');
      CHORUS_FUZZ_CHECK(p.data == input.substr(1));
      CHORUS_FUZZ_CHECK(eio::encode_text(p) == input);
    }
    CHORUS_FUZZ_CHECK(eio::to_string(p.type) != nullptr);
    check_round_trip(p);
    if (p.type == eio::PacketType::kOpen && !p.binary) check_handshake(p.data);
  }

  // The same bytes as a WebSocket binary frame, sent on through the polling form.
  eio::Packet binary = eio::decode_binary(input);
  CHORUS_FUZZ_CHECK(binary.binary && binary.type == eio::PacketType::kMessage && binary.data == input);
  check_round_trip(binary);

  // Also try the whole input as handshake JSON, so the parser sees more than '0'-prefixed text.
  check_handshake(input);
  return 0;
}
