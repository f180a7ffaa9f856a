// REST routes (Server::route) of the routes app: /api/items CRUD with a 1024-byte body limit,
// path parameters, 404/405/413/400/422/500, HEAD on GET routes, CORS for
// http://allowed.example, and POST /api/publish (a broadcast from another thread, 202).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as h from "./harness.mjs";

let app;
before(async () => {
  app = await h.startApp();
});
after(async () => {
  await app.stop();
});

const post = (path, body, headers) => h.request(app, { method: "POST", path, body, headers });

async function create(name) {
  const r = await post("/api/items", { name });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

// A JSON body {"name":"xx..."} of exactly `size` bytes.
function bodyOfSize(size) {
  const shell = Buffer.byteLength('{"name":""}');
  return `{"name":"${"n".repeat(size - shell)}"}`;
}

describe("REST: items", { concurrency: true }, () => {
  it("POST creates (201, JSON, Location), GET reads (200), the list holds it", async () => {
    const r = await post("/api/items", { name: "first é 🎉" });
    assert.equal(r.status, 201);
    assert.equal(r.headers["content-type"], "application/json");
    assert.equal(r.json.name, "first é 🎉");
    assert.equal(typeof r.json.id, "number");
    assert.equal(r.headers.location, `/api/items/${r.json.id}`);
    const one = await h.request(app, { path: `/api/items/${r.json.id}` });
    assert.equal(one.status, 200);
    assert.deepEqual(one.json, r.json);
    const list = await h.request(app, { path: "/api/items" });
    assert.equal(list.status, 200);
    assert.ok(Array.isArray(list.json));
    assert.deepEqual(list.json.find((i) => i.id === r.json.id), r.json);
  });

  it("DELETE answers 204 with no body; the item is gone (404), a second DELETE is 404", async () => {
    const item = await create("doomed");
    const del = await h.request(app, { method: "DELETE", path: `/api/items/${item.id}` });
    assert.equal(del.status, 204);
    assert.equal(del.body.length, 0);
    // RFC 9110 §8.6: no Content-Length in a 204.
    assert.equal(del.headers["content-length"], undefined, "Content-Length in a 204 response");
    assert.equal((await h.request(app, { path: `/api/items/${item.id}` })).status, 404);
    assert.equal((await h.request(app, { method: "DELETE", path: `/api/items/${item.id}` })).status, 404);
  });

  it("unknown ids, non-numeric ids and unknown paths: 404 with a JSON error", async () => {
    for (const path of ["/api/items/999999", "/api/items/abc", "/api/items/1/extra", "/api/nothing", "/api"]) {
      const r = await h.request(app, { path });
      assert.equal(r.status, 404, path);
      assert.equal(typeof r.json?.error, "string", `${path}: ${r.text}`);
    }
  });

  it("a known path with another method: 405 with an Allow header (RFC 9110 §15.5.6)", async () => {
    for (const [method, path, allow] of [
      ["PUT", "/api/items", ["GET", "POST"]],
      ["PATCH", "/api/items/1", ["GET", "DELETE"]],
      ["POST", "/api/items/1", ["GET", "DELETE"]],
      ["DELETE", "/api/items", ["GET", "POST"]],
    ]) {
      const r = await h.request(app, { method, path, body: "{}" });
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(typeof r.json?.error, "string");
      const got = (r.headers.allow ?? "").split(",").map((s) => s.trim()).filter(Boolean);
      for (const m of allow) assert.ok(got.includes(m), `${method} ${path}: Allow ${JSON.stringify(r.headers.allow)} lacks ${m}`);
    }
  });

  it("HEAD on a GET route: the GET's status and headers, no body", async () => {
    const item = await create("headed");
    const get = await h.request(app, { path: `/api/items/${item.id}` });
    const head = await h.request(app, { method: "HEAD", path: `/api/items/${item.id}` });
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-type"], "application/json");
    assert.equal(head.headers["content-length"], get.headers["content-length"]);
    assert.equal((await h.request(app, { method: "HEAD", path: "/api/items/999999" })).status, 404);
  });

  it("HEAD sends no body bytes: the next response on a keep-alive connection is intact (RFC 9110 §9.3.2)", async () => {
    const item = await create("keepalive");
    const raw = await h.rawHttp(
      app,
      `HEAD /api/items/${item.id} HTTP/1.1\r\nHost: x\r\n\r\nGET /api/items/${item.id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      3000,
    );
    const text = raw.toString("utf8");
    const first = text.indexOf("\r\n\r\n");
    assert.ok(first > 0, JSON.stringify(text));
    const rest = text.slice(first + 4);
    assert.ok(rest.startsWith("HTTP/1.1 200"), `after the HEAD answer came ${JSON.stringify(rest.slice(0, 60))}`);
  });

  it("a handler that throws: 500 with a JSON error, and the server goes on", async () => {
    const r = await h.request(app, { path: "/api/boom" });
    assert.equal(r.status, 500);
    assert.deepEqual(r.json, { error: "internal error" });
    assert.equal((await h.request(app, { path: "/api/items" })).status, 200);
  });
});

describe("REST: bodies", { concurrency: true }, () => {
  it("a body of exactly 1024 bytes is accepted; 1025 bytes -> 413 without calling the handler", async () => {
    const ok = bodyOfSize(1024);
    assert.equal(Buffer.byteLength(ok), 1024);
    const r = await post("/api/items", ok);
    assert.equal(r.status, 201, r.text);
    const big = bodyOfSize(1025);
    assert.equal(Buffer.byteLength(big), 1025);
    const r2 = await post("/api/items", big);
    assert.equal(r2.status, 413);
    assert.match(r2.json.error, /1024/);
    // Other tests create items meanwhile: look for this body's own item, not at the count.
    const bigName = JSON.parse(big).name;
    const items = (await h.request(app, { path: "/api/items" })).json;
    assert.ok(items.some((i) => i.name === JSON.parse(ok).name), "the accepted body made its item");
    assert.ok(!items.some((i) => i.name === bigName), "the handler must not have run");
  });

  it("a chunked body over the limit (no Content-Length) -> 413", async () => {
    const chunk = "x".repeat(600);
    const body = `${(600).toString(16)}\r\n${chunk}\r\n${(600).toString(16)}\r\n${chunk}\r\n0\r\n\r\n`;
    const raw = await h.rawHttp(
      app,
      `POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`,
      3000,
    );
    assert.match(raw.toString(), /^HTTP\/1\.1 413 /);
  });

  it("a chunked body under the limit is read whole", async () => {
    const json = JSON.stringify({ name: "chunked" });
    const a = json.slice(0, 5);
    const b = json.slice(5);
    const body = `${a.length.toString(16)}\r\n${a}\r\n${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`;
    const raw = await h.rawHttp(
      app,
      `POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`,
      3000,
    );
    const text = raw.toString();
    assert.match(text, /^HTTP\/1\.1 201 /);
    assert.match(text, /"name":"chunked"/);
  });

  it("malformed JSON -> 400 with the parser's message", async () => {
    for (const body of ['{"name":', "{name: 1}", "[1,]", '{"name":"a"} trailing', "\u00ff"]) {
      const r = await post("/api/items", body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(r.json.error, /^invalid JSON: .+/, JSON.stringify(body));
    }
    const empty = await post("/api/items", "");
    assert.equal(empty.status, 400);
    assert.match(empty.json.error, /empty body/);
    const deep = await post("/api/items", "[".repeat(200) + "]".repeat(200));
    assert.equal(deep.status, 400, "nesting beyond max_json_depth");
  });

  it("valid JSON without a usable name -> 422", async () => {
    for (const body of [{}, { name: 1 }, { name: "" }, { title: "x" }, [], "string", null]) {
      const r = await post("/api/items", JSON.stringify(body));
      assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(typeof r.json.error, "string");
    }
  });

  it("POST /api/publish answers 202 after the broadcast; bad input 400/422", async () => {
    const r = await post("/api/publish", { room: "nobody-here", event: "e", args: [1] });
    assert.equal(r.status, 202);
    assert.deepEqual(r.json, { sent: true });
    assert.equal((await post("/api/publish", { room: "r" })).status, 422);
    assert.equal((await post("/api/publish", "{")).status, 400);
    assert.equal((await post("/api/publish", { room: "r", event: "e", binary: "@@" })).status, 400);
  });
});

describe("REST: CORS", { concurrency: true }, () => {
  it("preflight from an allowed origin: 204 with the allow headers", async () => {
    const r = await h.request(app, {
      method: "OPTIONS",
      path: "/api/items",
      headers: {
        Origin: "http://allowed.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
      },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers["access-control-allow-origin"], "http://allowed.example");
    assert.match(r.headers["access-control-allow-methods"], /POST/);
    assert.match(r.headers["access-control-allow-headers"], /content-type/i);
    assert.match(r.headers.vary ?? "", /Origin/);
  });

  it("preflight from another origin: 403 without Access-Control-Allow-Origin", async () => {
    const r = await h.request(app, {
      method: "OPTIONS",
      path: "/api/items",
      headers: { Origin: "http://evil.example", "Access-Control-Request-Method": "POST" },
    });
    assert.equal(r.status, 403);
    assert.equal(r.headers["access-control-allow-origin"], undefined);
  });

  it("actual requests: the allowed origin is echoed, another origin gets nothing", async () => {
    const ok = await h.request(app, { path: "/api/items", headers: { Origin: "http://allowed.example" } });
    assert.equal(ok.headers["access-control-allow-origin"], "http://allowed.example");
    const no = await h.request(app, { path: "/api/items", headers: { Origin: "http://evil.example" } });
    assert.equal(no.status, 200);
    assert.equal(no.headers["access-control-allow-origin"], undefined);
    const none = await h.request(app, { path: "/api/items" });
    assert.equal(none.headers["access-control-allow-origin"], undefined);
  });
});

describe("REST: concurrency", () => {
  it("50 parallel creates get 50 distinct ids", async () => {
    const items = await Promise.all(Array.from({ length: 50 }, (_, i) => create(`p${i}`)));
    assert.equal(new Set(items.map((i) => i.id)).size, 50);
  });
});
