// Namespaces: several multiplexed on one Manager, middleware refusal (/admin), JWT
// (/secure) and dynamic namespaces (/dyn-<n>).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  MODES,
  Manager,
  Peer,
  connectPeer,
  nowSeconds,
  refusedPeer,
  signHs256,
  startServer,
  waitUpgrade,
} from "./harness.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

async function withPeer(nsp, mode, extra, fn) {
  const p = await connectPeer(server, nsp, mode, extra);
  try {
    return await fn(p);
  } finally {
    p.close();
  }
}

for (const mode of MODES) {
  describe(`namespaces over ${mode.name}`, () => {
    test("several namespaces multiplexed on one Manager", async () => {
      const manager = new Manager(server.url, { ...mode.opts, reconnection: false, autoConnect: false });
      const main = new Peer(manager.socket("/"));
      const admin = new Peer(manager.socket("/admin", { auth: { token: "letmein" } }));
      const dyn = new Peer(manager.socket("/dyn-12"));
      try {
        for (const p of [main, admin, dyn]) p.socket.connect();
        await Promise.all([main, admin, dyn].map((p) => p.next("connect")));
        if (mode.upgrade) await waitUpgrade(main.socket);
        assert.equal(main.socket.io, admin.socket.io);
        assert.equal(main.socket.io, dyn.socket.io);
        assert.equal(new Set([main.id, admin.id, dyn.id]).size, 3);

        const [welcomeMain] = await main.next("welcome");
        const [welcomeAdmin] = await admin.next("welcome");
        assert.equal(welcomeMain.id, main.id);
        assert.equal(welcomeAdmin.id, admin.id);
        assert.deepEqual(welcomeAdmin.auth, { token: "letmein" });
        assert.deepEqual(await dyn.next("nsp"), ["/dyn-12"]);

        // Each namespace answers on its own: an event on one is not seen by the others.
        main.socket.emit("echo", "to main");
        admin.socket.emit("echo", "to admin");
        dyn.socket.emit("echo", "to dyn");
        assert.deepEqual(await main.next("echo"), ["to main"]);
        assert.deepEqual(await admin.next("echo"), ["to admin"]);
        assert.deepEqual(await dyn.next("echo"), ["to dyn"]);
        await Promise.all([main.none("echo"), admin.none("echo", 0), dyn.none("echo", 0)]);

        // Leaving one namespace keeps the others (and the shared connection) alive.
        admin.socket.disconnect();
        assert.deepEqual(await admin.next("disconnect"), ["io client disconnect"]);
        assert.equal(await main.socket.timeout(2_000).emitWithAck("echo", "main still"), "main still");
        assert.equal(await dyn.socket.timeout(2_000).emitWithAck("echo", "dyn still"), "dyn still");
      } finally {
        manager._close?.();
        for (const p of [main, admin, dyn]) p.socket.disconnect();
      }
    });

    test("/admin accepts the right token", async () => {
      await withPeer("/admin", mode, { auth: { token: "letmein" } }, async (p) => {
        const [welcome] = await p.next("welcome");
        assert.equal(welcome.id, p.id);
        assert.equal(await p.socket.timeout(2_000).emitWithAck("echo", 1), 1);
      });
    });

    test("/admin middleware refusal: connect_error with message and data", async () => {
      const err = await refusedPeer(server, "/admin", mode, { auth: { token: "wrong" } });
      assert.equal(err.message, "not authorized");
      assert.deepEqual(err.data, { code: 403 });
      const err2 = await refusedPeer(server, "/admin", mode);
      assert.equal(err2.message, "not authorized");
      assert.deepEqual(err2.data, { code: 403 });
    });

    test("/admin refusal leaves the main namespace usable on the same Manager", async () => {
      const manager = new Manager(server.url, { ...mode.opts, reconnection: false, autoConnect: false });
      const main = new Peer(manager.socket("/"));
      const admin = new Peer(manager.socket("/admin", { auth: { token: "nope" } }));
      try {
        main.socket.connect();
        await main.next("connect");
        admin.socket.connect();
        const [err] = await admin.next("connect_error");
        assert.equal(err.message, "not authorized");
        assert.equal(await main.socket.timeout(2_000).emitWithAck("echo", "ok"), "ok");
      } finally {
        for (const p of [main, admin]) p.socket.disconnect();
      }
    });

    test("/secure: valid JWT in auth", async () => {
      const claims = { sub: "ada", role: "editor", exp: nowSeconds() + 60 };
      await withPeer("/secure", mode, { auth: { token: signHs256(claims) } }, async (p) => {
        assert.deepEqual(await p.next("whoami"), [claims]);
      });
    });

    test("/secure: valid JWT in the query", async () => {
      const claims = { sub: "query-user", iat: nowSeconds() };
      await withPeer("/secure", mode, { query: { token: signHs256(claims) } }, async (p) => {
        assert.deepEqual(await p.next("whoami"), [claims]);
      });
    });

    test("/secure: valid JWT in an Authorization: Bearer header", async () => {
      const claims = { sub: "header-user" };
      await withPeer("/secure", mode, { extraHeaders: { authorization: `Bearer ${signHs256(claims)}` } }, async (p) => {
        assert.deepEqual(await p.next("whoami"), [claims]);
      });
    });

    const refusals = [
      ["expired", () => ({ auth: { token: signHs256({ sub: "a", exp: nowSeconds() - 10 }) } }), "token expired"],
      ["not yet valid", () => ({ auth: { token: signHs256({ sub: "a", nbf: nowSeconds() + 600 }) } }), "token not yet valid"],
      ["bad signature", () => ({ auth: { token: signHs256({ sub: "a" }, "wrong-secret") } }), "invalid signature"],
      ["alg none", () => ({ auth: { token: signHs256({ sub: "a" }, "x", { alg: "none" }).replace(/[^.]*$/, "") } }),
        "unsupported algorithm"],
      ["alg HS512", () => ({ auth: { token: signHs256({ sub: "a" }, undefined, { alg: "HS512" }) } }), "unsupported algorithm"],
      ["malformed", () => ({ auth: { token: "not.a.jwt!" } }), "malformed token"],
      ["missing", () => ({}), "missing token"],
    ];
    for (const [name, options, reason] of refusals) {
      test(`/secure refuses: ${name}`, async () => {
        const err = await refusedPeer(server, "/secure", mode, options());
        assert.equal(err.message, `unauthorized: ${reason}`);
        assert.deepEqual(err.data, { reason });
      });
    }

    test("dynamic namespace matching ^/dyn-\\d+$", async () => {
      await withPeer("/dyn-7", mode, {}, async (p) => {
        assert.deepEqual(await p.next("nsp"), ["/dyn-7"]);
        assert.equal(await p.socket.timeout(2_000).emitWithAck("echo", "dyn"), "dyn");
      });
    });

    test("unknown namespace is refused with 'Invalid namespace'", async () => {
      for (const nsp of ["/dyn-x", "/dyn-", "/nowhere"]) {
        const err = await refusedPeer(server, nsp, mode);
        assert.equal(err.message, "Invalid namespace", nsp);
      }
    });
  });
}
