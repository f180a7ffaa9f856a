// Connection state recovery bookkeeping (socketio/recovery.h).
#include "chorus/socketio/recovery.h"

#include <algorithm>

namespace chorus::socketio {

std::string RecoveryStore::format(Offset offset) {
  return std::to_string(offset);
}

std::optional<RecoveryStore::Offset> RecoveryStore::parse(std::string_view text) {
  // Decimal digits, no sign, no leading zero (unless "0"), at most 19 digits: what format()
  // writes, so that two spellings never name one packet.
  if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  Offset v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<Offset>(c - '0');
  }
  return v;
}

const char* RecoveryStore::describe(Refusal refusal) {
  switch (refusal) {
    case Refusal::kUnknownSession:
      return "no such session (expired, already restored, or never kept)";
    case Refusal::kExpired:
      return "session expired";
    case Refusal::kBadOffset:
      return "malformed offset";
    case Refusal::kOffsetGone:
      return "offset older than every packet kept";
    case Refusal::kTooMany:
      return "more missed packets than max_replayed_packets";
  }
  return "unknown";
}

void RecoveryStore::add(Offset offset, engineio::FramePtr frame, std::vector<std::string> rooms,
                        std::vector<std::string> except, std::uint64_t now_ms) {
  Packet p{offset, now_ms, std::move(frame), std::move(rooms), std::move(except)};
  // Reserved in order, added nearly in order (encoding happens in between): insert by offset.
  auto pos = packets_.end();
  while (pos != packets_.begin() && std::prev(pos)->offset > offset) --pos;
  packets_.insert(pos, std::move(p));
  while (packets_.size() > options_.max_stored_packets) packets_.pop_front();
}

void RecoveryStore::persist(Session session, std::uint64_t now_ms) {
  std::string pid = session.pid;
  sessions_[pid] = Kept{std::move(session), now_ms + options_.max_disconnection_ms};
}

const RecoveryStore::Session* RecoveryStore::find(const std::string& pid, std::uint64_t now_ms) const {
  auto it = sessions_.find(pid);
  if (it == sessions_.end() || now_ms >= it->second.expires_ms) return nullptr;
  return &it->second.session;
}

namespace {

bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

}  // namespace

RecoveryStore::Outcome RecoveryStore::restore(const std::string& pid, const std::optional<std::string>& offset,
                                              std::uint64_t now_ms) {
  Outcome out;
  auto it = sessions_.find(pid);
  if (it == sessions_.end()) {
    out.refusal = Refusal::kUnknownSession;
    return out;
  }
  Kept kept = std::move(it->second);
  sessions_.erase(it);  // restored at most once, whatever happens next
  if (now_ms >= kept.expires_ms) {
    out.refusal = Refusal::kExpired;
    return out;
  }
  Offset after = kept.session.connected_at;
  if (offset) {
    auto parsed = parse(*offset);
    if (!parsed || *parsed > last_) {
      out.refusal = Refusal::kBadOffset;
      return out;
    }
    after = *parsed;
  }
  // Every packet after `after` must still be here: the oldest kept must be at most after + 1,
  // unless nothing at all was sent since (then there is nothing to miss).
  if (after < last_ && (packets_.empty() || packets_.front().offset > after + 1)) {
    out.refusal = Refusal::kOffsetGone;
    return out;
  }
  const std::vector<std::string>& rooms = kept.session.rooms;
  Restored r;
  auto first =
      std::upper_bound(packets_.begin(), packets_.end(), after, [](Offset o, const Packet& p) { return o < p.offset; });
  for (auto p = first; p != packets_.end(); ++p) {
    bool included = p->rooms.empty() || std::any_of(rooms.begin(), rooms.end(),
                                                    [&](const std::string& room) { return contains(p->rooms, room); });
    bool excluded =
        std::any_of(rooms.begin(), rooms.end(), [&](const std::string& room) { return contains(p->except, room); });
    if (!included || excluded) continue;
    if (r.missed.size() == options_.max_replayed_packets) {
      out.refusal = Refusal::kTooMany;
      return out;
    }
    r.missed.push_back(p->frame);
  }
  r.session = std::move(kept.session);
  out.restored = std::move(r);
  return out;
}

void RecoveryStore::prune(std::uint64_t now_ms) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (now_ms >= it->second.expires_ms) {
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  while (!packets_.empty() && packets_.front().at_ms + options_.max_disconnection_ms <= now_ms) packets_.pop_front();
}

}  // namespace chorus::socketio
