// Fuzz target: chorus::json::parse on arbitrary bytes.
//
// Invariants: parse never crashes; what it accepts holds only finite numbers, valid UTF-8 and
// no Binary, within the depth limit; stringify succeeds on it, and parse(stringify(v)) == v
// with stringify stable from then on. Tighter limits only ever reject more, and the size
// limit holds at the limit and one byte past it. A lone number literal parses to what
// strtod (correctly rounded in glibc) gives, or is rejected by a number guard or as out of
// range: the round trip alone cannot see a number decoded to the wrong value.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "chorus/json/json.h"
#include "chorus/limits.h"
#include "chorus/utf8.h"
#include "fuzz_util.h"

namespace {

using chorus::Limits;
using chorus::Value;

void check_round_trip(const Value& value, const Limits& limits) {
  chorus::fuzz::ValueStats stats = chorus::fuzz::stats_of(value);
  CHORUS_FUZZ_CHECK(stats.binaries == 0);
  CHORUS_FUZZ_CHECK(stats.all_finite);
  CHORUS_FUZZ_CHECK(stats.valid_utf8);
  CHORUS_FUZZ_CHECK(stats.depth <= limits.max_json_depth);

  // Accepted JSON is representable, so stringify has no excuse to fail.
  auto text = chorus::json::stringify(value, limits.max_json_depth);
  CHORUS_FUZZ_CHECK(text.ok());
  CHORUS_FUZZ_CHECK(chorus::utf8::is_valid(text.value()));

  // stringify_to appends.
  std::string appended = "#";
  CHORUS_FUZZ_CHECK(chorus::json::stringify_to(value, appended, limits.max_json_depth).ok());
  CHORUS_FUZZ_CHECK(appended == "#" + text.value());

  // Number formatting can lengthen the text ("1e20" -> "100000000000000000000", "10e99" ->
  // "1e+100"): re-parse with the size and number guards relaxed to what stringify can emit.
  Limits roomy = limits;
  roomy.max_payload = text.value().size() + 1;
  roomy.max_number_length = Limits{}.max_number_length;
  roomy.max_exponent_digits = Limits{}.max_exponent_digits;
  auto again = chorus::json::parse(text.value(), roomy);
  CHORUS_FUZZ_CHECK(again.ok());
  CHORUS_FUZZ_CHECK(again.value() == value);

  auto text2 = chorus::json::stringify(again.value(), limits.max_json_depth);
  CHORUS_FUZZ_CHECK(text2.ok());
  CHORUS_FUZZ_CHECK(text2.value() == text.value());
}

bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// When `text` is one JSON number literal (RFC 8259 §6) between optional whitespace, stores
// the literal, its length and its exponent's significant digits.
bool lone_number(std::string_view text, std::string& literal, std::size_t& exponent_digits) {
  while (!text.empty() && is_json_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_json_space(text.back())) text.remove_suffix(1);
  std::size_t i = 0;
  const std::size_t n = text.size();
  if (i < n && text[i] == '-') ++i;
  if (i < n && text[i] == '0') {
    ++i;
  } else if (i < n && is_digit(text[i])) {
    while (i < n && is_digit(text[i])) ++i;
  } else {
    return false;
  }
  if (i < n && text[i] == '.') {
    ++i;
    if (i == n || !is_digit(text[i])) return false;
    while (i < n && is_digit(text[i])) ++i;
  }
  exponent_digits = 0;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    if (i == n || !is_digit(text[i])) return false;
    while (i < n && text[i] == '0') ++i;
    while (i < n && is_digit(text[i])) {
      ++i;
      ++exponent_digits;
    }
  }
  if (i != n) return false;
  literal.assign(text);
  return true;
}

void check_number(std::string_view input, const chorus::Result<Value>& parsed, const Limits& limits) {
  std::string literal;
  std::size_t exponent_digits = 0;
  if (!lone_number(input, literal, exponent_digits)) return;
  bool guarded = literal.size() > limits.max_number_length || exponent_digits > limits.max_exponent_digits;
  if (guarded || input.size() > limits.max_payload) {
    CHORUS_FUZZ_CHECK(!parsed.ok());
    return;
  }
  double expected = std::strtod(literal.c_str(), nullptr);
  if (!std::isfinite(expected)) {
    CHORUS_FUZZ_CHECK(!parsed.ok());  // JSON.parse would give Infinity: no JSON form
    return;
  }
  // Documented difference: a zero with an exponent past 308 ("0e1245") is refused by
  // RapidJSON's scanner before Chorus converts the literal; JSON.parse gives 0.
  if (!parsed.ok() && expected == 0) return;
  CHORUS_FUZZ_CHECK(parsed.ok());
  CHORUS_FUZZ_CHECK(parsed.value().is_number());
  CHORUS_FUZZ_CHECK(parsed.value().as_number() == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = chorus::fuzz::as_view(data, size);

  const Limits defaults;
  auto parsed = chorus::json::parse(input, defaults);
  if (parsed.ok()) check_round_trip(parsed.value(), defaults);
  check_number(input, parsed, defaults);

  // Tight limits: small depth and number guards, size exactly at the limit.
  Limits tight;
  tight.max_payload = size < defaults.max_payload ? size : defaults.max_payload;
  tight.max_json_depth = 6;
  tight.max_number_length = 24;
  tight.max_exponent_digits = 2;
  auto strict = chorus::json::parse(input, tight);
  check_number(input, strict, tight);
  if (strict.ok()) {
    CHORUS_FUZZ_CHECK(parsed.ok());
    CHORUS_FUZZ_CHECK(strict.value() == parsed.value());
    check_round_trip(strict.value(), tight);
  }

  // One byte past the size limit is rejected, whatever the content.
  if (size > 0) {
    Limits small = defaults;
    small.max_payload = size - 1;
    CHORUS_FUZZ_CHECK(!chorus::json::parse(input, small).ok());
  }
  return 0;
}
