// The split-catalog scenarios of support/scenarios.js (SPLIT_SCENARIOS; catalog format v3, lazy Range
// loading — test/e2e-split.test.js runs them in Chromium and Firefox) in WebKit: Debian's WebKitGTK
// MiniBrowser driven by WebKitWebDriver over classic W3C WebDriver on an Xvfb display (support/webkit.js).
// The demo's /demo/shop.js is rewritten to init with `catalog` = the split head and `catalogBody` = the body
// by the recording proxy in front of `nextclick serve` (its `context.route`, where Playwright routes in the
// browser), and every request, Range header included, is seen there:
// * the page downloads the head whole and only single Range requests of the body — a part of the body,
//   counted in status().downloaded.catalogChunks;
// * no request carries events (same-origin GETs, no query string, no body: the proxy sees request bodies);
// * the state persists (consent granted) and comes back on the next page view through the chunks it names;
// * forget() erases the stored state and drops every resident chunk.
//
// Without WebKitWebDriver (or MiniBrowser, or Xvfb and a DISPLAY) the file skips with a message; under
// CI=true it fails.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { webkitMissing } from "../support/webkit.js";
import { setup, teardown, makeSplitCatalog, removeSplitCatalog, SPLIT_SCENARIOS } from "../support/scenarios.js";

const missing = webkitMissing();

if (missing && process.env.CI === "true") {
  test("WebKit split-catalog e2e: webkit2gtk-driver and xvfb are installed (required under CI=true)", () => assert.fail(missing));
} else if (missing) {
  console.log(`# e2e-webkit-split: SKIPPED, ${missing}`);
  test("WebKit split-catalog e2e", { skip: missing }, () => {});
} else {
  before(() => setup("webkit", {}, { models: makeSplitCatalog() }));
  after(async () => {
    await teardown();
    removeSplitCatalog();
  });
  // bounded: a page promise that never settles would otherwise hang the run (node:test has no default timeout)
  for (const [name, run] of SPLIT_SCENARIOS) test(`[webkit] ${name}`, { timeout: 240000 }, () => run());
}
