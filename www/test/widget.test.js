// `<nextclick-recommendations>` (packages/nextclick/sdk/widget.js) end to end, in the demo shop, whose strip
// is the widget (`<nextclick-recommendations id="nc-strip" k="6" label="You may click next">`): in Debian's
// Chromium (all tests) and Firefox ESR (the element's own behaviour: roles, keyboard, exclusion, clicks and
// views), against `nextclick serve`. After each test: no console error, no CSP violation, and no request
// that carries event data (support/scenarios.js `assertClean`).
//
// Under Node (first test) the module imports without a DOM and defines nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { newShopper, launchBrowser, firefoxMissing, status, SUGGESTION } from "../support/harness.js";
import { setup, teardown, env, assertClean, allow, openProductFrom, waitForStrip, settledStrip, isPrefetch } from "../support/scenarios.js";

const LABEL = "You may click next"; // the demo's label attribute
const ffMissing = firefoxMissing();
if (ffMissing && process.env.CI === "true") throw new Error(`CI=true: ${ffMissing}`);
const browsers = {};

before(async () => {
  await setup("chromium");
  browsers.chromium = env.browser;
  if (!ffMissing) browsers.firefox = await launchBrowser("firefox");
});

after(async () => {
  if (browsers.firefox) await browsers.firefox.close();
  await teardown();
});

/** The widget as the page shows it: state, tile ids, what is hidden, and anything auto-capture could see. */
function widgetState(page, id = "nc-strip") {
  return page.evaluate((id) => {
    const el = document.getElementById(id);
    const root = el.shadowRoot;
    const slot = root.querySelector("slot[name=empty]");
    const assigned = slot.assignedNodes().map((n) => n.textContent).join("");
    return {
      state: el.dataset.state,
      ids: [...root.querySelectorAll("a[data-item-id]")].map((a) => a.dataset.itemId),
      listHidden: root.querySelector("[part=list]").hidden,
      emptyHidden: root.querySelector("[part=empty]").hidden,
      emptyText: assigned || slot.textContent,
      // auto-capture watches `data-nextclick-item` in the document; none in the widget, none on it
      captured: root.querySelectorAll("[data-nextclick-item]").length + el.querySelectorAll("[data-nextclick-item]").length + (el.closest("[data-nextclick-item]") ? 1 : 0),
    };
  }, id);
}

/** Id of the tile that has the keyboard focus (in the widget's shadow root), or null. */
const focusedTile = (page) => page.evaluate(() => document.getElementById("nc-strip").shadowRoot.activeElement?.dataset.itemId ?? null);

/** Waits until the runtime has taken no event for `quietMs` (auto-captured views have all landed). */
async function quiet(page, quietMs = 1500) {
  let n = (await status(page)).features.events;
  for (let since = Date.now(), t0 = Date.now(); Date.now() - since < quietMs; ) {
    if (Date.now() - t0 > 20000) throw new Error("events kept coming for 20 s");
    await page.waitForTimeout(250);
    const now = (await status(page)).features.events;
    if (now !== n) [n, since] = [now, Date.now()];
  }
}

/** A product page whose strip has settled (its auto-captured views have landed); consent denied. */
async function settledProductPage(browser, category = "running", nth = 0) {
  const shopper = await newShopper(browser);
  const { page } = shopper;
  await page.goto(`${env.server.base}/`);
  await page.locator("#nc-deny").click();
  await openProductFrom(page, category, nth);
  await waitForStrip(page);
  const ids = await settledStrip(page);
  const current = new URL(page.url()).pathname.split("/").pop();
  return { ...shopper, ids, current };
}

test("under Node the widget module imports without a DOM, defines nothing and exports its API", async () => {
  assert.equal(typeof globalThis.customElements, "undefined");
  const m = await import("../../packages/nextclick/sdk/widget.js");
  assert.equal(m.TAG, "nextclick-recommendations");
  assert.equal(typeof m.NextclickRecommendations, "function");
  assert.equal(m.DEFAULT_K, 6);
  assert.deepEqual(m.NextclickRecommendations.observedAttributes, ["k", "label", "exclude", "include-current", "images", "currency", "href", "prefetch"]);
  m.defineNextclickRecommendations(); // no customElements: a no-op
  const p = await import("../../packages/nextclick/sdk/prefetch.js");
  assert.equal(p.supportsSpeculationRules(), false);
  assert.equal(p.sameOriginUrl("/p/1", "https://shop.example/c/x"), "https://shop.example/p/1");
  assert.equal(p.sameOriginUrl("https://cdn.example/p/1", "https://shop.example/"), null);
  assert.equal(p.sameOriginUrl("javascript:alert(1)", "https://shop.example/"), null);
  const pkg = JSON.parse(await (await import("node:fs/promises")).readFile(new URL("../../packages/nextclick/package.json", import.meta.url), "utf8"));
  assert.equal(pkg.exports["./widget"].default, "./sdk/widget.js");
  assert.equal(pkg.exports["./prefetch"].default, "./sdk/prefetch.js");
  assert.ok(pkg.sideEffects.includes("./sdk/widget.js"), "the widget defines the element on import: a side effect");
});

test("the empty state shows before the first prediction (slot text; default text without one), then the tiles", async () => {
  const { context, page, log } = await newShopper(browsers.chromium);
  // hold the catalog: no prediction can come before it is released
  let release;
  const held = new Promise((r) => (release = r));
  await context.route("**/demo/catalog.bin", async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(`${env.server.base}/c/running`);
  await page.locator("#nc-strip").waitFor({ state: "attached" });
  await page.waitForFunction(() => customElements.get("nextclick-recommendations") && document.getElementById("nc-strip").shadowRoot);
  const empty = await widgetState(page);
  assert.deepEqual(
    { ...empty, emptyText: empty.emptyText.trim() },
    { state: "empty", ids: [], listHidden: true, emptyHidden: false, emptyText: "Browse a little and suggestions appear here.", captured: 0 },
  );
  assert.ok(await page.getByText("Browse a little and suggestions appear here.").isVisible());
  // without slot content: the element's own text
  const dflt = await page.evaluate(async () => {
    const { DEFAULT_EMPTY_TEXT } = await import("/sdk/widget.js");
    const el = document.createElement("nextclick-recommendations");
    el.id = "second";
    document.querySelector("main").append(el);
    const text = el.shadowRoot.querySelector("[part=empty]").textContent;
    el.remove();
    return { text, DEFAULT_EMPTY_TEXT };
  });
  assert.equal(dflt.text, dflt.DEFAULT_EMPTY_TEXT);
  release();
  await page.evaluate(() => window.nextclick("ready"));
  const ids = await waitForStrip(page);
  assert.equal(ids.length, 6, `k="6": ${ids}`);
  const s = await widgetState(page);
  assert.equal(s.state, "items");
  assert.equal(s.listHidden, false);
  assert.equal(s.emptyHidden, true);
  assertClean(log);
  await context.close();
});

for (const name of ["chromium", "firefox"]) {
  const skip = name === "firefox" && ffMissing ? `SKIPPED: ${ffMissing}` : false;

  test(`[${name}] an accessible list: role list named by label, 6 list items, each a link named by title and price`, { skip }, async () => {
    const { context, page, log, ids, current } = await settledProductPage(browsers[name], "running", 0);
    const list = page.getByRole("list", { name: LABEL });
    await list.waitFor();
    assert.equal(await list.getByRole("listitem").count(), 6);
    const tiles = await page.evaluate(() => document.getElementById("nc-strip").items);
    assert.deepEqual(tiles.map((t) => t.itemId), ids);
    assert.ok(!ids.includes(current), `the product on screen (${current}) is not suggested: ${ids}`);
    for (const t of tiles) {
      // the badge is aria-hidden: the link's name is the title and the formatted price (currency="EUR")
      const price = new Intl.NumberFormat("en", { style: "currency", currency: "EUR" }).format(t.price);
      const link = list.getByRole("link", { name: `${t.title} ${price}`, exact: true });
      assert.equal(await link.count(), 1, `a link named "${t.title} ${price}"`);
      assert.equal(new URL(await link.getAttribute("href")).pathname, `/p/${t.itemId}`);
    }
    const snapshot = await page.locator("#nc-strip").ariaSnapshot();
    assert.match(snapshot, new RegExp(`^- list "${LABEL}":`, "m"), snapshot);
    assert.equal((snapshot.match(/- listitem:/g) || []).length, 6, snapshot);
    assert.equal((await widgetState(page)).captured, 0, "no tile carries data-nextclick-item");
    assertClean(log);
    await context.close();
  });

  test(`[${name}] keyboard: tiles are links in the tab order; arrows, Home and End move the focus; a re-render keeps it`, { skip }, async () => {
    const { context, page, log, ids } = await settledProductPage(browsers[name], "kitchen", 1);
    await page.locator(SUGGESTION(ids[0])).focus();
    assert.equal(await focusedTile(page), ids[0]);
    const steps = [
      ["ArrowDown", 1], // one column in the demo's sidebar: Down is the next tile
      ["ArrowRight", 2],
      ["ArrowUp", 1],
      ["ArrowLeft", 0],
      ["ArrowUp", 0], // at the first tile: stays
      ["End", 5],
      ["ArrowDown", 5], // at the last: stays
      ["Home", 0],
    ];
    for (const [key, at] of steps) {
      await page.keyboard.press(key);
      assert.equal(await focusedTile(page), ids[at], `${key} → tile ${at}`);
    }
    await page.keyboard.press("Tab");
    assert.equal(await focusedTile(page), ids[1], "Tab: the next tile (every tile is a link)");
    // new predictions re-render the tiles: the focused product keeps the focus where it is still shown
    const kept = await page.evaluate((ids) => {
      const items = [ids[3], ids[1], ids[0], ids[2], ids[4], ids[5]].map((id) => ({ itemId: id, title: id, url: `/p/${id}`, score: 1 }));
      document.dispatchEvent(new CustomEvent("nextclick:prediction", { detail: { items, intent: null } }));
      return document.getElementById("nc-strip").shadowRoot.activeElement?.dataset.itemId;
    }, ids);
    assert.equal(kept, ids[1]);
    assertClean(log);
    await context.close();
  });

  test(`[${name}] the product on screen is left out (data-nextclick-product), include-current and exclude change that`, { skip }, async () => {
    const { context, page, log, ids, current } = await settledProductPage(browsers[name], "audio", 2);
    // the tiles are the runtime's own top predictions, without the current product
    const r = await page.evaluate(async (current) => {
      const el = document.getElementById("nc-strip");
      const top = await window.nextclick("predict", 7);
      const without = el.items.map((t) => t.itemId);
      el.includeCurrent = true; // the property mirrors the attribute
      const attr = el.getAttribute("include-current");
      await new Promise((res) => setTimeout(res, 300)); // its own predict(6)
      const withCurrent = el.items.map((t) => t.itemId);
      el.includeCurrent = false;
      // a synthetic prediction puts the product on screen first: deterministic, synchronous rendering
      const ids = (n) => [current, ...top.map((p) => p.itemId).filter((id) => id !== current)].slice(0, n);
      const emit = (list) => document.dispatchEvent(new CustomEvent("nextclick:prediction", { detail: { items: list.map((id) => ({ itemId: id, title: id, url: `/p/${id}` })), intent: null } }));
      emit(ids(7));
      const synthetic = el.items.map((t) => t.itemId);
      el.setAttribute("include-current", "");
      const synthWith = el.items.map((t) => t.itemId);
      el.removeAttribute("include-current");
      el.setAttribute("exclude", `${ids(7)[1]}, ${ids(7)[2]}`);
      const excluded = el.items.map((t) => t.itemId);
      el.removeAttribute("exclude");
      return { top: top.map((p) => p.itemId), without, attr, withCurrent, expected: ids(7), synthetic, synthWith, excluded };
    }, current);
    console.log(`# [${name}] the product on screen is among the runtime's top 7 here: ${r.top.includes(current)}`);
    assert.deepEqual(r.without, ids);
    assert.deepEqual(r.without, r.top.filter((id) => id !== current).slice(0, 6), "the runtime's top 6 without the product on screen");
    assert.equal(r.attr, "");
    assert.deepEqual(r.withCurrent, r.top.slice(0, 6), "include-current: the runtime's top 6 as they are");
    assert.deepEqual(r.synthetic, r.expected.slice(1, 7), "the product on screen is left out");
    assert.deepEqual(r.synthWith, r.expected.slice(0, 6), "include-current shows it");
    // exclude adds ids (with k=6 and 7 items, 2 excluded and the current product: 4 left)
    assert.deepEqual(r.excluded, r.expected.slice(3, 7), "exclude leaves out the ids it names (and still the current product)");
    assertClean(log);
    await context.close();
  });

  test(`[${name}] a tile click is one Product Clicked; the tiles are never auto-captured as views`, { skip }, async () => {
    const { context, page, log, ids } = await settledProductPage(browsers[name], "coffee", 0);
    await quiet(page);
    const s0 = await status(page);
    // the tiles have been on screen for the settle time (longer than auto-capture's 1 s dwell); 2 s more:
    await page.waitForTimeout(2000);
    const s1 = await status(page);
    assert.equal(s1.features.views, s0.features.views, "no view from the widget's tiles");
    assert.equal(s1.features.events, s0.features.events, "no event at all while the shopper only looks");
    // a click that does not navigate (the page cancels it), to count on this page
    await page.evaluate(() => document.addEventListener("click", (e) => e.preventDefault(), { capture: true, once: true }));
    await page.locator(SUGGESTION(ids[2])).click();
    await page.waitForFunction((n) => window.nextclick("status").then((s) => s.features.clicks > n), s1.features.clicks);
    await page.waitForTimeout(1500); // anything late (a second report) would land meanwhile
    const s2 = await status(page);
    assert.equal(s2.features.clicks, s1.features.clicks + 1, "exactly one click");
    assert.equal(s2.features.views, s1.features.views, "and no view");
    assert.equal(s2.stats.accepted, s1.stats.accepted + 1, "one event accepted");
    assert.equal(s2.stats.duplicates, s1.stats.duplicates, "nothing reported twice (the core would drop it as a duplicate)");
    assertClean(log);
    await context.close();
  });
}

test("a tile click that navigates is tracked before the page goes (consent granted: the next page has it)", async () => {
  const { context, page, log } = await newShopper(browsers.chromium);
  await page.goto(`${env.server.base}/`);
  await page.evaluate(() => window.nextclick("ready"));
  await allow(page);
  await openProductFrom(page, "garden", 1);
  await waitForStrip(page);
  const ids = await settledStrip(page);
  const before = (await status(page)).features;
  await page.locator(SUGGESTION(ids[0])).click();
  await page.waitForURL(new RegExp(`/p/${ids[0]}$`));
  const st = await page.evaluate(() => window.nextclick("ready"));
  assert.ok(st.restoredEvents > 0, JSON.stringify(st));
  const after = (await status(page)).features;
  assert.equal(after.clicks, before.clicks + 1, `one click carried over: ${JSON.stringify({ before, after })}`);
  // the new page shows suggestions again, never the page's own product
  const next = await waitForStrip(page);
  assert.ok(!next.includes(ids[0]), `${ids[0]} is on screen now: ${next}`);
  assertClean(log);
  await context.close();
});

test("forget: the empty state comes back at once", async () => {
  const { context, page, log } = await newShopper(browsers.chromium);
  await page.goto(`${env.server.base}/`);
  await page.evaluate(() => window.nextclick("ready"));
  await allow(page);
  await openProductFrom(page, "toys", 0);
  await waitForStrip(page);
  // read the widget in the same task as the empty prediction that forget() ends with
  const atForget = page.evaluate(
    () =>
      new Promise((resolve) => {
        let clicked = false;
        document.getElementById("nc-forget").addEventListener("click", () => (clicked = true), { capture: true });
        document.addEventListener("nextclick:prediction", (e) => {
          if (!clicked || e.detail.items.length) return;
          const el = document.getElementById("nc-strip");
          resolve({ state: el.dataset.state, tiles: el.shadowRoot.querySelectorAll("a").length, empty: !el.shadowRoot.querySelector("[part=empty]").hidden });
        });
      }),
  );
  await page.locator("#nc-forget").click();
  assert.deepEqual(await atForget, { state: "empty", tiles: 0, empty: true });
  assertClean(log);
  await context.close();
});

test("images: none by default; `images` shows same-origin catalog images only; no script URL ever becomes a link", async () => {
  const { context, page, log } = await newShopper(browsers.chromium);
  await page.goto(`${env.server.base}/`);
  await page.locator("#nc-deny").click();
  await page.goto(`${env.server.base}/c/running`);
  await page.evaluate(() => window.nextclick("ready"));
  await settledStrip(page);
  const r = await page.evaluate(async () => {
    const el = document.getElementById("nc-strip");
    const ids = [...document.querySelectorAll(".grid a.card")].slice(0, 3).map((a) => a.dataset.nextclickItem);
    const items = [
      { itemId: ids[0], title: "Same origin", url: `/p/${ids[0]}`, image: `/img/${ids[0]}.svg`, price: 10 },
      { itemId: ids[1], title: "Other origin", url: `/p/${ids[1]}`, image: "https://images.example/x.png", price: 11 },
      { itemId: ids[2], title: "<img src=x onerror=alert(1)>", url: `/p/${ids[2]}` },
      { itemId: "evil", title: "Script", url: "javascript:alert(1)" },
    ];
    el.k = 3; // as many as the usable items: no predict() for more
    const emit = () => document.dispatchEvent(new CustomEvent("nextclick:prediction", { detail: { items, intent: null } }));
    const shot = () => ({
      imgs: [...el.shadowRoot.querySelectorAll("img")].map((i) => new URL(i.src).pathname),
      hrefs: [...el.shadowRoot.querySelectorAll("a")].map((a) => a.getAttribute("href")),
      titles: [...el.shadowRoot.querySelectorAll("[part=title]")].map((t) => t.textContent),
      injected: el.shadowRoot.querySelectorAll("[onerror]").length,
    });
    emit();
    const off = shot();
    el.images = true;
    const on = shot();
    await new Promise((res) => {
      const img = el.shadowRoot.querySelector("img");
      if (img.complete) res();
      else img.addEventListener("load", res, { once: true });
    });
    const loaded = el.shadowRoot.querySelector("img").naturalWidth > 0;
    el.images = false;
    const attr = el.getAttribute("images");
    // "any": any http(s) URL (a detached element: this page's CSP, img-src 'self', would refuse the image)
    const d = document.createElement("nextclick-recommendations");
    d.images = "any";
    const any = [d.images, d.getAttribute("images")];
    // "false" / "off" (what React 18 writes for a false prop) are off, like no attribute
    const offs = ["false", "off", " OFF "].flatMap((v) => ["images", "prefetch", "include-current"].map((a) => (d.setAttribute(a, v), a === "include-current" ? d.includeCurrent : d[a])));
    return { ids, off, on, loaded, any, offs, attr };
  });
  assert.deepEqual(r.off.imgs, [], "no image without the attribute");
  assert.deepEqual(r.on.imgs, [`/img/${r.ids[0]}.svg`], "only the same-origin image");
  assert.equal(r.loaded, true);
  assert.deepEqual(r.any, ["any", "any"]);
  assert.deepEqual(r.offs, [null, null, false, null, null, false, null, null, false]);
  assert.equal(r.attr, null);
  assert.equal(r.on.hrefs.length, 3, "the javascript: item is not shown");
  assert.ok(r.on.hrefs.every((h) => h.startsWith(env.server.base)), JSON.stringify(r.on.hrefs));
  assert.equal(r.on.titles[2], "<img src=x onerror=alert(1)>", "titles are text");
  assert.equal(r.on.injected, 0);
  assertClean(log);
  await context.close();
});

test("prefetch: off by default; `prefetch` marks the top tile (in the shadow root) and Chromium prefetches it; `link` and no speculation rules add a <link rel=prefetch>", async () => {
  const { context, page, log } = await newShopper(browsers.chromium);
  await page.goto(`${env.server.base}/`);
  await page.locator("#nc-deny").click();
  await openProductFrom(page, "cycling", 2);
  await waitForStrip(page);
  const ids = await settledStrip(page);
  const marks = () =>
    page.evaluate(() => {
      const root = document.getElementById("nc-strip").shadowRoot;
      const path = (e) => new URL(e.href).pathname;
      return {
        tiles: [...root.querySelectorAll("[data-nc-prefetch]")].map(path),
        document: [...document.querySelectorAll("[data-nc-prefetch]")].map(path),
        links: [...document.querySelectorAll("link[rel=prefetch]")].map(path),
      };
    });
  const prefetched = () => log.requests.filter((r) => isPrefetch(r.headers)).map((r) => new URL(r.url).pathname);
  await page.waitForTimeout(1000);
  assert.deepEqual(await marks(), { tiles: [], document: [], links: [] }, "off by default");
  assert.deepEqual(prefetched(), [], "no prefetch request");

  // on (the demo's toggle sets the attribute): speculation rules, the top tile is marked
  await page.locator("#nc-prefetch").check();
  assert.equal(await page.evaluate(() => document.getElementById("nc-strip").prefetch), "auto");
  const top = `/p/${(await page.evaluate(() => document.getElementById("nc-strip").items))[0].itemId}`;
  assert.equal(top, `/p/${ids[0]}`);
  assert.deepEqual(await marks(), { tiles: [top], document: [], links: [] });
  // the server's document rule matches the link inside the shadow root: Chromium fetches it
  for (const t0 = Date.now(); !prefetched().includes(top) && Date.now() - t0 < 10000; ) await page.waitForTimeout(100);
  assert.ok(prefetched().includes(top), `a prefetch of ${top}: ${JSON.stringify(log.requests.map((r) => [r.url, r.headers["sec-purpose"]]))}`);
  assert.ok(prefetched().every((p) => p === top), `only the top tile is prefetched: ${prefetched()}`);
  // a new top: only it is marked
  const next = await page.evaluate((ids) => {
    const items = [ids[1], ids[0], ids[2]].map((id) => ({ itemId: id, title: id, url: `/p/${id}` }));
    const el = document.getElementById("nc-strip");
    el.k = 3;
    document.dispatchEvent(new CustomEvent("nextclick:prediction", { detail: { items, intent: null } }));
    return [...el.shadowRoot.querySelectorAll("[data-nc-prefetch]")].map((e) => new URL(e.href).pathname);
  }, ids);
  assert.deepEqual(next, [`/p/${ids[1]}`]);
  // off again: nothing marked
  await page.locator("#nc-prefetch").uncheck();
  assert.deepEqual(await marks(), { tiles: [], document: [], links: [] });

  // prefetch="link": a <link rel=prefetch> in the document's head, one at a time, gone when turned off
  await page.evaluate(() => document.getElementById("nc-strip").setAttribute("prefetch", "link"));
  assert.deepEqual(await marks(), { tiles: [], document: [`/p/${ids[1]}`], links: [`/p/${ids[1]}`] });
  for (const t0 = Date.now(); !prefetched().includes(`/p/${ids[1]}`) && Date.now() - t0 < 10000; ) await page.waitForTimeout(100);
  assert.ok(prefetched().includes(`/p/${ids[1]}`), "the <link rel=prefetch> is fetched");
  await page.evaluate(() => document.getElementById("nc-strip").removeAttribute("prefetch"));
  assert.deepEqual(await marks(), { tiles: [], document: [], links: [] });
  assertClean(log, { prefetched: [top, `/p/${ids[1]}`] });
  await context.close();

  // a browser without speculation rules: "auto" falls back to <link rel=prefetch>
  const other = await newShopper(browsers.chromium);
  await other.context.addInitScript(() => {
    HTMLScriptElement.supports = (type) => type !== "speculationrules" && ["classic", "module", "importmap"].includes(type);
  });
  await other.page.goto(`${env.server.base}/`);
  await other.page.locator("#nc-deny").click();
  await openProductFrom(other.page, "cycling", 2);
  await other.page.locator("#nc-prefetch").check();
  await waitForStrip(other.page);
  const fallback = await other.page.evaluate(() => {
    const el = document.getElementById("nc-strip");
    return {
      top: `/p/${el.items[0].itemId}`,
      tiles: el.shadowRoot.querySelectorAll("[data-nc-prefetch]").length,
      links: [...document.querySelectorAll("head > link[rel=prefetch][data-nc-prefetch]")].map((l) => new URL(l.href).pathname),
    };
  });
  assert.equal(fallback.tiles, 0);
  assert.deepEqual(fallback.links, [fallback.top]);
  const announced = [...new Set(other.log.requests.filter((r) => isPrefetch(r.headers)).map((r) => new URL(r.url).pathname))];
  assertClean(other.log, { prefetched: announced });
  await other.context.close();
});

test("defined once: importing the module again, or defining again, keeps the first definition", async () => {
  const { context, page, log } = await newShopper(browsers.chromium);
  await page.goto(`${env.server.base}/c/toys`);
  await page.evaluate(() => window.nextclick("ready"));
  const r = await page.evaluate(async () => {
    const first = customElements.get("nextclick-recommendations");
    const m = await import("/sdk/widget.js");
    m.defineNextclickRecommendations();
    m.defineNextclickRecommendations("my-recommendations"); // another name: a subclass of its own
    const el = document.createElement("my-recommendations");
    return {
      same: customElements.get("nextclick-recommendations") === first && first === m.NextclickRecommendations,
      other: el instanceof m.NextclickRecommendations && !!el.shadowRoot,
    };
  });
  assert.deepEqual(r, { same: true, other: true });
  assertClean(log);
  await context.close();
});
