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

// Firefox keeps a page in its back-forward cache even while it is inside
// `navigator.locks.request("nextclick:<shop>")` (e.g. the pagehide save awaiting IndexedDB and the worker),
// with the lock held; Chromium does not bfcache such pages. Before the SDK bounded its lock use
// (packages/nextclick/sdk/nextclick.js withLock: released at pagehide, its queued requests withdrawn, never awaited for more than 2 s, the write a
// compare-and-swap), the next page's init waited for that lock forever (2–3 of 8 navigations). The
// scenarios and the test below therefore run with Firefox's bfcache on (its default).

if (missing && process.env.CI === "true") {
  test("Firefox e2e: firefox-esr is installed (required under CI=true)", () => assert.fail(missing));
} else if (missing) {
  console.log(`# e2e-firefox: SKIPPED, ${missing}`);
  test("Firefox e2e scenarios", { skip: missing }, () => {});
} else {
  before(() => setup("firefox"));
  after(teardown);
  for (const [name, run] of SCENARIOS) test(`[firefox] ${name}`, run);

  test("[firefox] with the bfcache on, every product page's init completes (consent granted)", async () => {
    const browser = await launchBrowser("firefox");
    try {
      const { page, log } = await newShopper(browser);
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
        // and not merely thanks to the 2 s bound: the pages in the bfcache (frozen, they can release nothing)
        // let go of the lock at pagehide, so it comes free. A page that took the lock into the bfcache would
        // hold it for good. (Whether this page's init waited past 2 s depends on the machine's load — the old
        // page's pagehide runs in another process — so the SDK's warning is reported, not asserted on.)
        // The defect is another client holding the lock throughout: this page's own saves may take it again
        // and again on a loaded machine, so its own client (found with a probe lock) is left out, and a
        // client counts as stuck only if it held the lock at every poll of the 10 s.
        const held = await page.evaluate(async () => {
          const probe = `nextclick-test-probe-${Math.random()}`;
          const self = await navigator.locks.request(probe, async () => {
            const q = await navigator.locks.query();
            return (q.held || []).find((l) => l.name === probe)?.clientId;
          });
          const deadline = Date.now() + 10000;
          let stuck = null; // clients other than this page that held the lock at every poll so far
          for (;;) {
            const q = await navigator.locks.query();
            const others = new Set(
              (q.held || [])
                .filter((l) => l.name.startsWith("nextclick:") && (self === undefined || l.clientId !== self))
                .map((l) => l.clientId ?? "unknown client"),
            );
            stuck = stuck === null ? others : new Set([...stuck].filter((c) => others.has(c)));
            if (stuck.size === 0) return null;
            if (Date.now() > deadline) return `${JSON.stringify(q)} (this page: ${self})`;
            await new Promise((res) => setTimeout(res, 100));
          }
        });
        assert.equal(held, null, `navigation ${i + 1}: another client held the shop's Web Lock for 10 s (a page in the bfcache?): ${held}`);
      }
      const waited = log.warnings.filter((w) => /Web Lock/.test(w));
      if (waited.length) console.log(`# ${waited.length} of 10 product pages waited out the 2 s lock bound (slow pagehide under load)`);
    } finally {
      await browser.close();
    }
  });
}
