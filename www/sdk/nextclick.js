// nextclick — the in-page runtime (ES module). Loaded by loader.js (plain <script src>) or imported directly:
//
//   import { nextclick } from "/sdk/nextclick.js";
//   nextclick("init", { model: "/models/default.onnx", catalog: "/shop.catalog", shop: "my-shop", consent: "pending" });
//   nextclick("track", "Product Viewed", { product_id: "sku-1", price: 19.9 });
//   const top = await nextclick("predict", 5);
//
// Commands: init, track, predict, intent, consent, forget, onPrediction, status, ready. Every call returns a
// promise; nothing throws into the caller (errors → console + rejected promise). Raw events stay on the
// device: the only network requests are same-origin GETs of the wasm, the model and the catalog.
//
// Consent: with consent "pending" or "denied" nothing is stored and nothing is learned (setLearning(false));
// predictions are still computed in memory for the current page view. "granted" enables on-device learning
// and persistence, starting with the current page view's events. Changing to "denied" erases what was
// stored and the in-memory state. `forget` erases every trace whatever the consent.

import { installQueue } from "./queue.js";
import { toCoreEvents } from "./events.js";
import { openJournal, openStore, wipeAll } from "./storage.js";
import { startAutocapture } from "./autocapture.js";

const VERSION = "0.1.0";
const CONSENTS = new Set(["pending", "granted", "denied"]);

/** The wasm engine in a module worker; falls back to the main thread if the worker cannot start. */
class WorkerBackend {
  constructor() {
    this.kind = "worker";
    this.next = 1;
    this.pending = new Map();
    this.worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "nextclick" });
    this.worker.onmessage = (ev) => {
      const { id, ok, result, error } = ev.data || {};
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      if (ok) p.resolve(result);
      else p.reject(new Error(error));
    };
    this.worker.onerror = (ev) => {
      ev.preventDefault();
      this.failed = new Error(`nextclick: worker failed: ${ev.message || "could not start"}`);
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
  let replay = [];
  let saveTimer = null;
  let refreshQueued = false;
  let storage = "none";
  let storedBytes = 0;
  let restoredEvents = 0;
  let quotaWarned = false;
  let last = { items: [], intent: null };
  const callbacks = new Set();
  const warned = new Set();

  const warnOnce = (key, msg) => {
    if (warned.has(key)) return;
    warned.add(key);
    console.warn(msg);
  };
  const nextSeq = () => (seq = Math.max(Date.now() * 1000, seq + 1));
  const persisting = () => consent === "granted" && store !== null;

  function openOwnJournal() {
    if (journal) return;
    journal = openJournal(cfg.shop);
    replay = journal.read();
    for (const e of replay) seq = Math.max(seq, e.seq);
    sentSeq = Math.max(sentSeq, seq); // replayed by restore() before any newer event is sent
  }

  function openOwnStore() {
    if (store || !info) return;
    store = openStore(cfg.shop, info.modelSha256);
  }

  /**
   * Restores the snapshot and replays the journal entries it does not contain. `thenReplay` are this page's
   * in-memory events (consent granted mid-page), re-applied on top of the restored state.
   */
  async function restore(thenReplay = []) {
    openOwnStore();
    restored = true;
    const snap = await store.load();
    let after = 0;
    let imported = false;
    if (snap) {
      try {
        await backend.call("importState", snap.bytes);
        imported = true;
        after = snap.seq;
        storage = snap.where;
        storedBytes = snap.bytes.length;
      } catch (e) {
        console.warn(`nextclick: stored state could not be restored (${message(e)}); starting fresh`);
        await store.reset();
        replay = []; // a clean reset: the journal belonged to the lost state
        if (journal) journal.trim(seq);
      }
    }
    const todo = replay.filter((e) => e.seq > after).map((e) => e.event);
    replay = [];
    if (imported) todo.push(...thenReplay);
    if (todo.length) await backend.call("track", todo);
    const st = await backend.call("status");
    restoredEvents = imported || todo.length ? (st.features ? st.features.events : st.stats.accepted) : 0;
    if (todo.length || !imported) scheduleSave(0);
  }

  function scheduleSave(delay = cfg.debounceMs) {
    if (!persisting()) return;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => {
      saveTimer = null;
      save().catch((e) => console.error(message(e)));
    }, delay);
  }

  async function save() {
    if (!persisting()) return;
    saving = true;
    try {
      const upTo = sentSeq; // every journaled event with seq ≤ upTo was sent before this exportState
      const bytes = await backend.call("exportState");
      if (!bytes || !persisting()) return;
      try {
        storage = await store.save(bytes, upTo);
        storedBytes = bytes.length;
        if (journal) journal.trim(upTo);
      } catch (e) {
        if (!quotaWarned) console.warn(`nextclick: could not store state (${message(e)}); keeping the previous state`);
        quotaWarned = true;
      }
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

  function refresh() {
    if (refreshQueued || !info) return;
    refreshQueued = true;
    queueMicrotask(async () => {
      refreshQueued = false;
      try {
        const [items, intent] = await Promise.all([backend.call("predict", cfg.k), backend.call("intent")]);
        emit({ items, intent });
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
        console.error("nextclick: onPrediction callback failed", e);
      }
    }
    try {
      document.dispatchEvent(new CustomEvent("nextclick:prediction", { detail }));
    } catch (e) {
      console.error("nextclick: nextclick:prediction listener failed", e);
    }
  }

  async function init(options) {
    if (ready) {
      warnOnce("init", "nextclick: init called twice; the first configuration stays in force");
      return ready;
    }
    const o = options && typeof options === "object" ? options : {};
    if (!o.model || !o.catalog) throw new Error("nextclick: init needs {model, catalog}");
    cfg = {
      model: abs(o.model),
      catalog: abs(o.catalog),
      shop: String(o.shop || location.host || "default").replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64),
      k: Number.isInteger(o.k) && o.k > 0 ? Math.min(o.k, 50) : 8,
      worker: o.worker !== false,
      autocapture: o.autocapture !== false,
      debounceMs: Number.isFinite(o.debounceMs) ? o.debounceMs : 400,
      options: o.options,
      glue: abs(o.glue || new URL("../pkg/nextclick.js", import.meta.url).href),
    };
    if (CONSENTS.has(o.consent)) consent = o.consent;
    if (typeof o.onPrediction === "function") callbacks.add(o.onPrediction);
    if (consent === "granted") openOwnJournal(); // now, so that early events are journaled
    // auto-capture starts now, before the model has loaded: early clicks are journaled (with consent) and
    // wait for the engine
    if (cfg.autocapture) {
      startAutocapture(document, (type, itemId) => trackCore([{ type, itemId }]).catch(() => {}));
    }
    ready = (async () => {
      const args = { model: cfg.model, catalog: cfg.catalog, options: cfg.options, glue: cfg.glue, learning: consent === "granted" };
      backend = cfg.worker && typeof Worker === "function" ? new WorkerBackend() : new MainThreadBackend();
      try {
        info = await backend.call("init", args);
      } catch (e) {
        if (backend.kind !== "worker" || !backend.failed) throw e;
        console.warn(`${message(e)}; running on the main thread`);
        backend.terminate();
        backend = new MainThreadBackend();
        info = await backend.call("init", args);
      }
      if (consent === "granted") await restore();
      addEventListener("pagehide", flush);
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
    if (consent === "granted" && journal) for (const e of stamped) journal.append((lastSeq = nextSeq()), e);
    else if (consent !== "granted") {
      pageEvents.push(...stamped);
      if (pageEvents.length > 500) pageEvents.splice(0, pageEvents.length - 500);
    }
    await needReady();
    sentSeq = Math.max(sentSeq, lastSeq);
    const statuses = await backend.call("track", stamped);
    const failed = statuses.find((s) => s && s.error);
    if (statuses.some((s) => s === "accepted" || s === "new_session")) {
      scheduleSave();
      refresh();
    }
    if (failed) throw new Error(failed.error);
    return statuses.length === 1 ? statuses[0] : statuses;
  }

  async function track(name, props) {
    const { events, ignored, warning } = toCoreEvents(name, props);
    if (warning) console.warn(warning);
    if (!events.length) return ignored ? "ignored" : "unknown";
    return trackCore(events);
  }

  async function setConsent(value) {
    if (!CONSENTS.has(value)) throw new Error(`nextclick: consent must be "granted", "denied" or "pending"`);
    const before = consent;
    consent = value;
    if (!info) return consent; // init not done: it reads `consent`
    await ready;
    await backend.call("setLearning", consent === "granted");
    if (consent === "granted" && before !== "granted") {
      openOwnJournal();
      if (!restored) await restore(pageEvents.splice(0));
      pageEvents.length = 0;
      await save();
    } else if (consent !== "granted") {
      clearTimeout(saveTimer);
      saveTimer = null;
      journal = null;
      if (store) await store.close();
      store = null;
      if (consent === "denied") {
        await backend.call("forget");
        await wipeAll(cfg.shop);
        storage = "none";
        storedBytes = 0;
        emit({ items: [], intent: null });
      }
    }
    return consent;
  }

  async function forget() {
    clearTimeout(saveTimer);
    saveTimer = null;
    journal = null;
    pageEvents.length = 0;
    if (store) await store.close();
    store = null;
    if (backend && info) await backend.call("forget");
    await wipeAll(cfg ? cfg.shop : "default");
    storage = "none";
    storedBytes = 0;
    restoredEvents = 0;
    if (consent === "granted" && info) {
      openOwnJournal();
      openOwnStore();
    }
    emit({ items: [], intent: null });
    return true;
  }

  async function status() {
    const base = { version: VERSION, consent, ready: !!info, backend: backend ? backend.kind : null, bytesSent: 0 };
    if (!info) return base;
    const st = await backend.call("status");
    return {
      ...base,
      shop: cfg.shop,
      modelSha256: info.modelSha256,
      catalogSize: info.catalogSize,
      downloaded: { model: info.modelBytes, catalog: info.catalogBytes },
      storage: consent === "granted" ? storage : "none",
      storedBytes: consent === "granted" ? storedBytes : 0,
      restoredEvents,
      pendingSave: saveTimer !== null || saving,
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
          await needReady();
          const k = Number.isInteger(args[0]) && args[0] > 0 ? Math.min(args[0], 1000) : cfg.k;
          return await backend.call("predict", k);
        }
        case "intent":
          await needReady();
          return await backend.call("intent");
        case "consent":
          return await setConsent(args[0]);
        case "forget":
          return await forget();
        case "onPrediction":
          if (typeof args[0] !== "function") throw new Error("nextclick: onPrediction needs a function");
          callbacks.add(args[0]);
          return () => callbacks.delete(args[0]);
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

/** The page's `nextclick(command, ...args)` function (shared with loader.js; installed on import). */
export const nextclick = typeof window !== "undefined" ? install(window) : undefined;
export default nextclick;
