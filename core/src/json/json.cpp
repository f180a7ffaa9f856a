#include "chorus/json/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_map>
#if __has_include(<version>)
#include <version>
#endif
#include <charconv>

#include "chorus/utf8.h"

#if defined(__EMSCRIPTEN__) && !(defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L)
// In the browser, numbers are converted by the JavaScript engine (core/src/json/number.js,
// linked into every WebAssembly build of chorus_core): its conversions are the correctly
// rounded ones JSON.parse and JSON.stringify use, and they spare each module printf,
// strtod and their long-double arithmetic (about 8 kB gzipped).
extern "C" {
// x.toExponential() (the shortest digits that read back as x) of a finite, positive x into
// `out` (ASCII, at most `cap` bytes); returns its length.
int chorus_js_number_to_exponential(double x, char* out, int cap);
// Number() of the ASCII literal at `text` (a valid JSON number).
double chorus_js_parse_number(const char* text, int len);
}
#define CHORUS_JS_NUMBERS 1
#endif

namespace chorus::json {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// One linear pass before RapidJSON sees the text: rejects raw NUL (RapidJSON's memory
// stream reports NUL as end-of-input, so "[1]\0junk" would otherwise pass), number literals
// past the length/exponent guards (RapidJSON 1.1.0 overflows on huge exponents,
// CVE-2024-38517), and lone low-surrogate escapes (RapidJSON 1.1.0 turns "\udc00" into
// bytes that are not UTF-8; it rejects lone high surrogates itself).
Status guard(std::string_view text, const Limits& limits) {
  const char* p = text.data();
  const char* end = p + text.size();
  bool prev_escape_was_high_surrogate = false;
  while (p < end) {
    char c = *p;
    if (c == '\0') return make_error(ErrorCode::kInvalidJson, "NUL byte in JSON text");
    if (c == '"') {
      ++p;
      prev_escape_was_high_surrogate = false;
      while (p < end && *p != '"') {
        if (*p == '\0') return make_error(ErrorCode::kInvalidJson, "NUL byte in JSON string");
        if (*p == '\\' && p + 1 < end) {
          if (p[1] == 'u' && end - p >= 6 && is_hex(p[2]) && is_hex(p[3]) && is_hex(p[4]) && is_hex(p[5])) {
            char h0 = p[2], h1 = p[3];
            bool d = (h0 == 'd' || h0 == 'D');
            bool high = d && ((h1 >= '8' && h1 <= '9') || h1 == 'a' || h1 == 'b' || h1 == 'A' || h1 == 'B');
            bool low = d && ((h1 >= 'c' && h1 <= 'f') || (h1 >= 'C' && h1 <= 'F'));
            if (low && !prev_escape_was_high_surrogate) {
              return make_error(ErrorCode::kInvalidJson, "lone surrogate escape in JSON string");
            }
            prev_escape_was_high_surrogate = high;
            p += 6;
            continue;
          }
          p += 2;
          prev_escape_was_high_surrogate = false;
          continue;
        }
        prev_escape_was_high_surrogate = false;
        ++p;
      }
      ++p;  // closing quote (or end; RapidJSON reports the unterminated string)
      continue;
    }
    if (c == '-' || is_digit(c)) {
      const char* start = p;
      if (*p == '-') ++p;
      while (p < end && is_digit(*p)) ++p;
      if (p < end && *p == '.') {
        ++p;
        while (p < end && is_digit(*p)) ++p;
      }
      if (p < end && (*p == 'e' || *p == 'E')) {
        ++p;
        if (p < end && (*p == '+' || *p == '-')) ++p;
        while (p < end && *p == '0') ++p;  // leading zeros do not grow the exponent
        std::uint32_t digits = 0;
        while (p < end && is_digit(*p)) {
          ++p;
          ++digits;
        }
        if (digits > limits.max_exponent_digits) {
          return make_error(ErrorCode::kLimitExceeded,
                            "number exponent has more than " + std::to_string(limits.max_exponent_digits) + " digits");
        }
      }
      if (static_cast<std::size_t>(p - start) > limits.max_number_length) {
        return make_error(ErrorCode::kLimitExceeded,
                          "number literal longer than " + std::to_string(limits.max_number_length) + " characters");
      }
      if (p == start) ++p;
      continue;
    }
    ++p;
  }
  return Ok{};
}

// Correctly rounded decimal -> double, independent of the C locale where possible.
bool to_double(std::string_view literal, double& out) {
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
  auto r = std::from_chars(literal.data(), literal.data() + literal.size(), out);
  if (r.ec == std::errc::result_out_of_range) {
    // Literals are at most max_number_length characters, so only an exponent can take a
    // value out of range: a negative one underflows to (signed) zero, as in JavaScript;
    // a positive one overflows, which JSON cannot carry.
    std::size_t e = literal.find_first_of("eE");
    if (e != std::string_view::npos && e + 1 < literal.size() && literal[e + 1] == '-') {
      out = literal[0] == '-' ? -0.0 : 0.0;
      return true;
    }
    return false;
  }
  return r.ec == std::errc() && r.ptr == literal.data() + literal.size();
#elif defined(CHORUS_JS_NUMBERS)
  out = chorus_js_parse_number(literal.data(), static_cast<int>(literal.size()));
  return !std::isnan(out);
#else
  // Emscripten's libc++ has no floating-point from_chars; its strtod runs in the C locale.
  std::string copy(literal);
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size();
#endif
}

// SAX handler building a Value with an explicit stack (no recursion at any depth). Its
// method names are RapidJSON's Handler concept, hence NOLINT(readability-identifier-naming).
class Builder {
 public:
  explicit Builder(std::uint32_t max_depth) : max_depth_(max_depth) {}

  bool Null() { return add(Value()); }
  bool Bool(bool b) { return add(Value(b)); }
  // kParseNumbersAsStringsFlag routes every number here: RapidJSON 1.1.0's own conversion
  // misreads some literals (an all-zero significand with a large exponent hits clz(0); a
  // long significand with e308 indexes past its power table), so Chorus converts them.
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(std::int64_t) { return false; }
  bool Uint64(std::uint64_t) { return false; }
  bool Double(double) { return false; }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    double d = 0;
    if (!to_double(std::string_view(s, n), d) || !std::isfinite(d)) {
      number_out_of_range_ = true;
      return false;
    }
    return add(Value(d));
  }
  bool String(const char* s, rapidjson::SizeType n, bool) { return add(Value(std::string(s, n))); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    key_.assign(s, n);
    return true;
  }
  bool StartObject() { return open(Value(Object{})); }
  bool EndObject(rapidjson::SizeType) {
    dedupe(stack_.back()->as_object());
    stack_.pop_back();
    return true;
  }
  bool StartArray() { return open(Value(Array{})); }
  bool EndArray(rapidjson::SizeType) {
    stack_.pop_back();
    return true;
  }

  Value& root() { return root_; }
  bool depth_exceeded() const { return depth_exceeded_; }
  bool number_out_of_range() const { return number_out_of_range_; }

 private:
  Value* place(Value v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Value& top = *stack_.back();
    if (top.is_array()) {
      Array& a = top.as_array();
      a.push_back(std::move(v));
      return &a.back();
    }
    // Duplicate keys are resolved at EndObject: pushing here keeps parsing linear.
    Object& o = top.as_object();
    o.push_back(Member{std::move(key_), std::move(v)});
    key_.clear();
    return &o.back().value;
  }
  bool add(Value v) {
    place(std::move(v));
    return true;
  }
  bool open(Value v) {
    if (stack_.size() >= max_depth_) {
      depth_exceeded_ = true;
      return false;
    }
    stack_.push_back(place(std::move(v)));
    return true;
  }
  // JSON.parse semantics for duplicate keys: the key keeps its first position and takes
  // the last value. Quadratic only for tiny objects; a hash map otherwise.
  static void dedupe(Object& o) {
    if (o.size() < 2) return;
    if (o.size() <= 16) {
      for (std::size_t i = 1; i < o.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
          if (o[j].key == o[i].key) {
            o[j].value = std::move(o[i].value);
            o.erase(o.begin() + static_cast<std::ptrdiff_t>(i));
            --i;
            break;
          }
        }
      }
      return;
    }
    std::unordered_map<std::string_view, std::size_t> first;
    first.reserve(o.size());
    bool any = false;
    std::vector<bool> drop(o.size(), false);
    for (std::size_t i = 0; i < o.size(); ++i) {
      auto [it, inserted] = first.emplace(o[i].key, i);
      if (!inserted) {
        o[it->second].value = std::move(o[i].value);
        drop[i] = true;
        any = true;
      }
    }
    if (!any) return;
    std::size_t w = 0;
    for (std::size_t i = 0; i < o.size(); ++i) {
      if (!drop[i]) {
        if (w != i) o[w] = std::move(o[i]);
        ++w;
      }
    }
    o.resize(w);
  }

  std::uint32_t max_depth_;
  Value root_;
  std::vector<Value*> stack_;
  std::string key_;
  bool depth_exceeded_ = false;
  bool number_out_of_range_ = false;
};

// Shortest round-trip decimal digits of a finite, positive `x`, and the exponent `n` such
// that x = 0.d1d2d3... × 10^n (ECMA-262 Number::toString's n).
void shortest_digits(double x, std::string& digits, int& n) {
  char buf[64];
  const char* sci = buf;
  std::size_t len = 0;
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
  auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  len = static_cast<std::size_t>(r.ptr - buf);
#elif defined(CHORUS_JS_NUMBERS)
  len = static_cast<std::size_t>(chorus_js_number_to_exponential(x, buf, static_cast<int>(sizeof buf)));
#else
  // Without floating-point to_chars (Emscripten's libc++): the first precision that
  // round-trips is the shortest, and printf rounds correctly, as to_chars does.
  for (int precision = 0; precision < 17; ++precision) {
    len = static_cast<std::size_t>(std::snprintf(buf, sizeof buf, "%.*e", precision, x));
    if (std::strtod(buf, nullptr) == x) break;
  }
#endif
  digits.clear();
  std::size_t i = 0;
  for (; i < len && sci[i] != 'e'; ++i) {
    if (is_digit(sci[i])) digits.push_back(sci[i]);  // skips the (locale's) decimal point
  }
  // Parse the exponent within [i + 1, len): to_chars does not NUL-terminate.
  int exp10 = 0;
  bool negative = false;
  for (std::size_t j = i + 1; j < len; ++j) {
    if (sci[j] == '-') negative = true;
    if (is_digit(sci[j])) exp10 = exp10 * 10 + (sci[j] - '0');
  }
  if (negative) exp10 = -exp10;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  n = exp10 + 1;
}

Status stringify_impl(const Value& v, std::string& out, std::uint32_t depth_left) {
  switch (v.type()) {
    case Value::Type::kNull:
      out += "null";
      return Ok{};
    case Value::Type::kBool:
      out += v.as_bool() ? "true" : "false";
      return Ok{};
    case Value::Type::kNumber:
      if (!std::isfinite(v.as_number())) {
        return make_error(ErrorCode::kInvalidJson, "non-finite number has no JSON form");
      }
      format_number(v.as_number(), out);
      return Ok{};
    case Value::Type::kString:
      if (!utf8::is_valid(v.as_string())) {
        return make_error(ErrorCode::kInvalidUtf8, "string is not valid UTF-8");
      }
      quote_string(v.as_string(), out);
      return Ok{};
    case Value::Type::kBinary:
      return make_error(ErrorCode::kInvalidJson, "binary value has no JSON form");
    case Value::Type::kArray: {
      if (depth_left == 0) return make_error(ErrorCode::kLimitExceeded, "JSON nesting too deep");
      out.push_back('[');
      bool first = true;
      for (const Value& item : v.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        Status s = stringify_impl(item, out, depth_left - 1);
        if (!s) return s;
      }
      out.push_back(']');
      return Ok{};
    }
    case Value::Type::kObject: {
      if (depth_left == 0) return make_error(ErrorCode::kLimitExceeded, "JSON nesting too deep");
      out.push_back('{');
      bool first = true;
      for (const Member& m : v.as_object()) {
        if (!first) out.push_back(',');
        first = false;
        if (!utf8::is_valid(m.key)) {
          return make_error(ErrorCode::kInvalidUtf8, "object key is not valid UTF-8");
        }
        quote_string(m.key, out);
        out.push_back(':');
        Status s = stringify_impl(m.value, out, depth_left - 1);
        if (!s) return s;
      }
      out.push_back('}');
      return Ok{};
    }
  }
  return Ok{};
}

}  // namespace

Result<Value> parse(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_payload) {
    return make_error(ErrorCode::kLimitExceeded, "JSON text exceeds " + std::to_string(limits.max_payload) + " bytes");
  }
  Status g = guard(text, limits);
  if (!g) return g.error();

  rapidjson::MemoryStream stream(text.data(), text.size());
  rapidjson::Reader reader;
  Builder builder(limits.max_json_depth);
  constexpr unsigned kFlags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;
  rapidjson::ParseResult r = reader.Parse<kFlags>(stream, builder);
  if (r.IsError()) {
    if (builder.depth_exceeded()) {
      return make_error(ErrorCode::kLimitExceeded, "JSON nesting deeper than " + std::to_string(limits.max_json_depth));
    }
    if (builder.number_out_of_range() || r.Code() == rapidjson::kParseErrorNumberTooBig) {
      return make_error(ErrorCode::kLimitExceeded, "number out of range");
    }
    if (r.Code() == rapidjson::kParseErrorStringInvalidEncoding) {
      return make_error(ErrorCode::kInvalidUtf8, "invalid UTF-8 in JSON string");
    }
    return make_error(ErrorCode::kInvalidJson,
                      std::string(rapidjson::GetParseError_En(r.Code())) + " at offset " + std::to_string(r.Offset()));
  }
  return std::move(builder.root());
}

Status stringify_to(const Value& value, std::string& out, std::uint32_t max_depth) {
  return stringify_impl(value, out, max_depth);
}

Result<std::string> stringify(const Value& value, std::uint32_t max_depth) {
  std::string out;
  Status s = stringify_impl(value, out, max_depth);
  if (!s) return s.error();
  return out;
}

void format_number(double x, std::string& out) {
  if (x == 0) {  // also -0, which JavaScript prints as "0"
    out.push_back('0');
    return;
  }
  if (x < 0) {
    out.push_back('-');
    x = -x;
  }
  if (x < 9007199254740992.0 && x == std::floor(x)) {  // exact integer below 2^53
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::uint64_t>(x));
    out.append(buf, r.ptr);
    return;
  }
  std::string d;
  int n = 0;
  shortest_digits(x, d, n);
  const int k = static_cast<int>(d.size());
  if (k <= n && n <= 21) {
    out += d;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(d, 0, static_cast<std::size_t>(n));
    out.push_back('.');
    out.append(d, static_cast<std::size_t>(n), std::string::npos);
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += d;
  } else {
    out.push_back(d[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(d, 1, std::string::npos);
    }
    out.push_back('e');
    int e = n - 1;
    out.push_back(e < 0 ? '-' : '+');
    out += std::to_string(e < 0 ? -e : e);
  }
}

void quote_string(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + text.size() + 2);
  out.push_back('"');
  std::size_t run = 0;  // start of the pending run of bytes that need no escape
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(text.data() + run, text.size() - run);
  out.push_back('"');
}

}  // namespace chorus::json
