// End-to-end tests of the demo shop in headless Debian Chromium (playwright-core, executablePath
// /usr/bin/chromium), against `nextclick serve` started here on a free 127.0.0.1 port.
//
// After every scenario: no console errors, no uncaught page errors, no CSP violations, and no request that
// carries event data (every request is a same-origin GET without query string or body, to a known static
// path; any item id in a non-navigation URL must appear in HTML the server itself rendered).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, newShopper, deviceStorage, stripIds, status } from "../support/harness.js";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.stop();
});

const STATIC = /^\/(|favicon\.ico|c\/[a-z]+(\/\d+)?|p\/p-\d{4}|img\/p-\d{4}\.svg|sdk\/[\w.-]+|pkg\/[\w.-]+|demo\/[\w.-]+|models\/[\w.-]+)$/;

function assertClean(log, { prefetched = [] } = {}) {
  assert.deepEqual(log.pageErrors, [], "uncaught page errors");
  assert.deepEqual(log.consoleErrors, [], "console errors");
  assert.deepEqual(log.csp, [], "CSP violations");
  const served = log.documents.join("\n");
  assert.ok(log.requests.length > 0);
  for (const r of log.requests) {
    const u = new URL(r.url);
    assert.equal(u.origin, server.base, `request to another origin: ${r.url}`);
    assert.equal(r.method, "GET", `${r.method} ${r.url}`);
    assert.equal(r.post, null, `request body on ${r.url}`);
    assert.equal(u.search, "", `query string on ${r.url}`);
    assert.match(u.pathname, STATIC, `unexpected path ${u.pathname}`);
    const prefetch = /prefetch/.test(r.headers["sec-purpose"] || "");
    if (prefetch) assert.ok(prefetched.includes(u.pathname), `unexpected prefetch of ${u.pathname}`);
    if (r.type !== "document" && !prefetch) {
      for (const id of u.pathname.match(/p-\d{4}/g) || []) {
        assert.ok(served.includes(`"${id}"`) || served.includes(`/${id}`), `${r.url} names ${id}, which no served page shows`);
      }
    }
  }
}

async function allow(page) {
  await page.locator("#nc-allow").click();
  await page.waitForFunction(async () => (await window.nextclick("status")).consent === "granted");
}

async function openProductFrom(page, category, nth = 0) {
  await page.goto(`${server.base}/c/${category}`);
  await page.locator(".grid a.card").nth(nth).click();
  await page.waitForURL(/\/p\/p-\d{4}$/);
  await page.evaluate(() => window.nextclick("ready"));
}

async function waitForStrip(page, notEqual) {
  await page.waitForFunction(
    (prev) => {
      const ids = [...document.querySelectorAll("#nc-strip a.card")].map((a) => a.getAttribute("data-nextclick-item"));
      return ids.length > 0 && JSON.stringify(ids) !== JSON.stringify(prev);
    },
    notEqual || null,
    { timeout: 15000 },
  );
  return stripIds(page);
}

async function waitStored(page) {
  // a snapshot was written and no newer one is pending
  await page.waitForFunction(
    async () => {
      const s = await window.nextclick("status");
      return s.storedBytes > 0 && !s.pendingSave;
    },
    null,
    { timeout: 10000 },
  );
}

test("browsing and clicking products shows predictions that change; reload keeps the learned state", async () => {
  const { context, page, log } = await newShopper(browser);
  await page.goto(`${server.base}/`);
  await page.locator("#nc-consent").waitFor({ state: "visible" });
  const s0 = await page.evaluate(() => window.nextclick("ready"));
  assert.equal(s0.backend, "worker", "the wasm runs in a Web Worker by default");
  assert.equal(s0.catalogSize, 2000);
  await page.waitForTimeout(1300); // auto-captured views while consent is pending
  assert.ok((await status(page)).features.events > 0, "pending: events are used in memory");
  assert.deepEqual(await deviceStorage(page), { databases: [], localStorage: [] }, "pending: nothing stored");
  await allow(page);

  await openProductFrom(page, "running", 0);
  const first = await waitForStrip(page);
  assert.ok(first.length >= 3, `strip shows suggestions: ${first}`);
  assert.match(await page.locator("#nc-purchase-v").textContent(), /%$/, "purchase meter shows a value");
  assert.match(await page.locator("#nc-exit-v").textContent(), /%$/, "exit meter shows a value");

  await page.locator(".add-to-cart").click();
  const afterCart = await waitForStrip(page, first);
  await openProductFrom(page, "kitchen", 3);
  const second = await waitForStrip(page, afterCart);
  // Every interaction changed the strip (waitForStrip waits for a different list). With the current,
  // under-trained default model a product of another category can bring back an earlier list, so the
  // test does not require `second` to differ from `first` (see docs/results.md on the model's quality).
  assert.notDeepEqual(afterCart, first, "predictions change after adding to cart");
  assert.notDeepEqual(second, afterCart, "predictions change after browsing another category");
  // a click on a suggestion is tracked (auto-capture) and navigates to its page
  const target = second[0];
  await page.locator(`#nc-strip a.card[data-nextclick-item="${target}"]`).click();
  await page.waitForURL(new RegExp(`/p/${target}$`));
  await page.evaluate(() => window.nextclick("ready"));
  await waitForStrip(page);
  await waitStored(page);

  const before = await status(page);
  assert.equal(before.storage, "indexeddb");
  assert.ok(before.features.events >= 6, `events tracked: ${JSON.stringify(before)}`);
  const stored = await deviceStorage(page);
  assert.ok(stored.databases.includes("nextclick:demo-shop"), JSON.stringify(stored));
  assert.equal(await page.locator("#nc-p-sent").textContent(), "0");

  await page.reload();
  const restored = await page.evaluate(() => window.nextclick("ready"));
  assert.equal(restored.consent, "granted");
  assert.ok(restored.restoredEvents >= before.features.events, `restored ${restored.restoredEvents} of ${before.features.events} events: ${JSON.stringify({ before, restored })}`);
  assert.ok(restored.storedBytes > 0);
  assert.ok((await waitForStrip(page)).length > 0, "suggestions right after reload");
  await page.screenshot({ path: process.env.NEXTCLICK_SCREENSHOT || "/tmp/nextclick-demo.png" });
  assertClean(log);
  await context.close();
});

test("consent denied: predictions in memory only, nothing stored on the device", async () => {
  const { context, page, log } = await newShopper(browser);
  await page.goto(`${server.base}/`);
  await page.locator("#nc-deny").click();
  await openProductFrom(page, "audio", 1);
  await page.locator(".add-to-cart").click();
  await openProductFrom(page, "audio", 2);
  assert.ok((await waitForStrip(page)).length > 0, "predictions still computed for the page view");
  const s = await status(page);
  assert.equal(s.consent, "denied");
  assert.equal(s.storage, "none");
  assert.equal(s.restoredEvents, 0, "nothing carried over from the previous page");
  await page.waitForTimeout(1500); // longer than the snapshot debounce and the view dwell time
  assert.deepEqual(await deviceStorage(page), { databases: [], localStorage: [] });
  assertClean(log);
  await context.close();
});

test("forget me erases IndexedDB, localStorage and the in-memory state", async () => {
  const { context, page, log } = await newShopper(browser);
  await page.goto(`${server.base}/`);
  await page.evaluate(() => window.nextclick("ready"));
  await allow(page);
  await openProductFrom(page, "coffee", 0);
  await openProductFrom(page, "coffee", 4);
  await waitForStrip(page);
  await waitStored(page);
  const full = await deviceStorage(page);
  assert.ok(full.databases.length > 0 && full.localStorage.length > 0, JSON.stringify(full));

  await page.locator("#nc-forget").click();
  await page.locator("#toast").waitFor({ state: "visible" });
  await page.waitForFunction(() => document.querySelectorAll("#nc-strip a.card").length === 0);
  assert.deepEqual(await deviceStorage(page), { databases: [], localStorage: [] });
  const s = await status(page);
  assert.equal(s.features.events, 0);
  assert.equal(s.consent, "pending");
  await page.reload();
  const r = await page.evaluate(() => window.nextclick("ready"));
  assert.equal(r.restoredEvents, 0);
  await page.locator("#nc-consent").waitFor({ state: "visible" });
  assert.deepEqual(await deviceStorage(page), { databases: [], localStorage: [] });
  assertClean(log);
  await context.close();
});

test("corrupted stored state: one warning, clean reset, then learning goes on", async () => {
  const { context, page, log } = await newShopper(browser);
  await page.goto(`${server.base}/`);
  await page.evaluate(() => window.nextclick("ready"));
  await allow(page);
  await openProductFrom(page, "garden", 0);
  await page.waitForTimeout(1200); // let the auto-captured views land
  await waitStored(page);
  // flip bytes of the stored snapshot, from a page without the snippet (nothing writes meanwhile)
  await page.goto(`${server.base}/demo/favicon.svg`);
  await page.evaluate(async () => {
    const db = await new Promise((res, rej) => {
      const r = indexedDB.open("nextclick:demo-shop", 1);
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const store = db.transaction("state", "readwrite").objectStore("state");
    const keys = await new Promise((res) => (store.getAllKeys().onsuccess = (e) => res(e.target.result)));
    for (const k of keys) {
      const v = await new Promise((res) => (store.get(k).onsuccess = (e) => res(e.target.result)));
      v.bytes = v.bytes.map((b, i) => (i > 16 ? b ^ 0x5a : b));
      store.put(v, k);
    }
    db.close();
  });
  await page.goto(`${server.base}/c/garden`);
  const s = await page.evaluate(() => window.nextclick("ready"));
  const warnings = log.warnings.filter((w) => /could not be restored/.test(w));
  assert.equal(warnings.length, 1, JSON.stringify(log.warnings));
  assert.equal(s.restoredEvents, 0);
  await openProductFrom(page, "garden", 2);
  await waitForStrip(page);
  await waitStored(page);
  assertClean(log);
  await context.close();
});

test("JS API: main-thread mode, Segment names, unknown names warn, bad events reject without throwing", async () => {
  const { context, page, log } = await newShopper(browser);
  await page.goto(`${server.base}/c/toys`);
  await page.evaluate(() => window.nextclick("ready"));
  const r = await page.evaluate(async () => {
    const m = await import("/sdk/nextclick.js");
    const same = m.nextclick === window.nextclick; // loading the module again keeps the first runtime
    const rt = m.createRuntime();
    const st = await rt.run("init", [{ model: "/models/default.onnx", catalog: "/demo/catalog.bin", shop: "t", worker: false, autocapture: false }]);
    const a = await rt.run("track", ["Product Viewed", { product_id: "p-0010" }]);
    const b = await rt.run("track", ["Order Completed", { products: [{ product_id: "p-0010", price: 5 }, { sku: "p-0020" }] }]);
    const c = await rt.run("track", ["Checkout Started", { products: [{ product_id: "p-0010" }] }]);
    const d = await rt.run("track", ["Hovered", { product_id: "p-0010" }]);
    let e = null;
    try {
      await rt.run("track", ["view", { product_id: "p-0010", timestamp: -5 }]);
    } catch (err) {
      e = err.message;
    }
    const top = await rt.run("predict", [3]);
    const called = new Promise((resolve) => rt.run("onPrediction", [(d) => resolve(d.items.length)]));
    const fromEvent = new Promise((resolve) =>
      document.addEventListener("nextclick:prediction", (ev) => resolve(Array.isArray(ev.detail.items)), { once: true }),
    );
    await rt.run("track", ["Product Clicked", { product_id: "p-0030" }]);
    const cb = await called;
    const ev = await fromEvent;
    const ret = window.nextclick("no-such-command"); // global: a rejected promise, no throw
    const g = await ret.then(() => "resolved", (x) => x.message);
    return { same, backend: st.backend, a, b, c, d, e, top: top.length, g, cb, ev };
  });
  // the rejections above were logged as console errors on purpose; check and drop them
  assert.equal(r.same, true);
  assert.equal(r.backend, "main");
  assert.ok(["accepted", "new_session"].includes(r.a), r.a);
  assert.deepEqual(r.b.length, 2);
  assert.equal(r.c, "ignored");
  assert.equal(r.d, "unknown");
  assert.match(r.e, /^nextclick: /);
  assert.equal(r.top, 3);
  assert.equal(r.cb, 8, "onPrediction callback receives the top-k");
  assert.equal(r.ev, true, "nextclick:prediction DOM event");
  assert.match(r.g, /unknown command/);
  assert.ok(log.warnings.some((w) => /unknown event name "Hovered"/.test(w)), "unknown name → console warning");
  assert.equal(log.consoleErrors.length, 2, JSON.stringify(log.consoleErrors));
  log.consoleErrors.length = 0;
  assertClean(log);
  await context.close();
});

test("prefetch toggle: speculation rules for the top suggestion, same-origin GET only", async () => {
  const { context, page, log } = await newShopper(browser);
  const announced = []; // every URL the page ever put in speculation rules
  await context.exposeBinding("__ncSpec", (_src, urls) => announced.push(...urls));
  await context.addInitScript(() => {
    new MutationObserver((records) => {
      for (const r of records)
        for (const n of r.addedNodes)
          if (n.type === "speculationrules") window.__ncSpec(JSON.parse(n.textContent).prefetch[0].urls);
    }).observe(document, { childList: true, subtree: true });
  });
  await page.goto(`${server.base}/`);
  await page.locator("#nc-deny").click();
  await page.locator("#nc-prefetch").check();
  await openProductFrom(page, "cycling", 0);
  const ids = await waitForStrip(page);
  await page.waitForSelector("script[type=speculationrules]", { state: "attached" });
  const rules = JSON.parse(await page.locator("script[type=speculationrules]").textContent());
  assert.deepEqual(rules.prefetch[0].urls, [`/p/${ids[0]}`]);
  assert.ok(announced.includes(`/p/${ids[0]}`));
  // the opt-in prefetch is the one request that reveals a prediction (documented): only pages that were the
  // top suggestion at some point are prefetched, and nothing else names a predicted item
  assertClean(log, { prefetched: announced });
  await context.close();
});

test("auto-capture: a view needs ≥ 50% visibility for ≥ 1 s, once per element; loading twice is harmless", async () => {
  const { context, page, log } = await newShopper(browser);
  await page.goto(`${server.base}/`);
  await page.locator("#nc-deny").click();
  await page.goto(`${server.base}/c/toys`);
  await page.evaluate(() => window.nextclick("ready"));
  const visible = () =>
    page.$$eval(".grid a.card", (cards) => {
      let sure = 0;
      let maybe = 0;
      for (const c of cards) {
        const r = c.getBoundingClientRect();
        const h = Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0));
        const ratio = h / r.height;
        if (ratio >= 0.6) sure++;
        else if (ratio > 0.4) maybe++;
      }
      return { sure, maybe };
    });
  const views = async () => (await status(page)).features.views;
  await page.waitForTimeout(1600);
  const a = await visible();
  const v1 = await views();
  assert.ok(a.sure > 0 && v1 >= a.sure && v1 <= a.sure + a.maybe, `views ${v1}, visible ${JSON.stringify(a)}`);
  // scroll a new screenful in: nothing before 1 s, then exactly the newly visible cards
  await page.evaluate(() => scrollBy(0, innerHeight));
  await page.waitForTimeout(400);
  assert.equal(await views(), v1, "no view before 1 s");
  await page.waitForTimeout(1200);
  const b = await visible();
  const v2 = await views();
  assert.ok(v2 - v1 >= b.sure && v2 - v1 <= b.sure + b.maybe, `new views ${v2 - v1}, visible ${JSON.stringify(b)}`);
  // scrolling back does not count the first cards again
  await page.evaluate(() => scrollTo(0, 0));
  await page.waitForTimeout(1300);
  assert.equal(await views(), v2, "once per element per page view");

  const again = await page.evaluate(async () => {
    const before = window.nextclick;
    await new Promise((resolve) => {
      const s = document.createElement("script");
      s.src = "/sdk/loader.js";
      s.onload = resolve;
      document.head.append(s);
    });
    const m = await import("/sdk/nextclick.js");
    return { same: window.nextclick === before && m.nextclick === before, loaded: before.loaded === true };
  });
  assert.deepEqual(again, { same: true, loaded: true });
  assert.equal(page.workers().length, 1, "one worker, one runtime");
  assertClean(log);
  await context.close();
});

test("storage quota exceeded: one warning, the previous snapshot is kept, nothing is lost", async () => {
  const { context, page, log } = await newShopper(browser);
  await context.addInitScript(() => {
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (...args) {
      if (sessionStorage.getItem("test:quota") === "1") throw new DOMException("test quota", "QuotaExceededError");
      return put.apply(this, args);
    };
  });
  await page.goto(`${server.base}/`);
  await page.evaluate(() => window.nextclick("ready"));
  await allow(page);
  await openProductFrom(page, "home", 0);
  await page.waitForTimeout(1200);
  await waitStored(page);
  const snapBytes = () =>
    page.evaluate(async () => {
      const db = await new Promise((res) => {
        const r = indexedDB.open("nextclick:demo-shop", 1);
        r.onsuccess = () => res(r.result);
      });
      const all = await new Promise((res) => (db.transaction("state").objectStore("state").getAll().onsuccess = (e) => res(e.target.result)));
      db.close();
      return all.map((v) => v.bytes.length);
    });
  const kept = await snapBytes();
  const before = await status(page);
  await page.evaluate(() => sessionStorage.setItem("test:quota", "1"));
  await page.locator(".add-to-cart").click();
  await page.locator(".buy-now").click();
  await page.waitForTimeout(1200);
  const quota = log.warnings.filter((w) => /could not store state/.test(w));
  assert.equal(quota.length, 1, JSON.stringify(log.warnings));
  assert.deepEqual(await snapBytes(), kept, "previous snapshot kept");
  const during = await status(page);
  assert.ok(during.features.events >= before.features.events + 2);
  // with space again, the next page restores the snapshot and replays the journal: nothing lost
  await page.evaluate(() => sessionStorage.removeItem("test:quota"));
  await page.reload();
  const after = await page.evaluate(() => window.nextclick("ready"));
  assert.ok(after.restoredEvents >= during.features.events, `${after.restoredEvents} < ${during.features.events}`);
  assertClean(log);
  await context.close();
});
