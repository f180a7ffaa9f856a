// Compares Chorus's codec output with the reference parsers' output, line by line.
//
// Usage: node tests/differential/compare.mjs <corpus.jsonl> <chorus.out> <js.out>
//
// A corpus line without "divergence" must give the same decision and, when accepted, the
// same packets and re-encoding on both sides. A line with "divergence" (the reason Chorus
// deliberately differs) and "chorus": "accept" | "reject" only checks Chorus's decision.
// Prints `differential: N passed, M failed` and exits 1 when anything failed.
import { readFileSync } from "node:fs";

const [corpusPath, chorusPath, jsPath] = process.argv.slice(2);
if (!jsPath) {
  process.stderr.write("usage: node compare.mjs <corpus.jsonl> <chorus.out> <js.out>\n");
  process.exit(2);
}

const lines = (path) =>
  readFileSync(path, "utf8")
    .split("\n")
    .map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l))
    .filter((l) => !/^[ \t]*$/.test(l));

const corpus = lines(corpusPath);
const chorus = lines(chorusPath);
const js = lines(jsPath);

let passed = 0;
let failed = 0;
const fail = (n, source, why, a, b) => {
  failed++;
  process.stdout.write(`FAIL line ${n}: ${why}\n  input:  ${source}\n  chorus: ${a}\n  js:     ${b}\n`);
};

for (const [name, out] of [["chorus", chorus], ["js", js]]) {
  if (out.length !== corpus.length) {
    process.stdout.write(`FAIL: ${name} output has ${out.length} lines, corpus has ${corpus.length}\n`);
    failed++;
  }
}

const count = Math.min(corpus.length, chorus.length, js.length);
for (let i = 0; i < count; i++) {
  const n = i + 1;
  let entry;
  try {
    entry = JSON.parse(corpus[i]);
  } catch {
    fail(n, corpus[i], "corpus line is not JSON", chorus[i], js[i]);
    continue;
  }
  let c, j;
  try {
    c = JSON.parse(chorus[i]);
    j = JSON.parse(js[i]);
  } catch {
    fail(n, corpus[i], "output line is not JSON", chorus[i], js[i]);
    continue;
  }
  if ("corpus_error" in c || "corpus_error" in j) {
    fail(n, corpus[i], "corpus line could not be read", chorus[i], js[i]);
    continue;
  }
  if (entry.divergence !== undefined) {
    if (entry.chorus !== "accept" && entry.chorus !== "reject") {
      fail(n, corpus[i], 'divergence without "chorus": "accept"|"reject"', chorus[i], js[i]);
      continue;
    }
    const got = c.ok ? "accept" : "reject";
    if (got !== entry.chorus) {
      fail(n, corpus[i], `divergent line: Chorus should ${entry.chorus} (${entry.divergence})`, chorus[i], js[i]);
      continue;
    }
    passed++;
    continue;
  }
  // Both tools print canonical JSON (sorted keys, no whitespace): compare the text.
  if (chorus[i] !== js[i]) {
    const why = c.ok !== j.ok ? `Chorus ${c.ok ? "accepts" : "rejects"}, reference ${j.ok ? "accepts" : "rejects"}` : "different packets or encoding";
    fail(n, corpus[i], why, chorus[i], js[i]);
    continue;
  }
  passed++;
}

process.stdout.write(`differential: ${passed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
