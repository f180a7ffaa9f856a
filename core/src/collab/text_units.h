// Counting inside valid UTF-8: code points, UTF-16 units and bytes, and converting offsets
// between them. Internal to core/src/collab; inputs are validated before they get here.
#pragma once

#include <cstdint>
#include <string_view>

#include "chorus/collab/id.h"

namespace chorus::collab::detail {

inline std::uint32_t utf8_width(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}
inline std::uint32_t utf16_width(unsigned char lead) {
  return lead >= 0xF0 ? 2 : 1;
}

// Width of one character in `unit`, from its lead byte.
inline std::uint32_t unit_width(unsigned char lead, Unit unit) {
  switch (unit) {
    case Unit::kUtf16:
      return utf16_width(lead);
    case Unit::kCodePoint:
      return 1;
    case Unit::kUtf8:
      return utf8_width(lead);
  }
  return 1;
}

struct TextSize {
  std::uint64_t cp = 0;
  std::uint64_t u16 = 0;
  std::uint64_t u8 = 0;
};

inline TextSize measure(std::string_view text) {
  TextSize s;
  s.u8 = text.size();
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) {
      ++s.cp;
      s.u16 += c >= 0xF0 ? 2 : 1;
    }
  }
  return s;
}

// Byte offset of code point `k` in `text`.
inline std::uint32_t byte_offset(std::string_view text, std::uint32_t k) {
  std::uint32_t b = 0;
  while (k > 0) {
    b += utf8_width(static_cast<unsigned char>(text[b]));
    --k;
  }
  return b;
}

// Units taken by the first `k` code points of `text`.
inline std::uint64_t units_of_prefix(std::string_view text, std::uint32_t k, Unit unit) {
  if (unit == Unit::kCodePoint) return k;
  std::uint32_t b = 0;
  std::uint64_t u = 0;
  while (k > 0) {
    auto lead = static_cast<unsigned char>(text[b]);
    u += unit_width(lead, unit);
    b += utf8_width(lead);
    --k;
  }
  return u;
}

// The character of `text` holding unit `offset`: its code point index and the unit offset
// where it starts (offset - start > 0 means `offset` falls inside the character).
struct CharAt {
  std::uint32_t index = 0;
  std::uint64_t start = 0;
  std::uint32_t width = 1;
};

inline CharAt char_at(std::string_view text, std::uint64_t offset, Unit unit) {
  CharAt at;
  if (unit == Unit::kCodePoint) {
    at.index = static_cast<std::uint32_t>(offset);
    at.start = offset;
    return at;
  }
  std::uint32_t b = 0;
  std::uint64_t u = 0;
  for (;;) {
    auto lead = static_cast<unsigned char>(text[b]);
    std::uint32_t w = unit_width(lead, unit);
    if (offset < u + w) {
      at.start = u;
      at.width = w;
      return at;
    }
    u += w;
    b += utf8_width(lead);
    ++at.index;
  }
}

}  // namespace chorus::collab::detail
