// A strict reader of the Prometheus text exposition format 0.0.4, for the metrics suite: every
// scrape goes through it, and anything the format does not allow throws with the line.
//
// parsePrometheus(text) -> Scrape: families (Map name -> {name, type, help, samples}), and
// value(name, labels) / values(name) for the samples.

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(s, where) {
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`${where}: bad value ${JSON.stringify(s)}`);
  return Number(s);
}

// `{a="x",b="y\"z"}` starting at text[i] === "{": returns {labels, end} (end: index after "}").
function parseLabels(text, i, where) {
  const labels = {};
  i += 1;
  for (;;) {
    if (text[i] === "}") return { labels, end: i + 1 };
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`${where}: label without '='`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    if (text[eq + 1] !== '"') throw new Error(`${where}: label value not quoted`);
    let value = "";
    let j = eq + 2;
    for (;;) {
      const c = text[j];
      if (c === undefined) throw new Error(`${where}: unterminated label value`);
      if (c === '"') break;
      if (c === "\\") {
        const e = text[j + 1];
        if (e === "\\") value += "\\";
        else if (e === '"') value += '"';
        else if (e === "n") value += "\n";
        else throw new Error(`${where}: bad escape \\${e}`);
        j += 2;
        continue;
      }
      value += c;
      j += 1;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i += 1;
    else if (text[i] !== "}") throw new Error(`${where}: expected ',' or '}' after a label`);
  }
}

const key = (labels) =>
  JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );

export class Scrape {
  constructor() {
    this.families = new Map();
  }

  family(name) {
    const f = this.families.get(name);
    if (!f) throw new Error(`no family ${name} in the scrape (${[...this.families.keys()].join(", ")})`);
    return f;
  }

  // The sample `name` with exactly these labels (for a histogram's parts: name_bucket, ...).
  value(name, labels = {}) {
    const want = key(labels);
    for (const f of this.families.values()) {
      for (const s of f.samples) {
        if (s.name === name && key(s.labels) === want) return s.value;
      }
    }
    throw new Error(`no sample ${name}${want}`);
  }

  // Every sample of `name`: [{labels, value}].
  values(name) {
    const out = [];
    for (const f of this.families.values()) {
      for (const s of f.samples) if (s.name === name) out.push({ labels: s.labels, value: s.value });
    }
    return out;
  }
}

export function parsePrometheus(text) {
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("the exposition does not end with a line feed");
  const scrape = new Scrape();
  const seen = new Set();
  let current = null;
  const lines = text.split("\n");
  lines.pop();
  lines.forEach((line, n) => {
    const where = `line ${n + 1} ${JSON.stringify(line)}`;
    if (line === "") return;
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a comment
      const [, kind, name, rest] = m;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      let f = scrape.families.get(name);
      if (!f) {
        f = { name, type: undefined, help: undefined, samples: [] };
        scrape.families.set(name, f);
      } else if (f.samples.length > 0) {
        throw new Error(`${where}: ${kind} after the family's samples`);
      }
      if (kind === "HELP") {
        if (f.help !== undefined) throw new Error(`${where}: HELP twice`);
        f.help = rest;
      } else {
        if (f.type !== undefined) throw new Error(`${where}: TYPE twice`);
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type`);
        f.type = rest;
      }
      current = f;
      return;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`${where}: no metric name`);
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
    let labels = {};
    let i = nameEnd;
    if (line[i] === "{") ({ labels, end: i } = parseLabels(line, i, where));
    if (line[i] !== " ") throw new Error(`${where}: no space before the value`);
    const parts = line.slice(i + 1).split(" ");
    if (parts.length > 2) throw new Error(`${where}: too many fields`);
    const value = parseValue(parts[0], where);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp`);
    if (!current) throw new Error(`${where}: a sample before any TYPE`);
    const base = current.type === "histogram" ? name.replace(/_(bucket|sum|count)$/, "") : name;
    if (base !== current.name) throw new Error(`${where}: sample of ${name} inside family ${current.name}`);
    if (current.type === "histogram" && base === name) throw new Error(`${where}: histogram sample without suffix`);
    if (current.type === "histogram" && name.endsWith("_bucket") && !("le" in labels)) {
      throw new Error(`${where}: bucket without le`);
    }
    const id = name + key(labels);
    if (seen.has(id)) throw new Error(`${where}: series twice`);
    seen.add(id);
    if (current.type === "counter" && !(value >= 0)) throw new Error(`${where}: negative counter`);
    current.samples.push({ name, labels, value });
  });
  for (const f of scrape.families.values()) {
    if (f.type === undefined) throw new Error(`family ${f.name} has no TYPE`);
    if (f.type === "histogram") checkHistogram(f);
  }
  return scrape;
}

// Buckets ascending by le, cumulative counts that never decrease, a +Inf bucket equal to
// _count, per label set.
function checkHistogram(f) {
  const groups = new Map();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = key(rest);
    if (!groups.has(k)) groups.set(k, { buckets: [], count: undefined, sum: undefined });
    const g = groups.get(k);
    if (s.name.endsWith("_bucket")) g.buckets.push({ le: parseValue(le, `${f.name} le`), value: s.value });
    else if (s.name.endsWith("_count")) g.count = s.value;
    else g.sum = s.value;
  }
  for (const [k, g] of groups) {
    if (g.count === undefined || g.sum === undefined) throw new Error(`${f.name}${k}: no _count or _sum`);
    const sorted = [...g.buckets].sort((a, b) => a.le - b.le);
    if (sorted.length === 0 || sorted.at(-1).le !== Infinity) throw new Error(`${f.name}${k}: no +Inf bucket`);
    for (let i = 1; i < sorted.length; ++i) {
      if (sorted[i].le === sorted[i - 1].le) throw new Error(`${f.name}${k}: le ${sorted[i].le} twice`);
      if (sorted[i].value < sorted[i - 1].value) throw new Error(`${f.name}${k}: buckets not cumulative`);
    }
    if (sorted.at(-1).value !== g.count) throw new Error(`${f.name}${k}: +Inf bucket ${sorted.at(-1).value} != _count ${g.count}`);
  }
}
