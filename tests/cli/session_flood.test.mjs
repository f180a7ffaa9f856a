// Session floods: polling handshakes that never go on (no namespace joined) from one address
// are bounded by --max-pending-sessions-per-address (503 {"code":3,...} past it, as at
// --max-connections), so they cannot fill every session slot and lock other addresses out.
// A session that joins a namespace, or that the connect timeout ends, no longer counts.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { eventually } from "../common/util.mjs";
import { client, connected, startServer } from "./helpers.mjs";

const PENDING_MESSAGE = "Too many sessions from this address waiting to join a namespace";

// A GET from `from` over `agent` (a keep-alive agent bound to that address).
function get(server, path, agent) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: server.host, port: server.port, path, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

function post(server, path, body, agent) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: server.host, port: server.port, path, method: "POST", agent, headers: { "Content-Type": "text/plain;charset=UTF-8" } },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode, body: text }));
      });
    req.on("error", reject);
    req.end(body);
  });
}

const agentFrom = (from, maxSockets = 4) => new http.Agent({ keepAlive: true, maxSockets, localAddress: from });
const handshakePath = (server) => `${server.path}?EIO=4&transport=polling`;

describe("--max-pending-sessions-per-address", () => {
  const LIMIT = 3;
  let server;
  before(async () => {
    server = await startServer(["--max-pending-sessions-per-address", String(LIMIT), "--connect-timeout", "2000"]);
  });
  after(async () => {
    await server?.stop();
  });

  test("at the limit handshakes are served, past it 503; other addresses connect; joining or the connect timeout frees a place", async () => {
    const agent = agentFrom("127.0.0.2");
    try {
      const sids = [];
      for (let i = 0; i < LIMIT; i++) {
        const r = await get(server, handshakePath(server), agent);
        assert.equal(r.status, 200, `handshake ${i + 1}: ${r.body}`);
        sids.push(JSON.parse(r.body.slice(1)).sid);
      }
      const past = await get(server, handshakePath(server), agent);
      assert.equal(past.status, 503);
      assert.deepEqual(JSON.parse(past.body), { code: 3, message: PENDING_MESSAGE });
      // The WebSocket handshake too, before the upgrade.
      const ws = await new Promise((resolve, reject) => {
        const req = http.request({
          host: server.host, port: server.port, localAddress: "127.0.0.2", agent: false,
          path: `${server.path}?EIO=4&transport=websocket`,
          headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" },
        });
        req.on("response", (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode, body }));
        });
        req.on("upgrade", () => reject(new Error("upgraded past the limit")));
        req.on("error", reject);
        req.end();
      });
      assert.equal(ws.status, 503);
      assert.deepEqual(JSON.parse(ws.body), { code: 3, message: PENDING_MESSAGE });

      // Another address is not concerned.
      const s = client(server);
      try {
        await connected(s);
      } finally {
        s.close();
      }

      // One of them joins "/": it no longer counts, one more handshake is served.
      const path = `${handshakePath(server)}&sid=${sids[0]}`;
      assert.equal((await post(server, path, "40", agent)).status, 200);
      assert.match((await get(server, path, agent)).body, /^40\{/);
      assert.equal((await get(server, handshakePath(server), agent)).status, 200);
      assert.equal((await get(server, handshakePath(server), agent)).status, 503);

      // The connect timeout (2 s) ends the ones that never join: handshakes are served again.
      await eventually(async () => {
        assert.equal((await get(server, handshakePath(server), agent)).status, 200);
      }, 10_000);
    } finally {
      agent.destroy();
    }
  });
});

describe("a flood of 10,400 polling handshakes from one address", () => {
  const FLOOD = 10_400;
  const MAX = 10_000;
  let server;
  before(async () => {
    // The flood is larger than every session slot; the default per-address limit (1,000)
    // keeps most of them for everybody else.
    server = await startServer(["--max-connections", String(MAX), "--ping-interval", "60000", "--ping-timeout", "60000"]);
  });
  after(async () => {
    await server?.stop();
  });

  test("a client from another address still connects", async () => {
    const agent = agentFrom("127.0.0.2");
    let served = 0;
    let refused = 0;
    try {
      let next = 0;
      const worker = async () => {
        while (next < FLOOD) {
          next++;
          const r = await get(server, handshakePath(server), agent);
          if (r.status === 200) served++;
          else if (r.status === 503 && JSON.parse(r.body).message === PENDING_MESSAGE) refused++;
          else throw new Error(`handshake answered ${r.status} ${r.body}`);
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
    } finally {
      agent.destroy();
    }
    console.log(`# ${FLOOD} handshakes from 127.0.0.2: ${served} sessions, ${refused} refused`);
    assert.equal(served, 1000, "sessions from the flooding address");
    assert.equal(refused, FLOOD - 1000);
    const s = client(server);
    try {
      await connected(s);
      assert.ok(s.connected);
    } finally {
      s.close();
    }
  });
});
