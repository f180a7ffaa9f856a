// chorus-server over TLS (--tls-cert with a self-signed certificate + key in one PEM): the
// official socket.io-client over wss and https polling, REST over https.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { ack, client, connected, once, request, startServer, tempDir } from "./helpers.mjs";

const dir = tempDir();
const pem = join(dir, "server.pem");

let server;
before(async () => {
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
    "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
  ], { stdio: "ignore" });
  writeFileSync(pem, readFileSync(join(dir, "cert.pem"), "utf8") + readFileSync(join(dir, "key.pem"), "utf8"));
  server = await startServer(["--tls-cert", pem]);
});
after(async () => {
  await server?.stop();
});

test("the listening line says https", () => {
  assert.equal(server.scheme, "https");
  assert.match(server.line, /^chorus: listening on https:\/\/127\.0\.0\.1:\d+\/socket\.io\/ \(up to \d+ connections, \d+ I\/O threads\)$/);
});

// Two clients join a room; one publishes, the other receives.
async function roundTrip(opts) {
  const a = client(server, { rejectUnauthorized: false, ...opts });
  const b = client(server, { rejectUnauthorized: false, ...opts });
  try {
    await Promise.all([connected(a), connected(b)]);
    assert.deepEqual(await ack(a, "join", "tls-room"), [true]);
    assert.deepEqual(await ack(b, "join", "tls-room"), [true]);
    const got = once(b, "news");
    assert.deepEqual(await ack(a, "publish", "tls-room", "news", { n: 1 }, "two"), [true]);
    const args = await got;  // with the recovery offset last (on by default)
    assert.deepEqual(args.slice(0, -1), [{ n: 1 }, "two"]);
    assert.match(args.at(-1), /^\d+$/);
    return a.io.engine.transport.name;
  } finally {
    a.close();
    b.close();
  }
}

test("socket.io-client over wss: events flow", async () => {
  assert.equal(await roundTrip({ transports: ["websocket"] }), "websocket");
});

test("socket.io-client over https polling: events flow", async () => {
  assert.equal(await roundTrip({ transports: ["polling"] }), "polling");
});

test("socket.io-client over https polling upgrades to wss", async () => {
  const s = client(server, { rejectUnauthorized: false, transports: ["polling", "websocket"] });
  try {
    await connected(s);
    if (s.io.engine.transport.name !== "websocket") await once(s.io.engine, "upgrade", 3_000);
    assert.equal(s.io.engine.transport.name, "websocket");
    assert.deepEqual(await ack(s, "join", "x"), [true]);
  } finally {
    s.close();
  }
});

test("REST and the echo WebSocket over TLS", async () => {
  const health = await request(server, "/api/health");
  assert.equal(health.status, 200);
  assert.equal(JSON.parse(health.body).ok, true);
  const ws = new WebSocket(`wss://127.0.0.1:${server.port}/ws/echo`, { rejectUnauthorized: false });
  await once(ws, "open");
  const reply = once(ws, "message");
  ws.send("over tls");
  const [data, binary] = await reply;
  assert.equal(binary, false);
  assert.equal(data.toString(), "over tls");
  ws.close();
});

test("plain http to the TLS port gets no Engine.IO answer", async () => {
  const r = await request({ ...server, scheme: "http" }, "/socket.io/?EIO=4&transport=polling").catch((e) => e);
  assert.ok(r instanceof Error || !String(r.body).startsWith("0{"), "plain http was served on the TLS port");
});

test("the server is still up after the TLS connections", async () => {
  await new Promise((resolve) => setTimeout(resolve, 100));
  const { exitCode, signalCode } = server.proc;
  assert.ok(exitCode === null && signalCode === null,
            `chorus-server died (exit ${exitCode}, signal ${signalCode}): ${server.stderr.slice(0, 600)}`);
});
