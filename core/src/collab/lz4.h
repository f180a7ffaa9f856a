// The LZ4 block format (https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md), written
// here for the collab encoding because the same code has to run natively and in the
// WebAssembly build: Debian's liblz4 serves the native build only, and Emscripten fetches
// its compression ports at build time, which this project's builds may not do. The
// compressor finds matches through hash chains (as LZ4's high-compression mode does); the
// decompressor checks every length and offset against its input and output. Internal to
// core/src/collab.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "chorus/error.h"

namespace chorus::collab::detail {

// One LZ4 block holding `input`. `max_attempts`: match candidates tried per position (more is
// smaller and slower).
std::string lz4_compress(std::string_view input, int max_attempts = 16);

// Decompresses one LZ4 block that must expand to exactly `size` bytes.
Result<std::string> lz4_decompress(std::string_view block, std::size_t size);

}  // namespace chorus::collab::detail
