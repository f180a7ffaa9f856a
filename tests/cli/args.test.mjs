// chorus-server command line: --help, argument errors (exit 2), --config files, startup
// failures (exit 1).
import assert from "node:assert/strict";
import net from "node:net";
import { join } from "node:path";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, test } from "node:test";
import WebSocket from "ws";
import { freePort, handshake, request, run, runMany, startServer, tempDir } from "./helpers.mjs";

// Every flag chorus-server documents, with a valid value ("" for a flag without value).
const FLAGS = {
  "--host": "127.0.0.1",
  "--port": "0",
  "--root": ".",
  "--sdk": ".",
  "--path": "/socket.io/",
  "--cors": "*",
  "--cors-credentials": "",
  "--max-payload": "1000",
  "--ping-interval": "1000",
  "--ping-timeout": "1000",
  "--connect-timeout": "1000",
  "--max-connections": "10",
  "--body-timeout": "1000",
  "--io-threads": "2",
  "--http-threads": "8",
  "--keep-alive-timeout": "1000",
  "--header-timeout": "1000",
  "--max-pending-per-address": "4",
  "--max-pending-sessions-per-address": "100",
  "--transports": "polling,websocket",
  "--jwt-secret": "s3cret",
  "--docs-db": "docs.db",
  "--game-bots": "3",
  "--game-tick-hz": "20",
  "--game-max-players": "8",
  "--game-max-rooms": "4",
  "--game-max-inputs-per-second": "30",
  "--no-game": "",
  "--tls-cert": "cert.pem",
  "--redis": "redis://127.0.0.1:6379/0",
  "--redis-key": "socket.io",
  "--redis-adapter": "streams",
  "--recovery-ms": "60000",
  "--leave-grace-ms": "5000",
  "--doc-idle-unload-ms": "30000",
  "--doc-epoch-min-deleted": "10000",
  "--admin-auth": "admin:$2b$04$Ol9.P2cvUKUqSrxDYbjKL.vDTV8lxEEU.pMFWU.1xQgBza4RGYOri",
  "--admin-no-auth": "",
  "--admin-readonly": "",
  "--admin-server-id": "node-a",
  "--admin-max-sessions": "5",
  "--admin-max-pending-logins": "4",
  "--admin-ui": ".",
  "--metrics-path": "/internal/metrics",
  "--log-level": "debug",
  "--log-format": "json",
  "--config": null,
  "--version": null,
  "--help": null,
};

const dir = tempDir();

describe("chorus-server command line", { concurrency: true }, () => {
  test("--help exits 0 and lists every flag", async () => {
    for (const arg of ["--help", "-h"]) {
      const r = await run([arg]);
      assert.equal(r.code, 0, `${arg}: exit code`);
      assert.match(r.stdout, /^usage: chorus-server/);
      for (const flag of Object.keys(FLAGS)) {
        assert.match(r.stdout, new RegExp(`^\\s+${flag}\\b`, "m"), `${arg} does not list ${flag}`);
      }
      // And nothing else: a new flag needs its line in FLAGS (and tests).
      const listed = [...r.stdout.matchAll(/^\s+(--[a-z-]+)/gm)].map((m) => m[1]);
      assert.deepEqual(listed.sort(), Object.keys(FLAGS).sort(), "--help and FLAGS differ");
    }
  });

  test("--version prints the project's version and exits 0", async () => {
    const cmake = readFileSync(new URL("../../CMakeLists.txt", import.meta.url), "utf8");
    const version = cmake.match(/^project\(chorus VERSION (\d+\.\d+\.\d+)/m)[1];
    const r = await run(["--version"]);
    assert.equal(r.code, 0, `exit code (stderr: ${r.stderr})`);
    assert.equal(r.stdout, `chorus-server ${version}\n`);
    assert.equal(r.stderr, "");
  });

  test("every documented flag is accepted with a valid value", async () => {
    // Options are applied in order: a bad --port after the flag proves the flag itself passed.
    const flags = Object.entries(FLAGS).filter(([, value]) => value !== null);
    const runs = await runMany(flags.map(([flag, value]) => [...(value === "" ? [flag] : [flag, value]), "--port", "nope"]));
    for (const [i, [flag]] of flags.entries()) {
      const r = runs[i];
      assert.equal(r.code, 2, `${flag}: exit code (stderr: ${r.stderr})`);
      assert.match(r.stderr, /--port/, `${flag} was refused: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /unknown option/);
    }
  });

  test("argument errors exit 2 with a message on stderr", async () => {
    const cases = [
      [["--bogus", "1"], /unknown option --bogus/],
      [["stray"], /unexpected argument 'stray'/],
      [["--port", "abc"], /--port/],
      [["--port", "65536"], /--port needs 0\.\.65535/],
      [["--port", "-1"], /--port/],
      [["--ping-interval", "10x"], /--ping-interval needs a whole number from 0 to 4294967295, got '10x'/],
      [["--ping-timeout", ""], /--ping-timeout needs a whole number/],
      [["--max-payload", "1e6"], /--max-payload needs a whole number from 0 to 4294967295, got '1e6'/],
      [["--connect-timeout", "soon"], /--connect-timeout needs a whole number/],
      [["--max-connections", "0"], /--max-connections/],
      [["--io-threads", "1025"], /--io-threads must be 0 \(one per core\) to 1024/],
      [["--http-threads", "0"], /--http-threads must be 1 to 1024/],
      [["--body-timeout", "99"], /--body-timeout must be 100 to 3600000 ms/],
      [["--body-timeout", "3600001"], /--body-timeout must be 100 to 3600000 ms/],
      [["--keep-alive-timeout", "99"], /--keep-alive-timeout must be 100 to 3600000 ms/],
      [["--header-timeout", "3600001"], /--header-timeout must be 100 to 3600000 ms/],
      [["--max-pending-per-address", "0"], /--max-pending-per-address must be at least 1/],
      [["--max-pending-sessions-per-address", "0"], /--max-pending-sessions-per-address must be at least 1/],
      [["--port"], /--port needs a value/],
      [["--jwt-secret"], /--jwt-secret needs a value/],
      [["--config"], /--config needs a value/],
      [["--log-level", "loud"], /--log-level: error, warn, info or debug/],
      [["--redis-key", ""], /--redis-key needs a prefix/],
      [["--log-format", "xml"], /--log-format: text or json/],
      [["--admin-max-sessions", "0"], /--admin-max-sessions must be 1 to 1000000/],
      [["--admin-server-id", ""], /--admin-server-id needs 1 to 255 characters/],
      [["--admin-server-id", "x".repeat(256)], /--admin-server-id needs 1 to 255 characters/],
      [["--admin-max-pending-logins", "10001"], /--admin-max-pending-logins must be 1 to 10000/],
      [["--redis-adapter", "sharded"], /--redis-adapter: classic .* or streams/],
      [["--recovery-ms", "86400001"], /--recovery-ms must be 0 \(off\) to 86400000 ms/],
      [["--recovery-ms", "-1"], /--recovery-ms needs a whole number/],
      [["--leave-grace-ms", "86400001"], /--leave-grace-ms must be 0 to 86400000 ms/],
      [["--doc-idle-unload-ms", "9"], /--doc-idle-unload-ms must be 10 to 86400000 ms/],
      [["--doc-epoch-min-deleted", "1000000001"], /--doc-epoch-min-deleted must be 0 \(never\) to 1000000000/],
      [["--game-tick-hz", "0"], /--game-tick-hz must be 1 to 120/],
      [["--game-max-players", "1025"], /--game-max-players must be 1 to 1024/],
      [["--game-bots", "x"], /--game-bots needs a whole number/],
      [["--root", join(dir, "no-such-dir")], /document root '.*no-such-dir' does not exist/],
      [["--config", join(dir, "missing.json")], /cannot read config file .*missing\.json/],
    ];
    const results = await runMany(cases.map(([args]) => args));
    cases.forEach(([args, message], i) => {
      const r = results[i];
      assert.equal(r.code, 2, `${args.join(" ")}: exit code ${r.code} (stderr: ${r.stderr})`);
      assert.match(r.stderr, /^chorus-server: /, `${args.join(" ")}: stderr ${JSON.stringify(r.stderr)}`);
      assert.match(r.stderr, message, `${args.join(" ")}: stderr ${JSON.stringify(r.stderr)}`);
      assert.equal(r.stdout, "", `${args.join(" ")} printed to stdout`);
    });
  });

  test("CORS \"*\" or \"null\" with credentials is refused at start (an allow-list is needed)", async () => {
    const light = ["--max-connections", "8", "--root", dir, "--sdk", dir, "--port", "0"];
    for (const cors of ["*", "null", "https://a.example,*"]) {
      const r = await run([...light, "--cors", cors, "--cors-credentials"]);
      assert.equal(r.code, 2, `--cors ${cors}: exit ${r.code}, signal ${r.signal}, stdout ${JSON.stringify(r.stdout)}`);
      assert.match(r.stderr, /^chorus-server: CORS origin '(\*|null)' with credentials would let any site act as the user: list the allowed origins/);
      assert.doesNotMatch(r.stdout, /listening/);
    }
    const config = join(dir, "cors-star.json");
    writeFileSync(config, JSON.stringify({ cors: "*", "cors-credentials": true }));
    const r = await run([...light, "--config", config]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /CORS origin '\*' with credentials/);
  });

  test("CORS with credentials reflects only the listed origins, never null or another site", async () => {
    const server = await startServer(["--cors", "https://a.example", "--cors-credentials"]);
    try {
      const ok = await handshake(server, { Origin: "https://a.example" });
      assert.equal(ok.headers["access-control-allow-origin"], "https://a.example");
      assert.equal(ok.headers["access-control-allow-credentials"], "true");
      for (const origin of ["null", "https://evil.example"]) {
        const other = await handshake(server, { Origin: origin });
        assert.equal(other.headers["access-control-allow-origin"], undefined, origin);
        assert.equal(other.headers["access-control-allow-credentials"], undefined, origin);
      }
    } finally {
      await server.stop();
    }
  });

  test("numbers out of range or negative are refused, not wrapped", async () => {
    const cases = [
      ["--ping-interval", "-1"],
      ["--ping-timeout", "-5"],
      ["--max-payload", "-1"],
      ["--ping-interval", "4294967296"],  // 2^32: would wrap to 0 in 32 bits
      ["--connect-timeout", "99999999999"],
      ["--max-connections", "-1"],
    ];
    const light = ["--max-connections", "8", "--root", dir, "--sdk", dir];
    const results = await runMany(cases.map((args) => [...light, ...args, "--port", "0"]));
    cases.forEach((args, i) => {
      const r = results[i];
      assert.equal(r.code, 2, `${args.join(" ")}: accepted (exit ${r.code}, signal ${r.signal}, stdout ${JSON.stringify(r.stdout)})`);
      assert.match(r.stderr, new RegExp(args[0]));
    });
  });

  test("--config: port, cors, ping timings, max-payload and transports take effect", async () => {
    const port = await freePort();
    const root = tempDir();
    const config = join(dir, "good.json");
    writeFileSync(config, JSON.stringify({
      port,
      root,
      sdk: root,
      cors: ["https://a.example", "https://b.example"],
      "cors-credentials": true,
      "ping-interval": 1234,
      "ping-timeout": 2345,
      "max-payload": 5000,
      transports: ["polling", "websocket"],
      "log-level": "warn",
      "max-connections": 64,
    }));
    const server = await startServer(["--config", config], { defaults: false });
    try {
      assert.equal(server.port, port);
      assert.match(
        server.line,
        new RegExp(`^chorus: listening on http://127\\.0\\.0\\.1:${port}/socket\\.io/ \\(up to 64 connections, \\d+ I/O threads\\)$`),
      );
      const { open, headers } = await handshake(server, { Origin: "https://b.example" });
      assert.equal(open.pingInterval, 1234);
      assert.equal(open.pingTimeout, 2345);
      assert.equal(open.maxPayload, 5000);
      assert.deepEqual(open.upgrades, ["websocket"]);
      assert.equal(headers["access-control-allow-origin"], "https://b.example");
      assert.equal(headers["access-control-allow-credentials"], "true");
      // An origin not in the list gets no CORS grant.
      const other = await handshake(server, { Origin: "https://evil.example" });
      assert.equal(other.headers["access-control-allow-origin"], undefined);
      // max-payload: a bigger POST is refused.
      const big = await request(server, `/socket.io/?EIO=4&transport=polling&sid=${open.sid}`, {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: "4" + "x".repeat(6000),
      });
      assert.notEqual(big.status, 200, "a 6000-byte POST passed max-payload 5000");
    } finally {
      await server.stop();
    }
  });

  test("--config: later command-line flags override the file, and the file can restrict transports", async () => {
    const config = join(dir, "polling.json");
    writeFileSync(config, JSON.stringify({ port: 0, "ping-interval": 1111, transports: "polling", "max-connections": 64 }));
    const server = await startServer(["--config", config, "--ping-interval", "2222", "--root", tempDir(), "--sdk", dir],
                                     { defaults: false });
    try {
      const { open } = await handshake(server);
      assert.equal(open.pingInterval, 2222);
      assert.deepEqual(open.upgrades, []);
      const refused = await new Promise((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`);
        ws.on("open", () => {
          ws.close();
          resolve(false);
        });
        ws.on("error", () => resolve(true));
      });
      assert.ok(refused, "the websocket transport should be refused");
    } finally {
      await server.stop();
    }
  });

  test("bad --config files exit 2 naming the file", async () => {
    const cases = [
      ["broken.json", '{"port": 0,', /broken\.json: /],
      ["array.json", "[1, 2]", /array\.json: not a JSON object/],
      ["unknown.json", '{"port": 0, "colour": "blue"}', /unknown\.json: unknown option --colour/],
      ["badport.json", '{"port": "eighty"}', /badport\.json: --port/],
      ["badlevel.json", '{"log-level": "chatty"}', /badlevel\.json: --log-level/],
      ["zero.json", '{"max-connections": 0}', /zero\.json: .*max-connections/],
    ];
    for (const [name, text] of cases) writeFileSync(join(dir, name), text);
    const results = await runMany(cases.map(([name]) => ["--config", join(dir, name)]));
    cases.forEach(([name, , message], i) => {
      const r = results[i];
      assert.equal(r.code, 2, `${name}: exit ${r.code} (stderr: ${r.stderr})`);
      assert.match(r.stderr, message, `${name}: stderr ${JSON.stringify(r.stderr)}`);
    });
  });

  test("a port already in use exits 1 with a clear message", async () => {
    const holder = net.createServer();
    await new Promise((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const { port } = holder.address();
    try {
      const r = await run(["--port", String(port), "--root", dir, "--sdk", dir, "--max-connections", "8"], 20_000);
      assert.equal(r.code, 1, `exit ${r.code}, signal ${r.signal}, stdout ${JSON.stringify(r.stdout)}`);
      assert.match(r.stderr, new RegExp(`chorus-server: .*127\\.0\\.0\\.1:${port}.*in use`));
      assert.doesNotMatch(r.stdout, /listening/);
    } finally {
      holder.close();
    }
  });

  test("a missing or unreadable --tls-cert exits 1 with a message", async () => {
    const garbage = join(dir, "garbage.pem");
    writeFileSync(garbage, "not a certificate\n");
    for (const cert of [join(dir, "no-such-cert.pem"), garbage]) {
      const r = await run(["--port", "0", "--root", dir, "--sdk", dir, "--max-connections", "8", "--tls-cert", cert], 20_000);
      assert.equal(r.code, 1, `${cert}: exit ${r.code}, signal ${r.signal}, stdout ${JSON.stringify(r.stdout)}`);
      assert.match(r.stderr, /chorus-server: .*certificate/, `${cert}: stderr ${JSON.stringify(r.stderr)}`);
      assert.doesNotMatch(r.stdout, /listening/);
    }
  });
});

// After the suite above, whose many processes at once slow a server's start on a busy machine.
describe("chorus-server logs", () => {
  test("--log-format json: every log line on stderr is one JSON object {time, level, msg}", async () => {
    const server = await startServer(["--log-format", "json", "--log-level", "debug", "--docs-db", ""]);
    await handshake(server); // a session, closed at the stop: "session ... closed" at debug level
    const { code, stderr } = await server.stop();
    assert.equal(code, 0);
    const lines = stderr.split("\n").filter((l) => l.startsWith("{"));
    assert.ok(lines.some((l) => JSON.parse(l).msg.includes("closed")), `a session's close logged:\n${stderr}`);
    for (const line of lines) {
      const entry = JSON.parse(line);
      assert.deepEqual(Object.keys(entry), ["time", "level", "msg"], line);
      assert.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, line);
      assert.ok(["error", "warn", "info", "debug"].includes(entry.level), line);
    }
    assert.doesNotMatch(stderr, /^chorus \[/m, "no text-format line");
  });
});
