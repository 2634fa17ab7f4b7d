// A split catalog (format version 3, issue #20) end to end in headless Debian Chromium and Firefox ESR (when
// installed; under CI=true it must be), through the SDK as a
// shop uses it: the demo shop with its catalog split by `nextclick split-catalog` (a head, and a body served
// by `nextclick serve` with HTTP Range support), the init options `catalog` = the head and `catalogBody`.
// * the page downloads the head whole and only Range requests of the body: the lists its queries probe,
//   the item blocks of the products it shows, the directory buckets of the products it is told about —
//   a part of the body, counted in status().downloaded.catalogChunks;
// * no request carries events (GETs of the shop's own files, no query string, no body; a Range header names
//   bytes of the body file);
// * the state persists (consent granted) and comes back on the next page view through the chunks it names;
// * forget() erases the stored state and drops every resident chunk.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { BIN, REPO, WWW, newShopper, status, assertNoEgress, deviceStorage, launchBrowser, firefoxMissing } from "../support/harness.js";
import { setup, teardown, env, allow, waitForStrip, waitStored } from "../support/scenarios.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nextclick-split-"));
let bodyLen = 0;
const browsers = { chromium: null, firefox: null };
const noFirefox = firefoxMissing();
if (noFirefox && process.env.CI !== "true") console.log(`# e2e-split: Firefox SKIPPED, ${noFirefox}`);

before(async () => {
  fs.copyFileSync(path.join(REPO, "models/default.onnx"), path.join(dir, "default.onnx"));
  // 16 lists of ≈ 125 products, 4 probed: a query reads a quarter of the lists at most
  execFileSync(BIN, ["split-catalog", path.join(WWW, "demo/catalog.bin"), "--out", path.join(dir, "catalog-split.bin"), "--lists", "16", "--nprobe", "4", "--buckets", "8", "--block-rows", "16"], { stdio: ["ignore", "ignore", "inherit"] });
  bodyLen = fs.statSync(path.join(dir, "catalog-split.body.bin")).size;
  await setup("chromium", {}, { models: dir });
  browsers.chromium = env.browser;
  if (!noFirefox) browsers.firefox = await launchBrowser("firefox");
});
after(async () => {
  if (browsers.firefox) await browsers.firefox.close();
  await teardown();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Serves the demo's /demo/shop.js with the split catalog as its init options. */
async function withSplitCatalog(context) {
  let rewritten = false;
  await context.route("**/demo/shop.js", async (route) => {
    const res = await route.fetch();
    const js = await res.text();
    const out = js
      .replace(/const CATALOG = "[^"]+";/, 'const CATALOG = "/models/catalog-split.bin";')
      .replace(/nextclick\("init", \{/, 'nextclick("init", { catalogBody: "/models/catalog-split.body.bin",');
    rewritten = out !== js && out.includes("catalog-split.bin");
    await route.fulfill({ response: res, body: out });
  });
  return () => assert.ok(rewritten, "the demo's init call was given the split catalog");
}

const bodyRequests = (log) => log.requests.filter((r) => new URL(r.url).pathname === "/models/catalog-split.body.bin");

for (const name of ["chromium", "firefox"]) {
  const missing = name === "firefox" ? noFirefox : null;
  const skip = missing && process.env.CI !== "true" ? missing : false;
  test(`[${name}] the page fetches the head, then Range requests of the body it needs; no request carries events`, { timeout: 120000, skip }, async () => {
    assert.equal(missing, null, missing);
    const { context, page, log } = await newShopper(browsers[name]);
    const rewritten = await withSplitCatalog(context);
    await page.goto(`${env.server.base}/p/p-0010`);
    await page.evaluate(() => window.nextclick("ready"));
    rewritten();
    const first = await waitForStrip(page);
    assert.ok(first.length > 0 && !first.includes("p-0010"));
    // a title from an item block, not an id in its place
    const title = await page.evaluate(() => document.getElementById("nc-strip").shadowRoot.querySelector("a[data-item-id]").textContent);
    assert.match(title, /[A-Z][a-z]+ /);
    await page.goto(`${env.server.base}/p/p-0005`);
    await page.evaluate(() => window.nextclick("ready"));
    await waitForStrip(page);
    const st = await status(page);
    assert.equal(st.catalogSize, 2000);
    assert.ok(st.downloaded.catalogChunks > 0 && st.downloaded.catalogChunks < bodyLen, `${st.downloaded.catalogChunks} of ${bodyLen} body bytes`);
    assert.ok(st.catalogResident.lists >= 1 && st.catalogResident.lists < 16, JSON.stringify(st.catalogResident));
    const body = bodyRequests(log);
    assert.ok(body.length > 0, "the body is fetched");
    for (const r of body) assert.match(r.headers.range || "", /^bytes=\d+-\d+$/, "every body request is a single byte range");
    const paths = assertNoEgress(log, env.server.base).map((u) => u.pathname);
    assert.ok(paths.includes("/models/catalog-split.bin"), "the head");
    assert.ok(!paths.includes("/demo/catalog.bin"), "not the whole catalog");
    assert.deepEqual(log.pageErrors, []);
    assert.deepEqual(log.consoleErrors, []);
    assert.deepEqual(log.warnings.filter((w) => /nextclick/.test(w)), []);
    await context.close();
  });

  test(`[${name}] state persists with consent, comes back through the chunks it names, and forget erases it all`, { timeout: 120000, skip }, async () => {
    assert.equal(missing, null, missing);
    const { context, page, log } = await newShopper(browsers[name]);
    await withSplitCatalog(context);
    await page.goto(`${env.server.base}/`);
    await page.evaluate(() => window.nextclick("ready"));
    await allow(page);
    await page.goto(`${env.server.base}/p/p-0006`);
    await page.evaluate(() => window.nextclick("ready"));
    await waitForStrip(page);
    await page.goto(`${env.server.base}/p/p-0015`);
    await page.evaluate(() => window.nextclick("ready"));
    await waitForStrip(page);
    await waitStored(page);
    // the next page view: a fresh worker restores the stored state (its items' buckets and lists first)
    await page.goto(`${env.server.base}/c/audio`);
    await page.evaluate(() => window.nextclick("ready"));
    const st = await status(page);
    assert.ok(st.restoredEvents >= 2, `restored ${st.restoredEvents} events`);
    assert.equal(st.consent, "granted");
    await waitForStrip(page);
    // forget: storage erased, no chunk left in memory
    await page.evaluate(() => window.nextclick("forget"));
    const after = await status(page);
    assert.deepEqual(after.catalogResident, { lists: 0, blocks: 0, buckets: 0, heapBytes: after.catalogResident.heapBytes });
    // (what is left is the demo page's own record of the consent choice, not the SDK's)
    assert.deepEqual(await deviceStorage(page), { databases: [], localStorage: ["demo-shop:consent"] });
    assertNoEgress(log, env.server.base);
    assert.deepEqual(log.pageErrors, []);
    assert.deepEqual(log.consoleErrors, []);
    await context.close();
  });
}

test("[chromium] a server without Range support, and a tampered body: warnings, the page goes on", { timeout: 120000 }, async () => {
  const whole = fs.readFileSync(path.join(dir, "catalog-split.body.bin"));
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
