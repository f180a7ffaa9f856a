// chorus-server's front door under many idle and hostile connections, with its default pool
// of 32 CivetWeb workers: 1,000 idle kept-alive connections, then 1,000 slowloris connections
// (a request head a byte at a time) and 1,000 slow-body connections from other addresses,
// hold no worker (README, "The front door"): a new client is served, and a socket.io-client
// with default options connects, within 1 s. (Slow bodies past --max-pending-per-address wait
// for a worker of their address, parked.) About 4,000 descriptors (ulimit -n) between
// this process and the server.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { client, connected, startServer } from "./helpers.mjs";
import { RawConn, getHead, openMany, postHead } from "./raw_conn.mjs";

const N = 1000;

describe(`${N} idle kept-alive connections`, () => {
  let server;
  before(async () => {
    server = await startServer(["--keep-alive-timeout", "60000"]); // idle for the whole test
  });
  after(async () => {
    await server?.stop();
  });

  test("hold no worker: a new client gets its 200 within 1 s, and the idle ones are still served", async () => {
    const idle = await openMany(server, N);
    try {
      for (let i = 0; i < N; i += 100) {
        await Promise.all(idle.slice(i, i + 100).map((c) => (c.write(getHead()), c.response(1, 20_000))));
      }
      const t0 = Date.now();
      const c = await RawConn.open(server);
      c.write(getHead("/api/health", "Connection: close\r\n"));
      const res = await c.response(1, 10_000);
      const ms = Date.now() - t0;
      console.log(`# a new client's 200 beside ${N} idle kept-alive connections: ${ms} ms`);
      assert.equal(res.status, 200);
      assert.ok(ms < 1000, `the new client waited ${ms} ms`);
      assert.equal(idle.filter((x) => x.closed).length, 0, "idle connections were closed");
      // Parked, not dropped: their next requests are served on the same connections.
      const some = idle.slice(0, 50);
      await Promise.all(some.map((x) => (x.write(getHead()), x.response(2, 10_000))));
      for (const x of some) assert.equal(x.responses()[1].status, 200);
    } finally {
      for (const x of idle) x.destroy();
    }
  });
});

describe(`${N} slowloris and ${N} slow-body connections from other addresses`, () => {
  let server;
  before(async () => {
    // Deadlines long enough that every attacker is still open when the client connects.
    server = await startServer(["--header-timeout", "60000", "--body-timeout", "60000"]);
  });
  after(async () => {
    await server?.stop();
  });

  test("a socket.io-client from 127.0.0.1 connects within 1 s", async () => {
    const loris = await openMany(server, N, { from: "127.0.0.2" });
    const slowBody = await openMany(server, N, { from: "127.0.0.3" });
    let dripping = true;
    try {
      const body = '{"name":"' + "x".repeat(200) + '"}';
      for (const c of loris) c.write("GET /api/health HTTP/1.1\r\nHost: localhost\r\n");
      for (const c of slowBody) c.write(postHead("/api/login", body.length) + body[0]);
      // One more byte each, every 500 ms, for as long as the test runs.
      const drip = (async () => {
        for (let i = 1; dripping; i++) {
          await new Promise((r) => setTimeout(r, 500));
          for (const c of loris) c.write("X");
          for (const c of slowBody) if (i < body.length - 1) c.write(body[i]);
        }
      })();
      // The attackers connected first: the kernel hands connections to the server in order,
      // so before the legitimate client's comes every attacker's, which (without parking)
      // would take all 32 workers.
      const t0 = Date.now();
      const s = client(server); // default options: polling, then the upgrade to WebSocket
      try {
        await connected(s, 10_000);
        const ms = Date.now() - t0;
        console.log(`# socket.io-client connected beside ${N} slowloris and ${N} slow bodies: ${ms} ms`);
        assert.ok(ms < 1000, `connected after ${ms} ms`);
      } finally {
        s.close();
      }
      assert.equal(loris.filter((c) => c.closed).length, 0, "slowloris connections were closed early");
      assert.equal(slowBody.filter((c) => c.closed || c.data !== "").length, 0, "slow bodies were answered early");
      dripping = false;
      await drip;
    } finally {
      dripping = false;
      for (const c of [...loris, ...slowBody]) c.destroy();
    }
  });
});
