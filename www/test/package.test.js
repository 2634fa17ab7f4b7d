// The npm package as a shop installs it: the tarball of `make package` (target/package/nextclick-<v>.tgz) is
// installed offline into a scratch app, which then
// * bundles examples/bundle/app.js (`import { nextclick } from "nextclick"`) with esbuild and serves the
//   bundle plus the package's sdk/ and pkg/ folders under a strict CSP (`script-src 'self'
//   'wasm-unsafe-eval'`, no inline script): with `assets` the worker starts and the wasm loads from there,
//   predictions appear (Chromium, Firefox); without `assets` nothing is found beside the bundle, and the
//   SDK says so and how to fix it (never a silent main-thread fallback) while the page goes on;
// * loads the classic `<script src=".../sdk/loader.js">` from the same installed package (examples/classic);
// * imports it under Node (server-side rendering): every command resolves to its documented no-op value.
// Needs `make package` and `make tools-release` (test-e2e builds both); skips visibly without the tarball,
// fails under CI=true.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO, WWW, startServer, launchBrowser, newShopper, firefoxMissing, assertNoEgress } from "../support/harness.js";

const VERSION = JSON.parse(readFileSync(path.join(REPO, "packages/nextclick/package.json"), "utf8")).version;
const TARBALL = path.join(REPO, `target/package/nextclick-${VERSION}.tgz`);
const missing = existsSync(TARBALL) ? null : `${TARBALL} is missing: run \`make package\``;
if (missing && process.env.CI === "true") throw new Error(`CI=true: ${missing}`);
const skip = missing ? `SKIPPED: ${missing}` : false;

const EXAMPLES = path.join(REPO, "examples");
let app, dist, server, installMs;

before(async () => {
  if (skip) return;
  app = mkdtempSync(path.join(os.tmpdir(), "nextclick-package-app-"));
  writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "shop-app", private: true, type: "module" }));
  const t0 = Date.now();
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", TARBALL], { cwd: app, stdio: "pipe" });
  installMs = Date.now() - t0;
  const installed = path.join(app, "node_modules/nextclick");
  dist = path.join(app, "dist");
  mkdirSync(dist);
  // the documented deployment step: the package's sdk/ and pkg/ folders, served as they are
  cpSync(path.join(installed, "sdk"), path.join(dist, "nextclick/sdk"), { recursive: true });
  cpSync(path.join(installed, "pkg"), path.join(dist, "nextclick/pkg"), { recursive: true });
  cpSync(path.join(WWW, "demo/catalog.bin"), path.join(dist, "catalog.bin"));
  cpSync(path.join(WWW, "favicon.ico"), path.join(dist, "favicon.ico"));
  // examples/bundle: the shop's app.js as documented, and the same without `assets`
  const appJs = readFileSync(path.join(EXAMPLES, "bundle/app.js"), "utf8");
  const noAssets = appJs.replace(/\n\s*assets: "\/nextclick\/",/, "");
  assert.notEqual(noAssets, appJs, "examples/bundle/app.js sets assets");
  writeFileSync(path.join(app, "with-assets.js"), appJs);
  writeFileSync(path.join(app, "no-assets.js"), noAssets);
  const html = readFileSync(path.join(EXAMPLES, "bundle/index.html"), "utf8");
  const esbuild = path.join(WWW, "node_modules/.bin/esbuild");
  for (const name of ["with-assets", "no-assets"]) {
    execFileSync(esbuild, [`${name}.js`, "--bundle", "--format=esm", "--minify", `--outfile=dist/${name}.bundle.js`, "--log-level=warning"], { cwd: app, stdio: "pipe" });
    writeFileSync(path.join(dist, `${name}.html`), html.replace("/app.bundle.js", `/${name}.bundle.js`));
  }
  // examples/classic: the classic script from the same package, configured by the shop's own script
  cpSync(path.join(EXAMPLES, "classic/page.js"), path.join(dist, "page.js"));
  cpSync(path.join(EXAMPLES, "classic/index.html"), path.join(dist, "classic.html"));
  server = await startServer({ root: dist, sdk: "none" });
});

after(() => {
  if (server) server.stop();
  if (app) rmSync(app, { recursive: true, force: true });
});

test("the packed tarball installs offline; its files are the package's, nothing else", { skip }, () => {
  const installed = path.join(app, "node_modules/nextclick");
  const pj = JSON.parse(readFileSync(path.join(installed, "package.json"), "utf8"));
  assert.equal(pj.name, "nextclick");
  assert.equal(pj.version, VERSION);
  for (const f of ["sdk/nextclick.js", "sdk/loader.js", "sdk/worker.js", "sdk/engine.js", "sdk/nextclick.d.ts", "pkg/nextclick.js", "pkg/nextclick_bg.wasm"]) {
    assert.ok(existsSync(path.join(installed, f)), `${f} is in the package`);
  }
  const wasm = readFileSync(path.join(installed, "pkg/nextclick_bg.wasm"));
  assert.deepEqual([...wasm.subarray(0, 4)], [0, 0x61, 0x73, 0x6d], "a wasm binary");
  assert.deepEqual(wasm, readFileSync(path.join(WWW, "pkg/nextclick_bg.wasm")), "the release wasm of this build");
  assert.ok(!existsSync(path.join(installed, "test")) && !existsSync(path.join(installed, "src")), "no test or source folders shipped");
  console.log(`# packed install (npm install --offline of the tarball): ${installMs} ms`);
});

test("under Node (SSR) the package imports without a window and every command resolves to its no-op value", { skip }, () => {
  const script = `import { nextclick } from "nextclick";
const out = {
  type: typeof nextclick,
  window: typeof window,
  init: await nextclick("init", { model: "m", catalog: "c" }),
  predict: await nextclick("predict", 5),
  intent: await nextclick("intent"),
  status: (await nextclick("status")).consent,
  forget: await nextclick("forget"),
};
console.log(JSON.stringify(out));`;
  const out = JSON.parse(execFileSync("node", ["--input-type=module", "-e", script], { cwd: app, encoding: "utf8" }).trim());
  assert.equal(out.type, "function");
  assert.equal(out.window, "undefined");
  assert.deepEqual(out.predict, []);
  assert.equal(out.status, "pending");
  assert.equal(out.forget, true);
});

/** Opens `page` of the scratch app and waits for suggestions; returns what the page and network did. */
async function open(browser, file) {
  const { context, page, log } = await newShopper(browser);
  await page.goto(`${server.base}/${file}`);
  await page.waitForFunction(() => document.getElementById("suggestions").textContent.length > 0, null, { timeout: 120000 });
  const st = await page.evaluate(() => window.nextclick("status"));
  const paths = log.requests.map((r) => new URL(r.url).pathname);
  return { context, page, log, st, paths };
}

for (const name of ["chromium", "firefox"]) {
  const why = skip || (name === "firefox" && firefoxMissing()) || false;
  test(`[${name}] bundled with esbuild and given \`assets\`: the worker starts, the wasm loads under the strict CSP, predictions appear`, { skip: why, timeout: 300000 }, async () => {
    const browser = await launchBrowser(name);
    try {
      const { context, log, st, paths } = await open(browser, "with-assets.html");
      assert.equal(st.disabled, null, `engine running: ${st.disabled}`);
      assert.equal(st.backend, "worker", "the engine runs in the worker");
      assert.ok(st.last && st.last.items.length > 0, "a prediction");
      for (const want of ["/nextclick/sdk/worker.js", "/nextclick/pkg/nextclick.js", "/nextclick/pkg/nextclick_bg.wasm", "/models/default.onnx", "/catalog.bin"]) {
        assert.ok(paths.includes(want), `no request for ${want}: ${paths}`);
      }
      assert.deepEqual(log.consoleErrors, [], "console errors");
      assert.deepEqual(log.pageErrors, [], "page errors");
      assert.ok(!log.warnings.some((w) => /worker failed/.test(w)), `no worker warning: ${log.warnings}`);
      assertNoEgress(log, server.base);
      await context.close();
    } finally {
      await browser.close();
    }
  });

  test(`[${name}] bundled without \`assets\`: nothing is found beside the bundle — warnings say how to fix it, the page goes on`, { skip: why, timeout: 300000 }, async () => {
    const browser = await launchBrowser(name);
    try {
      const { context, page, log } = await newShopper(browser);
      await page.goto(`${server.base}/no-assets.html`);
      const st = await page.evaluate(() => window.nextclick("ready"));
      const worker = log.warnings.find((w) => /worker failed/.test(w));
      assert.ok(worker, `a warning about the worker: ${JSON.stringify(log.warnings)}`);
      assert.match(worker, /assets/, "it names the option that fixes it");
      // the main thread cannot find the glue either (it is not beside the bundle): disabled, and it says why
      assert.match(String(st.disabled), /cannot load the wasm glue .*assets/, `disabled: ${st.disabled}`);
      assert.equal(await page.locator("h1").textContent(), "A shop", "the page is unharmed");
      assert.equal(await page.locator("#suggestions").textContent(), "", "no suggestions");
      // Firefox reports the two failed loads (the 404s are text/plain) as page errors of its own; nothing else
      const own = log.pageErrors.filter((e) => !/Loading (Worker|module) from .*\/(worker|pkg\/nextclick)\.js.* was blocked/.test(e));
      assert.deepEqual(own, [], "page errors");
      assertNoEgress(log, server.base);
      await context.close();
    } finally {
      await browser.close();
    }
  });

  test(`[${name}] the classic <script> loader from the same installed package`, { skip: why, timeout: 300000 }, async () => {
    const browser = await launchBrowser(name);
    try {
      const { context, log, st, paths } = await open(browser, "classic.html");
      assert.equal(st.backend, "worker");
      assert.ok(paths.includes("/nextclick/sdk/loader.js") && paths.includes("/nextclick/sdk/nextclick.js"), `${paths}`);
      assert.deepEqual(log.consoleErrors, [], "console errors");
      assert.deepEqual(log.pageErrors, [], "page errors");
      assertNoEgress(log, server.base);
      await context.close();
    } finally {
      await browser.close();
    }
  });
}
