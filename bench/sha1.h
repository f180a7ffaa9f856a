// SHA-1 for the RFC 6455 §4.2.2 Sec-WebSocket-Accept check in the load generator, from
// OpenSSL (a well-kept library rather than a hand-written digest).
#pragma once

#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace chorus::bench {

inline std::array<std::uint8_t, 20> sha1(std::string_view data) {
  std::array<std::uint8_t, 20> out{};
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

}  // namespace chorus::bench
