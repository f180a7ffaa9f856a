// Fuzz target: chorus::engineio::decode_payload (HTTP long-polling bodies).
//
// Input: byte 0 picks max_payload (0x00-0x7F: byte * 8, so 0..1016 bytes; 0x80-0xFF: the
// default); the rest is the body.
//
// Invariants: decode_payload is exactly "size within the limit, split on 0x1E, no empty item,
// every item decode_text()s" and returns those packets, never part of a payload;
// encode_payload round-trips what it accepted (and reproduces a body without binary items).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chorus/engineio/packet.h"
#include "chorus/limits.h"
#include "fuzz_util.h"

namespace {

namespace eio = chorus::engineio;

// What decode_payload must return, built from decode_text alone.
bool reference_decode(std::string_view body, const chorus::Limits& limits, std::vector<eio::Packet>& out) {
  if (body.empty() || body.size() > limits.max_payload) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t end = body.find(eio::kRecordSeparator, start);
    std::string_view item = body.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (item.empty()) return false;
    auto packet = eio::decode_text(item);
    if (!packet.ok()) return false;
    out.push_back(std::move(packet.value()));
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  chorus::fuzz::ByteReader reader(data, size);
  std::uint8_t config = reader.byte();
  std::string_view body = reader.take(reader.remaining());

  chorus::Limits limits;
  if (config < 0x80) limits.max_payload = std::size_t{config} * 8;

  std::vector<eio::Packet> expected;
  bool expect_ok = reference_decode(body, limits, expected);
  auto packets = eio::decode_payload(body, limits);
  CHORUS_FUZZ_CHECK(packets.ok() == expect_ok);
  if (!packets.ok()) return 0;
  CHORUS_FUZZ_CHECK(packets.value() == expected);

  bool any_binary = false;
  for (const eio::Packet& p : packets.value()) any_binary = any_binary || p.binary;

  std::string encoded = "#";
  eio::encode_payload(packets.value(), encoded);
  std::string_view payload = std::string_view(encoded).substr(1);
  if (!any_binary) CHORUS_FUZZ_CHECK(payload == body);

  // Re-encoded base64 may be longer than the input ("QQ" -> "QQ=="): decode with room.
  chorus::Limits roomy;
  roomy.max_payload = payload.size();
  auto again = eio::decode_payload(payload, roomy);
  CHORUS_FUZZ_CHECK(again.ok());
  CHORUS_FUZZ_CHECK(again.value() == packets.value());
  return 0;
}
