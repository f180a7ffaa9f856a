// Differential test of Chorus's cluster codecs against the real JavaScript ones: notepack.io
// (the msgpack of @socket.io/redis-adapter and the emitter) and the messages the adapter
// builds (node_modules/@socket.io/redis-adapter/dist/index.js). Bytes made by notepack decode
// in Chorus to the value notepack reads; bytes made by Chorus decode in notepack to the value
// Chorus encoded, and are notepack's own bytes wherever notepack is right.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import notepack from "notepack.io";
import { Codec, asChorus, asNode, b64, hex } from "./harness.mjs";

let codec;
before(() => {
  codec = new Codec();
});
after(() => codec.close());

const pow2 = (n) => 2 ** n;
const INTEGERS = [
  0, 1, 31, 32, 127, 128, 255, 256, 32767, 32768, 65535, 65536, pow2(31) - 1, pow2(31), pow2(32) - 1, pow2(32),
  pow2(53) - 1, pow2(53), pow2(63), 18446744073709549568, -1, -31, -32, -33, -127, -128, -129, -32767, -32768,
  -32769, -pow2(31), -pow2(31) - 1, -pow2(32), -pow2(53), -pow2(63),
];
// Not integers past 2^64 (1e300, Number.MAX_VALUE): notepack writes them as a wrong uint 64
// (see "integers past 2^64" below).
const FLOATS = [1.5, -0.1, 0.1, -1e-300, 5e-324, 2 ** 52 + 0.5, 123456.789, -0];
const text = (n, unit = "x") => unit.repeat(n);
const STRINGS = [
  "", "a", text(31), text(32), text(255), text(256), text(65535), text(65536), "h\u00e9llo", "\u20ac", "\ud83d\ude00",
  text(40, "\u00e9"), "with\u0000nul", "emoji \ud83c\udf89 and \u4e2d\u6587",
];
const buffer = (n, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255));
const BUFFERS = [buffer(0), buffer(1), buffer(255), buffer(256), buffer(65535), buffer(65536)];
const DATES = [
  new Date(0), new Date(-1), new Date(1796527520481), new Date(1796527520000), new Date(Date.UTC(10000, 0, 1)),
  new Date(-62198755200000), new Date(4294967295000), new Date(4294967296000), new Date(8.64e15), new Date(-8.64e15),
];
const objectOf = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
const CONTAINERS = [
  [], [1, "two", null, true, false], Array.from({ length: 15 }, (_, i) => i), Array.from({ length: 16 }, (_, i) => i),
  Array.from({ length: 65536 }, (_, i) => i & 1), {}, objectOf(15), objectOf(16), objectOf(70000),
  { nested: { a: [1, { b: [Buffer.from([1, 2]), "c"] }] }, "": "empty key", "1": "numeric-looking key" },
  [undefined, 1], { gone: undefined, kept: 1 }, new Uint8Array([5, 6]), new Uint8Array([1, 2, 3, 4]).buffer,
  { date: new Date(1000) },
];

const hasDate = (v) =>
  v instanceof Date || (v !== null && typeof v === "object" && !ArrayBuffer.isView(v) && Object.values(v).some(hasDate));

describe("notepack.io -> Chorus", () => {
  for (const [name, values] of Object.entries({ INTEGERS, FLOATS, STRINGS, BUFFERS, DATES, CONTAINERS })) {
    test(`${name}: notepack's bytes decode to what notepack reads, and encode back to the same bytes`, async () => {
      for (const value of values) {
        const bytes = notepack.encode(value);
        const expected = asChorus(notepack.decode(bytes));
        const label = `${JSON.stringify(value)?.slice(0, 80)} (${hex(bytes).slice(0, 40)})`;
        const decoded = await codec.ok({ op: "decode", hex: hex(bytes) });
        assert.deepEqual(decoded.value, expected, label);
        // A Date is a string to Chorus, which it encodes as str: no byte equality there.
        if (!hasDate(value)) {
          const encoded = await codec.ok({ op: "encode", value: expected });
          assert.equal(encoded.hex, hex(bytes), label);
        }
      }
    });
  }
});

// A deterministic generator of nested values (mulberry32).
function generator(seed) {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = (items) => items[Math.floor(rand() * items.length)];
  const chars = ["a", "Z", "0", " ", "\u00e9", "\u20ac", "\ud83d\ude00", "\u0000", "\n", "\u4e2d"];
  const scalar = () => {
    switch (Math.floor(rand() * 7)) {
      case 0:
        return pick(INTEGERS);
      case 1:
        return Math.floor((rand() - 0.5) * 2 ** Math.floor(rand() * 60));
      case 2:
        return (rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20);
      case 3:
        return Array.from({ length: Math.floor(rand() * 40) }, () => pick(chars)).join("");
      case 4:
        return { $binary: b64(buffer(Math.floor(rand() * 300), Math.floor(rand() * 256))) };
      case 5:
        return pick([null, true, false]);
      default:
        return pick(STRINGS.slice(0, 6));
    }
  };
  const value = (depth) => {
    if (depth > 5 || rand() < 0.4) return scalar();
    const n = Math.floor(rand() * (rand() < 0.1 ? 40 : 6));
    if (rand() < 0.5) return Array.from({ length: n }, () => value(depth + 1));
    const out = {};
    for (let i = 0; i < n; i++) out[Array.from({ length: Math.floor(rand() * 8) }, () => pick(chars)).join("")] = value(depth + 1);
    return out;
  };
  return () => value(0);
}

describe("Chorus -> notepack.io", () => {
  test("400 generated values: Chorus's bytes are notepack's, and notepack decodes them to the same value", async () => {
    const next = generator(20261206);
    for (let i = 0; i < 400; i++) {
      const value = next();
      const label = `value ${i}: ${JSON.stringify(value).slice(0, 120)}`;
      const { hex: chorusHex } = await codec.ok({ op: "encode", value });
      const node = asNode(value);
      assert.equal(chorusHex, hex(notepack.encode(node)), label);
      assert.deepEqual(asChorus(notepack.decode(Buffer.from(chorusHex, "hex"))), asChorus(node), label);
      // And back through Chorus.
      assert.deepEqual((await codec.ok({ op: "decode", hex: chorusHex })).value, asChorus(node), label);
    }
  });

  test("Binary arrives in Node as a Buffer, strings as strings (never bin)", async () => {
    const { hex: h } = await codec.ok({ op: "encode", value: ["text", { $binary: b64([0, 1, 255]) }, { k: "v" }] });
    const back = notepack.decode(Buffer.from(h, "hex"));
    assert.equal(typeof back[0], "string");
    assert.ok(Buffer.isBuffer(back[1]));
    assert.deepEqual([...back[1]], [0, 1, 255]);
    assert.deepEqual(back[2], { k: "v" });
  });

  test("integers past 2^64 go as float64, which notepack reads right (its own encoder would not)", async () => {
    for (const n of [2 ** 64, 1e20, -(2 ** 64), 1e300]) {
      const { hex: h } = await codec.ok({ op: "encode", value: n });
      assert.equal(h.slice(0, 2), "cb");
      assert.equal(notepack.decode(Buffer.from(h, "hex")), n);
    }
  });
});

// Hand-made bytes: forms notepack reads but never writes, and broken input.
describe("hand-made bytes", () => {
  // Where notepack reads a value Chorus reads the same one.
  const SAME = {
    float32: "ca3fc00000",
    float32_infinity: "ca7f800000",
    nonminimal_uint8: "cc05",
    nonminimal_int64: "d3ffffffffffffffff",
    uint64_max: "cfffffffffffffffff",
    uint64_rounding: "cf0020000000000001",
    timestamp32: "d6ff5b9e2d80",
    timestamp64_ns: "d7ff72ade9006b14d5a0",
    timestamp64_big_ns: "d7ffffffffff00000001",
    timestamp96_negative: "c70cff3b8b87c0ffffffffffffffff",
    timestamp96_invalid_date: "c70cff000000007fffffffffffffff",
    legacy_undefined: "92d4000001",
    legacy_undefined_in_map: "82a161d40000a16202",
    legacy_date: "d700000001a249627ae1",
    legacy_date_negative: "d700ffffffffffffffff",
    legacy_arraybuffer8: "c70300010203",
    legacy_arraybuffer8_empty: "c70000",
    legacy_arraybuffer16: "c800020001ff",
    legacy_arraybuffer32: "c9000000010007",
    numeric_map_keys: "8401a161fea162cb3ff8000000000000a163cf0020000000000000a164",
    duplicate_keys: "83a16101a16202a16103",
    nan_key: "81cb7ff8000000000000c0",
    str8_short: "d903616263",
  };
  for (const [name, h] of Object.entries(SAME)) {
    test(`${name}: ${h}`, async () => {
      const expected = asChorus(notepack.decode(Buffer.from(h, "hex")));
      const r = await codec.call({ op: "decode", hex: h });
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.value, expected);
    });
  }

  // Where notepack throws, Chorus refuses.
  const BOTH_REFUSE = {
    empty: "",
    reserved_c1: "c1",
    trailing: "c0c0",
    truncated_array: "92c0",
    truncated_str: "a5616263",
    truncated_uint16: "cd01",
    truncated_map: "82a161",
    truncated_bin: "c40501",
    huge_array_header: "ddffffffff",
  };
  for (const [name, h] of Object.entries(BOTH_REFUSE)) {
    test(`${name}: notepack throws and Chorus refuses`, async () => {
      assert.throws(() => notepack.decode(Buffer.from(h, "hex")));
      const r = await codec.call({ op: "decode", hex: h });
      assert.equal(r.ok, false, JSON.stringify(r));
      assert.equal(r.code, "invalid packet", JSON.stringify(r));
    });
  }

  // Where notepack reads something Chorus deliberately refuses: bad UTF-8 (notepack puts
  // U+FFFD in), other ext types (notepack returns [type, Buffer]) and map keys that are not
  // strings or numbers (JS turns them into "null", "true", ...).
  const CHORUS_REFUSES = {
    invalid_utf8: ["a1ff", "invalid UTF-8"],
    overlong_utf8: ["a2c080", "invalid UTF-8"],
    unknown_ext: ["d40500", "invalid packet"],
    ext_type_0_fixext2: ["d5000000", "invalid packet"],
    nil_key: ["81c0c0", "invalid packet"],
    bool_key: ["81c3c0", "invalid packet"],
  };
  for (const [name, [h, code]] of Object.entries(CHORUS_REFUSES)) {
    test(`${name}: notepack reads it, Chorus refuses it (${code})`, async () => {
      notepack.decode(Buffer.from(h, "hex"));
      const r = await codec.call({ op: "decode", hex: h });
      assert.equal(r.ok, false, JSON.stringify(r));
      assert.equal(r.code, code);
    });
  }

  test("nesting: 128 levels decode, 129 are refused", async () => {
    const nested = (n) => "91".repeat(n - 1) + "90";
    assert.ok((await codec.call({ op: "decode", hex: nested(128) })).ok);
    const past = await codec.call({ op: "decode", hex: nested(129) });
    assert.equal(past.ok, false);
    assert.equal(past.code, "limit exceeded");
  });
});

// ---------------------------------------------------------------------------------------
// The adapter's messages.

// What RedisAdapter.broadcast() publishes (dist/index.js): [uid, packet, rawOpts] with
// packet {type, data, nsp} and rawOpts {rooms, except, flags}.
const nodeBroadcast = (uid, nsp, data, rooms, except, flags) => [
  uid,
  { type: 2, data, nsp },
  { rooms, except, flags },
];

const BROADCASTS = [
  ["1SVNfH", "/", ["hello", "world", Buffer.from([1, 2, 3])], ["room1"], [], {}],
  ["1SVNfH", "/", ["plain", { a: 1 }], [], ["room2"], { volatile: true }],
  ["chorus", "/chat", ["bin", Buffer.alloc(300, 7), { nested: [Buffer.from([9])] }], ["a", "b"], ["c"], { compress: false }],
  ["chorus", "/", ["ask", 42], [], [], { timeout: 2000 }],
  // RemoteSocket.timeout(5000).emit(): the operator starts with expectSingleResponse.
  ["chorus", "/", ["one"], ["sid123"], [], { expectSingleResponse: true, timeout: 5000 }],
  ["chorus", "/", ["all", 1, 1.5, null, true, "\u00e9"], [], [], { volatile: true, compress: true }],
];

const toolFlags = (flags) => ({
  volatile: !!flags.volatile,
  ...(flags.compress !== undefined ? { compress: flags.compress } : {}),
  ...(flags.timeout !== undefined ? { timeout: flags.timeout } : {}),
  expectSingleResponse: !!flags.expectSingleResponse,
});

describe("broadcasts", () => {
  test("notepack decodes Chorus's broadcasts into [uid, {type, data, nsp}, {rooms, except, flags}] exactly as the adapter writes them", async () => {
    for (const [uid, nsp, data, rooms, except, flags] of BROADCASTS) {
      const { hex: h } = await codec.ok({
        op: "encode_broadcast",
        broadcast: { uid, nsp, type: 2, data: asChorus(data), rooms, except, flags: toolFlags(flags) },
      });
      const node = nodeBroadcast(uid, nsp, data, rooms, except, flags);
      assert.deepEqual(notepack.decode(Buffer.from(h, "hex")), node);
      assert.equal(h, hex(notepack.encode(node)), `${uid} ${JSON.stringify(data).slice(0, 60)}`);
    }
  });

  test("Chorus decodes the adapter's and the emitter's broadcasts", async () => {
    for (const [uid, nsp, data, rooms, except, flags] of BROADCASTS) {
      for (const bytes of [
        notepack.encode(nodeBroadcast(uid, nsp, data, rooms, except, flags)),
        // @socket.io/redis-emitter: {rooms, flags, except}, uid "emitter".
        notepack.encode(["emitter", { type: 2, data, nsp }, { rooms, flags, except }]),
      ]) {
        const { broadcast } = await codec.ok({ op: "decode_broadcast", hex: hex(bytes) });
        assert.equal(broadcast.nsp, nsp);
        assert.equal(broadcast.type, 2);
        assert.deepEqual(broadcast.data, asChorus(data));
        assert.deepEqual(broadcast.rooms, rooms);
        assert.deepEqual(broadcast.except, except);
        assert.deepEqual(broadcast.flags, toolFlags(flags));
      }
    }
    // Numeric rooms (JS apps use them) become strings; a missing nsp is "/".
    const bytes = notepack.encode(["x", { type: 2, data: ["e"] }, { rooms: [42, 1.5], except: [-7], flags: {} }]);
    const { broadcast } = await codec.ok({ op: "decode_broadcast", hex: hex(bytes) });
    assert.deepEqual(broadcast.rooms, ["42", "1.5"]);
    assert.deepEqual(broadcast.except, ["-7"]);
    assert.equal(broadcast.nsp, "/");
  });
});

// The requests and responses exactly as dist/index.js builds them (JSON.stringify of these
// objects, notepack for 7 and 9), and the tool's form of the same message.
const opts = { rooms: ["room1"], except: ["x"] };
const toolOpts = (o, flags = {}) => ({ rooms: o.rooms, except: o.except, flags: toolFlags(flags) });
const REQUESTS = [
  [{ uid: "u1", requestId: "r0", type: 0, rooms: ["a"] }, { rooms: ["a"] }],
  [{ uid: "u1", requestId: "r1", type: 1 }, {}],
  [{ uid: "u1", type: 2, opts, rooms: ["room2"] }, { opts: toolOpts(opts), rooms: ["room2"] }],
  [{ uid: "u1", type: 3, opts, rooms: ["room2", "room3"] }, { opts: toolOpts(opts), rooms: ["room2", "room3"] }],
  [{ uid: "u1", type: 4, opts, close: true }, { opts: toolOpts(opts), close: true }],
  [{ uid: "u1", type: 4, opts, close: false }, { opts: toolOpts(opts), close: false }],
  [{ uid: "u1", requestId: "r5", type: 5, opts }, { opts: toolOpts(opts) }],
  [{ uid: "u1", requestId: "r6", type: 6, data: ["hello-servers", 1, "x"] }, { data: ["hello-servers", 1, "x"] }],
  [{ uid: "u1", type: 6, data: ["no-ack", { a: [1] }] }, { data: ["no-ack", { a: [1] }] }],
  // The emitter's forms: no uid.
  [{ type: 2, opts: { rooms: ["room1"], except: [] }, rooms: ["room3"] }, { opts: toolOpts({ rooms: ["room1"], except: [] }), rooms: ["room3"] }],
  [{ type: 4, opts: { rooms: [], except: [] }, close: true }, { opts: toolOpts({ rooms: [], except: [] }), close: true }],
  [{ uid: "emitter", type: 6, data: ["ping-servers", 5] }, { data: ["ping-servers", 5] }],
];

describe("requests", () => {
  test("every request type: Chorus writes the adapter's bytes and reads them back", async () => {
    for (const [node, fields] of REQUESTS) {
      const request = { type: node.type, uid: node.uid ?? "", requestId: node.requestId ?? "", ...fields };
      const { hex: h } = await codec.ok({ op: "encode_request", request });
      assert.equal(Buffer.from(h, "hex").toString(), JSON.stringify(node));
      const { request: back } = await codec.ok({ op: "decode_request", hex: hex(Buffer.from(JSON.stringify(node))) });
      assert.equal(back.type, node.type);
      assert.equal(back.uid, node.uid ?? "");
      assert.equal(back.requestId, node.requestId ?? "");
      if (fields.rooms) assert.deepEqual(back.rooms, fields.rooms);
      if (fields.opts) assert.deepEqual(back.opts, fields.opts);
      if (fields.data) assert.deepEqual(back.data, fields.data);
      assert.equal(back.close, fields.close ?? false);
    }
  });

  test("broadcast with acks (7) is notepack's map, both ways", async () => {
    const node = {
      uid: "1SVNfH",
      requestId: "PIQXls",
      type: 7,
      packet: { type: 2, data: ["ask", 42, Buffer.from([1])], nsp: "/" },
      opts: { rooms: [], except: [], flags: { timeout: 2000 } },
    };
    const bytes = notepack.encode(node);
    const { request } = await codec.ok({ op: "decode_request", hex: hex(bytes) });
    assert.equal(request.type, 7);
    assert.deepEqual(request.packet, { data: ["ask", 42, { $binary: "AQ==" }], nsp: "/" });
    assert.equal(request.opts.flags.timeout, 2000);
    const { hex: h } = await codec.ok({ op: "encode_request", request });
    assert.equal(h, hex(bytes));
    assert.deepEqual(notepack.decode(Buffer.from(h, "hex")), node);
  });

  test("a Buffer in serverSideEmit's JSON is written as JSON.stringify writes it", async () => {
    const data = ["bin", Buffer.from([1, 2])];
    const { hex: h } = await codec.ok({
      op: "encode_request",
      request: { type: 6, uid: "u", requestId: "", data: asChorus(data) },
    });
    assert.equal(Buffer.from(h, "hex").toString(), JSON.stringify({ uid: "u", type: 6, data }));
  });
});

const HANDSHAKE = {
  headers: { host: "127.0.0.1" },
  time: "Sun Dec 06 2026 10:12:41 GMT+0000 (Coordinated Universal Time)",
  address: "::ffff:127.0.0.1",
  xdomain: false,
  secure: false,
  issued: 1796527520481,
  url: "/socket.io/?EIO=4&transport=websocket",
  query: { EIO: "4" },
  auth: { token: "t0k" },
};
const RESPONSES = [
  [{ requestId: "r0", sockets: ["id1", "id2"] }, { type: 0, sockets: ["id1", "id2"] }],
  [{ requestId: "r1", rooms: ["a", "b"] }, { type: 1, rooms: ["a", "b"] }],
  [
    { requestId: "r5", sockets: [{ id: "s1", handshake: HANDSHAKE, rooms: ["s1", "room1"], data: { user: "B" } }] },
    { type: 5, sockets: [{ id: "s1", handshake: HANDSHAKE, rooms: ["s1", "room1"], data: { user: "B" } }] },
  ],
  [{ requestId: "r5", sockets: [] }, { type: 5, sockets: [] }],
  [{ type: 6, requestId: "r6", data: "B-reply" }, { type: 6, data: "B-reply" }],
  [{ type: 6, requestId: "r6", data: { a: [1, null] } }, { type: 6, data: { a: [1, null] } }],
  [{ type: 8, requestId: "r7", clientCount: 0 }, { type: 8, clientCount: 0 }],
  [{ type: 8, requestId: "r7", clientCount: 3 }, { type: 8, clientCount: 3 }],
];

describe("responses", () => {
  test("every response: Chorus writes the adapter's bytes and reads them back", async () => {
    for (const [node, fields] of RESPONSES) {
      const { hex: h } = await codec.ok({ op: "encode_response", response: { requestId: node.requestId, ...fields } });
      assert.equal(Buffer.from(h, "hex").toString(), JSON.stringify(node));
      const { response } = await codec.ok({ op: "decode_response", hex: hex(Buffer.from(JSON.stringify(node))) });
      assert.equal(response.type, fields.type);
      assert.equal(response.requestId, node.requestId);
      if (fields.sockets) assert.deepEqual(response.sockets, fields.sockets);
      if (fields.rooms) assert.deepEqual(response.rooms, fields.rooms);
      if (fields.data !== undefined) assert.deepEqual(response.data, fields.data);
      assert.equal(response.clientCount, fields.clientCount ?? 0);
    }
  });

  test("a client's ack (9) is notepack's map, binary included", async () => {
    for (const packet of ["answer-42", Buffer.from([4, 5]), { a: [Buffer.from([6])] }, null]) {
      const node = { type: 9, requestId: "PIQXls", packet };
      const { hex: h } = await codec.ok({
        op: "encode_response",
        response: { type: 9, requestId: "PIQXls", packet: asChorus(packet) },
      });
      assert.equal(h, hex(notepack.encode(node)));
      const { response } = await codec.ok({ op: "decode_response", hex: hex(notepack.encode(node)) });
      assert.equal(response.type, 9);
      assert.deepEqual(response.packet, asChorus(packet));
    }
  });
});
