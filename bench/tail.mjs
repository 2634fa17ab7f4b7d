// Developer tool (not part of `make bench`): one page load of one configuration of bench/page.html with
// every event's time kept (`raw=1`), to see where a p99 comes from: the slowest events with their `track`
// part and their index in the session, and the `track` time by event type. Needs bench/out from a
// `make bench` run (catalogs, model, pkg).
// Usage: node bench/tail.mjs LIB ITEMS [MODEL-URL] [CATALOG-PREFIX]   (e.g. nextclick 2000
//        /bench/out/data/model-v2.onnx v2, after `make bench-incremental`)
// Environment: EVENTS (timed, default 2000), WARMUP (default 200), SETTLE (ms of idle after the warm-up,
// default 0), LEARN (0/1), JSFLAGS (extra V8 flags, e.g. "--no-liftoff --no-wasm-lazy-compilation" to
// compile everything with TurboFan up front: a diagnostic, not something a page can ask for).
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [lib = 'nextclick', n = '2000', model = '/bench/out/data/model.onnx', cat = ''] = process.argv.slice(2);
const server = await startServer(ROOT);
const base = `http://127.0.0.1:${server.address().port}`;
const flags = ['--expose-gc', process.env.JSFLAGS || ''].join(' ').trim();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', `--js-flags=${flags}`] });
const page = await (await browser.newContext()).newPage();
const qs = new URLSearchParams({ lib, n, model, cat, pkg: '/bench/out/pkg', events: process.env.EVENTS || '2000', learn: process.env.LEARN || '0', dtype: 'f32', raw: '1', warmup: process.env.WARMUP || '200', settle: process.env.SETTLE || '0' });
await page.goto(`${base}/bench/page.html?${qs}`);
await page.waitForFunction(() => window.__result, null, { timeout: 600000, polling: 100 });
const r = await page.evaluate(() => window.__result);
await browser.close();
server.close();
if (r.error) throw new Error(r.error);
const { total, trackT, inSession, kind } = r.raw;
console.log(`${lib} ${n} items: p50 ${r.total.p50.toFixed(3)} ms, p99 ${r.total.p99.toFixed(3)} ms over ${total.length} events`);
const idx = total.map((t, i) => i).sort((a, b) => total[b] - total[a]);
console.log('slowest 40 (ms / of which track ms / index in session / event #):');
console.log(idx.slice(0, 40).map((i) => `${total[i].toFixed(3)}/${trackT[i].toFixed(3)}/${inSession[i]}/${i}`).join('  '));
const byKind = {};
trackT.forEach((t, i) => { (byKind[kind[i]] ??= []).push(t); });
for (const k of Object.keys(byKind)) {
  const a = byKind[k].sort((x, y) => x - y);
  console.log(`track, ${k}: ${a.length} events, p50 ${a[a.length >> 1].toFixed(3)} ms, max ${a[a.length - 1].toFixed(3)} ms`);
}
