// The JS-level e2e scenarios of support/scenarios.js (persistence across reload, learning changes the
// strip, consent gating, forget(), corrupted-state recovery, no request carries event data) in WebKit:
// Debian's WebKitGTK MiniBrowser driven by WebKitWebDriver (webkit2gtk-driver) over classic W3C WebDriver,
// on an Xvfb display, through the Playwright-like page of support/webkit.js (requests recorded by a proxy
// in front of `nextclick serve`, console messages by a capture script the proxy adds to every page and
// worker). Plus one check of what only the browser itself prints to the console (e.g. a CSP it rejects).
//
// Without WebKitWebDriver (or MiniBrowser, or Xvfb and a DISPLAY) the file skips with a message; under
// CI=true it fails.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { webkitMissing, consoleOfPage } from "../support/webkit.js";
import { setup, teardown, env, allow, SCENARIOS } from "../support/scenarios.js";
import { newShopper } from "../support/harness.js";

const missing = webkitMissing();

if (missing && process.env.CI === "true") {
  test("WebKit e2e: webkit2gtk-driver and xvfb are installed (required under CI=true)", () => assert.fail(missing));
} else if (missing) {
  console.log(`# e2e-webkit: SKIPPED, ${missing}`);
  test("WebKit e2e scenarios", { skip: missing }, () => {});
} else {
  before(() => setup("webkit"));
  after(teardown);
  // bounded: a page promise that never settles would otherwise hang the run (node:test has no default timeout)
  for (const [name, run] of SCENARIOS) test(`[webkit] ${name}`, { timeout: 240000 }, run);

  // WebKit puts the shop's pages into its back-forward cache (pagehide `persisted: true`) even with an
  // IndexedDB transaction in flight (the pagehide save), and keeps the transaction in flight there: every
  // later transaction on the store waited for it, so the next page's restore() hung holding the Web Lock
  // (`nextclick("ready")` never resolved; 1 in ~5 product pages). storage.js now suspends its IndexedDB
  // use at pagehide (packages/nextclick/sdk/storage.js `suspend`).
  test("[webkit] with the bfcache on, every product page's init completes (consent granted)", { timeout: 300000 }, async () => {
    const { context, page, log } = await newShopper(env.browser);
    await page.goto(`${env.server.base}/`);
    await page.evaluate(() => window.nextclick("ready"));
    await allow(page);
    for (let i = 0; i < 10; i++) {
      await page.goto(`${env.server.base}/c/kitchen`);
      await page.evaluate(() => addEventListener("pageshow", (e) => (window.__ncFromBfcache = e.persisted)));
      await page.locator(".grid a.card").nth(i).click();
      await page.waitForURL(/\/p\/p-\d{4}$/);
      const r = await page.evaluate(() =>
        Promise.race([
          window.nextclick("ready").then(() => null),
          new Promise((res) => setTimeout(res, 20000)).then(async () => JSON.stringify(await navigator.locks.query())),
        ]),
      );
      assert.equal(r, null, `navigation ${i + 1}: nextclick("ready") did not resolve in 20 s; Web Locks: ${r}`);
    }
    // the test means something only while WebKit does bfcache these pages: back to the last category page
    await page.goBack();
    await page.waitForURL(/\/c\/kitchen$/);
    assert.equal(await page.waitForFunction(() => window.__ncFromBfcache === true, null, { timeout: 5000 }), true, "the category page came back from the bfcache");
    assert.deepEqual(log.warnings.filter((w) => /Web Lock|IndexedDB/.test(w)), [], "no page waited out the lock or fell back from IndexedDB");
    assert.deepEqual(log.consoleErrors, []);
    assert.deepEqual(log.pageErrors, []);
    await context.close();
  });

  test("[webkit] the browser's own console stays clean on the shop's pages (every load succeeds, the CSP parses)", { timeout: 120000 }, async () => {
    // A non-automated MiniBrowser (an automation session's console never reaches stdout): what WebKit
    // itself reports, which the capture script cannot see. Through the proxy, to see that the SDK loaded.
    for (const p of ["/c/running", "/p/p-0001"]) {
      const log = { requests: [], documents: [], consoleErrors: [], warnings: [], pageErrors: [], csp: [] };
      env.browser.recordInto(log);
      let lines;
      try {
        const seen = (want) => log.requests.some((r) => new URL(r.url).pathname === want);
        lines = await consoleOfPage(`${env.server.base}${p}`, { until: () => seen("/pkg/nextclick_bg.wasm") && seen("/demo/catalog.bin") });
      } finally {
        env.browser.recordInto(null);
      }
      const paths = log.requests.map((r) => new URL(r.url).pathname);
      for (const want of ["/sdk/worker.js", "/pkg/nextclick_bg.wasm", "/demo/catalog.bin"]) assert.ok(paths.includes(want), `${p}: no request for ${want}: ${paths}`);
      const bad = lines.filter((l) => /CONSOLE (\w+ )?(ERROR|WARN)/.test(l));
      assert.deepEqual(bad, [], `${p}:\n${lines.join("\n")}`);
      assert.deepEqual([log.consoleErrors, log.warnings, log.pageErrors, log.csp], [[], [], [], []], JSON.stringify(log));
    }
  });
}
