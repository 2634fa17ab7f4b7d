// WebKit for the shared e2e scenarios (not a test file): WebKitGTK's MiniBrowser driven by WebKitWebDriver
// (Debian's webkit2gtk-driver) over classic W3C WebDriver with webdriverio, on an Xvfb display, behind a
// small page API with the subset of Playwright's `page` that support/scenarios.js and harness.js use.
//
// WebKitGTK 2.50's WebKitWebDriver has no WebDriver BiDi, and WebDriver classic sees neither the network
// nor the console, so the recording works differently from harness.js:
// - Requests: the browser talks to a recording reverse proxy (in this node process) in front of
//   `nextclick serve`; `env.server.base` is the proxy's origin. The proxy sees every request the pages and
//   their workers send (method, URL, headers, body) and keeps the body of every document response.
//   It also does the request routing Playwright does in the browser: `context.route(url, handler)` (the
//   subset of Playwright's `Route` the tests use: fetch the upstream's answer, fulfill with another body or
//   status, continue), e.g. test/e2e-webkit-split.test.js rewriting the demo's /demo/shop.js.
// - Console: the proxy adds `<script src="/__nc/capture.js">` as the first element of every HTML
//   document's <head> (allowed by the page's own CSP, `script-src 'self'`) and prepends the same capture
//   code to every worker script. It wraps console.error/console.warn and listens for uncaught errors,
//   unhandled rejections and `securitypolicyviolation` events, and hands each one to the proxy with a
//   synchronous XHR (so a message is recorded before the console call returns). The proxy's own paths
//   (/__nc/...) are not recorded as requests and never reach the server.
//   Not seen this way: messages the browser itself writes to the console (a CSP header it cannot parse,
//   a failed resource load). MiniBrowser's `--enable-write-console-messages-to-stdout` would show them,
//   but WebKit does not log pages of an ephemeral session (every automation session is one) to stdout;
//   test/e2e-webkit.test.js checks those once with a non-automated MiniBrowser instead (`consoleOfPage`).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER || "/usr/bin/WebKitWebDriver";
export const MINIBROWSER = process.env.MINIBROWSER || "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
const XVFB = process.env.XVFB || "/usr/bin/Xvfb";
const DEFAULT_TIMEOUT = 30000;

/** Why a WebKit run is not possible here, or null (scripts/setup.sh installs webkit2gtk-driver and xvfb). */
export function webkitMissing() {
  const install = "install Debian's webkit2gtk-driver and xvfb: scripts/setup.sh browsers";
  if (!existsSync(WEBKIT_DRIVER)) return `${WEBKIT_DRIVER} not found (${install}, or set WEBKIT_DRIVER)`;
  if (!existsSync(MINIBROWSER)) return `${MINIBROWSER} not found (${install}, or set MINIBROWSER)`;
  if (!existsSync(XVFB) && !process.env.DISPLAY) return `${XVFB} not found and no DISPLAY (${install})`;
  return null;
}

/** Console capture, for a page (`self` is `window`) and for a worker (prepended to its script). */
const CAPTURE = `(() => {
  if (self.__ncCapture) return;
  self.__ncCapture = true;
  const where = typeof document === "object" ? "page" : "worker";
  const str = (v) => {
    if (typeof v === "string") return v;
    if (v instanceof Error) return String(v);
    try { return JSON.stringify(v) ?? String(v); } catch { return String(v); }
  };
  const send = (kind, text) => {
    const body = JSON.stringify({ kind, text, where, url: String(location.href) });
    try {
      const x = new XMLHttpRequest();
      x.open("POST", "/__nc/console", false);
      x.send(body);
    } catch {
      try { navigator.sendBeacon ? navigator.sendBeacon("/__nc/console", body) : fetch("/__nc/console", { method: "POST", body, keepalive: true }); } catch {}
    }
  };
  for (const [m, kind] of [["error", "error"], ["warn", "warning"]]) {
    const orig = console[m];
    console[m] = function (...a) {
      send(kind, a.map(str).join(" "));
      return orig.apply(this, a);
    };
  }
  self.addEventListener("error", (e) => {
    if (e instanceof ErrorEvent) send("pageerror", String(e.error || e.message) + " (" + e.filename + ":" + e.lineno + ")");
  }, true);
  self.addEventListener("unhandledrejection", (e) => send("pageerror", "unhandled rejection: " + str(e.reason)));
  if (where === "page") {
    document.addEventListener("securitypolicyviolation", (e) => send("csp", e.violatedDirective + " blocked " + e.blockedURI + " (" + e.sourceFile + ":" + e.lineNumber + ")"), true);
  }
})();
`;

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/**
 * A Playwright route pattern as a test of a full URL: a RegExp, a function of the URL, or a glob string
 * (`**` any characters, `*` any but `/`), e.g. "**\/demo/shop.js".
 */
function urlMatcher(pattern) {
  if (pattern instanceof RegExp) return (url) => pattern.test(url);
  if (typeof pattern === "function") return (url) => pattern(new URL(url));
  const re = String(pattern)
    .split(/(\*\*|\*)/)
    .map((part) => (part === "**" ? ".*" : part === "*" ? "[^/]*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return (url) => new RegExp(`^${re}$`).test(url);
}

/**
 * The recording reverse proxy in front of `upstream` (`nextclick serve`'s base URL). `proxy.log` is the
 * log records go to (the current shopper's), or null; `proxy.routes` the current shopper's routes
 * (`context.route`: `{match, handler}`, the last one added first, as in Playwright).
 */
async function startProxy(upstream) {
  const up = new URL(upstream);
  const proxy = { log: null, routes: [], base: null, server: null, inflight: new Map() };
  let reqSeq = 0;
  /** The upstream's answer to `req` (with `body`): `{statusCode, statusMessage, headers, body}`. */
  const fetchUpstream = (req, body) =>
    new Promise((resolve, reject) => {
      const fwd = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: { ...req.headers, host: up.host } }, async (r) => {
        try {
          const parts = [];
          for await (const c of r) parts.push(c);
          resolve({ statusCode: r.statusCode, statusMessage: r.statusMessage, headers: { ...r.headers }, body: Buffer.concat(parts) });
        } catch (e) {
          reject(e);
        }
      });
      fwd.on("error", reject);
      fwd.end(body);
    });
  proxy.server = http.createServer(async (req, res) => {
    // requests received and not yet answered (a page whose load never completes names them)
    const rid = ++reqSeq;
    proxy.inflight.set(rid, { url: req.url, dest: req.headers["sec-fetch-dest"] || "", since: Date.now() });
    res.on("close", () => proxy.inflight.delete(rid));
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const u = new URL(req.url, "http://x");
    const log = proxy.log;
    if (TRACE) {
      const t = Date.now();
      process.stderr.write(`[proxy] ${req.method} ${req.url.slice(0, 80)} ${req.headers["sec-fetch-dest"] || ""}${u.pathname === "/__nc/console" ? " " + body.toString().slice(0, 160) : ""}\n`);
      res.on("finish", () => process.stderr.write(`[proxy] ${req.url.slice(0, 60)} answered ${res.statusCode} in ${Date.now() - t} ms\n`));
    }
    if (u.pathname === "/__nc/capture.js") {
      res.writeHead(200, { "content-type": "text/javascript", "cache-control": "no-store" });
      return res.end(CAPTURE);
    }
    if (u.pathname === "/__nc/console") {
      try {
        const m = JSON.parse(body.toString());
        if (log) {
          if (m.kind === "error") log.consoleErrors.push(m.text);
          if (m.kind === "warning") log.warnings.push(m.text);
          if (m.kind === "pageerror") log.pageErrors.push(m.text);
          if (m.kind === "csp") log.csp.push(m.text);
          if (m.kind !== "csp" && /Content.Security.Policy/i.test(m.text)) log.csp.push(m.text);
        }
      } catch {
        /* not ours */
      }
      res.writeHead(204);
      return res.end();
    }
    const dest = req.headers["sec-fetch-dest"] || "";
    const type = dest === "document" ? "document" : dest || "other";
    const url = proxy.base + req.url;
    if (log) log.requests.push({ url, method: req.method, post: body.length ? body.toString() : null, type, headers: { ...req.headers } });
    /** Answers with `a` (the upstream's or a route's), the capture script added to documents and workers. */
    const reply = (a) => {
      let out = a.body;
      const ctype = String(a.headers["content-type"] || "");
      if (type === "document" && /text\/html/.test(ctype)) {
        const html = out.toString();
        if (log) log.documents.push(html);
        out = Buffer.from(html.replace(/<head>/i, (h) => `${h}<script src="/__nc/capture.js"></script>`));
      } else if (dest === "worker" && /javascript/.test(ctype) && a.statusCode === 200) {
        out = Buffer.concat([Buffer.from(CAPTURE), out]);
      }
      const headers = { ...a.headers };
      delete headers["content-length"];
      delete headers["transfer-encoding"];
      headers["content-length"] = String(out.length);
      res.writeHead(a.statusCode, a.statusMessage, headers);
      res.end(req.method === "HEAD" ? undefined : out);
    };
    const fail = (e) => {
      if (res.headersSent) return res.destroy();
      res.writeHead(502);
      res.end(String(e));
    };
    const route = proxy.routes.find((r) => r.match(url));
    if (!route) return fetchUpstream(req, body).then(reply, fail);
    // A route (the subset of Playwright's `Route` the tests use): `request()`, `fetch()` (the upstream's
    // answer, not yet sent), `fulfill({response, status, headers, contentType, body})`, `continue()`.
    // A handler that returns without answering is an error (Playwright would leave the request hanging).
    let answered = false;
    const once = () => {
      if (answered) throw new Error(`route ${req.url}: answered twice`);
      answered = true;
    };
    const response = (a) => ({ status: () => a.statusCode, headers: () => ({ ...a.headers }), body: async () => a.body, text: async () => a.body.toString(), __answer: a });
    const r = {
      request: () => ({ url: () => url, method: () => req.method, headers: () => ({ ...req.headers }), postData: () => (body.length ? body.toString() : null) }),
      fetch: async () => response(await fetchUpstream(req, body)),
      async fulfill({ response: from, status, headers, contentType, body: b } = {}) {
        once();
        const base = from ? from.__answer : { statusCode: 200, headers: {}, body: Buffer.alloc(0) };
        const a = { statusCode: status ?? base.statusCode, statusMessage: status ? undefined : base.statusMessage, headers: { ...base.headers }, body: base.body };
        for (const [k, v] of Object.entries(headers || {})) a.headers[k.toLowerCase()] = v;
        if (contentType) a.headers["content-type"] = contentType;
        if (b !== undefined) a.body = Buffer.from(b);
        reply(a);
      },
      async continue() {
        once();
        reply(await fetchUpstream(req, body));
      },
    };
    try {
      await route.handler(r);
      if (!answered) throw new Error(`route handler for ${req.url} returned without fulfill() or continue()`);
    } catch (e) {
      process.stderr.write(`warning: ${e.stack || e}\n`);
      fail(e);
    }
  });
  await new Promise((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
  proxy.base = `http://127.0.0.1:${proxy.server.address().port}`;
  return proxy;
}

/** An Xvfb display of our own; resolves to `{display, stop}`. */
function startXvfb() {
  return new Promise((resolve, reject) => {
    const x = spawn(XVFB, ["-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"], { stdio: ["ignore", "ignore", "pipe", "pipe"] });
    let err = "";
    x.stderr.on("data", (d) => (err += d));
    x.stdio[3].on("data", (d) => {
      const n = String(d).trim();
      if (n) resolve({ display: `:${n}`, stop: () => x.kill("SIGTERM") });
    });
    x.on("exit", (code) => reject(new Error(`Xvfb exited (${code}): ${err}`)));
  });
}

async function waitForPort(port, ms = 10000) {
  for (const t0 = Date.now(); Date.now() - t0 < ms; ) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => (s.end(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`WebKitWebDriver did not listen on port ${port}`);
}

/**
 * Starts Xvfb (if there is one; else uses $DISPLAY), WebKitWebDriver and the recording proxy in front of
 * `server` (`{base, stop}` of harness.startServer). Resolves to a "browser" with `newShopper()`, `close()`
 * and `server` (`{base, stop}` with the proxy's base: the URL the scenarios must use).
 */
export async function launchWebKit({ server }) {
  const { remote } = await import("webdriverio");
  const stops = [];
  const kills = []; // if node exits without close() (a crash, ^C): no Xvfb or driver left behind
  const onExit = () => kills.forEach((k) => k());
  process.on("exit", onExit);
  const close = async () => {
    for (const s of stops.reverse()) await s();
    stops.length = 0;
    process.off("exit", onExit);
  };
  // Xvfb + WebKitWebDriver, startable again: a session the driver could not create (on a loaded CI
  // machine, 2026-12-06: "cannot open display" from MiniBrowser, then UND_ERR_HEADERS_TIMEOUT) is retried
  // once on a fresh display and driver, with a warning; a second refusal fails the scenario.
  let port = 0;
  let driverErr = "";
  let stopDriver = async () => {};
  const startDriver = async () => {
    const own = [];
    let display = process.env.DISPLAY;
    if (existsSync(XVFB)) {
      const x = await startXvfb();
      own.push(x.stop);
      display = x.display;
    }
    port = await freePort();
    const driver = spawn(WEBKIT_DRIVER, [`--port=${port}`], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, DISPLAY: display } });
    driverErr = "";
    driver.stderr.on("data", (d) => (driverErr = (driverErr + d).slice(-4000)));
    own.unshift(() => driver.kill("SIGTERM"));
    kills.push(...own);
    stopDriver = async () => own.forEach((k) => k());
    await waitForPort(port);
  };
  try {
    await startDriver();
    stops.push(() => stopDriver());
    const proxy = await startProxy(server.base);
    stops.push(() => {
      proxy.server.closeAllConnections();
      return new Promise((r) => proxy.server.close(r));
    });

    let open = null; // this WebKitWebDriver allows one session: a scenario that failed before closing its
    // context must not fail every later one
    const newShopper = async () => {
      if (open) await open.close();
      const log = { requests: [], documents: [], consoleErrors: [], warnings: [], pageErrors: [], csp: [] };
      const session = () => remote({
        hostname: "127.0.0.1",
        port,
        logLevel: "silent",
        connectionRetryCount: 0,
        // a WebDriver command that gets no answer fails in 60 s with what the proxy still has in flight
        // (webdriverio's default would wait 120 s and say only UND_ERR_HEADERS_TIMEOUT)
        connectionRetryTimeout: 60000,
        capabilities: {
          // The page API tracks loads itself (a new document, document.readyState "complete"), as
          // Playwright does: WebKitWebDriver's own wait (strategy "normal") once kept a command waiting for
          // a navigation it believed pending after the product page had loaded (a CI run on 2026-12-02:
          // UND_ERR_HEADERS_TIMEOUT on execute/async in the bfcache test; 1 in 5 runs locally then).
          pageLoadStrategy: "none",
          timeouts: { script: 30000, pageLoad: 60000, implicit: 0 },
          // classic WebDriver only: this WebKitWebDriver has no BiDi (webdriverio would ask for webSocketUrl)
          "wdio:enforceWebDriverClassic": true,
          browserName: "MiniBrowser",
          "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation"] },
        },
      });
      const wd = await session().catch(async (e) => {
        process.stderr.write(`warning: WebKitWebDriver refused a session (${e.message.split("\n")[0]}); retrying once on a fresh display and driver\n${driverErr}\n`);
        await stopDriver();
        await startDriver();
        return session().catch((e2) => {
          throw new Error(`WebKitWebDriver refused a session twice: ${e2.message}\n${driverErr}`);
        });
      });
      const routes = [];
      proxy.log = log;
      proxy.routes = routes;
      await wd.setWindowSize(1280, 900).catch(() => {});
      const page = traced(makePage(wd, proxy));
      const context = {
        /** Playwright's `context.route(url, handler)`, done by the proxy (see startProxy). */
        async route(url, handler) {
          routes.unshift({ match: urlMatcher(url), handler });
        },
        async close() {
          if (open === context) open = null;
          if (proxy.log === log) proxy.log = null;
          if (proxy.routes === routes) proxy.routes = [];
          await wd.deleteSession().catch(() => {});
        },
      };
      open = context;
      return { context, page, log, driver: wd };
    };
    /** Records what the proxy sees into `log` (or stops recording, with null) outside any shopper. */
    const recordInto = (log) => (proxy.log = log);
    return { newShopper, recordInto, close, server: { base: proxy.base, stop: server.stop, upstream: server.base } };
  } catch (e) {
    await close();
    throw e;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** `NEXTCLICK_WEBKIT_TRACE=1`: every page call on stderr, with its duration. */
const TRACE = process.env.NEXTCLICK_WEBKIT_TRACE === "1";
function traced(page) {
  if (!TRACE) return page;
  const t0 = Date.now();
  const wrap = (name, f) => async (...a) => {
    const t = Date.now();
    process.stderr.write(`[webkit ${((t - t0) / 1000).toFixed(1)}s] ${name} ${String(a[0]).slice(0, 80).replace(/\s+/g, " ")}\n`);
    try {
      return await f(...a);
    } finally {
      process.stderr.write(`[webkit] ${name} done in ${Date.now() - t} ms\n`);
    }
  };
  for (const [k, v] of Object.entries(page)) if (typeof v === "function" && k !== "locator") page[k] = wrap(k, v);
  const loc = page.locator;
  page.locator = (sel, i) => {
    const l = loc(sel, i);
    for (const k of ["click", "textContent", "waitFor"]) l[k] = wrap(`locator(${sel}).${k}`, l[k]);
    const nth = l.nth;
    l.nth = (n) => page.locator(sel, n);
    return l;
  };
  return page;
}
const fnSource = (fn) => (typeof fn === "function" ? fn.toString() : `() => (${fn})`);

/** Playwright-like `page` on a webdriverio session (only what the scenarios use). */
function makePage(wd, proxy) {
  let seq = 0;
  /** What the proxy has received and not answered yet (for error messages). */
  const pending = () => {
    const now = Date.now();
    const open = [...proxy.inflight.values()].filter((r) => !r.url.startsWith("/__nc/"));
    return open.length ? `requests in flight: ${open.map((r) => `${r.url} (${r.dest || "?"}, ${now - r.since} ms)`).join(", ")}` : "no request in flight";
  };
  /**
   * `fn(arg)` in the page; a promise result is awaited. The function runs detached from the WebDriver
   * command (its result is kept on `window` and polled for), so a pending evaluate does not hold up the
   * next command (WebDriver runs one command per session at a time) — e.g. the forget scenario awaits an
   * event that only a later click causes. The source is put inline into the WebDriver script (the
   * pages' CSP forbids eval; WebDriver's own scripts are not subject to it).
   */
  async function evaluate(fn, arg) {
    const id = `e${++seq}`;
    const script = `
      const done = arguments[arguments.length - 1];
      const arg = arguments[0];
      const store = (window.__ncEval = window.__ncEval || {});
      const box = (store[${JSON.stringify(id)}] = { done: false });
      const settle = (ok, v) => {
        box.done = true;
        if (ok) {
          try { box.value = v === undefined ? null : JSON.parse(JSON.stringify(v)); } catch (e) { box.ok = false; box.error = "result is not serializable: " + e; return; }
          box.ok = true;
        } else {
          box.ok = false;
          box.error = String((v && v.stack) || v);
        }
      };
      (async () => (${fnSource(fn)})(arg))().then((v) => settle(true, v), (e) => settle(false, e));
      const reply = () => { if (box.done) delete store[${JSON.stringify(id)}]; done(box.done ? box : { pending: true }); };
      Promise.race([new Promise((r) => setTimeout(r, 300)), new Promise((r) => { const t = setInterval(() => box.done && (clearInterval(t), r()), 5); })]).then(reply);
    `;
    let box = await wd.executeAsync(script, arg === undefined ? null : arg);
    while (box && box.pending) {
      await sleep(50);
      box = await wd.execute(`
        const store = window.__ncEval || {};
        const box = store[${JSON.stringify(id)}];
        if (!box) return { lost: true };
        if (box.done) delete store[${JSON.stringify(id)}];
        return box.done ? box : { pending: true };
      `);
    }
    if (!box || box.lost) throw new Error("page.evaluate: the page navigated away before the function returned");
    if (!box.ok) throw new Error(`page.evaluate: ${box.error}`);
    return box.value;
  }

  async function waitForFunction(fn, arg, { timeout = DEFAULT_TIMEOUT } = {}) {
    let last = null;
    for (const t0 = Date.now(); Date.now() - t0 < timeout; await sleep(100)) {
      try {
        const v = await evaluate(fn, arg);
        if (v) return v;
      } catch (e) {
        last = e; // e.g. a navigation in between: try again
      }
    }
    throw new Error(`page.waitForFunction: timed out after ${timeout} ms: ${fnSource(fn).slice(0, 200)}${last ? ` (last error: ${last.message})` : ""}`);
  }

  /**
   * Marks the current document, so that `loaded` can tell the next one from it (the session's page load
   * strategy is "none": navigation commands return at once).
   */
  let navSeq = 0;
  const mark = async () => {
    const token = `n${++navSeq}`;
    try {
      await wd.execute(`window.__ncNav = ${JSON.stringify(token)};`);
    } catch {
      /* no document yet (a new session) or mid-navigation: any later document differs */
    }
    return token;
  };
  /**
   * A document other than the one marked `token` has loaded (readyState "complete", as Playwright's
   * navigations and waitForURL wait for `load`) and its URL passes `test`; its URL.
   */
  async function loaded(token, test = () => true, { timeout = DEFAULT_TIMEOUT } = {}) {
    let last = "";
    for (const t0 = Date.now(); Date.now() - t0 < timeout; await sleep(50)) {
      let st = null;
      try {
        st = await wd.execute(`return [window.__ncNav || null, document.readyState, String(location.href)];`);
      } catch {
        continue; // mid-navigation
      }
      const [doc, ready, href] = st;
      last = `${href} (${ready})`;
      if (doc !== token && ready === "complete" && test(href)) return href;
    }
    throw new Error(`page: no new document loaded in ${timeout} ms (at ${last}; ${pending()})`);
  }

  /**
   * `selector` as Playwright reads it, for what the scenarios use: CSS, and `a >> b` (b inside a, stepping
   * into a's open shadow root too): the source of a page function `(sel, i) => element`, inlined into the
   * scripts below (the page's CSP forbids eval; WebDriver's own scripts are not subject to it).
   */
  const FIND = `((sel, i) => {
    let found = [document];
    for (const part of sel.split(" >> ")) {
      found = found.flatMap((r) => [r, r.shadowRoot].filter(Boolean).flatMap((x) => [...x.querySelectorAll(part)]));
    }
    return found[i];
  })`;

  function locator(selector, index = 0) {
    const probe = (visible) =>
      waitForFunction(
        new Function(
          "a",
          `const [sel, i, vis] = a;
          const e = ${FIND}(sel, i);
          if (!e) return false;
          if (!vis) return true;
          const r = e.getBoundingClientRect();
          return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden" && !e.closest("[hidden]");`,
        ),
        [selector, index, visible],
      );
    return {
      nth: (n) => locator(selector, n),
      async waitFor({ state = "visible" } = {}) {
        if (state !== "visible" && state !== "attached") throw new Error(`locator.waitFor: state ${state} is not implemented`);
        await probe(state === "visible");
      },
      async click() {
        await probe(true);
        for (let attempt = 0; ; attempt++) {
          try {
            // a plain CSS selector: WebDriver finds it; `>>` (into a shadow root): the page hands it over
            const el = selector.includes(" >> ")
              ? await wd.$(await wd.execute(`return ${FIND}(arguments[0], arguments[1]);`, selector, index))
              : (await wd.$$(selector))[index];
            await el.click();
            return;
          } catch (e) {
            // re-rendered between the lookup and the click (stale element), or still covered: retry briefly
            if (attempt >= 20) throw e;
            await sleep(100);
          }
        }
      },
      async textContent() {
        await probe(false);
        return evaluate(new Function("a", `return ${FIND}(a[0], a[1]).textContent;`), [selector, index]);
      },
    };
  }

  return {
    async goto(url) {
      const token = await mark();
      const want = (u) => u === new URL(url).href;
      await wd.url(url);
      // Under load WebKitWebDriver has answered a Navigate To without starting it: the page stayed on the
      // marked document, or (a new session, CI 2026-12-07) on an about:blank that `mark` could not mark,
      // with no request in flight. A navigation that did start (or still has requests in flight) is waited
      // for longer; one that did not is issued again; three waits at most.
      for (let attempt = 0; ; attempt++) {
        try {
          await loaded(token, want, { timeout: attempt === 0 ? 10000 : DEFAULT_TIMEOUT });
          return null;
        } catch (e) {
          const now = await wd.execute(`return [window.__ncNav || null, String(location.href)];`).catch(() => null);
          const started = now && now[0] !== token && want(now[1]);
          const busy = [...proxy.inflight.values()].some((r) => !r.url.startsWith("/__nc/"));
          if (attempt >= 2) throw e;
          if (!started && !busy) await wd.url(url);
        }
      }
    },
    async reload() {
      const token = await mark();
      await wd.refresh();
      await loaded(token);
    },
    /**
     * WebDriver's Back (as Playwright's `page.goBack()`). Never `evaluate(() => history.back())`: a script
     * that navigates its own document leaves WebKitWebDriver waiting for an answer that cannot come, until
     * the HTTP request times out.
     */
    async goBack() {
      const token = await mark();
      await wd.back();
      await loaded(token);
      return null;
    },
    /**
     * A document whose URL passes `re` has loaded. After a click or `history.back()`: the document that
     * was current when the navigation started must have been marked by an earlier page call (every call
     * here that navigates leaves the new document unmarked, so a click right after `goto` is covered).
     */
    async waitForURL(re, { timeout = DEFAULT_TIMEOUT } = {}) {
      const test = (u) => (re instanceof RegExp ? re.test(u) : u === String(re));
      await loaded(undefined, test, { timeout }).catch((e) => {
        throw new Error(`page.waitForURL: ${re}: ${e.message}`);
      });
    },
    evaluate,
    waitForFunction,
    waitForTimeout: sleep,
    locator,
    waitForSelector: (sel, { state = "visible" } = {}) => locator(sel).waitFor({ state }),
    $$eval(selector, fn, arg) {
      return evaluate(new Function("a", `return (${fnSource(fn)})([...document.querySelectorAll(a[0])], a[1]);`), [selector, arg === undefined ? null : arg]);
    },
    async screenshot({ path: p }) {
      await wd.saveScreenshot(p);
    },
    url: () => wd.getUrl(),
  };
}

/**
 * The console of a plain (not automated) MiniBrowser showing `url` until `until()` holds (at most `maxMs`),
 * then `settleMs` more: every line WebKit writes with
 * `--enable-write-console-messages-to-stdout` (browser-side messages included, e.g. a CSP it cannot parse).
 * Runs with a throwaway profile ($HOME and XDG folders in a temp dir) on its own Xvfb display.
 */
export async function consoleOfPage(url, { until = () => true, settleMs = 2000, maxMs = 20000 } = {}) {
  const x = existsSync(XVFB) ? await startXvfb() : null;
  const home = mkdtempSync(path.join(os.tmpdir(), "nextclick-webkit-"));
  try {
    const env = { ...process.env, DISPLAY: x ? x.display : process.env.DISPLAY, HOME: home, XDG_DATA_HOME: `${home}/data`, XDG_CACHE_HOME: `${home}/cache`, XDG_CONFIG_HOME: `${home}/config` };
    // its own process group: MiniBrowser and its web/network processes end together
    const mb = spawn(MINIBROWSER, ["--enable-write-console-messages-to-stdout=true", url], { stdio: ["ignore", "pipe", "pipe"], env, detached: true });
    let out = "";
    mb.stdout.on("data", (d) => (out += d));
    mb.stderr.on("data", (d) => (out += d));
    const exited = new Promise((r) => mb.on("exit", r));
    for (const t0 = Date.now(); !until() && Date.now() - t0 < maxMs; ) await sleep(100);
    await sleep(settleMs);
    try {
      process.kill(-mb.pid, "SIGTERM");
    } catch {
      /* gone */
    }
    await exited;
    await sleep(300); // the group's other processes
    return out.split("\n").filter((l) => /CONSOLE /.test(l));
  } finally {
    if (x) x.stop();
    rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}
