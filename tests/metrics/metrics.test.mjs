// The Prometheus metrics of a Chorus server under known traffic (chorus-metrics-app,
// tests/apps/metrics_app.cpp): real socket.io-client sockets over WebSocket and polling, and
// hand-written Engine.IO clients where the test needs exact bytes, a client that stops polling
// or one that never answers a PING. Every scrape is parsed strictly (prom.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { httpRequest } from "../common/http.mjs";
import { startProcess } from "../common/process.mjs";
import { RawWs } from "../common/raw_ws.mjs";
import { eventually } from "../common/util.mjs";
import { parsePrometheus } from "./prom.mjs";

const APP = process.env.CHORUS_METRICS_APP;
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

async function startApp(args = []) {
  return startProcess(APP, ["--port", "0", ...args], { name: "chorus-metrics-app" });
}

async function scrape(srv, path = "/metrics") {
  const res = await httpRequest(srv, { path });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers["content-type"], CONTENT_TYPE);
  return parsePrometheus(res.text);
}

// Waits (the machine may be busy) until `check(scrape)` passes; returns the last scrape.
async function until(srv, check, ms = 15_000) {
  return eventually(async () => {
    const s = await scrape(srv);
    check(s);
    return s;
  }, ms);
}

function connected(socket, ms = 10_000) {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve(socket);
    const timer = setTimeout(() => reject(new Error(`no connect within ${ms} ms`)), ms);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const byLabel = (s, name, label) => Object.fromEntries(s.values(name).map((v) => [v.labels[label], v.value]));

// Engine.IO over plain HTTP long-polling, by hand: each request is one call.
class RawPolling {
  constructor(srv) {
    this.srv = srv;
  }
  async open() {
    const res = await httpRequest(this.srv, { path: "/socket.io/?EIO=4&transport=polling" });
    assert.equal(res.status, 200, res.text);
    this.sid = JSON.parse(res.text.slice(1)).sid;
    return res.text;
  }
  async post(body) {
    const res = await httpRequest(this.srv, { method: "POST", path: `/socket.io/?EIO=4&transport=polling&sid=${this.sid}`, body });
    assert.equal(res.status, 200, res.text);
  }
  async get() {
    const res = await httpRequest(this.srv, { path: `/socket.io/?EIO=4&transport=polling&sid=${this.sid}`, timeout: 10_000 });
    assert.equal(res.status, 200, res.text);
    return res.text;
  }
}

test("known traffic over WebSocket and polling gives exact counters and gauges", async () => {
  const srv = await startApp();
  const N = 3; // clients per transport
  const K = 4; // "msg" events per client
  const M = 5; // broadcasts by the server
  const url = srv.url();
  const clients = [];
  try {
    for (const transport of ["websocket", "polling"]) {
      for (let i = 0; i < N; ++i) clients.push(io(url, { forceNew: true, reconnection: false, transports: [transport] }));
    }
    await Promise.all(clients.map((c) => connected(c)));
    // Two of them join "/chat" too, on the same connection (the manager connects them).
    const chats = [clients[0].io.socket("/chat"), clients[N].io.socket("/chat")];
    await Promise.all(chats.map((c) => connected(c)));

    const news = clients.map(() => []);
    clients.forEach((c, i) => c.on("news", (n) => news[i].push(n)));
    // Every client: K "msg", then "go" with an ack (once acked, the server has handled all
    // of that client's packets); the first one asks for M broadcasts.
    await Promise.all(
      clients.map(async (c, i) => {
        for (let k = 0; k < K; ++k) c.emit("msg", k);
        const n = await c.timeout(10_000).emitWithAck("go", i === 0 ? M : 0);
        assert.equal(n, i === 0 ? M : 0);
      }),
    );
    await eventually(() => news.forEach((got) => assert.deepEqual(got, [0, 1, 2, 3, 4])), 10_000);

    const sockets = 2 * N + chats.length;
    let s = await until(srv, (s) => assert.equal(s.value("chorus_outbound_queue_bytes"), 0));
    assert.deepEqual(byLabel(s, "chorus_connections", "transport"), { polling: N, websocket: N, sse: 0 });
    assert.deepEqual(byLabel(s, "chorus_connections_accepted_total", "transport"), { polling: N, websocket: N, sse: 0 });
    assert.deepEqual(byLabel(s, "chorus_sockets", "namespace"), { "/": 2 * N, "/chat": 2 });
    assert.deepEqual(byLabel(s, "chorus_rooms", "namespace"), { "/": 1, "/chat": 0 }); // "lobby"
    // Received: every CONNECT, K msg and one go per client. Sent: every CONNECT answer, M news
    // to each of the 2N sockets of "/", and one ack per go.
    assert.equal(s.value("chorus_messages_received_total"), sockets + 2 * N * K + 2 * N);
    assert.equal(s.value("chorus_messages_sent_total"), sockets + 2 * N * M + 2 * N);
    assert.equal(s.value("chorus_broadcast_duration_seconds_count"), M);
    assert.ok(s.value("chorus_broadcast_duration_seconds_sum") > 0);
    assert.deepEqual(byLabel(s, "chorus_dropped_total", "reason"), { volatile: 0, queue_full: 0 });
    assert.ok(s.value("chorus_bytes_received_total") > 0 && s.value("chorus_bytes_sent_total") > 0);
    assert.ok(!s.families.has("chorus_redis_connected"), "no Redis metrics without a cluster");

    // Goodbyes of every kind.
    const closed = (c) => new Promise((resolve) => (c.connected ? c.once("disconnect", resolve) : resolve()));
    const ws = clients.slice(0, N);
    const polling = clients.slice(N);
    chats[0].disconnect(); // client namespace disconnect
    ws[0].disconnect(); // client namespace disconnect
    const wsClosed = closed(ws[1]);
    ws[1].io.engine.close(); // transport close
    await wsClosed;
    const left = closed(ws[2]);
    ws[2].emit("leave"); // server namespace disconnect
    await left;
    const pollingClosed = Promise.all([closed(polling[0]), closed(chats[1])]);
    polling[0].io.engine.close(); // transport close, for "/" and "/chat"
    await pollingClosed;
    const kicked = closed(polling[1]);
    polling[1].emit("kick"); // forced server close
    await kicked;
    polling[2].disconnect(); // client namespace disconnect

    // A socket counts its disconnect before it leaves its namespace: a scrape without it
    // has the count.
    s = await until(srv, (s) => assert.deepEqual(byLabel(s, "chorus_sockets", "namespace"), { "/": 0, "/chat": 0 }));
    assert.deepEqual(byLabel(s, "chorus_disconnects_total", "reason"), {
      "client namespace disconnect": 3,
      "server namespace disconnect": 1,
      "transport close": 3,
      "transport error": 0,
      "ping timeout": 0,
      "parse error": 0,
      "forced close": 0,
      "forced server close": 1,
      "server shutting down": 0,
      other: 0,
    });
    assert.deepEqual(byLabel(s, "chorus_rooms", "namespace"), { "/": 0, "/chat": 0 });
    // Three DISCONNECTs from clients, "leave" and "kick"; one DISCONNECT to the socket that
    // was made to leave.
    assert.equal(s.value("chorus_messages_received_total"), sockets + 2 * N * K + 2 * N + 3 + 2);
    assert.equal(s.value("chorus_messages_sent_total"), sockets + 2 * N * M + 2 * N + 1);

    for (const c of clients) c.io.engine?.close();
    s = await until(srv, (s) =>
      assert.deepEqual(byLabel(s, "chorus_connections", "transport"), { polling: 0, websocket: 0, sse: 0 }),
    );
    assert.equal(s.value("chorus_outbound_queue_bytes"), 0);
  } finally {
    for (const c of clients) c.close();
    await srv.stop({ strict: true });
  }
});

test("bytes are the Engine.IO packets as carried, over WebSocket and polling", async () => {
  const srv = await startApp(["--ping-interval", "600000"]);
  try {
    const ws = await RawWs.connect(srv);
    assert.equal(ws.status, 101);
    const open = (await ws.readMessage()).payload.toString();
    ws.sendText("40");
    const connect = (await ws.readMessage()).payload.toString();
    assert.match(connect, /^40\{"sid":/);
    ws.sendText('42["go",2]');
    const news = [(await ws.readMessage()).payload.toString(), (await ws.readMessage()).payload.toString()];
    assert.deepEqual(news, ['42["news",0]', '42["news",1]']);
    let received = "40".length + '42["go",2]'.length;
    let sent = open.length + connect.length + news[0].length + news[1].length;
    let s = await until(srv, (s) => assert.equal(s.value("chorus_bytes_received_total"), received));
    assert.equal(s.value("chorus_bytes_sent_total"), sent);
    assert.equal(s.value("chorus_messages_received_total"), 2);
    assert.equal(s.value("chorus_messages_sent_total"), 3);

    const p = new RawPolling(srv);
    sent += (await p.open()).length;
    await p.post("40");
    received += 2;
    const answer = await p.get();
    assert.match(answer, /^40\{"sid":/);
    sent += answer.length;
    const batch = '42["msg",1]\x1e42["msg",2]';
    await p.post(batch);
    received += batch.length;
    s = await scrape(srv);
    assert.equal(s.value("chorus_bytes_received_total"), received);
    assert.equal(s.value("chorus_bytes_sent_total"), sent);
    assert.equal(s.value("chorus_messages_received_total"), 2 + 3);
    ws.destroy();
  } finally {
    await srv.stop({ strict: true });
  }
});

test("volatile drops and a client that stopped reading, counted exactly", async () => {
  const max = 65536;
  const srv = await startApp(["--max-buffered-bytes", String(max), "--ping-interval", "600000"]);
  try {
    // A polling client that never polls again after its CONNECT answer.
    const p = new RawPolling(srv);
    await p.open();
    await p.post("40");
    assert.match(await p.get(), /^40/);
    // No poll waiting: every volatile packet is dropped.
    await p.post('42["volatile",5]');
    let s = await scrape(srv);
    assert.deepEqual(byLabel(s, "chorus_dropped_total", "reason"), { volatile: 5, queue_full: 0 });
    assert.equal(s.value("chorus_broadcast_duration_seconds_count"), 5);
    assert.equal(s.value("chorus_messages_sent_total"), 1); // the CONNECT answer

    // Packets of 10012 bytes queue until the next would pass max_buffered_bytes: that one is
    // dropped, and the connection closed ("transport error").
    const bytes = 10_000;
    const frame = `42["big","${"x".repeat(bytes)}"]`.length;
    const fit = Math.floor(max / frame);
    s = await until(srv, (s) => assert.equal(s.value("chorus_outbound_queue_bytes"), 0));
    await p.post(`42["flood",20,${bytes}]`);
    s = await until(srv, (s) => assert.equal(s.value("chorus_disconnects_total", { reason: "transport error" }), 1));
    assert.deepEqual(byLabel(s, "chorus_dropped_total", "reason"), { volatile: 5, queue_full: 1 });
    const stats = (await httpRequest(srv, { path: "/app/stats" })).json;
    assert.equal(stats.flood_queued, fit);
    assert.equal(s.value("chorus_messages_sent_total"), 1 + fit);
    assert.equal(s.value("chorus_messages_received_total"), 3);
    s = await until(srv, (s) => assert.equal(s.value("chorus_connections", { transport: "polling" }), 0));
    assert.equal(s.value("chorus_outbound_queue_bytes"), 0);
  } finally {
    await srv.stop({ strict: true });
  }
});

test("a client that never answers a PING is counted as a ping timeout", async () => {
  const srv = await startApp(["--ping-interval", "200", "--ping-timeout", "200"]);
  try {
    const p = new RawPolling(srv);
    await p.open();
    await p.post("40");
    assert.match(await p.get(), /^40/);
    const s = await until(srv, (s) => assert.equal(s.value("chorus_disconnects_total", { reason: "ping timeout" }), 1));
    assert.equal(s.value("chorus_sockets", { namespace: "/" }), 0);
  } finally {
    await srv.stop({ strict: true });
  }
});

test("an embedder's own families are served beside Chorus's; metrics_text and the collectable", async () => {
  const srv = await startApp(["--metrics-path", "/internal/metrics"]);
  try {
    assert.equal((await httpRequest(srv, { path: "/metrics" })).status, 404);
    for (let i = 0; i < 3; ++i) assert.equal((await httpRequest(srv, { path: "/app/hit" })).status, 200);
    const s = await scrape(srv, "/internal/metrics");
    assert.equal(s.value("app_hits_total"), 3);
    assert.equal(s.family("app_hits_total").type, "counter");
    assert.equal(s.family("chorus_sockets").type, "gauge");
    assert.equal(s.family("chorus_broadcast_duration_seconds").type, "histogram");
    const text = parsePrometheus((await httpRequest(srv, { path: "/app/text" })).text);
    assert.deepEqual([...text.families.keys()], [...s.families.keys()]);
    const { families } = (await httpRequest(srv, { path: "/app/collectable" })).json;
    assert.deepEqual(families, [...s.families.keys()].filter((n) => n.startsWith("chorus_")));
  } finally {
    await srv.stop({ strict: true });
  }
});
