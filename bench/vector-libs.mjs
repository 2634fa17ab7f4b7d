// The npm vector-search libraries' page (bench/run.mjs `BENCH_ONLY=vector-libs`, issue #20). One page load
// builds one library's index from the vectors nextclick's catalogs are built from and runs the same recall
// queries through it. Query string:
//   lib=hnswlib|voy|js-scan  n=<items>  budget=<build budget, s>  warmup=<untimed queries>
//   ef=<hnswlib efSearch values, comma-separated>  m=<hnswlib M>  efc=<hnswlib efConstruction>
//   serialize=0|1 (also time the library's own save + load of the built index, where it has one)
// Inputs (crates/model/examples/bench_catalog.rs with BENCH_CATALOG_WRITE): /bench/out/data/vectors-N.f32
// (N × 64 little-endian f32), queries-N.f32 (Q × 64) and exact-N.u32 (the exact f32 scan's top-20 rows per
// query). The result is stored in `window.__result` (read by run.mjs through Playwright).
//
// What is timed: *build* from the page holding the Float32Array of vectors until the index answers
// (hnswlib: `initIndex` + `addPoints` in batches; voy: the `Resource` objects it takes, its JSON hand-over
// and its k-d tree; js-scan: nothing); *query*: one top-20 search for one query vector, from the
// Float32Array to the library's result object (hnswlib `searchKnn`, voy `search`, js-scan a dot product over
// every row and a top-20 insertion in plain JS); recall@20 against exact-N.u32 (rows; voy returns ids `it-i`).

const q = new URLSearchParams(location.search);
const LIB = q.get('lib');
const N = +q.get('n');
const BUDGET_MS = +(q.get('budget') || 600) * 1000;
const WARMUP = +(q.get('warmup') || 50);
const EFS = (q.get('ef') || '20,40,80,160,320').split(',').map(Number);
const HNSW_M = +(q.get('m') || 16);
const HNSW_EFC = +(q.get('efc') || 200);
const SERIALIZE = q.get('serialize') !== '0';
const K = 20;
const D = 64;

const now = () => performance.now();
const log = (s) => { document.getElementById('log').textContent += '\n' + s; console.log(s); };
const yieldToLoop = () => new Promise((r) => setTimeout(r, 0));
/** The progress so far, on the console: run.mjs keeps the last one, for a page that dies (out of memory). */
const report = (state) => console.log('__state ' + JSON.stringify({ ...state, wasmNow: wasmBytes() }));
const wasmBytes = () => window.__memories.reduce((a, m) => a + m.buffer.byteLength, 0);
const heap = () => {
  if (typeof window.gc === 'function') window.gc();
  return performance.memory ? performance.memory.usedJSHeapSize : null;
};

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return await r.arrayBuffer();
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

/** Times `search(query) → rows` over the queries (after `WARMUP` untimed ones) and scores recall@20. */
function measure(search, queries, exact) {
  const nq = queries.length / D;
  for (let i = 0; i < WARMUP; i++) search(queries.subarray((i % nq) * D, (i % nq + 1) * D));
  const t = [];
  let recall = 0;
  for (let i = 0; i < nq; i++) {
    const qv = queries.subarray(i * D, (i + 1) * D);
    const a = now();
    const rows = search(qv);
    t.push(now() - a);
    const want = new Set(exact.subarray(i * K, (i + 1) * K));
    let hit = 0;
    for (const r of rows.slice(0, K)) if (want.has(r)) hit++;
    recall += hit / K;
  }
  return { p50: pct(t, 0.5), p99: pct(t, 0.99), mean: t.reduce((x, y) => x + y, 0) / t.length, queries: nq, recall: recall / nq };
}

// ---- hnswlib-wasm: HNSW (nmslib hnswlib compiled by emscripten), inner-product space ----
async function hnswlib(vectors, state) {
  const t0 = now();
  const mod = await import('/bench/node_modules/hnswlib-wasm/dist/hnswlib.js');
  if (mod.__tla) await mod.__tla;
  const lib = await mod.loadHnswlib(); // instantiates the wasm and mounts its IDBFS directory
  state.libMs = now() - t0;
  state.baseWasm = wasmBytes(); state.baseHeap = heap();
  // 'ip': distance 1 − q·x, nextclick's score (every item here has norm 2, so 'cosine' ranks the same)
  const index = new lib.HierarchicalNSW('ip', D, ''); // '' = no auto-save to IndexedDB after each add
  const b0 = now();
  index.initIndex(N, HNSW_M, HNSW_EFC, 100);
  // addPoints in batches: the binding refreshes its used-labels cache (a walk over every label) after each
  // call, so one call per point would make the build quadratic
  const BATCH = 10_000;
  let added = 0;
  while (added < N) {
    const end = Math.min(N, added + BATCH);
    const items = [], labels = [];
    for (let i = added; i < end; i++) { items.push(vectors.subarray(i * D, (i + 1) * D)); labels.push(i); }
    index.addPoints(items, labels, false);
    added = end;
    state.added = added;
    state.elapsedMs = now() - b0;
    report(state);
    if (added % 100_000 === 0 || added === N) log(`hnswlib: ${added} items in ${((now() - b0) / 1000).toFixed(1)} s`);
    if (now() - b0 > BUDGET_MS && added < N) { state.budgetExceeded = true; break; }
    await yieldToLoop();
  }
  state.buildMs = now() - b0;
  if (state.budgetExceeded) return null;
  const search = (qv) => index.searchKnn(qv, K, undefined).neighbors;
  const sweep = (queries, exact) => EFS.map((ef) => { index.setEfSearch(ef); return { ef, ...measure(search, queries, exact) }; });
  // its own save format (hnswlib's saveIndex into the emscripten FS); the file's size is read from the
  // IndexedDB the binding syncs the FS to, and readIndex of that file is the load a page would do instead
  // of a build (without the download itself)
  const serialize = async () => {
    const s0 = now();
    index.writeIndex('bench.idx');
    const s1 = now();
    await mod.waitForFileSystemSynced().catch(() => {});
    const bytes = await idbFileSize('/hnswlib-index', '/hnswlib-index/bench.idx');
    const loaded = new lib.HierarchicalNSW('ip', D, '');
    const l0 = now();
    loaded.readIndex('bench.idx', N);
    const l1 = now();
    return { bytes, saveMs: s1 - s0, loadMs: l1 - l0, loadedCount: loaded.getCurrentCount() };
  };
  return { sweep, serialize, count: index.getCurrentCount() };
}

/** The byte length of an emscripten IDBFS file, read from its IndexedDB store (FILE_DATA). */
function idbFileSize(db, key) {
  return new Promise((resolve) => {
    const open = indexedDB.open(db);
    open.onerror = () => resolve(null);
    open.onsuccess = () => {
      try {
        const tx = open.result.transaction(['FILE_DATA'], 'readonly');
        const get = tx.objectStore('FILE_DATA').get(key);
        get.onsuccess = () => resolve(get.result?.contents ? get.result.contents.byteLength ?? get.result.contents.length : null);
        get.onerror = () => resolve(null);
      } catch { resolve(null); }
    };
  });
}

// ---- voy-search: a k-d tree (kiddo) in Rust/wasm-bindgen, squared Euclidean ----
async function voy(vectors, state) {
  const t0 = now();
  // its package is written for bundlers (`import * as wasm from "./voy_search_bg.wasm"`): instantiate the
  // wasm with the glue module as its import object, as a bundler would
  const bg = await import('/bench/node_modules/voy-search/voy_search_bg.js');
  const { instance } = await WebAssembly.instantiateStreaming(fetch('/bench/node_modules/voy-search/voy_search_bg.wasm'), { './voy_search_bg.js': bg });
  bg.__wbg_set_wasm(instance.exports);
  state.libMs = now() - t0;
  state.baseWasm = wasmBytes(); state.baseHeap = heap();
  const b0 = now();
  // `Resource`s of 10k items at a time (`new Voy` then `add`, which inserts into the same tree as `index`):
  // the binding hands each over as one JSON string, and 1M items would not fit one JS string
  const BATCH = 10_000;
  let index = null, added = 0, resourceMs = 0;
  while (added < N) {
    const end = Math.min(N, added + BATCH);
    const r0 = now();
    const embeddings = [];
    for (let i = added; i < end; i++) embeddings.push({ id: `it-${i}`, title: '', url: '', embeddings: Array.from(vectors.subarray(i * D, (i + 1) * D)) });
    resourceMs += now() - r0;
    if (!index) index = new bg.Voy({ embeddings });
    else index.add({ embeddings });
    added = end;
    state.added = added;
    state.elapsedMs = now() - b0;
    report(state);
    if (added % 50_000 === 0 || added === N) log(`voy: ${added} items in ${((now() - b0) / 1000).toFixed(1)} s, wasm ${(wasmBytes() / 1048576).toFixed(0)} MiB`);
    if (now() - b0 > BUDGET_MS && added < N) { state.budgetExceeded = true; break; }
    await yieldToLoop();
  }
  state.buildMs = now() - b0;
  state.resourceMs = resourceMs;
  if (state.budgetExceeded) return null;
  const search = (qv) => index.search(qv, K).neighbors.map((x) => +x.id.slice(3));
  // its own format: `serialize()` → a JSON string, `Voy.deserialize(string)` → the index
  const serialize = async () => {
    const s0 = now();
    const s = index.serialize();
    const s1 = now();
    const loaded = bg.Voy.deserialize(s);
    const l1 = now();
    const r = { bytes: s.length, saveMs: s1 - s0, loadMs: l1 - s1, loadedCount: loaded.size() };
    loaded.free();
    return r;
  };
  return { sweep: (queries, exact) => [{ ef: null, ...measure(search, queries, exact) }], serialize, count: index.size() };
}

// ---- no library: the exact dot-product scan in plain JS (the reference of the ORT-web side of page.mjs) ----
async function jsScan(vectors, state) {
  state.libMs = 0; state.buildMs = 0;
  state.baseWasm = wasmBytes(); state.baseHeap = heap();
  const scores = new Float32Array(N), topI = new Int32Array(K), topS = new Float32Array(K);
  const search = (s) => {
    for (let i = 0; i < N; i++) { let acc = 0; const o = i * D; for (let j = 0; j < D; j++) acc += vectors[o + j] * s[j]; scores[i] = acc; }
    topS.fill(-Infinity); topI.fill(-1);
    for (let i = 0; i < N; i++) {
      const v = scores[i];
      if (v > topS[K - 1]) {
        let j = K - 1;
        while (j > 0 && topS[j - 1] < v) { topS[j] = topS[j - 1]; topI[j] = topI[j - 1]; j--; }
        topS[j] = v; topI[j] = i;
      }
    }
    return Array.from(topI);
  };
  state.added = N;
  return { sweep: (queries, exact) => [{ ef: null, ...measure(search, queries, exact) }], serialize: null, count: N };
}

const state = { lib: LIB, n: N };
async function main() {
  const f0 = now();
  let vectors = new Float32Array(await fetchBytes(`/bench/out/data/vectors-${N}.f32`));
  const queries = new Float32Array(await fetchBytes(`/bench/out/data/queries-${N}.f32`));
  const exact = new Uint32Array(await fetchBytes(`/bench/out/data/exact-${N}.u32`));
  state.fetchMs = now() - f0;
  if (vectors.length !== N * D) throw new Error(`vectors-${N}.f32: ${vectors.length / D} rows`);
  const setup = { hnswlib, voy, 'js-scan': jsScan }[LIB];
  if (!setup) throw new Error(`lib=${LIB}`);
  const built = await setup(vectors, state);
  if (LIB !== 'js-scan') vectors = null; // the libraries hold their own copy: the page can let it go
  state.wasmAfterBuild = wasmBytes();
  state.heapAfterBuild = heap();
  report(state);
  if (built) {
    state.count = built.count;
    state.sweep = built.sweep(queries, exact);
    state.wasmAfterQueries = wasmBytes();
    state.heapAfterQueries = heap();
    report(state);
    // last, as it needs memory of its own (the saved copy): the wasm memory at the end includes it
    if (SERIALIZE && built.serialize) {
      try { state.serialized = await built.serialize(); } catch (e) { state.serialized = { error: String(e) }; }
    }
  }
  window.__result = {
    ...state,
    wasmMemoryBytes: wasmBytes(), memories: window.__memories.length,
    jsHeapBytes: heap(), hasJsHeap: !!performance.memory, hasGc: typeof window.gc === 'function',
    transferred: performance.getEntriesByType('resource').map((e) => ({ name: new URL(e.name).pathname, transferSize: e.transferSize, bodySize: e.decodedBodySize })),
    crossOriginIsolated: self.crossOriginIsolated,
    userAgent: navigator.userAgent,
  };
  log(JSON.stringify({ ...window.__result, transferred: undefined }, null, 1));
}

main().catch((e) => { window.__result = { ...state, wasmMemoryBytes: wasmBytes(), error: String(e && e.stack || e) }; log('ERROR ' + e); });
