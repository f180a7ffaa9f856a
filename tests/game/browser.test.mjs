// The game page (demo/game/, served by chorus-server at /game/) in Debian's Chromium through
// playwright-core, with the Chorus SDK from the wasm build tree: two pages in one room see
// each other, the keyboard moves a player as the other page sees it, a closed page's player
// is gone for the other within 2 s, a phone-sized page plays by touch, no page errors.
// Screenshots go to CHORUS_GAME_SHOTS (the build tree's game-screenshots/).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePort, launchBrowser, ROOT, startServer, tempDir } from "../e2e/harness.mjs";

let browser;
let server;
let tmp;
const contexts = [];
const shots = process.env.CHORUS_GAME_SHOTS ?? join(ROOT, "build", "game-screenshots");
mkdirSync(shots, { recursive: true });
const shoot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`) });

before(async () => {
  tmp = tempDir();
  // Two bots in every room: the pages must tell people from bots, and the pictures show a game.
  server = await startServer({ port: await freePort(), db: join(tmp.dir, "docs.db"), extra: ["--game-bots", "2"] });
  browser = await launchBrowser();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await server?.stop();
  tmp?.remove();
});

/** Opens /game/ in a context of its own and waits until the page has joined and drawn a snapshot. */
async function openGame({ name, room, viewport, mobile = false }) {
  const context = await browser.newContext({
    viewport: viewport ?? { width: 1200, height: 800 }, isMobile: mobile, hasTouch: mobile,
    deviceScaleFactor: mobile ? 2 : 1,
  });
  contexts.push(context);
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") page.errors.push(m.text()); });
  await page.goto(`${server.url}/game/?${new URLSearchParams({ name, room })}`);
  await page.waitForFunction(() => window.chorusGame?.me != null &&
    window.chorusGame.players().some((p) => p.id === window.chorusGame.me), null, { timeout: 20_000 });
  page.me = await page.evaluate(() => window.chorusGame.me);
  return page;
}

const players = (page) => page.evaluate(() => window.chorusGame.players());
const noErrors = (page) => assert.deepEqual(page.errors, [], "no script errors in the page");

describe("game page", () => {
  test("the editor links the game and the game links the editor", async () => {
    const editor = await (await fetch(`${server.url}/`)).text();
    assert.match(editor, /<a href="\/game\/">Game<\/a>/);
    const game = await (await fetch(`${server.url}/game/`)).text();
    assert.match(game, /<a href="\/">Editor<\/a>/);
    assert.match(game, /<script type="module" src="\/game\/game\.js">/);
    const js = await (await fetch(`${server.url}/game/game.js`)).text();
    assert.match(js, /from "\/chorus\/chorus\.mjs"/);
  });

  test("two pages in one room see both players; the keyboard moves one as the other sees it; a closed page's player leaves", async () => {
    const a = await openGame({ name: "Ada", room: "duo" });
    const b = await openGame({ name: "Bob", room: "duo" });
    for (const page of [a, b]) {
      await page.waitForFunction(([ida, idb]) => {
        const ps = window.chorusGame.players();
        return ps.some((p) => p.id === ida && p.name === "Ada") && ps.some((p) => p.id === idb && p.name === "Bob");
      }, [a.me, b.me], { timeout: 10_000 });
    }
    const list = await players(a);
    assert.equal(list.filter((p) => p.name.startsWith("bot-")).length, 2, "and the room's two bots");
    for (const p of list) for (const k of ["id", "name", "x", "y", "score"]) assert.ok(k in p, k);

    // Ada steers with the keyboard, away from the nearer wall; Bob's page sees her go.
    const start = (await players(b)).find((p) => p.id === a.me);
    const key = start.x < 600 ? "ArrowRight" : "ArrowLeft";
    await a.bringToFront();
    await a.keyboard.down(key);
    await b.waitForFunction(([id, x0, dir]) => {
      const p = window.chorusGame.players().find((q) => q.id === id);
      return p && (p.x - x0) * dir > 120;
    }, [a.me, start.x, key === "ArrowRight" ? 1 : -1], { timeout: 15_000 });
    await a.keyboard.up(key);
    // The scoreboard lists everyone with a latency column; the page has measured its own.
    await a.waitForFunction(() => /\d+ ms/.test(document.getElementById("me-latency").textContent), null,
      { timeout: 10_000 });
    const rows = await a.$$eval("#scores li", (lis) => lis.map((li) => li.textContent));
    assert.equal(rows.length, 4);
    assert.ok(rows.some((r) => r.includes("Ada (you)")), rows.join(" | "));
    await shoot(a, "desktop-ada");
    await shoot(b, "desktop-bob");

    // Bob closes his page: Ada's page loses him within 2 s.
    noErrors(b);
    const closed = Date.now();
    await b.context().close();
    await a.waitForFunction((id) => !window.chorusGame.players().some((p) => p.id === id), b.me, { timeout: 2_000 });
    assert.ok(Date.now() - closed < 2_000);
    noErrors(a);
  });

  test("a phone-sized page fits the screen and steers by touch", async () => {
    const phone = await openGame({ name: "Pia", room: "phone", viewport: { width: 390, height: 844 }, mobile: true });
    const box = await phone.locator("#arena").boundingBox();
    assert.ok(box.width <= 390 && box.width > 300, `canvas ${box.width} px wide`);
    assert.ok(box.y + box.height <= 844, "the arena is on screen");
    assert.ok(await phone.locator(".scoreboard").isVisible());
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(overflow, false, "no sideways scrolling");
    // Hold a finger on the far side of the arena from the player: it heads there.
    const me = (await players(phone)).find((p) => p.id === phone.me);
    const target = { x: me.x < 600 ? 1100 : 100, y: me.y };
    const px = box.x + (target.x / 1200) * box.width;
    const py = box.y + (target.y / 800) * box.height;
    const cdp = await phone.context().newCDPSession(phone);
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [{ x: px, y: py }] });
    await phone.waitForFunction(([id, x0, tx]) => {
      const p = window.chorusGame.players().find((q) => q.id === id);
      return p && Math.abs(p.x - x0) > 100 && Math.abs(p.x - tx) < Math.abs(x0 - tx);
    }, [phone.me, me.x, target.x], { timeout: 15_000 });
    await shoot(phone, "phone");
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    noErrors(phone);
  });
});
