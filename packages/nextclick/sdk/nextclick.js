// nextclick — the in-page runtime (ES module). Loaded by loader.js (plain <script src>) or imported directly:
//
//   import { nextclick } from "/sdk/nextclick.js";
//   nextclick("init", { model: "/models/default.onnx", catalog: "/shop.catalog", shop: "my-shop", consent: "pending" });
//   nextclick("track", "Product Viewed", { product_id: "sku-1", price: 19.9 });
//   const top = await nextclick("predict", 5);
//
// Commands: init, track, predict, intent, consent, forget, onPrediction, onError, status, ready, and
// impression, qualityReport, export (docs/measure.md). Every call
// returns a promise; nothing throws into the caller (errors → console + rejected promise). Raw events stay on
// the device: the only network requests are same-origin GETs of the wasm, the model and the catalog.
//
// Failure modes (docs/security.md): if the engine cannot start (wasm, model or catalog refused) or traps
// later (a wasm trap or out of memory), that is reported once (one console warning + `onError`
// callbacks) and the runtime goes on *disabled*: `predict` resolves to [], `intent` to null, `track` to
// "disabled" (still journaled with consent, so the next page view has it), nothing is written back.
// `track` is rate-limited (token bucket, 50 events/s, bursts of 200): extra events are dropped on the
// spot and counted in `status().dropped`.
//
// Consent: with consent "pending" or "denied" nothing is stored and nothing is learned (setLearning(false));
// predictions are still computed in memory for the current page view. "granted" enables on-device learning
// and persistence, starting with the current page view's events. Changing to "denied" erases what was
// stored and the in-memory state. `forget` erases every trace whatever the consent. With `consentMode`, the
// consent follows Google Consent Mode's signals on `window.dataLayer` (consentmode.js).
//
// Measurement (quality.js, docs/measure.md): hit@K, MRR, impressions, clicks and conversions of the
// predictions are counted on the device (`status().quality`, the `nextclick:quality` event); with the init
// option `holdout`, a fraction of devices is shown no predictions, which are still computed and measured.
// Nothing of it is sent; `qualityReport` prepares a locally differentially private report for the shop.

import { installQueue } from "./queue.js";
import { toCoreEvents } from "./events.js";
import { covered, inspectAll, openJournal, openQualityRecord, openStore, wipeAll } from "./storage.js";
import { startAutocapture } from "./autocapture.js";
import { createBucket } from "./limit.js";
import { createQuality, holdoutFraction, itemIds, ldpReport } from "./quality.js";
import { consentModeOptions, watchDataLayer } from "./consentmode.js";
import { buildExport } from "./export.js";

// Types (checked by `tsc -p packages/nextclick`, docs/types.md): the public ones are nextclick.d.ts's
// (which imports "./nextclick.js" resolves to), the engine's come from the core's Rust types.
/** @typedef {import("./nextclick.js").InitOptions} InitOptions */
/** @typedef {import("./nextclick.js").Status} Status */
/** @typedef {import("./engine.js").Engine} Engine */

const VERSION = "0.1.0";
/** How long a tab waits for the shop's Web Lock before it goes on without it (see `withLock`). */
const LOCK_WAIT_MS = 2000;
/** Compare-and-swap attempts of one snapshot write before it gives up (see `save`). */
const SAVE_ATTEMPTS = 4;
const CONSENTS = new Set(["pending", "granted", "denied"]);
/** Events from the page: 50/s sustained, bursts of 200; products per multi-product event. */
export const LIMITS = { rate: 50, burst: 200, productsPerEvent: 100 };

/** Most items a prediction carries (`predict(k)`, `init({k})`). */
export const MAX_K = 50;
/** The `nextclick:quality` event is dispatched at most this often (trailing: the latest counters). */
export const QUALITY_EVENT_MS = 500;

/**
 * `predict(k)`'s k: omitted (undefined or null) means the `init` option `k` (default 8); otherwise an
 * integer from 1 to {@link MAX_K}, anything else rejects with this error (it used to mean the default
 * silently, and 100 returned more than 50 items).
 */
export function predictK(k, fallback) {
  if (k === undefined || k === null) return fallback;
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new Error(`nextclick: predict(k): k must be an integer from 1 to ${MAX_K}, got ${typeof k === "number" ? k : JSON.stringify(String(k))}`);
  return k;
}

/**
 * What a disabled engine answers (see "Failure modes" above).
 * @satisfies {{ [K in keyof Engine]: (...args: Parameters<Engine[K]>) => unknown }}
 */
const DISABLED = {
  init: () => null,
  track: (events) => events.map(() => /** @type {const} */ ("disabled")),
  predict: () => [],
  intent: () => null,
  status: () => ({ stats: null, features: null, network: null, catalogResident: null }),
  setLearning: () => undefined,
  exportState: () => null,
  importState: () => null,
  forget: () => undefined,
};

function randomId() {
  const b = new Uint8Array(8);
  if (globalThis.crypto && typeof crypto.getRandomValues === "function") crypto.getRandomValues(b);
  else for (let i = 0; i < b.length; i++) b[i] = Math.floor(Math.random() * 256);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The wasm engine in a module worker; falls back to the main thread if the worker cannot start. */
class WorkerBackend {
  /** `url`: the package's `sdk/worker.js` as served (init's `assets` option, else beside this module). */
  constructor(url) {
    this.kind = "worker";
    this.url = url;
    this.next = 1;
    this.pending = new Map();
    this.worker = new Worker(url, { type: "module", name: "nextclick" });
    this.worker.onmessage = (ev) => {
      const { id, ok, result, error, fault, transient } = ev.data || {};
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      if (ok) p.resolve(result);
      else p.reject(Object.assign(new Error(error), { fault: !!fault, transient: !!transient }));
    };
    this.worker.onerror = (ev) => {
      ev.preventDefault();
      this.failed = new Error(`nextclick: worker failed: ${ev.message || "could not start"} (${this.url})`);
      for (const p of this.pending.values()) p.reject(this.failed);
      this.pending.clear();
    };
  }
  call(op, ...args) {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const id = this.next++;
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, args });
    });
  }
  terminate() {
    this.worker.terminate();
  }
}

/** The wasm engine on the main thread (`{worker: false}`), with the same in-order semantics. */
class MainThreadBackend {
  constructor() {
    this.kind = "main";
    this.engine = import("./engine.js").then((m) => m.createEngine());
    this.chain = Promise.resolve();
  }
  call(op, ...args) {
    const r = this.chain.then(async () => (await this.engine)[op](...args));
    this.chain = r.catch(() => {});
    return r;
  }
  terminate() {}
}

function abs(u) {
  return typeof u === "string" ? new URL(u, document.baseURI).href : u;
}

function message(e) {
  return String(e && e.message ? e.message : e);
}

/** Creates one runtime; `run(command, args)` executes a command. */
export function createRuntime() {
  let cfg = null;
  /** @type {import("./nextclick.js").Consent} */
  let consent = "pending";
  let backend = null;
  let store = null;
  let journal = null;
  let restored = false;
  let saving = false;
  const pageEvents = []; // this page view's events, in memory only (replayed if consent is granted later)
  let ready = null;
  let info = null;
  let seq = 0; // last journal sequence number assigned
  let sentSeq = 0; // last journal sequence number whose event was sent to the engine
  let saveTimer = null;
  let refreshQueued = false;
  /** @type {"indexeddb" | "localstorage" | "none"} */
  let storage = "none";
  let storedBytes = 0;
  let restoredEvents = 0;
  let quotaWarned = false;
  let last = { items: [], intent: null };
  let disabled = null; // why the engine is out of use, or null
  let covers = {}; // per tab, the last journal sequence number the in-memory state holds (with consent)
  let merges = 0;
  let channel = null;
  let hidden = false; // between pagehide and pageshow: this page may be frozen in the back-forward cache
  const releases = new Set(); // releases the Web Lock held by a running `withLock` (at pagehide)
  const queued = new Set(); // AbortControllers of `withLock` requests not granted yet (withdrawn at pagehide)
  const tab = randomId(); // this runtime's id in the shared journal
  const bucket = createBucket(LIMITS);
  const callbacks = new Set();
  const errorCallbacks = new Set();
  const failedCallbacks = new WeakSet();
  const warned = new Set();
  let quality = null; // this page view's measurement (quality.js), created by init
  let qualityRecord = null; // its persisted record (storage.js `openQualityRecord`), with consent only
  let qualityTimer = null; // the pending `nextclick:quality` event
  let network = { requests: 0, bytesSent: 0 }; // the engine's request accounting (engine.js), latest known
  let workerRequests = 0; // module-worker scripts this runtime started (GETs of worker.js, no query string)

  const warnOnce = (key, msg) => {
    if (warned.has(key)) return;
    warned.add(key);
    console.warn(msg);
  };
  const nextSeq = () => (seq = Math.max(Date.now() * 1000, seq + 1));
  // `heldBack`: the stored state could not be restored for a passing reason (a split catalog's chunks did
  // not arrive): this page view neither overwrites nor erases it
  let heldBack = false;
  // `erasures`: how many erasures (forget, consent denied) began or completed. A prediction asked for
  // before one and answered after it describes the erased session: it is dropped, never emitted nor
  // counted into the fresh counters.
  let erasures = 0;
  const persisting = () => consent === "granted" && store !== null && !disabled && !heldBack;
  const holdout = () => !!quality && quality.group === "holdout";

  /** With consent: opens the quality counters' record and adopts it (device id, group, totals). */
  function openQuality() {
    if (qualityRecord || !quality || !cfg) return;
    qualityRecord = openQualityRecord(cfg.shop);
    const groupChanged = quality.load(qualityRecord.read());
    if (quality.hasPending()) persistQuality(); // this page's counts so far; nothing is written for nothing
    if (groupChanged) refresh(); // e.g. consent granted on a device stored in the other group
  }

  /** Writes the counters (synchronously: a click that navigates away is counted), with consent only. */
  function persistQuality() {
    if (!qualityRecord || consent !== "granted" || disabled) return;
    qualityRecord.write(quality.record(qualityRecord.read()));
  }

  /** A counter changed: persist it, and dispatch `nextclick:quality` (at most every QUALITY_EVENT_MS). */
  function qualityChanged() {
    persistQuality();
    if (qualityTimer || typeof document === "undefined") return;
    qualityTimer = setTimeout(() => {
      qualityTimer = null;
      try {
        document.dispatchEvent(new CustomEvent("nextclick:quality", { detail: qualitySnapshot() }));
      } catch (e) {
        console.error("nextclick: nextclick:quality listener failed", e);
      }
    }, QUALITY_EVENT_MS);
  }

  /** `status().quality`. */
  const qualitySnapshot = () => (quality ? quality.snapshot({ persisted: !!qualityRecord && consent === "granted" }) : null);

  /** Forgets the counters (forget, consent denied): a new device id, nothing persisted until opened again. */
  function resetQuality() {
    qualityRecord = null;
    if (!quality) return;
    quality.reset(randomId());
    qualityChanged();
  }

  /**
   * An engine call; after a fault (or once disabled) it answers as a disabled engine instead of failing.
   * @template {keyof Engine} K
   * @param {K} op
   * @param {Parameters<Engine[K]>} args
   * @returns {Promise<Awaited<ReturnType<Engine[K]>> | ReturnType<(typeof DISABLED)[K]>>}
   */
  async function call(op, ...args) {
    if (disabled) return /** @type {any} */ (DISABLED)[op](...args); // (its answer types: see @returns)
    try {
      return await backend.call(op, ...args);
    } catch (e) {
      if (!(e && e.fault) && !(backend && backend.failed)) throw e;
      disable(message(e), "fault");
      return /** @type {any} */ (DISABLED)[op](...args);
    }
  }

  /** Reports a fault once (console warning + onError) and turns predictions off for this page view. */
  function disable(reason, kind) {
    if (disabled) return;
    disabled = reason;
    clearTimeout(saveTimer);
    saveTimer = null;
    console.warn(`${reason} — nextclick goes on without predictions for this page view`);
    const err = Object.assign(new Error(reason), { kind });
    for (const cb of errorCallbacks) {
      try {
        cb(err);
      } catch {
        /* the shop's own handler failed: nothing more to report */
      }
    }
    emit({ items: [], intent: null });
  }

  /**
   * Runs `fn` holding this shop's Web Lock (one snapshot writer at a time across tabs), if the browser has
   * locks — but never waits for it unboundedly, and never keeps it into the back-forward cache:
   * * the request gives up after LOCK_WAIT_MS (another tab holds it too long — e.g. a page Firefox froze in
   *   its bfcache while it held the lock) and `fn` then runs without it;
   * * at pagehide the lock is released at once (`releaseLocks`); `fn` finishes without it; a request still
   *   queued is withdrawn and its `fn` runs without the lock;
   * * after pagehide (the page is hidden) `fn` runs without asking for the lock.
   * Without the lock, the snapshot write in `save` is still a compare-and-swap (storage.js), so the
   * two-tab merge holds (docs/js-sdk.md#two-tabs). Resolves to `fn`'s result.
   */
  async function withLock(fn) {
    const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
    if (hidden || !locks || typeof locks.request !== "function") return fn();
    // one controller per request: the LOCK_WAIT_MS bound, and pagehide (`releaseLocks`) withdraws a request
    // still queued — granted to a page frozen in the back-forward cache, its callback could never run and the
    // lock would stay held until the page is evicted
    const ac = typeof AbortController === "function" ? new AbortController() : null;
    const timer = ac ? setTimeout(() => ac.abort(new Error(`not granted within ${LOCK_WAIT_MS} ms`)), LOCK_WAIT_MS) : undefined;
    if (ac) queued.add(ac);
    let result = null;
    try {
      await locks.request(`nextclick:${cfg.shop}`, ac ? { signal: ac.signal } : {}, () => {
        clearTimeout(timer);
        if (ac) queued.delete(ac);
        result = Promise.resolve().then(fn);
        if (hidden) return undefined; // granted after pagehide: let go at once
        let release;
        const released = new Promise((r) => releases.add((release = r)));
        return Promise.race([result.catch(() => {}), released]).finally(() => releases.delete(release));
      });
    } catch (e) {
      if (result) throw e; // not the lock's: cannot happen (the callback's promise never rejects)
      clearTimeout(timer);
      if (ac) queued.delete(ac);
      // timed out, withdrawn at pagehide, or locks refused (e.g. an opaque origin): go on without the lock
      if (!hidden)
        warnOnce(
          "lock",
          `nextclick: the Web Lock nextclick:${cfg.shop} was not granted within ${LOCK_WAIT_MS} ms (${message(e)}); going on without it (writes are compare-and-swap)`,
        );
      result = Promise.resolve().then(fn);
    }
    return result;
  }

  /**
   * pagehide: a page must not go into the back-forward cache holding the lock (it would block every other
   * page), nor with a request for it still queued (it would be granted to the frozen page).
   */
  function releaseLocks() {
    // withdraw first: the release below could otherwise hand the lock to one of this page's own requests
    for (const ac of [...queued]) ac.abort(new Error("withdrawn at pagehide"));
    queued.clear();
    for (const r of [...releases]) r();
    releases.clear();
  }

  function noteDrop() {
    warnOnce(
      "rate",
      `nextclick: more than ${LIMITS.rate} events/s (bursts of ${LIMITS.burst}); extra events are dropped (count in status().dropped)`,
    );
    return "rate_limited";
  }

  /** Other tabs of this shop: "forget me" in one forgets in all. */
  function openChannel() {
    if (channel || typeof BroadcastChannel !== "function") return;
    try {
      channel = new BroadcastChannel(`nextclick:${cfg.shop}`);
      channel.onmessage = (ev) => {
        if (ev.data && ev.data.type === "forget" && ev.data.tab !== tab) forget({ fromOtherTab: true }).catch(() => {});
      };
    } catch {
      channel = null;
    }
  }

  function openOwnJournal() {
    if (journal) return;
    journal = openJournal(cfg.shop, tab);
    for (const e of journal.read()) seq = Math.max(seq, e.seq);
    sentSeq = Math.max(sentSeq, seq); // replayed by restore() before any newer event is sent
  }

  function openOwnStore() {
    if (store || !info) return;
    store = openStore(cfg.shop, info.modelSha256, {
      onFallback: (e) => warnOnce("idb", `nextclick: IndexedDB unavailable (${message(e)}); the state is kept in localStorage instead`),
    });
    if (hidden) store.suspend(); // opened after pagehide (e.g. consent granted then): no transaction until pageshow
  }

  /** Journal entries of other tabs (and of earlier page views) that `snap` does not hold, oldest first. */
  function uncovered(snap, { ownUpTo = -Infinity } = {}) {
    if (!journal) return [];
    return journal
      .read()
      .filter((e) => !(snap && covered(e, snap)) && (e.tab !== tab || e.seq <= ownUpTo))
      .sort((a, b) => a.seq - b.seq);
  }

  function coversOf(snap) {
    if (!snap) return {};
    if (snap.covers) return { ...snap.covers };
    return { "": snap.seq }; // a snapshot from before per-tab coverage: everything up to its seq
  }

  function addCovers(entries) {
    for (const e of entries) covers[e.tab || ""] = Math.max(covers[e.tab || ""] ?? -Infinity, e.seq);
  }

  /**
   * Restores the snapshot and replays the journal entries it does not contain. `thenReplay` are this page's
   * in-memory events (consent granted mid-page), re-applied on top of the restored state.
   */
  async function restore(thenReplay = []) {
    openOwnStore();
    restored = true;
    await withLock(async () => {
      const snap = await store.load();
      let imported = false;
      covers = {};
      if (snap) {
        try {
          const report = await call("importState", snap.bytes);
          imported = !!report;
          if (disabled) return;
          if (report && report.modelChanged) {
            // a new model was published: the session history is kept, what this device learned for the
            // old model's vector space restarts (docs/js-sdk.md, "Catalog and model updates")
            console.warn("nextclick: the shop published a new model; kept this visitor's sessions, restarted the on-device learning");
          }
          if (imported) {
            covers = coversOf(snap);
            storage = snap.where;
            storedBytes = snap.bytes.length;
          }
        } catch (e) {
          if (e && e.transient) {
            heldBack = true;
            console.warn(`nextclick: stored state not restored on this page (${message(e)}); it is kept for the next one`);
          } else {
            console.warn(`nextclick: stored state could not be restored (${message(e)}); starting fresh`);
            await store.reset();
            // a clean reset: the journal belonged to the lost state (this page's own entries stay: they
            // are on their way to the engine)
            if (journal) journal.retain((e) => e.tab === tab);
          }
        }
      }
      const todo = uncovered(imported ? snap : null);
      addCovers(todo);
      const events = todo.map((e) => e.event);
      if (imported) events.push(...thenReplay);
      if (events.length) await call("track", events);
      const st = await call("status");
      restoredEvents = imported || events.length ? (st.features ? st.features.events : st.stats ? st.stats.accepted : 0) : 0;
      if (events.length || !imported) scheduleSave(0);
    });
  }

  /**
   * Another tab wrote a snapshot holding events this one does not have: adopt it and replay on top the
   * journal entries it does not hold (this tab's own included), oldest first — the union of both tabs'
   * events. Runs under the lock, inside `save`.
   */
  async function merge(stored) {
    const ownUpTo = sentSeq; // own events sent before the import below; later ones arrive on top of it
    let base = stored;
    try {
      await call("importState", stored.bytes);
    } catch (e) {
      warnOnce("merge", `nextclick: another tab's stored state could not be read (${message(e)}); rebuilding from the journal`);
      base = null;
    }
    if (disabled) return;
    const todo = uncovered(base, { ownUpTo });
    covers = coversOf(base);
    addCovers(todo);
    if (todo.length) await call("track", todo.map((e) => e.event));
    merges++;
  }

  /** Does `mine` hold every event `theirs` holds? */
  function holds(mine, theirs) {
    return Object.entries(theirs).every(([t, v]) => (mine[t] ?? -Infinity) >= v);
  }

  function scheduleSave(delay = cfg.debounceMs) {
    if (!persisting()) return;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => {
      saveTimer = null;
      save().catch((e) => console.error(message(e)));
    }, delay);
  }

  /**
   * Writes the snapshot. Two tabs of one shop: writes are serialised by a Web Lock (bounded, see
   * `withLock`), and a tab that finds a snapshot holding events it does not have merges first (see
   * `merge`), so no tab's events are lost. The write itself is a compare-and-swap against the snapshot
   * read (storage.js `save(…, {expect})`): if another tab wrote in between — possible only when a tab went
   * on without the lock — it re-reads, merges and tries again (SAVE_ATTEMPTS in all).
   */
  async function save() {
    if (!persisting()) return;
    saving = true;
    try {
      await withLock(async () => {
        for (let attempt = 1; persisting(); attempt++) {
          const { snap: stored, token } = await store.read();
          if (stored && stored.covers && !holds(covers, stored.covers)) await merge(stored);
          if (!persisting()) return;
          const upTo = sentSeq; // every journaled event with seq ≤ upTo was sent before this exportState
          const bytes = await call("exportState");
          if (!bytes || !persisting()) return;
          const c = { ...covers, [tab]: Math.max(covers[tab] ?? -Infinity, upTo) };
          try {
            storage = await store.save(bytes, Math.max(...Object.values(c)), c, { expect: token });
            covers = c;
            storedBytes = bytes.length;
            if (journal) journal.trim({ covers: c });
            return;
          } catch (e) {
            if (e && e.stale && attempt < SAVE_ATTEMPTS) continue;
            if (e && e.stale) {
              // other tabs keep writing: this tab's events stay in its journal; try again after the debounce
              warnOnce("stale", `nextclick: the stored state kept changing (${SAVE_ATTEMPTS} attempts); writing again later`);
              scheduleSave();
              return;
            }
            if (!quotaWarned) console.warn(`nextclick: could not store state (${message(e)}); keeping the previous state`);
            quotaWarned = true;
            return;
          }
        }
      });
    } finally {
      saving = false;
    }
  }

  function flush() {
    if (saveTimer) {
      clearTimeout(saveTimer);
      saveTimer = null;
      save().catch(() => {});
    }
  }

  /**
   * Computes the prediction and emits it. It becomes the prediction in force for measurement (quality.js)
   * in both groups; the holdout group is emitted no items (its intent scores still are).
   */
  function refresh() {
    if (refreshQueued || !info) return;
    refreshQueued = true;
    queueMicrotask(async () => {
      refreshQueued = false;
      try {
        const asked = erasures;
        const [items, intent] = await Promise.all([call("predict", cfg.k), call("intent")]);
        if (disabled || asked !== erasures) return;
        const ids = items.map((p) => p.itemId);
        quality.setPrediction(ids);
        const shown = holdout() ? [] : items;
        emit({ items: shown, intent });
        // an emitted list counts as an impression until the page reports its own (`impression`)
        if (shown.length && quality.impression(ids, "emitted")) qualityChanged();
      } catch (e) {
        console.error(message(e));
      }
    });
  }

  function emit(detail) {
    last = detail;
    for (const cb of callbacks) {
      try {
        cb(detail);
      } catch (e) {
        // the shop's own callback: reported once per callback, never propagated, the others still run
        if (!failedCallbacks.has(cb)) console.error("nextclick: onPrediction callback failed", e);
        failedCallbacks.add(cb);
      }
    }
    try {
      document.dispatchEvent(new CustomEvent("nextclick:prediction", { detail }));
    } catch (e) {
      console.error("nextclick: nextclick:prediction listener failed", e);
    }
  }

  /**
   * @param {InitOptions} options
   * @returns {Promise<Status>}
   */
  async function init(options) {
    if (ready) {
      warnOnce("init", "nextclick: init called twice; the first configuration stays in force");
      return ready;
    }
    const o = options && typeof options === "object" ? options : {};
    if (!o.model || !o.catalog) throw new Error("nextclick: init needs {model, catalog}");
    const consentMode = consentModeOptions(o.consentMode); // a bad value fails init before anything starts
    if (o.holdout !== undefined && !(typeof o.holdout === "number" && o.holdout >= 0 && o.holdout <= 1)) {
      warnOnce("holdout", `nextclick: holdout must be a fraction from 0 to 1, got ${JSON.stringify(o.holdout)}; ${Number.isFinite(o.holdout) ? "clamped" : "no holdout"}`);
    }
    // where the package's sdk/ and pkg/ folders are served: beside this module unless a bundler moved it
    const assets = o.assets ? new URL(String(o.assets).replace(/\/?$/, "/"), document.baseURI).href : undefined;
    cfg = {
      model: abs(o.model),
      catalog: abs(o.catalog),
      catalogBody: o.catalogBody ? abs(o.catalogBody) : undefined,
      shopHead: o.shopHead ? abs(o.shopHead) : undefined,
      shop: String(o.shop || location.host || "default").replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64),
      k: Number.isInteger(o.k) && o.k > 0 ? Math.min(o.k, MAX_K) : 8,
      worker: o.worker !== false,
      autocapture: o.autocapture !== false,
      debounceMs: Number.isFinite(o.debounceMs) ? o.debounceMs : 400,
      assets,
      options: o.options,
      glue: abs(o.glue || (assets ? new URL("pkg/nextclick.js", assets) : new URL("../pkg/nextclick.js", import.meta.url)).href),
      workerUrl: (assets ? new URL("sdk/worker.js", assets) : new URL("./worker.js", import.meta.url)).href,
      integrity: o.integrity && typeof o.integrity === "object" ? { wasm: o.integrity.wasm, model: o.integrity.model, catalog: o.integrity.catalog, shopHead: o.integrity.shopHead } : undefined,
    };
    if (CONSENTS.has(o.consent)) consent = o.consent;
    if (consentMode) {
      // Google Consent Mode decides: from the dataLayer already there, then from every gtag consent call;
      // the `consent` option stands only while the mapping says "pending"
      const watch = watchDataLayer(window, (c) => setConsent(c).catch((e) => console.error(message(e))), consentMode);
      if (watch.consent() !== "pending") consent = watch.consent();
    }
    if (typeof o.onPrediction === "function") callbacks.add(o.onPrediction);
    if (typeof o.onError === "function") errorCallbacks.add(o.onError);
    const sessionMinutes = o.options && Number.isFinite(o.options.sessionTimeoutMinutes) ? o.options.sessionTimeoutMinutes : 30;
    quality = createQuality({ k: cfg.k, holdout: holdoutFraction(o.holdout), id: randomId(), sessionTimeoutMs: sessionMinutes * 60000 });
    if (consent === "granted") {
      openOwnJournal(); // now, so that early events are journaled
      openQuality(); // and counted into the stored counters (and the device's group known before any prediction)
    }
    openChannel();
    // now, not after the model has loaded: a page left during init's restore() must not keep the lock either
    addEventListener("pagehide", () => {
      hidden = true; // first: the flush below, and any lock granted from now on, run without the lock
      releaseLocks();
      // nor any IndexedDB transaction: the flush's write waits for pageshow (the journal has its events)
      if (store) store.suspend();
      flush();
    });
    addEventListener("pageshow", () => {
      hidden = false; // back from the back-forward cache
      if (store) store.resume();
    });
    // auto-capture starts now, before the model has loaded: early clicks are journaled (with consent) and
    // wait for the engine
    if (cfg.autocapture) {
      startAutocapture(document, (type, itemId) => {
        if (!bucket.take(1)) return noteDrop();
        trackCore([{ type, itemId }]).catch(() => {});
      });
    }
    ready = (async () => {
      const initial = consent;
      const args = { model: cfg.model, catalog: cfg.catalog, catalogBody: cfg.catalogBody, shopHead: cfg.shopHead, options: cfg.options, glue: cfg.glue, learning: consent === "granted", integrity: cfg.integrity };
      try {
        if (cfg.worker && typeof Worker === "function") workerRequests++;
        backend = cfg.worker && typeof Worker === "function" ? new WorkerBackend(cfg.workerUrl) : new MainThreadBackend();
        try {
          info = await backend.call("init", args);
        } catch (e) {
          if (backend.kind !== "worker" || !backend.failed) throw e;
          // never silent: a bundler that moved this module leaves worker.js behind (esbuild does not follow
          // `new URL(…, import.meta.url)`); say how to fix it
          console.warn(
            `${message(e)}; running on the main thread. If you bundle nextclick, serve the package's sdk/ and pkg/ folders ` +
              `and pass init({ assets: "/their/url/" }) (docs/js-sdk.md, "Bundlers"); init({ worker: false }) silences this.`,
          );
          backend.terminate();
          backend = new MainThreadBackend();
          info = await backend.call("init", args);
        }
      } catch (e) {
        // wasm, model or catalog refused (tampered, wrong pin, HTTP error, no WebAssembly): the page goes on
        info = null;
        disable(`nextclick: init failed: ${message(e)}`, "init");
        if (backend) backend.terminate();
        return status();
      }
      network = info.network || network;
      // the consent changed while the engine loaded (e.g. a CMP answered): apply it now. No event has
      // reached the engine yet (they wait for `ready`), so this page's events arrive on top of the restore.
      if (consent !== initial) await call("setLearning", consent === "granted");
      if (consent === "granted") {
        if (initial !== "granted") pageEvents.length = 0; // they reach the engine after the restore below
        await restore();
      } else {
        journal = null;
        qualityRecord = null;
        if (consent === "denied" && initial !== "denied") await erase();
      }
      document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && flush());
      refresh();
      return status();
    })();
    ready.catch((e) => console.error(`nextclick: init failed: ${message(e)}`));
    return ready;
  }

  function needReady() {
    if (!ready) throw new Error("nextclick: call nextclick('init', …) first");
    return ready;
  }

  /** Journals (synchronously, with consent) and tracks core events; resolves to their statuses. */
  async function trackCore(events) {
    const stamped = events.map((e) => (e.timestamp === undefined ? { ...e, timestamp: Date.now() } : e));
    let lastSeq = 0;
    // one storage write per call, whatever the number of products (the journal is bounded: storage.js)
    if (consent === "granted" && journal) journal.appendAll(stamped.map((e) => ({ seq: (lastSeq = nextSeq()), event: e })));
    else if (consent !== "granted") {
      pageEvents.push(...stamped);
      if (pageEvents.length > 500) pageEvents.splice(0, pageEvents.length - 500);
    }
    // measured now, against the prediction in force when the event happened (synchronously: a click that
    // navigates away is counted and, with consent, stored before the page goes)
    if (quality && quality.observe(stamped)) qualityChanged();
    await needReady();
    sentSeq = Math.max(sentSeq, lastSeq);
    const statuses = await call("track", stamped);
    const failed = statuses.find((s) => typeof s === "object" && s.error); // a status string, or {error}
    if (statuses.some((s) => s === "accepted" || s === "new_session")) {
      scheduleSave();
      refresh();
    }
    if (failed) throw new Error(/** @type {{ error: string }} */ (failed).error);
    return statuses.length === 1 ? statuses[0] : statuses;
  }

  async function track(name, props) {
    if (!bucket.take(1)) return noteDrop(); // before any work: a flood costs a counter increment per call
    let mapped;
    try {
      mapped = toCoreEvents(name, props, LIMITS.productsPerEvent);
    } catch (e) {
      throw new Error(`nextclick: unreadable event (${message(e)})`); // a throwing getter, a revoked proxy, …
    }
    const { events, ignored, warning } = mapped;
    if (warning) console.warn(warning);
    if (!events.length) return ignored ? "ignored" : "unknown";
    // the bucket counts events, not calls: a call with 100 products takes 100 tokens
    if (events.length > 1 && !bucket.take(events.length - 1)) return noteDrop();
    return trackCore(events);
  }

  async function setConsent(value) {
    if (!CONSENTS.has(value)) throw new Error(`nextclick: consent must be "granted", "denied" or "pending"`);
    const before = consent;
    consent = value;
    if (!info) {
      // init not done: it applies the change once the engine is up; events from now on are journaled
      if (consent === "granted" && cfg) {
        openOwnJournal();
        openQuality();
      }
      return consent;
    }
    await ready;
    await call("setLearning", consent === "granted");
    if (consent === "granted" && before !== "granted") {
      openOwnJournal();
      openQuality();
      const early = pageEvents.splice(0);
      // journaled too, so that a merge with another tab's snapshot keeps them
      if (journal) for (const e of early) journal.append((sentSeq = nextSeq()), e);
      if (!restored) await restore(early);
      pageEvents.length = 0;
      await save();
    } else if (consent !== "granted") {
      clearTimeout(saveTimer);
      saveTimer = null;
      journal = null;
      qualityRecord = null; // the counters go on in memory only
      if (store) await store.close();
      store = null;
      if (consent === "denied") await erase();
    }
    return consent;
  }

  /** Consent denied: erases what was stored (every tab) and the in-memory state, counters included. */
  async function erase() {
    erasures++;
    await call("forget");
    erasures++; // what was asked before the engine forgot is answered by now
    await wipeAll(cfg.shop);
    if (channel) channel.postMessage({ type: "forget", tab });
    heldBack = false;
    storage = "none";
    storedBytes = 0;
    resetQuality();
    emit({ items: [], intent: null });
  }

  async function forget({ fromOtherTab = false } = {}) {
    erasures++;
    clearTimeout(saveTimer);
    saveTimer = null;
    journal = null;
    pageEvents.length = 0;
    covers = {};
    resetQuality(); // the counters too (a new device id); nothing is persisted until reopened below
    heldBack = false; // the state it protected is erased below
    if (store) await store.close();
    store = null;
    if (backend && info) await call("forget");
    erasures++; // what was asked before the engine forgot is answered by now (calls run in order)
    if (!fromOtherTab) {
      await wipeAll(cfg ? cfg.shop : "default");
      if (channel) channel.postMessage({ type: "forget", tab });
    }
    storage = "none";
    storedBytes = 0;
    restoredEvents = 0;
    if (consent === "granted" && info) {
      openOwnJournal();
      openOwnStore();
      openQuality();
    }
    emit({ items: [], intent: null });
    return true;
  }

  /**
   * The shopper's data export (right of access): everything nextclick keeps about this shopper on this
   * device — every stored trace (storage.js `inspectAll`: snapshots decoded, journal, counters), what this
   * page view holds in memory (the engine's state, decoded), counters and consent — as one
   * JSON-serialisable object (export.js). Reads only; sends nothing.
   */
  async function exportData() {
    const st = await status();
    const memoryBytes = info && !disabled ? await call("exportState") : null;
    const traces = await inspectAll(cfg ? cfg.shop : "default", { shopDbExists: !!store });
    return buildExport({ traces, memoryBytes, pageEvents, status: st, shop: cfg ? cfg.shop : undefined });
  }

  /** @returns {Promise<Status>} */
  async function status() {
    /** @type {Status} */
    const base = {
      version: VERSION,
      consent,
      ready: !!info,
      backend: backend ? backend.kind : null,
      // measured: bytes of query strings and bodies of the requests the SDK made (engine.js `network`)
      bytesSent: network.bytesSent,
      requests: network.requests + workerRequests,
      disabled,
      dropped: bucket.dropped,
      quality: qualitySnapshot(),
    };
    if (!info) return base;
    const st = await call("status");
    if (st.network) network = st.network;
    return {
      ...base,
      bytesSent: network.bytesSent,
      requests: network.requests + workerRequests,
      shop: cfg.shop,
      modelSha256: info.modelSha256,
      catalogSize: info.catalogSize,
      downloaded: {
        model: info.modelBytes,
        catalog: info.catalogBytes,
        ...(info.shopHeadBytes ? { shopHead: info.shopHeadBytes } : {}),
        ...(info.catalogSplit && st.network ? { catalogChunks: st.network.rangeBytes } : {}),
      },
      ...(st.catalogResident ? { catalogResident: st.catalogResident } : {}),
      shopHead: info.shopHead || null,
      storage: consent === "granted" ? storage : "none",
      storedBytes: consent === "granted" ? storedBytes : 0,
      restoredEvents,
      pendingSave: saveTimer !== null || saving,
      merges,
      stats: st.stats,
      features: st.features,
      last,
    };
  }

  async function run(command, args) {
    try {
      switch (command) {
        case "init":
          return await init(args[0]);
        case "track":
          return await track(args[0], args[1]);
        case "predict": {
          const k = predictK(args[0], cfg ? cfg.k : 8);
          await needReady();
          if (holdout()) return []; // the holdout group is shown no predictions (docs/measure.md)
          return await call("predict", k);
        }
        case "impression": {
          // the page put these predicted items on screen (a widget, the shop's own renderer): counted from
          // now on instead of the emitted predictions (quality.js); returns the number of items counted
          const ids = itemIds(args[0], MAX_K);
          if (!ids) throw new Error("nextclick: impression needs an array of item ids (or of predictions)");
          if (!quality) throw new Error("nextclick: call nextclick('init', …) first");
          const n = quality.impression(ids, "reported");
          if (n) qualityChanged();
          return n;
        }
        case "qualityReport":
          // a locally differentially private report of the counters; prepared here, sent by no one but the shop
          if (!quality) throw new Error("nextclick: call nextclick('init', …) first");
          return ldpReport(qualitySnapshot(), args[0] && typeof args[0] === "object" ? args[0] : {});
        case "export":
          return await exportData();
        case "intent":
          await needReady();
          return await call("intent");
        case "consent":
          return await setConsent(args[0]);
        case "forget":
          return await forget();
        case "onPrediction":
          if (typeof args[0] !== "function") throw new Error("nextclick: onPrediction needs a function");
          callbacks.add(args[0]);
          return () => callbacks.delete(args[0]);
        case "onError":
          if (typeof args[0] !== "function") throw new Error("nextclick: onError needs a function");
          errorCallbacks.add(args[0]);
          if (disabled) queueMicrotask(() => { try { args[0](Object.assign(new Error(disabled), { kind: "late" })); } catch { /* shop's */ } });
          return () => errorCallbacks.delete(args[0]);
        case "status":
          return await status();
        case "ready":
          await needReady();
          return await status();
        default:
          throw new Error(`nextclick: unknown command ${JSON.stringify(String(command))}`);
      }
    } catch (e) {
      const err = e instanceof Error ? e : new Error(message(e));
      console.error(err.message);
      throw err;
    }
  }

  return { run };
}

/** Installs (once per window) the global `nextclick` function and replays its queue. */
export function install(win = globalThis) {
  const existing = win.nextclick;
  if (typeof existing === "function" && existing.loaded) return existing;
  const rt = createRuntime();
  return installQueue(win, rt.run);
}

/**
 * Where there is no `window` (server-side rendering, Node): every command resolves at once to the value a
 * page without an engine would get — `predict` `[]`, `intent` `null`, `track` `"disabled"`, `consent` and
 * `status().consent` `"pending"`, `forget` `true`, `onPrediction` / `onError` an unsubscribe function,
 * `init` / `status` / `ready` a status with `ready: false` and `disabled` saying why, `impression` 0,
 * `qualityReport` and `export` null (there is no device). Nothing is computed,
 * stored or sent; unknown commands reject, as in the browser.
 */
export function ssrNextclick(command, ...args) {
  const status = () => ({ version: VERSION, consent: "pending", ready: false, backend: null, bytesSent: 0, requests: 0, disabled: "nextclick: no window (server-side rendering)", dropped: 0, quality: null });
  const answers = {
    init: status,
    status,
    ready: status,
    track: () => (args[1] && Array.isArray(args[1].products) ? args[1].products.map(() => "disabled") : "disabled"),
    predict: () => (predictK(args[0], 8), []),
    intent: () => null,
    consent: () => "pending",
    forget: () => true,
    onPrediction: () => () => {},
    onError: () => () => {},
    impression: () => 0,
    qualityReport: () => null,
    export: () => null,
  };
  const f = Object.prototype.hasOwnProperty.call(answers, command) ? answers[command] : null;
  if (!f) return Promise.reject(new Error(`nextclick: unknown command ${JSON.stringify(String(command))}`));
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * The page's `nextclick(command, ...args)` function (shared with loader.js; installed on import); under
 * server-side rendering (no `window`), {@link ssrNextclick}.
 */
export const nextclick = typeof window !== "undefined" ? install(window) : ssrNextclick;
export default nextclick;
