// Base64 (RFC 4648 §4, with padding), as Engine.IO uses for binary data in text transports.
#pragma once

#include <string>
#include <string_view>

#include "chorus/error.h"

namespace chorus::base64 {

void encode(std::string_view bytes, std::string& out);
std::string encode(std::string_view bytes);

// Strict decoding: only the standard alphabet, length a multiple of 4 with '=' padding
// (an unpadded final group is accepted too, as Node's Buffer and atob do), no whitespace.
Result<std::string> decode(std::string_view text);

}  // namespace chorus::base64
