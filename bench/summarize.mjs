// Turns the raw runs of bench/run.sh (one JSON line per run) into <out>.md and <out>.json:
// the median of every metric per server, and the Chorus/Node ratio.
//
//   node bench/summarize.mjs RAW.jsonl OUT_PREFIX [--fact key=value]...
import { readFileSync, writeFileSync } from "node:fs";

const METRICS = {
  idle_1k: [
    ["rss_per_conn_kb", "server RSS per idle connection (KiB)", "lower"],
    ["connects_per_s", "connections opened per second", "higher"],
  ],
  idle_5k: [
    ["rss_per_conn_kb", "server RSS per idle connection (KiB)", "lower"],
    ["connects_per_s", "connections opened per second", "higher"],
  ],
  echo: [
    ["p50_us", "ack latency p50 (µs)", "lower"],
    ["p99_us", "ack latency p99 (µs)", "lower"],
    ["server_cpu", "server CPU (cores)", "lower"],
  ],
  echo_sweep: [["max_rate_ok", "highest echo rate with p99 ≤ 10 ms (msg/s)", "higher"]],
  fanout: [
    ["deliveries_per_s", "deliveries per second", "higher"],
    ["p50_us", "delivery latency p50 (µs)", "lower"],
    ["p99_us", "delivery latency p99 (µs)", "lower"],
    ["server_cpu", "server CPU (cores)", "lower"],
  ],
  churn: [
    ["cycles_per_s", "connect + namespace connect + close per second", "higher"],
    ["connect_p99_us", "connect latency p99 (µs)", "lower"],
    ["server_cpu", "server CPU (cores)", "lower"],
  ],
};
const ISSUE_FIELDS = ["missing", "connect_failures", "protocol_errors", "unexpected_closes", "failures", "clients_lost"];
const SERVERS = ["chorus", "node"];

const [rawPath, outPrefix, ...rest] = process.argv.slice(2);
if (!rawPath || !outPrefix) {
  console.error("usage: summarize.mjs RAW.jsonl OUT_PREFIX [--fact key=value]...");
  process.exit(2);
}
const facts = {};
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === "--fact") {
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

const metrics = [];
for (const [key, list] of Object.entries(METRICS)) {
  for (const [field, label, better] of list) {
    const row = { scenario: key, metric: field, label, better };
    for (const s of SERVERS) {
      const values = runs.filter((r) => r.ok && r.server === s && r.key === key).map((r) => r.result[field]);
      // null in a result is an infinite latency (lost messages): keep it as such.
      row[s] = { median: median(values), runs: values.map((x) => (x === null || x === undefined ? Infinity : x)) };
    }
    const c = row.chorus.median;
    const n = row.node.median;
    row.ratio = c !== null && n !== null && n !== 0 && !(c === Infinity && n === Infinity) ? c / n : null;
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
  const busiest = Math.max(r.result.loadgen_cpu ?? 0, ...(r.result.steps ?? []).map((s) => s.loadgen_cpu ?? 0));
  if (busiest > 0.9) bad.push(`load generator near saturation (${busiest.toFixed(2)} of a core): figures are a floor`);
  if (r.exit) bad.push(`loadgen exit ${r.exit}`);
  if (bad.length) {
    const last = r.result.last_error ? ` (last error: ${r.result.last_error})` : "";
    issues.push({ server: r.server, scenario: r.key, rep: r.rep, what: bad.join(", ") + last });
  }
}

const summary = { facts, metrics, issues, runs };
// JSON has no Infinity: write it as null ("lost").
writeFileSync(`${outPrefix}.json`, JSON.stringify(summary, (k, v) => (v === Infinity ? null : v), 2) + "\n");

function fmt(x) {
  if (x === null || x === undefined) return "–";
  if (!Number.isFinite(x)) return "∞ (lost)";
  if (x === 0) return "0";
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString("en-US");
  if (Math.abs(x) >= 1) return x.toFixed(1);
  return x.toFixed(3);
}
function verdict(row) {
  if (row.ratio === null || Number.isNaN(row.ratio)) return "";
  const good = row.better === "higher" ? row.ratio >= 1 : row.ratio <= 1;
  return good ? "Chorus better" : "Node better";
}

let md = `# Chorus benchmark, ${facts.date ?? ""} (${facts.mode ?? ""})\n\n`;
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
md += "## Machine\n\n| fact | value |\n| --- | --- |\n";
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
