// Measurement, consent interop and data export end to end (docs/measure.md), in headless Debian Chromium
// against `nextclick serve` (support/harness.js records every request, with bodies):
// * with the defaults, a click on a suggestion counts as a hit and the cart after it as a conversion in
//   status().quality, the counters persist with consent and are erased by forget — and no request carries
//   any of it;
// * a holdout device (init option holdout: 1) is shown no predictions but counts the same way;
// * Google Consent Mode v2: gtag consent default denied, then update granted → status().consent follows
//   (and a default denial on the next page view erases nothing; an update denial erases everything);
// * the privacy panel's "Export my data" downloads every tracked event (a Blob: no request), and after
//   forget the export is empty; its "bytes sent about you" is measured.
// The demo's init options are changed per test by rewriting the served /demo/shop.js (`withInit`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { newShopper, deviceStorage, status, stripIds, SUGGESTION } from "../support/harness.js";
import { setup, teardown, env, assertClean, allow, openProductFrom, waitForStrip, settledStrip, waitStored } from "../support/scenarios.js";

before(() => setup("chromium"));
after(teardown);

/** Serves /demo/shop.js with `extra` (source text of object properties) added to its init options. */
async function withInit(context, extra) {
  let rewritten = false;
  await context.route("**/demo/shop.js", async (route) => {
    const res = await route.fetch();
    const js = await res.text();
    const out = js.replace(/nextclick\("init", \{/, `nextclick("init", { ${extra},`);
    rewritten = out !== js;
    await route.fulfill({ response: res, body: out });
  });
  return () => assert.ok(rewritten, "the demo's init call was found and given the options");
}

/** A new shopper who granted consent and opened a product: the settled strip's ids in `shown`. */
async function consentingShopperOnAProduct() {
  const { context, page, log } = await newShopper(env.browser);
  await page.goto(`${env.server.base}/`);
  await page.evaluate(() => window.nextclick("ready"));
  await allow(page);
  await openProductFrom(page, "running", 0);
  await waitForStrip(page);
  return { context, page, log, shown: await settledStrip(page) };
}

/** No recorded request (URL, headers, body) carries any of the measurement. */
function assertNothingMeasuredSent(log) {
  for (const r of log.requests) {
    const all = `${r.url} ${r.post || ""} ${JSON.stringify(r.headers)}`;
    assert.doesNotMatch(all, /hitAtK|mrr|impression|conversion|nextclick-quality|nextclick-export/i, `${r.method} ${r.url}`);
  }
}

/** The next `nextclick:quality` event's detail satisfying `pred` (a string: the body of `(q) => …`). */
function nextQualityEvent(page, pred) {
  return page.evaluate(
    (pred) =>
      new Promise((resolve) => {
        const ok = new Function("q", `return ${pred}`);
        document.addEventListener("nextclick:quality", function on(e) {
          if (!ok(e.detail)) return;
          document.removeEventListener("nextclick:quality", on);
          resolve(e.detail);
        });
      }),
    pred,
  );
}

test("defaults: a click on a suggestion is a hit, the cart after it a conversion; counters persist with consent, forget erases them; no request carries any of it", async () => {
  const { context, page, log, shown } = await consentingShopperOnAProduct();
  const q0 = (await status(page)).quality;
  assert.equal(q0.group, "treatment");
  assert.equal(q0.holdout, 0);
  assert.equal(q0.k, 8);
  assert.equal(q0.persisted, true);
  assert.ok(q0.impressions >= 1, `an impression was counted: ${JSON.stringify(q0)}`);

  // a click on the strip's first suggestion: tracked as a click on an item that was in the top-K shown
  const target = shown[0];
  await page.locator(SUGGESTION(target)).click();
  await page.waitForURL(new RegExp(`/p/${target}$`));
  await page.evaluate(() => window.nextclick("ready"));
  const q1 = (await status(page)).quality;
  assert.ok(q1.hits >= q0.hits + 1, `the click was a hit: ${JSON.stringify({ q0, q1 })}`);
  assert.ok(q1.byType.click.hits >= 1, JSON.stringify(q1.byType));
  assert.ok(q1.clicks >= q0.clicks + 1, "a click on a shown prediction");
  assert.ok(q1.mrr > 0 && q1.hitAtK > 0 && q1.hitAtK <= 1);
  assert.ok(q1.events >= q1.hits);

  // adding the clicked product to the cart is a conversion; the event reports it (throttled)
  const event = nextQualityEvent(page, "q.conversions >= 1");
  await page.locator(".add-to-cart").click();
  const ev = await event;
  assert.equal(ev.conversions, q1.conversions + 1);
  assert.equal(ev.group, "treatment");
  await waitStored(page);
  const keys = (await deviceStorage(page)).localStorage;
  assert.ok(keys.includes("nextclick:demo-shop:quality"), JSON.stringify(keys));

  // the counters survive a reload (stored beside the snapshot, with consent)
  await page.reload();
  await page.evaluate(() => window.nextclick("ready"));
  const q2 = (await status(page)).quality;
  assert.ok(q2.hits >= q1.hits && q2.conversions >= 1, JSON.stringify(q2));

  // a report under local differential privacy: prepared on the device, randomised bits only
  const report = await page.evaluate(() => window.nextclick("qualityReport"));
  assert.equal(report.kind, "nextclick-quality-ldp");
  assert.ok(Math.abs(report.epsilon - Math.log(3)) < 1e-12, String(report.epsilon));
  assert.deepEqual(Object.keys(report.bits), ["active", "hit", "converted"]);
  assert.ok(!("hits" in report) && !("events" in report), "no raw counter in the report");

  // forget: the counters and their record are gone
  await page.locator("#nc-forget").click();
  await page.locator("#toast").waitFor({ state: "visible" });
  const q3 = (await status(page)).quality;
  assert.deepEqual([q3.hits, q3.clicks, q3.conversions, q3.impressions >= 0], [0, 0, 0, true]);
  assert.deepEqual(await deviceStorage(page), { databases: [], localStorage: [] });
  assertClean(log);
  assertNothingMeasuredSent(log);
  await context.close();
});

test("a prediction in flight when forget() runs is dropped: nothing of the erased session is emitted or counted afterwards", async () => {
  const { context, page, log, shown } = await consentingShopperOnAProduct();
  const after = await page.evaluate(async (id) => {
    const emitted = [];
    let forgotten = false;
    window.nextclick("onPrediction", (d) => forgotten && emitted.push(d.items.map((p) => p.itemId)));
    // the track's prediction is asked for at once; forget() is called before it is answered
    await window.nextclick("track", "Product Clicked", { product_id: id });
    const done = window.nextclick("forget");
    forgotten = true;
    await done;
    await new Promise((r) => setTimeout(r, 400)); // the demo's own auto-captured view comes after 1 s
    return { emitted, quality: (await window.nextclick("status")).quality };
  }, shown[0]);
  // forget's own emission is the empty list; the erased session's prediction never follows it
  assert.ok(after.emitted.every((ids) => ids.length === 0), JSON.stringify(after.emitted));
  assert.deepEqual([after.quality.impressions, after.quality.events, after.quality.hits], [0, 0, 0], JSON.stringify(after.quality));
  assertClean(log);
  await context.close();
});

test("holdout: 1 — the device is shown no predictions (predict resolves [], empty emissions), its would-be predictions are still measured", async () => {
  const { context, page, log } = await newShopper(env.browser);
  const rewritten = await withInit(context, "holdout: 1");
  await context.addInitScript(() => {
    window.__ncEmitted = [];
    document.addEventListener("nextclick:prediction", (e) => window.__ncEmitted.push(e.detail.items.length));
  });
  await page.goto(`${env.server.base}/`);
  await page.evaluate(() => window.nextclick("ready"));
  rewritten();
  await allow(page);
  await openProductFrom(page, "audio", 1);
  // a few more steps, each after the engine has answered (so that a prediction is in force for the next)
  const r = await page.evaluate(async () => {
    for (const id of ["p-0105", "p-0210", "p-0333", "p-0404"]) {
      await window.nextclick("track", "Product Viewed", { product_id: id });
      await new Promise((res) => setTimeout(res, 300));
    }
    return { predict: await window.nextclick("predict", 5), intent: await window.nextclick("intent"), st: await window.nextclick("status") };
  });
  assert.deepEqual(r.predict, []);
  assert.ok(r.intent && typeof r.intent.purchase === "number", "intent scores are not held out");
  const q = r.st.quality;
  assert.equal(q.group, "holdout");
  assert.equal(q.holdout, 1);
  assert.ok(q.events >= 4, `scored events: ${JSON.stringify(q)}`);
  assert.ok(q.hitAtK >= 0 && q.hitAtK <= 1 && q.mrr >= 0 && q.mrr <= 1);
  assert.equal(q.impressions, 0, "nothing was shown");
  assert.equal(q.clicks, 0);
  assert.deepEqual(r.st.last.items, []);
  const emitted = await page.evaluate(() => window.__ncEmitted);
  assert.ok(emitted.length > 0 && emitted.every((n) => n === 0), `emitted item counts: ${emitted}`);
  assert.deepEqual(await stripIds(page), [], "the strip shows no suggestion");
  assertClean(log);
  assertNothingMeasuredSent(log);
  await context.close();
});

test("Consent Mode v2: gtag consent default denied, then update granted → status().consent follows; a default denial erases nothing, an update denial everything", async () => {
  const { context, page, log } = await newShopper(env.browser);
  const rewritten = await withInit(context, "consentMode: true");
  // the page's own gtag snippet, before anything else (as an inline <script> in <head> would be)
  await context.addInitScript(() => {
    window.dataLayer = window.dataLayer || [];
    window.gtag = function gtag() {
      window.dataLayer.push(arguments);
    };
    window.gtag("consent", "default", { ad_storage: "denied", ad_user_data: "denied", ad_personalization: "denied", analytics_storage: "denied", wait_for_update: 500 });
  });
  const consentIs = (c) => page.waitForFunction(async (c) => (await window.nextclick("status")).consent === c, c);
  await page.goto(`${env.server.base}/c/garden`);
  const s0 = await page.evaluate(() => window.nextclick("ready"));
  rewritten();
  assert.equal(s0.consent, "pending", "a default denial is the state before the visitor chose");
  await page.evaluate(() => window.gtag("consent", "update", { analytics_storage: "granted", ad_personalization: "granted", ad_storage: "granted", ad_user_data: "granted" }));
  await consentIs("granted");
  await openProductFrom(page, "garden", 2);
  assert.equal((await status(page)).consent, "pending", "the next page view starts from the default again");
  await page.evaluate(() => window.gtag("consent", "update", { analytics_storage: "granted", ad_personalization: "granted" })); // the CMP's stored choice
  await consentIs("granted");
  await page.waitForTimeout(1200);
  await waitStored(page);
  assert.ok((await deviceStorage(page)).databases.includes("nextclick:demo-shop"));
  // the next page view: default denied again, nothing erased; the update restores the learned state
  await page.reload();
  await page.evaluate(() => window.nextclick("ready"));
  assert.equal((await status(page)).consent, "pending");
  assert.ok((await deviceStorage(page)).databases.includes("nextclick:demo-shop"), "a default denial erases nothing");
  await page.evaluate(() => window.gtag("consent", "update", { analytics_storage: "granted", ad_personalization: "granted" }));
  await consentIs("granted");
  await page.waitForFunction(async () => (await window.nextclick("status")).restoredEvents > 0);
  // the visitor withdraws ad personalisation: an update denial erases everything
  await page.evaluate(() => window.gtag("consent", "update", { ad_personalization: "denied" }));
  await consentIs("denied");
  await page.waitForFunction(async () => (await window.nextclick("status")).storage === "none");
  await page.waitForTimeout(800);
  assert.deepEqual(await deviceStorage(page), { databases: [], localStorage: [] });
  // gtag's own dataLayer still has every call of this page view, as gtag pushed them
  assert.deepEqual(await page.evaluate(() => window.dataLayer.map((e) => `${e[0]} ${e[1]}`)), ["consent default", "consent update", "consent update"]);
  assertClean(log);
  await context.close();
});

test("Export my data: a JSON download (no request) holding the tracked events, the counters and the learned state; after forget it is empty; bytes sent are measured", async () => {
  const { context, page, log } = await newShopper(env.browser);
  await page.goto(`${env.server.base}/`);
  await page.evaluate(() => window.nextclick("ready"));
  await allow(page);
  await openProductFrom(page, "kitchen", 2);
  const product = new URL(page.url()).pathname.split("/").pop();
  await page.locator(".add-to-cart").click();
  await page.waitForTimeout(1200);
  await waitStored(page);
  const download = async () => {
    const requests = log.requests.length;
    const [d] = await Promise.all([page.waitForEvent("download"), page.locator("#nc-export").click()]);
    const file = JSON.parse(fs.readFileSync(await d.path(), "utf8"));
    assert.match(d.suggestedFilename(), /^nextclick-export-\d{4}-\d\d-\d\d\.json$/);
    const made = log.requests.slice(requests).filter((r) => !r.url.startsWith("blob:"));
    assert.deepEqual(made.map((r) => r.url), [], "the export made no request");
    return file;
  };
  const x = await download();
  assert.equal(x.format, "nextclick-export/1");
  assert.equal(x.consent, "granted");
  assert.equal(x.shop, "demo-shop");
  assert.equal(x.storage.kind, "indexeddb");
  assert.ok(x.storage.bytes > 0);
  const stored = [...x.stored.snapshots.flatMap((s) => s.currentSession.events), ...x.stored.journal.map((e) => e.event)];
  assert.ok(stored.some((e) => e.type === "cart" && e.itemId === product), `the cart of ${product} is in the stored data: ${JSON.stringify(stored)}`);
  assert.ok(stored.some((e) => e.type === "view" && e.itemId === product), "and the product view");
  assert.ok(x.stored.snapshots.every((s) => s.checksumOk === true && s.payload));
  assert.ok(x.memory.state.currentSession.events.some((e) => e.type === "cart" && e.itemId === product));
  assert.ok(x.learned.parameters > 0 && x.learned.heads.adapter.steps >= 1, JSON.stringify(x.learned));
  assert.equal(x.stored.quality.v, 1);
  assert.equal(x.counters.quality.group, "treatment");
  assert.deepEqual(x.network.bytesSent, 0);
  assert.ok(x.network.requests >= 4, "the SDK counted its requests (worker, glue, wasm, model, catalog)");
  // the panel's figures are measured
  assert.equal(await page.locator("#nc-p-sent").textContent(), "0");
  assert.match(await page.locator("#nc-p-requests").textContent(), /^[1-9]\d*, 0 to other origins$/);

  await page.locator("#nc-forget").click();
  await page.locator("#toast").waitFor({ state: "visible" });
  const y = await download();
  assert.deepEqual([y.stored.snapshots, y.stored.journal, y.stored.quality, y.stored.other], [[], [], null, []]);
  assert.equal(y.storage.bytes, 0);
  assert.equal(y.consent, "pending");
  // in memory, nothing from before forget (auto-captured views after it are legitimate: a fresh session)
  const mem = y.memory.state.currentSession.events;
  assert.ok(!mem.some((e) => e.type === "cart" || e.itemId === product), JSON.stringify(mem));
  assert.deepEqual(y.memory.state.pastSessions, []);
  assert.equal(y.counters.quality.conversions, 0);
  // blob: downloads are the page's own (not network requests): left out of the request check
  log.requests = log.requests.filter((r) => !r.url.startsWith("blob:"));
  assertClean(log);
  await context.close();
});
