#include "lz4.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace chorus::collab::detail {
namespace {

constexpr std::size_t kMinMatch = 4;
constexpr std::size_t kLastLiterals = 5;   // the block ends with at least this many literals
constexpr std::size_t kMatchSafeEnd = 12;  // no match starts this close to the end
constexpr std::size_t kMaxOffset = 65535;
constexpr int kHashBits = 15;

std::uint32_t read32(const unsigned char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

std::uint32_t hash4(const unsigned char* p) {
  return (read32(p) * 2654435761u) >> (32 - kHashBits);
}

void put_length(std::string& out, std::size_t extra) {
  while (extra >= 255) {
    out.push_back(static_cast<char>(255));
    extra -= 255;
  }
  out.push_back(static_cast<char>(extra));
}

void put_sequence(std::string& out, const unsigned char* literals, std::size_t nlit, std::size_t offset,
                  std::size_t match_len) {
  const std::size_t ml = match_len == 0 ? 0 : match_len - kMinMatch;
  std::uint8_t token = static_cast<std::uint8_t>((nlit < 15 ? nlit : 15) << 4);
  if (match_len != 0) token |= static_cast<std::uint8_t>(ml < 15 ? ml : 15);
  out.push_back(static_cast<char>(token));
  if (nlit >= 15) put_length(out, nlit - 15);
  out.append(reinterpret_cast<const char*>(literals), nlit);
  if (match_len == 0) return;  // the last sequence: literals only
  out.push_back(static_cast<char>(offset & 0xFF));
  out.push_back(static_cast<char>(offset >> 8));
  if (ml >= 15) put_length(out, ml - 15);
}

}  // namespace

std::string lz4_compress(std::string_view input, int max_attempts) {
  const auto* src = reinterpret_cast<const unsigned char*>(input.data());
  const std::size_t n = input.size();
  std::string out;
  out.reserve(n / 2 + 16);
  std::size_t anchor = 0;
  if (n > kMatchSafeEnd) {
    std::vector<std::int32_t> head(std::size_t{1} << kHashBits, -1);
    std::vector<std::int32_t> chain(n, -1);
    const std::size_t match_limit = n - kLastLiterals;  // matches end before the last literals
    const std::size_t last_start = n - kMatchSafeEnd;
    std::size_t inserted = 0;  // positions below this are in the chains
    auto insert_to = [&](std::size_t end) {
      for (; inserted < end; ++inserted) {
        const std::uint32_t h = hash4(src + inserted);
        chain[inserted] = head[h];
        head[h] = static_cast<std::int32_t>(inserted);
      }
    };
    // The longest earlier match for position i: {length, offset}.
    auto best_at = [&](std::size_t i) {
      insert_to(i);
      std::size_t best_len = 0, best_off = 0;
      const std::uint32_t first = read32(src + i);
      std::int32_t cand = head[hash4(src + i)];
      for (int attempts = 0; cand >= 0 && attempts < max_attempts; ++attempts, cand = chain[cand]) {
        const auto c = static_cast<std::size_t>(cand);
        if (i - c > kMaxOffset) break;
        if (read32(src + c) != first) continue;
        std::size_t len = kMinMatch;
        while (i + len < match_limit && src[c + len] == src[i + len]) ++len;
        if (len > best_len) {
          best_len = len;
          best_off = i - c;
          if (i + len >= match_limit) break;
        }
      }
      return std::make_pair(best_len, best_off);
    };
    for (std::size_t i = 0; i < last_start;) {
      auto [len, off] = best_at(i);
      if (len < kMinMatch) {
        ++i;
        continue;
      }
      // Lazy matching: a longer match one byte later is worth a literal.
      while (i + 1 < last_start) {
        auto [next_len, next_off] = best_at(i + 1);
        if (next_len <= len) break;
        ++i;
        len = next_len;
        off = next_off;
      }
      put_sequence(out, src + anchor, i - anchor, off, len);
      i += len;
      anchor = i;
    }
  }
  put_sequence(out, src + anchor, n - anchor, 0, 0);
  return out;
}

Result<std::string> lz4_decompress(std::string_view block, std::size_t size) {
  auto bad = [](const char* what) {
    return make_error(ErrorCode::kInvalidPacket, std::string("collab update: compressed body ") + what);
  };
  const auto* p = reinterpret_cast<const unsigned char*>(block.data());
  const auto* end = p + block.size();
  std::string out(size, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  std::size_t at = 0;
  auto read_length = [&](std::size_t& len) {
    for (;;) {
      if (p == end) return false;
      const std::uint8_t b = *p++;
      len += b;
      if (len > size) return false;  // larger than the whole output: invalid anyway
      if (b != 255) return true;
    }
  };
  for (;;) {
    if (p == end) return bad("truncated");
    const std::uint8_t token = *p++;
    std::size_t nlit = token >> 4;
    if (nlit == 15 && !read_length(nlit)) return bad("has a bad literal length");
    if (nlit > static_cast<std::size_t>(end - p) || nlit > size - at) return bad("has literals past its end");
    std::memcpy(dst + at, p, nlit);
    p += nlit;
    at += nlit;
    if (p == end) break;  // the last sequence has no match
    if (end - p < 2) return bad("truncated");
    const std::size_t offset = p[0] | (static_cast<std::size_t>(p[1]) << 8);
    p += 2;
    if (offset == 0 || offset > at) return bad("refers before its start");
    std::size_t len = token & 15;
    if (len == 15 && !read_length(len)) return bad("has a bad match length");
    len += kMinMatch;
    if (len > size - at) return bad("expands past its declared size");
    const unsigned char* from = dst + at - offset;
    if (offset >= len) {
      std::memcpy(dst + at, from, len);
    } else {  // the match overlaps the bytes it produces: byte by byte
      for (std::size_t k = 0; k < len; ++k) dst[at + k] = from[k];
    }
    at += len;
  }
  if (at != size) return bad("is shorter than its declared size");
  return out;
}

}  // namespace chorus::collab::detail
