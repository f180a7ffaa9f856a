// Fuzz target: chorus::utf8 (is_valid, the incremental Validator, utf16_length).
//
// Invariants: is_valid agrees with a reference checker written from RFC 3629 §4; the
// Validator gives the same verdict, chunk by chunk, however the bytes are split (it must
// fail on the first byte that cannot continue valid UTF-8, as the WebSocket fail-fast rule
// needs); utf16_length counts UTF-16 code units.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chorus/utf8.h"
#include "fuzz_util.h"

namespace {

std::size_t reference_utf16_length(std::string_view text) {
  std::size_t units = 0;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80) ++units;  // a lead byte starts a code point
    if (c >= 0xF0) ++units;           // four-byte sequences need a surrogate pair
  }
  return units;
}

// Feeds `text` in chunks whose sizes come from `sizes` (cycled), comparing every step.
void check_chunked(std::string_view text, std::string_view sizes) {
  chorus::utf8::Validator validator;
  chorus::fuzz::RefUtf8 reference;
  std::size_t pos = 0;
  std::size_t turn = 0;
  while (pos < text.size()) {
    std::size_t n = sizes.empty() ? 1 : 1 + static_cast<unsigned char>(sizes[turn++ % sizes.size()]) % 5;
    std::string_view chunk = text.substr(pos, n);
    pos += chunk.size();
    bool ok = reference.feed(chunk);
    CHORUS_FUZZ_CHECK(validator.feed(chunk) == ok);
    CHORUS_FUZZ_CHECK(validator.complete() == reference.complete());
    if (!ok) {
      CHORUS_FUZZ_CHECK(!validator.feed("a"));  // a rejection sticks until reset()
      CHORUS_FUZZ_CHECK(!validator.complete());
      break;
    }
  }
  CHORUS_FUZZ_CHECK(validator.complete() == reference.complete());
  validator.reset();
  CHORUS_FUZZ_CHECK(validator.complete());
  CHORUS_FUZZ_CHECK(validator.feed("ok"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = chorus::fuzz::as_view(data, size);

  bool valid = chorus::fuzz::RefUtf8::is_valid(input);
  CHORUS_FUZZ_CHECK(chorus::utf8::is_valid(input) == valid);
  if (valid) CHORUS_FUZZ_CHECK(chorus::utf8::utf16_length(input) == reference_utf16_length(input));

  check_chunked(input, {});     // one byte at a time
  check_chunked(input, input);  // sizes 1..5 driven by the bytes themselves
  return 0;
}
