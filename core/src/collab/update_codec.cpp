#include "update_codec.h"

#include <algorithm>

#include "chorus/utf8.h"
#include "text_units.h"
#include "varint.h"

namespace chorus::collab::detail {
namespace {

bool continues(const EncItem& a, const EncItem& b, ClientId client) {
  return b.clock == a.clock + a.len && b.deleted == a.deleted && b.right == a.right && !b.left.none &&
         b.left.client == client && b.left.clock == b.clock - 1;
}

// The ascending client table of an update being written.
struct Table {
  const ClientId* ids;
  std::size_t size;
  const ClientId* begin() const { return ids; }
  const ClientId* end() const { return ids + size; }
};

// The index of `client` in the table (every client written is in it): a binary search, as
// an update names a handful of clients.
std::uint32_t ref_of(const Table& table, ClientId client) {
  return static_cast<std::uint32_t>(std::lower_bound(table.begin(), table.end(), client) - table.begin());
}

void put_origin(std::string& out, const EncOrigin& o, const Table& table) {
  put_varuint(out, ref_of(table, o.client));
  put_varuint(out, o.clock);
}

}  // namespace

std::string encode_update(const std::vector<EncBlock>& blocks, const std::vector<EncDeletes>& deletes) {
  // The client table: every id the update mentions, once, ascending. Built without a heap
  // allocation while it is small (an update per keystroke names one to three clients):
  // distinct ids are kept in `few` until there are more than fit.
  std::size_t content_bytes = 0;
  constexpr std::size_t kFew = 8;
  ClientId few[kFew];
  std::size_t nfew = 0;
  std::vector<ClientId> many;
  auto mention = [&](ClientId c) {
    if (many.empty()) {
      for (std::size_t i = 0; i < nfew; ++i) {
        if (few[i] == c) return;
      }
      if (nfew < kFew) {
        few[nfew++] = c;
        return;
      }
      many.assign(few, few + nfew);
    }
    many.push_back(c);
  };
  for (const EncBlock& b : blocks) {
    if (b.items.empty()) continue;
    mention(b.client);
    for (const EncItem& it : b.items) {
      content_bytes += it.content.size();
      if (!it.left.none) mention(it.left.client);
      if (!it.right.none) mention(it.right.client);
    }
  }
  for (const EncDeletes& d : deletes) {
    if (!d.ranges.empty()) mention(d.client);
  }
  Table table{few, nfew};
  if (many.empty()) {
    std::sort(few, few + nfew);
  } else {
    std::sort(many.begin(), many.end());
    many.erase(std::unique(many.begin(), many.end()), many.end());
    table = Table{many.data(), many.size()};
  }
  std::string out;
  out.reserve(32 + content_bytes);
  out.push_back(static_cast<char>(kUpdateVersion));
  put_varuint(out, table.size);
  for (ClientId c : table) put_varuint(out, c);

  std::size_t nblocks = 0;
  for (const EncBlock& b : blocks) nblocks += b.items.empty() ? 0 : 1;
  put_varuint(out, nblocks);
  for (const EncBlock& b : blocks) {
    if (b.items.empty()) continue;
    // Continuing items are written as one run; the run count comes before the runs.
    auto run_end = [&](std::size_t i) {
      std::size_t j = i + 1;
      while (j < b.items.size() && continues(b.items[j - 1], b.items[j], b.client)) ++j;
      return j;
    };
    std::size_t nruns = 0;
    for (std::size_t i = 0; i < b.items.size(); i = run_end(i)) ++nruns;
    put_varuint(out, ref_of(table, b.client));
    put_varuint(out, b.items.front().clock);
    put_varuint(out, nruns);
    const EncOrigin* prev_right = nullptr;
    for (std::size_t first = 0, last = 0; first < b.items.size(); first = last) {
      last = run_end(first);
      const EncItem& head = b.items[first];
      std::uint8_t info = 0;
      if (head.left.none) {
        info |= kLeftNone;
      } else if (head.left.client == b.client && head.left.clock + 1 == head.clock) {
        info |= kLeftPrev;
      } else {
        info |= kLeftExplicit;
      }
      if (head.right.none) {
        info |= kRightNone;
      } else if (prev_right && !prev_right->none && *prev_right == head.right) {
        info |= kRightSame;
      } else {
        info |= kRightExplicit;
      }
      if (head.deleted) info |= kDeleted;
      out.push_back(static_cast<char>(info));
      if ((info & kLeftMask) == kLeftExplicit) put_origin(out, head.left, table);
      if ((info & kRightMask) == kRightExplicit) put_origin(out, head.right, table);
      if (head.deleted) {
        std::uint64_t len = 0;
        for (std::size_t i = first; i < last; ++i) len += b.items[i].len;
        put_varuint(out, len);
      } else {
        std::uint64_t bytes = 0;
        for (std::size_t i = first; i < last; ++i) bytes += b.items[i].content.size();
        put_varuint(out, bytes);
        for (std::size_t i = first; i < last; ++i) out.append(b.items[i].content);
      }
      prev_right = &head.right;
    }
  }

  std::size_t ndel = 0;
  for (const EncDeletes& d : deletes) ndel += d.ranges.empty() ? 0 : 1;
  put_varuint(out, ndel);
  for (const EncDeletes& d : deletes) {
    if (d.ranges.empty()) continue;
    put_varuint(out, ref_of(table, d.client));
    put_varuint(out, d.ranges.size());
    Clock end = 0;
    for (auto [clock, len] : d.ranges) {
      put_varuint(out, clock - end);
      put_varuint(out, len);
      end = clock + len;
    }
  }
  return out;
}

namespace {

Error bad(const char* what) {
  return make_error(ErrorCode::kInvalidPacket, std::string("collab update: ") + what);
}

}  // namespace

Result<DecodedUpdate> decode_update(std::string_view bytes) {
  ByteReader r(bytes);
  DecodedUpdate u;
  if (r.byte() != kUpdateVersion || !r.ok()) return bad("unknown version");

  // Every count is bounded by the bytes left (each counted thing takes at least one byte),
  // so a hostile count cannot make us reserve memory the input does not pay for.
  std::uint64_t nclients = r.varuint_max(r.remaining());
  if (!r.ok()) return bad("truncated client table");
  u.clients.reserve(nclients);
  for (std::uint64_t i = 0; i < nclients; ++i) {
    ClientId c = r.varuint();
    if (!r.ok()) return bad("truncated client table");
    if (!u.clients.empty() && c <= u.clients.back()) return bad("client table not ascending");
    u.clients.push_back(c);
  }
  const auto nrefs = static_cast<std::uint32_t>(u.clients.size());

  auto read_origin = [&](DecOrigin& o) {
    o.client_ref = static_cast<std::uint32_t>(r.varuint_max(nrefs ? nrefs - 1 : 0));
    if (nrefs == 0) r.fail();
    o.clock = static_cast<Clock>(r.varuint_max(kMaxClock - 1));
  };

  std::uint64_t nblocks = r.varuint_max(r.remaining());
  if (!r.ok()) return bad("truncated block count");
  for (std::uint64_t b = 0; b < nblocks; ++b) {
    if (nrefs == 0) return bad("block without clients");
    auto client = static_cast<std::uint32_t>(r.varuint_max(nrefs - 1));
    std::uint64_t clock = r.varuint_max(kMaxClock - 1);
    std::uint64_t nitems = r.varuint_max(r.remaining() / 2);
    if (!r.ok()) return bad("truncated block header");
    if (nitems == 0) return bad("empty block");
    DecOrigin prev_right;
    bool has_prev = false;
    for (std::uint64_t i = 0; i < nitems; ++i) {
      DecItem it;
      it.client_ref = client;
      it.clock = static_cast<Clock>(clock);
      std::uint8_t info = r.byte();
      if (!r.ok()) return bad("truncated item");
      if (info & kReservedBits) return bad("reserved item bits set");
      switch (info & kLeftMask) {
        case kLeftNone:
          break;
        case kLeftPrev:
          if (clock == 0) return bad("left origin before clock 0");
          it.left.client_ref = client;
          it.left.clock = static_cast<Clock>(clock - 1);
          break;
        case kLeftExplicit:
          read_origin(it.left);
          break;
        default:
          return bad("bad left origin kind");
      }
      switch (info & kRightMask) {
        case kRightNone:
          break;
        case kRightSame:
          if (!has_prev || prev_right.none()) return bad("no previous right origin");
          it.right = prev_right;
          break;
        case kRightExplicit:
          read_origin(it.right);
          break;
        default:
          return bad("bad right origin kind");
      }
      it.deleted = (info & kDeleted) != 0;
      if (it.deleted) {
        it.len = static_cast<Clock>(r.varuint_max(kMaxClock));
        if (!r.ok()) return bad("truncated item");
      } else {
        std::uint64_t nbytes = r.varuint_max(r.remaining());
        it.content = r.bytes(nbytes);
        if (!r.ok()) return bad("truncated item content");
        if (!utf8::is_valid(it.content)) {
          return make_error(ErrorCode::kInvalidUtf8, "collab update: content is not UTF-8");
        }
        TextSize size = measure(it.content);
        if (size.cp > kMaxClock || size.u16 > 0xFFFFFFFFu) return bad("item too long");
        it.len = static_cast<Clock>(size.cp);
        it.u16 = static_cast<std::uint32_t>(size.u16);
        u.content_bytes += nbytes;
      }
      if (it.len == 0) return bad("empty item");
      if (clock + it.len > kMaxClock) {
        return make_error(ErrorCode::kLimitExceeded, "collab update: clock past the limit");
      }
      // An origin of the item's own client must precede it: anything else could never be
      // integrated (or would point inside the item itself).
      if (!it.left.none() && it.left.client_ref == client && it.left.clock >= it.clock) {
        return bad("left origin not before the item");
      }
      if (!it.right.none() && it.right.client_ref == client && it.right.clock >= it.clock) {
        return bad("right origin not before the item");
      }
      if (!it.left.none() && !it.right.none() && it.left.client_ref == it.right.client_ref &&
          it.left.clock == it.right.clock) {
        return bad("left and right origins equal");
      }
      clock += it.len;
      u.items.push_back(it);
      prev_right = it.right;
      has_prev = true;
    }
  }

  std::uint64_t ndel = r.varuint_max(r.remaining());
  if (!r.ok()) return bad("truncated delete set");
  for (std::uint64_t d = 0; d < ndel; ++d) {
    if (nrefs == 0) return bad("deletes without clients");
    auto client = static_cast<std::uint32_t>(r.varuint_max(nrefs - 1));
    std::uint64_t nranges = r.varuint_max(r.remaining() / 2);
    if (!r.ok()) return bad("truncated delete set");
    std::uint64_t end = 0;
    for (std::uint64_t i = 0; i < nranges; ++i) {
      std::uint64_t gap = r.varuint_max(kMaxClock);
      std::uint64_t len = r.varuint_max(kMaxClock);
      if (!r.ok()) return bad("truncated delete range");
      if (len == 0) return bad("empty delete range");
      std::uint64_t start = end + gap;
      if (start + len > kMaxClock) {
        return make_error(ErrorCode::kLimitExceeded, "collab update: deleted clock past the limit");
      }
      u.deletes.push_back(DecDelete{client, static_cast<Clock>(start), static_cast<Clock>(len)});
      end = start + len;
    }
  }
  if (!r.at_end()) return bad("trailing bytes");
  return u;
}

}  // namespace chorus::collab::detail
