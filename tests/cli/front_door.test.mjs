// chorus-server's front door with idle and slow clients (README, "The front door"): a
// connection waiting for a request head holds no CivetWeb worker; --keep-alive-timeout closes
// idle kept-alive connections, --header-timeout bounds the time a head may take (408), a head
// past 16 KiB is 431, and --max-pending-per-address bounds the connections of one address a
// worker serves at once (503 past it), each at and past its limit.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startServer, tempDir } from "./helpers.mjs";
import { RawConn, getHead, openMany, postHead } from "./raw_conn.mjs";

const HEADER_TIMEOUT = 1500;
const KEEP_ALIVE_TIMEOUT = 1500;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("header and keep-alive deadlines", { concurrency: true }, () => {
  let server;
  before(async () => {
    server = await startServer([
      "--header-timeout", String(HEADER_TIMEOUT),
      "--keep-alive-timeout", String(KEEP_ALIVE_TIMEOUT),
      "--http-threads", "2", // a head or an idle connection holding a worker would show at once
    ]);
  });
  after(async () => {
    await server?.stop();
  });

  test("a head trickling in past --header-timeout: 408 with Connection: close, then closed", async () => {
    const c = await RawConn.open(server);
    const t0 = Date.now();
    const head = getHead();
    let stop = false;
    (async () => {
      for (let i = 0; i < head.length - 2 && !stop && !c.closed; i++) {
        c.write(head[i]);
        await sleep(100); // the whole head would take 3.5 s
      }
    })();
    const res = await c.response(1, 10_000);
    stop = true;
    const ms = Date.now() - t0;
    assert.equal(res.status, 408, res.body);
    assert.equal(res.headers.connection, "close");
    assert.match(JSON.parse(res.body).error, /request head incomplete after 1500 ms/);
    assert.ok(ms >= HEADER_TIMEOUT - 100, `answered after ${ms} ms`);
    await c.closedWithin(3_000);
  });

  test("a head arriving in pieces within --header-timeout is served", async () => {
    const c = await RawConn.open(server);
    const head = getHead();
    for (const part of [head.slice(0, 10), head.slice(10, 30), head.slice(30)]) {
      c.write(part);
      await sleep(200);
    }
    const res = await c.response(1);
    assert.equal(res.status, 200, res.body);
    c.destroy();
  });

  test("a connection that sends nothing is closed without a word at --header-timeout", async () => {
    const c = await RawConn.open(server);
    const t0 = Date.now();
    await c.closedWithin(HEADER_TIMEOUT + 5_000);
    assert.ok(c.closedAt - t0 >= HEADER_TIMEOUT - 100, `closed after ${c.closedAt - t0} ms`);
    assert.equal(c.data, "");
  });

  test("an idle kept-alive connection: a request within --keep-alive-timeout is served, then it closes silently", async () => {
    const c = await RawConn.open(server);
    c.write(getHead());
    assert.equal((await c.response(1)).headers.connection, "keep-alive");
    await sleep(KEEP_ALIVE_TIMEOUT / 3);
    c.write(getHead()); // within the timeout: served on the same connection
    const second = await c.response(2);
    assert.equal(second.status, 200);
    const t0 = Date.now();
    await c.closedWithin(KEEP_ALIVE_TIMEOUT + 5_000);
    assert.ok(c.closedAt - t0 >= KEEP_ALIVE_TIMEOUT - 100, `closed after ${c.closedAt - t0} ms`);
    assert.equal(c.responses().length, 2, "nothing after the second answer");
  });

  test("the next request's head on a kept-alive connection gets --header-timeout from its first byte", async () => {
    const c = await RawConn.open(server);
    c.write(getHead());
    await c.response(1);
    c.write("GET /api/health HTTP/1.1\r\n"); // and no more
    const t0 = Date.now();
    const res = await c.response(2, 10_000);
    assert.equal(res.status, 408);
    assert.ok(Date.now() - t0 >= HEADER_TIMEOUT - 100);
    await c.closedWithin(3_000);
  });

  test("two workers, 40 idle and 40 slow-head connections: requests are still served at once", async () => {
    const idle = await openMany(server, 40);
    await Promise.all(idle.map((c) => (c.write(getHead()), c.response(1))));
    const slow = await openMany(server, 40);
    for (const c of slow) c.write("GET /api/health HTTP/1.1\r\nHost: a");
    const c = await RawConn.open(server);
    c.write(getHead("/api/health", "Connection: close\r\n"));
    assert.equal((await c.response(1, 2_000)).status, 200);
    for (const x of [...idle, ...slow]) x.destroy();
  });

  test("a head of 16 KiB is read, one byte more is 431 with Connection: close", async () => {
    const exact = async (size) => {
      const base = getHead("/api/health", "X-Pad: \r\n");
      const pad = "a".repeat(size - base.length);
      const c = await RawConn.open(server);
      c.write(base.replace("X-Pad: ", `X-Pad: ${pad}`));
      const res = await c.response(1);
      c.destroy();
      return res;
    };
    const at = await exact(16 * 1024);
    assert.notEqual(at.status, 431, "a head of exactly 16 KiB was refused");
    assert.equal(at.status, 200, at.body);
    const past = await exact(16 * 1024 + 1);
    assert.equal(past.status, 431, past.body);
    assert.equal(past.headers.connection, "close");
  });
});

describe("over TLS", { concurrency: true }, () => {
  let server;
  before(async () => {
    const dir = tempDir();
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    const pem = join(dir, "server.pem");
    writeFileSync(pem, readFileSync(join(dir, "cert.pem"), "utf8") + readFileSync(join(dir, "key.pem"), "utf8"));
    server = await startServer([
      "--tls-cert", pem,
      "--header-timeout", String(HEADER_TIMEOUT),
      "--keep-alive-timeout", String(KEEP_ALIVE_TIMEOUT),
      "--http-threads", "2",
    ]);
  });
  after(async () => {
    await server?.stop();
  });

  test("a kept-alive TLS connection is parked between requests (its session kept), then closed when idle", async () => {
    const c = await RawConn.open(server, { secure: true });
    c.write(getHead());
    assert.equal((await c.response(1)).headers.connection, "keep-alive");
    await sleep(KEEP_ALIVE_TIMEOUT / 3);
    c.write(getHead());
    assert.equal((await c.response(2)).status, 200);
    await c.closedWithin(KEEP_ALIVE_TIMEOUT + 5_000);
    assert.equal(c.responses().length, 2);
  });

  test("a partial TLS head: 408 at --header-timeout", async () => {
    const c = await RawConn.open(server, { secure: true });
    c.write("GET /api/health HTTP/1.1\r\n");
    const res = await c.response(1, 10_000);
    assert.equal(res.status, 408);
    assert.equal(res.headers.connection, "close");
    await c.closedWithin(5_000);
  });

  test("two workers; 20 silent TCP, 20 silent TLS and 20 idle kept-alive TLS connections: a new request is served at once", async () => {
    const silentTcp = await openMany(server, 20); // not even a ClientHello
    const silentTls = await openMany(server, 20, { secure: true });
    const idle = await openMany(server, 20, { secure: true });
    await Promise.all(idle.map((c) => (c.write(getHead()), c.response(1))));
    const c = await RawConn.open(server, { secure: true });
    c.write(getHead("/api/health", "Connection: close\r\n"));
    assert.equal((await c.response(1, 2_000)).status, 200);
    for (const x of [...silentTcp, ...silentTls, ...idle, c]) x.destroy();
  });
});

describe("--max-pending-per-address", () => {
  const CAP = 2;
  const BODY_TIMEOUT = 8000;
  const HEADER_TIMEOUT = 3000; // how long a request past the limit waits for a slot
  let server;
  before(async () => {
    server = await startServer([
      "--max-pending-per-address", String(CAP),
      "--body-timeout", String(BODY_TIMEOUT),
      "--header-timeout", String(HEADER_TIMEOUT),
    ]);
  });
  after(async () => {
    await server?.stop();
  });

  test(`${CAP} slow bodies from one address hold workers; the others wait without one, then get 503 at --header-timeout`, async () => {
    const body = '{"name":"ann"}';
    const conns = await openMany(server, 12, { from: "127.0.0.2" });
    const t0 = Date.now();
    for (const c of conns) c.write(postHead("/api/login", body.length) + body.slice(0, 3)); // the rest never comes
    const answers = await Promise.all(
      conns.map((c) => c.response(1, BODY_TIMEOUT + 10_000).then((r) => ({ ...r, ms: Date.now() - t0 }))));
    const refused = answers.filter((a) => a.status === 503);
    const timedOut = answers.filter((a) => a.status === 408);
    assert.equal(timedOut.length, CAP, `statuses: ${answers.map((a) => a.status)}`);
    assert.equal(refused.length, conns.length - CAP);
    for (const a of refused) {
      assert.equal(a.headers.connection, "close");
      assert.match(JSON.parse(a.body).error, /too many requests from this address at once/);
      assert.ok(a.ms >= HEADER_TIMEOUT - 100, `refused after ${a.ms} ms`);
    }
    for (const a of timedOut) assert.ok(a.ms >= BODY_TIMEOUT - 100);
    for (const c of conns) await c.closedWithin(5_000);
    // Once they are done, the address is served again.
    const again = await RawConn.open(server, { from: "127.0.0.2" });
    again.write(postHead("/api/login", body.length) + body);
    assert.equal((await again.response(1)).status, 200);
    again.destroy();
  });

  test("past the limit a request waits for a slot of its address and is served when one frees; other addresses meanwhile at once", async () => {
    const body = '{"name":"ann"}';
    const held = await openMany(server, CAP, { from: "127.0.0.3" });
    for (const c of held) c.write(postHead("/api/login", body.length) + "{");
    // At the limit once both are in workers; until then a probe is served at once. A probe
    // that waits is refused at --header-timeout: that proves the limit is reached.
    let atLimit = false;
    for (let i = 0; i < 100 && !atLimit; i++) {
      const p = await RawConn.open(server, { from: "127.0.0.3" });
      p.write(getHead("/api/health", "Connection: close\r\n"));
      const res = await p.response(1, HEADER_TIMEOUT + 5_000);
      atLimit = res.status === 503;
      p.destroy();
    }
    assert.ok(atLimit, "127.0.0.3 never reached its limit");
    const waiting = await RawConn.open(server, { from: "127.0.0.3" });
    waiting.write(getHead("/api/health", "Connection: close\r\n"));
    const other = await RawConn.open(server, { from: "127.0.0.1" });
    other.write(getHead("/api/health", "Connection: close\r\n"));
    assert.equal((await other.response(1)).status, 200);
    assert.equal(waiting.responses().length, 0, "served while its address was at the limit");
    held[0].write(body.slice(1)); // one slow body completes: its slot goes to the waiting request
    assert.equal((await held[0].response(1)).status, 200);
    const res = await waiting.response(1, HEADER_TIMEOUT);
    assert.equal(res.status, 200, res.body);
    for (const c of held) c.destroy();
    waiting.destroy();
  });
});
