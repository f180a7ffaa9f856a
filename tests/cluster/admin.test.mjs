// The Socket.IO Admin UI across a mixed cluster: a Chorus node (chorus-cluster-app) and a Node
// socket.io 4.8 node under @socket.io/admin-ui 0.5's own instrument, through one redis-server
// (@socket.io/redis-adapter on the Node node). An admin socket made as the UI makes it
// (io(url + "/admin", {auth})) on EITHER node must see both nodes: their sockets in
// all_sockets (with clientId and transport, which the nodes' fetch answers carry in
// data._admin), both nodes' server_stats, the live events of the other node's sockets, and its
// commands must reach the other node's sockets.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { io } from "socket.io-client";
import { client, closeAll, clusterKinds, eventually, startNode, startRedis, uniq } from "./harness.mjs";

// bcrypt hash of "changeit" ($2a$, as bcryptjs writes it: Node's instrument checks with bcryptjs).
const HASH = "$2a$04$Ol9.P2cvUKUqSrxDYbjKL.vDTV8lxEEU.pMFWU.1xQgBza4RGYOri";
const AUTH = { username: "admin", password: "changeit" };

const { skip } = clusterKinds();
const why = skip ?? (process.env.CHORUS_CLUSTER_APP ? null : "no chorus-cluster-app: a mixed cluster needs a Chorus node");

// An admin socket as the UI makes it on `node`; `seen` gathers every event, in order.
async function adminOn(node) {
  const socket = io(node.base + "/admin", { forceNew: true, reconnection: false, withCredentials: true, auth: AUTH });
  socket.seen = [];
  socket.onAny((event, ...args) => socket.seen.push([event, ...args]));
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return socket;
}

// The first `name` event in `ui.seen` whose arguments satisfy `pred` (waits for it).
async function seen(ui, name, pred = () => true, ms = 15_000) {
  let found;
  await eventually(() => {
    found = ui.seen.find(([event, ...args]) => event === name && pred(...args));
    assert.ok(found, `no matching ${name} yet; seen: ${[...new Set(ui.seen.map((e) => e[0]))].join(", ")}; ${name}: ${JSON.stringify(ui.seen.filter((e) => e[0] === name).slice(-3))}`);
  }, ms);
  return found.slice(1);
}

// The engine id's first 12 characters, as the UI shows a client.
const clientIdOf = (peer) => peer.socket.io.engine.id.slice(0, 12);

// Clients log in as a user: the Node node's socket.data then has no null (see node_node.mjs).
const connect = (node, opts = {}) => client(node, { auth: { user: "ann" }, ...opts });

describe("the Admin UI across a Chorus node and a Node node", { concurrency: false, skip: why ?? false }, () => {
  let redis;
  let nodes = [];
  const peers = [];
  before(async () => {
    redis = await startRedis();
    const key = `chorus-test-${uniq("admin")}`;
    for (const [i, kind] of ["chorus", "node"].entries()) {
      nodes.push(await startNode(kind, { redisUrl: redis.url, key, name: `n${i}-${kind}`, adminHash: HASH }));
    }
  });
  after(async () => {
    closeAll(peers);
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  });

  test("all_sockets on either node lists both nodes' sockets, with clientId and transport", async () => {
    const onChorus = await connect(nodes[0], { transport: "websocket" });
    const onNode = await connect(nodes[1], { transport: "polling", nsp: "/chat" });
    peers.push(onChorus, onNode);
    for (const uiNode of nodes) {
      const ui = await adminOn(uiNode);
      try {
        const [sockets] = await seen(ui, "all_sockets");
        const a = sockets.find((s) => s.id === onChorus.id);
        const b = sockets.find((s) => s.id === onNode.id);
        assert.ok(a && b, `${uiNode.nodeName}: ${JSON.stringify(sockets.map((s) => [s.nsp, s.id]))}`);
        assert.deepEqual([a.nsp, a.clientId, a.transport], ["/", clientIdOf(onChorus), "websocket"], `${uiNode.nodeName}: the Chorus node's socket`);
        assert.deepEqual([b.nsp, b.clientId, b.transport], ["/chat", clientIdOf(onNode), "polling"], `${uiNode.nodeName}: the Node node's socket`);
        // data as the UI shows it: the app's fields, never the instrument's "_admin".
        assert.deepEqual(a.data, { node: "n0-chorus", user: "ann" });
        assert.deepEqual(b.data, { node: "n1-node", user: "ann" });
        assert.equal(a.handshake.address.includes("127.0.0.1"), true);
        assert.equal(typeof b.handshake.time, "string");
        // Every node's stats reach every UI, each under its server id.
        for (const serverId of ["n0-chorus", "n1-node"]) {
          const [stats] = await seen(ui, "server_stats", (s) => s.serverId === serverId);
          assert.ok(stats.namespaces.some((n) => n.name === "/"), JSON.stringify(stats));
        }
      } finally {
        ui.close();
      }
    }
  });

  // fn(ui, clientNode, where) with a UI on one node and clients on the other, both ways.
  async function eachWay(fn) {
    for (const [uiAt, clientAt] of [
      [0, 1],
      [1, 0],
    ]) {
      const ui = await adminOn(nodes[uiAt]);
      try {
        await fn(ui, nodes[clientAt], `UI on ${nodes[uiAt].nodeName}, client on ${nodes[clientAt].nodeName}`);
      } finally {
        ui.close();
      }
    }
  }

  test("the live events of either node's sockets reach a UI on the other", async () => {
    await eachWay(async (ui, clientNode, where) => {
        const peer = await connect(clientNode, { transport: "websocket" });
        peers.push(peer);
        const [connected] = await seen(ui, "socket_connected", (s) => s.id === peer.id);
        assert.deepEqual([connected.nsp, connected.clientId, connected.transport], ["/", clientIdOf(peer), "websocket"], where);
        const room = uniq("room");
        await peer.socket.timeout(10_000).emitWithAck("join", room);
        const [, joinedRoom] = await seen(ui, "room_joined", (nsp, r, id) => id === peer.id && r === room);
        assert.equal(joinedRoom, room, where);
        const [, , args] = await seen(ui, "event_received", (nsp, id, a) => id === peer.id && a[0] === "join");
        assert.deepEqual(args, ["join", room], where);
        // socket.data changed by the app: socket_updated with the new data (Chorus:
        // Socket::set_data; Node: the instrument's proxy).
        await peer.socket.timeout(10_000).emitWithAck("set", { color: "teal" });
        const [updated] = await seen(ui, "socket_updated", (u) => u.id === peer.id && u.data?.extra !== undefined);
        assert.deepEqual(updated, { id: peer.id, nsp: "/", data: { node: clientNode.nodeName, user: "ann", extra: { color: "teal" } } }, where);
        const id = peer.id;  // gone from the client once it has closed
        peer.close();
        const [, , reason] = await seen(ui, "socket_disconnected", (nsp, sid) => sid === id);
        assert.equal(reason, "client namespace disconnect", where);
    });
  });

  test("a UI's commands on one node act on the other node's sockets", async () => {
    await eachWay(async (ui, clientNode, where) => {
        const peer = await connect(clientNode, { transport: "websocket" });
        peers.push(peer);
        const other = await connect(clientNode, { transport: "websocket" });
        peers.push(other);
        await seen(ui, "socket_connected", (s) => s.id === other.id);
        // emit(nsp, filter, event, ...args): to that socket only.
        ui.emit("emit", "/", peer.id, "from-admin", 1, "two");
        assert.deepEqual(await peer.next("from-admin", 10_000), [1, "two"], where);
        const [, , sent] = await seen(ui, "event_sent", (nsp, id, a) => id === peer.id && a[0] === "from-admin");
        assert.deepEqual(sent, ["from-admin", 1, "two"], where);
        // join / leave (nsp, room, filter).
        const room = uniq("room");
        ui.emit("join", "/", room, peer.id);
        await seen(ui, "room_joined", (nsp, r, id) => id === peer.id && r === room);
        ui.emit("leave", "/", room, peer.id);
        await seen(ui, "room_left", (nsp, r, id) => id === peer.id && r === room);
        // _disconnect(nsp, close, filter): that socket leaves, the other stays.
        const id = peer.id;
        ui.emit("_disconnect", "/", false, id);
        assert.deepEqual(await peer.next("disconnect", 10_000), ["io server disconnect"], where);
        await seen(ui, "socket_disconnected", (nsp, sid, reason) => sid === id && reason === "server namespace disconnect");
        assert.equal(other.socket.connected, true, where);
        other.close();
    });
  });
});
