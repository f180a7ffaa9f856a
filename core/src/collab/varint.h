// LEB128 unsigned varints for the collab encodings, and a bounds-checked reader over
// untrusted bytes. Internal to core/src/collab.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chorus::collab::detail {

inline void put_varuint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Reads front to back; the first failure sticks (ok() turns false and every later read
// yields 0), so a decoder can read a whole record and check once.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes)
      : p_(reinterpret_cast<const unsigned char*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool ok() const { return ok_; }
  bool at_end() const { return p_ == end_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  void fail() {
    ok_ = false;
    p_ = end_;
  }

  std::uint8_t byte() {
    if (p_ == end_) {
      fail();
      return 0;
    }
    return *p_++;
  }

  // Rejects overlong encodings past 10 bytes and values above 2^64 - 1.
  std::uint64_t varuint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) {
        fail();
        return 0;
      }
      std::uint8_t b = *p_++;
      if (shift == 63 && b > 1) {
        fail();
        return 0;
      }
      value |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return value;
    }
    fail();
    return 0;
  }

  // A varuint no larger than `max`.
  std::uint64_t varuint_max(std::uint64_t max) {
    std::uint64_t v = varuint();
    if (v > max) {
      fail();
      return 0;
    }
    return v;
  }

  std::string_view bytes(std::size_t n) {
    if (n > remaining()) {
      fail();
      return {};
    }
    std::string_view out(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return out;
  }

 private:
  const unsigned char* p_;
  const unsigned char* end_;
  bool ok_ = true;
};

}  // namespace chorus::collab::detail
