#include "chorus/base64.h"

#include <array>

namespace chorus::base64 {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_reverse() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kReverse = make_reverse();

}  // namespace

void encode(std::string_view bytes, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  out.reserve(out.size() + (n + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    unsigned v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (n - i == 1) {
    unsigned v = p[i] << 16;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (n - i == 2) {
    unsigned v = (p[i] << 16) | (p[i + 1] << 8);
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
}

std::string encode(std::string_view bytes) {
  std::string out;
  encode(bytes, out);
  return out;
}

Result<std::string> decode(std::string_view text) {
  std::size_t n = text.size();
  std::size_t pad = 0;
  if (n >= 1 && text[n - 1] == '=') ++pad;
  if (n >= 2 && text[n - 2] == '=') ++pad;
  std::size_t body = n - pad;
  if (pad > 0 && n % 4 != 0) return make_error(ErrorCode::kInvalidPacket, "bad base64 padding");
  if (body % 4 == 1) return make_error(ErrorCode::kInvalidPacket, "bad base64 length");
  std::string out;
  out.reserve(body / 4 * 3 + 2);
  unsigned acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < body; ++i) {
    std::int8_t v = kReverse[static_cast<unsigned char>(text[i])];
    if (v < 0) return make_error(ErrorCode::kInvalidPacket, "invalid base64 character");
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // RFC 4648 §3.5: the unused low bits of the final group must be zero (canonical form).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return make_error(ErrorCode::kInvalidPacket, "non-canonical base64 (trailing bits set)");
  }
  return out;
}

}  // namespace chorus::base64
