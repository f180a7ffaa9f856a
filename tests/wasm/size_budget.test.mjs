// The page's download budget (README, Collaborative editing): the SDK and the CRDT module
// together, .mjs + .wasm as the server ships them, gzip -9, at most 100,000 bytes. Also a
// floor for each file, so that a build that left one out or emptied it cannot pass.
//   CHORUS_WASM_DIR=build/wasm node --test tests/wasm/size_budget.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const dir = process.env.CHORUS_WASM_DIR;
if (!dir) throw new Error("set CHORUS_WASM_DIR to a build tree of the wasm preset");
const kBudget = 100_000;
const files = ["chorus.mjs", "chorus.wasm", "chorus_collab.mjs", "chorus_collab.wasm"];

test(`SDK + CRDT modules: at most ${kBudget} bytes gzipped`, () => {
  let total = 0;
  const sizes = {};
  for (const name of files) {
    const bytes = readFileSync(join(dir, "wasm", name));
    const gz = gzipSync(bytes, { level: 9 }).length;
    assert.ok(gz > 1000, `${name}: ${gz} bytes gzipped, too small to be the module`);
    sizes[name] = gz;
    total += gz;
  }
  console.log(JSON.stringify({ ...sizes, total }));
  assert.ok(total <= kBudget, `${total} bytes gzipped (${JSON.stringify(sizes)}), over the ${kBudget} budget`);
});
