// Developer tool (not part of `make bench`): CPU profile of one cold nextclick load in headless Chromium,
// aggregated by function (self time). Needs bench/out from a `make bench` run (catalogs, model, pkg).
// Usage: node bench/profile-cold.mjs [wasm-with-names] [items]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const wasm = process.argv[2];
const N = process.argv[3] || '20000';
if (wasm) fs.copyFileSync(wasm, path.join(HERE, 'out/pkg/nextclick_bg.wasm'));
const server = await startServer(ROOT);
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const ctx = await browser.newContext();
const page = await ctx.newPage();
const cdp = await ctx.newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
await cdp.send('Profiler.start');
const qs = new URLSearchParams({ model: '/bench/out/data/model.onnx', pkg: '/bench/out/pkg', events: process.env.EVENTS || '0', warmup: process.env.EVENTS ? '200' : '0', learn: '0', lib: 'nextclick', n: N });
await page.goto(`${base}/bench/page.html?${qs}`);
await page.waitForFunction(() => window.__result, null, { timeout: 120000, polling: 100 });
const r = await page.evaluate(() => window.__result);
const { profile } = await cdp.send('Profiler.stop');
await browser.close();
server.close();
console.log('cold ready ms', r.coldReadyMs.toFixed(1), 'setup', JSON.stringify(r.setup));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const n = byId.get(profile.samples[i]);
  const k = n.callFrame.functionName || `(${n.callFrame.url.split('/').pop() || 'anon'})`;
  self.set(k, (self.get(k) || 0) + (dt[i + 1] || 0) / 1000);
}
// inclusive time per function: walk from each sample to the root
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
const incl = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const seen = new Set();
  for (let id = profile.samples[i]; id !== undefined; id = parent.get(id)) {
    const k = byId.get(id).callFrame.functionName || '(anon)';
    if (seen.has(k)) continue; seen.add(k);
    incl.set(k, (incl.get(k) || 0) + (dt[i + 1] || 0) / 1000);
  }
}
const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${v.toFixed(1).padStart(8)} ms  ${k.slice(0, 150)}`).join('\n');
console.log('--- self ---\n' + top(self, 30));
console.log('--- inclusive ---\n' + top(incl, 60));
