// A split catalog (format version 3, issue #20) end to end in headless Debian Chromium and Firefox ESR (when
// installed; under CI=true it must be), through the SDK as a
// shop uses it: the demo shop with its catalog split by `nextclick split-catalog` (a head, and a body served
// by `nextclick serve` with HTTP Range support), the init options `catalog` = the head and `catalogBody`.
// The first two checks are support/scenarios.js's SPLIT_SCENARIOS, which test/e2e-webkit-split.test.js runs in
// WebKit too:
// * the page downloads the head whole and only Range requests of the body: the lists its queries probe,
//   the item blocks of the products it shows, the directory buckets of the products it is told about —
//   a part of the body, counted in status().downloaded.catalogChunks;
// * no request carries events (GETs of the shop's own files, no query string, no body; a Range header names
//   bytes of the body file);
// * the state persists (consent granted) and comes back on the next page view through the chunks it names;
// * forget() erases the stored state and drops every resident chunk.
// Chromium only: a server without Range support, and a tampered body.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { newShopper, status, launchBrowser, firefoxMissing } from "../support/harness.js";
import { setup, teardown, env, waitForStrip, makeSplitCatalog, removeSplitCatalog, split, withSplitCatalog, SPLIT_SCENARIOS } from "../support/scenarios.js";

const browsers = { chromium: null, firefox: null };
const noFirefox = firefoxMissing();
if (noFirefox && process.env.CI !== "true") console.log(`# e2e-split: Firefox SKIPPED, ${noFirefox}`);

before(async () => {
  await setup("chromium", {}, { models: makeSplitCatalog() });
  browsers.chromium = env.browser;
  if (!noFirefox) browsers.firefox = await launchBrowser("firefox");
});
after(async () => {
  if (browsers.firefox) await browsers.firefox.close();
  await teardown();
  removeSplitCatalog();
});

for (const name of ["chromium", "firefox"]) {
  const missing = name === "firefox" ? noFirefox : null;
  const skip = missing && process.env.CI !== "true" ? missing : false;
  for (const [title, run] of SPLIT_SCENARIOS) {
    test(`[${name}] ${title}`, { timeout: 120000, skip }, async () => {
      assert.equal(missing, null, missing);
      await run(browsers[name]);
    });
  }
}

test("[chromium] a server without Range support, and a tampered body: warnings, the page goes on", { timeout: 120000 }, async () => {
  const whole = fs.readFileSync(path.join(split.dir, "catalog-split.body.bin"));
  for (const mode of ["no-range", "tampered"]) {
    const { context, page, log } = await newShopper(browsers.chromium);
    await withSplitCatalog(context);
    await context.route("**/models/catalog-split.body.bin", async (route) => {
      if (mode === "no-range") return route.fulfill({ status: 200, contentType: "application/octet-stream", body: whole });
      const m = /^bytes=(\d+)-(\d+)$/.exec(route.request().headers().range || "");
      const part = Buffer.from(whole.subarray(+m[1], +m[2] + 1));
      part[part.length >> 1] ^= 0xff; // every chunk fails its SHA-256
      return route.fulfill({ status: 206, contentType: "application/octet-stream", headers: { "Content-Range": `bytes ${m[1]}-${m[2]}/${whole.length}` }, body: part });
    });
    await page.goto(`${env.server.base}/p/p-0010`);
    await page.evaluate(() => window.nextclick("ready"));
    if (mode === "no-range") {
      await waitForStrip(page);
      // once (a worker's console message can reach the log twice: from the page and from the worker)
      assert.equal(new Set(log.warnings.filter((w) => /without Range support/.test(w))).size, 1, log.warnings.join("\n"));
    } else {
      await page.waitForTimeout(1500);
      assert.ok(log.warnings.some((w) => /SHA-256 mismatch/.test(w)), log.warnings.join("\n"));
      const st = await status(page);
      assert.equal(st.disabled, null, "the engine is not disabled by a bad chunk");
      assert.deepEqual(st.catalogResident && [st.catalogResident.lists, st.catalogResident.blocks, st.catalogResident.buckets], [0, 0, 0], "nothing of it was used");
    }
    assert.deepEqual(log.pageErrors, []);
    // tampered: the product view is refused, with the reason (its item's chunks never arrived)
    const allowed = mode === "tampered" ? /body chunks are needed first/ : /^$/;
    assert.deepEqual(log.consoleErrors.filter((e) => !allowed.test(e)), []);
    await context.close();
  }
});
