#!/usr/bin/env bash
# Chorus benchmarks: Chorus vs the npm socket.io 4 reference server, same scenarios, same run.
#
#   bench/run.sh            full run (3 repetitions, ~8-10 minutes)
#   bench/run.sh --quick    short windows, fewer repetitions (< 2 minutes)
#
# Options: --reps N, --only chorus|node, --skip-build, --out DIR (default bench/results).
# Environment: BENCH_BUILD_DIR (default build/bench), BENCH_JOBS (build parallelism, default
# nproc), BENCH_LOADGEN_CPU / BENCH_SERVER_CPU (cores for taskset, default 0 and 1),
# BENCH_NICE (niceness of server and loadgen; default -10 as root, so that other work on a
# shared machine disturbs the measurement less; 0 to disable).
#
# Each server runs on its own core (taskset), the load generator on another. Results:
# bench/results/<date>.md and .json with the median of every metric and the Chorus/Node
# ratio, plus every run.
set -u -o pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
quick=0
reps=""
only=""
skip_build=0
out_dir="$here/results"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --reps) reps="$2"; shift ;;
    --only) only="$2"; shift ;;
    --skip-build) skip_build=1 ;;
    --out) out_dir="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

build_dir="${BENCH_BUILD_DIR:-$root/build/bench}"
jobs="${BENCH_JOBS:-$(nproc)}"
lg_cpu="${BENCH_LOADGEN_CPU:-0}"
srv_cpu="${BENCH_SERVER_CPU:-1}"
if [ "$(id -u)" = 0 ]; then nice_level="${BENCH_NICE:--10}"; else nice_level="${BENCH_NICE:-0}"; fi

# Descriptors: thousands of sockets on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---- scenario parameters -------------------------------------------------------------------
if [ "$quick" = 1 ]; then
  reps="${reps:-3}"
  idle5k_reps=1
  sweep_reps=1
  settle=0.3
  echo_rate=2000; echo_conns=100; echo_seconds=1.2; echo_warmup=0.4
  sweep_args=(--rate 500 --factor 2 --seconds 1 --warmup 0.3 --refine 1 --max-rate 64000)
  fanout_rate=20; fanout_seconds=1.2; fanout_warmup=0.4
  churn_seconds=1.2
else
  reps="${reps:-3}"
  idle5k_reps="$reps"
  sweep_reps="$reps"
  settle=2
  echo_rate=2000; echo_conns=100; echo_seconds=4; echo_warmup=1
  sweep_args=(--rate 250 --factor 1.6 --seconds 2 --warmup 0.5 --refine 2 --max-rate 100000)
  fanout_rate=20; fanout_seconds=4; fanout_warmup=1
  churn_seconds=4
fi

# ---- build ---------------------------------------------------------------------------------
if [ "$skip_build" = 0 ]; then
  if grep -q 'add_subdirectory(bench)' "$root/CMakeLists.txt"; then
    src="$root"
    extra=(-DCHORUS_TESTS=OFF)
  else
    src="$here"  # top level does not include bench/ yet: build it on its own
    extra=()
  fi
  echo "== building Release in $build_dir" >&2
  cmake -S "$src" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${extra[@]}" >"$build_dir.configure.log" 2>&1 ||
    { cat "$build_dir.configure.log" >&2; exit 1; }
  targets=(chorus-loadgen)
  if ninja -C "$build_dir" -t targets all 2>/dev/null | grep -q '^chorus-bench-server:'; then
    targets+=(chorus-bench-server)
  fi
  cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}" >&2 || exit 1
fi
loadgen="$(find "$build_dir" -name chorus-loadgen -type f -perm -u+x | head -1)"
chorus_bin="$(find "$build_dir" -name chorus-bench-server -type f -perm -u+x | head -1)"
[ -n "$loadgen" ] || { echo "run.sh: chorus-loadgen not built" >&2; exit 1; }
command -v node >/dev/null || { echo "run.sh: node not found" >&2; exit 1; }
[ -d "$root/node_modules/socket.io" ] || (cd "$root" && npm install --no-audit --no-fund >&2) || exit 1

servers=()
if [ -z "$only" ] || [ "$only" = chorus ]; then
  if [ -n "$chorus_bin" ]; then servers+=(chorus); else echo "run.sh: chorus-bench-server not built (no chorus_server target): Node only" >&2; fi
fi
if [ -z "$only" ] || [ "$only" = node ]; then servers+=(node); fi

# ---- output --------------------------------------------------------------------------------
mkdir -p "$out_dir"
stamp="$(date -u +%Y-%m-%d-%H%M%S)"
work="$(mktemp -d)"
raw="$work/runs.jsonl"  # every run also lands in <date>.json
trap 'stop_server; rm -rf "$work"' EXIT
: >"$raw"

# One JSON line per run: {"server","key","rep","ok","result"|"error"}.
record() {  # server key rep ok payload
  printf '{"server":"%s","key":"%s","rep":%s,"ok":%s,%s}\n' "$1" "$2" "$3" "$4" "$5" >>"$raw"
}
json_string() { node -e 'process.stdout.write(JSON.stringify(require("fs").readFileSync(0,"utf8")))'; }

# ---- servers -------------------------------------------------------------------------------
srv_pid=""
srv_port=""
srv_name=""
start_server() {  # name
  srv_name="$1"
  local log="$work/$1.server.log"
  : >"$log"
  if [ "$1" = chorus ]; then
    # nice and taskset exec the server: $! is the server's pid.
    nice -n "$nice_level" taskset -c "$srv_cpu" "$chorus_bin" --port 0 >"$log" 2>&1 &
  else
    nice -n "$nice_level" taskset -c "$srv_cpu" node "$here/reference_server.mjs" --port 0 >"$log" 2>&1 &
  fi
  srv_pid=$!
  local i
  for i in $(seq 1 200); do
    srv_port="$(sed -n '1s|^chorus: listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$log")"
    [ -n "$srv_port" ] && return 0
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "run.sh: $1 server did not start:" >&2
  tail -5 "$log" >&2
  return 1
}
stop_server() {
  [ -n "$srv_pid" ] || return 0
  local pid="$srv_pid"
  srv_pid=""
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null
  local i
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.05
  done
  echo "run.sh: $srv_name server ignored SIGTERM for 5 s; killed" >&2
  record "$srv_name" shutdown 0 false "\"error\":\"did not exit within 5 s of SIGTERM\""
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

# Runs one loadgen scenario against the running server and records it.
scenario() {  # key rep loadgen-args...
  local key="$1" rep="$2"
  shift 2
  local out="$work/out" err="$work/err"
  timeout 300 nice -n "$nice_level" taskset -c "$lg_cpu" "$loadgen" "$@" --port "$srv_port" --server-pid "$srv_pid" >"$out" 2>"$err"
  local rc=$?
  local line
  line="$(grep '^{' "$out" | tail -1)"
  if ! kill -0 "$srv_pid" 2>/dev/null; then
    local why
    why="$( (echo "server died during $key (loadgen exit $rc)"; tail -20 "$work/$srv_name.server.log") | json_string)"
    record "$srv_name" "$key" "$rep" false "\"error\":$why"
    echo "   $srv_name $key #$rep: SERVER DIED" >&2
    srv_pid=""
    return 1
  fi
  if [ -n "$line" ]; then
    record "$srv_name" "$key" "$rep" true "\"exit\":$rc,\"result\":$line"
    echo "   $srv_name $key #$rep: $line" >&2
  else
    local why
    why="$( (echo "loadgen exit $rc"; tail -5 "$err") | json_string)"
    record "$srv_name" "$key" "$rep" false "\"error\":$why"
    echo "   $srv_name $key #$rep: FAILED (exit $rc)" >&2
  fi
  return 0
}

# Each idle measurement gets a fresh server (freed memory would hide the next delta).
with_server() {  # name fn...
  local name="$1"
  shift
  start_server "$name" || { record "$name" startup 0 false "\"error\":\"server did not start\""; return 1; }
  "$@"
  stop_server
  sleep 0.3
}

run_idle() { scenario "idle_$1" "$2" idle --conns "$3" --settle "$settle"; }
# The 1k idle measurement opens the server's life; the traffic scenarios follow on it.
run_idle_then_traffic() {  # rep
  run_idle 1k "$1" 1000
  sleep 0.5
  run_traffic "$1"
}
run_traffic() {  # rep
  scenario echo "$1" echo --rate "$echo_rate" --seconds "$echo_seconds" --warmup "$echo_warmup" --conns "$echo_conns"
  sleep 0.3
  scenario fanout "$1" fanout --clients 1000 --rate "$fanout_rate" --seconds "$fanout_seconds" --warmup "$fanout_warmup"
  sleep 0.3
  scenario churn "$1" churn --seconds "$churn_seconds" --warmup "$echo_warmup" --concurrency 16
}
run_sweep() { scenario echo_sweep "$1" echo --sweep --conns "$echo_conns" "${sweep_args[@]}"; }

t_start=$(date +%s)
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq 1 "$reps"); do
  for s in "${servers[@]}"; do
    echo "== rep $rep/$reps: $s" >&2
    with_server "$s" run_idle_then_traffic "$rep"
    if [ "$rep" -le "$idle5k_reps" ]; then with_server "$s" run_idle 5k "$rep" 5000; fi
    if [ "$rep" -le "$sweep_reps" ]; then with_server "$s" run_sweep "$rep"; fi
  done
done
elapsed=$(( $(date +%s) - t_start ))

# ---- report --------------------------------------------------------------------------------
cpu_model="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
node "$here/summarize.mjs" "$raw" "$out_dir/$stamp" \
  --fact "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --fact "mode=$([ "$quick" = 1 ] && echo quick || echo full)" \
  --fact "repetitions=$reps" \
  --fact "nproc=$(nproc)" \
  --fact "cpu_model=$cpu_model" \
  --fact "kernel=$(uname -r)" \
  --fact "memory=$(free -h | awk '/^Mem:/{print $2}')" \
  --fact "node=$(node --version)" \
  --fact "socket_io=$(node -p 'require("'"$root"'/node_modules/socket.io/package.json").version')" \
  --fact "compiler=$(c++ --version | head -1)" \
  --fact "git=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --fact "servers=chorus-bench-server (ServerOptions::max_connections 6000, log level warn); node reference_server.mjs (socket.io defaults, perMessageDeflate off)" \
  --fact "cores=loadgen on CPU $lg_cpu, server on CPU $srv_cpu (taskset), nice $nice_level" \
  --fact "load_average_before=$load_before" \
  --fact "load_average_after=$(cut -d' ' -f1-3 /proc/loadavg)" \
  --fact "wall_seconds=$elapsed" \
  --fact "echo=rate $echo_rate/s over $echo_conns connections, ${echo_seconds}s window" \
  --fact "fanout=1000 clients in room1, $fanout_rate broadcasts/s, ${fanout_seconds}s window" \
  --fact "churn=16 concurrent connect+namespace connect+close loops, ${churn_seconds}s window" || exit 1
echo "== wrote $out_dir/$stamp.md and $out_dir/$stamp.json (${elapsed}s)" >&2
