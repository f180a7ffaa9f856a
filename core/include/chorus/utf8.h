// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF), usable
// in one shot or incrementally across WebSocket fragments (RFC 6455 §8.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace chorus::utf8 {

// True when `text` is complete, well-formed UTF-8.
bool is_valid(std::string_view text);

// Incremental validator: feed chunks, ask at the end whether the whole was complete.
class Validator {
 public:
  // False as soon as the bytes so far cannot be a prefix of valid UTF-8.
  bool feed(std::string_view chunk);
  // True when everything fed is valid and no code point is left unfinished.
  bool complete() const { return state_ == kAccept; }
  void reset() { state_ = kAccept; }

 private:
  static constexpr std::uint8_t kAccept = 0;
  static constexpr std::uint8_t kReject = 12;
  std::uint8_t state_ = kAccept;
};

// Number of UTF-16 code units `text` (valid UTF-8) occupies: what JavaScript's
// String.length reports.
std::size_t utf16_length(std::string_view text);

}  // namespace chorus::utf8
