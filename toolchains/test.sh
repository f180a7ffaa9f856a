#!/usr/bin/env bash
# Runs every Chorus test: unit (ASan+UBSan), differential against the reference npm parsers,
# fuzz corpus replay, timed libFuzzer runs, and WASM/native parity. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash toolchains/setup.sh

jobs="${CHORUS_JOBS:-$(nproc)}"
echo "== building wasm (Emscripten)"
cmake --preset wasm >/dev/null
cmake --build --preset wasm -j "$jobs"
echo "== bundling the demo (esbuild)"
node demo/build.mjs
echo "== building fuzz targets (clang, libFuzzer)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"
echo "== building native tests (g++, ASan+UBSan)"
cmake --preset debug -DCHORUS_WASM_DIR="$root/build/wasm" -DCHORUS_FUZZ_DIR="$root/build/fuzz" \
  -DCHORUS_FUZZ_SECONDS="${CHORUS_FUZZ_SECONDS:-20}" >/dev/null
cmake --build --preset debug -j "$jobs"
echo "== running tests"
cd build/debug
exec ctest --output-on-failure -j "$jobs" --timeout 600
