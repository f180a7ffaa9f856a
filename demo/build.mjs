// Bundles the editor page (demo/src/main.js and CodeMirror 6 from node_modules) into
// demo/dist/demo.js with esbuild. The Chorus modules (/chorus/chorus.mjs, the SDK, and
// /chorus/chorus_collab.mjs, the CRDT) stay external: chorus-server serves them from the
// WASM build next to their .wasm files.
//   node demo/build.mjs            (run by toolchains/demo.sh and toolchains/test.sh)
import { build } from "esbuild";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));

export async function buildDemo({ minify = true } = {}) {
  await build({
    entryPoints: [join(here, "src/main.js")],
    outfile: join(here, "dist/demo.js"),
    bundle: true,
    format: "esm",
    target: ["chrome100", "firefox100", "safari15.4"],
    external: ["/chorus/*"],
    minify,
    sourcemap: "linked",
    legalComments: "linked",
    logLevel: "warning",
  });
  return join(here, "dist/demo.js");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildDemo({ minify: !process.argv.includes("--dev") });
}
