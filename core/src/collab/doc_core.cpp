#include "doc_core.h"

#include <algorithm>
#include <limits>

#include "chorus/utf8.h"
#include "sort.h"
#include "text_units.h"

namespace chorus::collab::detail {
namespace {

constexpr std::uint64_t kMaxArena = 0xFFFFFFFFu;

Error position_error(const char* what) {
  return make_error(ErrorCode::kProtocol, std::string("collab: ") + what);
}

// Units of `item` (visible or not) in `unit`.
std::uint64_t item_units(const Item& item, Unit unit) {
  switch (unit) {
    case Unit::kUtf16:
      return item.u16_len;
    case Unit::kCodePoint:
      return item.len;
    case Unit::kUtf8:
      return item.byte_len;
  }
  return item.len;
}

}  // namespace

DocCore::DocCore(ClientId client, DocOptions options) : options_(options), tree_(this) {
  self_ = intern(client);
}

ClientIndex DocCore::intern(ClientId id) {
  auto [it, inserted] = client_lookup_.emplace(id, static_cast<ClientIndex>(clients_.size()));
  if (inserted) {
    clients_.emplace_back();
    clients_.back().id = id;
  }
  return it->second;
}

ClientIndex DocCore::lookup(ClientId id) const {
  auto it = client_lookup_.find(id);
  return it == client_lookup_.end() ? kNoClient : it->second;
}

// ---- lookups ---------------------------------------------------------------------------

Cursor DocCore::find(LocalId id, std::uint32_t* offset) const {
  Leaf* leaf = tree_.leaf(clients_[id.client].index.find(id.clock));
  for (std::uint32_t i = 0; i < leaf->count; ++i) {
    const Item& item = leaf->items[i];
    if (item.contains(id.client, id.clock)) {
      *offset = id.clock - item.clock;
      return Cursor{leaf, i};
    }
  }
  return Cursor{};  // unreachable while the index is consistent
}

std::uint64_t DocCore::order_after(LocalId id) const {
  if (id.none()) return 0;
  std::uint32_t off = 0;
  Cursor at = find(id, &off);
  return tree_.prefix(at).all + off + 1;
}

std::uint64_t DocCore::order_of_right(LocalId id) const {
  if (id.none()) return std::numeric_limits<std::uint64_t>::max();
  std::uint32_t off = 0;
  Cursor at = find(id, &off);
  return tree_.prefix(at).all + off;
}

// ---- structural edits ------------------------------------------------------------------

Cursor DocCore::split(Cursor at, std::uint32_t offset) {
  Item& item = at.item();
  Item tail = item;
  std::uint32_t bytes = 0;
  std::uint32_t units = 0;
  if (!item.gone) {
    if (item.ascii()) {
      bytes = units = offset;
    } else {
      std::string_view text = content(item);
      bytes = byte_offset(text, offset);
      units = static_cast<std::uint32_t>(measure(text.substr(0, bytes)).u16);
    }
  }
  tail.clock += offset;
  tail.len -= offset;
  tail.byte_start += bytes;
  tail.byte_len -= bytes;
  tail.u16_len -= units;
  tail.origin_left = item.id_at(offset - 1);
  Weights before = item.weights();
  item.len = offset;
  item.byte_len = bytes;
  item.u16_len = units;
  Cursor placed;
  if (!tree_.full(at.leaf)) {
    // Head and tail stay in this leaf: its weight does not change.
    placed = tree_.insert_counted(Cursor{at.leaf, at.index + 1}, tail);
  } else {
    tree_.sub_weight(at.leaf, before - item.weights());
    placed = tree_.insert(Cursor{at.leaf, at.index + 1}, tail);
  }
  clients_[tail.client].index.insert(tail.clock, placed.leaf->number);
  return placed;
}

namespace {

// `b` continues tombstone `a` in every respect: one item can hold both.
bool tombstone_continues(const Item& a, const Item& b) {
  return a.deleted && b.deleted && a.client == b.client && a.clock + a.len == b.clock && b.origin_left == a.last_id() &&
         a.origin_right == b.origin_right && a.gone == b.gone && (a.gone || a.byte_start + a.byte_len == b.byte_start);
}

}  // namespace

Cursor DocCore::mark_deleted(Cursor at) {
  Item& item = at.item();
  if (item.deleted) return at;
  Weights before = item.weights();
  item.deleted = true;
  tree_.sub_weight(at.leaf, before - item.weights());
  // Characters deleted one by one (backspace, a selection deleted in parts) would otherwise
  // leave a tombstone item per character: join them back with their neighbours in the leaf.
  auto absorb = [this](Cursor left) {
    Item& a = left.item();
    const Item& b = left.leaf->items[left.index + 1];
    a.len += b.len;
    a.u16_len += b.u16_len;
    a.byte_len += b.byte_len;
    clients_[b.client].index.erase(b.clock);
    ContentTree::remove_in_leaf(Cursor{left.leaf, left.index + 1});
  };
  if (at.index > 0 && tombstone_continues(at.leaf->items[at.index - 1], at.item())) {
    at = Cursor{at.leaf, at.index - 1};
    absorb(at);
  }
  if (at.index + 1 < at.leaf->count && tombstone_continues(at.item(), at.leaf->items[at.index + 1])) {
    absorb(at);
  }
  return at;
}

LocalRange DocCore::shift_into_tombstone(Cursor at, std::uint32_t first, std::uint32_t count) {
  Item& live = at.item();
  if (live.deleted || !live.ascii() || count == 0 || count >= live.len) return LocalRange{live.client, 0, 0};
  Leaf* leaf = at.leaf;
  // What the leaf loses: `count` ASCII characters stop being visible and stay in the
  // document order (`all`).
  Weights hidden;
  hidden.cp = hidden.u16 = hidden.u8 = count;
  if (first + count == live.len && at.index + 1 < leaf->count) {
    Item& tomb = leaf->items[at.index + 1];
    if (tomb.deleted && !tomb.gone && tomb.client == live.client && live.clock + live.len == tomb.clock &&
        tomb.origin_left == live.last_id() && tomb.origin_right == live.origin_right &&
        live.byte_start + live.byte_len == tomb.byte_start) {
      live.len -= count;
      live.byte_len -= count;
      live.u16_len -= count;
      const Clock from = tomb.clock;
      tomb.clock -= count;
      tomb.len += count;
      tomb.byte_start -= count;
      tomb.byte_len += count;
      tomb.u16_len += count;
      tomb.origin_left = live.last_id();
      clients_[tomb.client].index.rekey(from, tomb.clock);
      tree_.sub_weight(leaf, hidden);
      return LocalRange{tomb.client, tomb.clock, count};
    }
  }
  if (first == 0 && at.index > 0) {
    Item& tomb = leaf->items[at.index - 1];
    if (tomb.deleted && !tomb.gone && tomb.client == live.client && tomb.clock + tomb.len == live.clock &&
        live.origin_left == tomb.last_id() && tomb.origin_right == live.origin_right &&
        tomb.byte_start + tomb.byte_len == live.byte_start) {
      const LocalRange deleted{live.client, live.clock, count};
      tomb.len += count;
      tomb.byte_len += count;
      tomb.u16_len += count;
      const Clock from = live.clock;
      live.clock += count;
      live.len -= count;
      live.byte_start += count;
      live.byte_len -= count;
      live.u16_len -= count;
      live.origin_left = tomb.last_id();
      clients_[live.client].index.rekey(from, live.clock);
      tree_.sub_weight(leaf, hidden);
      return deleted;
    }
  }
  return LocalRange{live.client, 0, 0};
}

Cursor DocCore::place(Cursor at, const Item& item) {
  Cursor before;
  if (at.index > 0) {
    before = Cursor{at.leaf, at.index - 1};
  } else if (at.leaf->prev) {
    before = Cursor{at.leaf->prev, at.leaf->prev->count - 1};
  }
  if (before.valid()) {
    Item& prev = before.item();
    // A client typing on: the new run continues the previous one in every respect, so one
    // item holds both (this keeps a typed document at a few items per edit burst).
    if (prev.client == item.client && prev.clock + prev.len == item.clock && item.origin_left == prev.last_id() &&
        prev.origin_right == item.origin_right && prev.deleted == item.deleted && prev.gone == item.gone &&
        (item.gone || prev.byte_start + prev.byte_len == item.byte_start)) {
      Weights w = prev.weights();
      prev.len += item.len;
      prev.u16_len += item.u16_len;
      prev.byte_len += item.byte_len;
      tree_.add_weight(before.leaf, prev.weights() - w);
      return before;
    }
  }
  Cursor placed = tree_.insert(at, item);
  clients_[item.client].index.insert(item.clock, placed.leaf->number);
  return placed;
}

Cursor DocCore::insert_local_after(Cursor left, std::uint32_t left_offset, bool at_start, std::string_view text,
                                   Clock len, std::uint32_t u16) {
  Item item;
  item.client = self_;
  item.clock = clients_[self_].next;
  item.len = len;
  item.u16_len = u16;
  item.byte_len = static_cast<std::uint32_t>(text.size());
  Cursor at;
  if (at_start) {
    at = tree_.begin();
    if (at.valid()) {
      item.origin_right = at.item().id_at(0);
    } else {
      at = tree_.end();
    }
  } else {
    const Item& l = left.item();
    item.origin_left = l.id_at(left_offset);
    if (left_offset + 1 < l.len) {
      item.origin_right = l.id_at(left_offset + 1);
      at = split(left, left_offset + 1);
    } else {
      Cursor r = ContentTree::next(left);
      if (r.valid()) item.origin_right = r.item().id_at(0);
      at = Cursor{left.leaf, left.index + 1};
    }
  }
  item.byte_start = static_cast<std::uint32_t>(arena_.size());
  arena_.append(text);
  Cursor placed = place(at, item);
  clients_[self_].next += len;
  record_inserted(self_, item.clock, len);
  return placed;
}

// FugueMax in list form (equivalent to Fugue's tree walk; same loop as diamond-types'
// "YjsMod"). Scan right from the left origin towards the right origin. Items whose left
// origin lies before ours end the scan (they are outside our parent's subtree); items whose
// left origin lies inside the scanned range belong to a subtree we pass over; siblings
// (same left origin) are ordered by their right origins, the one whose right origin comes
// later going first, and, for the same right origin, by client id.
void DocCore::integrate(Item item) {
  Cursor cur;
  std::uint32_t cur_off = 0;
  if (item.origin_left.none()) {
    cur = tree_.begin();
  } else {
    std::uint32_t off = 0;
    Cursor left = find(item.origin_left, &off);
    if (off + 1 < left.item().len) {
      cur = left;
      cur_off = off + 1;
    } else {
      cur = ContentTree::next(left);
    }
  }

  bool have_left_order = false;
  bool have_right_order = false;
  std::uint64_t left_order = 0;
  std::uint64_t right_order = 0;
  bool scanning = false;
  Cursor scan_start;
  std::uint32_t scan_off = 0;
  const ClientId my_client = clients_[item.client].id;

  while (cur.valid()) {
    const Item& o = cur.item();
    if (o.id_at(cur_off) == item.origin_right) break;
    LocalId o_left = cur_off > 0 ? o.id_at(cur_off - 1) : o.origin_left;
    if (o_left == item.origin_left) {
      if (o.origin_right == item.origin_right) {
        if (my_client < clients_[o.client].id) break;
        scanning = false;
      } else {
        if (!have_right_order) {
          right_order = order_of_right(item.origin_right);
          have_right_order = true;
        }
        if (order_of_right(o.origin_right) < right_order) {
          if (!scanning) {
            scanning = true;
            scan_start = cur;
            scan_off = cur_off;
          }
        } else {
          scanning = false;
        }
      }
    } else {
      if (!have_left_order) {
        left_order = order_after(item.origin_left);
        have_left_order = true;
      }
      if (order_after(o_left) < left_order) break;
    }
    cur = ContentTree::next(cur);
    cur_off = 0;
  }
  if (scanning) {
    cur = scan_start;
    cur_off = scan_off;
  }

  Cursor at;
  if (!cur.valid()) {
    at = tree_.end();
  } else if (cur_off > 0) {
    at = split(cur, cur_off);
  } else {
    at = cur;
  }
  place(at, item);
  if (!item.deleted) record_inserted(item.client, item.clock, item.len);
}

void DocCore::delete_known(ClientIndex c, Clock clock, Clock len, bool local, std::vector<LocalRange>* deleted) {
  while (len > 0) {
    std::uint32_t off = 0;
    Cursor cur = find(LocalId{c, clock}, &off);
    Clock n = std::min<Clock>(cur.item().len - off, len);
    if (!cur.item().deleted) {
      if (off > 0) cur = split(cur, off);
      if (n < cur.item().len) cur = ContentTree::prev(split(cur, n));
      mark_deleted(cur);
      record_deleted(c, clock, n);
      if (local) push_local_delete(LocalRange{c, clock, n});
      if (deleted) deleted->push_back(LocalRange{c, clock, n});
    }
    clock += n;
    len -= n;
  }
}

// ---- local edits -----------------------------------------------------------------------

Status DocCore::insert(std::uint64_t pos, std::string_view text, Unit unit) {
  if (!utf8::is_valid(text)) return make_error(ErrorCode::kInvalidUtf8, "collab: insert text is not UTF-8");
  if (text.empty()) {
    if (pos > length(unit)) return position_error("insert position past the end");
    return Ok{};
  }
  if (pos > length(unit)) return position_error("insert position past the end");
  TextSize size = measure(text);
  if (clients_[self_].next + size.cp > kMaxClock) {
    return make_error(ErrorCode::kLimitExceeded, "collab: client clock limit reached");
  }
  if (arena_.size() + text.size() > kMaxArena) {
    return make_error(ErrorCode::kLimitExceeded, "collab: document content limit reached");
  }
  Cursor left;
  std::uint32_t left_off = 0;
  if (pos > 0) {
    std::uint64_t off = 0;
    left = tree_.find_visible(pos - 1, unit, &off);
    const Item& item = left.item();
    if (unit == Unit::kCodePoint || item.ascii()) {
      left_off = static_cast<std::uint32_t>(off);
    } else {
      CharAt c = char_at(content(item), off, unit);
      if (off != c.start + c.width - 1) return position_error("insert position inside a character");
      left_off = c.index;
    }
  }
  insert_local_after(left, left_off, pos == 0, text, static_cast<Clock>(size.cp), static_cast<std::uint32_t>(size.u16));
  return Ok{};
}

Status DocCore::erase(std::uint64_t pos, std::uint64_t len, Unit unit, std::vector<LocalRange>* deleted) {
  std::uint64_t total = length(unit);
  if (pos > total || len > total - pos) return position_error("erase range past the end");
  if (len == 0) return Ok{};
  // Both ends must fall between characters; check before changing anything.
  std::uint64_t off = 0;
  Cursor cur = tree_.find_visible(pos, unit, &off);
  std::uint32_t first = static_cast<std::uint32_t>(off);
  if (unit != Unit::kCodePoint && !cur.item().ascii()) {
    CharAt c = char_at(content(cur.item()), off, unit);
    if (c.start != off) return position_error("erase range splits a character");
    first = c.index;
  }
  if (cur.item().ascii() && !cur.item().deleted && first + len <= cur.item().len) {
    // Within one ASCII run (a keystroke's delete): both ends fall between characters.
    const LocalRange r = shift_into_tombstone(cur, first, static_cast<std::uint32_t>(len));
    if (r.len > 0) {
      record_deleted(r.client, r.clock, r.len);
      push_local_delete(r);
      if (deleted) deleted->push_back(r);
      return Ok{};
    }
  } else if (pos + len < total && unit != Unit::kCodePoint) {
    std::uint64_t end_off = 0;
    Cursor end = tree_.find_visible(pos + len, unit, &end_off);
    if (!end.item().ascii() && char_at(content(end.item()), end_off, unit).start != end_off) {
      return position_error("erase range splits a character");
    }
  }

  if (first > 0) cur = split(cur, first);
  std::uint64_t remaining = len;
  while (remaining > 0) {
    Item& item = cur.item();
    if (item.deleted) {
      cur = ContentTree::next(cur);
      continue;
    }
    std::uint64_t w = item_units(item, unit);
    if (w > remaining) {
      std::uint32_t keep = (unit == Unit::kCodePoint || item.ascii()) ? static_cast<std::uint32_t>(remaining)
                                                                      : char_at(content(item), remaining, unit).index;
      cur = ContentTree::prev(split(cur, keep));
      w = remaining;
    }
    const Item& d = cur.item();
    LocalRange r{d.client, d.clock, d.len};
    cur = mark_deleted(cur);
    record_deleted(r.client, r.clock, r.len);
    push_local_delete(r);
    if (deleted) deleted->push_back(r);
    remaining -= w;
    cur = ContentTree::next(cur);
  }
  return Ok{};
}

void DocCore::push_local_delete(const LocalRange& r) {
  // Backspacing deletes adjacent clocks right to left, typing over a selection left to
  // right: keep either as one range.
  if (!local_deletes_.empty()) {
    LocalRange& last = local_deletes_.back();
    if (last.client == r.client) {
      if (last.clock + last.len == r.clock) {
        last.len += r.len;
        return;
      }
      if (r.clock + r.len == last.clock) {
        last.clock = r.clock;
        last.len += r.len;
        return;
      }
    }
  }
  local_deletes_.push_back(r);
}

bool DocCore::has_local_changes() const {
  return clients_[self_].next > taken_clock_ || !local_deletes_.empty();
}

namespace {

EncOrigin enc_origin(LocalId id, const std::vector<ClientId>& ids) {
  EncOrigin o;
  if (!id.none()) {
    o.none = false;
    o.client = ids[id.client];
    o.clock = id.clock;
  }
  return o;
}

// Sorts and merges (clock, len) ranges.
void normalize(std::vector<std::pair<Clock, Clock>>& ranges) {
  compact_sort(ranges.begin(), ranges.end());
  std::size_t out = 0;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (out > 0 && ranges[i].first <= ranges[out - 1].first + ranges[out - 1].second) {
      Clock end = std::max(ranges[out - 1].first + ranges[out - 1].second, ranges[i].first + ranges[i].second);
      ranges[out - 1].second = end - ranges[out - 1].first;
    } else {
      ranges[out++] = ranges[i];
    }
  }
  ranges.resize(out);
}

}  // namespace

std::string DocCore::take_update() {
  // The vectors are kept between calls: an editor takes an update per keystroke.
  std::vector<ClientId>& ids = take_ids_;
  ids.resize(clients_.size());
  for (std::size_t i = 0; i < clients_.size(); ++i) ids[i] = clients_[i].id;

  std::vector<EncBlock>& blocks = take_blocks_;
  blocks.resize(1);
  EncBlock& block = blocks[0];
  block.items.clear();
  const ClientState& me = clients_[self_];
  if (me.next > taken_clock_) {
    block.client = me.id;
    me.index.for_each_from(taken_clock_, [&](const ClockIndex::Entry& e) {
      const Leaf* leaf = tree_.leaf(e.leaf);
      for (std::uint32_t i = 0; i < leaf->count; ++i) {
        const Item& item = leaf->items[i];
        if (item.client != self_ || item.clock != e.clock) continue;
        if (item.clock + item.len <= taken_clock_) break;
        std::uint32_t from = item.clock < taken_clock_ ? taken_clock_ - item.clock : 0;
        EncItem enc;
        enc.clock = item.clock + from;
        enc.len = item.len - from;
        enc.left = enc_origin(from ? item.id_at(from - 1) : item.origin_left, ids);
        enc.right = enc_origin(item.origin_right, ids);
        enc.deleted = item.deleted;
        if (!item.deleted) {
          // A run typed in a row grows with every keystroke: no scan for ASCII.
          enc.content = content(item).substr(item.ascii() ? from : byte_offset(content(item), from));
        }
        block.items.push_back(enc);
        break;
      }
    });
  }

  // Deletions; this client's characters created since the last take travel as tombstones
  // in the block above already.
  std::vector<EncDeletes> deletes;
  if (local_deletes_.empty()) {
    taken_clock_ = me.next;
    std::string update = encode_update(blocks, deletes);
    if (block.items.capacity() > 1024) std::vector<EncItem>().swap(block.items);  // keep little
    return update;
  }
  std::vector<std::vector<std::pair<Clock, Clock>>> per_client(clients_.size());
  for (const LocalRange& r : local_deletes_) {
    Clock end = r.clock + r.len;
    if (r.client == self_) end = std::min(end, taken_clock_);
    if (end > r.clock) per_client[r.client].emplace_back(r.clock, end - r.clock);
  }
  for (std::size_t c = 0; c < per_client.size(); ++c) {
    if (per_client[c].empty()) continue;
    normalize(per_client[c]);
    deletes.push_back(EncDeletes{ids[c], std::move(per_client[c])});
  }
  compact_sort(deletes.begin(), deletes.end(),
               [](const EncDeletes& a, const EncDeletes& b) { return a.client < b.client; });

  taken_clock_ = me.next;
  local_deletes_.clear();
  std::string update = encode_update(blocks, deletes);
  if (block.items.capacity() > 1024) std::vector<EncItem>().swap(block.items);
  return update;
}

// ---- reading ---------------------------------------------------------------------------

std::string DocCore::text() const {
  std::string out;
  out.reserve(tree_.total().u8);
  for (const Leaf* leaf = tree_.first_leaf(); leaf; leaf = leaf->next) {
    for (std::uint32_t i = 0; i < leaf->count; ++i) {
      const Item& item = leaf->items[i];
      if (!item.deleted) out.append(arena_, item.byte_start, item.byte_len);
    }
  }
  return out;
}

Result<std::uint64_t> DocCore::convert(std::uint64_t pos, Unit from, Unit to) const {
  std::uint64_t total = length(from);
  if (pos > total) return position_error("position past the end");
  if (pos == total) return length(to);
  std::uint64_t off = 0;
  Cursor cur = tree_.find_visible(pos, from, &off);
  const Item& item = cur.item();
  std::uint64_t base = tree_.prefix(cur).get(to);
  if (item.ascii()) return base + off;
  CharAt c = char_at(content(item), off, from);
  if (c.start != off) return position_error("position inside a character");
  return base + units_of_prefix(content(item), c.index, to);
}

// ---- relative positions ------------------------------------------------------------------

Result<RelativePosition> DocCore::relative_position(std::uint64_t pos, Assoc assoc, Unit unit) const {
  std::uint64_t total = length(unit);
  if (pos > total) return position_error("position past the end");
  RelativePosition rp;
  rp.assoc = assoc;
  std::uint64_t target = pos;
  if (assoc == Assoc::kRight) {
    if (pos == total) {
      rp.kind = RelativePosition::Kind::kEnd;
      return rp;
    }
  } else {
    if (pos == 0) {
      rp.kind = RelativePosition::Kind::kStart;
      return rp;
    }
    target = pos - 1;
  }
  std::uint64_t off = 0;
  Cursor cur = tree_.find_visible(target, unit, &off);
  const Item& item = cur.item();
  std::uint32_t k = static_cast<std::uint32_t>(off);
  if (unit != Unit::kCodePoint && !item.ascii()) {
    CharAt c = char_at(content(item), off, unit);
    std::uint64_t edge = assoc == Assoc::kRight ? c.start : c.start + c.width - 1;
    if (edge != off) return position_error("position inside a character");
    k = c.index;
  }
  rp.kind = RelativePosition::Kind::kItem;
  rp.item = Id{clients_[item.client].id, item.clock + k};
  return rp;
}

Result<std::uint64_t> DocCore::resolve(const RelativePosition& rp, Unit unit) const {
  switch (rp.kind) {
    case RelativePosition::Kind::kStart:
      return std::uint64_t{0};
    case RelativePosition::Kind::kEnd:
      return length(unit);
    case RelativePosition::Kind::kItem:
      break;
  }
  ClientIndex c = lookup(rp.item.client);
  if (c == kNoClient || rp.item.clock >= clients_[c].next) {
    return position_error("relative position refers to an unknown character");
  }
  std::uint32_t off = 0;
  Cursor cur = find(LocalId{c, rp.item.clock}, &off);
  const Item& item = cur.item();
  std::uint64_t pos = tree_.prefix(cur).get(unit);
  if (item.deleted) return pos;  // the character is gone: its place is where it was
  std::uint32_t k = off + (rp.assoc == Assoc::kLeft ? 1 : 0);
  pos += item.ascii() ? k : units_of_prefix(content(item), k, unit);
  return pos;
}

// ---- sync ------------------------------------------------------------------------------

StateVector DocCore::state_vector() const {
  StateVector sv;
  for (const ClientState& c : clients_) {
    if (c.next > 0) sv.set(c.id, c.next);
  }
  return sv;
}

std::string DocCore::encode(const StateVector* since) const {
  std::vector<ClientId> ids(clients_.size());
  std::vector<Clock> from(clients_.size(), 0);
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    ids[i] = clients_[i].id;
    if (since) from[i] = since->get(ids[i]);
  }
  std::vector<std::vector<EncItem>> items(clients_.size());
  std::vector<std::vector<std::pair<Clock, Clock>>> dels(clients_.size());
  for (const Leaf* leaf = tree_.first_leaf(); leaf; leaf = leaf->next) {
    for (std::uint32_t i = 0; i < leaf->count; ++i) {
      const Item& item = leaf->items[i];
      Clock s = from[item.client];
      Clock end = item.clock + item.len;
      // The part the receiver has: only its deletions travel.
      if (item.clock < s && item.deleted) {
        dels[item.client].emplace_back(item.clock, std::min(end, s) - item.clock);
      }
      if (end <= s) continue;
      std::uint32_t skip = item.clock < s ? s - item.clock : 0;
      EncItem enc;
      enc.clock = item.clock + skip;
      enc.len = item.len - skip;
      enc.left = enc_origin(skip ? item.id_at(skip - 1) : item.origin_left, ids);
      enc.right = enc_origin(item.origin_right, ids);
      enc.deleted = item.deleted;
      if (!item.deleted) {
        std::string_view text = content(item);
        enc.content = skip ? text.substr(byte_offset(text, skip)) : text;
      }
      items[item.client].push_back(enc);
    }
  }
  std::vector<ClientIndex> order(clients_.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<ClientIndex>(i);
  compact_sort(order.begin(), order.end(), [&](ClientIndex a, ClientIndex b) { return ids[a] < ids[b]; });
  std::vector<EncBlock> blocks;
  std::vector<EncDeletes> deletes;
  for (ClientIndex c : order) {
    if (!items[c].empty()) {
      compact_sort(items[c].begin(), items[c].end(),
                   [](const EncItem& a, const EncItem& b) { return a.clock < b.clock; });
      blocks.push_back(EncBlock{ids[c], std::move(items[c])});
    }
    if (!dels[c].empty()) {
      normalize(dels[c]);
      deletes.push_back(EncDeletes{ids[c], std::move(dels[c])});
    }
  }
  return encode_update(blocks, deletes);
}

bool DocCore::missing_dependency(const PendingItem& p, LocalId* missing) const {
  if (p.clock > clients_[p.client].next) {
    *missing = LocalId{p.client, p.clock - 1};
    return true;
  }
  if (!known(p.left)) {
    *missing = p.left;
    return true;
  }
  if (!known(p.right)) {
    *missing = p.right;
    return true;
  }
  return false;
}

void DocCore::delete_known_tombstone(const PendingItem& p) {
  // A tombstone run for characters we already have (visible perhaps: they can reach us
  // through another update before their deletion does) deletes them.
  Clock next = clients_[p.client].next;
  if (p.deleted && p.clock < next) {
    delete_known(p.client, p.clock, std::min<Clock>(p.clock + p.len, next) - p.clock, false, nullptr);
  }
}

void DocCore::integrate_ready(const PendingItem& p, std::string_view text) {
  delete_known_tombstone(p);
  ClientState& cs = clients_[p.client];
  if (p.clock + p.len <= cs.next) return;  // arrived meanwhile
  Item item;
  item.client = p.client;
  item.clock = p.clock;
  item.len = p.len;
  item.origin_left = p.left;
  item.origin_right = p.right;
  std::uint32_t u16 = p.u16;
  if (p.clock < cs.next) {
    // Overlaps what we have: keep the unknown tail, whose left origin is its own previous
    // character.
    Clock skip = cs.next - p.clock;
    if (!p.deleted) {
      std::uint32_t b = byte_offset(text, skip);
      u16 -= static_cast<std::uint32_t>(measure(text.substr(0, b)).u16);
      text = text.substr(b);
    }
    item.clock += skip;
    item.len -= skip;
    item.origin_left = LocalId{p.client, item.clock - 1};
  }
  if (p.deleted) {
    item.deleted = true;
    item.gone = true;
  } else {
    item.byte_start = static_cast<std::uint32_t>(arena_.size());
    item.byte_len = static_cast<std::uint32_t>(text.size());
    item.u16_len = u16;
    arena_.append(text);
  }
  integrate(item);
  clients_[p.client].next = item.clock + item.len;
}

void DocCore::add_pending(PendingItem p) {
  auto key = std::make_tuple(p.client, p.clock, p.len);
  if (pending_keys_.count(key)) return;
  std::size_t cost = sizeof(PendingItem) + p.content.size();
  if (pending_bytes_ + cost > options_.max_pending_bytes) {
    ++dropped_;
    return;
  }
  LocalId missing;
  if (!missing_dependency(p, &missing)) return;  // callers only pend blocked items
  std::uint32_t slot;
  if (!pending_free_.empty()) {
    slot = pending_free_.back();
    pending_free_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(pending_.size());
    pending_.emplace_back();
  }
  p.alive = true;
  pending_[slot] = std::move(p);
  pending_keys_.emplace(key, slot);
  pending_bytes_ += cost;
  ++pending_items_;
  auto& heap = clients_[missing.client].waiters;
  heap.emplace_back(missing.clock, slot);
  std::push_heap(heap.begin(), heap.end(), std::greater<>());
}

void DocCore::release_pending(std::uint32_t slot) {
  PendingItem& p = pending_[slot];
  p.alive = false;
  pending_keys_.erase(std::make_tuple(p.client, p.clock, p.len));
  pending_bytes_ -= sizeof(PendingItem) + p.content.size();
  --pending_items_;
  std::string().swap(p.content);
  pending_free_.push_back(slot);
}

void DocCore::settle_known_pending(ClientIndex c) {
  const Clock next = clients_[c].next;
  auto it = pending_keys_.lower_bound(std::make_tuple(c, Clock{0}, Clock{0}));
  while (it != pending_keys_.end() && std::get<0>(it->first) == c && std::get<1>(it->first) < next) {
    const std::uint32_t slot = it->second;
    const bool known_whole = std::get<1>(it->first) + std::get<2>(it->first) <= next;
    ++it;  // release_pending erases the entry
    if (!known_whole) continue;
    delete_known_tombstone(pending_[slot]);
    release_pending(slot);  // its entry in a waiters heap stays: popped, it is not alive
  }
}

// Client c's clock advanced: integrate whatever waited for it, and whatever that unblocks.
void DocCore::wake(ClientIndex first) {
  std::vector<ClientIndex> work{first};
  while (!work.empty()) {
    ClientIndex c = work.back();
    work.pop_back();
    settle_known_pending(c);
    {
      auto& dels = clients_[c].pending_deletes;
      while (!dels.empty() && dels.begin()->first < clients_[c].next) {
        auto [start, end] = *dels.begin();
        dels.erase(dels.begin());
        --pending_deletes_;
        pending_bytes_ -= kPendingDeleteCost;
        Clock stop = std::min(end, clients_[c].next);
        delete_known(c, start, stop - start, false, nullptr);
        if (end > stop) {
          dels.emplace(stop, end);
          ++pending_deletes_;
          pending_bytes_ += kPendingDeleteCost;
        }
      }
    }
    for (;;) {
      auto& heap = clients_[c].waiters;
      if (heap.empty() || heap.front().first >= clients_[c].next) break;
      std::pop_heap(heap.begin(), heap.end(), std::greater<>());
      std::uint32_t slot = heap.back().second;
      heap.pop_back();
      PendingItem& p = pending_[slot];
      if (!p.alive) continue;
      LocalId missing;
      if (missing_dependency(p, &missing)) {
        auto& other = clients_[missing.client].waiters;
        other.emplace_back(missing.clock, slot);
        std::push_heap(other.begin(), other.end(), std::greater<>());
        continue;
      }
      integrate_ready(p, p.content);
      ClientIndex advanced = p.client;
      release_pending(slot);
      work.push_back(advanced);
    }
  }
}

void DocCore::apply_delete(ClientIndex c, Clock clock, Clock len) {
  ClientState& cs = clients_[c];
  Clock end = clock + len;
  Clock known_end = std::min(end, cs.next);
  if (clock < known_end) delete_known(c, clock, known_end - clock, false, nullptr);
  Clock start = std::max(clock, clients_[c].next);
  if (end > start) {
    if (pending_bytes_ + kPendingDeleteCost > options_.max_pending_bytes) {
      ++dropped_;
      return;
    }
    clients_[c].pending_deletes.emplace(start, end);
    ++pending_deletes_;
    pending_bytes_ += kPendingDeleteCost;
  }
}

void DocCore::apply_item(const DecItem& d, const std::vector<ClientIndex>& refs) {
  auto local = [&](const DecOrigin& o) { return o.none() ? LocalId{} : LocalId{refs[o.client_ref], o.clock}; };
  PendingItem p;
  p.client = refs[d.client_ref];
  p.clock = d.clock;
  p.len = d.len;
  p.u16 = d.u16;
  p.left = local(d.left);
  p.right = local(d.right);
  p.deleted = d.deleted;
  if (p.clock + p.len <= clients_[p.client].next) {  // a duplicate
    delete_known_tombstone(p);
    return;
  }
  LocalId missing;
  if (missing_dependency(p, &missing)) {
    p.content.assign(d.content);
    add_pending(std::move(p));
    return;
  }
  // The common case integrates straight from the update bytes, without a copy.
  integrate_ready(p, d.content);
  const ClientState& cs = clients_[p.client];
  if (!cs.waiters.empty() || !cs.pending_deletes.empty() || has_own_pending(p.client)) wake(p.client);
}

Status DocCore::apply(std::string_view bytes, TextDelta* delta) {
  auto decoded = decode_update(bytes);
  if (!decoded.ok()) return decoded.error();
  const DecodedUpdate& u = decoded.value();
  if (arena_.size() + u.content_bytes > kMaxArena) {
    return make_error(ErrorCode::kLimitExceeded, "collab: document content limit reached");
  }
  // Validation is over: from here on nothing fails, so an update is applied whole or not at
  // all (parts waiting for dependencies are applied as soon as those arrive).
  std::vector<ClientIndex> refs(u.clients.size());
  for (std::size_t i = 0; i < u.clients.size(); ++i) refs[i] = intern(u.clients[i]);

  begin_changes(delta != nullptr);
  for (const DecItem& d : u.items) apply_item(d, refs);
  for (const DecDelete& d : u.deletes) apply_delete(refs[d.client_ref], d.clock, d.len);
  end_changes(delta);
  return Ok{};
}

std::size_t DocCore::pending_count() const {
  return pending_items_ + pending_deletes_;
}

Result<std::size_t> DocCore::pending_cost(std::string_view bytes) const {
  auto decoded = decode_update(bytes);
  if (!decoded.ok()) return decoded.error();
  const DecodedUpdate& u = decoded.value();
  // apply()'s decisions replayed on the clocks alone. Pending items that this update would
  // wake are not simulated, so an item waiting on one of them is counted although it may
  // be integrated: the result can be more than apply() adds, never less.
  std::vector<Clock> next(u.clients.size(), 0);
  std::vector<ClientIndex> refs(u.clients.size());
  for (std::size_t i = 0; i < u.clients.size(); ++i) {
    refs[i] = lookup(u.clients[i]);
    if (refs[i] != kNoClient) next[i] = clients_[refs[i]].next;
  }
  auto known_ref = [&](const DecOrigin& o) { return o.none() || o.clock < next[o.client_ref]; };
  std::size_t cost = 0;
  for (const DecItem& d : u.items) {
    Clock& n = next[d.client_ref];
    if (d.clock + d.len <= n) continue;  // a duplicate
    if (d.clock <= n && known_ref(d.left) && known_ref(d.right)) {
      n = d.clock + d.len;
      continue;
    }
    if (refs[d.client_ref] != kNoClient && pending_keys_.count(std::make_tuple(refs[d.client_ref], d.clock, d.len))) {
      continue;  // already waiting
    }
    cost += sizeof(PendingItem) + (d.deleted ? 0 : d.content.size());
  }
  for (const DecDelete& d : u.deletes) {
    if (d.clock + d.len > next[d.client_ref]) cost += kPendingDeleteCost;
  }
  return cost;
}

std::string DocCore::encode_pending() const {
  std::vector<ClientId> ids(clients_.size());
  for (std::size_t i = 0; i < clients_.size(); ++i) ids[i] = clients_[i].id;
  // One block per waiting item: the clocks of one client's waiting items have gaps.
  std::vector<EncBlock> blocks;
  for (const PendingItem& p : pending_) {
    if (!p.alive) continue;
    EncItem enc;
    enc.clock = p.clock;
    enc.len = p.len;
    enc.left = enc_origin(p.left, ids);
    enc.right = enc_origin(p.right, ids);
    enc.deleted = p.deleted;
    if (!p.deleted) enc.content = p.content;
    blocks.push_back(EncBlock{ids[p.client], {enc}});
  }
  std::vector<EncDeletes> deletes;
  for (const ClientState& c : clients_) {
    if (c.pending_deletes.empty()) continue;
    EncDeletes d{c.id, {}};
    for (auto [start, end] : c.pending_deletes) d.ranges.emplace_back(start, end - start);
    normalize(d.ranges);
    deletes.push_back(std::move(d));
  }
  compact_sort(deletes.begin(), deletes.end(),
               [](const EncDeletes& a, const EncDeletes& b) { return a.client < b.client; });
  return encode_update(blocks, deletes);
}

// ---- change recording and deltas --------------------------------------------------------

void DocCore::begin_changes(bool record) {
  recording_ = record;
  changes_from_empty_ = tree_.total().cp == 0;
  changed_inserted_.clear();
  changed_deleted_.clear();
}

void DocCore::end_changes(TextDelta* delta) {
  if (delta) {
    delta->clear();
    if (recording_) build_delta(delta);
  }
  recording_ = false;
  changed_inserted_.clear();
  changed_deleted_.clear();
}

void DocCore::record_inserted(ClientIndex c, Clock clock, Clock len) {
  if (!recording_) return;
  if (!changed_inserted_.empty()) {
    LocalRange& last = changed_inserted_.back();
    if (last.client == c && last.clock + last.len == clock) {
      last.len += len;
      return;
    }
  }
  changed_inserted_.push_back(LocalRange{c, clock, len});
}

void DocCore::record_deleted(ClientIndex c, Clock clock, Clock len) {
  if (recording_) changed_deleted_.push_back(LocalRange{c, clock, len});
}

void DocCore::build_delta(TextDelta* delta) {
  if (changes_from_empty_) {
    // A document loaded into an empty one: no need to find where each piece went.
    if (tree_.total().u16 > 0) {
      DeltaOp op;
      op.kind = DeltaOp::Kind::kInsert;
      op.length = tree_.total().u16;
      op.text = text();
      delta->push_back(std::move(op));
    }
    return;
  }
  struct Piece {
    std::uint64_t order;
    std::uint64_t pos;  // UTF-16 offset in the text after the change
    bool insert;
    std::uint64_t units;
    std::string_view text;
  };
  std::vector<Piece> pieces;

  // Inserted ranges, per client and sorted, to tell deletions of characters that were not
  // visible before this change (inserted and deleted within it) from real ones.
  std::vector<LocalRange> inserted = changed_inserted_;
  compact_sort(inserted.begin(), inserted.end(), [](const LocalRange& a, const LocalRange& b) {
    return a.client != b.client ? a.client < b.client : a.clock < b.clock;
  });

  // Calls f(cursor, offset, n) for each item piece holding clocks [clock, clock + len).
  auto walk = [&](ClientIndex c, Clock clock, Clock len, auto&& f) {
    while (len > 0) {
      std::uint32_t off = 0;
      Cursor cur = find(LocalId{c, clock}, &off);
      Clock n = std::min<Clock>(cur.item().len - off, len);
      f(cur, off, n);
      clock += n;
      len -= n;
    }
  };
  auto add_piece = [&](Cursor cur, std::uint32_t off, Clock n, bool insert) {
    const Item& item = cur.item();
    Weights before = tree_.prefix(cur);
    Piece p;
    p.order = before.all + off;
    p.insert = insert;
    if (item.ascii()) {
      p.pos = before.u16 + (item.deleted ? 0 : off);
      p.units = n;
      p.text = item.gone ? std::string_view() : content(item).substr(off, n);
    } else {
      std::string_view text = content(item);
      std::uint32_t b0 = byte_offset(text, off);
      std::uint32_t b1 = b0 + byte_offset(text.substr(b0), n);
      p.pos = before.u16 + (item.deleted ? 0 : measure(text.substr(0, b0)).u16);
      p.text = text.substr(b0, b1 - b0);
      p.units = measure(p.text).u16;
    }
    pieces.push_back(p);
  };

  for (const LocalRange& r : inserted) {
    walk(r.client, r.clock, r.len, [&](Cursor cur, std::uint32_t off, Clock n) {
      if (!cur.item().deleted) add_piece(cur, off, n, true);
    });
  }
  for (const LocalRange& r : changed_deleted_) {
    // Subtract the ranges inserted by this same change.
    Clock clock = r.clock;
    Clock end = r.clock + r.len;
    auto it = std::upper_bound(inserted.begin(), inserted.end(), LocalRange{r.client, clock, 0},
                               [](const LocalRange& a, const LocalRange& b) {
                                 return a.client != b.client ? a.client < b.client : a.clock < b.clock;
                               });
    if (it != inserted.begin()) --it;
    while (clock < end) {
      while (it != inserted.end() &&
             (it->client < r.client || (it->client == r.client && it->clock + it->len <= clock))) {
        ++it;
      }
      Clock stop = end;
      if (it != inserted.end() && it->client == r.client) {
        if (it->clock <= clock) {
          clock = std::min(end, it->clock + it->len);  // inserted here: not in the delta
          continue;
        }
        stop = std::min(end, it->clock);
      }
      walk(r.client, clock, stop - clock,
           [&](Cursor cur, std::uint32_t off, Clock n) { add_piece(cur, off, n, false); });
      clock = stop;
    }
  }

  compact_sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.order < b.order; });
  std::uint64_t cursor = 0;
  auto push = [&](DeltaOp::Kind kind, std::uint64_t units, std::string_view text) {
    if (!delta->empty() && delta->back().kind == kind) {
      delta->back().length += units;
      delta->back().text.append(text);
      return;
    }
    DeltaOp op;
    op.kind = kind;
    op.length = units;
    op.text.assign(text);
    delta->push_back(std::move(op));
  };
  for (const Piece& p : pieces) {
    if (p.pos > cursor) {
      push(DeltaOp::Kind::kRetain, p.pos - cursor, {});
      cursor = p.pos;
    }
    if (p.insert) {
      push(DeltaOp::Kind::kInsert, p.units, p.text);
      cursor += p.units;
    } else {
      push(DeltaOp::Kind::kDelete, p.units, {});
    }
  }
}

// ---- undo support ----------------------------------------------------------------------

void DocCore::delete_ids(const LocalRange& range, std::vector<LocalRange>* deleted) {
  std::vector<LocalRange> work{range};
  while (!work.empty()) {
    LocalRange r = work.back();
    work.pop_back();
    if (r.client == kNoClient || r.clock >= clients_[r.client].next) continue;
    r.len = std::min<Clock>(r.len, clients_[r.client].next - r.clock);
    delete_known(r.client, r.clock, r.len, true, deleted);
    // Copies an undo made of these characters stand for them now.
    Clock end = r.clock + r.len;
    auto it = copies_.upper_bound({r.client, r.clock});
    if (it != copies_.begin()) {
      auto prev = std::prev(it);
      if (prev->first.first == r.client && prev->first.second + prev->second.first > r.clock) {
        it = prev;
      }
    }
    for (; it != copies_.end() && it->first.first == r.client && it->first.second < end; ++it) {
      Clock s = it->first.second;
      Clock e = s + it->second.first;
      Clock lo = std::max(s, r.clock);
      Clock hi = std::min(e, end);
      if (lo < hi) work.push_back(LocalRange{self_, it->second.second + (lo - s), hi - lo});
    }
  }
}

void DocCore::restore_ids(const LocalRange& range, std::vector<LocalRange>* restored) {
  std::vector<LocalRange> work{range};
  while (!work.empty()) {
    LocalRange r = work.back();
    work.pop_back();
    if (r.client == kNoClient || r.clock >= clients_[r.client].next) continue;
    Clock clock = r.clock;
    Clock end = r.clock + std::min<Clock>(r.len, clients_[r.client].next - r.clock);
    while (clock < end) {
      // Characters already copied once: bring back the copy instead.
      auto it = copies_.upper_bound({r.client, clock});
      if (it != copies_.begin()) {
        auto prev = std::prev(it);
        Clock s = prev->first.second;
        if (prev->first.first == r.client && s + prev->second.first > clock) {
          Clock hi = std::min(end, s + prev->second.first);
          work.push_back(LocalRange{self_, prev->second.second + (clock - s), hi - clock});
          clock = hi;
          continue;
        }
      }
      Clock stop = end;
      if (it != copies_.end() && it->first.first == r.client) stop = std::min(stop, it->first.second);
      std::uint32_t off = 0;
      Cursor cur = find(LocalId{r.client, clock}, &off);
      Clock n = std::min<Clock>(cur.item().len - off, stop - clock);
      const Item& item = cur.item();
      if (item.deleted && !item.gone) {
        std::string_view text = content(item);
        std::uint32_t b0 = item.ascii() ? off : byte_offset(text, off);
        std::uint32_t b1 = item.ascii() ? off + n : b0 + byte_offset(text.substr(b0), n);
        std::string copy(text.substr(b0, b1 - b0));  // the arena may move while appending
        Clock copy_clock = clients_[self_].next;
        if (copy_clock + n <= kMaxClock && arena_.size() + copy.size() <= kMaxArena) {
          insert_local_after(cur, off + n - 1, false, copy, n, static_cast<std::uint32_t>(measure(copy).u16));
          copies_[{r.client, clock}] = {n, copy_clock};
          if (restored) restored->push_back(LocalRange{self_, copy_clock, n});
        }
      }
      clock += n;
    }
  }
}

// ---- introspection ---------------------------------------------------------------------

std::size_t DocCore::item_count() const {
  std::size_t n = 0;
  for (const Leaf* leaf = tree_.first_leaf(); leaf; leaf = leaf->next) n += leaf->count;
  return n;
}

std::size_t DocCore::memory_usage() const {
  std::size_t n = sizeof(*this) + arena_.capacity() + tree_.memory_usage();
  n += clients_.capacity() * sizeof(ClientState);
  for (const ClientState& c : clients_) {
    n += c.index.memory_usage() + c.waiters.capacity() * sizeof(c.waiters[0]);
    n += c.pending_deletes.size() * kPendingDeleteCost;
  }
  n += client_lookup_.size() * 32 + client_lookup_.bucket_count() * sizeof(void*);
  n += pending_bytes_ + pending_.capacity() * sizeof(PendingItem);
  n += local_deletes_.capacity() * sizeof(LocalRange);
  n += copies_.size() * 64;
  return n;
}

std::string DocCore::check_invariants() const {
  std::string err = tree_.check();
  if (!err.empty()) return err;
  std::vector<std::uint64_t> total(clients_.size(), 0);
  std::vector<std::size_t> count(clients_.size(), 0);
  for (const Leaf* leaf = tree_.first_leaf(); leaf; leaf = leaf->next) {
    for (std::uint32_t i = 0; i < leaf->count; ++i) {
      const Item& item = leaf->items[i];
      if (item.client >= clients_.size()) return "item of an unknown client";
      if (item.len == 0) return "empty item";
      if (std::uint64_t{item.clock} + item.len > clients_[item.client].next) {
        return "item past its client's clock";
      }
      const ClockIndex& index = clients_[item.client].index;
      if (!index.has(item.clock) || index.find(item.clock) != leaf->number) {
        return "index entry missing or stale";
      }
      if (item.gone) {
        if (!item.deleted || item.byte_len || item.u16_len) return "content-less item visible";
      } else {
        if (std::uint64_t{item.byte_start} + item.byte_len > arena_.size()) return "content out of arena";
        TextSize s = measure(content(item));
        if (s.cp != item.len || s.u16 != item.u16_len) return "item lengths disagree with content";
      }
      total[item.client] += item.len;
      ++count[item.client];
    }
  }
  for (std::size_t c = 0; c < clients_.size(); ++c) {
    if (total[c] != clients_[c].next) return "clocks not covered by items";
    if (count[c] != clients_[c].index.size()) return "index size differs from item count";
  }
  return {};
}

}  // namespace chorus::collab::detail
