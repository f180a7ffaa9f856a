#!/usr/bin/env bash
# Chorus benchmarks: Chorus vs the npm socket.io 4 reference server, same scenarios, same run.
#
#   bench/run.sh            full run (3 repetitions, ~20 minutes)
#   bench/run.sh --quick    short windows, fewer repetitions (~3 minutes)
#
# Options: --reps N, --only chorus|node, --skip-build, --out DIR (default bench/results).
# Environment: BENCH_BUILD_DIR (default build/bench), BENCH_JOBS (build parallelism, default
# nproc), BENCH_LOADGEN_CPU / BENCH_SERVER_CPU (cores for taskset, default 0 and 1),
# BENCH_NICE (niceness of server and loadgen; default -10 as root, so that other work on a
# shared machine disturbs the measurement less; 0 to disable).
#
# Each server runs on its own core (taskset), the load generator on another. Results:
# bench/results/<date>.md and .json with the median of every metric and the Chorus/Node
# ratio, the targets of the event-loop server checked against them, plus every run.
#
# Scenarios, per repetition and server (a fresh server for each line):
#   idle 1k, then echo 2k/s, echo 50k/s and the polling client on the same server; churn on
#   its own server;
#   fan-out 300/s (on its own server: a reference server that falls behind is still
#   flushing its backlog long after the window, which would distort what follows);
#   idle 5k and 15k over WebSocket, and over TLS (wss, a throwaway P-256 certificate);
#   with --quick only 15k over WebSocket and 5k over TLS;
#   the echo sweep (the knee: highest rate with p99 <= 10 ms);
#   startup: the shipped chorus-server (and the Node reference) to the first HTTP 200.
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
  idle_reps=1
  sweep_reps=1
  settle=0.3
  echo_rate=2000; echo_conns=100; echo_seconds=1.2; echo_warmup=0.4
  sweep_args=(--rate 1000 --factor 2 --seconds 0.8 --warmup 0.2 --refine 1 --max-rate 64000)
  fanout_seconds=1.2; fanout_warmup=0.4
  churn_seconds=1.2
  polling_rounds=100
  idle_sizes=(15000)
  tls_sizes=(5000)
else
  reps="${reps:-3}"
  idle_reps="$reps"
  sweep_reps="$reps"
  settle=2
  echo_rate=2000; echo_conns=100; echo_seconds=4; echo_warmup=1
  sweep_args=(--rate 250 --factor 1.6 --seconds 2 --warmup 0.5 --refine 2 --max-rate 100000)
  fanout_seconds=4; fanout_warmup=1
  churn_seconds=4
  polling_rounds=300
  idle_sizes=(5000 15000)
  tls_sizes=(5000 15000)
fi
echo_fast_rate=50000  # issue target: 50,000 acks/s over 100 connections
fanout_rate=300       # issue target: 1,000 clients, 300 broadcasts/s offered
startup_settle=1
# Connections of the large idle scenarios spread over 127.0.0.2..127.0.0.17 (16 source
# addresses), so that they never depend on one address's ephemeral ports.
idle_sources=16

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
  for t in chorus-bench-server chorus-server; do
    if ninja -C "$build_dir" -t targets all 2>/dev/null | grep -q "^$t:"; then targets+=("$t"); fi
  done
  cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}" >&2 || exit 1
fi
loadgen="$(find "$build_dir" -name chorus-loadgen -type f -perm -u+x | head -1)"
chorus_bin="$(find "$build_dir" -name chorus-bench-server -type f -perm -u+x | head -1)"
chorus_server_bin="$(find "$build_dir" -name chorus-server -type f -perm -u+x | head -1)"
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

# A throwaway certificate for the TLS scenarios (P-256: the cheapest common handshake).
tls_pem="$work/tls.pem"
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
  -keyout "$work/tls.key" -out "$work/tls.crt" >/dev/null 2>&1; then
  cat "$work/tls.crt" "$work/tls.key" >"$tls_pem"
else
  echo "run.sh: openssl could not make a certificate: no TLS scenarios" >&2
  tls_pem=""
fi

# One JSON line per run: {"server","key","rep","ok","result"|"error"}.
record() {  # server key rep ok payload
  printf '{"server":"%s","key":"%s","rep":%s,"ok":%s,%s}\n' "$1" "$2" "$3" "$4" "$5" >>"$raw"
}
json_string() { node -e 'process.stdout.write(JSON.stringify(require("fs").readFileSync(0,"utf8")))'; }

# ---- servers -------------------------------------------------------------------------------
srv_pid=""
srv_port=""
srv_name=""
start_server() {  # name [server args...]
  srv_name="$1"
  shift
  local log="$work/$srv_name.server.log"
  : >"$log"
  if [ "$srv_name" = chorus ]; then
    # nice and taskset exec the server: $! is the server's pid.
    nice -n "$nice_level" taskset -c "$srv_cpu" "$chorus_bin" --port 0 "$@" >"$log" 2>&1 &
  else
    nice -n "$nice_level" taskset -c "$srv_cpu" node "$here/reference_server.mjs" --port 0 "$@" >"$log" 2>&1 &
  fi
  srv_pid=$!
  local i
  for i in $(seq 1 200); do
    srv_port="$(sed -n 's|^chorus: listening on https*://127.0.0.1:\([0-9]*\)$|\1|p' "$log" | head -1)"
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
  record "$srv_name" shutdown "${rep:-0}" false "\"error\":\"did not exit within 5 s of SIGTERM\""
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

# Waits (10 s at most) until the server is quiet: under 5% of a core over 0.2 s. A server
# still working off the previous scenario's backlog would slow down the next one.
server_ticks() { awk '{ print $14 + $15 }' "/proc/$srv_pid/stat" 2>/dev/null || echo 0; }
quiesce() {
  [ -n "$srv_pid" ] || return 0
  local prev cur i
  prev="$(server_ticks)"
  for i in $(seq 1 50); do
    sleep 0.2
    cur="$(server_ticks)"
    [ $(( cur - prev )) -le 1 ] && return 0
    prev="$cur"
  done
  echo "   $srv_name still busy 10 s after the scenario" >&2
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
# with_server NAME [SERVER ARGS...] -- FN [FN ARGS...]
with_server() {
  local name="$1"
  shift
  local args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  start_server "$name" "${args[@]}" || { record "$name" startup 0 false "\"error\":\"server did not start\""; return 1; }
  "$@"
  stop_server
  sleep 0.3
}

# Connections held at once by the bench server: the largest idle scenario and some room
# (ServerOptions' own default would be cut to the open-file limit, with a warning).
max_conns=15000
for n in "${idle_sizes[@]}" "${tls_sizes[@]}"; do [ "$n" -gt "$max_conns" ] && max_conns="$n"; done
max_conns=$(( max_conns + 1000 ))

k_label() { echo "$(( $1 / 1000 ))k"; }
run_idle() {  # key rep conns [loadgen args...]
  local key="$1" rep="$2" n="$3"
  shift 3
  local extra=()
  [ "$n" -gt 1000 ] && extra=(--source-addrs "$idle_sources")
  # 15,000 TLS handshakes take the reference server about a minute on a busy machine.
  scenario "$key" "$rep" idle --conns "$n" --settle "$settle" --timeout 180 "${extra[@]}" "$@"
}
# The 1k idle measurement opens the server's life; the traffic scenarios follow on it.
run_idle_then_traffic() {  # rep
  run_idle idle_1k "$1" 1000
  quiesce
  run_traffic "$1"
}
run_traffic() {  # rep
  scenario echo "$1" echo --rate "$echo_rate" --seconds "$echo_seconds" --warmup "$echo_warmup" --conns "$echo_conns"
  quiesce
  scenario echo_50k "$1" echo --rate "$echo_fast_rate" --seconds "$echo_seconds" --warmup "$echo_warmup" --conns "$echo_conns"
  quiesce
  node_scenario polling_cost "$1" "$here/polling_cost.mjs" --rounds "$polling_rounds"
}
# Churn on a server of its own, as fan-out: what the earlier scenarios left behind (a server
# that has served 200,000 acks, V8's warmed-up code) is not part of what it measures.
run_churn() {  # rep
  scenario churn "$1" churn --seconds "$churn_seconds" --warmup "$echo_warmup" --concurrency 16
}
# A scenario run by a Node script (the official socket.io-client) instead of the loadgen.
node_scenario() {  # key rep script args...
  local key="$1" rep="$2" script="$3"
  shift 3
  local line
  line="$(timeout 120 nice -n "$nice_level" taskset -c "$lg_cpu" node "$script" --port "$srv_port" "$@" 2>"$work/err" |
    grep '^{' | tail -1)"
  if [ -n "$line" ]; then
    record "$srv_name" "$key" "$rep" true "\"exit\":0,\"result\":$line"
    echo "   $srv_name $key #$rep: $line" >&2
  else
    record "$srv_name" "$key" "$rep" false "\"error\":$( (tail -5 "$work/err") | json_string)"
    echo "   $srv_name $key #$rep: FAILED" >&2
  fi
}
run_fanout() {  # rep
  scenario fanout "$1" fanout --clients 1000 --rate "$fanout_rate" --seconds "$fanout_seconds" --warmup "$fanout_warmup"
}
run_sweep() { scenario echo_sweep "$1" echo --sweep --conns "$echo_conns" "${sweep_args[@]}"; }

# A port nothing listens on right now (the startup scenario needs it before the server runs).
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}
# Start time to the first HTTP 200, RSS and threads after start, stop time.
run_startup() {  # name rep
  local name="$1" rep="$2" port cmd
  port="$(free_port)"
  if [ "$name" = chorus ]; then
    [ -n "$chorus_server_bin" ] || { record chorus startup_server "$rep" false '"error":"chorus-server not built"'; return; }
    cmd=("$chorus_server_bin" --port "$port" --root "$root/demo" --docs-db "" --log-level warn)
  else
    cmd=(node "$here/reference_server.mjs" --port "$port")
  fi
  local out="$work/out" err="$work/err" rc line
  timeout 60 nice -n "$nice_level" taskset -c "$lg_cpu" "$loadgen" startup --port "$port" --cpu "$srv_cpu" \
    --settle "$startup_settle" -- "${cmd[@]}" >"$out" 2>"$err"
  rc=$?
  line="$(grep '^{' "$out" | tail -1)"
  if [ -n "$line" ] && [ "$rc" = 0 ]; then
    record "$name" startup_server "$rep" true "\"exit\":0,\"result\":$line"
    echo "   $name startup_server #$rep: $line" >&2
  else
    local why
    why="$( (echo "loadgen exit $rc: $line"; tail -5 "$err") | json_string)"
    record "$name" startup_server "$rep" false "\"error\":$why"
    echo "   $name startup_server #$rep: FAILED (exit $rc)" >&2
  fi
}

t_start=$(date +%s)
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq 1 "$reps"); do
  for s in "${servers[@]}"; do
    echo "== rep $rep/$reps: $s" >&2
    run_startup "$s" "$rep"
    with_server "$s" --max-connections "$max_conns" -- run_idle_then_traffic "$rep"
    with_server "$s" --max-connections "$max_conns" -- run_fanout "$rep"
    with_server "$s" --max-connections "$max_conns" -- run_churn "$rep"
    if [ "$rep" -le "$idle_reps" ]; then
      for n in "${idle_sizes[@]}"; do
        with_server "$s" --max-connections "$max_conns" -- run_idle "idle_$(k_label "$n")" "$rep" "$n"
      done
      if [ -n "$tls_pem" ]; then
        for n in "${tls_sizes[@]}"; do
          with_server "$s" --max-connections "$max_conns" --tls-cert "$tls_pem" -- \
            run_idle "idle_tls_$(k_label "$n")" "$rep" "$n" --tls
        done
      fi
    fi
    if [ "$rep" -le "$sweep_reps" ]; then with_server "$s" --max-connections "$max_conns" -- run_sweep "$rep"; fi
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
  --fact "servers=chorus-bench-server (--max-connections $max_conns, other ServerOptions at their defaults, log level warn); node reference_server.mjs (socket.io defaults, perMessageDeflate off); TLS: a P-256 self-signed certificate, node:https for Node" \
  --fact "startup=chorus-server (--root demo, --docs-db '', log level warn) and node reference_server.mjs, pinned to CPU $srv_cpu: time from fork to the first HTTP 200 on /socket.io/?EIO=4&transport=polling (polled every 0.5 ms), RSS and threads ${startup_settle}s later, then SIGTERM" \
  --fact "open_files=soft $(ulimit -n), hard $(ulimit -Hn); ephemeral ports $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range); idle connections over 1k spread over $idle_sources source addresses" \
  --fact "cores=loadgen on CPU $lg_cpu, server on CPU $srv_cpu (taskset), nice $nice_level" \
  --fact "load_average_before=$load_before" \
  --fact "load_average_after=$(cut -d' ' -f1-3 /proc/loadavg)" \
  --fact "wall_seconds=$elapsed" \
  --fact "echo=rate $echo_rate/s (echo) and $echo_fast_rate/s (echo_50k) over $echo_conns connections, ${echo_seconds}s window after ${echo_warmup}s warm-up" \
  --fact "echo_sweep=${sweep_args[*]}" \
  --fact "fanout=1000 clients in room1, $fanout_rate broadcasts/s offered, ${fanout_seconds}s window" \
  --fact "idle=${idle_sizes[*]} connections over ws, ${tls_sizes[*]} over wss (and 1000 before the traffic), settle ${settle}s; $idle_reps repetition(s)" \
  --fact "churn=16 concurrent connect+namespace connect+close loops, ${churn_seconds}s window" || exit 1
echo "== wrote $out_dir/$stamp.md and $out_dir/$stamp.json (${elapsed}s)" >&2
