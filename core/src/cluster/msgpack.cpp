#include "chorus/cluster/msgpack.h"

#include <msgpack.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chorus/json/json.h"
#include "chorus/utf8.h"

namespace chorus::msgpack {
namespace {

// ---------------------------------------------------------------------------------------
// Encoding

// msgpack-cxx's packer writes to any type with write(const char*, size_t).
struct StringStream {
  std::string* out;
  void write(const char* data, std::size_t size) { out->append(data, size); }
};
using Packer = ::msgpack::packer<StringStream>;

constexpr double kTwoTo63 = 9223372036854775808.0;
constexpr double kTwoTo64 = 18446744073709551616.0;

void put_float64(double x, std::string& out) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  out.push_back(static_cast<char>(0xcb));
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((bits >> shift) & 0xff));
}

constexpr double kMaxSafeInteger = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER

void encode_value(const Value& value, Packer& packer, std::string& out, Dialect dialect) {
  switch (value.type()) {
    case Value::Type::kNull:
      packer.pack_nil();
      return;
    case Value::Type::kBool:
      if (value.as_bool()) {
        packer.pack_true();
      } else {
        packer.pack_false();
      }
      return;
    case Value::Type::kNumber: {
      // As notepack: an integer takes the smallest int form (uint for >= 0, so -0 is 0), any
      // other number float64. Integers past the 64-bit forms go as float64 (notepack would
      // write a wrong uint64 there).
      // @msgpack/msgpack writes ints for safe integers only (Number.isSafeInteger).
      double x = value.as_number();
      const bool in_range =
          dialect == Dialect::kMsgpackJs ? std::fabs(x) <= kMaxSafeInteger : x >= -kTwoTo63 && x < kTwoTo64;
      if (std::isfinite(x) && std::floor(x) == x && in_range) {
        if (x >= 0) {
          packer.pack_uint64(static_cast<std::uint64_t>(x));
        } else {
          packer.pack_int64(static_cast<std::int64_t>(x));
        }
      } else {
        put_float64(x, out);
      }
      return;
    }
    case Value::Type::kString: {
      const std::string& s = value.as_string();
      packer.pack_str(static_cast<std::uint32_t>(s.size()));
      packer.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
      return;
    }
    case Value::Type::kBinary: {
      const Binary& b = value.as_binary();
      packer.pack_bin(static_cast<std::uint32_t>(b.size()));
      packer.pack_bin_body(reinterpret_cast<const char*>(b.data()), static_cast<std::uint32_t>(b.size()));
      return;
    }
    case Value::Type::kArray:
      packer.pack_array(static_cast<std::uint32_t>(value.as_array().size()));
      for (const Value& item : value.as_array()) encode_value(item, packer, out, dialect);
      return;
    case Value::Type::kObject:
      packer.pack_map(static_cast<std::uint32_t>(value.as_object().size()));
      for (const Member& m : value.as_object()) {
        packer.pack_str(static_cast<std::uint32_t>(m.key.size()));
        packer.pack_str_body(m.key.data(), static_cast<std::uint32_t>(m.key.size()));
        encode_value(m.value, packer, out, dialect);
      }
      return;
  }
}

// ---------------------------------------------------------------------------------------
// Decoding

// Every string, bin and ext is referenced in the input rather than copied: the conversion
// copies it once into the Value, and ext headers are read back from the input (below).
bool reference_all(::msgpack::type::object_type, std::size_t, void*) {
  return true;
}

Error malformed(std::string what) {
  return make_error(ErrorCode::kInvalidPacket, "msgpack: " + std::move(what));
}

std::uint32_t read_u32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) | u[3];
}
std::int32_t read_i32(const char* p) {
  return static_cast<std::int32_t>(read_u32(p));
}

// civil_from_days (H. Hinnant): days since 1970-01-01 -> proleptic Gregorian date.
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

// What JSON.stringify writes for `new Date(t)`: the toISOString() form, or null for an
// invalid date (TimeClip: not finite or beyond ±8.64e15 ms).
Value js_date(double t) {
  if (!std::isfinite(t) || std::fabs(t) > 8.64e15) return Value();
  auto ms = static_cast<std::int64_t>(std::trunc(t));
  std::int64_t days = ms / 86'400'000;
  std::int64_t rem = ms % 86'400'000;
  if (rem < 0) {
    rem += 86'400'000;
    --days;
  }
  std::int64_t year = 0;
  unsigned month = 0, day = 0;
  civil_from_days(days, year, month, day);
  char buf[64];
  char year_text[24];
  if (year >= 0 && year <= 9999) {
    std::snprintf(year_text, sizeof year_text, "%04lld", static_cast<long long>(year));
  } else {
    std::snprintf(year_text, sizeof year_text, "%c%06lld", year < 0 ? '-' : '+',
                  static_cast<long long>(year < 0 ? -year : year));
  }
  std::snprintf(buf, sizeof buf, "%s-%02u-%02uT%02u:%02u:%02u.%03uZ", year_text, month, day,
                static_cast<unsigned>(rem / 3'600'000), static_cast<unsigned>(rem / 60'000 % 60),
                static_cast<unsigned>(rem / 1000 % 60), static_cast<unsigned>(rem % 1000));
  return Value(std::string(buf));
}

// The JavaScript string form of a number used as a property key (String(n)).
std::string js_number_key(double n) {
  if (std::isnan(n)) return "NaN";
  if (std::isinf(n)) return n > 0 ? "Infinity" : "-Infinity";
  std::string out;
  json::format_number(n, out);
  return out;
}

// Map members as they are decoded, before JavaScript's assignment semantics apply.
struct PendingMember {
  std::string key;
  Value value;
  bool undefined = false;
};

class Converter {
 public:
  explicit Converter(Dialect dialect) : dialect_(dialect) {}

  // `undefined` is set for notepack's legacy ext 0 "undefined" (fixext 1, type 0).
  Status convert(const ::msgpack::object& o, Value& out, bool& undefined) {
    undefined = false;
    switch (o.type) {
      case ::msgpack::type::NIL:
        out = Value();
        return Ok{};
      case ::msgpack::type::BOOLEAN:
        out = Value(o.via.boolean);
        return Ok{};
      case ::msgpack::type::POSITIVE_INTEGER:
        out = Value(static_cast<double>(o.via.u64));
        return Ok{};
      case ::msgpack::type::NEGATIVE_INTEGER:
        out = Value(static_cast<double>(o.via.i64));
        return Ok{};
      case ::msgpack::type::FLOAT32:
      case ::msgpack::type::FLOAT64:
        // Non-finite numbers become null, as JSON.stringify writes them.
        out = std::isfinite(o.via.f64) ? Value(o.via.f64) : Value();
        return Ok{};
      case ::msgpack::type::STR: {
        std::string_view s(o.via.str.ptr, o.via.str.size);
        if (!utf8::is_valid(s)) return make_error(ErrorCode::kInvalidUtf8, "msgpack: str is not valid UTF-8");
        out = Value(std::string(s));
        return Ok{};
      }
      case ::msgpack::type::BIN: {
        const auto* p = reinterpret_cast<const std::uint8_t*>(o.via.bin.ptr);
        out = Value(Binary(p, p + o.via.bin.size));
        return Ok{};
      }
      case ::msgpack::type::EXT:
        return convert_ext(o, out, undefined);
      case ::msgpack::type::ARRAY: {
        Array items(o.via.array.size);
        for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
          bool item_undefined = false;
          Status s = convert(o.via.array.ptr[i], items[i], item_undefined);
          if (!s) return s;
          // [undefined] is written [null] by JSON.stringify; items[i] is already null.
        }
        out = Value(std::move(items));
        return Ok{};
      }
      case ::msgpack::type::MAP:
        return convert_map(o, out);
    }
    return malformed("unknown object type");
  }

 private:
  // The byte that introduced an ext whose [type, data...] starts at `type_byte`: fixext
  // 1/2/4/8/16 are one byte before it; ext 8/16/32 put their length there, which for the
  // sizes of the fixext forms (1, 2, 4, 8, 16) is never 0xd4-0xd8.
  static bool is_fixext(const char* type_byte, std::uint32_t size) {
    auto header = static_cast<unsigned char>(type_byte[-1]);
    switch (size) {
      case 1:
        return header == 0xd4;
      case 2:
        return header == 0xd5;
      case 4:
        return header == 0xd6;
      case 8:
        return header == 0xd7;
      case 16:
        return header == 0xd8;
      default:
        return false;
    }
  }

  // notepack's ext forms: timestamp (-1) as 32/64/96 bits; legacy type 0: fixext 1 is
  // undefined, fixext 8 a Date in milliseconds, ext 8/16/32 an ArrayBuffer. Every other
  // ext (which notepack returns as [type, Buffer]) is refused.
  Status convert_ext(const ::msgpack::object& o, Value& out, bool& undefined) {
    const char* type_byte = o.via.ext.ptr;
    const char* data = type_byte + 1;
    const std::uint32_t size = o.via.ext.size;
    const auto type = static_cast<std::int8_t>(*type_byte);
    const bool fixext = is_fixext(type_byte, size);
    if (type == -1) {
      if (fixext && size == 4) {  // timestamp 32: seconds
        out = js_date(static_cast<double>(read_u32(data)) * 1e3);
        return Ok{};
      }
      if (fixext && size == 8) {  // timestamp 64: 30-bit nanoseconds, 34-bit seconds
        std::uint32_t hi = read_u32(data), lo = read_u32(data + 4);
        double seconds = static_cast<double>(hi & 0x3) * 4294967296.0 + static_cast<double>(lo);
        out = js_date(seconds * 1e3 + static_cast<double>(hi >> 2) / 1e6);
        return Ok{};
      }
      if (!fixext && size == 12) {  // timestamp 96: 32-bit nanoseconds, signed 64-bit seconds
        double ns = read_u32(data);
        double seconds =
            static_cast<double>(read_i32(data + 4)) * 4294967296.0 + static_cast<double>(read_u32(data + 8));
        out = js_date(seconds * 1e3 + ns / 1e6);
        return Ok{};
      }
      return malformed("timestamp ext of " + std::to_string(size) + " bytes");
    }
    if (type == 0 && dialect_ == Dialect::kNotepack) {
      if (fixext && size == 1) {  // legacy undefined
        out = Value();
        undefined = true;
        return Ok{};
      }
      if (fixext && size == 8) {  // legacy Date: signed 64-bit milliseconds
        out = js_date(static_cast<double>(read_i32(data)) * 4294967296.0 + static_cast<double>(read_u32(data + 4)));
        return Ok{};
      }
      if (!fixext) {  // legacy ArrayBuffer
        const auto* p = reinterpret_cast<const std::uint8_t*>(data);
        out = Value(Binary(p, p + size));
        return Ok{};
      }
    }
    return malformed("ext type " + std::to_string(type) + " (" + std::to_string(size) + " bytes) is not supported");
  }

  Status convert_map(const ::msgpack::object& o, Value& out) {
    std::vector<PendingMember> members(o.via.map.size);
    for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
      const ::msgpack::object& key = o.via.map.ptr[i].key;
      PendingMember& m = members[i];
      switch (key.type) {
        case ::msgpack::type::STR: {
          std::string_view s(key.via.str.ptr, key.via.str.size);
          if (!utf8::is_valid(s)) return make_error(ErrorCode::kInvalidUtf8, "msgpack: map key is not valid UTF-8");
          m.key.assign(s);
          break;
        }
        case ::msgpack::type::POSITIVE_INTEGER:
          m.key = js_number_key(static_cast<double>(key.via.u64));
          break;
        case ::msgpack::type::NEGATIVE_INTEGER:
          m.key = js_number_key(static_cast<double>(key.via.i64));
          break;
        case ::msgpack::type::FLOAT32:
        case ::msgpack::type::FLOAT64:
          m.key = js_number_key(key.via.f64);
          break;
        default:
          return malformed("map key is neither a string nor a number");
      }
      if (dialect_ == Dialect::kMsgpackJs && m.key == "__proto__") return malformed("the map key __proto__");
      Status s = convert(o.via.map.ptr[i].val, m.value, m.undefined);
      if (!s) return s;
    }
    // JavaScript assignment (obj[key] = value): a repeated key keeps its first position and
    // takes the last value; a key whose value ends up undefined is left out, as
    // JSON.stringify leaves it out.
    std::unordered_map<std::string_view, std::size_t> first;
    std::vector<bool> drop(members.size(), false);
    if (members.size() > 1) {
      first.reserve(members.size());
      for (std::size_t i = 0; i < members.size(); ++i) {
        auto [it, inserted] = first.emplace(members[i].key, i);
        if (!inserted) {
          PendingMember& kept = members[it->second];
          kept.value = std::move(members[i].value);
          kept.undefined = members[i].undefined;
          drop[i] = true;
        }
      }
    }
    Object object;
    object.reserve(members.size());
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (drop[i] || members[i].undefined) continue;
      object.push_back(Member{std::move(members[i].key), std::move(members[i].value)});
    }
    out = Value(std::move(object));
    return Ok{};
  }

  Dialect dialect_;
};

}  // namespace

void encode(const Value& value, std::string& out, Dialect dialect) {
  StringStream stream{&out};
  Packer packer(stream);
  encode_value(value, packer, out, dialect);
}

std::string encode(const Value& value, Dialect dialect) {
  std::string out;
  encode(value, out, dialect);
  return out;
}

Result<Value> decode(std::string_view bytes, const Limits& limits, Dialect dialect) {
  if (bytes.empty()) return malformed("empty input");
  // No array, map, str, bin or ext can hold more elements or bytes than the input has, so
  // these limits refuse a header claiming more before anything is allocated for it: the
  // memory a decode takes stays proportional to the input's size.
  const std::size_t n = bytes.size();
  ::msgpack::unpack_limit limit(n, n / 2, n, n, n, limits.max_json_depth);
  std::size_t offset = 0;
  ::msgpack::object_handle handle;
  try {
    handle = ::msgpack::unpack(bytes.data(), n, offset, reference_all, nullptr, limit);
  } catch (const ::msgpack::depth_size_overflow&) {
    return make_error(ErrorCode::kLimitExceeded,
                      "msgpack: nesting deeper than " + std::to_string(limits.max_json_depth));
  } catch (const ::msgpack::size_overflow&) {
    return malformed("truncated (a length larger than the input)");
  } catch (const ::msgpack::insufficient_bytes&) {
    return malformed("truncated");
  } catch (const ::msgpack::parse_error&) {
    return malformed("not msgpack (a reserved type byte)");
  } catch (const std::exception& e) {
    return malformed(e.what());
  }
  if (offset != n) return malformed(std::to_string(n - offset) + " trailing bytes after the value");
  Value out;
  bool undefined = false;
  Status s = Converter(dialect).convert(handle.get(), out, undefined);
  if (!s) return s.error();
  return out;
}

}  // namespace chorus::msgpack
