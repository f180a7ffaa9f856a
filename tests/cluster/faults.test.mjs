// The cluster's faults: Redis unreachable at start, a bad Redis URL, Redis killed mid-run, a
// node that never answers, hostile messages on the cluster's channels. Every test starts its
// own redis-server and nodes (harness.mjs), so each stands alone; waits are on conditions with
// deadlines. Node socket.io nodes (@socket.io/redis-adapter) run beside the Chorus ones as the
// reference; where they behave differently the tests check both and say so.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join as joinPath } from "node:path";
import { describe, test } from "node:test";
import notepack from "notepack.io";
import { createClient } from "redis";
import { runToExit, startProcess } from "../common/process.mjs";
import { freePort, sleep, tempDir } from "../common/util.mjs";
import { client, closeAll, ctl, eventually, join, normalize, startCluster, startNode, uniq, waitFor } from "./harness.mjs";
import { RedisServer, redisCommand } from "./redis.mjs";

const APP = process.env.CHORUS_CLUSTER_APP;
const SERVER = process.env.CHORUS_SERVER_BIN;
const skip = !APP || !SERVER ? "needs CHORUS_CLUSTER_APP and CHORUS_SERVER_BIN (the chorus-cluster-app and chorus-server targets)" : false;
const WAIT = 15_000; // anything that crosses Redis on a busy machine
const TIMEOUT = 1_000; // requests timeout of the nodes in the "never answers" test
const BIN = Buffer.from([0, 1, 0xfe, 0xff]);
// chorus-server without the demo's folders and database: only its pub/sub app matters here.
const SERVER_ARGS = ["--port", "0", "--root", "", "--sdk", "", "--docs-db", ""];

const queued = (peer, event) => peer.queues.get(event)?.length ?? 0;

// A chorus-server as a node: a ServerProcess with base (its http:// URL) and kind added.
async function startServer(args) {
  const srv = await startProcess(SERVER, [...SERVER_ARGS, ...args], { name: "chorus-server", timeoutMs: 30_000 });
  srv.base = `http://${srv.host}:${srv.port}`;
  srv.kind = "chorus";
  return srv;
}

// Clients made by a test, closed when it ends.
function peers(t) {
  const list = [];
  t.after(() => closeAll(list));
  return async (node, opts = {}) => {
    const p = await client(node, { timeoutMs: WAIT, ...opts });
    list.push(p);
    return p;
  };
}

describe("cluster faults", { skip }, () => {
  test("Redis unreachable at start: chorus-server serves its own clients, warns once, then joins the cluster", async (t) => {
    const add = peers(t);
    const port = await freePort(); // nothing listens there
    const where = `127.0.0.1:${port}`;
    const key = uniq("faults");
    const srv = await startServer(["--redis", `redis://${where}`, "--redis-key", key]);
    t.after(() => srv.stop({ strict: true }));
    assert.match(srv.line, /cluster through Redis/);

    // Alone, it serves its own clients: join and publish through its pub/sub app.
    const room = uniq("room");
    const a = await add(srv, { transport: "websocket" });
    const b = await add(srv, { transport: "polling" });
    await join(a, room);
    await join(b, room);
    assert.equal(await a.socket.timeout(WAIT).emitWithAck("publish", room, "news", "alone", BIN), true);
    const news = await b.next("news", WAIT);  // chorus-server: the recovery offset comes last
    assert.deepEqual(normalize(news.slice(0, -1)), normalize(["alone", BIN]));
    assert.match(news.at(-1), /^\d+$/);

    // One warning naming host:port, not one per retry.
    const lines = () => srv.stderr.split("\n").filter((l) => l.includes(where));
    await waitFor(() => lines().length > 0, { ms: WAIT, what: `a warning naming ${where}` });
    assert.match(lines()[0], /\[warn\].*Connection refused/, lines()[0]);
    // The backoff (100 ms doubling) makes 5 more attempts within 3.1 s of the first failure: by
    // 3.5 s after the warning was seen they were due (fewer on a starved machine, never more).
    await sleep(3_500);
    assert.deepEqual(lines().length, 1, `one line about ${where} after several retries:\n${lines().join("\n")}`);

    // Redis comes, then a Node node: broadcasts cross both ways within the backoff (5 s at most).
    const redis = new RedisServer(port);
    await redis.start();
    t.after(() => redis.stop());
    const redisAt = Date.now();
    const node = await startNode("node", { redisUrl: redis.url, key, name: "late-node" });
    t.after(() => node.stop({ strict: true }));
    const n = await add(node, { transport: "websocket" });
    await join(n, room);
    const toChorus = uniq("to-chorus");
    const toNode = uniq("to-node");
    await waitFor(
      async () => {
        if (!queued(a, toChorus)) await ctl(node, "emit", { rooms: [room], event: toChorus, args: ["node"] });
        if (!queued(n, toNode)) await a.socket.timeout(WAIT).emitWithAck("publish", room, toNode, "chorus");
        return queued(a, toChorus) > 0 && queued(b, toChorus) > 0 && queued(n, toNode) > 0;
      },
      { ms: 20_000, what: "broadcasts both ways once Redis is up", interval: 100 },
    );
    const ms = Date.now() - redisAt;
    t.diagnostic(`broadcasts crossed both ways ${ms} ms after redis-server answered (Node node start included)`);
    assert.ok(ms < 12_000, `crossed within the 5 s backoff cap plus the Node node's start (${ms} ms)`);
    // chorus-server numbers what it delivers (recovery offset, last), a Node node's too; what it
    // publishes crosses without one (the classic adapter carries no offsets).
    const fromNode = await a.next(toChorus);
    assert.deepEqual(fromNode.slice(0, -1), ["node"]);
    assert.match(fromNode.at(-1), /^\d+$/);
    assert.deepEqual(await n.next(toNode), ["chorus"]);
    const counts = await redis.numsub(`${key}-request#/#`);
    assert.equal(counts[`${key}-request#/#`], 2, "one subscriber per node");
    await waitFor(() => /Redis at .*: connected again/.test(srv.stderr), { ms: WAIT, what: "the reconnect logged" });
    assert.equal(lines().filter((l) => l.includes("[warn]")).length, 1, `still one warning:\n${lines().join("\n")}`);
  });

  test("a bad Redis URL exits 1 naming the problem; an empty --redis-key exits 2 (flags and --config)", async () => {
    const { dir } = tempDir("chorus-faults-");
    const config = (name, obj) => {
      const file = joinPath(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(obj));
      return file;
    };
    const cases = [
      { args: ["--redis", "http://x"], code: 1, why: /invalid Redis URL "http:\/\/x": the scheme must be redis:\/\// },
      { args: ["--redis", "redis://h:99999"], code: 1, why: /invalid Redis URL "redis:\/\/h:99999": the port "99999" is not a number from 1 to 65535/ },
      { args: ["--redis", "redis://"], code: 1, why: /invalid Redis URL "redis:\/\/": no host/ },
      { args: ["--redis", "redis://127.0.0.1:6379/db1"], code: 1, why: /the database "db1" is not a number/ },
      { args: ["--redis", "rediss://127.0.0.1"], code: 1, why: /TLS \(rediss:\/\/\) is not supported/ },
      { args: ["--redis", "redis://127.0.0.1:1", "--redis-key", ""], code: 2, why: /--redis-key needs a prefix/ },
      { args: ["--config", config("scheme", { redis: "http://x" })], code: 1, why: /invalid Redis URL "http:\/\/x": the scheme/ },
      { args: ["--config", config("port", { redis: "redis://h:99999" })], code: 1, why: /the port "99999"/ },
      { args: ["--config", config("host", { redis: "redis://" })], code: 1, why: /invalid Redis URL "redis:\/\/": no host/ },
      { args: ["--config", config("key", { redis: "redis://127.0.0.1:1", "redis-key": "" })], code: 2, why: /key\.json: --redis-key needs a prefix/ },
    ];
    const results = await Promise.all(cases.map((c) => runToExit(SERVER, [...SERVER_ARGS, ...c.args], { ms: 20_000 })));
    for (const [i, r] of results.entries()) {
      const c = cases[i];
      const what = `chorus-server ${c.args.join(" ")}`;
      assert.equal(r.code, c.code, `${what}: exit ${r.code} (signal ${r.signal}), stderr: ${r.stderr}`);
      assert.match(r.stderr, c.why, `${what}: the message`);
      assert.doesNotMatch(r.stdout, /listening/, `${what}: never listened`);
    }
  });

  test("Redis killed mid-run: local delivery never waits, broadcasts cross again, nothing sent while down arrives later", async (t) => {
    const add = peers(t);
    const cluster = await startCluster(["chorus", "node"]);
    t.after(() => cluster.stop());
    const [ch, nd] = cluster.nodes;
    const c1 = await add(ch, { transport: "websocket" });
    const c2 = await add(ch, { transport: "polling" });
    const n1 = await add(nd, { transport: "websocket" });
    const before = uniq("before");
    await ctl(ch, "emit", { event: before, args: [1] });
    for (const p of [c1, c2, n1]) assert.deepEqual(await p.next(before, WAIT), [1]);

    await cluster.redis.stop("SIGKILL");
    await waitFor(async () => (await ctl(ch, "status")).connected === false, { ms: WAIT, what: "the Chorus node to see Redis gone" });
    // Redis stays down until both checks below are done: a delivery that waited for it would
    // never come.
    const down = uniq("while-down");
    let t0 = Date.now();
    await ctl(ch, "emit", { event: down, args: ["chorus", BIN] });
    for (const p of [c1, c2]) assert.deepEqual(normalize(await p.next(down, WAIT)), normalize(["chorus", BIN]));
    const localMs = Date.now() - t0;
    t0 = Date.now();
    await join(c2, uniq("ack-while-down"), WAIT);
    const ackMs = Date.now() - t0;
    t.diagnostic(`Redis down: a broadcast from the Chorus node reached its 2 clients in ${localMs} ms; an ack round trip took ${ackMs} ms`);
    assert.equal(cluster.redis.proc, null, "Redis was down all along");
    assert.ok(localMs < 5_000 && ackMs < 5_000, `local delivery does not wait (${localMs} ms, ${ackMs} ms)`);
    // The reference, for comparison: the Node node's broadcast while Redis is down.
    const nodeDown = uniq("node-while-down");
    await ctl(nd, "emit", { event: nodeDown, args: ["node"] });
    assert.deepEqual(await n1.next(nodeDown, WAIT), ["node"]);

    await cluster.redis.restart();
    const redisAt = Date.now();
    const fromChorus = uniq("after-chorus");
    const fromNode = uniq("after-node");
    await waitFor(
      async () => {
        if (!queued(n1, fromChorus)) await ctl(ch, "emit", { event: fromChorus, args: [] });
        if (!queued(c1, fromNode)) await ctl(nd, "emit", { event: fromNode, args: [] });
        return queued(n1, fromChorus) > 0 && queued(c1, fromNode) > 0;
      },
      { ms: 20_000, what: "broadcasts both ways after the restart", interval: 100 },
    );
    t.diagnostic(`broadcasts crossed both ways again ${Date.now() - redisAt} ms after Redis came back`);
    assert.equal((await ctl(ch, "status")).connected, true);
    // What the Chorus node published while down went out before its broadcasts after the
    // restart, on the same path: it would be here by now. It was dropped, not queued.
    assert.equal(queued(n1, down), 0, "a broadcast published while Redis was down must not arrive later");
    t.diagnostic(
      `reference: the Node node's broadcast made while Redis was down ${queued(c1, nodeDown) ? "arrived after the restart (node-redis queues commands while offline)" : "was dropped too"}`,
    );
  });

  test("a node that never answers: requests end after the timeout with what arrived and say what was missing", async (t) => {
    const add = peers(t);
    const cluster = await startCluster(["chorus", "node"], { requestsTimeout: TIMEOUT });
    t.after(() => cluster.stop());
    const [ch, nd] = cluster.nodes;
    const R = uniq("room");
    const pc = await add(ch, { transport: "websocket" });
    const pn = await add(nd, { transport: "polling" });
    for (const p of [pc, pn]) {
      await join(p, R);
      p.socket.on("ask", (from, ack) => ack(`ack-${p.id}`));
    }
    const acks = [`ack-${pc.id}`, `ack-${pn.id}`].sort();
    // The hung peer: subscribed to the request channel (so counted by PUBSUB NUMSUB), silent.
    const requests = `${cluster.key}-request#/#`;
    const hung = createClient({ url: cluster.redis.url, socket: { reconnectStrategy: false } });
    hung.on("error", () => {});
    await hung.connect();
    t.after(() => hung.isOpen && hung.close().catch(() => {}));
    await hung.subscribe(requests, () => {});
    await eventually(async () => assert.equal((await cluster.redis.numsub(requests))[requests], 3), WAIT);

    // Each request timed: it ends after the timeout (not before), and well before the control
    // API's own deadline.
    const timed = async (promise) => {
      const t0 = Date.now();
      try {
        return { value: await promise, ms: Date.now() - t0 };
      } catch (e) {
        return { error: e.message, ms: Date.now() - t0 };
      }
    };
    const ops = (node) => [
      timed(ctl(node, "fetch", {})),
      timed(ctl(node, "server-emit", { event: "ping-servers", args: ["hung"], ack: true, timeout: TIMEOUT })),
      timed(ctl(node, "all-rooms", {})),
      timed(ctl(node, "emit-ack", { rooms: [R], timeout: TIMEOUT, event: "ask", args: [node.nodeName] })),
    ];
    const unanswered = timed(ctl(ch, "emit-ack", { rooms: [R], timeout: TIMEOUT, event: "nobody-acks", args: [] }));
    const [cf, cs, cr, ca, cu] = await Promise.all([...ops(ch), unanswered]);
    for (const r of [cf, cs, cr, ca, cu]) assert.ok(r.ms >= TIMEOUT - 20 && r.ms < WAIT, `Chorus: ended after the timeout: ${JSON.stringify(r).slice(0, 300)}`);
    t.diagnostic(`Chorus: fetch ${cf.ms} ms, serverSideEmit ${cs.ms} ms, allRooms ${cr.ms} ms, broadcast with acks ${ca.ms} ms`);
    // fetchSockets: every socket that answered, and how many nodes did not.
    assert.deepEqual(cf.value.sockets.map((s) => s.id).sort(), [pc.id, pn.id].sort(), "Chorus fetch: the sockets that arrived");
    assert.equal(cf.value.err, "timeout reached while waiting for fetchSockets response (1 of 2 nodes)");
    assert.equal(cs.value.err, "timeout reached: only 1 responses received out of 2");
    assert.deepEqual(cs.value.responses, [`pong-${nd.nodeName}`]);
    assert.equal(cr.value.err, "timeout reached while waiting for allRooms response (1 of 2 nodes)");
    assert.ok(cr.value.rooms.includes(R) && cr.value.rooms.includes(pn.id), `Chorus allRooms: the Node node's rooms: ${cr.value.rooms}`);
    assert.equal(ca.value.err, "operation has timed out: 1 of 2 other nodes never answered");
    assert.deepEqual([...ca.value.responses].sort(), acks, "Chorus broadcast with acks: every ack that arrived");
    assert.equal(cu.value.err, "operation has timed out: 1 of 2 other nodes never answered; 2 of 2 clients did not ack");
    assert.deepEqual(cu.value.responses, []);

    // The reference: the same from the Node node.
    const [nf, ns, nr, na] = await Promise.all(ops(nd));
    t.diagnostic(`Node: fetch ${nf.ms} ms, serverSideEmit ${ns.ms} ms, allRooms ${nr.ms} ms, broadcast with acks ${na.ms} ms`);
    for (const r of [nf, ns, nr, na]) assert.ok(r.ms >= TIMEOUT - 20 && r.ms < WAIT, `Node: ended after the timeout: ${JSON.stringify(r).slice(0, 300)}`);
    // Node rejects fetchSockets and allRooms outright (nothing of what arrived).
    assert.match(nf.error, /status 500: timeout reached while waiting for fetchSockets response$/);
    assert.match(nr.error, /status 500: timeout reached while waiting for allRooms response$/);
    assert.equal(ns.value.err, "timeout reached: only 1 responses received out of 2");
    assert.deepEqual(ns.value.responses, [`pong-${ch.nodeName}`]);
    assert.equal(na.value.err, "operation has timed out");
    assert.deepEqual([...na.value.responses].sort(), acks, "Node broadcast with acks: every ack that arrived");

    // Without the hung peer, the same requests complete at once again.
    await hung.close();
    await eventually(async () => assert.equal((await cluster.redis.numsub(requests))[requests], 2), WAIT);
    const [af, as, ar, aa] = await Promise.all(ops(ch));
    assert.equal(af.value.err, null);
    assert.equal(as.value.err, null);
    assert.equal(ar.value.err, null);
    assert.equal(aa.value.err, null);
    assert.deepEqual([...aa.value.responses].sort(), acks);
  });

  test("hostile messages on the cluster's channels: the nodes stay up, warn, and the next broadcast arrives", async (t) => {
    const add = peers(t);
    const cluster = await startCluster(["chorus", "chorus"]);
    t.after(() => cluster.stop());
    const { key, redis } = cluster;
    const [ch, ch2] = cluster.nodes;
    // The Node node is started apart: it leaves before the messages it cannot take (below).
    const nd = await startNode("node", { redisUrl: redis.url, key, name: "n2-node" });
    t.after(() => nd.stop());
    const R = uniq("room");
    const c1 = await add(ch, { transport: "websocket" });
    const c2 = await add(ch2, { transport: "polling" });
    const n1 = await add(nd, { transport: "websocket" });
    for (const p of [c1, c2, n1]) await join(p, R);

    const uid = "hostile";
    const deepArray = (depth) => Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]); // [[[...nil]]]
    const deepJson = (depth, head) => `${head}${"[".repeat(depth)}${"]".repeat(depth)}]}`;
    const bcast = (packet, opts) => notepack.encode(opts === undefined ? [uid, packet] : [uid, packet, opts]);
    const fine = { rooms: [], except: [] };
    // [channel, what, payload]. The Node node takes the first group; the second crashes it or
    // breaks its subscriber connection (see below), so it has left by then.
    const request = `${key}-request#/#`;
    const response = `${key}-response#/#`;
    const tolerated = [
      [request, "not JSON", "{not json"],
      [request, "an unknown type", JSON.stringify({ type: 99, uid, requestId: "r1" })],
      [request, "no type", JSON.stringify({ uid, requestId: "r2" })],
      [request, "a type that is a string", JSON.stringify({ type: "5", uid, requestId: "r3" })],
      [request, "rooms to join that are an object", JSON.stringify({ type: 2, uid, opts: fine, rooms: { a: 1 } })],
      [request, "a server-side event that is not a string", JSON.stringify({ type: 6, uid, data: [{}] })],
      [request, "opts null", JSON.stringify({ type: 4, uid, opts: null, close: "yes" })],
      [request, "JSON nested 100000 deep", deepJson(100_000, `{"type":6,"uid":"${uid}","data":["ev",`)],
      [request, "truncated msgpack", Buffer.from([0x81, 0xa4])],
      [request, "msgpack nested 100000 deep", deepArray(100_000)],
      [response, "not JSON", "{bad"],
      [response, "rooms that are not an array", JSON.stringify({ requestId: "x", rooms: 3 })],
      [response, "a client count that is a string", JSON.stringify({ type: 8, requestId: "x", clientCount: "3" })],
      [response, "JSON nested 100000 deep", deepJson(100_000, `{"requestId":"x","sockets":[`)],
      [response, "msgpack garbage", Buffer.from([0xde, 0xff])],
    ];
    const broadcasts = [
      ["msgpack's never-used byte", Buffer.from([0xc1])],
      ["random bytes", randomBytes(64)],
      ["text", Buffer.from("garbage \u0000\u00ff")],
      ["a truncated array", Buffer.from([0x93, 0xa3, 0x61])],
      ["a map, not an array", notepack.encode({ not: "an array" })],
      ["data that is not an array", bcast({ type: 2, data: "x", nsp: "/" }, fine)],
      ["an event name that is a number", bcast({ type: 2, data: [42], nsp: "/" }, fine)],
      ["rooms that are not an array", bcast({ type: 2, data: ["ev"], nsp: "/" }, { rooms: 5, except: {} })],
      ["no opts", bcast({ type: 2, data: ["ev"], nsp: "/" })],
      ["msgpack nested 100000 deep", deepArray(100_000)],
    ];
    const fatal = [
      ...broadcasts.flatMap(([what, payload]) => [
        [`${key}#/#`, what, payload],
        [`${key}#/#${R}#`, what, payload], // a room the Chorus nodes have
      ]),
      [request, "a fetch whose rooms are a number", JSON.stringify({ type: 5, uid, requestId: "r5", opts: { rooms: 3, except: [] } })],
      [request, "a requestId that is a number", JSON.stringify({ type: 5, uid, requestId: 7, opts: fine })],
      [request, "server-side data that is not an array", JSON.stringify({ type: 6, uid, data: "x" })],
      [request, "a broadcast request without a packet", JSON.stringify({ type: 7, uid, requestId: "r4", opts: fine })],
    ];
    const publish = async (list) => {
      for (const [channel, , payload] of list) await redisCommand(redis.port, ["PUBLISH", channel, payload]);
    };

    // A valid broadcast from every node reaches every client; every node is still up. The
    // broadcasts went out after the hostile messages on the same connection, and each node
    // reads its subscriptions in order: every hostile message has been handled by then.
    const check = async (nodes, clients, after) => {
      for (const origin of nodes) {
        const ev = uniq("valid");
        await ctl(origin, "emit", { rooms: [R], event: ev, args: [origin.nodeName, BIN] });
        for (const p of clients) {
          assert.deepEqual(normalize(await p.next(ev, WAIT)), normalize([origin.nodeName, BIN]), `after ${after}: from ${origin.name} to ${p.node.name}`);
        }
      }
      for (const node of nodes) assert.ok(node.alive, `${node.name} is up after ${after}:\n${node.stderrExcerpt()}`);
      // A request is still answered by every other node.
      const ping = await ctl(nodes[0], "server-emit", { event: "ping-servers", args: [after], ack: true, timeout: WAIT });
      assert.equal(ping.err, null, `ping after ${after}`);
      assert.deepEqual([...ping.responses].sort(), nodes.slice(1).map((n) => `pong-${n.nodeName}`).sort());
    };

    // Warnings about what was ignored: the first at once, then at most one per 10 s with a
    // count (a peer publishing garbage must not flood the log).
    const warnings = (node) => node.stderr.split("\n").filter((l) => /redis adapter: an? \w+ on Redis ignored: /.test(l));
    const t0 = Date.now();
    await publish(tolerated);
    await check([ch, ch2, nd], [c1, c2, n1], "hostile requests and responses");
    for (const node of [ch, ch2]) {
      const got = warnings(node);
      assert.ok(got.length >= 1, `${node.name}: a warning about the hostile messages:\n${node.stderrExcerpt()}`);
      assert.match(got[0], /\[warn\] redis adapter: a request on Redis ignored: .*object member/, `${node.name}: the first one, "not JSON"`);
    }

    // The reference leaves: Node's adapter decodes broadcasts without a try/catch (node-redis
    // then drops and remakes its subscriber connection, losing what arrives meanwhile), and
    // the requests of the second group throw an uncaught TypeError that ends the process.
    await nd.stop({ strict: true });
    await publish(fatal);
    await check([ch, ch2], [c1, c2], "hostile broadcasts and requests");
    const allowed = 1 + Math.ceil((Date.now() - t0) / 10_000);
    const sent = tolerated.length + fatal.length;
    for (const node of [ch, ch2]) {
      const got = warnings(node);
      assert.ok(got.length <= allowed, `${node.name}: ${got.length} warnings for ${sent} hostile messages in ${Date.now() - t0} ms:\n${got.join("\n")}`);
    }
    t.diagnostic(`${sent} hostile messages in ${Date.now() - t0} ms: ${warnings(ch).length} warning(s) from ${ch.name}`);
  });
});
