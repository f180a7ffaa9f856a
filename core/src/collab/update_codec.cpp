#include "update_codec.h"

#include <algorithm>

#include "chorus/utf8.h"
#include "lz4.h"
#include "sort.h"
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

// The client table: every id the update mentions, once, ascending. Built without a heap
// allocation while it is small (an update per keystroke names one to three clients):
// distinct ids are kept in `few_` until there are more than fit. Also counts the content.
class ClientTable {
 public:
  ClientTable(const std::vector<EncBlock>& blocks, const std::vector<EncDeletes>& deletes) {
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
    if (many_.empty()) {
      compact_sort(few_, few_ + nfew_);
    } else {
      compact_sort(many_.begin(), many_.end());
      many_.erase(std::unique(many_.begin(), many_.end()), many_.end());
    }
  }
  ClientTable(const ClientTable&) = delete;
  ClientTable& operator=(const ClientTable&) = delete;

  Table view() const { return many_.empty() ? Table{few_, nfew_} : Table{many_.data(), many_.size()}; }

  std::size_t content_bytes = 0;

 private:
  void mention(ClientId c) {
    if (many_.empty()) {
      for (std::size_t i = 0; i < nfew_; ++i) {
        if (few_[i] == c) return;
      }
      if (nfew_ < kFew) {
        few_[nfew_++] = c;
        return;
      }
      many_.assign(few_, few_ + nfew_);
    }
    many_.push_back(c);
  }

  static constexpr std::size_t kFew = 8;
  ClientId few_[kFew];
  std::size_t nfew_ = 0;
  std::vector<ClientId> many_;
};

// The end of the run starting at item i of a block: items that continue each other are
// written as one run.
std::size_t run_end(const EncBlock& b, std::size_t i) {
  std::size_t j = i + 1;
  while (j < b.items.size() && continues(b.items[j - 1], b.items[j], b.client)) ++j;
  return j;
}

std::size_t run_count(const EncBlock& b) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < b.items.size(); i = run_end(b, i)) ++n;
  return n;
}

// A run's length field: its content's bytes, or a deleted run's code points.
std::uint64_t run_length(const EncBlock& b, std::size_t first, std::size_t last) {
  std::uint64_t len = 0;
  for (std::size_t i = first; i < last; ++i) len += b.items[first].deleted ? b.items[i].len : b.items[i].content.size();
  return len;
}

// A run's info byte as version 1 writes it (version 2 adds a right origin kind).
std::uint8_t origin_info(const EncItem& head, ClientId client, const EncOrigin* prev_right) {
  std::uint8_t info = 0;
  if (head.left.none) {
    info |= kLeftNone;
  } else if (head.left.client == client && head.left.clock + 1 == head.clock) {
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
  return info;
}

void put_deletes(std::string& out, const std::vector<EncDeletes>& deletes, const Table& table) {
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
}

std::string encode_v1(const std::vector<EncBlock>& blocks, const std::vector<EncDeletes>& deletes) {
  const ClientTable clients(blocks, deletes);
  const Table table = clients.view();
  std::string out;
  out.reserve(32 + clients.content_bytes);
  out.push_back(static_cast<char>(kUpdateVersion));
  put_varuint(out, table.size);
  for (ClientId c : table) put_varuint(out, c);

  std::size_t nblocks = 0;
  for (const EncBlock& b : blocks) nblocks += b.items.empty() ? 0 : 1;
  put_varuint(out, nblocks);
  for (const EncBlock& b : blocks) {
    if (b.items.empty()) continue;
    put_varuint(out, ref_of(table, b.client));
    put_varuint(out, b.items.front().clock);
    put_varuint(out, run_count(b));  // the run count comes before the runs
    const EncOrigin* prev_right = nullptr;
    for (std::size_t first = 0, last = 0; first < b.items.size(); first = last) {
      last = run_end(b, first);
      const EncItem& head = b.items[first];
      const std::uint8_t info = origin_info(head, b.client, prev_right);
      out.push_back(static_cast<char>(info));
      if ((info & kLeftMask) == kLeftExplicit) put_origin(out, head.left, table);
      if ((info & kRightMask) == kRightExplicit) put_origin(out, head.right, table);
      put_varuint(out, run_length(b, first, last));
      if (!head.deleted) {
        for (std::size_t i = first; i < last; ++i) out.append(b.items[i].content);
      }
      prev_right = &head.right;
    }
  }
  put_deletes(out, deletes, table);
  return out;
}

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}

std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

// Version 2: the same runs, their fields in columns (a column of one kind of number
// compresses far better than the fields interleaved), the body LZ4-compressed when that
// pays.
std::string encode_v2(const std::vector<EncBlock>& blocks, const std::vector<EncDeletes>& deletes) {
  const ClientTable clients(blocks, deletes);
  const Table table = clients.view();
  std::string body;
  body.reserve(64 + clients.content_bytes * 5 / 4);
  put_varuint(body, table.size);
  for (std::size_t i = 0; i < table.size; ++i)
    put_varuint(body, i == 0 ? table.ids[0] : table.ids[i] - table.ids[i - 1]);

  std::string infos, left_clients, left_clocks, right_clients, right_clocks, lengths, content;
  content.reserve(clients.content_bytes);
  std::int64_t prev_left = 0, prev_right_clock = 0;
  int info_run = -1;  // the info byte being repeated, and how often
  std::uint64_t info_repeats = 0;
  auto flush_info = [&] {
    if (info_run < 0) return;
    infos.push_back(static_cast<char>(info_run));
    put_varuint(infos, info_repeats - 1);
  };
  std::size_t nblocks = 0;
  for (const EncBlock& b : blocks) nblocks += b.items.empty() ? 0 : 1;
  put_varuint(body, nblocks);
  for (const EncBlock& b : blocks) {
    if (b.items.empty()) continue;
    put_varuint(body, ref_of(table, b.client));
    put_varuint(body, b.items.front().clock);
    put_varuint(body, run_count(b));
    const EncOrigin* prev_right = nullptr;
    for (std::size_t first = 0, last = 0; first < b.items.size(); first = last) {
      last = run_end(b, first);
      const EncItem& head = b.items[first];
      std::uint8_t info = origin_info(head, b.client, prev_right);
      if ((info & kLeftMask) == kLeftExplicit) {
        put_varuint(left_clients, ref_of(table, head.left.client));
        put_varuint(left_clocks, zigzag(static_cast<std::int64_t>(head.left.clock) - prev_left));
        prev_left = head.left.clock;
      }
      if ((info & kRightMask) == kRightExplicit) {
        if (!head.left.none && head.right.client == head.left.client && head.right.clock == head.left.clock + 1) {
          info = static_cast<std::uint8_t>((info & ~kRightMask) | kRightAfterLeft);
        } else {
          put_varuint(right_clients, ref_of(table, head.right.client));
          put_varuint(right_clocks, zigzag(static_cast<std::int64_t>(head.right.clock) - prev_right_clock));
          prev_right_clock = head.right.clock;
        }
      }
      if (info == info_run) {
        ++info_repeats;
      } else {
        flush_info();
        info_run = info;
        info_repeats = 1;
      }
      put_varuint(lengths, run_length(b, first, last));
      if (!head.deleted) {
        for (std::size_t i = first; i < last; ++i) content.append(b.items[i].content);
      }
      prev_right = &head.right;
    }
  }
  flush_info();
  for (const std::string* column :
       {&infos, &left_clients, &left_clocks, &right_clients, &right_clocks, &lengths, &content}) {
    put_varuint(body, column->size());
    body.append(*column);
  }
  put_deletes(body, deletes, table);

  std::string out;
  out.push_back(static_cast<char>(kUpdateVersion2));
  std::string packed = lz4_compress(body);
  const bool compress =
      packed.size() < body.size() && body.size() <= kMaxExpansion * packed.size() + kMaxExpansionSlack;
  out.push_back(static_cast<char>(compress ? 1 : 0));
  put_varuint(out, body.size());
  out.append(compress ? packed : body);
  return out;
}

}  // namespace

std::string encode_update(const std::vector<EncBlock>& blocks, const std::vector<EncDeletes>& deletes, int version) {
  return version == 1 ? encode_v1(blocks, deletes) : encode_v2(blocks, deletes);
}

std::string encode_update(const std::vector<EncBlock>& blocks, const std::vector<EncDeletes>& deletes) {
  std::size_t items = 0, content = 0;
  for (const EncBlock& b : blocks) {
    items += b.items.size();
    for (const EncItem& it : b.items) content += it.content.size();
    if (items > kSmallRuns || content > kSmallContent) return encode_v2(blocks, deletes);
  }
  return encode_v1(blocks, deletes);
}

namespace {

Error bad(const char* what) {
  return make_error(ErrorCode::kInvalidPacket, std::string("collab update: ") + what);
}

// Checks one run read from either version and appends it; `clock` is where it starts and
// moves past it. A deleted run comes with `it.len`, any other with `it.content`.
Status add_item(DecodedUpdate& u, DecItem& it, std::uint64_t& clock) {
  const std::uint32_t client = it.client_ref;
  it.clock = static_cast<Clock>(clock);
  if (!it.deleted) {
    if (!utf8::is_valid(it.content)) {
      return make_error(ErrorCode::kInvalidUtf8, "collab update: content is not UTF-8");
    }
    TextSize size = measure(it.content);
    if (size.cp > kMaxClock || size.u16 > 0xFFFFFFFFu) return bad("item too long");
    it.len = static_cast<Clock>(size.cp);
    it.u16 = static_cast<std::uint32_t>(size.u16);
    u.content_bytes += it.content.size();
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
  return Ok{};
}

Status read_deletes(ByteReader& r, DecodedUpdate& u) {
  const auto nrefs = static_cast<std::uint32_t>(u.clients.size());
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
  return Ok{};
}

// The origins a run's info byte describes, into `it`. `read_left` / `read_right` read an
// explicit origin (false: the input ended); `prev_right` is the block's previous run's right
// origin (nullptr for a block's first run); version 2 adds right origin kind 3.
template <class ReadLeft, class ReadRight>
Status decode_origins(std::uint8_t info, std::uint32_t client, std::uint64_t clock, const DecOrigin* prev_right,
                      bool version2, DecItem& it, ReadLeft read_left, ReadRight read_right) {
  switch (info & kLeftMask) {
    case kLeftNone:
      break;
    case kLeftPrev:
      if (clock == 0) return bad("left origin before clock 0");
      it.left.client_ref = client;
      it.left.clock = static_cast<Clock>(clock - 1);
      break;
    case kLeftExplicit:
      if (!read_left(it.left)) return bad("truncated left origin");
      break;
    default:
      return bad("bad left origin kind");
  }
  switch (info & kRightMask) {
    case kRightNone:
      break;
    case kRightSame:
      if (prev_right == nullptr || prev_right->none()) return bad("no previous right origin");
      it.right = *prev_right;
      break;
    case kRightExplicit:
      if (!read_right(it.right)) return bad("truncated right origin");
      break;
    default:  // kRightAfterLeft
      if (!version2) return bad("bad right origin kind");
      if (it.left.none() || it.left.clock >= kMaxClock - 1) return bad("no left origin to follow");
      it.right.client_ref = it.left.client_ref;
      it.right.clock = it.left.clock + 1;
      break;
  }
  return Ok{};
}

Result<DecodedUpdate> decode_v1(ByteReader& r) {
  DecodedUpdate u;
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
      std::uint8_t info = r.byte();
      if (!r.ok()) return bad("truncated item");
      if (info & kReservedBits) return bad("reserved item bits set");
      auto read = [&](DecOrigin& o) {
        read_origin(o);
        return r.ok();
      };
      if (Status s = decode_origins(info, client, clock, has_prev ? &prev_right : nullptr, false, it, read, read);
          !s.ok()) {
        return s.error();
      }
      it.deleted = (info & kDeleted) != 0;
      if (it.deleted) {
        it.len = static_cast<Clock>(r.varuint_max(kMaxClock));
        if (!r.ok()) return bad("truncated item");
      } else {
        std::uint64_t nbytes = r.varuint_max(r.remaining());
        it.content = r.bytes(nbytes);
        if (!r.ok()) return bad("truncated item content");
      }
      if (Status s = add_item(u, it, clock); !s.ok()) return s.error();
      prev_right = it.right;
      has_prev = true;
    }
  }
  if (Status s = read_deletes(r, u); !s.ok()) return s.error();
  if (!r.at_end()) return bad("trailing bytes");
  return u;
}

// Version 2 (format in chorus/collab/doc.h).
Result<DecodedUpdate> decode_v2(ByteReader& r) {
  const std::uint8_t flags = r.byte();
  const std::uint64_t body_size = r.varuint();
  if (!r.ok()) return bad("truncated header");
  if (flags > 1) return bad("unknown flags");
  const std::string_view rest = r.bytes(r.remaining());
  DecodedUpdate u;
  std::string_view body = rest;
  if (flags == 1) {
    if (body_size > kMaxExpansion * rest.size() + kMaxExpansionSlack) return bad("body expands too far");
    auto inflated = lz4_decompress(rest, static_cast<std::size_t>(body_size));
    if (!inflated.ok()) return inflated.error();
    u.storage = std::make_unique<std::string>(std::move(inflated.value()));
    body = *u.storage;
  } else if (body_size != rest.size()) {
    return bad("body size mismatch");
  }

  ByteReader b(body);
  std::uint64_t nclients = b.varuint_max(b.remaining());
  if (!b.ok()) return bad("truncated client table");
  u.clients.reserve(nclients);
  for (std::uint64_t i = 0; i < nclients; ++i) {
    const std::uint64_t delta = b.varuint();
    if (!b.ok()) return bad("truncated client table");
    if (i > 0 && (delta == 0 || delta > ~u.clients.back())) return bad("client table not ascending");
    u.clients.push_back(i == 0 ? delta : u.clients.back() + delta);
  }
  const auto nrefs = static_cast<std::uint32_t>(u.clients.size());

  struct Block {
    std::uint32_t client;
    std::uint64_t clock;
    std::uint64_t runs;
  };
  std::vector<Block> blocks;
  std::uint64_t nblocks = b.varuint_max(b.remaining());
  if (!b.ok()) return bad("truncated block count");
  std::uint64_t total_runs = 0;
  for (std::uint64_t i = 0; i < nblocks; ++i) {
    if (nrefs == 0) return bad("block without clients");
    Block blk;
    blk.client = static_cast<std::uint32_t>(b.varuint_max(nrefs - 1));
    blk.clock = b.varuint_max(kMaxClock - 1);
    blk.runs = b.varuint_max(body.size());  // each run takes a byte of the lengths column
    if (!b.ok()) return bad("truncated block header");
    if (blk.runs == 0) return bad("empty block");
    total_runs += blk.runs;
    if (total_runs > body.size()) return bad("more runs than bytes");
    blocks.push_back(blk);
  }
  std::string_view columns[7];
  for (std::string_view& column : columns) {
    column = b.bytes(b.varuint_max(b.remaining()));
    if (!b.ok()) return bad("truncated column");
  }
  if (Status s = read_deletes(b, u); !s.ok()) return s.error();
  if (!b.at_end()) return bad("trailing bytes");

  ByteReader infos(columns[0]), left_clients(columns[1]), left_clocks(columns[2]), right_clients(columns[3]),
      right_clocks(columns[4]), lengths(columns[5]), content(columns[6]);
  std::uint8_t info = 0;
  std::uint64_t info_left = 0;  // repeats of `info` still to use
  std::int64_t prev_left = 0, prev_right_clock = 0;
  auto explicit_origin = [&](ByteReader& clients, ByteReader& clocks, std::int64_t& prev, DecOrigin& o) {
    o.client_ref = static_cast<std::uint32_t>(clients.varuint_max(nrefs - 1));
    const std::int64_t clock = prev + unzigzag(clocks.varuint());
    if (clock < 0 || clock > static_cast<std::int64_t>(kMaxClock) - 1) clocks.fail();
    o.clock = static_cast<Clock>(clock);
    prev = clock;
    return clients.ok() && clocks.ok();
  };
  u.items.reserve(static_cast<std::size_t>(total_runs));
  for (const Block& blk : blocks) {
    std::uint64_t clock = blk.clock;
    DecOrigin prev_right;
    bool has_prev = false;
    for (std::uint64_t i = 0; i < blk.runs; ++i) {
      if (info_left == 0) {
        info = infos.byte();
        info_left = infos.varuint() + 1;
        if (!infos.ok() || info_left == 0) return bad("truncated info column");
        if (info & kReservedBits) return bad("reserved item bits set");
      }
      --info_left;
      DecItem it;
      it.client_ref = blk.client;
      Status origins = decode_origins(
          info, blk.client, clock, has_prev ? &prev_right : nullptr, true, it,
          [&](DecOrigin& o) { return explicit_origin(left_clients, left_clocks, prev_left, o); },
          [&](DecOrigin& o) { return explicit_origin(right_clients, right_clocks, prev_right_clock, o); });
      if (!origins.ok()) return origins.error();
      it.deleted = (info & kDeleted) != 0;
      const std::uint64_t len = lengths.varuint_max(it.deleted ? kMaxClock : content.remaining());
      if (!lengths.ok()) return bad("truncated lengths");
      if (it.deleted) {
        it.len = static_cast<Clock>(len);
      } else {
        it.content = content.bytes(static_cast<std::size_t>(len));
      }
      if (Status s = add_item(u, it, clock); !s.ok()) return s.error();
      prev_right = it.right;
      has_prev = true;
    }
  }
  if (info_left != 0) return bad("info column longer than its runs");
  for (ByteReader* column : {&infos, &left_clients, &left_clocks, &right_clients, &right_clocks, &lengths, &content}) {
    if (!column->at_end()) return bad("column longer than its runs");
  }
  return u;
}

}  // namespace

Result<DecodedUpdate> decode_update(std::string_view bytes) {
  ByteReader r(bytes);
  const std::uint8_t version = r.byte();
  if (!r.ok()) return bad("unknown version");
  if (version == kUpdateVersion) return decode_v1(r);
  if (version == kUpdateVersion2) return decode_v2(r);
  return bad("unknown version");
}

}  // namespace chorus::collab::detail
