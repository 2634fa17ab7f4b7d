// The benchmark page. One page load measures one library in one configuration, given by the query string:
//   lib=nextclick|ort  n=<catalog items>  dtype=f32|int8|ivfpq|ivfpq8 (all but f32: nextclick only; the IVF-PQ
//   catalogs, with and without int8 re-scoring, are written by `make bench-catalog-web`)  learn=0|1  events=<timed events>
//   warmup=<untimed events>  model=<url of the ONNX file>  pkg=<url of the nextclick wasm-pack output>
// It stores its result in `window.__result` (read by run.mjs through Playwright).
//
// What is timed, per event, for both libraries ("track→top-20"): from the moment the page has the event
// object until it holds the top-20 list of {itemId, score, title, url, price}, i.e.
//   nextclick: predictor.track(event) + predictor.predict(20)   (session bookkeeping, encoder input,
//              tract encoder run, adapter, dot product over the whole catalog in wasm, top-20, metadata)
//   ORT-web:   the same session bookkeeping in JS, the same right-aligned encoder input (typed arrays reused),
//              `await session.run(...)`, then the dot product over the whole catalog and a top-20 in JS,
//              and the same metadata lookup.
// With learn=1 both also take the adapter's SGD step on every in-session event (nextclick in wasm, ORT in
// a JS port of src/head.rs, since onnxruntime-web has no training).

const q = new URLSearchParams(location.search);
const LIB = q.get('lib');
const N = +q.get('n');
const DTYPE = q.get('dtype') || 'f32';
const LEARN = q.get('learn') === '1';
const EVENTS = +(q.get('events') || 2000);
const WARMUP = +(q.get('warmup') || 200);
/** Idle time (ms) between the warm-up and the timed events: a shopper's events are seconds apart, which gives
 * the browser's background compiler time to finish tiering up what the warm-up made hot. */
const SETTLE_MS = +(q.get('settle') || 0);
const MODEL = q.get('model');
const PKG = q.get('pkg');
/** Catalog file prefix: `catalog-N-…` for the model, `catalog-v2-N-…` for the step graph's copy (bound to it). */
const CAT = q.get('cat') ? `catalog-${q.get('cat')}` : 'catalog';
const K = 20;
const L_TIMEOUT_MS = 30 * 60_000;
const KINDS = ['view', 'click', 'cart', 'remove_from_cart', 'purchase'];

const now = () => performance.now();
const log = (s) => { document.getElementById('log').textContent += '\n' + s; };

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

// ---- deterministic event stream (identical for both libraries) ----
function rng(seed) {
  let s = seed >>> 0;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
}
function eventStream(count, n) {
  const r = rng(12345);
  const out = [];
  let ts = Date.UTC(2026, 0, 5, 9, 0, 0);
  let left = 0;
  let item = 0;
  let index = 0; // the event's index in its session
  while (out.length < count) {
    if (left === 0) {
      index = 0;
      ts += 45 * 60_000; // a new session (gap > the 30 min timeout)
      left = 1 + Math.floor(-Math.log(1 - r()) * 25); // mean ~25 events, many sessions longer than L
      left = Math.min(left, 150);
      item = Math.floor(r() * n);
    } else {
      ts += 2_000 + Math.floor(r() * 120_000);
    }
    item = r() < 0.5 ? (item + 1 + Math.floor(r() * 50)) % n : Math.floor(r() * n);
    const u = r();
    const kind = u < 0.6 ? 0 : u < 0.85 ? 1 : u < 0.95 ? 2 : u < 0.98 ? 3 : 4;
    out.push({ type: KINDS[kind], itemId: `it-${item}`, timestamp: ts, _item: item, _kind: kind + 1, _index: index++ });
    left--;
  }
  return out;
}

// ---- catalog parser (for the ORT side: the same file nextclick loads) ----
function parseCatalog(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dtype = bytes[10], flags = bytes[11];
  const n = dv.getUint32(12, true), d = dv.getUint32(16, true);
  if (dtype !== 0) throw new Error('ORT side reads f32 catalogs');
  const td = new TextDecoder();
  let pos = 52;
  const str = () => { const len = dv.getUint16(pos, true); const s = td.decode(bytes.subarray(pos + 2, pos + 2 + len)); pos += 2 + len; return s; };
  const ids = new Array(n);
  const index = new Map();
  for (let i = 0; i < n; i++) { ids[i] = str(); index.set(ids[i], i); }
  const vectors = new Float32Array(bytes.slice(pos, pos + n * d * 4).buffer);
  pos += n * d * 4;
  const meta = [];
  if (flags & 1) for (let i = 0; i < n; i++) { const title = str(), url = str(); str(); const price = dv.getFloat64(pos, true); pos += 8; meta.push({ title, url, price }); }
  return { n, d, ids, index, vectors, meta };
}

function gapBucket(gapS) {
  if (gapS === null) return 1;
  const g = Number.isFinite(gapS) && gapS > 0 ? gapS : 0;
  const b = Math.floor(Math.log2(1 + g));
  return 2 + Math.min(Math.max(b, 0), 21);
}

// JS port of src/head.rs Adapter (apply + learn) for the ORT side.
class JsAdapter {
  constructor(d) { this.d = d; this.a = new Float32Array(d * d); this.b = new Float32Array(d); this.steps = 0; this.r = rng(0x5eed); this.tuned = new Float32Array(d); this.g = new Float32Array(d); this.out = new Float32Array(d); }
  delta(s, out) { const d = this.d; for (let i = 0; i < d; i++) { let acc = this.b[i]; const o = i * d; for (let j = 0; j < d; j++) acc += this.a[o + j] * s[j]; out[i] = acc; } }
  apply(s) {
    const alpha = this.steps / (this.steps + 10);
    if (alpha === 0 || this.steps === 0) return s;
    this.delta(s, this.out);
    for (let i = 0; i < this.d; i++) this.out[i] = s[i] + alpha * this.out[i];
    return this.out;
  }
  learn(s, target, cat) {
    const d = this.d, n = cat.n, V = cat.vectors, tuned = this.tuned, g = this.g;
    this.delta(s, tuned);
    for (let j = 0; j < d; j++) tuned[j] += s[j];
    let cand;
    if (n <= 4096) { cand = new Uint32Array(n); for (let i = 0; i < n; i++) cand[i] = i; } else {
      cand = [target]; for (let k = 0; k < 1024; k++) { const i = Math.floor(this.r() * n); if (i !== target) cand.push(i); }
    }
    const logits = new Float32Array(cand.length);
    let m = -Infinity;
    for (let k = 0; k < cand.length; k++) { const o = cand[k] * d; let acc = 0; for (let j = 0; j < d; j++) acc += tuned[j] * V[o + j]; logits[k] = acc; if (acc > m) m = acc; }
    let z = 0; for (let k = 0; k < logits.length; k++) z += Math.exp(logits[k] - m);
    let tPos = 0; for (let k = 0; k < cand.length; k++) if (cand[k] === target) { tPos = k; break; }
    g.fill(0);
    for (let k = 0; k < cand.length; k++) {
      const p = Math.exp(logits[k] - m) / z - (k === tPos ? 1 : 0);
      if (Math.abs(p) > 1e-7) { const o = cand[k] * d; for (let j = 0; j < d; j++) g[j] += p * V[o + j]; }
    }
    let gg = 0, ss = 1; for (let j = 0; j < d; j++) { gg += g[j] * g[j]; ss += s[j] * s[j]; }
    const gn = Math.sqrt(gg * ss);
    const lr = 0.05 * (gn > 5 ? 5 / gn : 1), decay = 1 - 1e-3;
    for (let i = 0; i < d; i++) { const gi = g[i] * lr, o = i * d; for (let j = 0; j < d; j++) this.a[o + j] = this.a[o + j] * decay - gi * s[j]; this.b[i] = this.b[i] * decay - gi; }
    this.steps++;
  }
}

// ---- the two libraries behind one interface: ready() then step(event) → top-K ----
/** A split catalog's files (dtype `ivfpq-split` / `ivfpq8-split`): the head, and the body fetched by Range. */
const SPLIT = DTYPE.endsWith('-split');
/** Body bytes fetched so far (split catalogs), and at the first prediction. */
const chunkBytes = { total: 0, requests: 0 };

async function setupNextclick(modelBytesP, catalogBytesP) {
  const t0 = now();
  // The catalog's checksum digest by WebCrypto, while the wasm compiles, as the SDK's engine does
  // (its `catalogDigest`); `digest=wasm` in the query hashes in wasm instead (the earlier way, to compare).
  const digestP = q.get('digest') === 'wasm' ? Promise.resolve(undefined)
    : Promise.all([catalogBytesP, import('/packages/nextclick/sdk/engine.js')]).then(([c, e]) => e.catalogDigest(c));
  // the wasm requested together with its glue, as the SDK's engine does (`wasm=after`: after the glue's
  // import, as before issue #23 round 3)
  const wasmP = q.get('wasm') === 'after' ? null : fetch(`${PKG}/nextclick_bg.wasm`);
  const mod = await import(`${PKG}/nextclick.js`);
  await mod.default({ module_or_path: wasmP || `${PKG}/nextclick_bg.wasm` });
  const tLib = now();
  const [model, catalog, digest] = await Promise.all([modelBytesP, catalogBytesP, digestP]);
  const tFetch = now();
  const p = mod.Predictor.create(model, catalog, { head: { enabled: LEARN } }, digest);
  const tReady = now();
  if (SPLIT) {
    // the SDK's fetcher (engine.js): Range requests on the body, each chunk checked in wasm
    const { chunkFetcher } = await import('/packages/nextclick/sdk/engine.js');
    const body = chunkFetcher(`/bench/out/data/${CAT}-${N}-${DTYPE}.body.bin`);
    const add = (r, b) => { chunkBytes.total += b.byteLength; chunkBytes.requests++; p.addChunk(r, b); };
    return {
      timings: { lib: tLib - t0, dataWait: tFetch - tLib, create: tReady - tFetch },
      headBytes: catalog.byteLength,
      async track(ev) {
        await body.settle(() => p.chunksForIds([ev.itemId]), add);
        return p.track({ type: ev.type, itemId: ev.itemId, timestamp: ev.timestamp });
      },
      async predict() {
        await body.settle(() => p.chunksForPredict(K), add);
        return p.predict(K);
      },
      resident: () => p.catalogResident(),
    };
  }
  return {
    timings: { lib: tLib - t0, dataWait: tFetch - tLib, create: tReady - tFetch },
    track: (ev) => p.track({ type: ev.type, itemId: ev.itemId, timestamp: ev.timestamp }),
    predict: () => p.predict(K),
  };
}

async function setupOrt(modelBytesP, catalogBytesP) {
  const t0 = now();
  const ort = await import('/bench/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = '/bench/node_modules/onnxruntime-web/dist/';
  const tLib = now();
  const [model, catBytes] = await Promise.all([modelBytesP, catalogBytesP]);
  const tFetch = now();
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const cat = parseCatalog(catBytes);
  const tReady = now();
  const D = cat.d;
  if (session.inputNames.includes('past_keys')) return ortIncremental(ort, session, cat, { lib: tLib - t0, dataWait: tFetch - tLib, create: tReady - tFetch });
  const L = session.inputMetadata ? (session.inputMetadata.find?.((m) => m.name === 'items')?.shape?.[1] ?? 50) : 50;
  const items = new Float32Array(L * D), types = new BigInt64Array(L), gaps = new BigInt64Array(L), mask = new Float32Array(L);
  const tItems = new ort.Tensor('float32', items, [1, L, D]);
  const tTypes = new ort.Tensor('int64', types, [1, L]);
  const tGaps = new ort.Tensor('int64', gaps, [1, L]);
  const tMask = new ort.Tensor('float32', mask, [1, L]);
  const scores = new Float32Array(cat.n);
  const adapter = new JsAdapter(D);
  let events = []; // current session: {item, kind, ts}
  let cached = null; // raw session vector of the current session state
  const topI = new Int32Array(K), topS = new Float32Array(K);
  return {
    timings: { lib: tLib - t0, dataWait: tFetch - tLib, create: tReady - tFetch },
    L,
    async track(ev) {
      const item = cat.index.get(ev.itemId);
      if (item === undefined) return 'unknown_item';
      const last = events[events.length - 1];
      const newSession = !last || ev.timestamp - last.ts > L_TIMEOUT_MS;
      if (newSession) events = [];
      else if (LEARN) { const s = cached ?? await this.encode(); adapter.learn(s, item, cat); }
      events.push({ item, kind: ev._kind, ts: ev.timestamp });
      if (events.length > 200) events.shift();
      cached = null;
      return newSession ? 'new_session' : 'accepted';
    },
    async encode() {
      const n = Math.min(events.length, L), skip = events.length - n;
      items.fill(0); types.fill(0n); gaps.fill(0n); mask.fill(0);
      let prev = skip > 0 ? events[skip - 1].ts : null;
      for (let k = 0; k < n; k++) {
        const e = events[skip + k], p = L - n + k;
        items.set(cat.vectors.subarray(e.item * D, (e.item + 1) * D), p * D);
        types[p] = BigInt(e.kind);
        gaps[p] = BigInt(gapBucket(prev === null ? null : (e.ts - prev) / 1000));
        mask[p] = 1;
        prev = e.ts;
      }
      const out = await session.run({ items: tItems, event_types: tTypes, time_gaps: tGaps, mask: tMask });
      cached = out.session.data;
      return cached;
    },
    async predict() {
      if (events.length === 0) return [];
      const raw = cached ?? await this.encode();
      return jsTopK(cat, LEARN ? adapter.apply(raw) : raw, events, scores, topI, topS);
    },
  };
}

/** The top-K of session vector `s` over the catalog in JS (ORT side), excluding purchased items and the
 *  current one, with the metadata lookup nextclick does. */
function jsTopK(cat, s, events, scores, topI, topS) {
  const V = cat.vectors, n = cat.n, D = cat.d;
  for (let i = 0; i < n; i++) { let acc = 0; const o = i * D; for (let j = 0; j < D; j++) acc += V[o + j] * s[j]; scores[i] = acc; }
  for (const e of events) if (e.kind === 5) scores[e.item] = -Infinity;
  scores[events[events.length - 1].item] = -Infinity;
  topS.fill(-Infinity); topI.fill(-1);
  for (let i = 0; i < n; i++) {
    const v = scores[i];
    if (v > topS[K - 1]) {
      let j = K - 1;
      while (j > 0 && topS[j - 1] < v) { topS[j] = topS[j - 1]; topI[j] = topI[j - 1]; j--; }
      topS[j] = v; topI[j] = i;
    }
  }
  const res = [];
  for (let j = 0; j < K && topI[j] >= 0; j++) {
    const i = topI[j], m = cat.meta[i];
    res.push({ itemId: cat.ids[i], score: topS[j], title: m?.title, url: m?.url, price: m?.price });
  }
  return res;
}

/** ORT-web on a contract-v2 (incremental) model: the same session bookkeeping, and one `session.run` per new
 *  event with the key/value ring of the session's earlier events kept in JS (as src/model.rs keeps it). */
function ortIncremental(ort, session, cat, timings) {
  const D = cat.d;
  const probe = session.inputMetadata?.find?.((m) => m.name === 'past_keys')?.shape;
  if (!probe || probe.length !== 5) throw new Error('v2 model: past_keys shape unknown');
  const [, layers, heads, slots, dh] = probe;
  const L = slots + 1;
  const kv = [1, layers, heads, slots, dh];
  const keys = new Float32Array(layers * heads * slots * dh), values = new Float32Array(keys.length), pmask = new Float32Array(slots);
  const item = new Float32Array(D), ty = new BigInt64Array(1), gap = new BigInt64Array(1), pos = new BigInt64Array(1);
  const feeds = {
    item: new ort.Tensor('float32', item, [1, D]), event_type: new ort.Tensor('int64', ty, [1]),
    time_gap: new ort.Tensor('int64', gap, [1]), position: new ort.Tensor('int64', pos, [1]),
    past_keys: new ort.Tensor('float32', keys, kv), past_values: new ort.Tensor('float32', values, kv),
    past_mask: new ort.Tensor('float32', pmask, [1, slots]),
  };
  const scores = new Float32Array(cat.n);
  const adapter = new JsAdapter(D);
  let events = [];
  let count = 0; // events of the current session
  let stepped = 0; // of those, in the ring
  let cached = null;
  const topI = new Int32Array(K), topS = new Float32Array(K);
  return {
    timings, L,
    async track(ev) {
      const it = cat.index.get(ev.itemId);
      if (it === undefined) return 'unknown_item';
      const last = events[events.length - 1];
      const newSession = !last || ev.timestamp - last.ts > L_TIMEOUT_MS;
      if (newSession) { events = []; count = 0; stepped = 0; keys.fill(0); values.fill(0); pmask.fill(0); cached = null; }
      else if (LEARN) { const s = cached ?? await this.encode(); adapter.learn(s, it, cat); }
      events.push({ item: it, kind: ev._kind, ts: ev.timestamp });
      count++;
      if (events.length > 200) events.shift();
      cached = null;
      return newSession ? 'new_session' : 'accepted';
    },
    async encode() {
      let out = null;
      while (stepped < count) {
        const k = events.length - (count - stepped), e = events[k];
        item.set(cat.vectors.subarray(e.item * D, (e.item + 1) * D));
        ty[0] = BigInt(e.kind);
        gap[0] = BigInt(gapBucket(k > 0 ? (e.ts - events[k - 1].ts) / 1000 : null));
        pos[0] = BigInt(Math.min(stepped, L - 1));
        const r = await session.run(feeds);
        const slot = stepped % slots, kd = r.keys.data, vd = r.values.data;
        for (let lh = 0; lh < layers * heads; lh++) {
          keys.set(kd.subarray(lh * dh, (lh + 1) * dh), (lh * slots + slot) * dh);
          values.set(vd.subarray(lh * dh, (lh + 1) * dh), (lh * slots + slot) * dh);
        }
        pmask[slot] = 1;
        stepped++;
        out = r.session.data;
      }
      cached = out ?? cached;
      return cached;
    },
    async predict() {
      if (events.length === 0) return [];
      const raw = cached ?? await this.encode();
      return jsTopK(cat, LEARN ? adapter.apply(raw) : raw, events, scores, topI, topS);
    },
  };
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
const wasmBytes = () => window.__memories.reduce((a, m) => a + m.buffer.byteLength, 0);

// ---- memory after many events (mode=memory, nextclick only) ----
// Linear memory of the page's wasm instances (it never shrinks, so its size is also the peak) and, where
// the browser has it, the JS heap (performance.memory; run.mjs starts Chromium with precise memory info and
// exposes gc(), collected before each reading). Read after Predictor.create and at checkpoints while
// `events` events go through predictor.track (learning as given by learn=), a predict(20) every 100 events.
async function memoryRun() {
  const suffix = ['int8', 'ivfpq', 'ivfpq8'].includes(DTYPE) ? DTYPE : 'f32';
  const [mod, model, catalog] = await Promise.all([
    import(`${PKG}/nextclick.js`).then(async (m) => { await m.default({ module_or_path: `${PKG}/nextclick_bg.wasm` }); return m; }),
    fetchBytes(MODEL), fetchBytes(`/bench/out/data/catalog-${N}-${suffix}.bin`)]);
  const heap = () => {
    if (typeof window.gc === 'function') window.gc();
    return performance.memory ? performance.memory.usedJSHeapSize : null;
  };
  const base = { wasm: wasmBytes(), heap: heap() }; // wasm instantiated, nothing created yet
  const p = mod.Predictor.create(model, catalog, { head: { enabled: LEARN } });
  const stream = eventStream(EVENTS, N);
  const marks = new Set([0, 1000, 10000, 25000, 50000, 75000, EVENTS]);
  const points = [];
  const t0 = now();
  const statuses = {};
  const read = (i) => points.push({ events: i, wasmBytes: wasmBytes(), jsHeapBytes: heap(), stateBytes: p.exportState().length, seconds: (now() - t0) / 1000 });
  read(0);
  for (let i = 0; i < stream.length; i++) {
    const ev = stream[i];
    const st = p.track({ type: ev.type, itemId: ev.itemId, timestamp: ev.timestamp });
    statuses[st] = (statuses[st] || 0) + 1;
    if (i % 100 === 99) p.predict(K);
    if (marks.has(i + 1)) { read(i + 1); log(JSON.stringify(points[points.length - 1])); }
  }
  window.__result = { mode: 'memory', n: N, dtype: DTYPE, learn: LEARN, events: EVENTS, base, points, statuses,
    memories: window.__memories.length, hasJsHeap: !!performance.memory, hasGc: typeof window.gc === 'function', userAgent: navigator.userAgent };
}

async function main() {
  if (q.get('mode') === 'memory') return memoryRun();
  const t0 = now();
  const suffix = ['int8', 'ivfpq', 'ivfpq8', 'ivfpq-split', 'ivfpq8-split'].includes(DTYPE) ? DTYPE : 'f32';
  const modelP = fetchBytes(MODEL);
  const catP = fetchBytes(`/bench/out/data/${CAT}-${N}-${suffix}.bin`);
  const lib = LIB === 'nextclick' ? await setupNextclick(modelP, catP) : await setupOrt(modelP, catP);
  const ready = now();
  const stream = eventStream(WARMUP + EVENTS + 1, N);
  // First prediction right after load (what the shopper's first click costs).
  const f0 = now();
  await lib.track(stream[0]);
  await lib.predict();
  const first = now() - f0;
  // bytes transferred by then: every resource of the page (HTML, JS, wasm, model, catalog or its head, and
  // the body's ranges), as the browser counts them (transferSize: headers + encoded body)
  const transferred = performance.getEntriesByType('resource').reduce((a, e) => a + (e.transferSize || 0), 0);
  const firstCatalogBytes = SPLIT ? lib.headBytes + chunkBytes.total : null;
  const total = [], trackT = [], learnT = [], top1 = [], top1Score = [];
  const resident = []; // split catalogs: the events that fetched nothing
  let fetched = 0;
  for (let i = 1; i < stream.length; i++) {
    const ev = stream[i];
    if (i === WARMUP + 1 && SETTLE_MS > 0) await new Promise((res) => setTimeout(res, SETTLE_MS));
    const before = chunkBytes.requests;
    const a = now();
    const st = await lib.track(ev);
    const b = now();
    const top = await lib.predict();
    const c = now();
    if (i > WARMUP) { // stream[1..=WARMUP] untimed
      total.push(c - a);
      if (SPLIT) {
        if (chunkBytes.requests === before) resident.push(c - a);
        else fetched++;
      }
      trackT.push(b - a);
      if (LEARN && st === 'accepted') learnT.push(b - a);
      top1.push(top.length ? top[0].itemId : '');
      top1Score.push(top.length ? top[0].score : null);
    }
  }
  const summary = (xs) => xs.length ? { p50: pct(xs, 0.5), p99: pct(xs, 0.99), mean: xs.reduce((x, y) => x + y, 0) / xs.length, n: xs.length } : null;
  window.__result = {
    lib: LIB, n: N, dtype: DTYPE, learn: LEARN,
    coldReadyMs: ready, // since navigation start: HTML, JS, wasm fetch + compile, model + catalog fetch, model ready
    setup: lib.timings, scriptStartMs: t0,
    firstPredictionMs: first,
    total: summary(total), track: summary(trackT), learn: summary(learnT),
    resident: SPLIT ? { ...summary(resident), fetchedEvents: fetched } : null,
    wasmMemoryBytes: wasmBytes(), memories: window.__memories.length,
    firstTransferredBytes: transferred, firstCatalogBytes,
    chunkBytesTotal: SPLIT ? chunkBytes.total : null, chunkRequests: SPLIT ? chunkBytes.requests : null,
    residentChunks: SPLIT ? lib.resident() : null,
    jsHeapBytes: performance.memory ? performance.memory.usedJSHeapSize : null,
    crossOriginIsolated: self.crossOriginIsolated,
    top1, top1Score,
    // raw=1: every timed event's track→top-20 time and its index in its session (for tail analysis)
    raw: q.get('raw') === '1' ? { total, trackT, inSession: stream.slice(WARMUP + 1).map((e) => e._index), kind: stream.slice(WARMUP + 1).map((e) => e.type) } : null,
    userAgent: navigator.userAgent,
  };
  log(JSON.stringify({ ...window.__result, top1: undefined, top1Score: undefined }, null, 1));
}

main().catch((e) => { window.__result = { error: String(e && e.stack || e) }; log('ERROR ' + e); });
