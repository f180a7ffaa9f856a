// Epochs in the editor, end to end: a page edits offline while another deletes most of the
// document and leaves; the server, finding the document unused and mostly tombstones, starts a
// new epoch; the offline page comes back, is refused, carries its edits over, loads the new
// epoch and converges with the server. Chromium pages on demo/ served by chorus-server.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";
import { io } from "socket.io-client";
import {
  buildDemo, converge, freePort, launchBrowser, openEditor, select, serverText, sleep, startServer, tempDir,
} from "./harness.mjs";

let browser;
let server;
let tmp;

before(async () => {
  await buildDemo();
  tmp = tempDir();
  server = await startServer({
    port: await freePort(), db: join(tmp.dir, "docs.db"),
    // A short heartbeat: the server notices the offline page's vanished connection in seconds.
    extra: ["--doc-idle-unload-ms", "300", "--doc-epoch-min-deleted", "50", "--leave-grace-ms", "0",
      "--ping-interval", "1000", "--ping-timeout", "1500"],
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  tmp?.remove();
});

// The document's epoch as the server sees it, read by a join that names epoch 0 with a
// non-empty state vector (refused with the current epoch once it is past 0), then left.
async function serverEpoch(name) {
  const s = io(`${server.url}/docs`, { transports: ["websocket"], forceNew: true, reconnection: false });
  try {
    await new Promise((ok, fail) => { s.once("connect", ok); s.once("connect_error", fail); });
    const oneClient = new Uint8Array([1, 7, 1]);  // state vector: client 7 at clock 1
    const ack = await s.emitWithAck("doc:join", name, oneClient, 0);
    if (ack.ok) await s.emitWithAck("doc:leave", name);
    return ack.epoch;
  } finally {
    s.disconnect();
  }
}

test("a page offline across an epoch change carries its edits over and loads the new epoch", async () => {
  const doc = "e2e-epoch";
  const a = await openEditor(browser, server.url, { doc, name: "Writer" });
  const b = await openEditor(browser, server.url, { doc, name: "Traveller" });
  await select(a, 0);
  await a.keyboard.type("A long first draft that will mostly be deleted again. ".repeat(3), { delay: 1 });
  await converge([a, b]);

  // B goes offline and types at the end.
  const context = b.context();
  await context.setOffline(true);
  await b.waitForFunction(() => !window.chorusDemo.sync.joined);
  await select(b, await b.evaluate(() => window.chorusDemo.view.state.doc.length));
  await b.keyboard.type(" Written on the train.", { delay: 5 });

  // A replaces nearly everything, then leaves: the document is unused and mostly tombstones.
  const length = await a.evaluate(() => window.chorusDemo.view.state.doc.length);
  await select(a, 0, length - 10);
  await a.keyboard.type("Second draft. ", { delay: 2 });
  await a.waitForFunction(() => window.chorusDemo.sync.waitingEdits === 0);
  const written = await a.evaluate(() => window.chorusDemo.view.state.doc.toString());
  await a.context().close();

  // The server starts epoch 1 once the document leaves memory.
  let epoch = 0;
  const deadline = Date.now() + 20_000;
  while (epoch === 0 && Date.now() < deadline) {
    await sleep(400);
    epoch = await serverEpoch(doc);
  }
  assert.equal(epoch, 1, "the server started a new epoch");

  // B comes back: refused, carries its edits over, reloads into epoch 1.
  await context.setOffline(false);
  await b.waitForFunction(() => window.chorusDemo?.sync?.epoch === 1 && window.chorusDemo.sync.joined === true,
    null, { timeout: 30_000 });
  const text = await converge([b], 20_000);
  assert.equal((await serverText(server.url, doc)).text, text);
  assert.ok(text.includes("Written on the train."), `the offline edit arrived: ${JSON.stringify(text)}`);
  assert.ok(text.startsWith("Second draft."), `the new epoch's text is the server's: ${JSON.stringify(text)}`);
  assert.ok(!text.includes("first draft that will mostly"), "what A deleted stays deleted");
  assert.ok(written.length > 0);
  assert.deepEqual(b.errors.filter((e) => !/Failed to load resource|WebSocket|ERR_INTERNET_DISCONNECTED|net::/.test(e)), []);
  await context.close();
});
