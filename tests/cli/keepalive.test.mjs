// chorus-server: HTTP/1.1 keep-alive on every endpoint beside Engine.IO (static files, REST
// routes and their error answers, 404/405), `Connection: close` honoured and announced, and
// plain SSE streams announcing `Connection: close`. Requests go through one keep-alive
// agent (Node >= 19's default), as node-fetch would send them: never "socket hang up".
import assert from "node:assert/strict";
import http from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { keepAliveClient } from "../common/http.mjs";
import { startServer, tempDir, writeTree } from "./helpers.mjs";

const root = join(tempDir(), "root");
writeTree(root, { "index.html": "<!doctype html><title>keep-alive</title>", "app.js": "console.log(1);" });

const agentClient = (server) => keepAliveClient(server);

async function sequence(server, send, headers) {
  const json = { ...headers, "Content-Type": "application/json" };
  const steps = [
    ["static index", "GET", "/", {}, 200],
    ["static file", "GET", "/app.js", {}, 200],
    ["static 404", "GET", "/missing.txt", {}, 404],
    ["REST GET", "GET", "/api/health", {}, 200],
    ["REST POST", "POST", "/api/login", { headers: json, body: '{"name":"ann"}' }, 200],
    ["REST 400", "POST", "/api/login", { headers: json, body: "{" }, 400],
    ["REST 405", "DELETE", "/api/health", {}, 405],
    ["handshake", "GET", `${server.path}?EIO=4&transport=polling`, {}, 200],
    ["static after all", "GET", "/index.html", {}, 200],
  ];
  const out = [];
  for (const [name, method, path, opts, status] of steps) {
    const res = await send(method, path, { headers: { ...headers, ...(opts.headers ?? {}) }, body: opts.body });
    assert.equal(res.status, status, `${name}: ${res.text.slice(0, 100)}`);
    out.push({ name, ...res });
  }
  return out;
}

describe("chorus-server keep-alive", () => {
  let server;
  before(async () => {
    server = await startServer(["--root", root]);
  });
  after(async () => {
    await server?.stop();
  });

  test("kept-alive sockets carry static files, REST routes, their errors and a handshake", async () => {
    const c = agentClient(server);
    try {
      // CivetWeb answers a missing static file itself, closing the connection (and saying
      // so): the agent then opens a new socket, which every later request reuses.
      let socket = 1;
      for (const s of await sequence(server, c.send, {})) {
        const closes = s.name === "static 404";
        assert.equal(s.headers.connection, closes ? "close" : "keep-alive", `${s.name}: Connection header`);
        assert.equal(s.socket, socket, `${s.name} went over socket ${s.socket}`);
        if (closes) socket++;
      }
    } finally {
      c.close();
    }
  });

  test("Connection: close is announced and honoured on every endpoint", async () => {
    const c = agentClient(server);
    try {
      const steps = await sequence(server, c.send, { Connection: "close" });
      steps.forEach((s, i) => {
        assert.equal(s.headers.connection, "close", `${s.name}: Connection header`);
        assert.equal(s.socket, i + 1, `${s.name}: a new socket for each request`);
      });
    } finally {
      c.close();
    }
  });

  test("a plain SSE stream says Connection: close", async () => {
    const res = await new Promise((resolve, reject) => {
      const req = http.get({ host: server.host, port: server.port, path: "/events/time", agent: false }, (r) => {
        resolve(r);
        r.destroy();
      });
      req.on("error", reject);
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers.connection, "close");
  });
});
