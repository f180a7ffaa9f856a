// Plain SSE routes (Server::sse): GET /events/count streams "n" events 1..5 and ends;
// GET /events/tricky streams hard payloads. Read with the npm `eventsource` package, with
// `curl -N` and with node:http, all keep-alive HTTP/1.1 clients: the server must close the
// connection to end a stream.
//
// What a WHATWG EventSource can carry (HTML, "Interpreting an event stream"): CR, LF and
// CRLF all end a line, so a CR inside data arrives as LF; an empty `data:` line dispatches an
// event whose data is "" (only an event with no data line at all is dropped).
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

const COUNT_RAW = "retry: 2000\n\n" + [1, 2, 3, 4, 5].map((i) => `event: n\nid: ${i}\ndata: ${i}\n\n`).join("");

// The exact bytes /events/tricky must produce: each payload split at CR, LF or CRLF into
// data: lines (a trailing line break leaves an empty last line).
function trickyRaw() {
  let out = "retry: 2000\n\n";
  h.TRICKY.forEach((p, i) => {
    out += `event: tricky\nid: ${i}\n`;
    for (const line of p.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
    out += "\n";
  });
  return `${out}event: done\ndata: end\n\n`;
}

describe("plain SSE route /events/count", { concurrency: true }, () => {
  it("eventsource: five `n` events with data and id 1..5, then the stream ends (error, reconnecting)", async () => {
    const es = h.eventSource(app.url("/events/count"), ["n"]);
    try {
      await es.opened;
      const got = [];
      for (let i = 0; i < 5; i++) got.push(await es.events.shift());
      assert.deepEqual(got.map((e) => [e.data, e.lastEventId]), [1, 2, 3, 4, 5].map((i) => [String(i), String(i)]));
      // The end of the stream is an error event with readyState CONNECTING (retry: 2000).
      const err = await es.errors.shift(2000, "the end of the /events/count stream");
      assert.equal(err.readyState, h.EventSource.CONNECTING);
    } finally {
      es.close();
    }
  });

  it("curl -N: exact bytes, and curl exits 0 when the server ends the stream", async () => {
    const started = Date.now();
    const r = await h.curl(["-sN", "--max-time", "3", "-D", "-", app.url("/events/count")]);
    const [head, body] = r.stdout.split("\r\n\r\n");
    assert.equal(body, COUNT_RAW);
    assert.equal(r.code, 0, `curl exit code ${r.code} (28: still waiting for the end of the stream after 3 s)`);
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, /\r\nContent-Type: text\/event-stream/i);
    assert.match(head, /\r\nCache-Control: no-cache/i);
    assert.ok(Date.now() - started < 2000, `curl took ${Date.now() - started} ms: the stream did not end`);
  });

  it("node:http keep-alive client: the response ends after the fifth event", async () => {
    const s = await h.openSse(app, "/events/count");
    try {
      const why = await Promise.race([s.ended, h.sleep(2000).then(() => null)]);
      assert.ok(why, "the stream must end");
      assert.equal(s.raw, COUNT_RAW);
    } finally {
      s.close();
    }
  });

  it("HTTP/1.0 and Connection: close clients get the same stream", async () => {
    for (const args of [["--http1.0"], ["-H", "Connection: close"]]) {
      const r = await h.curl(["-sN", ...args, app.url("/events/count")]);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, COUNT_RAW, args.join(" "));
    }
  });
});

describe("plain SSE route /events/tricky", { concurrency: true }, () => {
  it("eventsource: every payload as documented (CR -> LF, empty data delivered, 100 KB intact)", async () => {
    const es = h.eventSource(app.url("/events/tricky"), ["tricky", "done"]);
    try {
      await es.opened;
      const got = [];
      for (let i = 0; i < h.TRICKY.length + 1; i++) got.push(await es.events.shift());
      assert.deepEqual(
        got.slice(0, -1).map((e) => [e.type, e.lastEventId]),
        h.TRICKY.map((_, i) => ["tricky", String(i)]),
      );
      for (let i = 0; i < h.TRICKY.length; i++) {
        assert.equal(got[i].data, h.TRICKY_DELIVERED[i], `payload ${i} (${JSON.stringify(h.TRICKY[i].slice(0, 30))})`);
      }
      assert.equal(got[2].data, "", "an empty payload is an event with empty data");
      assert.equal(got[4].data.length, 100 * 1024);
      assert.deepEqual([got.at(-1).type, got.at(-1).data], ["done", "end"]);
    } finally {
      es.close();
    }
  });

  it("curl -N: exact bytes on the wire", async () => {
    const c = h.curlSse(app.url("/events/tricky"));
    try {
      // Wait for the last event rather than the end of the stream (checked elsewhere).
      for (let i = 0; i < h.TRICKY.length + 1; i++) await c.events.shift(3000, `event ${i}`);
      assert.equal(c.raw, trickyRaw());
    } finally {
      await c.kill();
    }
  });

  it("our WHATWG parser over curl's bytes agrees with eventsource", async () => {
    const c = h.curlSse(app.url("/events/tricky"));
    try {
      const data = [];
      for (let i = 0; i < h.TRICKY.length; i++) data.push((await c.events.shift()).data);
      assert.deepEqual(data, h.TRICKY_DELIVERED);
    } finally {
      await c.kill();
    }
  });
});

describe("plain SSE route: HTTP details", { concurrency: true }, () => {
  it("CORS: an allowed Origin gets Access-Control-Allow-Origin, another does not", async () => {
    const args = ["-sN", "-D", "-", "-o", "/dev/null", "-H", "Connection: close", "-H"];
    const ok = await h.curl([...args, "Origin: http://allowed.example", app.url("/events/count")]);
    assert.match(ok.stdout, /\r\nAccess-Control-Allow-Origin: http:\/\/allowed\.example\r\n/i);
    const no = await h.curl([...args, "Origin: http://evil.example", app.url("/events/count")]);
    assert.doesNotMatch(no.stdout, /Access-Control-Allow-Origin/i);
  });

  it("an unknown path under a stream's prefix is not a stream", async () => {
    const r = await h.request(app, { path: "/events/count/extra" });
    assert.notEqual(r.headers["content-type"] ?? "", "text/event-stream; charset=utf-8");
    assert.ok(r.status >= 400, `status ${r.status}`);
  });
});
