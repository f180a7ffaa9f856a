// Engine.IO v4 heartbeat: the server pings every pingInterval (300 ms here) and ends the
// session when no pong arrives within pingTimeout (1000 ms here: h.FAST_HEARTBEAT).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as h from "./harness.mjs";

let srv;
before(async () => {
  srv = await h.startServer("eio-echo", { timings: h.FAST_HEARTBEAT });
});
after(async () => {
  await srv.stop();
});

// Timer slack: sanitizer builds on a shared, busy 2-core machine.
const EARLY = 60;
const LATE = 1500;
const PING_INTERVAL = h.FAST_HEARTBEAT.pingInterval;
const PING_TIMEOUT = h.FAST_HEARTBEAT.pingTimeout;

describe("heartbeat", { concurrency: true }, () => {
  it("polling: the first PING arrives about pingInterval after the handshake", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const t0 = Date.now();
    const res = await h.poll(srv, sid);
    const dt = Date.now() - t0;
    assert.equal(res.status, 200);
    assert.equal(res.text, "2");
    assert.ok(dt >= PING_INTERVAL - EARLY && dt <= PING_INTERVAL + LATE, `ping after ${dt} ms`);
  });

  it("polling: no PONG -> the session ends about pingTimeout after the PING", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const ping = await h.poll(srv, sid);
    assert.equal(ping.text, "2");
    const t0 = Date.now();
    const next = await h.poll(srv, sid);
    const dt = Date.now() - t0;
    // Either the pending poll carries CLOSE, or the session is already gone (400).
    if (next.status === 200) {
      assert.equal(h.splitPayload(next.text).at(-1), "1", `poll answered ${JSON.stringify(next.text)}`);
      assert.ok(dt >= PING_TIMEOUT - EARLY && dt <= PING_TIMEOUT + LATE, `closed ${dt} ms after the ping`);
    } else {
      assert.equal(next.status, 400);
    }
    const after = await h.poll(srv, sid);
    assert.equal(after.status, 400);
    assert.deepEqual(JSON.parse(after.text), { code: 1, message: "Session ID unknown" });
  });

  it("polling: answering PONGs keeps the session alive over several intervals", async () => {
    const { sid } = await h.pollingHandshake(srv);
    const t0 = Date.now();
    let pings = 0;
    while (Date.now() - t0 < 5 * PING_INTERVAL + 100) {
      const res = await h.poll(srv, sid);
      assert.equal(res.status, 200, `poll ${pings}: ${res.text}`);
      for (const p of h.splitPayload(res.text)) {
        assert.notEqual(p, "1", "session closed although pongs were sent");
        if (p === "2") {
          pings++;
          assert.equal((await h.post(srv, sid, "3")).status, 200);
        }
      }
    }
    assert.ok(pings >= 4, `${pings} pings in ${Date.now() - t0} ms`);
    assert.equal((await h.post(srv, sid, "4alive")).status, 200);
    const res = await h.poll(srv, sid);
    assert.ok(h.splitPayload(res.text).includes("4alive"), res.text);
  });

  it("websocket: PING about pingInterval after the handshake; no PONG -> closed", async () => {
    const t0 = Date.now();
    const { client } = await h.wsHandshake(srv, {}, { autoPong: false });
    const ping = await client.nextText(2000);
    const tPing = Date.now();
    assert.equal(ping, "2");
    assert.ok(tPing - t0 >= PING_INTERVAL - EARLY && tPing - t0 <= PING_INTERVAL + LATE, `ping after ${tPing - t0} ms`);
    const closed = await client.closedWithin(PING_TIMEOUT + LATE + 300);
    assert.ok(closed, "the server did not close the websocket after the ping timeout");
    // Measured from the handshake: the PING may reach a busy client late, the server's
    // deadline runs from when it sent it.
    const dt = Date.now() - t0;
    assert.ok(dt >= PING_INTERVAL + PING_TIMEOUT - EARLY, `closed only ${dt} ms after the handshake`);
  });

  it("websocket: answering PONGs keeps the session alive over several intervals", async () => {
    const { client } = await h.wsHandshake(srv, {}, { autoPong: true });
    try {
      await h.sleep(6 * PING_INTERVAL);
      assert.ok(client.isOpen, `closed: ${JSON.stringify(client.closeInfo)}`);
      assert.ok(client.pings >= 4, `${client.pings} pings`);
      client.send("4alive");
      assert.equal(await client.nextText(), "4alive");
    } finally {
      client.close();
    }
  });

  it("websocket: a PING from the client is a protocol error (v4 heartbeat direction)", async () => {
    const { client } = await h.wsHandshake(srv, {}, { autoPong: true });
    client.send("2");
    const closed = await client.closedWithin(1000);
    assert.ok(closed, "the session stayed open after a client PING");
    await h.assertEchoHealthy(srv);
  });
});
