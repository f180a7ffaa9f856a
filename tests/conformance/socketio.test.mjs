// Socket.IO v5 over Engine.IO v4, against the conformance server: namespaces, CONNECT with
// and without auth, events, acks, binary attachments over both transports, DISCONNECT and
// the connect timeout.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as h from "./harness.mjs";

let srv;
before(async () => {
  srv = await h.startServer("conformance");
});
after(async () => {
  await srv.stop();
});

const PH0 = '{"_placeholder":true,"num":0}';

function parseConnect(text, nsp = "/") {
  const prefix = nsp === "/" ? "40" : `40${nsp},`;
  assert.ok(text.startsWith(prefix), `expected CONNECT for ${nsp}, got ${text}`);
  const payload = JSON.parse(text.slice(prefix.length));
  assert.deepEqual(Object.keys(payload), ["sid"]);
  assert.equal(typeof payload.sid, "string");
  assert.ok(payload.sid.length > 0);
  return payload.sid;
}

describe("CONNECT", { concurrency: true }, () => {
  it('websocket, "/" without auth: 0{"sid"} then the "auth" event with {}', async () => {
    const { client, open } = await h.wsHandshake(srv);
    try {
      client.send("40");
      const sid = parseConnect(await client.nextText());
      assert.notEqual(sid, open.sid, "the Socket.IO id is not the Engine.IO id");
      assert.equal(await client.nextText(), '42["auth",{}]');
    } finally {
      client.close();
    }
  });

  it('websocket, "/" with auth: the "auth" event carries it', async () => {
    const { client } = await h.wsHandshake(srv);
    try {
      client.send('40{"token":"123","nested":{"a":[1,2.5,null,"é"]}}');
      parseConnect(await client.nextText());
      assert.equal(await client.nextText(), '42["auth",{"token":"123","nested":{"a":[1,2.5,null,"é"]}}]');
    } finally {
      client.close();
    }
  });

  it('polling, "/" without and with auth', async () => {
    for (const [packet, auth] of [
      ["40", "{}"],
      ['40{"token":"abc"}', '{"token":"abc"}'],
    ]) {
      const c = await h.PollingClient.open(srv);
      try {
        assert.equal((await c.send(packet)).status, 200);
        parseConnect(await c.next());
        assert.equal(await c.next(), `42["auth",${auth}]`);
      } finally {
        c.stop();
      }
    }
  });

  it('"/custom" with auth: 40/custom,{"sid"} then 42/custom,["auth",...]', async () => {
    const { client } = await h.wsHandshake(srv);
    try {
      client.send('40/custom,{"token":"456"}');
      parseConnect(await client.nextText(), "/custom");
      assert.equal(await client.nextText(), '42/custom,["auth",{"token":"456"}]');
    } finally {
      client.close();
    }
  });

  it('an unknown namespace: 44/random,{"message":"Invalid namespace"}; the connection stays usable', async () => {
    const { client } = await h.wsHandshake(srv);
    try {
      client.send("40/random");
      assert.equal(await client.nextText(), '44/random,{"message":"Invalid namespace"}');
      client.send("40");
      parseConnect(await client.nextText());
      assert.equal(await client.nextText(), '42["auth",{}]');
    } finally {
      client.close();
    }
  });

  it('"/" and "/custom" multiplexed on one connection', async () => {
    const { client } = await h.wsHandshake(srv);
    try {
      client.send("40");
      const a = parseConnect(await client.nextText());
      assert.equal(await client.nextText(), '42["auth",{}]');
      client.send("40/custom,");
      const b = parseConnect(await client.nextText(), "/custom");
      assert.equal(await client.nextText(), '42/custom,["auth",{}]');
      assert.notEqual(a, b);
      client.send('42["message","on-root"]');
      assert.equal(await client.nextText(), '42["message-back","on-root"]');
    } finally {
      client.close();
    }
  });

  it(`no CONNECT within connectTimeout (${h.CONNECT_TIMEOUT} ms): the session is closed (websocket)`, async () => {
    const t0 = Date.now();
    const { client } = await h.wsHandshake(srv);
    const closed = await client.closedWithin(h.CONNECT_TIMEOUT + 1500);
    const dt = Date.now() - t0;
    assert.ok(closed, `still open ${h.CONNECT_TIMEOUT + 1500} ms after the handshake`);
    assert.ok(dt >= h.CONNECT_TIMEOUT - 100, `closed after only ${dt} ms`);
    assert.ok(client.pings >= 2, "the heartbeat ran meanwhile");
  });

  it(`no CONNECT within connectTimeout (${h.CONNECT_TIMEOUT} ms): the session is closed (polling)`, async () => {
    const t0 = Date.now();
    const c = await h.PollingClient.open(srv);
    const info = await h.withTimeout(c.closed, h.CONNECT_TIMEOUT + 1500, "the session to close");
    const dt = Date.now() - t0;
    assert.ok(dt >= h.CONNECT_TIMEOUT - 100, `closed after only ${dt} ms (${JSON.stringify(info)})`);
  });

  it("a CONNECT for a namespace already joined closes the connection", async () => {
    const { client } = await h.sioWs(srv);
    client.send("40");
    assert.ok(await client.closedWithin(1500), "still open");
    await h.assertSocketIoHealthy(srv);
  });
});

describe("events and acks", { concurrency: true }, () => {
  it('"message" -> "message-back" with the same arguments (websocket)', async () => {
    const { client } = await h.sioWs(srv);
    try {
      const args = '[1,"2",{"3":[true,false,null]},-0.5,1e+21,"\\u0000\\n\\"\\\\ ü 😀"]';
      client.send(`42["message",${args.slice(1)}`);
      assert.equal(await client.nextText(), `42["message-back",${args.slice(1)}`);
      client.send('42["message"]');
      assert.equal(await client.nextText(), '42["message-back"]');
    } finally {
      client.close();
    }
  });

  it('"message" -> "message-back" (polling)', async () => {
    const { client } = await h.sioPolling(srv);
    try {
      await client.send('42["message","a",{"b":[1]}]');
      assert.equal(await client.next(), '42["message-back","a",{"b":[1]}]');
    } finally {
      client.stop();
    }
  });

  it('"message-with-ack" -> 3<id>[same arguments]; ids up to 2^53-1', async () => {
    const { client } = await h.sioWs(srv);
    try {
      client.send('421["message-with-ack",1,"2",{"3":[false]}]');
      assert.equal(await client.nextText(), '431[1,"2",{"3":[false]}]');
      client.send('420["message-with-ack"]');
      assert.equal(await client.nextText(), "430[]");
      client.send('429007199254740991["message-with-ack","max"]');
      assert.equal(await client.nextText(), '439007199254740991["max"]');
    } finally {
      client.close();
    }
  });

  it("ack over polling", async () => {
    const { client } = await h.sioPolling(srv);
    try {
      await client.send('4213["message-with-ack",{"x":1}]');
      assert.equal(await client.next(), '4313[{"x":1}]');
    } finally {
      client.stop();
    }
  });

  it("events on /custom stay on /custom (an echo, if any, comes back on /custom)", async () => {
    const { client } = await h.sioWs(srv);
    try {
      client.send("40/custom,");
      parseConnect(await client.nextText(), "/custom");
      assert.equal(await client.nextText(), '42/custom,["auth",{}]');
      client.send('42/custom,["message","x"]');
      client.send('42["message","y"]');
      let m = await client.nextText();
      if (m.startsWith("42/custom,")) {
        assert.equal(m, '42/custom,["message-back","x"]');
        m = await client.nextText();
      }
      assert.equal(m, '42["message-back","y"]');
    } finally {
      client.close();
    }
  });

  it("several packets in one POST are all handled, in order", async () => {
    const { client } = await h.sioPolling(srv);
    try {
      await client.send('42["message",1]', '42["message",2]', '427["message-with-ack",3]');
      assert.equal(await client.next(), '42["message-back",1]');
      assert.equal(await client.next(), '42["message-back",2]');
      assert.equal(await client.next(), "437[3]");
    } finally {
      client.stop();
    }
  });
});

describe("binary attachments", { concurrency: true }, () => {
  it("websocket: BINARY_EVENT text frame + binary frame, echoed the same way", async () => {
    const { client } = await h.sioWs(srv);
    try {
      client.send(`451-["message",${PH0}]`);
      client.send(Buffer.from([1, 2, 3]));
      assert.equal(await client.nextText(), `451-["message-back",${PH0}]`);
      assert.deepEqual((await client.next()).binary, Buffer.from([1, 2, 3]));
    } finally {
      client.close();
    }
  });

  it("websocket: two attachments in nested positions, and a binary ack", async () => {
    const { client } = await h.sioWs(srv);
    try {
      client.send('452-["message",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]},"t"]');
      client.send(Buffer.from([10]));
      client.send(Buffer.from([20, 21]));
      assert.equal(
        await client.nextText(),
        '452-["message-back",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]},"t"]',
      );
      assert.deepEqual((await client.next()).binary, Buffer.from([10]));
      assert.deepEqual((await client.next()).binary, Buffer.from([20, 21]));

      client.send(`451-5["message-with-ack",${PH0}]`);
      client.send(Buffer.from([7, 7]));
      assert.equal(await client.nextText(), `461-5[${PH0}]`);
      assert.deepEqual((await client.next()).binary, Buffer.from([7, 7]));
    } finally {
      client.close();
    }
  });

  it("websocket: 10 attachments (the maximum) are accepted", async () => {
    const { client } = await h.sioWs(srv);
    try {
      const phs = Array.from({ length: 10 }, (_, i) => `{"_placeholder":true,"num":${i}}`).join(",");
      client.send(`4510-["message",${phs}]`);
      for (let i = 0; i < 10; i++) client.send(Buffer.from([i]));
      assert.equal(await client.nextText(), `4510-["message-back",${phs}]`);
      for (let i = 0; i < 10; i++) assert.deepEqual((await client.next()).binary, Buffer.from([i]));
    } finally {
      client.close();
    }
  });

  it("polling: attachments as 'b' + base64 packets in the same payload", async () => {
    const { client } = await h.sioPolling(srv);
    try {
      const bin = Buffer.from([0, 255, 1, 254]);
      await client.send(`451-["message",${PH0}]`, `b${bin.toString("base64")}`);
      assert.equal(await client.next(), `451-["message-back",${PH0}]`);
      assert.equal(await client.next(), `b${bin.toString("base64")}`);
    } finally {
      client.stop();
    }
  });

  it("polling: attachments may come in a later POST", async () => {
    const { client } = await h.sioPolling(srv);
    try {
      await client.send(`451-["message",${PH0}]`);
      await h.sleep(50);
      await client.send("bAQID");
      assert.equal(await client.next(), `451-["message-back",${PH0}]`);
      assert.equal(await client.next(), "bAQID");
    } finally {
      client.stop();
    }
  });
});

describe("DISCONNECT and namespaces not joined", { concurrency: true }, () => {
  it("41 leaves the namespace; the Engine.IO session stays and can CONNECT again", async () => {
    const { client, sioSid } = await h.sioWs(srv);
    try {
      client.send("41");
      await h.sleep(100);
      assert.ok(client.isOpen, "DISCONNECT must not close the Engine.IO session");
      client.send("40");
      const again = parseConnect(await client.nextText());
      assert.notEqual(again, sioSid);
      assert.equal(await client.nextText(), '42["auth",{}]');
    } finally {
      client.close();
    }
  });

  it("after 41, an EVENT for that namespace closes the connection", async () => {
    const { client } = await h.sioWs(srv);
    client.send("41");
    await h.sleep(50);
    client.send('42["message","x"]');
    assert.ok(await client.closedWithin(1500), "still open");
    await h.assertSocketIoHealthy(srv);
  });

  it("an EVENT for a namespace never joined closes the connection (websocket)", async () => {
    const { client } = await h.sioWs(srv);
    client.send('42/custom,["message","x"]');
    assert.ok(await client.closedWithin(1500), "still open");
    await h.assertSocketIoHealthy(srv);
  });

  it("an EVENT before any CONNECT closes the connection (polling)", async () => {
    const c = await h.PollingClient.open(srv);
    await c.send('42["message","x"]');
    const info = await h.withTimeout(c.closed, 1500, "the session to close");
    assert.ok(info.status === 200 || info.status === 400, JSON.stringify(info));
    await h.assertSocketIoHealthy(srv);
  });

  it("41 on /custom leaves only /custom", async () => {
    const { client } = await h.sioWs(srv);
    try {
      client.send("40/custom,");
      parseConnect(await client.nextText(), "/custom");
      await client.nextText();
      client.send("41/custom,");
      await h.sleep(50);
      client.send('42["message","root"]');
      assert.equal(await client.nextText(), '42["message-back","root"]');
    } finally {
      client.close();
    }
  });
});
