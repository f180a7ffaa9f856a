// Differential test of Chorus's streams adapter codec (chorus/cluster/streams_adapter.h) against
// the real @socket.io/redis-streams-adapter 0.3 and its @msgpack/msgpack: a redis-server on
// 127.0.0.1 at a free port and Node socket.io servers whose adapters are the package's own
// RedisStreamsAdapter instances. Their encode()/decode() and their traffic in Redis (stream
// entries, session keys, restoreSession) are compared with chorus_cluster_codec both ways.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decode, encode } from "@msgpack/msgpack";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";
import { eventually } from "../common/util.mjs";
import { Codec, asChorus, b64, hex, startRedis } from "./harness.mjs";

let codec, redis, redisClient, io, plainIo, adapter, plainAdapter, Adapter;

before(async () => {
  codec = new Codec();
  redis = await startRedis();
  redisClient = createClient({ url: redis.url });
  await redisClient.connect();
  // A short XREAD block so that closing does not wait for a poll to time out.
  const opts = { blockTimeInMs: 100 };
  io = new Server({ adapter: createAdapter(redisClient, opts), connectionStateRecovery: {} });
  plainIo = new Server({ adapter: createAdapter(redisClient, { ...opts, onlyPlaintext: true, streamName: "plain" }) });
  adapter = io.of("/").adapter;
  plainAdapter = plainIo.of("/").adapter;
  Adapter = adapter.constructor;
});

after(async () => {
  // The servers are not attached to HTTP (io.close() would close an engine they lack): closing
  // the last adapter of a createAdapter() stops its stream readers and its subscriber.
  adapter?.close();
  plainAdapter?.close();
  await redisClient?.quit();
  redis?.proc.kill("SIGTERM");
  await codec?.close();
});

const UID = "1f025d5681a9e81e";
const opts = { rooms: ["room1"], except: ["room2"], flags: { timeout: 2000 } };
const handshake = {
  headers: { host: "127.0.0.1:3000" }, time: "Sun Dec 06 2026 10:12:41 GMT+0000 (Coordinated Universal Time)",
  address: "::ffff:127.0.0.1", xdomain: false, secure: false, issued: 1796527520481,
  url: "/socket.io/?EIO=4&transport=websocket", query: { EIO: "4", transport: "websocket" }, auth: { token: "t0k" },
};
// One message of every type, with and without binary, as ClusterAdapter builds them.
const MESSAGES = [
  { type: 1 },
  { type: 2 },
  { type: 3, data: { packet: { type: 2, data: ["e1", "first"] }, opts: { rooms: ["room1"], except: [], flags: {} } } },
  { type: 3, data: { packet: { type: 2, data: ["bin", Buffer.from([1, 2])] }, opts: { rooms: [], except: [], flags: { volatile: true } } } },
  { type: 3, data: { packet: { type: 2, data: ["ask", 42, 1.5, -7] }, requestId: "PIQXls", opts } },
  { type: 4, data: { opts, rooms: ["a", "b"] } },
  { type: 5, data: { opts, rooms: ["a"] } },
  { type: 6, data: { opts, close: true } },
  { type: 6, data: { opts, close: false } },
  { type: 7, data: { opts, requestId: "d1ce0011" } },
  { type: 8, data: { requestId: "d1ce0011", sockets: [{ id: "s1", handshake, rooms: ["s1", "room1"], data: { user: "u" } }] } },
  { type: 8, data: { requestId: "d1ce0011", sockets: [{ id: "s1", handshake, rooms: [], data: { avatar: Buffer.from([9, 8]) } }] } },
  { type: 8, data: { requestId: "d1ce0011", sockets: [] } },
  { type: 9, data: { packet: ["hello-servers", 1, "x"] } },
  { type: 9, data: { requestId: "okZs1P", packet: ["hello-servers", { deep: [Buffer.from([255])] }] } },
  { type: 10, data: { requestId: "okZs1P", packet: "B-reply" } },
  { type: 10, data: { requestId: "okZs1P", packet: Buffer.from([0, 1]) } },
  { type: 11, data: { requestId: "PIQXls", clientCount: 0 } },
  { type: 11, data: { requestId: "PIQXls", clientCount: 12345 } },
  { type: 12, data: { requestId: "PIQXls", packet: "answer-42" } },
  { type: 12, data: { requestId: "PIQXls", packet: [Buffer.from([3]), null] } },
  { type: 13 },
].map((m) => ({ ...m, uid: UID, nsp: "/" }));
const label = (m) => JSON.stringify(m).slice(0, 140);

describe("@msgpack/msgpack values", () => {
  const VALUES = [
    0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 63, 2 ** 64, -1, -32, -33,
    -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53 - 1), -(2 ** 53), 1.5, -0.1, 5e-324, -0, 1e300,
    "", "a", "x".repeat(31), "x".repeat(32), "x".repeat(256), "x".repeat(65536), "h\u00e9llo \ud83d\ude00",
    Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(256, 7), Buffer.alloc(65536, 1), new Uint8Array([5, 6]),
    null, true, false, [], [1, "two", null], {}, { nested: { a: [1, { b: [Buffer.from([1, 2]), "c"] }] }, "1": "k" },
    { gone: undefined, kept: 1 }, [undefined], new Date(0), new Date(1796527520481), new Date(-1), new Date(4294967296000),
  ];
  test("bytes from @msgpack/msgpack decode in Chorus to what it reads, and Chorus writes its bytes", async () => {
    for (const value of VALUES) {
      const bytes = encode(value);
      const expected = asChorus(decode(bytes));
      const decoded = await codec.ok({ op: "decode", dialect: "msgpack", hex: hex(bytes) });
      assert.deepEqual(decoded.value, expected, label(value));
      if (!(value instanceof Date)) {
        // undefined is written as nil by @msgpack/msgpack and read back as null: same bytes.
        const encoded = await codec.ok({ op: "encode", dialect: "msgpack", value: expected });
        assert.equal(encoded.hex, hex(bytes), label(value));
      }
    }
  });
  test("what differs from notepack: unsafe integers are float64, ext 0 is refused", async () => {
    for (const n of [2 ** 53, -(2 ** 53), 2 ** 63]) {
      const { hex: h } = await codec.ok({ op: "encode", dialect: "msgpack", value: n });
      assert.equal(h, hex(encode(n)));
      assert.equal(h.slice(0, 2), "cb");
      assert.notEqual((await codec.ok({ op: "encode", value: n })).hex.slice(0, 2), "cb");
    }
    const ext0 = "d40000"; // notepack's legacy undefined; an ExtData to @msgpack/msgpack
    assert.equal(decode(Buffer.from(ext0, "hex")).type, 0);
    assert.equal((await codec.call({ op: "decode", dialect: "msgpack", hex: ext0 })).ok, false);
    assert.equal((await codec.call({ op: "decode", hex: ext0 })).ok, true);
  });
});

describe("stream entries", () => {
  for (const [name, instance, plaintext] of [["default", () => adapter, false], ["onlyPlaintext", () => plainAdapter, true]]) {
    test(`${name}: Chorus writes the adapter's fields and reads them as RedisStreamsAdapter.decode does`, async () => {
      for (const m of MESSAGES) {
        const raw = instance().encode(m);
        const fields = Object.entries(raw);
        const chorus = await codec.ok({ op: "encode_entry", message: asChorus(m), only_plaintext: plaintext });
        assert.deepEqual(chorus.fields, fields, label(m));
        const read = await codec.ok({ op: "decode_entry", fields });
        assert.deepEqual(read.message, asChorus(Adapter.decode(raw)), label(m));
      }
    });
  }

  test("entries the adapter wrote to Redis read back in Chorus and re-encode to the same fields", async () => {
    await redisClient.del("socket.io");
    io.to("room1").emit("e1", "first");
    io.except("room2").emit("bin", Buffer.from([1, 2]), { n: 1 });
    io.volatile.emit("v", 1);
    io.in("room1").socketsJoin(["room3"]);
    io.in("room3").socketsLeave("room1");
    io.in("room1").disconnectSockets(true);
    const entries = await eventually(async () => {
      const all = await redisClient.xRange("socket.io", "-", "+");
      assert.equal(all.length, 6);
      return all;
    }, 10_000);
    const types = [];
    for (const { message } of entries) {
      const fields = Object.entries(message);
      const read = await codec.ok({ op: "decode_entry", fields });
      assert.deepEqual(read.message, asChorus(Adapter.decode(message)), label(message));
      const back = await codec.ok({ op: "encode_entry", message: read.message });
      assert.deepEqual(back.fields, fields, label(message));
      types.push(read.message.type);
    }
    assert.deepEqual(types, [3, 3, 3, 4, 5, 6]);
    assert.ok(!entries[1].message.data.startsWith("{"), "a binary broadcast is base64 msgpack");
  });

  test("bad entries get a clear error", async () => {
    for (const [fields, why] of [
      [[["uid", UID], ["type", "3"]], "no nsp"],
      [[["uid", UID], ["nsp", "/"], ["type", "99"]], "type"],
      [[["uid", UID], ["nsp", "/"], ["type", "3"], ["data", "@@"]], "base64"],
      [[["uid", UID], ["nsp", "/"], ["type", "3"], ["data", b64(encode({ packet: 1 }))]], "packet"],
    ]) {
      const reply = await codec.call({ op: "decode_entry", fields });
      assert.equal(reply.ok, false);
      assert.match(reply.error, new RegExp(why));
    }
  });
});

describe("pub/sub messages", () => {
  test("Chorus reads @msgpack/msgpack's messages and writes the same bytes", async () => {
    for (const m of MESSAGES) {
      const bytes = encode(m);
      const read = await codec.ok({ op: "decode_pubsub", hex: hex(bytes) });
      assert.deepEqual(read.message, asChorus(decode(bytes)), label(m));
      const written = await codec.ok({ op: "encode_pubsub", message: asChorus(m) });
      assert.equal(written.hex, hex(bytes), label(m));
      assert.deepEqual(asChorus(decode(Buffer.from(written.hex, "hex"))), asChorus(m), label(m));
    }
  });

  test("fetchSockets: the adapter's request decodes in Chorus, and Chorus's response resolves it", async () => {
    const peer = redisClient.duplicate();
    await peer.connect();
    const requests = [];
    // Counted by PUBSUB NUMSUB socket.io#/#, so the Node node asks this "Chorus peer" too.
    await peer.subscribe("socket.io#/#", (message) => requests.push(message), true);
    const fetching = io.in("room1").fetchSockets();
    const request = await eventually(() => {
      assert.equal(requests.length, 1);
      return requests[0];
    }, 10_000);
    const { message } = await codec.ok({ op: "decode_pubsub", hex: hex(request) });
    assert.equal(message.type, 7);
    assert.deepEqual(message.data.opts.rooms, ["room1"]);
    const response = {
      type: 8,
      data: { requestId: message.data.requestId, sockets: [{ id: "chorus-socket", handshake, rooms: ["room1"], data: { n: 7 } }] },
      uid: "c0c0c0c0c0c0c0c0",
      nsp: "/",
    };
    const { hex: bytes } = await codec.ok({ op: "encode_pubsub", message: response });
    await redisClient.publish(`socket.io#/#${message.uid}#`, Buffer.from(bytes, "hex"));
    const sockets = await fetching;
    assert.deepEqual(sockets.map((s) => [s.id, s.data]), [["chorus-socket", { n: 7 }]]);
    await peer.quit();
  });
});

describe("sessions and offsets", () => {
  test("a session the adapter persisted reads in Chorus, and Chorus writes the same blob", async () => {
    adapter.persistSession({ sid: "rLj1AAAAAAAAAAAAAAAA", pid: "p1", rooms: ["rLj1AAAAAAAAAAAAAAAA", "room1"], data: { n: 7, b: Buffer.from([1]) } });
    const text = await eventually(async () => {
      const t = await redisClient.get("sio:session:p1");
      assert.ok(t);
      return t;
    }, 10_000);
    const { session } = await codec.ok({ op: "decode_session", text });
    assert.deepEqual(session, asChorus(decode(Buffer.from(text, "base64"))));
    assert.equal((await codec.ok({ op: "encode_session", session })).text, text);
    assert.ok((await redisClient.pTTL("sio:session:p1")) > 0, "persisted with an expiry");
  });

  test("restoreSession in Node recovers a session and missed entries written by Chorus", async () => {
    const xadd = async (message) => {
      const { fields } = await codec.ok({ op: "encode_entry", message });
      return redisClient.xAdd("socket.io", "*", Object.fromEntries(fields));
    };
    const broadcast = (data, rooms, flags = {}) => ({
      type: 3, data: { packet: { type: 2, data }, opts: { rooms, except: [], flags } }, uid: "c0c0c0c0c0c0c0c0", nsp: "/",
    });
    const offset = await xadd(broadcast(["seen"], []));
    await xadd(broadcast(["missed", { $binary: b64([1, 2]) }], ["room1"]));
    await xadd(broadcast(["other-room"], ["room9"]));
    const { text } = await codec.ok({ op: "encode_session", session: { sid: "s2", pid: "p2", rooms: ["s2", "room1"], data: { n: 8 } } });
    await redisClient.set("sio:session:p2", text, { PX: 60_000 });
    const session = await adapter.restoreSession("p2", offset);
    assert.equal(session.sid, "s2");
    assert.deepEqual(session.rooms, ["s2", "room1"]);
    assert.deepEqual(session.data, { n: 8 });
    assert.equal(session.missedPackets.length, 1);
    const [event, bin, id] = session.missedPackets[0];
    assert.equal(event, "missed");
    assert.deepEqual([...bin], [1, 2]);
    // The next offset Chorus computes is where Node starts its XRANGE.
    assert.equal((await codec.ok({ op: "next_offset", offset })).next, Adapter.nextOffset(offset));
    assert.match(id, /^[0-9]+-[0-9]+$/);
    assert.equal(await redisClient.get("sio:session:p2"), null, "a session is taken once");
  });

  test("Chorus's session offset (where a client with no offset resumes) reads back, and Node's restoreSession ignores it", async () => {
    const offset = await redisClient.xAdd("socket.io", "*", { uid: "c0c0c0c0c0c0c0c0", nsp: "/", type: "2" });
    const session = { sid: "s3", pid: "p3", rooms: ["s3"], data: null, offset };
    const { text } = await codec.ok({ op: "encode_session", session });
    assert.deepEqual((await codec.ok({ op: "decode_session", text })).session, session);
    assert.equal(decode(Buffer.from(text, "base64")).offset, offset, "an extra field of the same msgpack map");
    await redisClient.set("sio:session:p3", text, { PX: 60_000 });
    const restored = await adapter.restoreSession("p3", offset);
    assert.equal(restored.sid, "s3");
    assert.deepEqual(restored.missedPackets, []);
  });

  test("offsets: Chorus's check is the adapter's regex, its next id exact past 2^53", async () => {
    for (const offset of ["0-0", "1796527547537-0", "1-9007199254740990", "007-01"]) {
      assert.equal((await codec.ok({ op: "next_offset", offset })).next, Adapter.nextOffset(offset).replace(/^0+(?=\d)/, ""));
    }
    for (const offset of ["", "1", "1-", "-1", "a-1", "1-1 ", "1-2-3"]) {
      assert.equal(/^[0-9]+-[0-9]+$/.test(offset), false);
      assert.equal((await codec.call({ op: "next_offset", offset })).ok, false, offset);
    }
    assert.equal((await codec.ok({ op: "next_offset", offset: "1-9007199254740993" })).next, "1-9007199254740994");
    assert.notEqual(Adapter.nextOffset("1-9007199254740993"), "1-9007199254740994");
  });
});
