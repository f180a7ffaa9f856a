#!/usr/bin/env bash
# Collab engine benchmark: Chorus (native and WASM under Node) vs Yjs, same traces, same run.
#
#   bench/collab/run.sh                 5 runs of each (several minutes: Yjs takes seconds per run)
#   bench/collab/run.sh --runs 3
#   bench/collab/run.sh --skip-build
#
# Builds build/h-crdt-rel (native Release) and build/h-crdt-wasm (Emscripten) from
# bench/collab/CMakeLists.txt, runs collab_bench natively and as collab_bench.cjs under Node,
# runs yjs_bench.mjs (npm yjs from the repository's node_modules: run `npm install` first),
# and writes bench/collab/results.md (raw JSON lines in build/h-crdt-rel/collab-results/).
# Environment: CHORUS_TRACES_DIR (default: shared/traces beside the repository),
# BENCH_JOBS (build parallelism, default 1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs=5
skip_build=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift ;;
    --skip-build) skip_build=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

traces="${CHORUS_TRACES_DIR:-$root/../shared/traces}"
if [ ! -f "$traces/automerge-paper.json" ]; then
  echo "run.sh: traces not found in $traces (set CHORUS_TRACES_DIR)" >&2
  exit 1
fi
jobs="${BENCH_JOBS:-1}"
native_dir="$root/build/h-crdt-rel"
wasm_dir="$root/build/h-crdt-wasm"
out_dir="$native_dir/collab-results"

if [ "$skip_build" = 0 ]; then
  cmake -S "$here" -B "$native_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$native_dir" -j "$jobs" collab_bench
  NODE_PATH=/usr/share/nodejs cmake -S "$here" -B "$wasm_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/emscripten.cmake" >/dev/null
  ninja -C "$wasm_dir" -j "$jobs" collab_bench
fi
if [ ! -d "$root/node_modules/yjs" ]; then
  echo "run.sh: node_modules/yjs missing: run npm install in $root" >&2
  exit 1
fi

mkdir -p "$out_dir"
# Other work on a shared machine slows every contender alike; the ratios hold up better than
# the absolute times, and the load average goes into the report.
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "== Chorus native ($runs runs)"
"$native_dir/collab_bench" "$traces" "$runs" | tee "$out_dir/native.jsonl"
echo "== Chorus WASM under Node ($runs runs)"
node "$wasm_dir/collab_bench.cjs" "$traces" "$runs" | tee "$out_dir/wasm.jsonl"
echo "== Yjs under Node ($runs runs)"
(cd "$root" && node --expose-gc "$here/yjs_bench.mjs" "$traces" "$runs") | tee "$out_dir/yjs.jsonl"

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
yjs_version="$(node -p "require('$root/node_modules/yjs/package.json').version")"
emcc_version="$(emcc --version 2>/dev/null | head -1 | grep -o '[0-9]*\.[0-9]*\.[0-9]*' | head -1 || true)"
env_line="$(date -u +%Y-%m-%d), ${cpu:-unknown CPU}, $(nproc) cores shared, Node $(node --version), yjs ${yjs_version}, Emscripten ${emcc_version}, $(c++ --version | head -1), load average at start ${load_at_start}"
node "$here/summarize.mjs" "$out_dir/native.jsonl" "$out_dir/wasm.jsonl" "$out_dir/yjs.jsonl" \
  "$here/results.md" "$env_line" >/dev/null
echo "== wrote $here/results.md"
