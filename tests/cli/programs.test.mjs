// The command lines of every Chorus program (chorus-server, the conformance servers, the test
// apps and tools and, in builds that have them, the benchmark programs): --help prints the usage and
// exits 0 without starting anything; an unknown flag or a stray argument exits 2 with a
// message. And the Engine.IO paths of the conformance servers: chorus-eio-echo on the
// engine.io package's default /engine.io/, chorus-conformance on /socket.io/, both with --path.
import assert from "node:assert/strict";
import { basename } from "node:path";
import { describe, test } from "node:test";
import { runToExit, startProcess } from "../common/process.mjs";
import { BIN, request, tempDir } from "./helpers.mjs";

// CHORUS_PROGRAMS: the other programs' paths, separated by ':' (tests/cli/tests.cmake).
const PROGRAMS = [BIN, ...(process.env.CHORUS_PROGRAMS ?? "").split(":").filter(Boolean)];
const byName = Object.fromEntries(PROGRAMS.map((p) => [basename(p), p]));
const cwd = tempDir();

// Runs a program to completion; a program still running after `ms` is killed (and the test
// then fails on its exit status: it started something instead of exiting).
const run = (bin, args, ms = 10_000) => runToExit(bin, args, { cwd, ms });

// Starts a conformance server with `args`; resolves with {host, port, path, stop()} once it
// listens.
const listen = (bin, args) => startProcess(bin, ["--port", "0", ...args], { name: basename(bin), cwd });

const handshake = (server, path) => request(server, `${path}?EIO=4&transport=polling`);

describe("every program's command line", { concurrency: true }, () => {
  test("the programs under test", () => {
    for (const name of ["chorus-server", "chorus-eio-echo", "chorus-conformance", "chorus-routes-app", "chorus-interop-app", "chorus-cluster-app"]) {
      assert.ok(byName[name], `${name} missing from CHORUS_PROGRAMS (${PROGRAMS.join(", ")})`);
    }
  });

  for (const bin of PROGRAMS) {
    const name = basename(bin);
    test(`${name} --help prints the usage and exits 0 without starting`, async () => {
      for (const arg of ["--help", "-h"]) {
        const r = await run(bin, [arg]);
        assert.equal(r.code, 0, `${arg}: exit ${r.code}, signal ${r.signal}, stderr ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`^usage: ${name}`), `${arg}: stdout ${JSON.stringify(r.stdout)}`);
        assert.match(r.stdout, /--help/);
        assert.doesNotMatch(r.stdout, /listening/);
        assert.equal(r.stderr, "");
      }
    });

    test(`${name} refuses an unknown flag and a stray argument with exit 2`, async () => {
      const unknown = await run(bin, ["--no-such-flag", "1"]);
      assert.equal(unknown.code, 2, `exit ${unknown.code}, signal ${unknown.signal}, stdout ${unknown.stdout}`);
      assert.match(unknown.stderr, new RegExp(`^${name}: .*unknown option --no-such-flag`));
      assert.doesNotMatch(unknown.stdout, /listening/);
      // chorus-loadgen's first argument is a command (covered below); a replay takes any
      // number of files.
      if (name === "chorus-loadgen" || name.endsWith("_replay")) return;
      const stray = await run(bin, ["stray", "more", "arguments", "than", "any", "program", "takes"]);
      assert.equal(stray.code, 2, `exit ${stray.code}, signal ${stray.signal}, stdout ${stray.stdout}`);
      assert.match(stray.stderr, new RegExp(`^${name}: .*unexpected argument`));
    });
  }

  test("a flag missing its value or with a bad number exits 2 naming the flag", async (t) => {
    for (const name of ["chorus-eio-echo", "chorus-conformance", "chorus-routes-app", "chorus-interop-app", "chorus-cluster-app"]) {
      const missing = await run(byName[name], ["--port"]);
      assert.equal(missing.code, 2, `${name} --port: exit ${missing.code}`);
      assert.match(missing.stderr, /--port needs a value/);
      const bad = await run(byName[name], ["--port", "70000"]);
      assert.equal(bad.code, 2, `${name} --port 70000: exit ${bad.code}`);
      assert.match(bad.stderr, /--port needs a whole number from 0 to 65535, got '70000'/);
    }
    if (byName["chorus-loadgen"]) {
      const r = await run(byName["chorus-loadgen"], ["fly", "--port", "1"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown command 'fly'/);
      // startup runs the command after "--", and only startup takes one.
      const bare = await run(byName["chorus-loadgen"], ["startup", "--port", "1"]);
      assert.equal(bare.code, 2);
      assert.match(bare.stderr, /startup needs -- COMMAND/);
      const extra = await run(byName["chorus-loadgen"], ["idle", "--port", "1", "--", "true"]);
      assert.equal(extra.code, 2);
      assert.match(extra.stderr, /a command after -- is for startup only/);
    } else {
      t.diagnostic("benchmark programs not built in this tree (sanitizer build)");
    }
  });

  test("chorus-bench-server refuses a bad --redis-adapter or --recovery-ms with exit 2", async (t) => {
    const bin = byName["chorus-bench-server"];
    if (!bin) return t.skip("benchmark programs not built in this tree (sanitizer build)");
    const cases = [
      [["--redis-adapter", "pubsub"], /--redis-adapter needs classic or streams, got 'pubsub'/],
      [["--redis-adapter"], /--redis-adapter needs a value/],
      [["--recovery-ms", "86400001"], /--recovery-ms needs a whole number from 0 to 86400000, got '86400001'/],
      [["--recovery-ms", "-1"], /--recovery-ms needs a whole number from 0 to 86400000, got '-1'/],
    ];
    for (const [args, message] of cases) {
      const r = await run(bin, args);
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}, signal ${r.signal}, stdout ${r.stdout}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stdout, /listening/);
    }
  });
});

describe("Engine.IO paths of the conformance servers", { concurrency: true }, () => {
  const cases = [
    ["chorus-eio-echo", [], "/engine.io/", "/socket.io/"],
    ["chorus-conformance", [], "/socket.io/", "/engine.io/"],
    ["chorus-eio-echo", ["--path", "/custom/"], "/custom/", "/engine.io/"],
    ["chorus-conformance", ["--path", "/custom/"], "/custom/", "/socket.io/"],
  ];
  for (const [name, args, path, other] of cases) {
    test(`${name} ${args.join(" ")} serves ${path}, not ${other}`, async () => {
      const server = await listen(byName[name], args);
      try {
        assert.equal(server.path, path, "path on the listening line");
        const ok = await handshake(server, path);
        assert.equal(ok.status, 200, ok.body);
        assert.match(ok.body, /^0\{"sid":/);
        const no = await handshake(server, other);
        assert.notEqual(no.status, 200, `${other} answered a handshake: ${no.body}`);
      } finally {
        const { code, signal } = await server.stop();
        assert.deepEqual({ code, signal }, { code: 0, signal: null });
      }
    });
  }
});
