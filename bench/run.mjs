// `make bench`: nextclick vs onnxruntime-web on the same ONNX model, the same session inputs, in the same
// headless Chromium, in one run. Writes docs/bench.md and docs/bench.svg (and bench/out/results.json).
//
// Environment: NEXTCLICK_PKG (wasm-pack output dir, default www/pkg), BENCH_EVENTS (timed events per
// configuration, default 2000), BENCH_COLD_RUNS (default 5), BENCH_SIZES (default "2000,20000"),
// BENCH_LABEL (a note for the report), BENCH_OUT (markdown path, default docs/bench.md).
// Memory after many events: BENCH_MEMORY_EVENTS (default 100000; 0 skips it), BENCH_MEMORY_N (catalog items,
// default the largest of BENCH_SIZES), BENCH_MEMORY_LEARN (default 1: on-device learning on, as with
// consent). BENCH_ONLY=memory runs only that measurement and rewrites only its section of docs/bench.md.
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { execSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const OUT = path.join(HERE, 'out');
const EVENTS = +(process.env.BENCH_EVENTS || 2000);
const COLD_RUNS = +(process.env.BENCH_COLD_RUNS || 5);
// Idle time between the untimed warm-up and the timed events (page.mjs `settle`). A shopper's events are
// seconds apart, and in that time V8's background compiler finishes tiering up the code the first events
// made hot; run back to back, the timed events would instead measure the tier-up itself (issue #23: a
// pause of 0 gave p50 0.22 / p99 2.7 ms at 2k items where 1 s gave 0.135 / 0.62, same build). 0 = none.
const SETTLE_MS = +(process.env.BENCH_SETTLE_MS ?? 1000);
// Page loads per latency configuration (fresh context each), taken round-robin over the configurations so
// that a slow stretch of this shared VM falls on all of them; a configuration's figures are those of its
// run with the median p50 (every run's p50 is kept in `runs`). One load's p50 moved by up to ±40 % between
// two `make bench` runs of the same build (issue #23, round 3), hence more than one.
const RUNS = Math.max(1, +(process.env.BENCH_RUNS || 3));
/** `loads` (one per page load) as one result: the load with the median p50, with every load's p50 / p99. */
function medianRun(loads) {
  const sorted = [...loads].sort((a, b) => a.total.p50 - b.total.p50);
  return { ...sorted[(sorted.length - 1) >> 1], runs: loads.map((x) => ({ p50: x.total.p50, p99: x.total.p99 })) };
}
/** Runs every configuration RUNS times, round-robin; `load(c)` is one page load of configuration `c`. */
async function roundRobin(configs, load, label) {
  const loads = configs.map(() => []);
  for (let k = 0; k < RUNS; k++) {
    for (let i = 0; i < configs.length; i++) {
      const r = await load(configs[i]);
      say(`${label(configs[i])} (run ${k + 1}/${RUNS}): p50 ${r.total.p50.toFixed(3)} ms, p99 ${r.total.p99.toFixed(3)} ms`);
      loads[i].push(r);
    }
  }
  return loads.map(medianRun);
}
const SIZES = (process.env.BENCH_SIZES || '2000,20000').split(',').map(Number);
const PKG = path.resolve(ROOT, process.env.NEXTCLICK_PKG || 'www/pkg');
const MD = path.resolve(ROOT, process.env.BENCH_OUT || 'docs/bench.md');
const SVG = MD.replace(/\.md$/, '.svg');
const MEM_EVENTS = +(process.env.BENCH_MEMORY_EVENTS ?? 100000);
const MEM_N = +(process.env.BENCH_MEMORY_N || SIZES[SIZES.length - 1]);
const MEM_LEARN = (process.env.BENCH_MEMORY_LEARN ?? '1') !== '0';
const ONLY = process.env.BENCH_ONLY || '';
if (ONLY && !['memory', 'ivf', 'vector-libs', 'incremental'].includes(ONLY)) throw new Error(`BENCH_ONLY=${ONLY}: only "memory", "ivf", "vector-libs" and "incremental" are supported`);
// BENCH_ONLY=incremental (`make bench-incremental`, issue #23): the model's weights written as a contract-v2
// step graph (crates/model/examples/step_graph.rs: bench/out/data/model-v2.onnx; positions count from the
// session start there, so it is another model with the same arithmetic per event, not one to ship), catalogs
// bound to it (catalog-v2-N-*), and nextclick and onnxruntime-web on both graphs in the same run: cold start
// (BENCH_COLD_RUNS) and track→top-20 at BENCH_SIZES, plus the two runtimes' agreement on the step graph.
// When models/default.onnx is itself contract v2 (0.6.0 on), the window side is BENCH_V1_MODEL, a v1 model
// of the same shape (e.g. 0.5.0: `git show 2ba04eb:models/default.onnx > /tmp/v1.onnx`).
// Rewrites only its section of docs/bench.md (between keep:incremental markers; a full run keeps it).
// BENCH_ONLY=ivf (`make bench-catalog-web`): big catalogs in the page — the f32 scan and the IVF-PQ catalogs
// (format v2, with and without int8 re-scoring) that crates/model/examples/bench_catalog.rs wrote into
// bench/out/data for BENCH_IVF_SIZES (default 100000,1000000); rewrites only that section of docs/bench.md.
const IVF_SIZES = (process.env.BENCH_IVF_SIZES || '100000,1000000').split(/[ ,]+/).filter(Boolean).map(Number);
// BENCH_ONLY=vector-libs (issue #20): npm vector-search libraries (hnswlib-wasm, voy-search, and a plain-JS
// exact scan) build their index in the page (bench/vector-libs.mjs) from the vectors the big catalogs are
// built from and answer the same recall queries (bench/out/data/{vectors,queries,exact}-N.*, written by
// bench_catalog with BENCH_CATALOG_WRITE); beside nextclick's rows of bench/out/ivf.json (BENCH_ONLY=ivf) and
// bench/out/data/bench-catalog-N.json (native recall and search time on the same queries). Rewrites only
// its section of docs/bench.md. BENCH_VL_SIZES (default 100000,1000000), BENCH_VL_LIBS (default
// hnswlib,voy,js-scan; a subset keeps the other rows of the previous bench/out/vector-libs.json, marked),
// BENCH_VL_BUDGET_S (per build, default 600: a build still running then is stopped and reported as such),
// BENCH_VL_EF (hnswlib efSearch values, default 20,40,80,160), BENCH_VL_HNSW_M (16), BENCH_VL_HNSW_EFC (200),
// BENCH_VL_SERIALIZE_MAX (largest size whose index is also saved and loaded in the library's own format,
// default 100000), BENCH_VL_WARMUP (untimed queries first, default 50). BENCH_VL_RENDER=1 measures nothing and
// writes the section again from bench/out/vector-libs.json.
const list = (v, d) => (v || d).split(/[ ,]+/).filter(Boolean);
const VL = {
  sizes: list(process.env.BENCH_VL_SIZES, '100000,1000000').map(Number),
  libs: list(process.env.BENCH_VL_LIBS, 'hnswlib,voy,js-scan'),
  budgetS: +(process.env.BENCH_VL_BUDGET_S || 600),
  ef: list(process.env.BENCH_VL_EF, '20,40,80,160').join(','),
  m: +(process.env.BENCH_VL_HNSW_M || 16),
  efc: +(process.env.BENCH_VL_HNSW_EFC || 200),
  serializeMax: +(process.env.BENCH_VL_SERIALIZE_MAX || 100000),
  warmup: +(process.env.BENCH_VL_WARMUP || 50),
};

const sh = (c) => { try { return execSync(c, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { return '?'; } };
const say = (s) => console.log(`bench: ${s}`);
/** Bytes as MiB for the sections' tables ('–' for a figure not measured). */
const MiB = (b) => (b === null || b === undefined ? '–' : `${(b / 1048576).toFixed(2)} MiB`);

// ---- the model ----
let modelName = 'default';
if (!fs.existsSync(path.join(ROOT, 'models/default.onnx'))) modelName = 'reference';
const modelPath = path.join(ROOT, `models/${modelName}.onnx`);
const modelBytes = fs.readFileSync(modelPath);
const modelSha = crypto.createHash('sha256').update(modelBytes).digest();
// Serve a copy: the model file may be re-exported while the benchmark runs.
fs.mkdirSync(path.join(OUT, 'data'), { recursive: true });
fs.writeFileSync(path.join(OUT, 'data', 'model.onnx'), modelBytes);
const card = JSON.parse(fs.readFileSync(path.join(ROOT, `models/${modelName}.card.json`), 'utf8'));
const D = card.dim, L = card.max_len;
say(`model models/${modelName}.onnx (D=${D}, L=${L}, ${modelBytes.length} bytes)`);

// ---- catalogs bound to the model (format v1, see src/catalog.rs), f32 and int8, with metadata ----
function splitmix(seed) {
  let s = BigInt(seed);
  const M = (1n << 64n) - 1n;
  return () => {
    s = (s + 0x9e3779b97f4a7c15n) & M;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    return Number((z ^ (z >> 31n)) >> 11n) / 2 ** 53;
  };
}
function writeCatalog(n, int8, sha = modelSha) {
  const r = splitmix(7 + n);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const vecs = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    let nn = 0;
    for (let j = 0; j < D; j++) { const x = normal(); vecs[i * D + j] = x; nn += x * x; }
    nn = Math.max(Math.sqrt(nn), 1e-6);
    for (let j = 0; j < D; j++) vecs[i * D + j] = (vecs[i * D + j] / nn) * 2;
  }
  const parts = [];
  const head = Buffer.alloc(52);
  Buffer.from('NXCLCAT\0', 'binary').copy(head, 0);
  head.writeUInt16LE(1, 8); head[10] = int8 ? 1 : 0; head[11] = 1;
  head.writeUInt32LE(n, 12); head.writeUInt32LE(D, 16); sha.copy(head, 20);
  parts.push(head);
  const str = (s) => { const b = Buffer.from(s, 'utf8'); const l = Buffer.alloc(2); l.writeUInt16LE(b.length); parts.push(l, b); };
  for (let i = 0; i < n; i++) str(`it-${i}`);
  if (!int8) parts.push(Buffer.from(vecs.buffer));
  else {
    const scales = new Float32Array(n), data = new Int8Array(n * D);
    for (let i = 0; i < n; i++) {
      let m = 0; for (let j = 0; j < D; j++) m = Math.max(m, Math.abs(vecs[i * D + j]));
      const sc = m > 0 ? Math.fround(m / 127) : 1; scales[i] = sc;
      for (let j = 0; j < D; j++) data[i * D + j] = Math.max(-127, Math.min(127, Math.round(vecs[i * D + j] / sc)));
    }
    parts.push(Buffer.from(scales.buffer), Buffer.from(data.buffer));
  }
  for (let i = 0; i < n; i++) {
    str(`Item ${i}`); str(`#item-${i}`); str('');
    const p = Buffer.alloc(8); p.writeDoubleLE((i % 20000) / 100 + 0.99); parts.push(p);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, crypto.createHash('sha256').update(body).digest()]);
}
fs.mkdirSync(path.join(OUT, 'data'), { recursive: true });
// the step graph of the same weights, and its catalogs (BENCH_ONLY=incremental)
let modelV2Sha = null;
// the window (v1) side: the default model when it is v1, else BENCH_V1_MODEL (a v1 file of the same shape)
let v1Path = modelPath;
if (ONLY === 'incremental') {
  if (card.contract === 2) {
    v1Path = process.env.BENCH_V1_MODEL;
    if (!v1Path) throw new Error('models/default.onnx is a contract-v2 model: set BENCH_V1_MODEL to a v1 model of the same shape for the window side (e.g. `git show 2ba04eb:models/default.onnx > /tmp/v1.onnx`, model 0.5.0)');
  }
  const v1Bytes = fs.readFileSync(v1Path);
  fs.writeFileSync(path.join(OUT, 'data', 'model-v1.onnx'), v1Bytes);
  const v1Sha = crypto.createHash('sha256').update(v1Bytes).digest();
  for (const n of SIZES) for (const int8 of [false, true]) fs.writeFileSync(path.join(OUT, 'data', `catalog-v1-${n}-${int8 ? 'int8' : 'f32'}.bin`), writeCatalog(n, int8, v1Sha));
  const tool = path.join(ROOT, 'target/release/examples/step_graph');
  if (!fs.existsSync(tool)) throw new Error(`${tool} missing: make tools-release`);
  execSync(`${tool} ${modelPath} ${path.join(OUT, 'data', 'model-v2.onnx')}`, { cwd: ROOT, stdio: 'inherit' });
  modelV2Sha = crypto.createHash('sha256').update(fs.readFileSync(path.join(OUT, 'data', 'model-v2.onnx'))).digest();
  for (const n of SIZES) for (const int8 of [false, true]) fs.writeFileSync(path.join(OUT, 'data', `catalog-v2-${n}-${int8 ? 'int8' : 'f32'}.bin`), writeCatalog(n, int8, modelV2Sha));
}
for (const n of ONLY === 'ivf' || ONLY === 'vector-libs' ? [] : ONLY === 'memory' ? [MEM_N] : [...new Set([...SIZES, MEM_N])]) {
  for (const int8 of [false, true]) {
    const f = path.join(OUT, 'data', `catalog-${n}-${int8 ? 'int8' : 'f32'}.bin`);
    fs.writeFileSync(f, writeCatalog(n, int8));
  }
}
if (ONLY !== 'vector-libs') say(`catalogs: ${ONLY === 'memory' ? MEM_N : SIZES.join(', ')} items (f32 + int8)`);

// ---- the nextclick package under test (copied so the server exposes nothing else) ----
// (BENCH_ONLY=vector-libs loads no nextclick: it reads the sizes of the copy the last BENCH_ONLY=ivf run served)
if (ONLY !== 'vector-libs') {
  if (!fs.existsSync(path.join(PKG, 'nextclick_bg.wasm'))) throw new Error(`${PKG}/nextclick_bg.wasm missing: run make wasm-release`);
  fs.rmSync(path.join(OUT, 'pkg'), { recursive: true, force: true });
  fs.mkdirSync(path.join(OUT, 'pkg'));
  for (const f of ['nextclick.js', 'nextclick_bg.wasm']) fs.copyFileSync(path.join(PKG, f), path.join(OUT, 'pkg', f));
} else if (!fs.existsSync(path.join(OUT, 'pkg/nextclick_bg.wasm'))) throw new Error('bench/out/pkg missing: run BENCH_ONLY=ivf (make bench-catalog-web) first');

// ---- transfer sizes ----
const ORT_DIST = path.join(HERE, 'node_modules/onnxruntime-web/dist');
function sizes(files) {
  let raw = 0, gz = 0, br = 0;
  const per = files.map((f) => {
    const b = fs.readFileSync(f);
    const g = zlib.gzipSync(b, { level: 9 }).length;
    const r = zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length } }).length;
    raw += b.length; gz += g; br += r;
    return { file: path.basename(f), raw: b.length, gzip: g, brotli: r };
  });
  return { raw, gzip: gz, brotli: br, per };
}
const size = {
  nextclick: { wasm: sizes([path.join(OUT, 'pkg/nextclick_bg.wasm')]), js: sizes([path.join(OUT, 'pkg/nextclick.js')]) },
  ort: { wasm: sizes([path.join(ORT_DIST, 'ort-wasm-simd-threaded.wasm')]), js: sizes([path.join(ORT_DIST, 'ort.wasm.min.mjs'), path.join(ORT_DIST, 'ort-wasm-simd-threaded.mjs')]) },
};

// ---- run ----
const loadBefore = os.loadavg();
const server = await startServer(ROOT);
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // for the memory figures: unquantised performance.memory, and gc() to read the heap after a collection
    '--enable-precise-memory-info', '--js-flags=--expose-gc'],
});
const browserVersion = browser.version();
// One page load in a fresh context (empty HTTP and code cache). With `repeat`, a second navigation to the
// same page in the same context follows (a shopper's next page view: HTTP cache and V8's wasm code cache
// warm), returned as `r.repeat`.
async function runPage(params, timeout = 600_000, repeat = false) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const qs = new URLSearchParams({ model: '/bench/out/data/model.onnx', pkg: '/bench/out/pkg', events: String(EVENTS), settle: String(SETTLE_MS), ...params });
  const load = async () => {
    await page.goto(`${base}/bench/page.html?${qs}`);
    await page.waitForFunction(() => window.__result, null, { timeout, polling: 100 });
    const r = await page.evaluate(() => window.__result);
    if (r.error) throw new Error(`${JSON.stringify(params)}: ${r.error} ${errors.join(' ')}`);
    return r;
  };
  const r = await load();
  if (repeat) {
    await page.waitForTimeout(1000); // let the first view's code caching finish, as a shopper's reading time would
    r.repeat = await load();
  }
  await ctx.close();
  return r;
}

// cold.nextclickWasmDigest: nextclick with the catalog's checksum computed in wasm (before #23's WebCrypto
// digest), to show the cut in the same run
const results = { cold: { nextclick: [], ort: [], nextclickWasmDigest: [] }, latency: [], memory: null };
const COLD_N = SIZES[SIZES.length - 1];
if (MEM_EVENTS > 0 && !['ivf', 'vector-libs', 'incremental'].includes(ONLY)) {
  const t = Date.now();
  results.memory = await runPage({ mode: 'memory', lib: 'nextclick', n: String(MEM_N), dtype: 'f32', learn: MEM_LEARN ? '1' : '0', events: String(MEM_EVENTS) }, 3 * 3600_000);
  results.memory.wallSeconds = (Date.now() - t) / 1000;
  const last = results.memory.points[results.memory.points.length - 1];
  say(`memory: ${MEM_EVENTS} events in ${results.memory.wallSeconds.toFixed(0)} s, wasm ${(results.memory.points[0].wasmBytes / 1048576).toFixed(2)} → ${(last.wasmBytes / 1048576).toFixed(2)} MiB`);
}
if (ONLY === 'memory') {
  await browser.close();
  server.close();
  const section = memorySection(results.memory, os.loadavg());
  let md = fs.existsSync(MD) ? fs.readFileSync(MD, 'utf8') : '';
  const re = /<!-- memory:begin -->[\s\S]*?<!-- memory:end -->\n/;
  if (re.test(md)) md = md.replace(re, section);
  else if (md.includes('\n![track→top-20 latency]')) md = md.replace('\n![track→top-20 latency]', `\n${section}\n![track→top-20 latency]`);
  else md += `\n${section}`;
  fs.writeFileSync(MD, md);
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, 'memory.json'), JSON.stringify(results.memory, null, 1));
  say(`wrote the memory section of ${path.relative(ROOT, MD)} (and bench/out/memory.json)`);
  process.exit(0);
}
if (ONLY === 'ivf') {
  const rows = [];
  for (const n of IVF_SIZES) {
    // BENCH_IVF_DTYPES: measure only these (the other rows of the previous bench/out/ivf.json are kept)
    for (const dtype of (process.env.BENCH_IVF_DTYPES || 'f32,ivfpq,ivfpq8,ivfpq-split,ivfpq8-split').split(',')) {
      const file = path.join(OUT, 'data', `catalog-${n}-${dtype}.bin`);
      if (!fs.existsSync(file)) { say(`ivf: ${path.relative(ROOT, file)} missing (make bench-catalog-web writes it), skipped`); continue; }
      const r = await runPage({ lib: 'nextclick', n: String(n), dtype, learn: '0' });
      say(`ivf n=${n} ${dtype}: ready ${r.coldReadyMs.toFixed(0)} ms, p50 ${r.total.p50.toFixed(3)} ms, p99 ${r.total.p99.toFixed(3)} ms, wasm ${(r.wasmMemoryBytes / 1048576).toFixed(1)} MiB`);
      const bodyFile = file.replace(/\.bin$/, '.body.bin');
      rows.push({ n, dtype, bytes: fs.statSync(file).size, bodyBytes: fs.existsSync(bodyFile) ? fs.statSync(bodyFile).size : 0, r });
    }
  }
  await browser.close();
  server.close();
  if (process.env.BENCH_IVF_DTYPES && fs.existsSync(path.join(OUT, 'ivf.json'))) {
    const order = ['f32', 'ivfpq', 'ivfpq8', 'ivfpq-split', 'ivfpq8-split'];
    for (const old of JSON.parse(fs.readFileSync(path.join(OUT, 'ivf.json'), 'utf8'))) {
      if (!rows.some((x) => x.n === old.n && x.dtype === old.dtype)) rows.push({ ...old, earlier: true });
    }
    rows.sort((a, b) => a.n - b.n || order.indexOf(a.dtype) - order.indexOf(b.dtype));
  }
  const section = ivfSection(rows, os.loadavg());
  let md = fs.existsSync(MD) ? fs.readFileSync(MD, 'utf8') : '';
  md = placeIvf(md, section);
  fs.writeFileSync(MD, md);
  fs.writeFileSync(path.join(OUT, 'ivf.json'), JSON.stringify(rows, null, 1));
  say(`wrote the big-catalog section of ${path.relative(ROOT, MD)} (and bench/out/ivf.json)`);
  process.exit(0);
}
if (ONLY === 'incremental') {
  const v2 = { model: '/bench/out/data/model-v2.onnx', cat: 'v2' };
  const graphs = [['v1', { model: '/bench/out/data/model-v1.onnx', cat: 'v1' }], ['v2', v2]];
  const cold = {};
  for (const [g, extra] of graphs) for (const lib of ['nextclick', 'ort']) cold[`${lib}-${g}`] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    for (const [g, extra] of graphs) {
      for (const lib of ['nextclick', 'ort']) {
        cold[`${lib}-${g}`].push(await runPage({ lib, n: String(COLD_N), events: '0', warmup: '0', learn: '0', ...extra }, 600_000, true));
      }
    }
  }
  say(`incremental: cold start done (${COLD_RUNS} runs each)`);
  const rows = [];
  for (const n of SIZES) {
    for (const [g, extra] of graphs) {
      for (const [lib, dtype, learn] of [['nextclick', 'f32', 0], ['nextclick', 'int8', 0], ['ort', 'f32', 0], ['nextclick', 'f32', 1], ['ort', 'f32', 1]]) {
        rows.push({ graph: g, lib, n, dtype, learn, extra });
      }
    }
  }
  const measured = await roundRobin(rows, (x) => runPage({ lib: x.lib, n: String(x.n), dtype: x.dtype, learn: String(x.learn), ...x.extra }),
    (x) => `incremental ${x.graph} ${x.lib} n=${x.n} ${x.dtype} learn=${x.learn}`);
  rows.forEach((x, i) => { x.r = measured[i]; delete x.extra; });
  await browser.close();
  server.close();
  const section = incrementalSection(rows, cold, os.loadavg());
  let md = fs.existsSync(MD) ? fs.readFileSync(MD, 'utf8') : '';
  const re = /<!-- keep:incremental:begin -->[\s\S]*?<!-- keep:incremental:end -->\n/;
  if (re.test(md)) md = md.replace(re, section);
  else if (md.includes('<!-- ivf:begin -->')) md = md.replace('<!-- ivf:begin -->', `${section}\n<!-- ivf:begin -->`);
  else md = md.replace(/\n*$/, '\n\n') + section;
  fs.writeFileSync(MD, md);
  fs.writeFileSync(path.join(OUT, 'incremental.json'), JSON.stringify({ rows: rows.map((x) => ({ ...x, r: { ...x.r, top1: undefined, top1Score: undefined } })), cold }, null, 1));
  say(`wrote the incremental section of ${path.relative(ROOT, MD)} (and bench/out/incremental.json)`);
  process.exit(0);
}
if (ONLY === 'vector-libs') {
  const pending = [];
  for (const n of VL.sizes) {
    for (const f of [`vectors-${n}.f32`, `queries-${n}.f32`, `exact-${n}.u32`]) {
      if (!fs.existsSync(path.join(OUT, 'data', f))) throw new Error(`bench/out/data/${f} missing: cargo build --release -p nextclick-model --example bench_catalog && BENCH_CATALOG_WRITE=bench/out/data target/release/examples/bench_catalog --vectors-only ${VL.sizes.join(' ')}`);
    }
    for (const lib of VL.libs) pending.push({ lib, n });
  }
  const rows = [];
  // BENCH_VL_RENDER=1: no measurement, the section is written again from bench/out/vector-libs.json
  const render = process.env.BENCH_VL_RENDER === '1';
  if (render) {
    const prev = JSON.parse(fs.readFileSync(path.join(OUT, 'vector-libs.json'), 'utf8'));
    Object.assign(VL, prev.params);
    rows.push(...prev.rows);
    pending.length = 0;
  }
  for (const { lib, n } of pending) {
    const t = Date.now();
    const load0 = os.loadavg();
    const r = await runVectorLib({ lib, n: String(n), budget: String(VL.budgetS), ef: VL.ef, m: String(VL.m), efc: String(VL.efc), warmup: String(VL.warmup), serialize: n <= VL.serializeMax ? '1' : '0' },
      (VL.budgetS + 3600) * 1000);
    const best = r.sweep ? bestOfSweep(r.sweep) : null;
    say(`vector-libs ${lib} n=${n}: ${r.error ? `ERROR ${r.error.split('\n')[0]} (${r.added ?? 0} items added)` : r.budgetExceeded ? `build stopped at the budget: ${r.added} items in ${(r.buildMs / 1000).toFixed(0)} s`
      : `build ${(r.buildMs / 1000).toFixed(1)} s, p50 ${best.p50.toFixed(3)} ms, p99 ${best.p99.toFixed(3)} ms, recall ${best.recall.toFixed(3)}${best.ef ? ` (ef ${best.ef})` : ''}, wasm ${(r.wasmMemoryBytes / 1048576).toFixed(0)} MiB`} (${((Date.now() - t) / 1000).toFixed(0)} s wall)`);
    rows.push({ lib, n, r, measuredAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), load: [load0, os.loadavg()], browserVersion, wallSeconds: (Date.now() - t) / 1000 });
  }
  await browser.close();
  server.close();
  const prevFile = path.join(OUT, 'vector-libs.json');
  if (!render && (process.env.BENCH_VL_LIBS || process.env.BENCH_VL_SIZES) && fs.existsSync(prevFile)) {
    for (const old of JSON.parse(fs.readFileSync(prevFile, 'utf8')).rows) {
      if (!rows.some((x) => x.lib === old.lib && x.n === old.n)) rows.push({ ...old, earlier: true });
    }
  }
  const order = ['hnswlib', 'voy', 'js-scan'];
  rows.sort((a, b) => a.n - b.n || order.indexOf(a.lib) - order.indexOf(b.lib));
  fs.writeFileSync(prevFile, JSON.stringify({ params: VL, rows }, null, 1));
  let md = fs.existsSync(MD) ? fs.readFileSync(MD, 'utf8') : '';
  md = placeVectorLibs(md, vectorLibsSection(rows, md));
  fs.writeFileSync(MD, md);
  say(`wrote the vector-libs section of ${path.relative(ROOT, MD)} (and bench/out/vector-libs.json)`);
  process.exit(0);
}
for (let i = 0; i < COLD_RUNS; i++) {
  for (const lib of ['nextclick', 'ort']) {
    const r = await runPage({ lib, n: String(COLD_N), events: '0', warmup: '0', learn: '0' }, 600_000, true);
    results.cold[lib].push(r);
  }
  results.cold.nextclickWasmDigest.push(await runPage({ lib: 'nextclick', digest: 'wasm', n: String(COLD_N), events: '0', warmup: '0', learn: '0' }, 600_000, true));
}
say(`cold start done (${COLD_RUNS} runs each)`);
const configs = [];
for (const n of SIZES) {
  configs.push({ lib: 'nextclick', n, dtype: 'f32', learn: 0 }, { lib: 'nextclick', n, dtype: 'int8', learn: 0 }, { lib: 'ort', n, dtype: 'f32', learn: 0 });
  configs.push({ lib: 'nextclick', n, dtype: 'f32', learn: 1 }, { lib: 'ort', n, dtype: 'f32', learn: 1 });
}
{
  const measured = await roundRobin(configs, (c) => runPage({ lib: c.lib, n: String(c.n), dtype: c.dtype, learn: String(c.learn) }),
    (c) => `${c.lib} n=${c.n} ${c.dtype} learn=${c.learn}`);
  configs.forEach((c, i) => results.latency.push({ ...c, r: measured[i] }));
}
await browser.close();
server.close();
const loadAfter = os.loadavg();

// ---- report ----
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const f = (x, d = 3) => (x === null || x === undefined ? '–' : x.toFixed(d));
const kb = (b) => `${(b / 1024).toFixed(0)} KiB`;
const mb = (b) => `${(b / 1048576).toFixed(2)} MiB`;
const find = (lib, n, dtype, learn) => results.latency.find((x) => x.lib === lib && x.n === n && x.dtype === dtype && x.learn === learn)?.r;
const agreement = (a, b) => { let s = 0; for (let i = 0; i < a.top1.length; i++) if (a.top1[i] === b.top1[i]) s++; return s / a.top1.length; };

const coldNc = median(results.cold.nextclick.map((r) => r.coldReadyMs));
const coldOrt = median(results.cold.ort.map((r) => r.coldReadyMs));
const repeatNc = median(results.cold.nextclick.map((r) => r.repeat.coldReadyMs));
const repeatOrt = median(results.cold.ort.map((r) => r.repeat.coldReadyMs));
const firstNc = median(results.cold.nextclick.map((r) => r.firstPredictionMs));
const firstOrt = median(results.cold.ort.map((r) => r.firstPredictionMs));
const memNc = Math.max(...results.latency.filter((x) => x.lib === 'nextclick').map((x) => x.r.wasmMemoryBytes));
const memOrt = Math.max(...results.latency.filter((x) => x.lib === 'ort').map((x) => x.r.wasmMemoryBytes));
const ortVersion = JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules/onnxruntime-web/package.json'), 'utf8')).version;
const gitRev = sh('git rev-parse --short HEAD') + (sh('git status --porcelain -- src Cargo.toml .cargo') ? ' (+ uncommitted src changes)' : '');

let md = `# Benchmark: nextclick vs onnxruntime-web

Generated by \`make bench\` (bench/run.mjs) on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}. ${process.env.BENCH_LABEL || ''}

Same ONNX model (\`models/${modelName}.onnx\`, D = ${D}, L = ${L}${modelName === 'reference' ? '; models/default.onnx did not exist, so the reference model was used' : ''}),
same generated catalogs (random unit-direction vectors × 2, ids \`it-i\`, titles/urls/prices; bound to the model's SHA-256),
same deterministic event stream (${EVENTS} timed events after 200 untimed warm-up events and ${SETTLE_MS ? `a ${SETTLE_MS / 1000} s pause (\`BENCH_SETTLE_MS\`: shoppers' events are seconds apart, which lets V8 finish tiering up the code the warm-up made hot)` : 'no pause (`BENCH_SETTLE_MS=0`)'} per configuration;
sessions of mean ~25 events separated by 45-minute gaps, so many sessions are longer than L), same
headless Chromium, one process, one run; every configuration in a fresh browser context (empty HTTP cache).

- **nextclick**: ${process.env.NEXTCLICK_PKG || 'www/pkg'} (\`make wasm-release\`), git ${gitRev}.
- **ORT-web**: onnxruntime-web ${ortVersion}, \`ort.wasm.min.mjs\`, wasm execution provider, \`numThreads = 1\`, SIMD build
  (\`ort-wasm-simd-threaded.wasm\`), \`graphOptimizationLevel: 'all'\`.
- Browser: Chromium ${browserVersion} (Debian, /usr/bin/chromium), headless, page cross-origin isolated (COOP/COEP) so
  \`performance.now()\` has µs resolution.
- Machine: ${os.cpus().length} × ${os.cpus()[0]?.model || '?'}, shared with other builds; load average
  before ${loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' / ')} (1/5/15 min).
- Toolchain: ${sh('rustc --version')}, node ${process.version}.

## What is timed

**track→top-20** (per event): from the event object in the page to the top-20 list of
\`{itemId, score, title, url, price}\`.
- nextclick: \`predictor.track(event)\` + \`predictor.predict(20)\` — event validation, session bookkeeping,
  encoder input, the tract encoder run, the adapter, the dot product with every catalog item in wasm, top-20,
  metadata, conversion to JS objects.
- ORT-web: the same session bookkeeping in JS, the same right-aligned encoder input (typed arrays reused,
  \`ort.Tensor\` objects reused), \`await session.run(...)\`, then the dot product with every catalog item and a
  top-20 insertion in plain JS over a \`Float32Array\`, the same exclusions (current item, purchased items), metadata.
  (This is what a page using ORT-web for the encoder would realistically write.)
- Learning off (\`head.enabled = false\`) unless stated. With learning on, both also take one SGD step of the
  residual adapter (src/head.rs; ORT-web: a JS port, since onnxruntime-web has no on-device training) on every
  in-session event, and serve \`s + α(As + b)\`.

**Cold start**: from navigation start of a fresh context (nothing cached) until the model is ready to
predict: HTML, the library's JS, wasm fetch + compile + instantiate, model and ${COLD_N}-item catalog fetch
(in parallel), model load/optimisation, catalog parse. Median of ${COLD_RUNS}. **Repeat view**: the same, for a
second navigation in the same context one second later (files served \`Cache-Control: public, max-age=3600\`, so
the HTTP cache and V8's compiled-wasm cache are warm: a shopper's next page view).
**Peak wasm memory**: size of the page's wasm memories at the end of a run (a wasm memory never shrinks),
largest over the configurations. **Transfer sizes**: the files a page loads, compressed here with gzip -9 and
brotli q11 (what a CDN would serve).

## Results

| metric | nextclick | ORT-web | nextclick / ORT |
|---|---:|---:|---:|
`;
const row = (name, a, b, fmt = f) => { md += `| ${name} | ${fmt(a)} | ${fmt(b)} | ${f(a / b, 2)} |\n`; };
for (const n of SIZES) {
  const a = find('nextclick', n, 'f32', 0), b = find('ort', n, 'f32', 0);
  row(`track→top-20 p50, ${n} items (ms)`, a.total.p50, b.total.p50);
  row(`track→top-20 p99, ${n} items (ms)`, a.total.p99, b.total.p99);
}
for (const n of SIZES) {
  const a = find('nextclick', n, 'int8', 0), b = find('ort', n, 'f32', 0);
  row(`track→top-20 p50, ${n} items, nextclick int8 catalog (ms)`, a.total.p50, b.total.p50);
  row(`track→top-20 p99, ${n} items, nextclick int8 catalog (ms)`, a.total.p99, b.total.p99);
}
for (const n of SIZES) {
  const a = find('nextclick', n, 'f32', 1), b = find('ort', n, 'f32', 1);
  row(`learning step p50, ${n} items (ms)`, a.learn.p50, b.learn.p50);
  row(`track→top-20 p50 with learning, ${n} items (ms)`, a.total.p50, b.total.p50);
  row(`track→top-20 p99 with learning, ${n} items (ms)`, a.total.p99, b.total.p99);
}
row('cold start to model ready (ms, median)', coldNc, coldOrt, (x) => f(x, 1));
row('repeat view (same context, caches warm): model ready (ms, median)', repeatNc, repeatOrt, (x) => f(x, 1));
row('first track→top-20 after load (ms, median)', firstNc, firstOrt);
row('peak wasm memory', memNc, memOrt, mb);
for (const k of ['raw', 'gzip', 'brotli']) row(`wasm, ${k}`, size.nextclick.wasm[k], size.ort.wasm[k], kb);
for (const k of ['raw', 'gzip', 'brotli']) row(`JS, ${k}`, size.nextclick.js[k], size.ort.js[k], kb);
for (const k of ['gzip', 'brotli']) row(`wasm + JS, ${k}`, size.nextclick.wasm[k] + size.nextclick.js[k], size.ort.wasm[k] + size.ort.js[k], kb);

md += `\nCross-check: the top-1 item of nextclick (f32, learning off) equals ORT-web's on `;
md += SIZES.map((n) => `${(100 * agreement(find('nextclick', n, 'f32', 0), find('ort', n, 'f32', 0))).toFixed(1)} % (${n} items)`).join(', ');
md += ` of the timed events, so both sides compute the same thing.\n`;

md += `\nCold start breakdown (median ms): nextclick — library JS + wasm compile ${f(median(results.cold.nextclick.map((r) => r.setup.lib)), 1)}, `
  + `waiting for model+catalog ${f(median(results.cold.nextclick.map((r) => r.setup.dataWait)), 1)}, Predictor.create ${f(median(results.cold.nextclick.map((r) => r.setup.create)), 1)}; `
  + `ORT-web — library JS ${f(median(results.cold.ort.map((r) => r.setup.lib)), 1)}, waiting for model+catalog ${f(median(results.cold.ort.map((r) => r.setup.dataWait)), 1)}, `
  + `InferenceSession.create (incl. its wasm fetch + compile) + catalog parse ${f(median(results.cold.ort.map((r) => r.setup.create)), 1)}. `
  + `Repeat view: nextclick — library JS + wasm compile ${f(median(results.cold.nextclick.map((r) => r.repeat.setup.lib)), 1)}, Predictor.create ${f(median(results.cold.nextclick.map((r) => r.repeat.setup.create)), 1)}; `
  + `ORT-web — library JS ${f(median(results.cold.ort.map((r) => r.repeat.setup.lib)), 1)}, InferenceSession.create + catalog parse ${f(median(results.cold.ort.map((r) => r.repeat.setup.create)), 1)}.\n`;

{
  // The stages of the cold start, side by side (medians of COLD_RUNS), for the first visit and the repeat view.
  const med = (rs, get) => f(median(rs.map(get)), 1);
  const rowsOf = (name, rs) => ['first visit', 'repeat view'].map((v, i) => {
    const pick = (r) => (i ? r.repeat : r);
    return `| ${name} | ${v} | ${med(rs, (r) => pick(r).scriptStartMs)} | ${med(rs, (r) => pick(r).setup.lib)} | ${med(rs, (r) => pick(r).setup.dataWait)} | ${med(rs, (r) => pick(r).setup.create)} | ${med(rs, (r) => pick(r).coldReadyMs)} |`;
  });
  md += `\nCold start by stage (median ms of ${COLD_RUNS} runs, ${COLD_N} items): *page* = navigation start to the page's script (HTML + page module, the same for both libraries); *library* = nextclick's glue import + wasm fetch/compile/instantiate, ORT-web's module import; *waiting* = for the model and catalog fetches (started with the page script) after that; *create* = \`Predictor.create\` (model decode, contract check, tract optimisation, catalog decode and checksum) / \`InferenceSession.create\` (incl. ORT-web's wasm fetch + compile) + catalog parse. "checksum in wasm" is nextclick with the catalog's SHA-256 computed in wasm (\`digest=wasm\`, as before issue #23); the default computes it with WebCrypto while the wasm compiles.\n\n`
    + `| library | view | page | library | waiting | create | model ready |\n|---|---|---:|---:|---:|---:|---:|\n`
    + [...rowsOf('nextclick', results.cold.nextclick), ...rowsOf('nextclick, checksum in wasm', results.cold.nextclickWasmDigest), ...rowsOf('ORT-web', results.cold.ort)].join('\n') + '\n';
}

md += `\n### Every configuration\n\n${RUNS} page loads per configuration (\`BENCH_RUNS\`), round-robin over the configurations; the figures are those of the load with the median p50; the last column has every load's p50 / p99.\n\n| library | items | catalog | learning | p50 ms | p99 ms | mean ms | track p50 ms | wasm memory | every load: p50 / p99 ms |\n|---|---:|---|---|---:|---:|---:|---:|---:|---|\n`;
for (const x of results.latency) md += `| ${x.lib} | ${x.n} | ${x.dtype} | ${x.learn ? 'on' : 'off'} | ${f(x.r.total.p50)} | ${f(x.r.total.p99)} | ${f(x.r.total.mean)} | ${f(x.r.track.p50)} | ${mb(x.r.wasmMemoryBytes)} | ${x.r.runs.map((u) => `${f(u.p50)} / ${f(u.p99)}`).join(', ')} |\n`;
md += `\nFiles: ${[...size.nextclick.wasm.per, ...size.nextclick.js.per, ...size.ort.wasm.per, ...size.ort.js.per].map((p) => `${p.file} ${p.raw} B (gzip ${p.gzip}, br ${p.brotli})`).join('; ')}.\n`;
if (results.memory) md += `\n${memorySection(results.memory, loadAfter)}`;
md += `\n![track→top-20 latency](${path.basename(SVG)})\n`;
const notes = path.join(HERE, 'notes.md');
if (fs.existsSync(notes)) md += `\n${fs.readFileSync(notes, 'utf8')}`;
md += `\nReproduce: \`make bench\` (builds the release wasm, installs bench/ with \`npm ci\`, runs this). Raw results: bench/out/results.json.\n`;
{
  // a full run keeps the big-catalog section of the previous docs/bench.md (BENCH_ONLY=ivf measures it)
  const prev = fs.existsSync(MD) ? fs.readFileSync(MD, 'utf8').match(/<!-- ivf:begin -->[\s\S]*?<!-- ivf:end -->\n/) : null;
  if (prev) md = placeIvf(md, prev[0]);
  // and the npm vector-search libraries' section after it (BENCH_ONLY=vector-libs measures it)
  const prevVl = fs.existsSync(MD) ? fs.readFileSync(MD, 'utf8').match(/<!-- vector-libs:begin -->[\s\S]*?<!-- vector-libs:end -->\n/) : null;
  if (prevVl) md = placeVectorLibs(md, prevVl[0]);
  // and every kept section (`<!-- keep:NAME:begin -->` … `<!-- keep:NAME:end -->`: hand-written, or
  // written by another command such as `make bench-catalog-real`), after the marker it followed
  if (fs.existsSync(MD)) md = placeKept(md, fs.readFileSync(MD, 'utf8'));
}

/**
 * `md` with the kept sections of `prev` put back: each after the last `<!-- …:end -->` marker before it in
 * `prev` when `md` has that marker (after what is already there), else at the end.
 */
function placeKept(md, prev) {
  const re = /<!-- keep:([\w-]+):begin -->[\s\S]*?<!-- keep:\1:end -->\n/g;
  for (const m of prev.matchAll(re)) {
    if (md.includes(`<!-- keep:${m[1]}:begin -->`)) continue;
    const before = [...prev.slice(0, m.index).matchAll(/<!-- [\w:-]+:end -->\n/g)].pop();
    let at = before ? md.indexOf(before[0]) : -1;
    if (at < 0) {
      md = md.replace(/\n*$/, '\n\n') + m[0];
      continue;
    }
    at += before[0].length;
    // after the kept sections already placed there
    for (let k; (k = md.slice(at).match(/^\n*<!-- keep:([\w-]+):begin -->[\s\S]*?<!-- keep:\1:end -->\n/)); ) at += k[0].length;
    md = md.slice(0, at) + '\n' + m[0] + md.slice(at);
  }
  return md;
}

/** The "Incremental encoding" section (BENCH_ONLY=incremental writes it, a full run keeps it). */
function incrementalSection(rows, cold, load) {
  const med = (xs) => { const s2 = [...xs].sort((a, b) => a - b); return s2[Math.floor(s2.length / 2)]; };
  const fx = (x, d = 3) => (x === null || x === undefined ? '–' : x.toFixed(d));
  const get = (graph, lib, n, dtype, learn) => rows.find((x) => x.graph === graph && x.lib === lib && x.n === n && x.dtype === dtype && x.learn === learn)?.r;
  const v2Bytes = fs.statSync(path.join(OUT, 'data', 'model-v2.onnx')).size;
  let s = '<!-- keep:incremental:begin -->\n## Incremental encoding: contract v2 (`make bench-incremental`, issue #23)\n\n';
  s += `Measured on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, load average ${load.map((x) => x.toFixed(2)).join(' / ')}, headless Chromium ${browserVersion}, `;
  s += `onnxruntime-web ${JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules/onnxruntime-web/package.json'), 'utf8')).version}, www/pkg at git ${sh('git rev-parse --short HEAD')}. `;
  const v1Bytes = fs.statSync(path.join(OUT, 'data', 'model-v1.onnx')).size;
  if (card.contract === 2) {
    s += `**v1** = \`${v1Path}\` (BENCH_V1_MODEL${process.env.BENCH_V1_LABEL ? `: ${process.env.BENCH_V1_LABEL}` : ''}, ${v1Bytes} bytes; a window graph of the same shape: every event re-encodes the last L = ${L} events). `;
    s += `**v2** = \`models/${modelName}.onnx\` ${card.version}, a contract-v2 model, as the step graph writer gives it (\`crates/model/examples/step_graph.rs\`, ${v2Bytes} bytes): one event per run, from the keys and values of the session's earlier events, `;
    s += 'which nextclick keeps in wasm (`model::KvCache`) and the ORT side in JS, the same ring. Same event stream and catalogs as "What is timed" (catalogs bound to each graph), one fresh context per row, ';
  } else {
    s += `**v1** = \`models/${modelName}.onnx\` (${modelBytes.length} bytes; the window graph, every event re-encodes the last L = ${L} events). `;
    s += `**v2** = the same weights written as the contract-v2 step graph (\`crates/model/examples/step_graph.rs\`, ${v2Bytes} bytes): one event per run, from the keys and values of the session's earlier events, `;
    s += 'which nextclick keeps in wasm (`model::KvCache`) and the ORT side in JS, the same ring. Positions count from the session start in v2, so with these weights it is another model with the same arithmetic per event: ';
    s += 'the figures below are its cost, not its quality. Same event stream and catalogs as "What is timed" (catalogs bound to each graph), one fresh context per row, ';
  }
  s += `${EVENTS} timed events after 200 warm-up and a ${SETTLE_MS} ms pause; cold start as in the main table (${COLD_N} items, median of ${COLD_RUNS}).\n\n`;
  s += '| | v1 nextclick | v2 nextclick | v1 ORT-web | v2 ORT-web | v2 nextclick ÷ v2 ORT-web |\n|---|---:|---:|---:|---:|---:|\n';
  const row = (label, a, b, c, d2, dd = 3) => { s += `| ${label} | ${fx(a, dd)} | ${fx(b, dd)} | ${fx(c, dd)} | ${fx(d2, dd)} | ${b && d2 ? `${(b / d2).toFixed(2)}×` : '–'} |\n`; };
  const cm = (k, rep) => med(cold[k].map((r) => (rep ? r.repeat.coldReadyMs : r.coldReadyMs)));
  row('cold start to model ready, first visit (ms, median)', cm('nextclick-v1'), cm('nextclick-v2'), cm('ort-v1'), cm('ort-v2'), 1);
  row('repeat view: model ready (ms, median)', cm('nextclick-v1', true), cm('nextclick-v2', true), cm('ort-v1', true), cm('ort-v2', true), 1);
  row('`Predictor.create` / `InferenceSession.create` + catalog parse, first visit (ms, median)', med(cold['nextclick-v1'].map((r) => r.setup.create)), med(cold['nextclick-v2'].map((r) => r.setup.create)),
    med(cold['ort-v1'].map((r) => r.setup.create)), med(cold['ort-v2'].map((r) => r.setup.create)), 1);
  for (const n of SIZES) {
    for (const [what, pick] of [['p50', (r) => r?.total.p50], ['p99', (r) => r?.total.p99]]) {
      row(`track→top-20 ${what}, ${n} items, f32 catalog (ms)`, pick(get('v1', 'nextclick', n, 'f32', 0)), pick(get('v2', 'nextclick', n, 'f32', 0)), pick(get('v1', 'ort', n, 'f32', 0)), pick(get('v2', 'ort', n, 'f32', 0)));
    }
    s += `| track→top-20 p50 / p99, ${n} items, nextclick int8 catalog (ms) | ${fx(get('v1', 'nextclick', n, 'int8', 0)?.total.p50)} / ${fx(get('v1', 'nextclick', n, 'int8', 0)?.total.p99)} | ${fx(get('v2', 'nextclick', n, 'int8', 0)?.total.p50)} / ${fx(get('v2', 'nextclick', n, 'int8', 0)?.total.p99)} | | | |\n`;
    row(`track→top-20 p50, ${n} items, on-device learning on (ms)`, get('v1', 'nextclick', n, 'f32', 1)?.total.p50, get('v2', 'nextclick', n, 'f32', 1)?.total.p50, get('v1', 'ort', n, 'f32', 1)?.total.p50, get('v2', 'ort', n, 'f32', 1)?.total.p50);
  }
  s += '\n**The two runtimes on the step graph** (f32 catalogs, learning off; the same events): ';
  s += SIZES.map((n) => {
    const a = get('v2', 'nextclick', n, 'f32', 0), b = get('v2', 'ort', n, 'f32', 0);
    let same = 0, worst = 0;
    for (let i = 0; i < a.top1.length; i++) {
      if (a.top1[i] === b.top1[i]) same++;
      if (a.top1Score[i] !== null && b.top1Score[i] !== null) worst = Math.max(worst, Math.abs(a.top1Score[i] - b.top1Score[i]));
    }
    return `${n} items: the same top-1 item after ${same} of ${a.top1.length} events, largest top-1 score difference ${worst.toExponential(1)}`;
  }).join('; ') + '.\n\n';
  s += 'Goals of issue #23 with v2 (headless Chromium, this run): p50 ≤ 0.3 ms at 2k items and ≤ 0.6 ms at 20k, p99 ≤ 3 × p50, ≤ 0.5 × ORT-web: ';
  s += SIZES.map((n) => {
    const a = get('v2', 'nextclick', n, 'f32', 0).total, b = get('v2', 'ort', n, 'f32', 0).total, i8 = get('v2', 'nextclick', n, 'int8', 0).total;
    return `${n} items p50 ${fx(a.p50)} ms (int8 ${fx(i8.p50)}), p99 / p50 ${(a.p99 / a.p50).toFixed(1)}, ${(a.p50 / b.p50).toFixed(2)} × ORT-web`;
  }).join('; ') + '.\n';
  s += '<!-- keep:incremental:end -->\n';
  return s;
}

/** The "Big catalogs in Chromium" section (between markers: BENCH_ONLY=ivf writes it, a full run keeps it). */
function ivfSection(rows, load) {
  const name = { f32: 'exact f32 (v1)', ivfpq: 'IVF-PQ (v2)', ivfpq8: 'IVF-PQ + int8 re-score (v2)', 'ivfpq-split': 'IVF-PQ, split (v3)', 'ivfpq8-split': 'IVF-PQ + int8 re-score, split (v3)' };
  let s = `<!-- ivf:begin -->\n## Big catalogs in Chromium (\`make bench-catalog-web\`, issue #20)\n\n`;
  s += `Measured on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, load average ${load.map((x) => x.toFixed(2)).join(' / ')}, headless Chromium ${browserVersion}, `;
  s += `www/pkg at git ${sh('git rev-parse --short HEAD')}: the catalogs of "Big catalogs" below (generated clustered vectors, ids \`it-i\`, no metadata, the builder's defaults; `;
  s += `written by \`crates/model/examples/bench_catalog.rs\` with \`BENCH_CATALOG_WRITE\`, bound to models/${modelName}.onnx), loaded by the page as in "What is timed" (one fresh context each, `;
  s += `${EVENTS} timed events after ${200} warm-up, learning off). *model ready* is since navigation start (fetch of the file included, checksum by WebCrypto); `;
  s += `*wasm memory* is the page's linear memory at the end (its peak). Recall of each catalog is in "Big catalogs" (native, same files). `;
  s += `Split catalogs (v3, \`nextclick::split::write_catalog\` of the same IVF-PQ catalogs, 32 rows per item block): *file* is the head; the page fetches body chunks by Range requests through the SDK's \`chunkFetcher\` as each event and prediction needs them, so their track→top-20 includes those fetches from the local server. `;
  s += `*catalog bytes before the 1st prediction*: the whole file, or the head plus the chunks the first event and its top-20 fetched; *all bytes*: every resource of the page by then (HTML, JS, wasm, model, catalog), the browser's transferSize; *body fetched*: chunk bytes over the whole run, of the body's size.\n\n`;
  s += `*resident p50 / p99*: split catalogs, over the timed events that fetched no chunk (the share of events that fetched is given). The event stream jumps between random items of the whole catalog (no browsing locality): a worst case for a lazily loaded catalog. `;
  s += `Rows marked † are from an earlier run of the same command (\`BENCH_IVF_DTYPES\` re-measured the others).\n\n`;
  s += `| items | catalog | file | catalog bytes before the 1st prediction | all bytes before the 1st prediction | model ready (ms) | Predictor.create (ms) | track→top-20 p50 (ms) | p99 (ms) | resident p50 / p99 (ms) | events that fetched | body fetched (run) | wasm memory |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n`;
  for (const x of rows) {
    const firstCat = x.r.firstCatalogBytes ?? x.bytes;
    const body = x.bodyBytes ? `${MiB(x.r.chunkBytesTotal)} of ${MiB(x.bodyBytes)}` : '–';
    const res = x.r.resident && x.r.resident.p50 !== undefined ? `${x.r.resident.p50.toFixed(3)} / ${x.r.resident.p99.toFixed(3)}` : '–';
    const share = x.r.resident ? `${((100 * x.r.resident.fetchedEvents) / x.r.total.n).toFixed(0)} %` : '–';
    s += `| ${x.n} | ${name[x.dtype]}${x.earlier ? ' †' : ''} | ${MiB(x.bytes)} | ${MiB(firstCat)} | ${x.r.firstTransferredBytes ? MiB(x.r.firstTransferredBytes) : '–'} | ${x.r.coldReadyMs.toFixed(0)} | ${x.r.setup.create.toFixed(0)} | ${x.r.total.p50.toFixed(3)} | ${x.r.total.p99.toFixed(3)} | ${res} | ${share} | ${body} | ${(x.r.wasmMemoryBytes / 1048576).toFixed(1)} MiB |\n`;
  }
  return s + `<!-- ivf:end -->\n`;
}

/** Puts the big-catalog section into `md`: in place of an earlier one, else before "Big catalogs" (native), else at the end. */
function placeIvf(md, section) {
  const re = /<!-- ivf:begin -->[\s\S]*?<!-- ivf:end -->\n/;
  if (re.test(md)) return md.replace(re, section);
  const at = md.indexOf('## Big catalogs: IVF-PQ');
  return at >= 0 ? md.slice(0, at) + section + '\n' + md.slice(at) : md + `\n${section}`;
}

/** One page load of bench/vector-libs.html (a fresh context): its result, or what it reported before it died. */
async function runVectorLib(params, timeout) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = [];
  let last = null, crashed = false;
  page.on('console', (m) => {
    const t = m.text();
    if (t.startsWith('__state ')) { try { last = JSON.parse(t.slice(8)); } catch { /* a truncated line */ } }
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('crash', () => { crashed = true; });
  try {
    await page.goto(`${base}/bench/vector-libs.html?${new URLSearchParams(params)}`);
    await page.waitForFunction(() => window.__result, null, { timeout, polling: 1000 });
    const r = await page.evaluate(() => window.__result);
    if (r.error && errors.length) r.error += ` ${errors.join(' ')}`;
    return r;
  } catch (e) {
    return { ...(last || {}), wasmMemoryBytes: last?.wasmNow ?? null, error: `${crashed ? 'the page crashed' : 'the page did not finish'}: ${String(e).split('\n')[0]}` };
  } finally {
    await ctx.close().catch(() => {});
  }
}

/** hnswlib's efSearch sweep → the smallest ef reaching recall@20 ≥ 0.95, else the best recall. */
function bestOfSweep(sweep) {
  return sweep.find((x) => x.recall >= 0.95) || [...sweep].sort((a, b) => b.recall - a.recall)[0];
}

/** Puts the vector-libs section into `md`: in place of an earlier one, else after "Big catalogs in Chromium"
 * (before the native "Big catalogs: IVF-PQ" section that follows it), else after the ivf markers, else at the end. */
function placeVectorLibs(md, section) {
  const re = /<!-- vector-libs:begin -->[\s\S]*?<!-- vector-libs:end -->\n/;
  if (re.test(md)) return md.replace(re, section);
  const at = md.indexOf('## Big catalogs: IVF-PQ');
  if (at >= 0) return md.slice(0, at) + section + '\n' + md.slice(at);
  const end = md.indexOf('<!-- ivf:end -->\n');
  if (end >= 0) { const e = end + '<!-- ivf:end -->\n'.length; return md.slice(0, e) + '\n' + section + md.slice(e); }
  return md + `\n${section}`;
}

/** The "Big catalogs: npm vector-search libraries side by side" section (between markers). */
function vectorLibsSection(rows, md) {
  const KiB = (b) => `${(b / 1024).toFixed(0)} KiB`;
  const ms = (x, d = 3) => (x === null || x === undefined ? '–' : x.toFixed(d));
  const loadStr = (l) => l.map((x) => x.toFixed(2)).join(' / ');
  const ver = (p) => JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules', p, 'package.json'), 'utf8')).version;
  const nm = (p) => path.join(HERE, 'node_modules', p);
  const code = {
    hnswlib: sizes([nm('hnswlib-wasm/dist/hnswlib.js'), nm('hnswlib-wasm/dist/hnswlib-317962d7.js')]),
    voy: sizes([nm('voy-search/voy_search_bg.js'), nm('voy-search/voy_search_bg.wasm')]),
    nextclick: { gzip: size.nextclick.wasm.gzip + size.nextclick.js.gzip, raw: size.nextclick.wasm.raw + size.nextclick.js.raw },
  };
  const codeCell = (c) => `${KiB(c.gzip)} (${KiB(c.raw)} raw)`;
  const ivfRows = fs.existsSync(path.join(OUT, 'ivf.json')) ? JSON.parse(fs.readFileSync(path.join(OUT, 'ivf.json'), 'utf8')) : [];
  const ivfWhen = (md.match(/<!-- ivf:begin -->[\s\S]*?Measured on ([^,]+), load average ([\d.]+ \/ [\d.]+ \/ [\d.]+)/) || []).slice(1);
  const native = (n) => { const f = path.join(OUT, 'data', `bench-catalog-${n}.json`); return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : null; };
  const sizesShown = [...new Set(rows.map((x) => x.n))].sort((a, b) => a - b);
  const natWhen = sizesShown.map((n) => path.join(OUT, 'data', `bench-catalog-${n}.json`)).filter((f) => fs.existsSync(f))
    .map((f) => `${path.basename(f)} ${fs.statSync(f).mtime.toISOString().replace(/\.\d+Z$/, 'Z')}`).join(', ') || '–';
  const first = rows.filter((x) => !x.earlier);
  const loads = first.length ? [first[0].load[0], first[first.length - 1].load[1]] : [os.loadavg(), os.loadavg()];
  const when = first.length ? `${first[0].measuredAt} – ${first[first.length - 1].measuredAt}` : '–';
  const nq = rows.find((x) => x.r.sweep)?.r.sweep[0].queries ?? '?';

  let s = `<!-- vector-libs:begin -->\n## Big catalogs: npm vector-search libraries side by side (issue #20)\n\n`;
  s += `Measured on ${when} (UTC), load average ${loadStr(loads[0])} before and ${loadStr(loads[1])} after (1 / 5 / 15 min) on ${os.cpus().length} × ${os.cpus()[0]?.model || '?'}: **the machine is shared with other engineers' builds and tests**, so latencies (the p99s most) are inflated by load; bytes, memory and recall are not. `;
  s += `Headless Chromium ${rows[0]?.browserVersion || browserVersion} (Debian's /usr/bin/chromium through playwright-core), page cross-origin isolated (µs timer), one fresh browser context per library and size. `;
  s += `Libraries from npm: **hnswlib-wasm ${ver('hnswlib-wasm')}** (nmslib's hnswlib compiled by emscripten; one JS file with the wasm inlined as base64) and **voy-search ${ver('voy-search')}** (a Rust k-d tree, kiddo, through wasm-bindgen).\n\n`;
  s += `Same data for everyone: the generated clustered vectors (D = 64, every item of norm 2) that nextclick's catalogs of "Big catalogs in Chromium" are built from, and the ${nq} recall queries of the native "Big catalogs" section, written by \`crates/model/examples/bench_catalog.rs\` with \`BENCH_CATALOG_WRITE\` (\`vectors-N.f32\`, \`queries-N.f32\`, and \`exact-N.u32\`, the exact f32 scan's top-20 rows). **recall@20** = share of those 20 rows in the library's top-20, mean over the queries. **top-20 p50 / p99**: one query vector → the library's top-20 result object, ${VL.warmup} untimed queries first, then each query once (bench/vector-libs.mjs).\n\n`;
  s += `- **hnswlib-wasm**: \`new HierarchicalNSW('ip', 64, '')\`: inner product, distance 1 − q·x, i.e. nextclick's dot-product score (every item has norm 2 here, so \`cosine\` would rank the same); `;
  s += `M = ${VL.m}, efConstruction = ${VL.efc} (the defaults of hnswlib and of the binding's \`initIndex\`; the package also exports \`defaultParams\` of 32 / 128), seed 100, \`''\` = no auto-save to IndexedDB. Built with \`addPoints\` in batches of 10,000: the binding walks every label after each call, so \`addPoint\` per item makes the build quadratic. `;
  s += `efSearch swept over ${VL.ef} (below; it never goes under k = 20); the main table shows the smallest efSearch whose recall@20 reaches 0.95. Its heap is capped at 2 GiB (emscripten \`getHeapMax\`).\n`;
  s += `- **voy-search**: its only index, a k-d tree searched exactly with squared Euclidean distance (the same ranking as the dot product here: equal norms). Items handed over as its \`Resource\` objects (\`id\` \`it-i\`, empty title and url) of 10,000 at a time (\`new Voy\`, then \`add\`, which inserts into the same tree): the binding passes each as one JSON string, and a million items do not fit one JS string. It pads every vector to 768 dimensions (\`KdTree<f32, u64, 768, 32, u16>\` in its source), which is where its memory goes; a wasm32 memory ends at 4 GiB.\n`;
  s += `- **plain-JS exact scan**: no library: the dot product with every row of the Float32Array and a top-20 insertion (what the ORT-web side of the main benchmark does).\n`;
  s += `- **nextclick**: its wasm API takes events, not a query vector, so there is no search-only figure in the page. Its Chromium columns are the track→top-20 of "Big catalogs in Chromium" above (${ivfWhen.length ? `measured ${ivfWhen[0]}, load average ${ivfWhen[1]}` : 'bench/out/ivf.json'}): they include the encoder pass (≈ 0.55 ms), session bookkeeping and the conversion of 20 results to JS; split catalogs also their chunk fetches. The search alone is given natively (\`bench_catalog\`, the same files and the same queries; release build, x86-64, not wasm; written ${natWhen} in bench/out/data, by a run whose load is not recorded), with its recall.\n\n`;
  s += `Columns: *code*: the library's JS + wasm, gzip -9 (raw); *data to fetch*: what the page downloads besides code before it can answer: the vectors to build from (raw f32, N × 256 B) or the library's saved index (loaded instead of built); for nextclick, the catalog file (split: the head + the chunks of the first prediction), *all bytes* of "Big catalogs in Chromium" in brackets (with wasm, JS, model, HTML). *build*: in the page, from the Float32Array (hnswlib \`initIndex\` + \`addPoints\`; voy: its Resource objects, the JSON hand-over and the tree inserts); nextclick's catalogs are built offline (native build time). *load*: the library's own deserialisation of its saved index, without the download (hnswlib \`readIndex\` from its emscripten FS, voy \`Voy.deserialize\` of its JSON string); nextclick: \`Predictor.create\`. *wasm memory*: the library's WebAssembly.Memory after the build (it never shrinks) / at the end (after the save + load test, where run); nextclick: the page's at the end of its run. *JS heap*: \`performance.memory.usedJSHeapSize\` after \`gc()\` once the queries ran (the page has let go of its copy of the vectors, except the JS scan, whose index they are).`;
  if (rows.some((x) => x.earlier)) s += ` Rows marked † are from an earlier run of the same command (date and load in bench/out/vector-libs.json).`;
  s += `\n\n| items | search | parameters | code (gzip) | data to fetch | build (s) | load (ms) | top-20 p50 (ms) | p99 (ms) | search alone, native p50 / p99 (ms) | recall@20 | wasm memory (after build / end) | JS heap |\n|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n`;
  const ncName = { f32: 'exact f32 (v1)', int8: 'int8 (v1)', ivfpq: 'IVF-PQ (v2)', ivfpq8: 'IVF-PQ + int8 re-score (v2)', 'ivfpq-split': 'IVF-PQ, split (v3)', 'ivfpq8-split': 'IVF-PQ + int8 re-score, split (v3)' };
  const nativeKey = { f32: 'exact f32 (v1)', int8: 'int8 (v1)', ivfpq: 'IVF-PQ (v2', ivfpq8: 'IVF-PQ + int8 re-score (v2', 'ivfpq-split': 'IVF-PQ (v2', 'ivfpq8-split': 'IVF-PQ + int8 re-score (v2' };
  const limits = [];
  for (const n of sizesShown) {
    const nat = native(n);
    const natRow = (dtype) => nat?.rows.find((x) => x.catalog.startsWith(nativeKey[dtype]));
    for (const dtype of ['f32', 'int8', 'ivfpq', 'ivfpq8', 'ivfpq-split', 'ivfpq8-split']) {
      const iv = ivfRows.find((x) => x.n === n && x.dtype === dtype), nr = natRow(dtype);
      if (!iv && !nr) continue;
      const params = nr ? (nr.catalog.match(/\((v\d: .*)\)$/)?.[1] ?? '–') : '–';
      const firstBytes = iv ? (iv.r.firstCatalogBytes ?? iv.bytes) : nr?.file_bytes;
      const data = iv || nr ? `${MiB(firstBytes)} catalog${iv?.r.firstTransferredBytes ? ` (${MiB(iv.r.firstTransferredBytes)})` : ''}` : '–';
      const build = nr ? `offline: ${nr.build_s.toFixed(1)}` : '–';
      s += `| ${n} | nextclick ${ncName[dtype]} | ${params} | ${codeCell(code.nextclick)} | ${data} | ${build} | ${iv ? iv.r.setup.create.toFixed(0) : '–'} | ${iv ? `${iv.r.total.p50.toFixed(3)} ‡` : 'not run'} | ${iv ? `${iv.r.total.p99.toFixed(3)} ‡` : '–'} | ${nr ? `${nr.p50_ms.toFixed(3)} / ${nr.p99_ms.toFixed(3)}` : '–'} | ${nr ? nr.recall20.toFixed(3) : '–'} | ${iv ? `– / ${MiB(iv.r.wasmMemoryBytes)}` : '–'} | – |\n`;
    }
    for (const x of rows.filter((y) => y.n === n)) {
      const r = x.r;
      const name = { hnswlib: 'hnswlib-wasm HNSW', voy: 'voy-search k-d tree', 'js-scan': 'plain-JS exact scan' }[x.lib] + (x.earlier ? ' †' : '');
      const best = r.sweep ? bestOfSweep(r.sweep) : null;
      const params = x.lib === 'hnswlib' ? `ip, M ${VL.m}, efC ${VL.efc}${best ? `, efSearch ${best.ef}` : ''}` : x.lib === 'voy' ? 'default (768-d padded, bucket 32)' : '–';
      const codeC = code[x.lib] ? codeCell(code[x.lib]) : '0 (no library)';
      const vec = `${MiB(n * 64 * 4)} vectors`;
      const ser = r.serialized && !r.serialized.error ? ` or ${MiB(r.serialized.bytes)} saved index` : '';
      let build = r.buildMs !== undefined ? (r.buildMs / 1000).toFixed(1) : '–';
      if (r.budgetExceeded) build = `stopped at ${VL.budgetS} s budget: ${r.added.toLocaleString('en')} of ${n.toLocaleString('en')} items`;
      else if (r.error) build = `failed after ${(r.added ?? 0).toLocaleString('en')} items${r.elapsedMs ? ` (${(r.elapsedMs / 1000).toFixed(1)} s)` : ''}`;
      if (x.lib === 'js-scan') build = '–';
      const load = r.serialized && !r.serialized.error ? r.serialized.loadMs.toFixed(0) : '–';
      const wasm = x.lib === 'js-scan' ? '–' : `${MiB(r.wasmAfterBuild ?? r.wasmNow ?? r.wasmMemoryBytes)} / ${MiB(r.wasmMemoryBytes)}`;
      s += `| ${n} | ${name} | ${params} | ${codeC} | ${vec}${ser} | ${build} | ${load} | ${best ? ms(best.p50) : '–'} | ${best ? ms(best.p99) : '–'} | – | ${best ? best.recall.toFixed(3) : '–'} | ${wasm} | ${MiB(r.heapAfterQueries ?? null)} |\n`;
      if (r.error) {
        const mem = r.wasmNow ?? r.wasmMemoryBytes;
        const why = /unreachable/.test(r.error) && mem > 3.5 * 1024 ** 3 ? ' (a wasm32 memory cannot grow past 4 GiB: the allocation failed and the Rust code aborted)' : '';
        limits.push(`**${name}, ${n.toLocaleString('en')} items: ${r.error.split('\n')[0].replace(/\|/g, '\\|')}**, after ${(r.added ?? 0).toLocaleString('en')} items were added${r.elapsedMs ? ` in ${(r.elapsedMs / 1000).toFixed(1)} s` : ''}, wasm memory then ${MiB(mem)}${why}.`);
      }
      if (!r.error && !r.budgetExceeded && r.buildMs > 600_000) limits.push(`**${name}, ${n.toLocaleString('en')} items: the build took ${(r.buildMs / 60000).toFixed(1)} min** in the page (one thread; the default \`BENCH_VL_BUDGET_S\` of 600 s would have stopped it).`);
      if (r.budgetExceeded) limits.push(`**${name}, ${n.toLocaleString('en')} items: not built within the ${VL.budgetS} s budget** (\`BENCH_VL_BUDGET_S\`): ${r.added.toLocaleString('en')} items in ${(r.buildMs / 1000).toFixed(0)} s.`);
      if (r.serialized?.error) limits.push(`${name}, ${n.toLocaleString('en')} items: saving / loading its index failed: ${r.serialized.error.split('\n')[0]}.`);
      if (!r.error && !r.budgetExceeded && n > VL.serializeMax && x.lib !== 'js-scan') {
        const small = rows.find((y) => y.lib === x.lib && y.n < n && y.r.serialized && !y.r.serialized.error);
        const est = small ? `; at ${(small.r.serialized.bytes / small.n).toFixed(0)} B an item (${small.n.toLocaleString('en')} items) it would be ≈ ${MiB((small.r.serialized.bytes / small.n) * n)}` : '';
        limits.push(`${name}, ${n.toLocaleString('en')} items: its saved index was not measured at this size (\`BENCH_VL_SERIALIZE_MAX\` = ${VL.serializeMax})${est}.`);
      }
    }
  }
  s += `\n‡ nextclick's Chromium figures are track→top-20 (the encoder pass included), not a search alone; the libraries' are the search alone.\n`;
  const sweeps = rows.filter((x) => x.lib === 'hnswlib' && x.r.sweep);
  if (sweeps.length) {
    s += `\nhnswlib-wasm by efSearch (the same index per size; each row after its own ${VL.warmup} untimed queries):\n\n| items | efSearch | top-20 p50 (ms) | p99 (ms) | mean (ms) | recall@20 |\n|---:|---:|---:|---:|---:|---:|\n`;
    for (const x of sweeps) for (const e of x.r.sweep) s += `| ${x.n} | ${e.ef} | ${ms(e.p50)} | ${ms(e.p99)} | ${ms(e.mean)} | ${e.recall.toFixed(3)} |\n`;
  }
  const saved = rows.filter((x) => x.r.serialized && !x.r.serialized.error);
  if (saved.length) {
    // voy's saved index is one JS string, and V8's strings end at 2^29 − 24 characters (64-bit)
    const voyCap = (x) => (x.lib === 'voy' ? ` (one JS string; V8's strings end at 2^29 − 24 characters, i.e. ≈ ${Math.floor(((2 ** 29 - 24) * x.n) / x.r.serialized.bytes).toLocaleString('en')} items at this rate)` : '');
    s += `\nSaved indexes (the library's own format): ${saved.map((x) => `${x.lib} ${x.n.toLocaleString('en')} items: ${MiB(x.r.serialized.bytes)} (${(x.r.serialized.bytes / x.n).toFixed(0)} B an item)${voyCap(x)}, saved in ${(x.r.serialized.saveMs / 1000).toFixed(1)} s, loaded in ${(x.r.serialized.loadMs / 1000).toFixed(1)} s`).join('; ')}.\n`;
  }
  if (limits.length) s += `\nLimits met in this run:\n\n${limits.map((l) => `- ${l}`).join('\n')}\n`;
  s += `\nReproduce (from the repository root): \`make bench-catalog-web\` then \`make bench-vector-libs\` (it writes the libraries' inputs with \`bench_catalog --vectors-only\` and runs the line below). By hand: \`make bench-catalog-web\` (nextclick's rows; its bench_catalog run also writes the libraries' inputs and \`bench/out/data/bench-catalog-N.json\`), or for the inputs alone \`cargo build --release -p nextclick-model --example bench_catalog && BENCH_CATALOG_WRITE=bench/out/data target/release/examples/bench_catalog --vectors-only ${VL.sizes.join(' ')}\`; then \`cd bench && npm ci && BENCH_ONLY=vector-libs`;
  const envs = [['BENCH_VL_SIZES', VL.sizes.join(','), '100000,1000000'], ['BENCH_VL_LIBS', VL.libs.join(','), 'hnswlib,voy,js-scan'], ['BENCH_VL_BUDGET_S', String(VL.budgetS), '600'], ['BENCH_VL_EF', VL.ef, '20,40,80,160'], ['BENCH_VL_HNSW_M', String(VL.m), '16'], ['BENCH_VL_HNSW_EFC', String(VL.efc), '200'], ['BENCH_VL_SERIALIZE_MAX', String(VL.serializeMax), '100000'], ['BENCH_VL_WARMUP', String(VL.warmup), '50']];
  const merged = rows.some((x) => x.earlier); // a partial re-run: the command that measured every row is the full one
  for (const [k, v, d] of envs) if (v !== d && !(merged && (k === 'BENCH_VL_SIZES' || k === 'BENCH_VL_LIBS'))) s += ` ${k}=${v}`;
  s += ` node run.mjs\`. Raw results: bench/out/vector-libs.json.\n<!-- vector-libs:end -->\n`;
  return s;
}

/** The "Memory after N events" section (between markers, so BENCH_ONLY=memory can replace it alone). */
function memorySection(m, load) {
  const first = m.points[0], last = m.points[m.points.length - 1];
  let s = `<!-- memory:begin -->\n## Memory after ${m.events.toLocaleString('en')} events\n\n`;
  s += `Measured by \`make bench\` (alone: \`BENCH_ONLY=memory make bench\`) on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, load average ${load.map((x) => x.toFixed(2)).join(' / ')}: `;
  s += `one \`Predictor\` (models/${modelName}.onnx, ${m.n}-item f32 catalog, on-device learning ${m.learn ? 'on' : 'off'}) in headless Chromium ${browserVersion}; `;
  s += `${m.events.toLocaleString('en')} events of the benchmark's stream (sessions of mean ~25 events, 45-minute gaps) through \`predictor.track\`, `;
  s += `a \`predict(20)\` every 100 events; ${m.wallSeconds.toFixed(0)} s wall. A figure, not a threshold test. `;
  s += `**wasm memory** is the byte length of the page's wasm linear memory (${m.memories} memory; it never shrinks, so this is also its peak); `;
  s += `**JS heap** is \`performance.memory.usedJSHeapSize\` ${m.hasJsHeap ? `(Chromium, \`--enable-precise-memory-info\`${m.hasGc ? ', read after \`gc()\`' : ''})` : '(not available in this browser)'}; `;
  s += `**state** is the length of \`exportState()\` (what a consenting shopper's device stores).\n\n`;
  s += `| after | wasm memory | JS heap | state |\n|---|---:|---:|---:|\n`;
  s += `| wasm instantiated, no predictor | ${MiB(m.base.wasm)} | ${MiB(m.base.heap)} | – |\n`;
  for (const p of m.points) s += `| ${p.events === 0 ? 'Predictor.create, 0 events' : `${p.events.toLocaleString('en')} events`} | ${MiB(p.wasmBytes)} | ${MiB(p.jsHeapBytes)} | ${(p.stateBytes / 1024).toFixed(1)} KiB |\n`;
  s += `\nFrom 0 to ${last.events.toLocaleString('en')} events: wasm memory ${last.wasmBytes >= first.wasmBytes ? '+' : ''}${((last.wasmBytes - first.wasmBytes) / 1048576).toFixed(2)} MiB`;
  if (first.jsHeapBytes !== null && last.jsHeapBytes !== null) s += `, JS heap ${last.jsHeapBytes >= first.jsHeapBytes ? '+' : ''}${((last.jsHeapBytes - first.jsHeapBytes) / 1048576).toFixed(2)} MiB`;
  s += `, state ${(first.stateBytes / 1024).toFixed(1)} → ${(last.stateBytes / 1024).toFixed(1)} KiB. Track statuses: ${Object.entries(m.statuses).map(([k, v]) => `${k} ${v}`).join(', ')}.\n<!-- memory:end -->\n`;
  return s;
}

// ---- plot: grouped bars, p50 and p99 per configuration ----
function plot() {
  const groups = [];
  for (const n of SIZES) for (const learn of [0, 1]) {
    const a = find('nextclick', n, 'f32', learn), b = find('ort', n, 'f32', learn);
    groups.push({ label: `${n / 1000}k items${learn ? ', learning' : ''}`, bars: [['nextclick p50', a.total.p50], ['nextclick p99', a.total.p99], ['ORT-web p50', b.total.p50], ['ORT-web p99', b.total.p99]] });
  }
  const colors = ['#1f77b4', '#aec7e8', '#d62728', '#ff9896'];
  const W = 760, H = 360, left = 60, bottom = 50, top = 30, gw = (W - left - 20) / groups.length, bw = gw / 5;
  const max = Math.max(...groups.flatMap((g) => g.bars.map((b) => b[1]))) * 1.1;
  const y = (v) => H - bottom - (v / max) * (H - bottom - top);
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n`;
  s += `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">track→top-20 latency (ms), headless Chromium, model ${modelName}</text>\n`;
  for (let t = 0; t <= 5; t++) { const v = (max / 5) * t; s += `<line x1="${left}" x2="${W - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(v < 10 ? 1 : 0)}</text>\n`; }
  groups.forEach((g, gi) => {
    const x0 = left + gi * gw + bw / 2;
    g.bars.forEach(([name, v], bi) => { s += `<rect x="${x0 + bi * bw}" y="${y(v)}" width="${bw - 2}" height="${y(0) - y(v)}" fill="${colors[bi]}"><title>${name}: ${v.toFixed(3)} ms</title></rect><text x="${x0 + bi * bw + bw / 2 - 1}" y="${y(v) - 3}" text-anchor="middle" font-size="9">${v.toFixed(2)}</text>\n`; });
    s += `<text x="${x0 + 2 * bw}" y="${H - bottom + 16}" text-anchor="middle">${g.label}</text>\n`;
  });
  colors.forEach((c, i) => { const lx = left + i * 150; s += `<rect x="${lx}" y="${H - 22}" width="12" height="12" fill="${c}"/><text x="${lx + 16}" y="${H - 12}">${groups[0].bars[i][0]}</text>\n`; });
  return s + '</svg>\n';
}
fs.mkdirSync(path.dirname(MD), { recursive: true });
fs.writeFileSync(SVG, plot());
fs.writeFileSync(MD, md);
fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify({ size, results, loadBefore, loadAfter, browserVersion, ortVersion }, null, 1));
if (results.memory) fs.writeFileSync(path.join(OUT, 'memory.json'), JSON.stringify(results.memory, null, 1));
say(`wrote ${path.relative(ROOT, MD)} and ${path.relative(ROOT, SVG)}`);
