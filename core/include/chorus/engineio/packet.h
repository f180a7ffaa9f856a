// Engine.IO protocol 4 packets and payloads.
//
// Wire forms (Engine.IO v4 spec, "Encoding"):
//  - text packet: one digit type ('0' open .. '6' noop) followed by the data;
//  - binary message over WebSocket: a binary frame holding the raw bytes, no type prefix;
//  - binary message inside an HTTP long-polling payload: 'b' + base64(bytes);
//  - polling payload: packets joined by the record separator 0x1E.
//
// Thread-safety: stateless functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/error.h"
#include "chorus/limits.h"

namespace chorus::engineio {

enum class PacketType : std::uint8_t {
  kOpen = 0,
  kClose = 1,
  kPing = 2,
  kPong = 3,
  kMessage = 4,
  kUpgrade = 5,
  kNoop = 6,
};

const char* to_string(PacketType type);

constexpr char kRecordSeparator = '\x1e';
constexpr int kProtocolVersion = 4;

struct Packet {
  PacketType type = PacketType::kMessage;
  std::string data;     // text, or raw bytes when `binary`
  bool binary = false;  // only meaningful for kMessage

  static Packet text(PacketType t, std::string d = {}) { return Packet{t, std::move(d), false}; }
  static Packet bytes(std::string d) { return Packet{PacketType::kMessage, std::move(d), true}; }
  friend bool operator==(const Packet& a, const Packet& b) {
    return a.type == b.type && a.data == b.data && a.binary == b.binary;
  }
};

// Decodes one text packet: a WebSocket text frame, or one item of a polling payload
// ('b'-prefixed base64 gives a binary message). Rejects empty input, unknown types and bad
// base64, and text that is not UTF-8.
Result<Packet> decode_text(std::string_view text);

// A WebSocket binary frame is a binary message.
inline Packet decode_binary(std::string_view bytes) {
  return Packet::bytes(std::string(bytes));
}

// Appends the text form of `packet` to `out` (binary messages as 'b' + base64, the polling
// form; over WebSocket send binary messages as binary frames with `packet.data` instead).
void encode_text(const Packet& packet, std::string& out);
std::string encode_text(const Packet& packet);

// Decodes an HTTP long-polling body. Rejects an empty body, empty items (a lone, leading,
// doubled or trailing 0x1E) and any bad item; never returns part of a payload. A body larger
// than limits.max_payload is rejected before it is split.
Result<std::vector<Packet>> decode_payload(std::string_view body, const Limits& limits = Limits{});

// Appends packets joined by 0x1E to `out`.
void encode_payload(const std::vector<Packet>& packets, std::string& out);

// The handshake object sent in the OPEN packet (Engine.IO v4 spec, "Handshake").
struct Handshake {
  std::string sid;
  std::vector<std::string> upgrades;
  std::uint32_t ping_interval_ms = 25'000;
  std::uint32_t ping_timeout_ms = 20'000;
  std::uint64_t max_payload = 1'000'000;
  friend bool operator==(const Handshake& a, const Handshake& b) {
    return a.sid == b.sid && a.upgrades == b.upgrades && a.ping_interval_ms == b.ping_interval_ms &&
           a.ping_timeout_ms == b.ping_timeout_ms && a.max_payload == b.max_payload;
  }
};

// {"sid":"…","upgrades":[…],"pingInterval":…,"pingTimeout":…,"maxPayload":…}
std::string encode_handshake(const Handshake& handshake);
// Parses the data of an OPEN packet; requires sid, upgrades, pingInterval, pingTimeout
// (maxPayload optional, as older servers omit it).
Result<Handshake> parse_handshake(std::string_view json, const Limits& limits = Limits{});

}  // namespace chorus::engineio
