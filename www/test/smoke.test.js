// Release-style smoke test of the README's main command: `make demo` (from the repository root, as a
// newcomer runs it) prints its URL, the page loads in Chromium with zero console errors, and a prediction
// appears. In `make test` the wasm and the serve binary are already built, so `make demo` only checks them
// (its setup step is idempotent) and starts the server; on a fresh clone it builds them first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { REPO, launchBrowser, newShopper, stripIds } from "../support/harness.js";

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

test("make demo prints its URL; the demo loads with zero console errors and shows a prediction", { timeout: 40 * 60 * 1000 }, async () => {
  const port = await freePort();
  const make = spawn("make", ["--no-print-directory", "demo", `PORT=${port}`], { cwd: REPO, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  make.stdout.on("data", (d) => (out += d));
  make.stderr.on("data", (d) => (out += d));
  const exited = new Promise((r) => make.on("exit", (code) => r(code)));
  let browser;
  try {
    const url = await Promise.race([
      (async () => {
        for (;;) {
          const m = out.match(/nextclick serve: .* on (http:\/\/127\.0\.0\.1:\d+\/)/);
          if (m) return m[1];
          await new Promise((r) => setTimeout(r, 200));
        }
      })(),
      exited.then((code) => {
        throw new Error(`make demo exited (${code}) before printing its URL:\n${out.slice(-3000)}`);
      }),
    ]);
    assert.equal(url, `http://127.0.0.1:${port}/`);
    browser = await launchBrowser("chromium");
    const { page, log } = await newShopper(browser);
    await page.goto(url);
    await page.evaluate(() => window.nextclick("ready"));
    // a category, then a product page: its view is auto-captured and the suggestion strip fills
    await page.goto(`${url}c/kitchen`);
    await page.locator(".grid a.card").first().click();
    await page.waitForURL(/\/p\/p-\d{4}$/);
    await page.evaluate(() => window.nextclick("ready"));
    await page.waitForFunction(() => document.getElementById("nc-strip").shadowRoot.querySelectorAll("a[data-item-id]").length > 0, null, { timeout: 60000 });
    assert.ok((await stripIds(page)).length > 0, "a prediction appears");
    const st = await page.evaluate(() => window.nextclick("status"));
    assert.equal(st.disabled, null, `the engine is running: ${st.disabled}`);
    assert.deepEqual(log.consoleErrors, [], "zero console errors");
    assert.deepEqual(log.pageErrors, [], "zero page errors");
  } finally {
    if (browser) await browser.close();
    try {
      process.kill(-make.pid, "SIGTERM"); // make and the server it started
    } catch {
      /* already gone */
    }
    await exited;
  }
});
