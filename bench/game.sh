#!/usr/bin/env bash
# The game benchmark: 200 simulated players in one room at 30 Hz on Chorus's game (the
# GameService of chorus-server, /game) and on the same game loop on Node socket.io 4.8
# (bench/game_reference.mjs). Server pinned to one core (taskset; Chorus with one I/O
# thread), the load (bench/game_load.mjs) to another. Per run: server CPU, snapshot bytes per
# second received by all players, p50/p99 delivery delay of the snapshots. Medians of the
# repetitions and the Node/Chorus ratios go to bench/results/<date>-game.md and .json.
#
#   bench/game.sh            3 repetitions, 20 s windows (~3 minutes)
#   bench/game.sh --quick    3 repetitions, 5 s windows (~1.5 minutes)
#
# Options: --reps N, --players N, --seconds S, --skip-build, --out DIR. Environment:
# BENCH_BUILD_DIR (default build/bench), BENCH_LOADGEN_CPU / BENCH_SERVER_CPU (default 0 and 1),
# BENCH_NICE (as bench/run.sh: -10 as root).
set -u -o pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
reps=3
players=200
seconds=20
warmup=3
skip_build=0
quick=0
out_dir="$here/results"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; seconds=5; warmup=2 ;;
    --reps) reps="$2"; shift ;;
    --players) players="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --skip-build) skip_build=1 ;;
    --out) out_dir="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "game.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
tick_hz=30
build_dir="${BENCH_BUILD_DIR:-$root/build/bench}"
lg_cpu="${BENCH_LOADGEN_CPU:-0}"
srv_cpu="${BENCH_SERVER_CPU:-1}"
if [ "$(id -u)" = 0 ]; then nice_level="${BENCH_NICE:--10}"; else nice_level="${BENCH_NICE:-0}"; fi
clk_tck="$(getconf CLK_TCK)"

if [ "$skip_build" = 0 ]; then
  echo "== building chorus-server (Release) in $build_dir" >&2
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCHORUS_TESTS=OFF >"$build_dir.configure.log" 2>&1 ||
    { cat "$build_dir.configure.log" >&2; exit 1; }
  cmake --build "$build_dir" --target chorus-server >&2 || exit 1
fi
chorus_bin="$(find "$build_dir" -name chorus-server -type f -perm -u+x | head -1)"
[ -x "$chorus_bin" ] || { echo "game.sh: no chorus-server in $build_dir" >&2; exit 1; }

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# Starts a server (argv) on the server core; sets srv_pid once it prints its listening line.
start_server() {
  local log="$1"; shift
  nice -n "$nice_level" taskset -c "$srv_cpu" "$@" >"$log" 2>&1 &
  srv_pid=$!
  for _ in $(seq 1 200); do
    grep -q '^chorus: listening' "$log" && return 0
    kill -0 "$srv_pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "game.sh: server did not start" >&2; cat "$log" >&2; return 1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
runs="$tmp/runs.jsonl"
: >"$runs"
for rep in $(seq 1 "$reps"); do
  for kind in chorus node; do
    port="$(free_port)"
    if [ "$kind" = chorus ]; then
      start_server "$tmp/server.log" "$chorus_bin" --host 127.0.0.1 --port "$port" --io-threads 1 --docs-db "" \
        --log-level warn --game-tick-hz "$tick_hz" --game-max-players "$players" --metrics-path off || exit 1
    else
      start_server "$tmp/server.log" node "$here/game_reference.mjs" --host 127.0.0.1 --port "$port" \
        --game-tick-hz "$tick_hz" --game-max-players "$players" || exit 1
    fi
    echo "== rep $rep: $kind ($players players, ${seconds}s)" >&2
    result="$(nice -n "$nice_level" taskset -c "$lg_cpu" node "$here/game_load.mjs" --url "http://127.0.0.1:$port" \
      --pid "$srv_pid" --players "$players" --seconds "$seconds" --warmup "$warmup" --tick-hz "$tick_hz" \
      --clk-tck "$clk_tck")" || { kill "$srv_pid"; exit 1; }
    kill "$srv_pid"; wait "$srv_pid" 2>/dev/null
    echo "$result" >&2
    echo "{\"server\":\"$kind\",\"rep\":$rep,\"result\":$result}" >>"$runs"
  done
done

mkdir -p "$out_dir"
stamp="$(date -u +%Y-%m-%d-%H%M%S)"
load="$(cut -d' ' -f1-3 /proc/loadavg)"
node - "$runs" "$out_dir/$stamp-game" "$quick" "$players" "$seconds" "$tick_hz" "$load" <<'NODE'
const fs = require("fs");
const [runsFile, outBase, quick, players, seconds, tickHz, load] = process.argv.slice(2);
const runs = fs.readFileSync(runsFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const metrics = ["serverCpuPercent", "bytesPerSecond", "delayP50", "delayP99", "delayMax", "snapshots", "expected"];
const med = {};
for (const kind of ["chorus", "node"]) {
  med[kind] = {};
  for (const m of metrics) med[kind][m] = median(runs.filter((r) => r.server === kind).map((r) => r.result[m]));
}
const ratio = (a, b) => (b > 0 ? +(a / b).toFixed(2) : null);
const summary = {
  players: +players, seconds: +seconds, tickHz: +tickHz, quick: quick === "1", loadAverage: load, medians: med,
  cpuNodeOverChorus: ratio(med.node.serverCpuPercent, med.chorus.serverCpuPercent),
  p99NodeOverChorus: ratio(med.node.delayP99, med.chorus.delayP99),
  bytesChorusOverNode: ratio(med.chorus.bytesPerSecond, med.node.bytesPerSecond),
  runs,
};
fs.writeFileSync(`${outBase}.json`, JSON.stringify(summary, null, 2) + "\n");
const row = (k, label) => `| ${label} | ${med.chorus[k]} | ${med.node[k]} |`;
const md = [
  `# Game benchmark${quick === "1" ? " (--quick)" : ""}: ${players} players in one room at ${tickHz} Hz`,
  "",
  `bench/game.sh: chorus-server's /game (Release, one I/O thread) vs bench/game_reference.mjs (Node socket.io`,
  `4.8), each pinned to one core, the load (bench/game_load.mjs) on another; ${seconds} s windows, medians of`,
  `${runs.length / 2} runs each. Load average before the summary: ${load}.`,
  "",
  "| metric (median) | Chorus | Node socket.io |",
  "|---|---|---|",
  row("serverCpuPercent", "server CPU, % of one core"),
  row("bytesPerSecond", "snapshot bytes/s received (all players)"),
  row("delayP50", "snapshot delay p50, ms"),
  row("delayP99", "snapshot delay p99, ms"),
  row("delayMax", "snapshot delay max, ms"),
  row("snapshots", "snapshots received"),
  row("expected", "snapshots expected (players x rate x window)"),
  "",
  `Ratios: Node's CPU / Chorus's = **${summary.cpuNodeOverChorus}**; Node's p99 / Chorus's = **${summary.p99NodeOverChorus}**;`,
  `Chorus's bytes/s / Node's = ${summary.bytesChorusOverNode} (the same snapshots: 1:1 means both delivered all).`,
  "",
  "## Runs",
  "",
  "| rep | server | CPU % | bytes/s | p50 | p99 | max | received / expected |",
  "|---|---|---|---|---|---|---|---|",
  ...runs.map((r) => `| ${r.rep} | ${r.server} | ${r.result.serverCpuPercent} | ${r.result.bytesPerSecond} | ${r.result.delayP50} | ${r.result.delayP99} | ${r.result.delayMax} | ${r.result.snapshots} / ${r.result.expected} |`),
  "",
].join("\n");
fs.writeFileSync(`${outBase}.md`, md);
console.log(md);
NODE
echo "== wrote $out_dir/$stamp-game.md" >&2
