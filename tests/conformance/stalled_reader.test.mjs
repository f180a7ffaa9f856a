// A client that stops reading must not slow down anyone else: the server gets it to receive
// tens of megabytes (echoes of its own large messages) while it never reads its socket, and
// other clients' echo round trips must stay fast. The stalled client is eventually
// disconnected (its heartbeat cannot be answered; Chorus also caps its outbound queue).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as h from "./harness.mjs";

let srv;
before(async () => {
  srv = await h.startServer("eio-echo");
});
after(async () => {
  await srv.stop();
});

const MESSAGES = 40;
const SIZE = 500_000; // 40 x 500 kB = 20 MB of echoes for the stalled client

// Opens a raw session that stops reading, then makes it send MESSAGES large messages.
async function stallClient(server) {
  const stalled = await h.rawEioSession(server);
  stalled.pause();
  const payload = Buffer.alloc(SIZE, 0x73);
  payload[0] = 0x34; // "4": Engine.IO message
  const frame = h.buildFrame({ opcode: h.OP.TEXT, payload });
  // Not awaited: once the server stops reading (its writes to us are blocked or queued),
  // these stay in our own socket buffer.
  for (let i = 0; i < MESSAGES; i++) stalled.socket.write(frame, () => {});
  return stalled;
}

describe("stalled reader", () => {
  it("other clients keep round trips under 1 s while one client never reads", async (t) => {
    const stalled = await stallClient(srv);
    const { client } = await h.wsHandshake(srv);
    const polling = await h.PollingClient.open(srv);
    try {
      const latencies = [];
      const t0 = Date.now();
      let i = 0;
      while (Date.now() - t0 < 2500) {
        const start = Date.now();
        client.send(`4rt${i}`);
        assert.equal(await client.nextText(1000), `4rt${i}`, `websocket round trip ${i}`);
        latencies.push(Date.now() - start);
        if (i % 5 === 0) {
          const ps = Date.now();
          assert.equal((await polling.send(`4p${i}`)).status, 200);
          assert.equal(await polling.next(1000), `4p${i}`, `polling round trip ${i}`);
          latencies.push(Date.now() - ps);
        }
        i++;
        await h.sleep(20);
      }
      latencies.sort((a, b) => a - b);
      const max = latencies.at(-1);
      const median = latencies[latencies.length >> 1];
      t.diagnostic(`${latencies.length} round trips, median ${median} ms, max ${max} ms`);
      assert.ok(max < 1000, `slowest round trip ${max} ms`);

      // Read what the server had for the stalled client: it must end with a Close frame or
      // the end of the connection (no pong was ever sent), not stay open forever.
      const before = stalled.bytesRead;
      stalled.resume();
      const c = await stalled.waitClose(5000).catch((e) => ({ error: e.message }));
      t.diagnostic(
        `stalled client: ${before} bytes read before resuming, ${stalled.bytesRead} in all; ` +
          `close ${JSON.stringify(c.code !== undefined ? c.code : c)}`,
      );
      assert.ok(c.code !== undefined || c.ended, `the stalled client was not disconnected: ${JSON.stringify(c)}`);
    } finally {
      stalled.destroy();
      client.close();
      polling.stop();
    }
    await h.assertEchoHealthy(srv);
  });

  it("the server stops cleanly (SIGTERM) while a client is stalled", async () => {
    const other = await h.startServer("eio-echo");
    const stalled = await stallClient(other);
    try {
      await h.sleep(300);
      await h.assertEchoHealthy(other);
      await other.stop();
    } finally {
      stalled.destroy();
      if (other.alive) other.proc.kill("SIGKILL");
    }
  });
});
