// The collaborative editor end to end: demo/ served by chorus-server, several Chromium pages
// editing one document through the Chorus SDK, the server's copy read back from Node.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  buildDemo, converge, freePort, launchBrowser, loadCollab, moduleTypes, openEditor, pageState, randomEdits, ROOT,
  select, serverText, sleep, startServer, tempDir,
} from "./harness.mjs";

let browser;
let server;
let tmp;
const pages = [];

async function open(opts) {
  const page = await openEditor(browser, server.url, opts);
  pages.push(page);
  return page;
}

async function closeAll(list) {
  for (const page of list) {
    assert.deepEqual(page.errors.filter((e) => !/Failed to load resource|WebSocket|ERR_INTERNET_DISCONNECTED|net::/.test(e)), [],
      "no script errors in the page");
    await page.context().close();
    pages.splice(pages.indexOf(page), 1);
  }
}

before(async () => {
  await buildDemo();
  tmp = tempDir();
  server = await startServer({ port: await freePort(), db: join(tmp.dir, "docs.db") });
  browser = await launchBrowser();
});

after(async () => {
  for (const page of pages) await page.context().close().catch(() => {});
  await browser?.close();
  await server?.stop();
  tmp?.remove();
});

describe("collaborative editor", () => {
  test("serves the page, the SDK and the CRDT modules with browser-loadable types", async () => {
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="\/dist\/demo\.js">/);
    const bundle = await fetch(`${server.url}/dist/demo.js`);
    assert.equal(bundle.status, 200);
    assert.match(await bundle.text(), /from"\/chorus\/chorus\.mjs"|from "\/chorus\/chorus\.mjs"/);
    const types = await moduleTypes(server.url);
    assert.match(types["chorus.mjs"], /^200 (text|application)\/javascript/, "chorus.mjs must be served as JavaScript");
    assert.match(types["chorus_collab.mjs"], /^200 (text|application)\/javascript/);
    assert.match(types["chorus_collab.wasm"], /^200 application\/wasm/);
  });

  test("three pages typing at once (same spot too) end with the server's text", async () => {
    const doc = "e2e-three";
    const [a, b, c] = await Promise.all([
      open({ doc, name: "Ada" }), open({ doc, name: "Bob" }), open({ doc, name: "Cy" }),
    ]);
    // Real key presses first, all three at position 0 at the same time.
    await Promise.all([a, b, c].map(async (p, i) => {
      await select(p, 0);
      await p.keyboard.type(["one ", "two ", "three "][i], { delay: 5 });
    }));
    await Promise.all([a, b, c].map((p, i) => randomEdits(p, { count: 80, seed: 17 + i })));
    const text = await converge([a, b, c]);
    assert.ok(text.length > 50, `some text survived (${text.length} units)`);
    const copy = await serverText(server.url, doc);
    assert.equal(copy.text, text, "the server's copy equals the pages' text");
    copy.doc.free();
    // The three people see each other.
    const here = await a.evaluate(() => [...document.querySelectorAll("#people li")].map((li) => li.textContent));
    assert.equal(here.length, 3);
    await closeAll([a, b, c]);
  });

  test("a page that goes offline keeps its edits and merges them when it comes back", async () => {
    const doc = "e2e-offline";
    const [a, b] = await Promise.all([open({ doc, name: "Online" }), open({ doc, name: "Offline" })]);
    await randomEdits(a, { count: 30, seed: 5 });
    await converge([a, b]);

    await b.context().setOffline(true);
    await b.waitForFunction(() => !window.chorusDemo.sync.joined);
    await Promise.all([randomEdits(a, { count: 40, seed: 6 }), randomEdits(b, { count: 40, seed: 7 })]);
    await select(b, await b.evaluate(() => window.chorusDemo.view.state.doc.length));
    await b.keyboard.type(" written offline", { delay: 5 });
    // The status pill says so, with the number of edits waiting.
    const pill = await b.locator("#status").textContent();
    assert.match(pill, /Offline|Reconnecting/);
    assert.match(pill, /\d+ edits? waiting/);
    const waiting = await b.evaluate(() => window.chorusDemo.sync.waitingEdits);
    assert.ok(waiting >= 40, `edits kept while offline (${waiting})`);
    // Nothing of b's reached a.
    assert.ok(!(await pageState(a)).editor.includes("written offline"));

    await b.context().setOffline(false);
    const text = await converge([a, b], 20_000);
    assert.ok(text.includes("written offline"), "the offline edits were merged");
    assert.match(await b.locator("#status").textContent(), /Connected/);
    assert.equal((await serverText(server.url, doc)).text, text);
    await closeAll([a, b]);
  });

  test("offline edits survive a reload: the page keeps them in IndexedDB and merges them when it comes back", async () => {
    const doc = "e2e-offline-reload";
    const [a, b] = await Promise.all([open({ doc, name: "Online" }), open({ doc, name: "Reloader" })]);
    await randomEdits(a, { count: 20, seed: 11 });
    await converge([a, b]);

    const context = b.context();
    await context.setOffline(true);
    await b.waitForFunction(() => !window.chorusDemo.sync.joined);
    await Promise.all([randomEdits(a, { count: 30, seed: 12 }), randomEdits(b, { count: 30, seed: 13 })]);
    await select(b, await b.evaluate(() => window.chorusDemo.view.state.doc.length));
    await b.keyboard.type(" kept across a reload", { delay: 5 });
    const waiting = await b.evaluate(() => window.chorusDemo.sync.waitingEdits);
    assert.ok(waiting >= 30, `edits waiting (${waiting})`);
    await b.evaluate(() => window.chorusDemo.store.flushed());
    // The tab goes while offline: only IndexedDB has its edits now.
    await b.close();
    pages.splice(pages.indexOf(b), 1);
    assert.ok(!(await pageState(a)).editor.includes("kept across a reload"));

    await context.setOffline(false);
    const again = await context.newPage();
    again.errors = [];
    again.on("pageerror", (e) => again.errors.push(e.message));
    again.on("console", (m) => { if (m.type() === "error") again.errors.push(m.text()); });
    pages.push(again);
    await again.goto(`${server.url}/?${new URLSearchParams({ doc, name: "Reloader" })}`);
    await again.waitForFunction(() => window.chorusDemo?.sync?.joined === true, null, { timeout: 20_000 });
    const text = await converge([a, again], 20_000);
    assert.ok(text.includes("kept across a reload"), "the kept edits were merged");
    assert.equal((await serverText(server.url, doc)).text, text);
    // The page said so, with the number of edits it had kept.
    await again.waitForFunction(() => window.chorusDemo.toasts.some((t) => /edits? merged/.test(t)), null, { timeout: 20_000 });
    // A second reload, everything acknowledged: the kept copy adds nothing twice.
    await again.evaluate(() => window.chorusDemo.store.compact());
    await again.reload();
    await again.waitForFunction(() => window.chorusDemo?.sync?.joined === true, null, { timeout: 20_000 });
    assert.equal(await converge([a, again], 20_000), text);
    await closeAll([a, again]);
  });

  test("remote cursors and selections are drawn at the right place with the user's name", async () => {
    const doc = "e2e-cursors";
    const [a, b] = await Promise.all([open({ doc, name: "Anna" }), open({ doc, name: "Bruno" })]);
    await a.evaluate(() => window.chorusDemo.view.dispatch({ changes: { from: 0, insert: "Hello world, cursors here.\nSecond line" } }));
    await converge([a, b]);

    const caretAt = (page, name) => page.evaluate((n) => {
      const el = document.querySelector(`.cm-remote-caret[data-name="${n}"]`);
      return el ? window.chorusDemo.view.posAtDOM(el) : null;
    }, name);

    await select(b, 6);  // before "world"
    await a.waitForFunction(() => document.querySelector('.cm-remote-caret[data-name="Bruno"]'));
    await a.waitForFunction(() => {
      const el = document.querySelector('.cm-remote-caret[data-name="Bruno"]');
      return window.chorusDemo.view.posAtDOM(el) === 6;
    }, null, { timeout: 20_000 });
    assert.equal(await caretAt(a, "Bruno"), 6);
    assert.equal(await a.locator('.cm-remote-caret[data-name="Bruno"] .cm-remote-label').textContent(), "Bruno");

    // Text typed before it by someone else moves it along: the position is relative.
    await a.evaluate(() => window.chorusDemo.view.dispatch({ changes: { from: 0, insert: ">> " } }));
    await a.waitForFunction(() =>
      window.chorusDemo.view.posAtDOM(document.querySelector('.cm-remote-caret[data-name="Bruno"]')) === 9);
    await converge([a, b]);

    // A selection: highlighted over exactly the selected text, caret at its head.
    await select(b, 9, 14);  // "world"
    await a.waitForFunction(() => [...document.querySelectorAll(".cm-remote-selection")].map((e) => e.textContent).join("") === "world",
      null, { timeout: 20_000 });
    assert.equal(await caretAt(a, "Bruno"), 14);
    // And b sees a's caret too once a moves.
    await select(a, 3);
    await b.waitForFunction(() => {
      const el = document.querySelector('.cm-remote-caret[data-name="Anna"]');
      return el && window.chorusDemo.view.posAtDOM(el) === 3;
    }, null, { timeout: 20_000 });
    // Presence list and typing indicator.
    await select(b, 0);
    await b.keyboard.type("typing", { delay: 20 });
    await a.waitForFunction(() => /Bruno is typing/.test(document.getElementById("typing").textContent), null, { timeout: 20_000 });
    await closeAll([a, b]);
  });

  for (const transport of ["sse", "polling"]) {
    test(`works the same over ${transport}`, async () => {
      const doc = `e2e-${transport}`;
      const [a, b] = await Promise.all([open({ doc, name: "One", transport }), open({ doc, name: "Two", transport })]);
      const used = await a.evaluate(() => window.chorusDemo.docSocket.io.engine?.transport?.name);
      assert.equal(used, transport);
      await Promise.all([randomEdits(a, { count: 60, seed: 31 }), randomEdits(b, { count: 60, seed: 32 })]);
      const text = await converge([a, b]);
      assert.equal((await serverText(server.url, doc)).text, text);
      await select(b, 1);
      await a.waitForFunction(() => document.querySelector('.cm-remote-caret[data-name="Two"]'), null, { timeout: 20_000 });
      await closeAll([a, b]);
    });
  }

  test("undo takes back only this user's edits", async () => {
    const doc = "e2e-undo";
    const [a, b] = await Promise.all([open({ doc, name: "Undoer" }), open({ doc, name: "Other" })]);
    await select(b, 0);
    await b.keyboard.type("kept ", { delay: 5 });
    await converge([a, b]);
    await select(a, 5);
    await a.keyboard.type("gone", { delay: 5 });
    await converge([a, b]);
    await a.keyboard.press("Control+z");
    assert.equal(await converge([a, b]), "kept ");
    await a.keyboard.press("Control+y");
    assert.equal(await converge([a, b]), "kept gone");
    await closeAll([a, b]);
  });

  test("chat messages and join/leave toasts reach the others", async () => {
    const doc = "e2e-chat";
    const a = await open({ doc, name: "Host" });
    const b = await open({ doc, name: "Guest" });
    await a.waitForFunction(() => window.chorusDemo.toasts.some((t) => /Guest joined/.test(t)), null, { timeout: 20_000 });
    await b.fill("#chat-input", "hello there");
    await b.press("#chat-input", "Enter");
    await a.waitForFunction(() => /hello there/.test(document.getElementById("messages").textContent), null, { timeout: 20_000 });
    await closeAll([b]);
    await a.waitForFunction(() => window.chorusDemo.toasts.some((t) => /Guest left/.test(t)), null, { timeout: 20_000 });
    await closeAll([a]);
  });

  // A closed tab says goodbye on pagehide: without it a long-poll (the first transport, before
  // the upgrade) or an SSE stream was only noticed at the heartbeat timeout, 45 s later.
  for (const transport of ["polling", "sse", "websocket"]) {
    test(`a closed tab leaves the others' presence at once (${transport})`, async () => {
      const doc = `e2e-leave-${transport}`;
      const a = await open({ doc, name: "Stays" });
      const b = await open({ doc, name: "Goes", transport });
      const present = (name) => [...window.chorusDemo.sync.peers.values()].some((s) => s.user?.name === name);
      await a.waitForFunction(present, "Goes", { timeout: 10_000 });
      assert.equal(await b.evaluate(() => window.chorusDemo.docSocket.io.engine?.transport?.name), transport);
      await closeAll([b]);
      // Well under the heartbeat timeout (45 s) even on a loaded machine; typically < 1 s.
      await a.waitForFunction((name) => ![...window.chorusDemo.sync.peers.values()].some((s) => s.user?.name === name),
        "Goes", { timeout: 20_000 });
      await closeAll([a]);
    });
  }

  test("kill -9 of the server loses no acknowledged edit", async () => {
    const dir = tempDir();
    const db = join(dir.dir, "crash.db");
    const port = await freePort();
    let own = await startServer({ port, db });
    const doc = "e2e-crash";
    try {
      const page = await openEditor(browser, own.url, { doc, name: "Writer" });
      pages.push(page);
      await page.evaluate(() => { window.chorusDemo.sync.recordAcks = true; });
      // Type continuously; kill the server in the middle of it.
      const typing = randomEdits(page, { count: 400, seed: 99, pauseMs: 3 });
      await page.waitForFunction(() => window.chorusDemo.sync.acked.length >= 20, null, { timeout: 10_000 });
      await own.crash();
      await typing;
      await page.waitForFunction(() => !window.chorusDemo.sync.joined);
      const acked = await page.evaluate(() => window.chorusDemo.sync.acked.map((u) => Array.from(u)));
      const waiting = await page.evaluate(() => window.chorusDemo.sync.waitingEdits);
      assert.ok(acked.length >= 20);
      // Keep the page away while the restarted server is inspected alone.
      await page.context().setOffline(true);

      own = await startServer({ port, db });
      const { doc: copy } = await serverText(own.url, doc);
      const before = copy.stateVector().join();
      for (const update of acked) {
        const delta = copy.applyUpdate(new Uint8Array(update));
        assert.deepEqual(delta, [], "an acknowledged update was missing from the restarted server");
      }
      assert.equal(copy.stateVector().join(), before, "the restarted server had every acknowledged edit");
      copy.free();

      // The page comes back and brings what was never acknowledged.
      await page.context().setOffline(false);
      const text = await converge([page], 20_000);
      assert.equal((await serverText(own.url, doc)).text, text);
      assert.ok(waiting >= 0);
      await closeAll([page]);
    } finally {
      await own.stop();
      dir.remove();
    }
  });
});

test("the collab module loads under Node too", async () => {
  const { Doc } = await loadCollab();
  const d = new Doc();
  d.insert(0, "ok");
  assert.equal(d.text, "ok");
  d.free();
  await sleep(0);
});

// A short network drop with connection state recovery (chorus-server: on by default): the page
// comes back with its socket id and the document's room, the server kept it in the document
// (--leave-grace-ms) and replays what it missed; nobody sees it leave or join, and it neither
// joins again nor resyncs. Screenshots go to build/e2e-screenshots/.
describe("a network drop and connection state recovery", () => {
  const shots = join(ROOT, "build", "e2e-screenshots");
  const shoot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`) });
  const present = (name) => [...window.chorusDemo.sync.peers.values()].some((s) => s.user?.name === name);
  // Records, from now on, every toast shown and every join/leave the page's DocSync reports.
  const watch = (page) => page.evaluate(() => {
    window.toastLog = [];
    window.presenceLog = [];
    new MutationObserver((changes) => {
      for (const c of changes) for (const n of c.addedNodes) window.toastLog.push(n.textContent);
    }).observe(document.getElementById("toasts"), { childList: true });
    window.chorusDemo.sync.on("join", (id, s) => window.presenceLog.push(`join ${s.user?.name}`));
    window.chorusDemo.sync.on("leave", (id, s) => window.presenceLog.push(`leave ${s.user?.name}`));
  });
  const logs = (page) => page.evaluate(() => ({ toasts: window.toastLog, presence: window.presenceLog }));
  const stats = (page) => page.evaluate(() => ({ ...window.chorusDemo.sync.stats }));

  // Two pages on one document, B already announced to A and A to B; A can be dropped.
  async function twoPages(base, doc) {
    const b = await openEditor(browser, base, { doc, name: "Bea" });
    pages.push(b);
    await watch(b);
    const a = await openEditor(browser, base, { doc, name: "Al", transport: "websocket", dropSwitch: true });
    pages.push(a);
    await watch(a);
    await b.waitForFunction(present, "Al", { timeout: 10_000 });
    await a.waitForFunction(present, "Bea", { timeout: 10_000 });
    await b.waitForFunction(() => window.toastLog.includes("Al joined"), null, { timeout: 10_000 });
    for (const p of [a, b]) await p.evaluate(() => { window.toastLog.length = 0; window.presenceLog.length = 0; });
    return { a, b };
  }

  // Drops A's transport and keeps it away while B types `text` (acknowledged by the server).
  async function dropWhileBTypes(a, b, text) {
    const closed = await a.evaluate(() => {
      window.chorusTest.blocked = true;
      return window.chorusTest.drop();
    });
    assert.ok(closed >= 1, "A had a WebSocket to drop");
    await a.waitForFunction(() => !window.chorusDemo.sync.joined, null, { timeout: 10_000 });
    await select(b, await b.evaluate(() => window.chorusDemo.view.state.doc.length));
    await b.keyboard.type(text);
    await b.waitForFunction((t) => window.chorusDemo.sync.pending.length === 0 && window.chorusDemo.doc.text.includes(t),
      text, { timeout: 10_000 });
    assert.ok(!(await pageState(a)).editor.includes(text), "A is away");
  }

  test("a short drop shows no leave or join, no resync, and A gets B's edits", async () => {
    mkdirSync(shots, { recursive: true });
    const dir = tempDir();
    // A long grace, so that a busy machine cannot make the drop outlast it.
    const own = await startServer({ port: await freePort(), db: join(dir.dir, "r.db"), extra: ["--leave-grace-ms", "60000"] });
    try {
      const { a, b } = await twoPages(own.url, "e2e-recovered");
      const id = await a.evaluate(() => window.chorusDemo.docSocket.id);
      const before = await stats(a);
      await dropWhileBTypes(a, b, "typed while Al was away");
      await shoot(a, "recovery-short-drop-a-away");
      await a.evaluate(() => { window.chorusTest.blocked = false; });
      await a.waitForFunction(() => window.chorusDemo.sync.joined, null, { timeout: 20_000 });
      const back = await a.evaluate(() => ({ recovered: window.chorusDemo.docSocket.recovered, id: window.chorusDemo.docSocket.id }));
      assert.deepEqual(back, { recovered: true, id }, "A's session was recovered");
      const after = await stats(a);
      assert.equal(after.rejoins, before.rejoins, "A did not join the document again");
      assert.equal(after.resumes, before.resumes + 1);
      // A types after its return: once B has that, B has everything the server said about A.
      await select(a, 0);
      await a.keyboard.type("Al is back. ");
      const text = await converge([a, b]);
      assert.match(text, /^Al is back\. .*typed while Al was away/s);
      assert.equal(await a.evaluate(present, "Bea"), true, "A still sees B");
      assert.equal(await b.evaluate(present, "Al"), true, "B still sees A");
      assert.deepEqual(await logs(b), { toasts: [], presence: [] }, "B saw A neither leave nor join");
      assert.deepEqual(await logs(a), { toasts: [], presence: [] }, "A showed no toast (no \"Back online\")");
      await shoot(a, "recovery-short-drop-a-back");
      await shoot(b, "recovery-short-drop-b");
      await closeAll([a, b]);
    } finally {
      await own.stop();
      dir.remove();
    }
  });

  test("a drop longer than the recovery window still shows leave and join", async () => {
    mkdirSync(shots, { recursive: true });
    const dir = tempDir();
    // Recovery for 1.5 s (the grace is at most that): the drop below outlasts both.
    const own = await startServer({ port: await freePort(), db: join(dir.dir, "l.db"), extra: ["--recovery-ms", "1500"] });
    try {
      const { a, b } = await twoPages(own.url, "e2e-not-recovered");
      const before = await stats(a);
      await dropWhileBTypes(a, b, "typed while Al was gone");
      // The toast comes 2.5 s after the leave, itself 1.5 s after the drop: the session is gone.
      await b.waitForFunction(() => window.toastLog.includes("Al left"), null, { timeout: 20_000 });
      await shoot(b, "recovery-long-drop-b-left");
      await a.evaluate(() => { window.chorusTest.blocked = false; });
      await a.waitForFunction(() => window.chorusDemo.sync.joined, null, { timeout: 20_000 });
      assert.equal(await a.evaluate(() => window.chorusDemo.docSocket.recovered), false);
      assert.equal((await stats(a)).rejoins, before.rejoins + 1, "A joined the document again");
      await b.waitForFunction(() => window.toastLog.includes("Al joined"), null, { timeout: 20_000 });
      assert.deepEqual(await logs(b), { toasts: ["Al left", "Al joined"], presence: ["leave Al", "join Al"] });
      assert.match(await converge([a, b]), /typed while Al was gone/);
      await shoot(b, "recovery-long-drop-b-joined");
      await closeAll([a, b]);
    } finally {
      await own.stop();
      dir.remove();
    }
  });
});
