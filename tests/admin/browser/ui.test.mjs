// The official Socket.IO Admin UI (@socket.io/admin-ui's built files, served by chorus-server
// at /admin/) in Chromium: its connection form logs in to chorus-server's /admin namespace,
// and its Sockets page lists the sockets connected to the server. CHORUS_ADMIN_UI names the
// UI's folder; CHORUS_ADMIN_SCREENSHOT (optional) where to save the Sockets page as a PNG.
import { test } from "node:test";
import assert from "node:assert/strict";
import { client, connected, startServer } from "../../cli/helpers.mjs";
import { launchBrowser } from "../../e2e/harness.mjs";

const HASH = "$2b$04$Ol9.P2cvUKUqSrxDYbjKL.vDTV8lxEEU.pMFWU.1xQgBza4RGYOri"; // "changeit"

test("the Admin UI logs in and lists the connected sockets", async () => {
  const srv = await startServer(["--admin-auth", `admin:${HASH}`, "--admin-ui", process.env.CHORUS_ADMIN_UI]);
  const sockets = [];
  const browser = await launchBrowser();
  try {
    for (const who of ["alice", "bob"]) {
      const s = client(srv, { query: { who } });
      sockets.push(s);
      await connected(s);
      s.emit("join", "lobby");
    }
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    // The UI's own fonts and icons come from CDNs that tests do not reach.
    await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
    await page.goto(`${srv.url}/admin/`);
    await page.getByLabel("Server URL").fill(srv.url);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("changeit");
    await page.getByRole("button", { name: /connect/i }).click();
    // Logged in: the dashboard lists the namespaces that server_stats reports.
    await page.getByText("/admin", { exact: true }).first().waitFor({ timeout: 15_000 });
    await page.getByText("Sockets", { exact: true }).first().click();
    for (const s of sockets) await page.getByText(s.id).first().waitFor({ timeout: 15_000 });
    if (process.env.CHORUS_ADMIN_SCREENSHOT) await page.screenshot({ path: process.env.CHORUS_ADMIN_SCREENSHOT });
    // A wrong password: the form says so.
    const other = await browser.newPage();
    await other.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
    await other.goto(`${srv.url}/admin/`);
    await other.getByLabel("Server URL").fill(srv.url);
    await other.getByLabel("Username").fill("admin");
    await other.getByLabel("Password").fill("wrong");
    await other.getByRole("button", { name: /connect/i }).click();
    await other.getByText(/invalid credentials/i).waitFor({ timeout: 15_000 });
    assert.equal(await other.getByText("/admin", { exact: true }).count(), 0); // not logged in
  } finally {
    await browser.close();
    for (const s of sockets) s.close();
    await srv.stop();
  }
});
