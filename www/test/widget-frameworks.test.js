// `<nextclick-recommendations>` in a React 19 and a Vue 3 app (examples/react/app.jsx, examples/vue/app.js, as
// docs/widget.md quotes them): each is bundled with esbuild, resolving `nextclick` and `nextclick/widget`
// through the package's `exports` (packages/nextclick, linked into a scratch node_modules as a shop installs
// it); the bundle must hold the widget and the app's use of the element. Then each app runs in Chromium under
// `nextclick serve`'s strict CSP, the package's sdk/ and pkg/ served at /nextclick/ as docs/js-sdk.md
// deploys them: the framework's props reach the element (as properties, mirrored to attributes), the tiles
// show the predictions without the product on screen, the app's prefetch toggle reaches the element, and the
// console and the network stay clean. React, Vue and esbuild are www's devDependencies (pinned).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as esbuild from "esbuild";
import { REPO, WWW, PACKAGE, startServer, launchBrowser, newShopper, assertNoEgress } from "../support/harness.js";

const EXAMPLES = path.join(REPO, "examples");
const APPS = {
  react: { entry: "react/app.jsx", element: /\bjsxs?\)?\(\s*"nextclick-recommendations",\s*\{\s*k: 4,/ },
  vue: { entry: "vue/app.js", element: /\bh\d*\)?\(\s*"nextclick-recommendations",\s*\{\s*k: 4,/ },
};
let dir, dist, server, browser;
const built = {};

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "nextclick-frameworks-"));
  // the shop's node_modules: the package (linked, so the test builds this checkout) beside www's React and Vue
  mkdirSync(path.join(dir, "node_modules"));
  symlinkSync(PACKAGE, path.join(dir, "node_modules/nextclick"), "dir");
  dist = path.join(dir, "dist");
  // the documented deployment: the package's sdk/ and pkg/ side by side (www/pkg is the release build)
  cpSync(path.join(PACKAGE, "sdk"), path.join(dist, "nextclick/sdk"), { recursive: true });
  cpSync(path.join(WWW, "pkg"), path.join(dist, "nextclick/pkg"), { recursive: true });
  cpSync(path.join(WWW, "demo/catalog.bin"), path.join(dist, "catalog.bin"));
  cpSync(path.join(WWW, "favicon.ico"), path.join(dist, "favicon.ico"));
  for (const [name, app] of Object.entries(APPS)) {
    const outfile = path.join(dist, `${name}.bundle.js`);
    const result = await esbuild.build({
      entryPoints: [path.join(EXAMPLES, app.entry)],
      bundle: true,
      format: "esm",
      outfile,
      jsx: "automatic", // React's JSX runtime (only the .jsx entry has JSX)
      nodePaths: [path.join(dir, "node_modules"), path.join(WWW, "node_modules")],
      // what a production build of either framework sets (React reads NODE_ENV, Vue its feature flags)
      define: {
        "process.env.NODE_ENV": '"production"',
        __VUE_OPTIONS_API__: "true",
        __VUE_PROD_DEVTOOLS__: "false",
        __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "false",
      },
      metafile: true,
      logLevel: "silent",
    });
    built[name] = { result, text: readFileSync(outfile, "utf8") };
    const html = readFileSync(path.join(EXAMPLES, name, "index.html"), "utf8");
    writeFileSync(path.join(dist, `${name}.html`), html.replace("/app.bundle.js", `/${name}.bundle.js`));
  }
  server = await startServer({ root: dist, sdk: "none" });
  browser = await launchBrowser("chromium");
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

for (const [name, app] of Object.entries(APPS)) {
  test(`examples/${app.entry} bundles with esbuild: the widget through nextclick/widget, and the app's <nextclick-recommendations>`, () => {
    const { result, text } = built[name];
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
    const inputs = Object.keys(result.metafile.inputs).map((f) => path.resolve(f));
    // resolved through the package's exports ("./widget" → sdk/widget.js, "." → sdk/nextclick.js)
    for (const f of ["sdk/widget.js", "sdk/nextclick.js", "sdk/prefetch.js"]) {
      assert.ok(inputs.includes(path.join(PACKAGE, f)), `${f} is bundled: ${inputs.filter((i) => !i.includes("node_modules"))}`);
    }
    assert.ok(inputs.some((f) => f.includes(path.join("node_modules", name === "react" ? "react-dom" : "@vue/runtime-dom"))), `${name} is bundled`);
    assert.match(text, /customElements\.define\(/, "the widget defines the element");
    assert.match(text, app.element, "the app renders <nextclick-recommendations k={4} …>");
    assert.match(text, /label: "You may also like"/);
    assert.doesNotMatch(text, /\bnew Function\(|\beval\(/, "nothing the CSP would refuse");
  });

  test(`[chromium] the ${name} app: props reach the element, tiles without the product on screen, prefetch toggles, clean console and network`, async () => {
    const { context, page, log } = await newShopper(browser);
    await page.goto(`${server.base}/${name}.html`);
    const list = page.getByRole("list", { name: "You may also like" });
    await list.waitFor({ timeout: 120000 });
    await page.waitForFunction(() => document.querySelector("nextclick-recommendations").items.length === 4, null, { timeout: 60000 });
    const r = await page.evaluate(() => {
      const el = document.querySelector("nextclick-recommendations");
      return {
        defined: customElements.get("nextclick-recommendations") === el.constructor,
        k: [el.k, el.getAttribute("k")],
        label: el.getAttribute("label"),
        currency: el.currency,
        prefetch: el.prefetch,
        ids: el.items.map((t) => t.itemId),
        price: el.shadowRoot.querySelector("[part=price]").textContent,
        empty: el.querySelector("[slot=empty]").textContent,
      };
    });
    assert.equal(r.defined, true);
    assert.deepEqual(r.k, [4, "4"], "k={4}: a property, mirrored to the attribute");
    assert.equal(r.label, "You may also like");
    assert.equal(r.currency, "EUR");
    assert.equal(r.prefetch, null, "prefetch={false}: off");
    assert.equal(r.ids.length, 4);
    assert.ok(!r.ids.includes("p-0001"), `the product on screen is left out: ${r.ids}`);
    assert.match(r.price, /^€\d+\.\d\d$/);
    assert.equal(r.empty, "Browse a little and suggestions appear here.");
    assert.equal(await list.getByRole("link").count(), 4);
    // the app's own state → the element's prefetch property → the top tile is marked
    await page.getByLabel("Prefetch the top suggestion").check();
    await page.waitForFunction(() => document.querySelector("nextclick-recommendations").prefetch === "auto");
    const marked = await page.evaluate(() => [...document.querySelector("nextclick-recommendations").shadowRoot.querySelectorAll("[data-nc-prefetch]")].map((a) => a.dataset.itemId));
    assert.equal(marked.length, 1);
    await page.getByLabel("Prefetch the top suggestion").uncheck();
    await page.waitForFunction(() => !document.querySelector("nextclick-recommendations").hasAttribute("prefetch"));
    const st = await page.evaluate(() => window.nextclick("status"));
    assert.equal(st.disabled, null);
    assert.equal(st.backend, "worker", "the worker starts from /nextclick/sdk/");
    assert.deepEqual(log.pageErrors, []);
    assert.deepEqual(log.consoleErrors, []);
    assert.ok(!log.warnings.some((w) => /nextclick/.test(w)), JSON.stringify(log.warnings));
    assertNoEgress(log, server.base);
    await context.close();
  });
}
