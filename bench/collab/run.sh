#!/usr/bin/env bash
# Collaboration engine benchmark: every trace file of a folder through Chorus native (Release),
# the shipped WASM module (chorus_collab.mjs, driven from JavaScript as a page drives it), Yjs
# and diamond-types-node, in the same run; each run of each engine and trace in a fresh
# process.
#
#   bench/collab/run.sh                       5 runs of each (several minutes: Yjs takes seconds)
#   bench/collab/run.sh --runs 3 --traces DIR
#   bench/collab/run.sh --quick               1 run of each, results.md left alone
#
# Traces: every *.json of DIR (default: shared/traces beside the repository) whose "format"
# is flat-edits-v1 (sequential) or concurrent-v1 (concurrent); other files are skipped.
# Builds build/h-crdt-rel (native Release, bench/collab/CMakeLists.txt) and the wasm preset's
# chorus_collab target (build/wasm: the module the server ships). Needs npm yjs and
# diamond-types-node in the repository's node_modules (locked devDependencies).
# Writes bench/collab/results.md (raw JSON lines in build/h-crdt-rel/collab-results/).
# Environment: BENCH_JOBS (build parallelism, default 1); CHORUS_BASELINE_MODULE (the path of
# another build's chorus_collab.mjs, e.g. of an earlier commit: measured too, as "before").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs=5
quick=0
traces="$root/../shared/traces"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs)
      [ $# -ge 2 ] || { echo "run.sh: --runs needs a number" >&2; exit 2; }
      runs="$2"; shift ;;
    --traces)
      [ $# -ge 2 ] || { echo "run.sh: --traces needs a folder" >&2; exit 2; }
      traces="$2"; shift ;;
    --quick) quick=1; runs=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if ! [[ "$runs" =~ ^[1-9][0-9]?$ ]]; then
  echo "run.sh: --runs must be a whole number from 1 to 99, got '$runs'" >&2
  exit 2
fi
if [ ! -d "$traces" ]; then
  echo "run.sh: no trace folder $traces (pass --traces DIR)" >&2
  exit 1
fi
for pkg in yjs diamond-types-node; do
  if [ ! -d "$root/node_modules/$pkg" ]; then
    echo "run.sh: node_modules/$pkg missing: run npm ci in $root" >&2
    exit 1
  fi
done

# The trace files: any name, told apart by their "format".
trace_files=()
for f in "$traces"/*.json; do
  [ -f "$f" ] || continue
  format="$(head -c 4096 "$f" | grep -o '"format": *"[a-z0-9-]*"' | head -1 | sed 's/.*"\([a-z0-9-]*\)"$/\1/' || true)"
  case "$format" in
    flat-edits-v1|concurrent-v1) trace_files+=("$f") ;;
    *) echo "run.sh: skipping $(basename "$f") (format '${format:-none}')" >&2 ;;
  esac
done
if [ ${#trace_files[@]} -eq 0 ]; then
  echo "run.sh: no flat-edits-v1 or concurrent-v1 trace in $traces" >&2
  exit 1
fi

jobs="${BENCH_JOBS:-1}"
native_dir="$root/build/h-crdt-rel"
wasm_dir="$root/build/wasm"
out_dir="$native_dir/collab-results"
cmake -S "$here" -B "$native_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$native_dir" -j "$jobs" collab_bench >/dev/null
if [ ! -f "$wasm_dir/CMakeCache.txt" ]; then
  (cd "$root" && cmake --preset wasm >/dev/null)
fi
cmake --build "$wasm_dir" -j "$jobs" --target chorus_collab >/dev/null
module="$wasm_dir/wasm/chorus_collab.mjs"

mkdir -p "$out_dir"
raw="$out_dir/runs.jsonl"
: > "$raw"
# Other work on a shared machine slows every contender alike; the ratios hold up better than
# the absolute times, and the load average goes into the report.
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
for f in "${trace_files[@]}"; do
  for ((run = 0; run < runs; run++)); do
    echo "== $(basename "$f") run $((run + 1))/$runs" >&2
    "$native_dir/collab_bench" "$f" | tee -a "$raw"
    for engine in chorus dt yjs; do
      (cd "$root" && node --expose-gc "$here/js_bench.mjs" "$engine" "$f" "$module") | tee -a "$raw"
    done
    if [ -n "${CHORUS_BASELINE_MODULE:-}" ]; then
      (cd "$root" && node --expose-gc "$here/js_bench.mjs" chorus "$f" "$CHORUS_BASELINE_MODULE" before) | tee -a "$raw"
    fi
  done
done
load_at_end="$(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$quick" = 1 ]; then
  echo "== quick run: results.md left alone (raw lines in $raw)"
  exit 0
fi
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
version() { node -p "require('$root/node_modules/$1/package.json').version"; }
emcc_version="$(emcc --version 2>/dev/null | head -1 | grep -o '[0-9]*\.[0-9]*\.[0-9]*' | head -1 || true)"
gz() { gzip -9c "$1" | wc -c; }
module_size="chorus_collab.mjs $(gz "$module") B + chorus_collab.wasm $(gz "${module%.mjs}.wasm") B gzipped"
env_line="$(date -u +%Y-%m-%d), ${cpu:-unknown CPU}, $(nproc) cores shared, Node $(node --version), yjs $(version yjs), diamond-types-node $(version diamond-types-node), Emscripten ${emcc_version}, $(c++ --version | head -1); load average at start ${load_at_start}, at end ${load_at_end}; module: ${module_size}"
node "$here/summarize.mjs" "$raw" "$here/results.md" "$env_line" "$runs"
echo "== wrote $here/results.md"
