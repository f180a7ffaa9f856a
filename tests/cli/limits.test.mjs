// --max-connections at and past the limit: the sessions within it open, the next handshake
// gets 503 with a reason, and a freed slot is usable again.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { request, startServer } from "./helpers.mjs";

let server;
before(async () => {
  server = await startServer(["--max-connections", "2"]);
});
after(async () => {
  await server?.stop();
});

const EIO = "/socket.io/?EIO=4&transport=polling";

test("max-connections 2: two sessions open, the third gets 503, a closed one frees its slot", async () => {
  const sids = [];
  for (let i = 0; i < 2; i++) {
    const res = await request(server, EIO);
    assert.equal(res.status, 200, `session ${i + 1}: ${res.body}`);
    sids.push(JSON.parse(res.body.slice(1)).sid);
  }
  const third = await request(server, EIO);
  assert.equal(third.status, 503);
  assert.match(JSON.parse(third.body).message, /connection limit/);

  // A CLOSE packet ends one session; its slot is free for the next handshake.
  const closed = await request(server, `${EIO}&sid=${sids[0]}`, { method: "POST", body: "1" });
  assert.equal(closed.status, 200);
  let again;
  for (let i = 0; i < 20; i++) {
    again = await request(server, EIO);
    if (again.status === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(again.status, 200, again.body);
});
