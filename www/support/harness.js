// Shared e2e harness (not a test file): starts `nextclick serve` on a free 127.0.0.1 port and a headless
// Debian browser through playwright-core (never a downloaded browser) — Chromium over CDP, or Firefox ESR over
// WebDriver BiDi (`NEXTCLICK_BROWSER=chromium|firefox`) — and records everything a page does on the network,
// on the console and against the CSP. `"webkit"` (WebKitGTK over classic WebDriver, with a Playwright-like page
// and its own recording) lives in support/webkit.js.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium, firefox } from "playwright-core";

export const WWW = fileURLToPath(new URL("..", import.meta.url));
export const REPO = path.resolve(WWW, "..");
export const BIN = process.env.NEXTCLICK_BIN || path.join(REPO, "target/release/nextclick");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
/** Debian's firefox-esr (scripts/setup.sh installs it); `FIREFOX=/path/to/firefox` overrides. */
export const FIREFOX = process.env.FIREFOX || "/usr/bin/firefox-esr";
/** The browser `launchBrowser()` starts by default: `NEXTCLICK_BROWSER=chromium` (default) or `firefox`. */
export const BROWSER = process.env.NEXTCLICK_BROWSER || "chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage",
];

/** The npm package's folder (its SDK modules are served at /sdk/). */
export const PACKAGE = path.join(REPO, "packages/nextclick");

/**
 * Starts the server; resolves to `{base, stop}`. Default: the demo shop (`www`, the package's SDK at /sdk/);
 * `root` serves another folder (e.g. a scratch app), `sdk` another /sdk/ mount ("none": none), `models`
 * another /models/ folder.
 */
export async function startServer({ root = WWW, sdk = path.join(PACKAGE, "sdk"), models = path.join(REPO, "models") } = {}) {
  for (const [p, how] of [
    [BIN, "make tools-release"],
    [path.join(WWW, "pkg/nextclick_bg.wasm"), "make wasm-release"],
  ]) {
    if (!existsSync(p)) throw new Error(`${p} is missing: run \`${how}\` (or \`make test-e2e\`)`);
  }
  const args = ["serve", "--root", root, "--host", "127.0.0.1", "--port", "0", "--models", models, "--sdk", sdk];
  const child = spawn(BIN, args, {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const base = await new Promise((resolve, reject) => {
    let out = "";
    const t = setTimeout(() => reject(new Error(`nextclick serve did not print its URL: ${out}`)), 15000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (m) {
        clearTimeout(t);
        resolve(m[0]);
      }
    });
    child.on("exit", (code) => reject(new Error(`nextclick serve exited (${code}): ${out}`)));
  });
  return { base, stop: () => child.kill("SIGTERM") };
}

/**
 * Starts a headless browser: `"chromium"` (Debian's /usr/bin/chromium over CDP) or `"firefox"` (stock
 * firefox-esr over WebDriver BiDi: playwright-core's `moz-firefox` channel with an `executablePath`;
 * `firefoxPrefs` are added to the profile's prefs).
 */
export function launchBrowser(name = BROWSER, { firefoxPrefs = {}, server } = {}) {
  // WebKit needs the server: its pages reach it through a recording proxy (the browser's `server` is the
  // proxied one: use its base)
  if (name === "webkit") return import("./webkit.js").then((w) => w.launchWebKit({ server }));
  if (name === "chromium") return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  if (name === "firefox") {
    shimBidiMediaOverride();
    return firefox.launch({
      channel: "moz-firefox",
      executablePath: FIREFOX,
      headless: true,
      firefoxUserPrefs: {
        // no update checks, telemetry or remote settings traffic from the browser itself
        "app.update.enabled": false,
        "datareporting.policy.dataSubmissionEnabled": false,
        "toolkit.telemetry.enabled": false,
        "network.captive-portal-service.enabled": false,
        "network.connectivity-service.enabled": false,
        "browser.safebrowsing.malware.enabled": false,
        "browser.safebrowsing.phishing.enabled": false,
        ...firefoxPrefs,
      },
    });
  }
  throw new Error(`NEXTCLICK_BROWSER=${name}: expected "chromium", "firefox" or "webkit"`);
}

/**
 * Why a Firefox run is not possible here, or null: the executable is missing (scripts/setup.sh installs
 * Debian's firefox-esr).
 */
export function firefoxMissing() {
  return existsSync(FIREFOX) ? null : `${FIREFOX} not found (install Debian's firefox-esr: scripts/setup.sh, or set FIREFOX)`;
}

/**
 * playwright-core 1.65 sends `emulation.setMediaFeaturesOverride` when it creates every BiDi browser
 * context (to reset prefers-color-scheme), a command Firefox ESR 153's WebDriver BiDi does not implement
 * yet ("unknown command"), so `newContext()` fails. The tests never emulate media features: the command
 * then only asks for "no override", which is exactly the browser's state, so it is acknowledged locally
 * instead of being sent. Any call that does ask for an override still goes to the browser (and fails
 * there, visibly). The patch is on playwright-core's in-process WebSocket transport (one module instance
 * per node process) and is installed once.
 */
function shimBidiMediaOverride() {
  const require = createRequire(import.meta.url);
  const T = require("playwright-core/lib/coreBundle").server.WebSocketTransport.prototype;
  if (T.__nextclickShim) return;
  const send = T.send;
  T.send = function (message) {
    const f = message?.method === "emulation.setMediaFeaturesOverride" ? message.params?.features : null;
    if (f && Object.values(f).every((v) => v === null || v === undefined)) {
      setImmediate(() => this.onmessage?.({ type: "success", id: message.id, result: {} }));
      return;
    }
    return send.call(this, message);
  };
  T.__nextclickShim = true;
}

/** A fresh browser context (a new "shopper") with request, console and CSP recording. */
export async function newShopper(browser) {
  if (typeof browser.newShopper === "function") return browser.newShopper(); // WebKit (support/webkit.js)
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const log = { requests: [], documents: [], consoleErrors: [], warnings: [], pageErrors: [], csp: [] };
  context.on("request", (r) =>
    log.requests.push({ url: r.url(), method: r.method(), post: r.postData(), type: r.resourceType(), headers: r.headers() }),
  );
  context.on("response", async (r) => {
    if (r.request().resourceType() !== "document") return;
    try {
      log.documents.push(await r.text());
    } catch {
      /* navigated away before the body was read */
    }
  });
  await context.exposeBinding("__ncReportCsp", (_src, v) => log.csp.push(v));
  await context.addInitScript(() => {
    document.addEventListener(
      "securitypolicyviolation",
      (e) => window.__ncReportCsp(`${e.violatedDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`),
      true,
    );
  });
  const page = await context.newPage();
  const onConsole = (m) => {
    const text = m.text();
    if (m.type() === "error") log.consoleErrors.push(text);
    if (m.type() === "warning") log.warnings.push(text);
    if (/Content.Security.Policy/i.test(text)) log.csp.push(text);
  };
  page.on("console", onConsole);
  page.on("pageerror", (e) => log.pageErrors.push(String(e)));
  page.on("worker", (w) => {
    if (typeof w.on === "function") w.on("console", onConsole);
  });
  return { context, page, log };
}

/**
 * The no-egress check every browser test ends with: no CSP violation, and every recorded request a
 * same-origin (`base`) GET without a body or a query string. Returns the requests' URLs for further checks.
 */
export function assertNoEgress(log, base) {
  assert.deepEqual(log.csp, [], "CSP violations");
  return log.requests.map((r) => {
    const u = new URL(r.url);
    assert.equal(u.origin, base, `request to another origin: ${r.url}`);
    assert.equal(r.method, "GET", `${r.method} ${r.url}`);
    assert.equal(r.post, null, `request body on ${r.url}`);
    assert.equal(u.search, "", `query string on ${r.url}`);
    return u;
  });
}

/** What the page keeps on the device: IndexedDB database names and localStorage keys. */
export function deviceStorage(page) {
  return page.evaluate(async () => ({
    databases: (await indexedDB.databases()).map((d) => d.name),
    localStorage: Object.keys(localStorage),
  }));
}

/**
 * Ids of the suggestion strip, in order: the tiles of the demo's `<nextclick-recommendations id="nc-strip">`
 * (links `a[data-item-id]` in its open shadow root; `SUGGESTION` selects one for a click).
 */
export function stripIds(page) {
  return page.evaluate(() => [...(document.getElementById("nc-strip")?.shadowRoot?.querySelectorAll("a[data-item-id]") ?? [])].map((a) => a.dataset.itemId));
}

/**
 * A locator selector for the strip's tile of `id`: `>>` steps into the widget's shadow root (Playwright
 * pierces open shadow roots; support/webkit.js's locator does the same for `>>`).
 */
export const SUGGESTION = (id) => `#nc-strip >> a[data-item-id="${id}"]`;

export const status = (page) => page.evaluate(() => window.nextclick("status"));
