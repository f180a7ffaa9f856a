// Helpers shared by the Chorus fuzz targets: an invariant check that aborts (so libFuzzer and
// the replay main both report it), and an iterative walk over chorus::Value (a recursive one
// would itself overflow the stack on the deep inputs the targets are looking for).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include "chorus/utf8.h"
#include "chorus/value.h"

#define CHORUS_FUZZ_CHECK(cond)                                                              \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

namespace chorus::fuzz {

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

struct ValueStats {
  std::size_t depth = 0;     // nested arrays/objects: 0 for a scalar, 1 for [] or {}
  std::size_t binaries = 0;  // Binary leaves
  bool all_finite = true;    // every number finite
  bool valid_utf8 = true;    // every string and object key valid UTF-8
};

inline ValueStats stats_of(const Value& root) {
  ValueStats stats;
  std::vector<std::pair<const Value*, std::size_t>> stack{{&root, 0}};
  while (!stack.empty()) {
    auto [value, depth] = stack.back();
    stack.pop_back();
    switch (value->type()) {
      case Value::Type::kNumber: {
        double n = value->as_number();
        if (!(n - n == 0)) stats.all_finite = false;
        break;
      }
      case Value::Type::kString:
        if (!utf8::is_valid(value->as_string())) stats.valid_utf8 = false;
        break;
      case Value::Type::kBinary:
        ++stats.binaries;
        break;
      case Value::Type::kArray:
        if (depth + 1 > stats.depth) stats.depth = depth + 1;
        for (const Value& item : value->as_array()) stack.emplace_back(&item, depth + 1);
        break;
      case Value::Type::kObject:
        if (depth + 1 > stats.depth) stats.depth = depth + 1;
        for (const Member& member : value->as_object()) {
          if (!utf8::is_valid(member.key)) stats.valid_utf8 = false;
          stack.emplace_back(&member.value, depth + 1);
        }
        break;
      default:
        break;
    }
  }
  return stats;
}

// Reference UTF-8 checker written from RFC 3629 §4's table, independent of chorus::utf8, so
// the targets can compare against it. Same contract as utf8::Validator.
class RefUtf8 {
 public:
  bool feed(std::string_view chunk) {
    for (char ch : chunk) {
      if (bad_) return false;
      auto c = static_cast<unsigned char>(ch);
      if (need_ == 0) {
        if (c < 0x80) continue;
        if (c >= 0xC2 && c <= 0xDF) {
          expect(1, 0x80, 0xBF);
        } else if (c == 0xE0) {
          expect(2, 0xA0, 0xBF);
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
          expect(2, 0x80, 0xBF);
        } else if (c == 0xED) {
          expect(2, 0x80, 0x9F);
        } else if (c == 0xF0) {
          expect(3, 0x90, 0xBF);
        } else if (c >= 0xF1 && c <= 0xF3) {
          expect(3, 0x80, 0xBF);
        } else if (c == 0xF4) {
          expect(3, 0x80, 0x8F);
        } else {
          bad_ = true;
        }
      } else if (c < lo_ || c > hi_) {
        bad_ = true;
      } else {
        expect(need_ - 1, 0x80, 0xBF);
      }
    }
    return !bad_;
  }
  bool complete() const { return !bad_ && need_ == 0; }

  static bool is_valid(std::string_view text) {
    RefUtf8 checker;
    return checker.feed(text) && checker.complete();
  }

 private:
  void expect(int need, unsigned char lo, unsigned char hi) {
    need_ = need;
    lo_ = lo;
    hi_ = hi;
  }

  int need_ = 0;
  unsigned char lo_ = 0x80;
  unsigned char hi_ = 0xBF;
  bool bad_ = false;
};

// Reads fuzzer bytes front to back; past the end it yields zeros / empty views.
class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  std::size_t remaining() const { return size_ - pos_; }
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::string_view take(std::size_t n) {
    if (n > remaining()) n = remaining();
    std::string_view out = as_view(data_ + pos_, n);
    pos_ += n;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace chorus::fuzz
