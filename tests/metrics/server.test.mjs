// chorus-server's /metrics: served by default, moved or turned off with --metrics-path (also
// from --config), a bad path refused at startup; and the Redis adapter's metrics when a node
// runs in a cluster (chorus-metrics-app against a redis-server of the test's own).
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { httpRequest } from "../common/http.mjs";
import { startProcess } from "../common/process.mjs";
import { eventually } from "../common/util.mjs";
import { run, startServer, tempDir } from "../cli/helpers.mjs";
import { startRedis } from "../cluster/redis.mjs";
import { parsePrometheus } from "./prom.mjs";
import fs from "node:fs";
import path from "node:path";

const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

async function scrape(srv, p = "/metrics") {
  const res = await httpRequest(srv, { path: p });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers["content-type"], CONTENT_TYPE);
  return parsePrometheus(res.text);
}

test("chorus-server serves /metrics by default", async () => {
  const srv = await startServer();
  const socket = io(srv.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
  try {
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    assert.equal(await socket.timeout(5_000).emitWithAck("join", "r1"), true);
    await eventually(async () => {
      const s = await scrape(srv);
      assert.equal(s.value("chorus_sockets", { namespace: "/" }), 1);
      assert.equal(s.value("chorus_rooms", { namespace: "/" }), 1);
      assert.equal(s.value("chorus_connections", { transport: "websocket" }), 1);
      assert.equal(s.value("chorus_connections_accepted_total", { transport: "websocket" }), 1);
      assert.equal(s.value("chorus_messages_received_total"), 2); // CONNECT, join
      assert.equal(s.value("chorus_messages_sent_total"), 2); // CONNECT answer, ack
    }, 10_000);
    const head = await httpRequest(srv, { path: "/metrics", method: "POST", body: "x" });
    assert.equal(head.status, 405);
  } finally {
    socket.close();
    const r = await srv.stop();
    assert.equal(r.code, 0, r.stderr);
  }
});

test("--metrics-path moves /metrics or turns it off, on the command line and in --config", async () => {
  const moved = await startServer(["--metrics-path", "/ops/metrics"]);
  try {
    assert.equal((await httpRequest(moved, { path: "/metrics" })).status, 404);
    (await scrape(moved, "/ops/metrics")).family("chorus_connections");
  } finally {
    await moved.stop();
  }
  const off = await startServer(["--metrics-path", "off"]);
  try {
    assert.equal((await httpRequest(off, { path: "/metrics" })).status, 404);
  } finally {
    await off.stop();
  }
  const dir = tempDir();
  const config = path.join(dir, "chorus.json");
  fs.writeFileSync(config, JSON.stringify({ port: 0, "metrics-path": "/m" }));
  const fromConfig = await startServer(["--config", config]);
  try {
    assert.equal((await httpRequest(fromConfig, { path: "/metrics" })).status, 404);
    (await scrape(fromConfig, "/m")).family("chorus_sockets");
  } finally {
    await fromConfig.stop();
  }
});

test("a --metrics-path that is not a literal path is refused at startup", async () => {
  for (const bad of ["metrics", "/", "/a/:b", ""]) {
    const r = await run(["--port", "0", "--metrics-path", bad]);
    assert.equal(r.code, 2, `${JSON.stringify(bad)}: ${r.stderr}`);
    assert.match(r.stderr, /metrics_path '.*' must be a path such as \/metrics|--metrics-path needs a path/);
  }
});

test("the Redis adapter's metrics, while Redis is up and after it went away", { timeout: 90_000 }, async (t) => {
  const redis = await startRedis();
  t.diagnostic(`redis-server on ${redis.port}`);
  const srv = await startProcess(process.env.CHORUS_METRICS_APP, ["--port", "0", "--redis", redis.url], {
    name: "chorus-metrics-app",
  });
  let socket;
  try {
    await eventually(async () => assert.equal((await scrape(srv)).value("chorus_redis_connected"), 1), 15_000);
    t.diagnostic("connected to Redis");
    // Created now, so that its connect event cannot pass before the listener is there.
    socket = io(srv.url(), { forceNew: true, reconnection: false, transports: ["websocket"] });
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    assert.equal(await socket.timeout(5_000).emitWithAck("go", 3), 3);
    t.diagnostic("3 broadcasts");
    // Each broadcast is published once, and comes back on the node's own subscription.
    const s = await eventually(async () => {
      const s = await scrape(srv);
      assert.equal(s.value("chorus_redis_published_total"), 3);
      assert.ok(s.value("chorus_redis_received_total") >= 3);
      return s;
    }, 15_000);
    assert.equal(s.value("chorus_redis_dropped_total"), 0);
    assert.equal(s.value("chorus_redis_reconnects_total"), 0);
    await redis.stop();
    t.diagnostic("redis-server stopped");
    await eventually(async () => assert.equal((await scrape(srv)).value("chorus_redis_connected"), 0), 15_000);
  } finally {
    socket?.close();
    await srv.stop({ strict: true });
    await redis.stop();
  }
});
