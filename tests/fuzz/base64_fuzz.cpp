// Fuzz target: chorus::base64::decode on arbitrary text, and encode on arbitrary bytes.
//
// Invariants: decode agrees with a reference decoder written from RFC 4648 §4 (strict
// alphabet, '=' only as final padding, an unpadded final group allowed); where the header
// leaves the verdict open ("AA=", non-zero trailing bits) an accepted input still decodes to
// the reference bytes. encode(decode(x)) re-decodes equal; decode(encode(b)) == b.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chorus/base64.h"
#include "fuzz_util.h"

namespace {

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

enum class Verdict { kValid, kInvalid, kEither };

struct Reference {
  Verdict verdict = Verdict::kInvalid;
  std::string bytes;  // the decoded bytes when the verdict is not kInvalid
};

Reference reference_decode(std::string_view text) {
  Reference ref;
  std::size_t padding = 0;
  while (padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  std::string_view body = text.substr(0, text.size() - padding);
  for (char c : body) {
    if (sextet(c) < 0) return ref;  // outside the alphabet, or '=' before the end
  }
  if (padding > 2 || body.size() % 4 == 1) return ref;
  if (padding > 0 && body.size() % 4 == 0) return ref;  // padding after a full group
  if (padding > 0 && text.size() % 4 != 0) {
    ref.verdict = Verdict::kEither;  // partially padded ("AA="): the header does not say
  } else {
    ref.verdict = Verdict::kValid;
  }
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : body) {
    acc = (acc << 6) | static_cast<std::uint32_t>(sextet(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      ref.bytes.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Non-zero leftover bits ("QR=="): Node accepts them, a strict decoder may not.
  if ((acc & ((1u << bits) - 1)) != 0) ref.verdict = Verdict::kEither;
  return ref;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = chorus::fuzz::as_view(data, size);

  Reference ref = reference_decode(input);
  auto decoded = chorus::base64::decode(input);
  if (ref.verdict == Verdict::kValid) CHORUS_FUZZ_CHECK(decoded.ok());
  if (ref.verdict == Verdict::kInvalid) CHORUS_FUZZ_CHECK(!decoded.ok());
  if (decoded.ok()) {
    CHORUS_FUZZ_CHECK(decoded.value() == ref.bytes);
    std::string encoded = chorus::base64::encode(decoded.value());
    CHORUS_FUZZ_CHECK(encoded.size() == (decoded.value().size() + 2) / 3 * 4);
    auto again = chorus::base64::decode(encoded);
    CHORUS_FUZZ_CHECK(again.ok());
    CHORUS_FUZZ_CHECK(again.value() == decoded.value());
    // A canonical padded input is reproduced exactly.
    if (ref.verdict == Verdict::kValid && input.size() % 4 == 0) CHORUS_FUZZ_CHECK(encoded == input);
  }

  // The raw bytes as data: encode, then decode back.
  std::string encoded = "#";
  chorus::base64::encode(input, encoded);
  CHORUS_FUZZ_CHECK(encoded.size() == 1 + (size + 2) / 3 * 4);
  CHORUS_FUZZ_CHECK(encoded.substr(1) == chorus::base64::encode(input));
  auto round = chorus::base64::decode(std::string_view(encoded).substr(1));
  CHORUS_FUZZ_CHECK(round.ok());
  CHORUS_FUZZ_CHECK(round.value() == input);
  return 0;
}
