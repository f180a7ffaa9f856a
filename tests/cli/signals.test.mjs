// chorus-server stops cleanly on SIGTERM and SIGINT: "chorus: stopped", exit 0, with every
// open connection ended properly (WebSocket Close 1001, a held poll answered CLOSE, an SSE
// stream's last event CLOSE) within its 1 s grace period.
import assert from "node:assert/strict";
import http from "node:http";
import { describe, test } from "node:test";
import WebSocket from "ws";
import { client, connected, handshake, once, sleep, startServer } from "./helpers.mjs";

// An Engine.IO SSE stream: resolves with everything it carried once the server ends it.
function sseStream(server) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: server.host, port: server.port, path: `${server.path}?EIO=4&transport=sse`, agent: false },
      (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve(body));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
  });
}

// A polling GET the server holds (nothing queued for the session): resolves with
// {status, body} when it is answered.
function heldPoll(server, sid) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: server.host, port: server.port, path: `${server.path}?EIO=4&transport=polling&sid=${sid}`, agent: false },
      (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
  });
}

// One at a time: the stop times below are not shared with another server's start.
describe("chorus-server signals", { concurrency: false }, () => {
  for (const signal of ["SIGTERM", "SIGINT"]) {
    test(`${signal}: "chorus: stopped", exit 0, WebSocket closed 1001, held poll and SSE stream ended`, async () => {
      const server = await startServer([]);
      const socket = client(server, { transports: ["websocket"] });
      const raw = new WebSocket(`ws://${server.host}:${server.port}${server.path}?EIO=4&transport=websocket`);
      const rawClosed = new Promise((resolve) => raw.on("close", (code, reason) => resolve({ code, reason: `${reason}` })));
      const rawOpened = new Promise((resolve, reject) => {
        raw.once("message", resolve); // the OPEN packet
        raw.once("error", reject);
      });
      try {
        await connected(socket);
        await rawOpened;
        const sse = sseStream(server);
        const disconnected = once(socket, "disconnect", 5_000);
        // An Engine.IO session that never joins a namespace: its next GET is held until the
        // next ping (25 s by default).
        const { open } = await handshake(server);
        let answered = false;
        const poll = heldPoll(server, open.sid).finally(() => (answered = true));
        await sleep(300);
        assert.equal(answered, false, "the poll should be held");

        const result = await server.stop(signal);
        assert.equal(result.signal, null, `killed by ${result.signal} (stderr: ${result.stderr})`);
        assert.equal(result.code, 0, `exit code (stderr: ${result.stderr})`);
        // The grace period is 1 s; the rest is process exit under the sanitizers on a busy machine.
        assert.ok(result.ms < 5_000, `took ${result.ms} ms to stop`);
        assert.match(result.stdout, /^chorus: stopped$/m);

        const answer = await poll;
        assert.equal(answer.status, 200);
        assert.equal(answer.body, "1", "the held poll should be answered with a CLOSE packet");
        assert.deepEqual(await rawClosed, { code: 1001, reason: "" }, "WebSocket Close: going away");
        const events = await sse;
        assert.match(events, /data: 1\n\n$/, "the SSE stream ends with a CLOSE packet");
        await disconnected;
      } finally {
        socket.close();
        raw.terminate();
        if (server.proc.exitCode === null && server.proc.signalCode === null) server.proc.kill("SIGKILL");
      }
    });
  }

  test("SIGTERM on an idle server: exit 0 within 5 s, nothing else on stdout", async () => {
    const server = await startServer();
    const result = await server.stop("SIGTERM");
    assert.equal(result.code, 0);
    assert.ok(result.ms < 5_000, `took ${result.ms} ms to stop`);
    assert.equal(result.stdout, `${server.line}\nchorus: stopped\n`);
  });
});
