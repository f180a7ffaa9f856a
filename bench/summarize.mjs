// Turns the raw runs of bench/run.sh (one JSON line per run) into <out>.md and <out>.json:
// the median of every metric per server, and the Chorus/Node ratio.
//
//   node bench/summarize.mjs RAW.jsonl OUT_PREFIX [--suite cluster] [--fact key=value]...
//
// --suite cluster: the runs of bench/cluster.sh (keys cluster_<line>_<rate>), no targets.
import { readFileSync, writeFileSync } from "node:fs";

const IDLE = [
  ["rss_per_conn_kb", "server RSS per idle connection (KiB)", "lower"],
  ["server_threads", "server threads with the connections open", "lower"],
  ["connects_per_s", "connections opened per second", "higher"],
];
const METRICS = {
  idle_1k: IDLE,
  idle_5k: IDLE,
  idle_15k: IDLE,
  idle_tls_5k: IDLE,
  idle_tls_15k: IDLE,
  echo: [
    ["p50_us", "ack latency p50 (µs)", "lower"],
    ["p99_us", "ack latency p99 (µs)", "lower"],
    ["server_cpu", "server CPU (cores)", "lower"],
  ],
  echo_50k: [
    ["delivered_fraction", "acks received / sent", "higher"],
    ["p50_us", "ack latency p50 (µs)", "lower"],
    ["p99_us", "ack latency p99 (µs)", "lower"],
    ["server_cpu", "server CPU (cores)", "lower"],
  ],
  echo_sweep: [["max_rate_ok", "highest echo rate with p99 ≤ 10 ms (msg/s)", "higher"]],
  fanout: [
    ["deliveries_per_s", "deliveries per second", "higher"],
    ["delivered_fraction", "deliveries received / expected", "higher"],
    ["p50_us", "delivery latency p50 (µs)", "lower"],
    ["p99_us", "delivery latency p99 (µs)", "lower"],
    ["server_cpu", "server CPU (cores)", "lower"],
  ],
  churn: [
    ["cycles_per_s", "connect + namespace connect + close per second", "higher"],
    ["connect_p99_us", "connect latency p99 (µs)", "lower"],
    ["server_cpu", "server CPU (cores)", "lower"],
  ],
  polling_cost: [
    ["rtt_p50_ms", "polling client: acked echo round trip p50 (ms)", "lower"],
    ["rtt_p99_ms", "polling client: acked echo round trip p99 (ms)", "lower"],
    ["tcp_connects_per_round", "polling client: TCP connections opened per round trip", "lower"],
  ],
  startup_server: [
    ["start_ms", "start to first HTTP 200 (ms)", "lower"],
    ["rss_mb", "RSS after start (MB)", "lower"],
    ["threads", "threads after start", "lower"],
    ["stop_ms", "SIGTERM to exit (ms)", "lower"],
  ],
};
// bench/cluster.sh: every key (cluster_a_<rate>, cluster_both_<rate>) has these.
const CLUSTER = [
  ["deliveries_per_s", "deliveries per second (all clients)", "higher"],
  ["delivered_fraction", "deliveries received / expected", "higher"],
  ["local_deliveries_per_s", "deliveries per second, sending node's clients", "higher"],
  ["remote_deliveries_per_s", "deliveries per second, other node's clients (through Redis)", "higher"],
  ["local_p50_us", "latency p50, sending node's clients (µs)", "lower"],
  ["local_p99_us", "latency p99, sending node's clients (µs)", "lower"],
  ["remote_p50_us", "latency p50, other node's clients (µs)", "lower"],
  ["remote_p99_us", "latency p99, other node's clients (µs)", "lower"],
  ["server_cpu", "both nodes' CPU (cores)", "lower"],
  ["redis_cpu", "redis-server CPU (cores)", "lower"],
];
const ISSUE_FIELDS = ["missing", "connect_failures", "protocol_errors", "unexpected_closes", "failures", "clients_lost"];
const SERVERS = ["chorus", "node"];

const [rawPath, outPrefix, ...rest] = process.argv.slice(2);
if (!rawPath || !outPrefix) {
  console.error("usage: summarize.mjs RAW.jsonl OUT_PREFIX [--fact key=value]...");
  process.exit(2);
}
const facts = {};
let suite = "";
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === "--suite") {
    suite = rest[++i];
    if (suite !== "cluster") {
      console.error(`summarize.mjs: unknown suite ${suite}`);
      process.exit(2);
    }
  } else if (rest[i] === "--fact") {
    const kv = rest[++i];
    const eq = kv.indexOf("=");
    facts[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
}

const runs = readFileSync(rawPath, "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l));

function median(values) {
  const v = values.map((x) => (x === null || x === undefined ? Infinity : x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// The cluster suite's keys in the order they ran, each with the cluster metrics.
const suiteMetrics =
  suite === "cluster" ? Object.fromEntries([...new Set(runs.map((r) => r.key))].map((k) => [k, CLUSTER])) : METRICS;
const metrics = [];
for (const [key, list] of Object.entries(suiteMetrics)) {
  for (const [field, label, better] of list) {
    const row = { scenario: key, metric: field, label, better };
    for (const s of SERVERS) {
      const values = runs.filter((r) => r.ok && r.server === s && r.key === key).map((r) => r.result[field]);
      // null in a result is an infinite latency (lost messages): keep it as such.
      row[s] = { median: median(values), runs: values.map((x) => (x === null || x === undefined ? Infinity : x)) };
    }
    const c = row.chorus.median;
    const n = row.node.median;
    // No ratio when either side lost messages (an infinite latency) or has no figure.
    row.ratio = Number.isFinite(c) && Number.isFinite(n) && n !== 0 ? c / n : null;
    if (row.chorus.runs.length || row.node.runs.length) metrics.push(row);
  }
}

// Anything that went wrong: failed runs, lost messages, errors counted by the loadgen.
const issues = [];
for (const r of runs) {
  if (!r.ok) {
    issues.push({ server: r.server, scenario: r.key, rep: r.rep, what: r.error });
    continue;
  }
  const bad = ISSUE_FIELDS.filter((f) => r.result[f]).map((f) => `${f}=${r.result[f]}`);
  if (r.result.scenario === "idle" && r.result.ready < r.result.conns) {
    bad.push(`only ${r.result.ready} of ${r.result.conns} connections ready within the loadgen's timeout`);
  }
  const busiest = Math.max(r.result.loadgen_cpu ?? 0, ...(r.result.steps ?? []).map((s) => s.loadgen_cpu ?? 0));
  if (busiest > 0.9) bad.push(`load generator near saturation (${busiest.toFixed(2)} of a core): figures are a floor`);
  // The sender running late by more than 50 ms means the load generator itself stalled (a
  // busy machine): the latencies of that run include the stall.
  const lag = Math.max(r.result.send_lag_max_us ?? 0, ...(r.result.steps ?? []).map((s) => s.send_lag_max_us ?? 0));
  if (lag > 50000) bad.push(`load generator fell ${(lag / 1000).toFixed(0)} ms behind its schedule at worst`);
  if (r.exit) bad.push(`loadgen exit ${r.exit}`);
  if (bad.length) {
    const last = r.result.last_error ? ` (last error: ${r.result.last_error})` : "";
    issues.push({ server: r.server, scenario: r.key, rep: r.rep, what: bad.join(", ") + last });
  }
}

// The targets of the event-loop server (issue "Event-loop server"), checked on the medians.
const find = (scenario, metric) => metrics.find((r) => r.scenario === scenario && r.metric === metric);
const med = (scenario, metric, s) => find(scenario, metric)?.[s].median ?? null;
const ratio = (scenario, metric) => find(scenario, metric)?.ratio ?? null;
const known = (...xs) => xs.every((x) => x !== null && x !== undefined && !Number.isNaN(x));
const targets = [];
function target(what, scenario, metric, goal, met) {
  targets.push({
    what,
    scenario,
    metric,
    chorus: med(scenario, metric, "chorus"),
    node: med(scenario, metric, "node"),
    ratio: ratio(scenario, metric),
    goal,
    met,
  });
}
if (suite === "") {
  const r = ratio("fanout", "deliveries_per_s");
  target("fan-out, 1,000 clients, 300 emits/s: deliveries/s", "fanout", "deliveries_per_s", "≥ 2.5× Node",
         known(r) ? r >= 2.5 : null);
  target("fan-out: delivery latency p50 (µs)", "fanout", "p50_us", "", null);
  target("fan-out: delivery latency p99 (µs)", "fanout", "p99_us", "", null);
  const d = med("echo_50k", "delivered_fraction", "chorus");
  target("echo, 50,000 acks/s over 100 connections: delivered", "echo_50k", "delivered_fraction", "all (1)",
         known(d) ? d === 1 : null);
  const p = ratio("echo_50k", "p99_us");
  target("echo 50,000/s: ack p99 (µs)", "echo_50k", "p99_us", "≤ Node's", known(p) ? p <= 1 : null);
  target("echo knee: highest rate with p99 ≤ 10 ms (msg/s)", "echo_sweep", "max_rate_ok", "report", null);
  const threads = [];
  const t1k = med("idle_1k", "server_threads", "chorus");
  if (known(t1k)) threads.push(t1k);
  for (const [key, label] of [
    ["idle_5k", "5,000 idle (ws)"],
    ["idle_15k", "15,000 idle (ws)"],
    ["idle_tls_5k", "5,000 idle (wss)"],
    ["idle_tls_15k", "15,000 idle (wss)"],
  ]) {
    const kb = med(key, "rss_per_conn_kb", "chorus");
    const tls = key.includes("tls");
    target(`${label}: KiB RSS per connection`, key, "rss_per_conn_kb", tls ? "report" : "≤ 4 KiB",
           tls || !known(kb) ? null : kb <= 4);
    const t = med(key, "server_threads", "chorus");
    if (known(t)) threads.push(t);
    target(`${label}: server threads`, key, "server_threads", "≤ 64, same at any count",
           known(t) ? t <= 64 && threads.every((x) => x === threads[0]) : null);
  }
  const c = ratio("churn", "cycles_per_s");
  target("connection churn (cycles/s)", "churn", "cycles_per_s", "≥ 2× Node", known(c) ? c >= 2 : null);
  const st = med("startup_server", "start_ms", "chorus");
  target("chorus-server start to first HTTP 200 (ms)", "startup_server", "start_ms", "≤ 100 ms",
         known(st) ? st <= 100 : null);
  const rss = med("startup_server", "rss_mb", "chorus");
  target("chorus-server idle RSS (MB)", "startup_server", "rss_mb", "< 20 MB", known(rss) ? rss < 20 : null);
  target("chorus-server threads after start", "startup_server", "threads", "report", null);
}

const summary = { facts, targets, metrics, issues, runs };
// JSON has no Infinity: write it as null ("lost").
writeFileSync(`${outPrefix}.json`, JSON.stringify(summary, (k, v) => (v === Infinity ? null : v), 2) + "\n");

function fmt(x) {
  if (x === null || x === undefined) return "–";
  if (!Number.isFinite(x)) return "∞ (lost)";
  if (x === 0) return "0";
  if (Number.isInteger(x) && Math.abs(x) < 100) return String(x);
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString("en-US");
  if (Math.abs(x) >= 1) return x.toFixed(1);
  if (x > 0.99) return x.toFixed(5);  // a delivered fraction just short of 1 must not round to it
  return x.toFixed(3);
}
function verdict(row) {
  const c = row.chorus.median;
  const n = row.node.median;
  // A lost message is an infinite latency: the side that lost none is better.
  if (row.better === "lower" && c !== null && n !== null && (c === Infinity) !== (n === Infinity)) {
    return c === Infinity ? "Node better (Chorus lost messages)" : "Chorus better (Node lost messages)";
  }
  if (row.ratio === null || Number.isNaN(row.ratio)) return "";
  const good = row.better === "higher" ? row.ratio >= 1 : row.ratio <= 1;
  return good ? "Chorus better" : "Node better";
}

let md = "";
if (suite === "cluster") {
  md += `# Chorus cluster benchmark, ${facts.date ?? ""} (${facts.mode ?? ""})\n\n`;
  const streams = facts.adapter === "streams";
  const flags = streams ? "--redis --redis-adapter streams --recovery-ms 120000" : "--redis";
  md += `Two Chorus nodes (\`chorus-bench-server ${flags}\`) against two Node socket.io nodes `;
  md += `(\`bench/reference_server.mjs ${flags}\`, `;
  md += streams
    ? "`@socket.io/redis-streams-adapter`, `connectionStateRecovery` on), "
    : "`@socket.io/redis-adapter`), ";
  md += "each pair a cluster through ";
  md += "a redis-server of its own, driven by `chorus-loadgen cluster` over raw WebSocket connections ";
  md += "(`bench/cluster.sh`). Every figure is the median of the runs (shown in brackets); the ratio is ";
  md += "Chorus / Node.\n\n";
  md += "The clients sit alternately on node A and node B, all in room1. **cluster_a_R**: a client on A emits ";
  md += streams
    ? "`broadcast` R times a second, node A adds `bcast` to the Redis stream (XADD) and sends it to its " +
      "clients once Redis has given the entry id (their recovery offset), node B reads it back (XREAD BLOCK) " +
      "and delivers it to its own: every delivery waited for Redis, those on B crossed it. "
    : "`broadcast` R times a second, node A sends `bcast` to its clients and publishes it to Redis, node B " +
      "delivers it to its own: every delivery on B crossed Redis. ";
  md += "**cluster_both_R**: a client on A and one ";
  md += "on B take turns. *Local* clients are those of the sending node, *remote* those of the other. ";
  md += "Throughput counts arrivals inside the window, latency runs from the scheduled send time (the ";
  md += "load generator's clock) to the receipt; lost messages count as infinite latency.\n\n";
} else {
  md += `# Chorus benchmark, ${facts.date ?? ""} (${facts.mode ?? ""})\n\n`;
md += "Chorus (`chorus-bench-server`) against the npm socket.io 4 reference (`bench/reference_server.mjs`), ";
md += "driven by `chorus-loadgen` over raw WebSocket connections. Every figure is the median of the runs ";
md += "(shown in brackets); the ratio is Chorus / Node.\n\n";
md += "Scenarios: **idle** opens N connections (Engine.IO + namespace connect) and reads the server's VmRSS ";
md += "before and after; **echo** emits `echo` with an ack at a fixed aggregate rate, open loop, latency from the ";
md += "scheduled send time to the ack; **echo_sweep** raises that rate until p99 passes 10 ms (or acks fall ";
md += "behind); **fanout** has one of 1000 clients in room1 emit `broadcast` at a fixed rate, the server sending ";
md += "`bcast` to all 1000 (sender included), throughput counted by arrival inside the window, latency from the ";
md += "timestamp in the payload; **churn** runs 16 loops of connect, namespace connect, disconnect and close. ";
md += "Lost messages count as infinite latency.\n\n";
md += "Scenarios added for the event-loop server's targets: **echo_50k** is echo at 50,000 acks/s over 100 ";
md += "connections; **idle_15k** and **idle_tls_*** open 15,000 connections (TLS: wss, full handshakes); ";
md += "**startup_server** starts the shipped `chorus-server` (Node: the reference server) and times its first ";
md += "HTTP 200. Threads are the server's `Threads:` in /proc/PID/status at the time RSS is read.\n\n";
}
if (targets.length) {
  md += "## Targets\n\n| target | Chorus | Node | Chorus/Node | goal | met |\n| --- | --- | --- | --- | --- | --- |\n";
  for (const t of targets) {
    const r = t.ratio === null ? "–" : Number.isFinite(t.ratio) ? t.ratio.toFixed(2) : "∞";
    const met = t.met === null ? "" : t.met ? "yes" : "**no**";
    md += `| ${t.what} | ${fmt(t.chorus)} | ${fmt(t.node)} | ${r} | ${t.goal} | ${met} |\n`;
  }
}
md += "\n## Machine\n\n| fact | value |\n| --- | --- |\n";
for (const [k, v] of Object.entries(facts)) md += `| ${k} | ${String(v).replace(/\|/g, "\\|")} |\n`;
md += "\n## Results\n\n| scenario | metric | better | Chorus | Node | Chorus/Node | |\n| --- | --- | --- | --- | --- | --- | --- |\n";
for (const row of metrics) {
  const cell = (s) => `${fmt(row[s].median)} [${row[s].runs.map(fmt).join(", ")}]`;
  md += `| ${row.scenario} | ${row.label} | ${row.better} | ${cell("chorus")} | ${cell("node")} | ${row.ratio === null ? "–" : Number.isFinite(row.ratio) ? row.ratio.toFixed(2) : "∞"} | ${verdict(row)} |\n`;
}
md += "\n## Issues\n\n";
if (issues.length === 0) md += "None: no failed run, lost message or connection error.\n";
for (const i of issues) md += `- ${i.server} ${i.scenario} #${i.rep}: ${String(i.what).replace(/\n/g, " / ")}\n`;
writeFileSync(`${outPrefix}.md`, md);
