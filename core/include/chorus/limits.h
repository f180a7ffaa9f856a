// Chorus protocol limits: one struct, shared by the server, the SDK and the tests.
//
// Defaults follow the Socket.IO v4 reference server where it has one (maxPayload,
// pingInterval, pingTimeout, upgradeTimeout, connectTimeout, maxAttachments); the rest are
// Chorus' own guards against hostile input. Every limit is listed in the README and has a
// test at the limit and one past it.
//
// Thread-safety: a plain value type; copy it freely.
#pragma once

#include <cstddef>
#include <cstdint>

namespace chorus {

struct Limits {
  // Engine.IO: largest HTTP body / WebSocket message accepted, in bytes (reference: 1e6).
  std::size_t max_payload = 1'000'000;
  // Engine.IO heartbeat, milliseconds (reference: 25000 / 20000).
  std::uint32_t ping_interval_ms = 25'000;
  std::uint32_t ping_timeout_ms = 20'000;
  // Engine.IO: time allowed for a transport upgrade (reference: 10000).
  std::uint32_t upgrade_timeout_ms = 10'000;
  // Socket.IO: time allowed for a namespace CONNECT after the Engine.IO handshake.
  std::uint32_t connect_timeout_ms = 45'000;
  // Socket.IO: binary attachments per packet (reference: 10).
  std::uint32_t max_attachments = 10;

  // JSON: deepest nesting of arrays/objects accepted (Chorus guard; RapidJSON's recursive
  // walks and our own must stay bounded).
  std::uint32_t max_json_depth = 128;
  // JSON: longest number literal, in characters, and most exponent digits (Chorus guard
  // against RapidJSON 1.1.0's exponent overflow, CVE-2024-38517).
  std::uint32_t max_number_length = 256;
  std::uint32_t max_exponent_digits = 4;

  // RFC 6455: most frames in one fragmented WebSocket message (Chorus guard).
  std::uint32_t max_ws_fragments = 1'024;
};

}  // namespace chorus
