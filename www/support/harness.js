// Shared e2e harness (not a test file): starts `nextclick serve` on a free 127.0.0.1 port and a headless
// Debian Chromium through playwright-core (never a downloaded browser), and records everything a page does
// on the network, on the console and against the CSP.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "playwright-core";

export const WWW = fileURLToPath(new URL("..", import.meta.url));
export const REPO = path.resolve(WWW, "..");
const BIN = process.env.NEXTCLICK_BIN || path.join(REPO, "target/release/nextclick");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage",
];

/** Starts the server; resolves to `{base, stop}`. */
export async function startServer() {
  for (const [p, how] of [
    [BIN, "cargo build --release -p nextclick-tools"],
    [path.join(WWW, "pkg/nextclick_bg.wasm"), "make wasm-release"],
  ]) {
    if (!existsSync(p)) throw new Error(`${p} is missing: run \`${how}\` (or \`make test-e2e\`)`);
  }
  const child = spawn(BIN, ["serve", "--root", WWW, "--host", "127.0.0.1", "--port", "0", "--models", path.join(REPO, "models")], {
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

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** A fresh browser context (a new "shopper") with request, console and CSP recording. */
export async function newShopper(browser) {
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

/** What the page keeps on the device: IndexedDB database names and localStorage keys. */
export function deviceStorage(page) {
  return page.evaluate(async () => ({
    databases: (await indexedDB.databases()).map((d) => d.name),
    localStorage: Object.keys(localStorage),
  }));
}

/** Ids of the suggestion strip. */
export function stripIds(page) {
  return page.$$eval("#nc-strip a.card", (as) => as.map((a) => a.getAttribute("data-nextclick-item")));
}

export const status = (page) => page.evaluate(() => window.nextclick("status"));
