// chorus-server static files: --root (content types, no directory listing, no path
// traversal, 404, paths that cannot name a file, GET and HEAD only) and the SDK folder at
// /chorus/ (--sdk: the SDK's own files, never the rest of a build folder).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { request, sleep, startServer, tempDir, writeTree } from "./helpers.mjs";

const base = tempDir();
const root = join(base, "root");
const sdk = join(base, "sdk");
const SECRET = "top-secret-outside-the-root";
writeTree(base, {
  "secret.txt": SECRET,
  "root/index.html": "<!doctype html><title>chorus home</title>",
  "root/style.css": "body { color: red }",
  "root/app.js": "console.log('app');",
  "root/data.json": '{"ok":true}',
  "root/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>',
  "root/empty/listed-file.txt": "should not be listed",
  "root/docs/index.html": "<p>docs index</p>",
  "root/page.shtml": 'A<!--#include virtual="style.css" -->B',
  "sdk/chorus.mjs": "export const io = 'chorus sdk';",
  "sdk/chorus.wasm": Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]),
  "sdk/chorus.d.ts": "export declare function io(): void;",
  "sdk/chorus_collab.mjs": "export default 2;",
  "sdk/chorus_inspector.mjs": "export default 1;",
  // What a build folder holds beside the SDK: never served.
  "sdk/cmake_install.cmake": "# Install script for directory: /home/someone/chorus/wasm",
  "sdk/CMakeFiles/chorus_sdk_core.dir/bindings.cpp.o": "\x7fELF object",
  "sdk/chorus_codec.cjs": "module.exports = 'test tool';",
  "sdk/sdk_glue/chorus_core.mjs": "glue",
  "sdk/nested/empty-dir-file.txt": "nested",
});

describe("chorus-server static files", { concurrency: true }, () => {
  let server;
  before(async () => {
    server = await startServer(["--root", root, "--sdk", sdk]);
  });
  after(async () => {
    await server?.stop();
  });

  test("files from --root come with the right content type", async () => {
    const cases = [
      ["/", /^text\/html/, "chorus home"],
      ["/index.html", /^text\/html/, "chorus home"],
      ["/style.css", /^text\/css/, "color: red"],
      ["/app.js", /^(application|text)\/javascript/, "console.log"],
      ["/data.json", /^application\/json/, '{"ok":true}'],
      ["/logo.svg", /^image\/svg\+xml/, "<svg"],
      ["/docs/", /^text\/html/, "docs index"],
    ];
    for (const [path, type, content] of cases) {
      const r = await request(server, path);
      assert.equal(r.status, 200, `${path}: status`);
      assert.match(r.headers["content-type"] ?? "", type, `${path}: content-type`);
      assert.ok(r.body.includes(content), `${path}: body ${JSON.stringify(r.body)}`);
    }
  });

  test("server-side includes are not run: an .shtml file is served as it is", async () => {
    const r = await request(server, "/page.shtml");
    assert.equal(r.status, 200);
    assert.equal(r.body, 'A<!--#include virtual="style.css" -->B');
  });

  test("HEAD on a static file answers headers without a body", async () => {
    const r = await request(server, "/style.css", { method: "HEAD" });
    assert.equal(r.status, 200);
    assert.equal(r.body, "");
  });

  test("a directory without an index is not listed", async () => {
    for (const path of ["/empty/", "/chorus/nested/"]) {
      const r = await request(server, path);
      assert.ok([403, 404].includes(r.status), `${path}: status ${r.status}`);
      assert.ok(!r.body.includes("listed-file") && !r.body.includes("empty-dir-file"), `${path} lists its files: ${r.body}`);
    }
    // Without the trailing slash: a redirect or a refusal, never a listing.
    const r = await request(server, "/empty");
    assert.ok([301, 302, 403, 404].includes(r.status), `/empty: status ${r.status}`);
    assert.ok(!r.body.includes("listed-file"));
  });

  test("path traversal out of --root and --sdk is refused", async () => {
    const paths = [
      "/../secret.txt",
      "/../../secret.txt",
      "/empty/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/secret.txt",
      "/empty/..%2f..%2fsecret.txt",
      "/..%5csecret.txt",
      "/chorus/../secret.txt",
      "/chorus/../../secret.txt",
      "/chorus/%2e%2e/secret.txt",
      "/chorus/..%2f..%2fsecret.txt",
      "/chorus/nested/../../secret.txt",
    ];
    for (const path of paths) {
      const r = await request(server, path);
      assert.ok(!r.body.includes(SECRET), `${path} leaked a file outside the root (status ${r.status})`);
      assert.notEqual(r.status, 200, `${path}: status 200`);
    }
  });

  test("a missing file is 404", async () => {
    for (const path of ["/nope.html", "/empty/nope.txt", "/chorus/nope.js"]) {
      const r = await request(server, path);
      assert.equal(r.status, 404, `${path}: status`);
    }
  });

  test("/chorus/ serves the SDK's own files from --sdk, with their types", async () => {
    const mjs = await request(server, "/chorus/chorus.mjs");
    assert.equal(mjs.status, 200);
    // Browsers refuse module scripts without a JavaScript MIME type.
    assert.match(mjs.headers["content-type"] ?? "", /^(application|text)\/javascript/);
    assert.equal(mjs.body, "export const io = 'chorus sdk';");
    const wasm = await request(server, "/chorus/chorus.wasm");
    assert.equal(wasm.status, 200);
    // WebAssembly.instantiateStreaming needs exactly application/wasm.
    assert.match(wasm.headers["content-type"] ?? "", /^application\/wasm/);
    assert.equal(wasm.headers["content-length"], "8");
    const dts = await request(server, "/chorus/chorus.d.ts");
    assert.equal(dts.status, 200);
    assert.match(dts.headers["content-type"] ?? "", /^text\/plain/);
    for (const path of ["/chorus/chorus_collab.mjs", "/chorus/chorus_inspector.mjs"]) {
      assert.equal((await request(server, path)).status, 200, path);
    }
    const head = await request(server, "/chorus/chorus.mjs", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body, "");
    // A listed file that the folder lacks: 404.
    assert.equal((await request(server, "/chorus/chorus_collab.wasm")).status, 404);
    // The SDK folder is not part of the document root.
    assert.equal((await request(server, "/chorus.mjs")).status, 404);
  });

  test("/chorus/ serves nothing else of the folder (build files, objects, test tools)", async () => {
    const paths = [
      "/chorus/",
      "/chorus/cmake_install.cmake",
      "/chorus/CMakeFiles/",
      "/chorus/CMakeFiles/chorus_sdk_core.dir/bindings.cpp.o",
      "/chorus/chorus_codec.cjs",
      "/chorus/sdk_glue/chorus_core.mjs",
      "/chorus/nested/empty-dir-file.txt",
      "/chorus/./cmake_install.cmake",
      "/chorus/chorus.mjs/../cmake_install.cmake",
    ];
    for (const path of paths) {
      const r = await request(server, path);
      assert.equal(r.status, 404, `${path}: status ${r.status}`);
      assert.ok(!/Install script|ELF|test tool|glue|nested/.test(r.body), `${path} leaked: ${r.body}`);
    }
  });

  test("a path that cannot name the file is 404, not that file", async () => {
    const paths = [
      "/index.html%00.js",
      "/index.html%00",
      "/index.html.",
      "/index.html..",
      "/index.html%2e",
      "/index.html./",
      "/docs./index.html",
      "/style.css%0a",
      "/chorus/chorus.mjs%00.txt",
      "/chorus/chorus.mjs.",
      "/chorus/chorus.wasm%2e",
    ];
    for (const path of paths) {
      const r = await request(server, path);
      assert.equal(r.status, 404, `${path}: status ${r.status}`);
      assert.ok(!r.body.includes("chorus home") && !r.body.includes("chorus sdk"), `${path} served a file`);
    }
    // A malformed escape is a bad request.
    for (const path of ["/index.html%", "/index.html%zz", "/chorus/chorus.mjs%4"]) {
      assert.equal((await request(server, path)).status, 400, path);
    }
    // Encoded names that do name a file still work.
    assert.equal((await request(server, "/%69ndex.html")).status, 200);
    assert.equal((await request(server, "/chorus/chorus%2Emjs")).status, 200);
  });

  test("static files take GET and HEAD only: 405 with Allow, not 401", async () => {
    for (const method of ["PUT", "DELETE", "POST", "PATCH", "MKCOL", "PROPFIND"]) {
      for (const path of ["/index.html", "/new-file.txt", "/docs/", "/chorus/chorus.mjs", "/chorus/new.mjs"]) {
        const r = await request(server, path, { method, body: method === "PUT" ? "overwritten" : undefined });
        assert.equal(r.status, 405, `${method} ${path}: status ${r.status}`);
        assert.equal(r.headers.allow, "GET, HEAD", `${method} ${path}: Allow`);
      }
    }
    const still = await request(server, "/index.html");
    assert.match(still.body, /chorus home/);
    assert.equal((await request(server, "/new-file.txt")).status, 404);
    // The routes beside keep their own methods.
    const login = await request(server, "/api/login", { method: "POST", headers: { "Content-Type": "application/json" },
                                                        body: JSON.stringify({ name: "ada" }) });
    assert.equal(login.status, 200, login.body);
  });

  test("a missing --sdk folder is a warning, not an error; /chorus/ is then 404", async () => {
    const s = await startServer(["--root", root, "--sdk", join(base, "no-sdk")]);
    try {
      for (let i = 0; i < 20 && !/SDK folder/.test(s.stderr); i++) await sleep(50);
      assert.match(s.stderr, /SDK folder '.*no-sdk' not found/);
      assert.equal((await request(s, "/chorus/chorus.mjs")).status, 404);
      assert.equal((await request(s, "/style.css")).status, 200);
    } finally {
      await s.stop();
    }
  });
});
