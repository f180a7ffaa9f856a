// chorus-server stops cleanly on SIGTERM and SIGINT: "chorus: stopped", exit 0, within 5 s,
// even with a WebSocket client connected and a long-poll held open.
import assert from "node:assert/strict";
import http from "node:http";
import { describe, test } from "node:test";
import { client, connected, handshake, once, sleep, startServer } from "./helpers.mjs";

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

// One at a time: each server below is started as shipped (thousands of CivetWeb workers under
// the sanitizers until connections move to the event loop), and two at once slow each other.
describe("chorus-server signals", { concurrency: false }, () => {
  for (const signal of ["SIGTERM", "SIGINT"]) {
    test(`${signal}: "chorus: stopped", exit 0 within 5 s with a websocket client and a held poll`, async () => {
      const server = await startServer([], { light: false });
      const socket = client(server, { transports: ["websocket"] });
      try {
        await connected(socket);
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
        assert.ok(result.ms < 5_000, `took ${result.ms} ms to stop`);
        assert.match(result.stdout, /^chorus: stopped$/m);

        const answer = await poll;
        assert.equal(answer.status, 200);
        assert.equal(answer.body, "1", "the held poll should be answered with a CLOSE packet");
        await disconnected;
      } finally {
        socket.close();
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
