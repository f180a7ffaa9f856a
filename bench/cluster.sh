#!/usr/bin/env bash
# Cross-node broadcast benchmark: 2 Chorus nodes against 2 Node socket.io nodes, each pair a
# cluster through one redis-server (@socket.io/redis-adapter's protocol), same run.
#
#   bench/cluster.sh            full run (3 repetitions, ~6 minutes)
#   bench/cluster.sh --quick    short windows (~3 minutes)
#   bench/cluster.sh --adapter streams   the streams mode instead: Chorus nodes with
#                               --redis-adapter streams, Node nodes with
#                               @socket.io/redis-streams-adapter, connection state recovery on
#                               both (120 s): every broadcast goes through the Redis stream
#
# Options: --adapter classic|streams (default classic), --reps N, --rates "R ...", --clients N,
# --only chorus|node, --skip-build, --out DIR
# (default bench/results). Environment as bench/run.sh: BENCH_BUILD_DIR (default build/bench),
# BENCH_JOBS, BENCH_LOADGEN_CPU / BENCH_SERVER_CPU (default 0 / 1), BENCH_NICE.
#
# Per measurement, fresh processes: a redis-server (127.0.0.1, a free port, nothing persisted)
# and two nodes, all three pinned to the server core; the load generator on the other core
# opens the clients alternately on node A and node B (500 + 500 by default, all in room1).
# Two lines per rate: a client on A broadcasts (every delivery on B crossed Redis), and a
# client on A and one on B take turns. Deliveries/s at the clients and latency p50/p99 from
# the scheduled send to the receipt, separately on the sending node (local) and on the other
# (remote). Results: bench/results/<date>-cluster.md and .json (--adapter streams:
# <date>-cluster-streams.md and .json), medians and Chorus/Node ratios.
set -u -o pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
quick=0
reps=""
rates=""
clients=1000
only=""
adapter=classic
skip_build=0
out_dir="$here/results"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --reps) reps="$2"; shift ;;
    --rates) rates="$2"; shift ;;
    --clients) clients="$2"; shift ;;
    --only) only="$2"; shift ;;
    --adapter) adapter="$2"; shift ;;
    --skip-build) skip_build=1 ;;
    --out) out_dir="$2"; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
case "$adapter" in
  classic | streams) ;;
  *) echo "cluster.sh: --adapter needs classic or streams, got '$adapter'" >&2; exit 2 ;;
esac

build_dir="${BENCH_BUILD_DIR:-$root/build/bench}"
jobs="${BENCH_JOBS:-$(nproc)}"
lg_cpu="${BENCH_LOADGEN_CPU:-0}"
srv_cpu="${BENCH_SERVER_CPU:-1}"
if [ "$(id -u)" = 0 ]; then nice_level="${BENCH_NICE:--10}"; else nice_level="${BENCH_NICE:-0}"; fi
redis_server="${CHORUS_REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---- scenario parameters -------------------------------------------------------------------
reps="${reps:-3}"
# Broadcasts/s offered, each reaching every client: with 1,000 clients, 1,000 deliveries per
# broadcast. The Node pair nears its limit around the middle rate (see bench/README.md).
rates="${rates:-50 100 200}"
if [ "$quick" = 1 ]; then
  seconds=1.2; warmup=0.4
else
  seconds=4; warmup=1
fi
lines=(a both)  # a: a client on node A broadcasts; both: clients on A and B take turns

# ---- build ---------------------------------------------------------------------------------
if [ "$skip_build" = 0 ]; then
  echo "== building Release in $build_dir" >&2
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCHORUS_TESTS=OFF >"$build_dir.configure.log" 2>&1 ||
    { cat "$build_dir.configure.log" >&2; exit 1; }
  cmake --build "$build_dir" -j "$jobs" --target chorus-loadgen chorus-bench-server >&2 || exit 1
fi
loadgen="$(find "$build_dir" -name chorus-loadgen -type f -perm -u+x | head -1)"
chorus_bin="$(find "$build_dir" -name chorus-bench-server -type f -perm -u+x | head -1)"
[ -n "$loadgen" ] || { echo "cluster.sh: chorus-loadgen not built" >&2; exit 1; }
[ -x "$redis_server" ] || { echo "cluster.sh: redis-server not found (Debian: redis-server)" >&2; exit 1; }
command -v node >/dev/null || { echo "cluster.sh: node not found" >&2; exit 1; }
node_adapter=@socket.io/redis-adapter
[ "$adapter" = streams ] && node_adapter=@socket.io/redis-streams-adapter
for m in socket.io "$node_adapter" redis; do
  [ -d "$root/node_modules/$m" ] || { echo "cluster.sh: node_modules/$m missing (npm ci)" >&2; exit 1; }
done

servers=()
if [ -z "$only" ] || [ "$only" = chorus ]; then
  [ -n "$chorus_bin" ] || { echo "cluster.sh: chorus-bench-server not built" >&2; exit 1; }
  servers+=(chorus)
fi
if [ -z "$only" ] || [ "$only" = node ]; then servers+=(node); fi

# ---- output --------------------------------------------------------------------------------
mkdir -p "$out_dir"
stamp="$(date -u +%Y-%m-%d-%H%M%S)"
work="$(mktemp -d)"
raw="$work/runs.jsonl"
trap 'stop_all; rm -rf "$work"' EXIT
: >"$raw"

record() {  # server key rep ok payload
  printf '{"server":"%s","key":"%s","rep":%s,"ok":%s,%s}\n' "$1" "$2" "$3" "$4" "$5" >>"$raw"
}
json_string() { node -e 'process.stdout.write(JSON.stringify(require("fs").readFileSync(0,"utf8")))'; }
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# ---- processes -----------------------------------------------------------------------------
# Both kinds of node take the same adapter flags. Streams: connection state recovery on, as a
# production user of that adapter runs it (a dropped client recovers on any node); then every
# broadcast reaches even the sending node's clients only once Redis gave its entry id.
recovery_ms=120000
node_flags=()
[ "$adapter" = streams ] && node_flags=(--redis-adapter streams --recovery-ms "$recovery_ms")
pids=()  # every process started for the current measurement
redis_pid=""
redis_port=""
start_redis() {
  local i
  for i in 1 2 3; do
    redis_port="$(free_port)"
    # nice and taskset exec redis-server: $! is its pid.
    nice -n "$nice_level" taskset -c "$srv_cpu" "$redis_server" --port "$redis_port" --bind 127.0.0.1 \
      --save "" --appendonly no --loglevel warning >"$work/redis.log" 2>&1 &
    redis_pid=$!
    pids+=("$redis_pid")
    local j
    for j in $(seq 1 200); do
      [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && return 0
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.05
    done
    stop_all  # the port was taken meanwhile, or it never answered: another one
  done
  echo "cluster.sh: redis-server did not start:" >&2
  tail -5 "$work/redis.log" >&2
  return 1
}
# Starts a node of kind $1 as node $2 (a or b); sets node_port / node_pid.
node_port=""
node_pid=""
start_node() {
  local kind="$1" which="$2" log="$work/$1-$2.log"
  : >"$log"
  if [ "$kind" = chorus ]; then
    nice -n "$nice_level" taskset -c "$srv_cpu" "$chorus_bin" --port 0 --max-connections 4000 \
      --redis "redis://127.0.0.1:$redis_port" "${node_flags[@]}" >"$log" 2>&1 &
  else
    nice -n "$nice_level" taskset -c "$srv_cpu" node "$here/reference_server.mjs" --port 0 \
      --redis "redis://127.0.0.1:$redis_port" "${node_flags[@]}" >"$log" 2>&1 &
  fi
  node_pid=$!
  pids+=("$node_pid")
  local i
  for i in $(seq 1 300); do
    node_port="$(sed -n 's|^chorus: listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$log" | head -1)"
    [ -n "$node_port" ] && return 0
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "cluster.sh: $kind node $which did not start:" >&2
  tail -5 "$log" >&2
  return 1
}
stop_all() {
  local pid i
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "cluster.sh: process $pid ignored SIGTERM for 5 s; killed" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
  done
  pids=()
}

# One measurement: fresh redis-server and two nodes of `kind`, one loadgen run, all stopped.
measure() {  # kind line rate rep
  local kind="$1" line="$2" rate="$3" rep="$4" key="cluster_${2}_${3}"
  local pid_a port_a pid_b port_b
  if ! start_redis || ! start_node "$kind" a; then
    record "$kind" "$key" "$rep" false '"error":"redis-server or node A did not start"'
    stop_all
    return 1
  fi
  pid_a="$node_pid"; port_a="$node_port"
  if ! start_node "$kind" b; then
    record "$kind" "$key" "$rep" false '"error":"node B did not start"'
    stop_all
    return 1
  fi
  pid_b="$node_pid"; port_b="$node_port"
  local extra=()
  [ "$line" = both ] && extra=(--alternate)
  local out="$work/out" err="$work/err" rc result
  timeout 120 nice -n "$nice_level" taskset -c "$lg_cpu" "$loadgen" cluster --port "$port_a" --port2 "$port_b" \
    --server-pid "$pid_a" --server-pid2 "$pid_b" --redis-pid "$redis_pid" --clients "$clients" \
    --rate "$rate" --seconds "$seconds" --warmup "$warmup" "${extra[@]}" >"$out" 2>"$err"
  rc=$?
  result="$(grep '^{' "$out" | tail -1)"
  local dead=""
  for p in "$redis_pid" "$pid_a" "$pid_b"; do kill -0 "$p" 2>/dev/null || dead="$dead $p"; done
  if [ -n "$dead" ]; then
    local why
    why="$( (echo "a process died during $key (pid$dead; loadgen exit $rc)"; tail -5 "$work"/*.log) | json_string)"
    record "$kind" "$key" "$rep" false "\"error\":$why"
    echo "   $kind $key #$rep: PROCESS DIED" >&2
  elif [ -n "$result" ]; then
    record "$kind" "$key" "$rep" true "\"exit\":$rc,\"result\":$result"
    echo "   $kind $key #$rep: $result" >&2
  else
    local why
    why="$( (echo "loadgen exit $rc"; tail -5 "$err") | json_string)"
    record "$kind" "$key" "$rep" false "\"error\":$why"
    echo "   $kind $key #$rep: FAILED (exit $rc)" >&2
  fi
  stop_all
  sleep 0.3
}

t_start=$(date +%s)
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq 1 "$reps"); do
  for s in "${servers[@]}"; do
    echo "== rep $rep/$reps: $s" >&2
    for line in "${lines[@]}"; do
      for rate in $rates; do measure "$s" "$line" "$rate" "$rep"; done
    done
  done
done
elapsed=$(( $(date +%s) - t_start ))

# ---- report --------------------------------------------------------------------------------
cpu_model="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
suffix=cluster
[ "$adapter" = streams ] && suffix=cluster-streams
if [ "$adapter" = streams ]; then
  servers_fact="per measurement a fresh redis-server and two nodes: chorus-bench-server --redis --redis-adapter streams --recovery-ms $recovery_ms (ServerOptions defaults otherwise, log level warn) or node reference_server.mjs --redis --redis-adapter streams --recovery-ms $recovery_ms (socket.io defaults, perMessageDeflate off, @socket.io/redis-streams-adapter defaults, connectionStateRecovery {maxDisconnectionDuration: $recovery_ms})"
else
  servers_fact="per measurement a fresh redis-server and two nodes: chorus-bench-server --redis (ServerOptions defaults otherwise, log level warn) or node reference_server.mjs --redis (socket.io defaults, perMessageDeflate off, @socket.io/redis-adapter)"
fi
node "$here/summarize.mjs" "$raw" "$out_dir/$stamp-$suffix" --suite cluster \
  --fact "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --fact "mode=$([ "$quick" = 1 ] && echo quick || echo full)" \
  --fact "adapter=$adapter" \
  --fact "repetitions=$reps" \
  --fact "nproc=$(nproc)" \
  --fact "cpu_model=$cpu_model" \
  --fact "kernel=$(uname -r)" \
  --fact "memory=$(free -h | awk '/^Mem:/{print $2}')" \
  --fact "node=$(node --version)" \
  --fact "socket_io=$(node -p 'require("'"$root"'/node_modules/socket.io/package.json").version')" \
  --fact "redis_adapter=$node_adapter $(node -p 'require("'"$root"'/node_modules/'"$node_adapter"'/package.json").version'), redis client $(node -p 'require("'"$root"'/node_modules/redis/package.json").version')" \
  --fact "redis_server=$("$redis_server" --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') (--save '' --appendonly no)" \
  --fact "compiler=$(c++ --version | head -1)" \
  --fact "git=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --fact "servers=$servers_fact" \
  --fact "cores=redis-server and both nodes on CPU $srv_cpu, loadgen on CPU $lg_cpu (taskset), nice $nice_level" \
  --fact "load_average_before=$load_before" \
  --fact "load_average_after=$(cut -d' ' -f1-3 /proc/loadavg)" \
  --fact "wall_seconds=$elapsed" \
  --fact "cluster=$clients clients in room1 alternately on node A and node B; rates $rates broadcasts/s offered; line a: a client on A broadcasts, line both: a client on A and one on B take turns; ${seconds}s window after ${warmup}s warm-up" || exit 1
echo "== wrote $out_dir/$stamp-$suffix.md and $out_dir/$stamp-$suffix.json (${elapsed}s)" >&2
