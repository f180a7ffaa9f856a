#include "chorus/collab/state_vector.h"

#include <algorithm>

#include "varint.h"

namespace chorus::collab {

Clock StateVector::get(ClientId client) const {
  auto it =
      std::lower_bound(entries_.begin(), entries_.end(), client, [](const auto& e, ClientId c) { return e.first < c; });
  return it != entries_.end() && it->first == client ? it->second : 0;
}

void StateVector::set(ClientId client, Clock clock) {
  auto it =
      std::lower_bound(entries_.begin(), entries_.end(), client, [](const auto& e, ClientId c) { return e.first < c; });
  if (it != entries_.end() && it->first == client) {
    if (clock == 0) {
      entries_.erase(it);
    } else {
      it->second = clock;
    }
  } else if (clock != 0) {
    entries_.insert(it, {client, clock});
  }
}

std::string StateVector::encode() const {
  std::string out;
  detail::put_varuint(out, entries_.size());
  for (const auto& [client, clock] : entries_) {
    detail::put_varuint(out, client);
    detail::put_varuint(out, clock);
  }
  return out;
}

Result<StateVector> StateVector::decode(std::string_view bytes) {
  detail::ByteReader r(bytes);
  StateVector sv;
  std::uint64_t n = r.varuint_max(r.remaining() / 2);
  if (!r.ok()) return make_error(ErrorCode::kInvalidPacket, "state vector: bad count");
  sv.entries_.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    ClientId client = r.varuint();
    auto clock = static_cast<Clock>(r.varuint_max(kMaxClock));
    if (!r.ok()) return make_error(ErrorCode::kInvalidPacket, "state vector: truncated");
    if (clock == 0) return make_error(ErrorCode::kInvalidPacket, "state vector: zero clock");
    if (!sv.entries_.empty() && client <= sv.entries_.back().first) {
      return make_error(ErrorCode::kInvalidPacket, "state vector: clients not ascending");
    }
    sv.entries_.emplace_back(client, clock);
  }
  if (!r.at_end()) return make_error(ErrorCode::kInvalidPacket, "state vector: trailing bytes");
  return sv;
}

}  // namespace chorus::collab
