#!/usr/bin/env bash
# Starts the Chorus demo on http://127.0.0.1:8080: installs what is missing, builds native
# and WASM, and runs chorus-server on the demo page. Idempotent; Ctrl-C stops it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash toolchains/setup.sh
jobs="${CHORUS_JOBS:-$(nproc)}"
cmake --preset wasm >/dev/null
cmake --build --preset wasm -j "$jobs"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs" --target chorus-server
node demo/build.mjs
exec build/release/server/chorus-server --host 127.0.0.1 --port "${CHORUS_PORT:-8080}" \
  --root demo --sdk build/wasm/wasm --docs-db build/demo-docs.db "$@"
