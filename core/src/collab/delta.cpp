#include "chorus/collab/delta.h"

#include <string>
#include <utility>

#include "text_units.h"

namespace chorus::collab {

namespace {

// Byte offset in `text` (from `from`) after `units` UTF-16 units; npos when that falls past
// the end or inside a surrogate pair.
std::size_t advance_utf16(const std::string& text, std::size_t from, std::size_t units) {
  std::size_t b = from;
  while (units > 0) {
    if (b >= text.size()) return std::string::npos;
    auto lead = static_cast<unsigned char>(text[b]);
    std::uint32_t w = detail::utf16_width(lead);
    if (w > units) return std::string::npos;
    units -= w;
    b += detail::utf8_width(lead);
  }
  return b;
}

}  // namespace

bool apply_delta(std::string& text, const TextDelta& delta) {
  std::string out;
  out.reserve(text.size());
  std::size_t b = 0;
  for (const DeltaOp& op : delta) {
    switch (op.kind) {
      case DeltaOp::Kind::kRetain: {
        std::size_t e = advance_utf16(text, b, op.length);
        if (e == std::string::npos) return false;
        out.append(text, b, e - b);
        b = e;
        break;
      }
      case DeltaOp::Kind::kInsert:
        out.append(op.text);
        break;
      case DeltaOp::Kind::kDelete: {
        std::size_t e = advance_utf16(text, b, op.length);
        if (e == std::string::npos) return false;
        b = e;
        break;
      }
    }
  }
  out.append(text, b, std::string::npos);
  text = std::move(out);
  return true;
}

}  // namespace chorus::collab
