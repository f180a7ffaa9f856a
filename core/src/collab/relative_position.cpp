#include "chorus/collab/relative_position.h"

#include "varint.h"

namespace chorus::collab {

std::string RelativePosition::encode() const {
  std::string out;
  out.push_back(static_cast<char>(kind));
  if (kind == Kind::kItem) {
    detail::put_varuint(out, item.client);
    detail::put_varuint(out, item.clock);
    out.push_back(static_cast<char>(assoc));
  }
  return out;
}

Result<RelativePosition> RelativePosition::decode(std::string_view bytes) {
  detail::ByteReader r(bytes);
  RelativePosition rp;
  std::uint8_t kind = r.byte();
  if (!r.ok() || kind > 2) return make_error(ErrorCode::kInvalidPacket, "relative position: bad kind");
  rp.kind = static_cast<Kind>(kind);
  if (rp.kind == Kind::kItem) {
    rp.item.client = r.varuint();
    rp.item.clock = static_cast<Clock>(r.varuint_max(kMaxClock - 1));
    std::uint8_t assoc = r.byte();
    if (!r.ok() || assoc > 1) {
      return make_error(ErrorCode::kInvalidPacket, "relative position: truncated or bad assoc");
    }
    rp.assoc = static_cast<Assoc>(assoc);
  }
  if (!r.at_end()) return make_error(ErrorCode::kInvalidPacket, "relative position: trailing bytes");
  return rp;
}

}  // namespace chorus::collab
