// Several nodes through one redis-server: Node socket.io nodes (@socket.io/redis-adapter) and
// Chorus nodes in one cluster, driven through the control API (see node_node.mjs) and seen by
// the official socket.io-client over WebSocket and long-polling. env CHORUS_CLUSTER_KINDS picks
// the nodes (harness.mjs); every check runs from every node.
//
// env CHORUS_CLUSTER_ADAPTER=streams runs the same checks on a cluster of streams-adapter nodes
// (@socket.io/redis-streams-adapter on the Node nodes, --redis-adapter streams on the Chorus
// ones), except the two that only the classic adapter has: the redis-emitter (it publishes on the
// classic adapter's channels) and allRooms across nodes (the streams adapter has no such
// request).
//
// Absence is checked behind a fence: a broadcast from the same origin, sent after the one that
// must not arrive, travels the same path (one publisher connection, one subscriber connection),
// so once the fence has arrived anything earlier from that origin has too.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import notepack from "notepack.io";
import {
  assertHandshake,
  client,
  closeAll,
  clusterAdapter,
  clusterKinds,
  countedChannels,
  ctl,
  emitter,
  eventually,
  join,
  normalize,
  startCluster,
  uniq,
  waitFor,
} from "./harness.mjs";

const { kinds, note, skip } = clusterKinds();
const adapter = clusterAdapter();
const STREAM = "socket.io"; // the streams adapter's default stream name
// Tests only the classic adapter has, skipped (with the reason) on a streams cluster.
const classicOnly = (why) => (adapter === "classic" ? false : why);
const EMITTER_ONLY_CLASSIC = "@socket.io/redis-emitter publishes on the classic adapter's channels; a streams cluster reads a Redis stream";
const ALL_ROOMS_ONLY_CLASSIC = "the streams adapter has no all-rooms request: allRooms() is not cluster-wide";
const WAIT = 15_000; // for anything that crosses Redis on a busy machine
const BIN = Buffer.from([0, 1, 2, 0xfe, 0xff]);

// Transports alternate over the clients a test creates, so both are always in play.
const transportOf = (i) => (i % 2 === 0 ? "websocket" : "polling");
const sortedIds = (peers) => peers.map((p) => p.id).sort();
const byJson = (a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
const queued = (peer, event) => peer.queues.get(event)?.length ?? 0;

describe(`cluster of ${kinds.join(", ")} (${adapter} adapter)`, { skip: skip ?? false }, () => {
  let cluster;
  let nodes;
  let key;

  before(async () => {
    cluster = await startCluster(kinds, { adapter });
    nodes = cluster.nodes;
    key = cluster.key;
  });
  after(async () => {
    await cluster?.stop();
  });

  // Clients made by a test, closed when it ends.
  function peers(t) {
    const list = [];
    t.after(() => closeAll(list));
    return {
      list,
      async add(node, opts = {}) {
        const p = await client(node, { timeoutMs: WAIT, ...opts });
        list.push(p);
        return p;
      },
    };
  }

  // Broadcasts a fence from `origin` on `nsp` and waits until every peer has it.
  async function fence(origin, list, nsp = "/") {
    const event = uniq("fence");
    await ctl(origin, "emit", { nsp, event, args: [] });
    await Promise.all(list.map((p) => p.next(event, WAIT)));
  }

  function assertNone(list, event, why) {
    for (const p of list) assert.equal(queued(p, event), 0, `${p.node.name} ${p.transport} ${p.id}: unexpected "${event}" (${why})`);
  }

  async function fetchIds(node, body) {
    return (await ctl(node, "fetch", body)).sockets.map((s) => s.id).sort();
  }

  test("every node is counted exactly once by PUBSUB NUMSUB", async (t) => {
    if (note) t.diagnostic(note);
    t.diagnostic(`nodes: ${nodes.map((n) => `${n.nodeName} ${n.base}`).join(", ")}; key ${key}`);
    const channels = countedChannels(key, adapter);
    const counts = await cluster.redis.numsub(...channels);
    for (const c of channels) assert.equal(counts[c], nodes.length, `subscribers of ${c}`);
  });

  test("broadcasts from each node reach clients on every node (websocket and polling, JSON and binary)", async (t) => {
    const ps = peers(t);
    for (const node of nodes) {
      await ps.add(node, { transport: "websocket" });
      await ps.add(node, { transport: "polling" });
    }
    for (const origin of nodes) {
      const json = ["text", 42, 1.5, true, null, { nested: { a: [1, "two", false] } }, ["é", "🎉"]];
      const binary = ["bin", BIN, { inner: Buffer.from("ab"), list: [Buffer.alloc(0), 7] }];
      const ev = uniq("bcast");
      await ctl(origin, "emit", { event: ev, args: json });
      await ctl(origin, "emit", { event: ev, args: binary });
      for (const p of ps.list) {
        const where = `from ${origin.name} to a ${p.transport} client on ${p.node.name}`;
        assert.deepEqual(normalize(await p.next(ev, WAIT)), normalize(json), `${where}: JSON`);
        assert.deepEqual(normalize(await p.next(ev, WAIT)), normalize(binary), `${where}: binary`);
      }
      await fence(origin, ps.list);
      assertNone(ps.list, ev, "each broadcast arrives once");
    }
  });

  test("namespaces stay apart: a broadcast on /chat reaches /chat clients only", async (t) => {
    const ps = peers(t);
    const chat = [];
    const main = [];
    for (const [i, node] of nodes.entries()) {
      chat.push(await ps.add(node, { transport: transportOf(i), nsp: "/chat" }));
      main.push(await ps.add(node, { transport: transportOf(i + 1) }));
    }
    for (const origin of nodes) {
      const ev = uniq("chat");
      await ctl(origin, "emit", { nsp: "/chat", event: ev, args: [origin.nodeName, BIN] });
      for (const p of chat) {
        assert.deepEqual(normalize(await p.next(ev, WAIT)), normalize([origin.nodeName, BIN]), `/chat on ${p.node.name}`);
      }
      await fence(origin, main, "/");
      assertNone(main, ev, "a /chat broadcast must not reach /");
    }
  });

  test("a room broadcast reaches that room only (one room, two rooms, a socket in both once)", async (t) => {
    const ps = peers(t);
    const inR = [];
    const inR2 = [];
    const outside = [];
    const R = uniq("room");
    const R2 = uniq("room");
    for (const [i, node] of nodes.entries()) {
      const a = await ps.add(node, { transport: transportOf(i) });
      await join(a, R);
      inR.push(a);
      if (i === 0) {
        await join(a, R2); // in both rooms: receives a two-room broadcast once
        inR2.push(a);
      }
      const b = await ps.add(node, { transport: transportOf(i + 1) });
      if (i % 2 === 0) {
        await join(b, R2);
        inR2.push(b);
      } else {
        outside.push(b);
      }
    }
    const notInR = ps.list.filter((p) => !inR.includes(p));
    for (const origin of nodes) {
      const ev1 = uniq("room1");
      await ctl(origin, "emit", { rooms: [R], event: ev1, args: [origin.nodeName] });
      for (const p of inR) assert.deepEqual(await p.next(ev1, WAIT), [origin.nodeName], `${R} member on ${p.node.name}`);

      const ev2 = uniq("room2");
      await ctl(origin, "emit", { rooms: [R, R2], event: ev2, args: [BIN] });
      for (const p of new Set([...inR, ...inR2])) {
        assert.deepEqual(normalize(await p.next(ev2, WAIT)), normalize([BIN]), `${R}/${R2} member on ${p.node.name}`);
      }
      await fence(origin, ps.list);
      assertNone(notInR, ev1, `only ${R} gets a broadcast to ${R}`);
      assertNone(ps.list, ev2, "a socket in two rooms gets the broadcast once");
      assertNone(outside, ev2, "sockets in neither room get nothing");
    }
  });

  test("except leaves out the sockets of the excepted rooms", async (t) => {
    const ps = peers(t);
    const R = uniq("room");
    const X = uniq("except");
    const kept = [];
    const excepted = [];
    for (const [i, node] of nodes.entries()) {
      const a = await ps.add(node, { transport: transportOf(i) });
      await join(a, R);
      kept.push(a);
      const b = await ps.add(node, { transport: transportOf(i + 1) });
      await join(b, R);
      await join(b, X);
      excepted.push(b);
    }
    for (const origin of nodes) {
      const ev1 = uniq("except-room");
      await ctl(origin, "emit", { rooms: [R], except: [X], event: ev1, args: [1] });
      const ev2 = uniq("except-all");
      await ctl(origin, "emit", { except: [X], event: ev2, args: [2] });
      for (const p of kept) {
        assert.deepEqual(await p.next(ev1, WAIT), [1], `to ${R} except ${X}, on ${p.node.name}`);
        assert.deepEqual(await p.next(ev2, WAIT), [2], `to all except ${X}, on ${p.node.name}`);
      }
      await fence(origin, ps.list);
      assertNone(excepted, ev1, `in ${X}`);
      assertNone(excepted, ev2, `in ${X}`);
    }
  });

  // The packet each broadcast of `ev` put on Redis: [uid, packet, opts]. Classic: the messages
  // `monitor` caught (notepack); streams: the entries of the stream (JSON unless binary).
  async function published(monitor, ev) {
    if (adapter === "classic") return monitor.messages.map((m) => notepack.decode(m.message)).filter((msg) => msg[1]?.data?.[0] === ev);
    const entries = await cluster.redis.command("XRANGE", STREAM, "-", "+");
    return entries
      .map(([, fields]) => Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]])))
      .filter((f) => f.type === "3" && f.data.startsWith("{"))
      .map((f) => {
        const { packet, opts } = JSON.parse(f.data);
        return [f.uid, { ...packet, nsp: f.nsp }, opts];
      })
      .filter((msg) => msg[1]?.data?.[0] === ev);
  }

  test("the volatile flag crosses: published with flags.volatile, delivered to idle clients", async (t) => {
    const ps = peers(t);
    for (const node of nodes) await ps.add(node, { transport: "websocket" });
    const monitor = adapter === "classic" ? await cluster.redis.monitor(`${key}#/#*`) : null;
    t.after(() => monitor?.close());
    for (const origin of nodes) {
      const ev = uniq("volatile");
      // A volatile packet may be dropped when a transport is busy: send until each client has
      // one (they are idle, so the first normally arrives).
      const got = new Set();
      for (const p of ps.list) p.socket.on(ev, () => got.add(p));
      await waitFor(
        async () => {
          await ctl(origin, "emit", { volatile: true, event: ev, args: ["v"] });
          return got.size === ps.list.length;
        },
        { ms: WAIT, what: `volatile "${ev}" from ${origin.name} at every client`, interval: 200 },
      );
      // On the wire: [uid, {type: 2, data, nsp}, {rooms, except, flags: {volatile: true}}]
      // (streams: the entry's uid and nsp fields, its data {packet, opts}).
      const sent = await waitFor(async () => {
        const found = await published(monitor, ev);
        return found.length > 0 && found;
      }, {
        ms: WAIT,
        what: `the volatile broadcast of ${origin.name} on Redis`,
      });
      for (const [uid, packet, opts] of sent) {
        assert.equal(typeof uid, "string", `${origin.name}: uid`);
        assert.equal(packet.type, 2, `${origin.name}: packet type`);
        assert.equal(packet.nsp, "/", `${origin.name}: packet nsp`);
        assert.deepEqual(opts.rooms, [], `${origin.name}: rooms`);
        assert.deepEqual(opts.except, [], `${origin.name}: except`);
        assert.equal(opts.flags?.volatile, true, `${origin.name}: flags ${JSON.stringify(opts.flags)}`);
      }
    }
  });

  test("fetchSockets from each node sees every node's sockets, with Node's handshake shape", async (t) => {
    const ps = peers(t);
    const R = uniq("fetch");
    const X = uniq("fetch-except");
    const members = [];
    const expected = new Map(); // id -> {node, user, transport}
    for (const [i, node] of nodes.entries()) {
      for (const transport of ["websocket", "polling"]) {
        const user = `user-${i}-${transport}`;
        const p = await ps.add(node, { transport, auth: { user } });
        await join(p, R);
        if (transport === "websocket") await join(p, X);
        members.push(p);
        expected.set(p.id, { node: node.nodeName, user, transport, rooms: transport === "websocket" ? [p.id, R, X] : [p.id, R] });
      }
    }
    await ps.add(nodes[0], { transport: "websocket" }); // not in R
    const chatPeer = await ps.add(nodes[nodes.length - 1], { nsp: "/chat", auth: { user: "chat-user" } });
    for (const origin of nodes) {
      const { sockets } = await ctl(origin, "fetch", { rooms: [R] });
      assert.deepEqual(sockets.map((s) => s.id).sort(), sortedIds(members), `fetch from ${origin.name}: ids`);
      for (const s of sockets) {
        const want = expected.get(s.id);
        const where = `fetch from ${origin.name}: socket of ${want.node} (${want.transport})`;
        assert.deepEqual(Object.keys(s).sort(), ["data", "handshake", "id", "rooms"], `${where}: fields`);
        assert.deepEqual(s.data, { node: want.node, user: want.user }, `${where}: data`);
        assert.deepEqual(s.rooms, [...want.rooms].sort(), `${where}: rooms`);
        assertHandshake(s.handshake, { auth: { user: want.user }, transport: want.transport }, where);
      }
      const polling = members.filter((p) => p.transport === "polling");
      assert.deepEqual(await fetchIds(origin, { rooms: [R], except: [X] }), sortedIds(polling), `fetch from ${origin.name} except ${X}`);
      const all = await fetchIds(origin, {});
      for (const p of ps.list.filter((q) => q !== chatPeer)) assert.ok(all.includes(p.id), `fetch all from ${origin.name} has ${p.id}`);
      assert.ok(!all.includes(chatPeer.id), `fetch on / from ${origin.name} has no /chat socket`);
      const chat = (await ctl(origin, "fetch", { nsp: "/chat" })).sockets;
      assert.deepEqual(chat.map((s) => s.id), [chatPeer.id], `fetch on /chat from ${origin.name}`);
      assert.deepEqual(chat[0].data, { node: nodes[nodes.length - 1].nodeName, user: "chat-user" });
    }
  });

  test("socketsJoin and socketsLeave from each node act on sockets of every node", async (t) => {
    const ps = peers(t);
    for (const [i, node] of nodes.entries()) await ps.add(node, { transport: transportOf(i) });
    const bystander = await ps.add(nodes[0], { transport: "polling" });
    const members = ps.list.filter((p) => p !== bystander);
    for (const [o, origin] of nodes.entries()) {
      const A = uniq("join-a");
      const B = uniq("join-b");
      const K = uniq("join-keep");
      for (const p of members) await join(p, A);
      await join(members[0], K);
      const checker = nodes[(o + 1) % nodes.length];
      await ctl(origin, "join", { rooms: [A], except: [K], join: [B] });
      const joined = sortedIds(members.slice(1));
      await waitFor(async () => JSON.stringify(await fetchIds(checker, { rooms: [B] })) === JSON.stringify(joined), {
        ms: WAIT,
        what: `socketsJoin from ${origin.name}: ${B} = the sockets in ${A} but not ${K} (seen from ${checker.name})`,
      });
      // The sockets really are in B on their own nodes: a broadcast to B reaches them.
      const ev = uniq("in-b");
      await ctl(checker, "emit", { rooms: [B], event: ev, args: [] });
      await Promise.all(members.slice(1).map((p) => p.next(ev, WAIT)));

      await ctl(origin, "leave", { rooms: [A], leave: [B] });
      await waitFor(async () => (await fetchIds(checker, { rooms: [B] })).length === 0, {
        ms: WAIT,
        what: `socketsLeave from ${origin.name} empties ${B}`,
      });
      assert.deepEqual(await fetchIds(origin, { rooms: [A] }), sortedIds(members), `${A} untouched`);
    }
    const [alone] = (await ctl(nodes[0], "fetch", { rooms: [bystander.id] })).sockets;
    assert.deepEqual(alone.rooms, [bystander.id], "the bystander joined nothing");
  });

  test("disconnectSockets from each node disconnects sockets on every node", async (t) => {
    const ps = peers(t);
    for (const [o, origin] of nodes.entries()) {
      const A = uniq("disc");
      const K = uniq("disc-keep");
      const targets = [];
      const kept = [];
      for (const [i, node] of nodes.entries()) {
        const p = await ps.add(node, { transport: transportOf(i + o) });
        await join(p, A);
        targets.push(p);
        const q = await ps.add(node, { transport: transportOf(i + o + 1) });
        await join(q, A);
        await join(q, K);
        kept.push(q);
      }
      const close = o % 2 === 1;
      await ctl(origin, "disconnect", { rooms: [A], except: [K], close });
      for (const p of targets) {
        const [reason] = await p.next("disconnect", WAIT);
        if (close) assert.ok(["io server disconnect", "transport close"].includes(reason), `close: reason ${reason} on ${p.node.name}`);
        else assert.equal(reason, "io server disconnect", `${p.node.name} ${p.transport}`);
      }
      await waitFor(async () => JSON.stringify(await fetchIds(origin, { rooms: [A] })) === JSON.stringify(sortedIds(kept)), {
        ms: WAIT,
        what: `only the sockets in ${K} left in ${A}`,
      });
      await fence(origin, kept);
      for (const q of kept) assert.ok(q.socket.connected, `${q.node.name}: the socket in ${K} stays connected`);
    }
  });

  test("the emitter's socketsJoin, socketsLeave and disconnectSockets reach every node", { skip: classicOnly(EMITTER_ONLY_CLASSIC) }, async (t) => {
    const ps = peers(t);
    const em = await emitter(cluster.redis.url, key);
    t.after(() => em.close());
    const A = uniq("em-a");
    const B = uniq("em-b");
    const K = uniq("em-keep");
    const members = [];
    const kept = [];
    for (const [i, node] of nodes.entries()) {
      const p = await ps.add(node, { transport: transportOf(i) });
      await join(p, A);
      members.push(p);
      const q = await ps.add(node, { transport: transportOf(i + 1) });
      await join(q, A);
      await join(q, K);
      kept.push(q);
    }
    const all = [...members, ...kept];
    em.emitter.in(A).socketsJoin(B);
    await waitFor(async () => JSON.stringify(await fetchIds(nodes[0], { rooms: [B] })) === JSON.stringify(sortedIds(all)), {
      ms: WAIT,
      what: `emitter socketsJoin(${B})`,
    });
    em.emitter.in(B).except(K).socketsLeave(B);
    await waitFor(async () => JSON.stringify(await fetchIds(nodes[nodes.length - 1], { rooms: [B] })) === JSON.stringify(sortedIds(kept)), {
      ms: WAIT,
      what: `emitter socketsLeave(${B}) except ${K}`,
    });
    em.emitter.in(A).except(K).disconnectSockets();
    for (const p of members) assert.deepEqual(await p.next("disconnect", WAIT), ["io server disconnect"], `${p.node.name} ${p.transport}`);
    await fence(nodes[0], kept);
    for (const q of kept) assert.ok(q.socket.connected, `${q.node.name}: in ${K}, still connected`);
  });

  test("serverSideEmit from each node reaches every other node; with an ack, one response per other node", async (t) => {
    for (const origin of nodes) {
      const others = nodes.filter((n) => n !== origin);
      for (const nsp of ["/", "/chat"]) {
        const ev = uniq("sse");
        const args = ["a", 1, { x: [true, null, 2.5] }];
        const plain = await ctl(origin, "server-emit", { nsp, event: ev, args, ack: false });
        assert.equal(plain.err, null);
        const token = uniq("ping");
        const t0 = Date.now();
        const acked = await ctl(origin, "server-emit", { nsp, event: "ping-servers", args: [token], ack: true, timeout: WAIT });
        const ms = Date.now() - t0;
        assert.equal(acked.err, null, `${origin.name} ${nsp}: ${acked.err}`);
        assert.deepEqual([...acked.responses].sort(), others.map((n) => `pong-${n.nodeName}`).sort(), `${origin.name} ${nsp}: responses`);
        assert.ok(ms < WAIT, `${origin.name} ${nsp}: every node answered (${ms} ms), not the timeout`);
        // The ping went out after `ev` on the same channel, and each node answered it: each
        // has seen `ev` by now. The origin saw its own messages before the answers came back.
        for (const node of nodes) {
          const { events } = await ctl(node, "server-events", { nsp });
          const got = events.filter((e) => e[0] === ev);
          const pings = events.filter((e) => e[0] === "ping-servers" && e[1] === token);
          if (node === origin) {
            assert.deepEqual(got, [], `${node.name} ${nsp}: no echo of its own event`);
            assert.deepEqual(pings, [], `${node.name} ${nsp}: no echo of its own ping`);
          } else {
            assert.deepEqual(got, [[ev, ...args]], `${node.name} ${nsp}: the event from ${origin.name}, once`);
            assert.deepEqual(pings, [["ping-servers", token]], `${node.name} ${nsp}: the ping from ${origin.name}, once`);
          }
        }
      }
    }
  });

  test("a broadcast with acks gathers every client's ack, a node with no client in the room included", async (t) => {
    const ps = peers(t);
    const R = uniq("acks");
    const members = [];
    // The last node has a client, but none in R: it must still report a count of 0.
    for (const [i, node] of nodes.entries()) {
      const last = i === nodes.length - 1;
      for (const transport of last ? ["websocket"] : ["websocket", "polling"]) {
        const p = await ps.add(node, { transport });
        if (!last) {
          await join(p, R);
          members.push(p);
        }
      }
    }
    for (const origin of nodes) {
      const ev = uniq("ask");
      const expected = [];
      for (const p of members) {
        const answer = p.transport === "websocket" ? `ack-${p.id}` : { id: p.id, bin: BIN };
        expected.push(answer);
        p.socket.on(ev, (from, ack) => {
          assert.equal(from, origin.nodeName);
          ack(answer);
        });
      }
      const t0 = Date.now();
      const res = await ctl(origin, "emit-ack", { rooms: [R], timeout: WAIT, event: ev, args: [origin.nodeName] });
      const ms = Date.now() - t0;
      assert.equal(res.err, null, `from ${origin.name}: ${res.err} after ${ms} ms`);
      assert.deepEqual(normalize(res.responses).sort(byJson), normalize(expected).sort(byJson), `acks gathered by ${origin.name}`);
      assert.ok(ms < WAIT, `from ${origin.name}: complete in ${ms} ms, before the ${WAIT} ms timeout`);
    }
  });

  test("allRooms from each node lists every node's rooms, per namespace", { skip: classicOnly(ALL_ROOMS_ONLY_CLASSIC) }, async (t) => {
    const ps = peers(t);
    const rooms = [];
    const chatRoom = uniq("chat-room");
    for (const [i, node] of nodes.entries()) {
      const p = await ps.add(node, { transport: transportOf(i) });
      const room = uniq(`rooms-${i}`);
      await join(p, room);
      rooms.push(room, p.id);
    }
    const c = await ps.add(nodes[nodes.length - 1], { nsp: "/chat" });
    await join(c, chatRoom);
    for (const origin of nodes) {
      const all = (await ctl(origin, "all-rooms", {})).rooms;
      assert.deepEqual(all, [...all].sort(), `${origin.name}: sorted`);
      assert.equal(new Set(all).size, all.length, `${origin.name}: no duplicates`);
      for (const room of rooms) assert.ok(all.includes(room), `${origin.name}: allRooms on / has ${room}`);
      assert.ok(!all.includes(chatRoom), `${origin.name}: allRooms on / has no /chat room`);
      const chat = (await ctl(origin, "all-rooms", { nsp: "/chat" })).rooms;
      assert.deepEqual(chat, [c.id, chatRoom].sort(), `${origin.name}: allRooms on /chat`);
    }
  });

  test("the emitter reaches sockets on every node: room, except, binary, /chat, serverSideEmit", { skip: classicOnly(EMITTER_ONLY_CLASSIC) }, async (t) => {
    const ps = peers(t);
    const em = await emitter(cluster.redis.url, key);
    t.after(() => em.close());
    const R = uniq("em-room");
    const X = uniq("em-except");
    const a = [];
    const b = [];
    const chat = [];
    for (const [i, node] of nodes.entries()) {
      const pa = await ps.add(node, { transport: transportOf(i) });
      await join(pa, R);
      a.push(pa);
      const pb = await ps.add(node, { transport: transportOf(i + 1) });
      await join(pb, R);
      await join(pb, X);
      b.push(pb);
      chat.push(await ps.add(node, { transport: transportOf(i), nsp: "/chat" }));
    }
    const outside = await ps.add(nodes[0], { transport: "websocket" });
    const main = [...a, ...b, outside];
    const ev1 = uniq("em-bin");
    em.emitter.to(R).emit(ev1, "x", BIN, { deep: [BIN] });
    const ev2 = uniq("em-except");
    em.emitter.to(R).except(X).emit(ev2, 2);
    const ev3 = uniq("em-chat");
    em.emitter.of("/chat").emit(ev3, "chat", BIN);
    const ev4 = uniq("em-all");
    em.emitter.emit(ev4, { all: true });
    for (const p of [...a, ...b]) {
      assert.deepEqual(normalize(await p.next(ev1, WAIT)), normalize(["x", BIN, { deep: [BIN] }]), `${p.node.name}: room`);
    }
    for (const p of a) assert.deepEqual(await p.next(ev2, WAIT), [2], `${p.node.name}: except`);
    for (const p of chat) assert.deepEqual(normalize(await p.next(ev3, WAIT)), normalize(["chat", BIN]), `${p.node.name}: /chat`);
    // ev4 went out last on the same connection: it is the fence.
    for (const p of main) assert.deepEqual(await p.next(ev4, WAIT), [{ all: true }], `${p.node.name}: everyone`);
    assertNone([outside], ev1, "not in the room");
    assertNone(b, ev2, "excepted");
    assertNone(main, ev3, "a /chat emit must not reach /");
    const ev5 = uniq("em-fence");
    em.emitter.of("/chat").emit(ev5);
    await Promise.all(chat.map((p) => p.next(ev5, WAIT)));
    assertNone(chat, ev4, "a / emit must not reach /chat");

    const sse = uniq("em-sse");
    em.emitter.serverSideEmit(sse, "from-emitter", 3);
    for (const node of nodes) {
      await waitFor(async () => (await ctl(node, "server-events", {})).events.some((e) => e[0] === sse), {
        ms: WAIT,
        what: `the emitter's serverSideEmit at ${node.name}`,
      });
      const got = (await ctl(node, "server-events", {})).events.filter((e) => e[0] === sse);
      assert.deepEqual(got, [[sse, "from-emitter", 3]], `${node.name}: once`);
    }
  });

  test("the socket fetchSockets finds on another node can be emitted to, moved between rooms and disconnected", async (t) => {
    const ps = peers(t);
    for (const [o, origin] of nodes.entries()) {
      const home = nodes[(o + 1) % nodes.length];
      const target = await ps.add(home, { transport: transportOf(o) });
      const R1 = uniq("remote-1");
      const R2 = uniq("remote-2");
      const ev = uniq("remote-ev");
      await ctl(origin, "remote", { id: target.id, op: "emit", event: ev, args: ["to-one", BIN] });
      assert.deepEqual(normalize(await target.next(ev, WAIT)), normalize(["to-one", BIN]), `from ${origin.name} to ${home.name}`);
      const asked = uniq("remote-ask");
      target.socket.once(asked, (x, ack) => ack(`got-${x}`, "second"));
      const answer = await ctl(origin, "remote", { id: target.id, op: "emit-ack", event: asked, args: [7], timeout: WAIT });
      assert.deepEqual(answer, { ok: true, reply: "got-7" }, `emit with ack from ${origin.name} to ${home.name}`);
      await ctl(origin, "remote", { id: target.id, op: "join", rooms: [R1, R2] });
      const roomsAtHome = async () => (await ctl(home, "fetch", { rooms: [target.id] })).sockets[0]?.rooms.join();
      await waitFor(async () => (await roomsAtHome()) === [R1, R2, target.id].sort().join(), {
        ms: WAIT,
        what: `remote join from ${origin.name}`,
      });
      await ctl(origin, "remote", { id: target.id, op: "leave", rooms: [R1] });
      await waitFor(async () => (await roomsAtHome()) === [R2, target.id].sort().join(), {
        ms: WAIT,
        what: `remote leave from ${origin.name}`,
      });
      await ctl(origin, "remote", { id: target.id, op: "disconnect" });
      assert.deepEqual(await target.next("disconnect", WAIT), ["io server disconnect"], `remote disconnect from ${origin.name}`);
      const gone = () => ctl(origin, "remote", { id: target.id, op: "emit", event: ev, args: [] });
      await eventually(() => assert.rejects(gone(), /status 400/, "a socket that is gone"), WAIT);
    }
  });

  test("1,000 ordered broadcasts arrive in order at clients on every node", async (t) => {
    const ps = peers(t);
    const COUNT = 1000;
    for (const [i, node] of nodes.entries()) await ps.add(node, { transport: transportOf(i) });
    // One origin of each kind, at the same time.
    const origins = [...new Map(nodes.map((n) => [n.kind, n])).values()];
    const seen = new Map(); // `${origin}|${peer id}` -> [seq...]
    const events = new Map(origins.map((o) => [o, uniq(`order-${o.kind}`)]));
    for (const o of origins) {
      for (const p of ps.list) {
        const list = [];
        seen.set(`${o.name}|${p.id}`, list);
        p.socket.on(events.get(o), (seq) => list.push(seq));
      }
    }
    const t0 = Date.now();
    await Promise.all(
      origins.map(async (o) => {
        for (let seq = 0; seq < COUNT; seq++) await ctl(o, "emit", { event: events.get(o), args: [seq] });
      }),
    );
    await waitFor(() => [...seen.values()].every((l) => l.length >= COUNT), {
      ms: 60_000,
      what: `${COUNT} broadcasts from ${origins.map((o) => o.name).join(", ")} at every client`,
      interval: 50,
    });
    t.diagnostic(`${COUNT} broadcasts from each of ${origins.length} nodes to ${ps.list.length} clients in ${Date.now() - t0} ms`);
    const inOrder = Array.from({ length: COUNT }, (_, i) => i);
    for (const [k, list] of seen) assert.deepEqual(list, inOrder, `order at ${k}`);
  });

  // Last: it takes Redis away from everyone.
  test("after a Redis restart the nodes reconnect: broadcasts and requests cross again", async (t) => {
    const ps = peers(t);
    for (const [i, node] of nodes.entries()) await ps.add(node, { transport: transportOf(i) });
    const ev = uniq("after-restart");
    const got = new Map(ps.list.map((p) => [p, new Set()]));
    for (const p of ps.list) p.socket.on(ev, (origin) => got.get(p).add(origin));
    await cluster.redis.restart();
    const t0 = Date.now();
    // Broadcast from every node until every client has heard from every node.
    await waitFor(
      async () => {
        await Promise.all(nodes.map((n) => ctl(n, "emit", { event: ev, args: [n.nodeName] })));
        return [...got.values()].every((s) => s.size === nodes.length);
      },
      { ms: 30_000, what: "broadcasts from every node at every client after the restart", interval: 200 },
    );
    t.diagnostic(`broadcasts crossed again ${Date.now() - t0} ms after Redis came back`);
    const channels = countedChannels(key, adapter);
    await eventually(async () => {
      const counts = await cluster.redis.numsub(...channels);
      for (const c of channels) assert.equal(counts[c], nodes.length, `subscribers of ${c} after the restart`);
    }, WAIT);
    for (const origin of nodes) {
      const res = await ctl(origin, "server-emit", { event: "ping-servers", args: [uniq("after")], ack: true, timeout: WAIT });
      assert.equal(res.err, null, `${origin.name}: ${res.err}`);
      assert.equal(res.responses.length, nodes.length - 1, `${origin.name}: one answer per other node`);
      const ids = await fetchIds(origin, {});
      for (const p of ps.list) assert.ok(ids.includes(p.id), `${origin.name}: fetch after the restart finds ${p.id} of ${p.node.name}`);
    }
  });
});
