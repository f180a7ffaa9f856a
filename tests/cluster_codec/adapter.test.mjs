// The cluster codecs against the real adapter: a redis-server on 127.0.0.1 at a free port, one
// Node socket.io 4.8 node with @socket.io/redis-adapter 8.3 and a socket.io-client connected
// to it, and a "Chorus peer" made of plain Redis connections whose every message is encoded
// and decoded by chorus_cluster_codec. The adapter's own code accepts what Chorus writes
// (broadcasts reach the client, replies resolve fetchSockets/allRooms/serverSideEmitWithAck/
// emitWithAck) and Chorus reads what the adapter writes.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";
import { io as connect } from "socket.io-client";
import { Queue, withTimeout } from "../common/util.mjs";
import { Codec, asChorus, hex, startRedis } from "./harness.mjs";

const REQUESTS = "socket.io-request#/#";
const RESPONSES = "socket.io-response#/#";

let codec, redis, http, io, pubClient, subClient, peerPub, peerSub, client, port;
const responses = new Queue(); // Node's replies on the response channel, as raw Buffers
const requests = new Queue(); // requests on the request channel (Node's own included)
const broadcasts = new Queue(); // {channel, message} on socket.io#/#*
const clientEvents = new Queue();

before(async () => {
  codec = new Codec();
  redis = await startRedis();
  pubClient = createClient({ url: redis.url });
  subClient = pubClient.duplicate();
  peerPub = pubClient.duplicate();
  peerSub = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect(), peerPub.connect(), peerSub.connect()]);

  // The Chorus peer subscribes as a node does: it is counted by PUBSUB NUMSUB, so the Node
  // node waits for its replies.
  await peerSub.subscribe(RESPONSES, (message) => responses.push(message), true);
  await peerSub.subscribe(REQUESTS, (message) => requests.push(message), true);
  await peerSub.pSubscribe("socket.io#/#*", (message, channel) => broadcasts.push({ channel: String(channel), message }), true);

  http = createServer();
  io = new Server(http, { adapter: createAdapter(pubClient, subClient) });
  io.on("connection", (socket) => {
    socket.join("room1");
    socket.data = { user: "node-user" };
  });
  io.on("hello-servers", (n, ack) => ack?.(`node-reply-${n}`));
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  port = http.address().port;

  client = connect(`http://127.0.0.1:${port}`, { transports: ["websocket"], auth: { token: "t0k" } });
  client.onAny((event, ...args) => {
    const ack = typeof args.at(-1) === "function" ? args.pop() : null;
    clientEvents.push({ event, args });
    if (ack) ack(`client-answer-${args[0]}`);
  });
  await withTimeout(new Promise((resolve) => client.once("connect", resolve)), 10_000, "the client to connect");
  // Joined once the server's connection handler ran.
  await withTimeout(
    (async () => {
      while (!io.of("/").adapter.rooms.get("room1")?.has(client.id)) await new Promise((r) => setTimeout(r, 20));
    })(),
    10_000,
    "the client to join room1",
  );
});

after(async () => {
  client?.close();
  io?.close();
  await Promise.allSettled([pubClient, subClient, peerPub, peerSub].map((c) => c?.quit()));
  redis?.proc.kill("SIGTERM");
  await codec?.close();
});

const decodeResponse = async (message) => (await codec.ok({ op: "decode_response", hex: hex(message) })).response;
const decodeRequest = async (message) => codec.call({ op: "decode_request", hex: hex(message) });

// The next reply to `requestId` on the response channel, decoded by Chorus.
async function replyTo(requestId) {
  for (;;) {
    const response = await decodeResponse(await responses.shift(10_000, `a reply to ${requestId}`));
    if (response.requestId === requestId) return response;
  }
}

// The next request of `type` from the Node node, decoded by Chorus.
async function nodeRequest(type) {
  for (;;) {
    const r = await decodeRequest(await requests.shift(10_000, `a request of type ${type}`));
    assert.ok(r.ok, JSON.stringify(r));
    if (r.request.type === type && r.request.uid !== "chorus1") return r.request;
  }
}

async function publishRequest(request) {
  const { hex: h } = await codec.ok({ op: "encode_request", request: { uid: "chorus1", ...request } });
  await peerPub.publish(REQUESTS, Buffer.from(h, "hex"));
}

async function publishResponse(response) {
  const { hex: h } = await codec.ok({ op: "encode_response", response });
  await peerPub.publish(RESPONSES, Buffer.from(h, "hex"));
}

describe("Chorus -> the Node adapter", () => {
  test("a Chorus broadcast reaches the Node node's client: room channel, binary argument, except", async () => {
    const broadcast = async (channel, fields) => {
      const { hex: h } = await codec.ok({
        op: "encode_broadcast",
        broadcast: { uid: "chorus1", nsp: "/", type: 2, rooms: [], except: [], flags: { volatile: false }, ...fields },
      });
      await peerPub.publish(channel, Buffer.from(h, "hex"));
    };
    await broadcast("socket.io#/#room1#", { data: ["hello", "world", { $binary: "AQID" }], rooms: ["room1"] });
    let got = await clientEvents.shift(10_000, "the room broadcast");
    assert.equal(got.event, "hello");
    assert.equal(got.args[0], "world");
    assert.deepEqual([...got.args[1]], [1, 2, 3]);
    // Excluded, then one that is not: the client's next event is the second.
    await broadcast("socket.io#/#", { data: ["excluded"], except: [client.id] });
    await broadcast("socket.io#/#", { data: ["included", 7], except: ["someone-else"] });
    got = await clientEvents.shift(10_000, "the second broadcast");
    assert.deepEqual(got, { event: "included", args: [7] });
  });

  test("Node answers Chorus's requests, and Chorus reads the replies", async () => {
    await publishRequest({ type: 5, requestId: "c-fetch", opts: { rooms: ["room1"], except: [] } });
    const fetched = await replyTo("c-fetch");
    assert.equal(fetched.type, 5);
    assert.equal(fetched.sockets.length, 1);
    const [remote] = fetched.sockets;
    assert.equal(remote.id, client.id);
    assert.deepEqual(remote.rooms.sort(), [client.id, "room1"].sort());
    assert.deepEqual(remote.data, { user: "node-user" });
    assert.deepEqual(remote.handshake.auth, { token: "t0k" });
    assert.equal(typeof remote.handshake.issued, "number");

    await publishRequest({ type: 1, requestId: "c-rooms" });
    const rooms = await replyTo("c-rooms");
    assert.equal(rooms.type, 1);
    assert.ok(rooms.rooms.includes("room1"), JSON.stringify(rooms));

    await publishRequest({ type: 6, requestId: "c-emit", data: ["hello-servers", 5] });
    const emitted = await replyTo("c-emit");
    assert.deepEqual([emitted.type, emitted.data], [6, "node-reply-5"]);

    await publishRequest({
      type: 7,
      requestId: "c-ack",
      packet: { data: ["ask", 42], nsp: "/" },
      opts: { rooms: ["room1"], except: [], flags: { timeout: 5000 } },
    });
    const count = await replyTo("c-ack");
    assert.deepEqual([count.type, count.clientCount], [8, 1]);
    const ack = await replyTo("c-ack");
    assert.deepEqual([ack.type, ack.packet], [9, "client-answer-42"]);
    assert.deepEqual(await clientEvents.shift(10_000, "the broadcast with ack"), { event: "ask", args: [42] });

    await publishRequest({ type: 2, opts: { rooms: [client.id], except: [] }, rooms: ["joined-by-chorus", "7"] });
    await publishRequest({ type: 1, requestId: "c-rooms-2" }); // ordered after the join
    const after = await replyTo("c-rooms-2");
    assert.ok(after.rooms.includes("joined-by-chorus") && after.rooms.includes("7"), JSON.stringify(after.rooms));
  });
});

// The next broadcast of the Node node (the peer sees its own too), decoded by Chorus.
async function nodeBroadcast() {
  for (;;) {
    const { channel, message } = await broadcasts.shift(10_000, "a broadcast from the Node node");
    const { broadcast } = await codec.ok({ op: "decode_broadcast", hex: hex(message) });
    if (broadcast.uid !== "chorus1") return { channel, broadcast };
  }
}

describe("the Node adapter -> Chorus", () => {
  test("Node's broadcasts decode in Chorus", async () => {
    io.to("room1").emit("news", "hi", Buffer.from([9]));
    let { channel, broadcast } = await nodeBroadcast();
    assert.equal(channel, "socket.io#/#room1#");
    assert.equal(broadcast.uid, io.of("/").adapter.uid);
    assert.deepEqual(broadcast.data, ["news", "hi", { $binary: "CQ==" }]);
    assert.deepEqual(broadcast.rooms, ["room1"]);
    io.except("room2").volatile.compress(false).emit("plain", { a: 1 });
    ({ channel, broadcast } = await nodeBroadcast());
    assert.equal(channel, "socket.io#/#");
    assert.deepEqual(broadcast.except, ["room2"]);
    assert.deepEqual(broadcast.flags, { volatile: true, compress: false, expectSingleResponse: false });
    assert.equal((await clientEvents.shift(10_000, "news on the client")).event, "news");
    assert.equal((await clientEvents.shift(10_000, "plain on the client")).event, "plain");
  });

  test("fetchSockets, allRooms, serverSideEmitWithAck and emitWithAck resolve with Chorus's replies", async () => {
    const handshake = {
      headers: { host: "chorus" },
      time: new Date(0).toString(),
      address: "127.0.0.1",
      xdomain: false,
      secure: false,
      issued: 0,
      url: "/socket.io/?EIO=4&transport=websocket",
      query: {},
      auth: {},
    };
    const fetching = io.fetchSockets();
    let request = await nodeRequest(5);
    await publishResponse({
      type: 5,
      requestId: request.requestId,
      sockets: [{ id: "chorus-socket", handshake, rooms: ["chorus-socket", "chorus-room"], data: { n: 1 } }],
    });
    const sockets = await withTimeout(fetching, 10_000, "fetchSockets");
    const remote = sockets.find((s) => s.id === "chorus-socket");
    assert.ok(remote, JSON.stringify(sockets.map((s) => s.id)));
    assert.deepEqual([...remote.rooms], ["chorus-socket", "chorus-room"]);
    assert.deepEqual(remote.data, { n: 1 });
    assert.deepEqual(remote.handshake, handshake);
    assert.ok(sockets.some((s) => s.id === client.id));

    const listing = io.of("/").adapter.allRooms();
    request = await nodeRequest(1);
    await publishResponse({ type: 1, requestId: request.requestId, rooms: ["chorus-room"] });
    const all = await withTimeout(listing, 10_000, "allRooms");
    assert.ok(all.has("chorus-room") && all.has("room1"), JSON.stringify([...all]));

    const emitting = io.serverSideEmitWithAck("to-chorus", 3);
    request = await nodeRequest(6);
    assert.deepEqual(request.data, ["to-chorus", 3]);
    await publishResponse({ type: 6, requestId: request.requestId, data: { pong: [3] } });
    assert.deepEqual(await withTimeout(emitting, 10_000, "serverSideEmitWithAck"), [{ pong: [3] }]);

    const asking = io.timeout(5000).emitWithAck("quiz", 6);
    request = await nodeRequest(7);
    assert.deepEqual(request.packet, { data: ["quiz", 6], nsp: "/" });
    assert.equal(request.opts.flags.timeout, 5000);
    await publishResponse({ type: 8, requestId: request.requestId, clientCount: 2 });
    await publishResponse({ type: 9, requestId: request.requestId, packet: "chorus-answer-1" });
    await publishResponse({ type: 9, requestId: request.requestId, packet: { $binary: "AAE=" } });
    const answers = await withTimeout(asking, 10_000, "emitWithAck");
    assert.deepEqual(asChorus(answers).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [
      "chorus-answer-1",
      "client-answer-6",
      { $binary: "AAE=" },
    ]);
    assert.deepEqual(await clientEvents.shift(10_000, "the quiz"), { event: "quiz", args: [6] });
  });

  test("a client count of 0 from Chorus lets emitWithAck finish", async () => {
    const asking = io.timeout(5000).to("nobody-here").emitWithAck("quiz", 0);
    const request = await nodeRequest(7);
    await publishResponse({ type: 8, requestId: request.requestId, clientCount: 0 });
    assert.deepEqual(await withTimeout(asking, 10_000, "emitWithAck to an empty room"), []);
  });
});
