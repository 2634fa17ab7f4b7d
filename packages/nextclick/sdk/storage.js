// nextclick — on-device persistence (main thread). Only ever used with consent granted.
//
// * State snapshot: the core's `exportState()` bytes in IndexedDB, database `nextclick:<shop>`, object store
//   `state`, key = model SHA-256, value `{bytes, seq, savedAt}`. Fallback when IndexedDB is unavailable
//   (or fails): localStorage `nextclick:<shop>:state:<sha>` = base64 JSON.
// * Journal: events not yet in a snapshot, in localStorage `nextclick:<shop>:journal` (written
//   synchronously, so a click that navigates away is not lost before the debounced snapshot; raw events
//   do not depend on the model, so it is usable before the model has loaded). Entries carry a sequence
//   number and the id of the tab that wrote them; a snapshot records, per tab, the last one it contains
//   (`covers`), and replay skips those. Tabs of one shop share the journal and the snapshot: see
//   `covered` and the runtime's merge-on-save (nextclick.js).
//
// * Quality counters (quality.js): localStorage `nextclick:<shop>:quality`, one small JSON record written
//   synchronously whenever a counter changes (so a click that navigates away is counted), beside the
//   snapshot; see `openQualityRecord`.
//
// Nothing here ever leaves the device. `wipeAll` deletes every trace (databases and keys); `inspectAll`
// reads every trace (the shopper's data export), creating nothing.

const PREFIX = "nextclick:";
const MAX_JOURNAL = 500;

function ls() {
  try {
    return globalThis.localStorage || null;
  } catch {
    return null; // access can throw (sandboxed iframes, blocked storage)
  }
}

function idb() {
  try {
    return globalThis.indexedDB || null;
  } catch {
    return null;
  }
}

/** base64 of bytes (chunked, no stack blow-up). */
export function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** bytes of base64. */
export function fromBase64(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function openDb(name, onClose) {
  const f = idb();
  if (!f) return Promise.reject(new Error("IndexedDB unavailable"));
  return new Promise((resolve, reject) => {
    const r = f.open(name, 1);
    r.onupgradeneeded = () => r.result.createObjectStore("state");
    r.onsuccess = () => {
      // another tab deletes the database ("forget me"): let it, and reopen on the next use
      r.result.onversionchange = () => {
        r.result.close();
        onClose();
      };
      resolve(r.result);
    };
    r.onerror = () => reject(r.error);
    r.onblocked = () => reject(new Error("IndexedDB blocked"));
  });
}

/**
 * Is journal entry `e` contained in a snapshot `{seq, covers}`? `covers` maps a tab id to the last
 * sequence number of that tab the snapshot holds; a snapshot without `covers` (or a plain number) holds
 * every entry up to `seq`.
 */
export function covered(e, snap) {
  if (typeof snap === "number") return e.seq <= snap;
  if (!snap) return false;
  if (snap.covers && typeof snap.covers === "object") {
    const upTo = snap.covers[e.tab || ""];
    return typeof upTo === "number" && e.seq <= upTo;
  }
  return e.seq <= (Number(snap.seq) || 0);
}

function cleanCovers(c) {
  const out = {};
  if (c && typeof c === "object") for (const [k, v] of Object.entries(c)) if (typeof v === "number" && Number.isFinite(v)) out[k] = v;
  return out;
}

/** A random revision id: every snapshot write has its own, so a writer can tell whether the stored one changed. */
function newRev() {
  try {
    return globalThis.crypto.randomUUID();
  } catch {
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }
}

/** The error of a compare-and-swap `save` whose expected snapshot is no longer the stored one. */
function staleError() {
  return Object.assign(new Error("nextclick: the stored snapshot changed meanwhile (another tab wrote)"), { name: "StaleSnapshotError", stale: true });
}

function isQuota(e) {
  return !!e && (e.name === "QuotaExceededError" || e.code === 22 || /quota/i.test(String(e.message)));
}

/**
 * The journal of one shop (synchronous localStorage). Each tab (runtime) writes only its own key,
 * `nextclick:<shop>:journal:<tab>`, from its in-memory copy — localStorage has no cross-tab atomic
 * read-modify-write, so a shared key would lose entries when two tabs append at once. `read()` returns
 * the entries of every tab (each with its `tab`), plus those of the untagged key
 * `nextclick:<shop>:journal` (written when no tab id is given, as in the unit tests).
 */
export function openJournal(shop, tab) {
  const base = `${PREFIX}${shop}:journal`;
  const own = tab ? `${base}:${tab}` : base;
  const parse = (raw, t) => {
    try {
      const j = JSON.parse(raw || "[]");
      if (!Array.isArray(j)) return [];
      return j.filter((e) => e && typeof e.seq === "number" && e.event).map((e) => (t ? { ...e, tab: t } : e));
    } catch {
      return [];
    }
  };
  const keys = (s) => {
    const out = [];
    for (let i = 0; i < s.length; i++) {
      const k = s.key(i);
      if (k === base || (k && k.startsWith(`${base}:`))) out.push(k);
    }
    return out;
  };
  const tabOf = (k) => (k === base ? undefined : k.slice(base.length + 1));
  let mine = null; // this tab's entries (the authority for its own key)
  const loadMine = (s) => (mine ??= parse(s.getItem(own), tab).map(({ seq, event }) => ({ seq, event })));
  const writeMine = (s) => {
    if (mine.length) s.setItem(own, JSON.stringify(mine));
    else s.removeItem(own);
  };
  function read() {
    const s = ls();
    if (!s) return [];
    const out = [];
    for (const k of keys(s)) out.push(...parse(s.getItem(k), tabOf(k)));
    return out;
  }
  /** Removes another tab's key when the snapshot holds all of it and it has been quiet for a minute. */
  function dropOthers(s, isStale) {
    for (const k of keys(s)) {
      if (k === own) continue;
      const entries = parse(s.getItem(k), tabOf(k));
      const newest = Math.max(0, ...entries.map((e) => e.seq));
      if (entries.every(isStale) && newest / 1000 < Date.now() - 60000) s.removeItem(k);
    }
  }
  /**
   * Appends `entries` ({seq, event}) with one storage write. Returns false when storage refused it (quota):
   * the next snapshot still has them.
   */
  function appendAll(entries) {
    const s = ls();
    if (!s || !entries.length) return !!s;
    loadMine(s).push(...entries.slice(-MAX_JOURNAL));
    if (mine.length > MAX_JOURNAL) mine.splice(0, mine.length - MAX_JOURNAL);
    try {
      s.setItem(own, JSON.stringify(mine));
      return true;
    } catch {
      return false;
    }
  }
  return {
    read,
    /** Appends one event. Returns false when storage refused it (quota): the next snapshot still has it. */
    append(seq, event) {
      return appendAll([{ seq, event }]);
    },
    appendAll,
    /** Drops the entries a snapshot holds: `snap` is a sequence number or `{seq, covers}` (see `covered`). */
    trim(snap) {
      const s = ls();
      if (!s) return;
      const t = (e) => covered(tab ? { ...e, tab } : e, snap);
      mine = loadMine(s).filter((e) => !t(e));
      try {
        writeMine(s);
        dropOthers(s, (e) => covered(e, snap));
      } catch {
        /* keep the longer journal; replay skips what the snapshot has */
      }
    },
    clear() {
      const s = ls();
      mine = [];
      if (s) s.removeItem(own);
    },
    /** Keeps only this tab's entries for which `keep(entry)` is true; drops every other tab's entries. */
    retain(keep) {
      const s = ls();
      if (!s) return;
      mine = loadMine(s).filter((e) => keep(tab ? { ...e, tab } : e));
      try {
        writeMine(s);
        for (const k of keys(s)) if (k !== own) s.removeItem(k);
      } catch {
        /* unchanged */
      }
    },
  };
}

/** `{key, value}` of the most recently saved well-formed record not under `key`, or null. */
async function newestOther(os, key) {
  if (typeof os.getAllKeys !== "function") return null;
  const keys = await req(os.getAllKeys());
  let best = null;
  for (const k of keys) {
    if (k === key) continue;
    const value = await req(os.get(k));
    if (value && value.bytes instanceof Uint8Array && (!best || (Number(value.savedAt) || 0) > (Number(best.value.savedAt) || 0))) best = { key: k, value };
  }
  return best;
}

/**
 * The snapshot store of one shop + model.
 * @param {string} shop
 * @param {string} modelSha256
 * @param {{ onFallback?: (error: unknown) => void }} [options]
 */
export function openStore(shop, modelSha256, { onFallback } = {}) {
  const dbName = `${PREFIX}${shop}`;
  const stateKey = `${PREFIX}${shop}:state:${modelSha256}`;
  let dbp = null;
  const opened = () => (dbp ||= openDb(dbName, () => { dbp = null; }).catch((e) => { dbp = null; throw e; }));
  // Back-forward cache: a page frozen there with an IndexedDB transaction in flight keeps it in flight, and
  // every later transaction on the store, in every tab, waits for it (WebKit bfcaches such pages: the next
  // page's restore() then hung, holding the Web Lock). `suspend()` (at pagehide) aborts this page's
  // transactions, closes its connection and holds back new ones until `resume()` (pageshow); an operation
  // cut short by it runs again after `resume()`. What it would have written stays in the journal.
  const active = new Set(); // this store's transactions still in flight
  let gate = null; // while suspended: {promise, open}
  let epoch = 0; // incremented by every suspend(): an attempt begun before it is retried
  const tx = (d, mode) => {
    // pagehide came between the open (or an await) and this transaction: it would be frozen in flight
    if (gate) throw new Error("suspended");
    const t = d.transaction("state", mode);
    active.add(t);
    const done = () => active.delete(t);
    t.addEventListener("complete", done);
    t.addEventListener("abort", done);
    t.addEventListener("error", done);
    return t;
  };
  /** Runs `attempt(db)` once the store is not suspended; again (after resume) if a suspend() cut it short. */
  async function withDb(attempt) {
    for (;;) {
      while (gate) await gate.promise;
      const e0 = epoch;
      try {
        const d = await opened();
        if (gate || epoch !== e0) continue; // suspended while the connection opened: wait for resume()
        return await attempt(d);
      } catch (e) {
        if (epoch === e0 && !gate) throw e;
      }
    }
  }
  const fellBack = (e) => {
    if (typeof onFallback === "function") onFallback(e);
  };

  // What a writer read, to check at write time that nobody wrote since: the IndexedDB record's revision
  // (null: no record; undefined: IndexedDB could not be read, not checked) and the raw fallback copy.
  const revOf = (v) => (v ? String(v.rev ?? v.savedAt ?? "") : null);
  let adopted = null; // key of another model's record read by `read()`, deleted by the next save

  const store = {
    /** `{bytes, seq, covers, where}` of the snapshot (IndexedDB first, then the localStorage fallback), or null. */
    async load() {
      return (await store.read()).snap;
    },

    /**
     * `{snap, token}`: the snapshot as `load()` gives it, and a token for `save(…, {expect: token})`, which
     * then writes only if the stored snapshot is still the one read here.
     */
    async read() {
      let best = null;
      let prev = null;
      const token = { idb: undefined, ls: null };
      try {
        const v = await withDb(async (d) => {
          const os = tx(d, "readonly").objectStore("state");
          const own = await req(os.get(modelSha256));
          // nothing for this model: the newest snapshot of another model (the shop published a new one) is
          // adopted; the core keeps its sessions and restarts the learned heads, and the next save of this
          // model's snapshot deletes the old record
          if (own == null) prev = await newestOther(os, modelSha256);
          return own;
        });
        token.idb = revOf(v);
        if (v && v.bytes instanceof Uint8Array) best = { bytes: v.bytes, seq: Number(v.seq) || 0, covers: v.covers ? cleanCovers(v.covers) : null, where: "indexeddb" };
        else if (v != null) {
          // a record of the wrong shape: handed on as empty bytes, which importState refuses, so that the page
          // warns and resets instead of dropping the state silently
          best = { bytes: new Uint8Array(0), seq: 0, covers: null, where: "indexeddb" };
        } else {
          if (prev) {
            adopted = prev.key;
            const pv = prev.value;
            best = { bytes: pv.bytes, seq: Number(pv.seq) || 0, covers: pv.covers ? cleanCovers(pv.covers) : null, where: "indexeddb" };
          }
        }
      } catch (e) {
        fellBack(e); // fall through to localStorage
      }
      // the fallback copy wins when it is newer (written when IndexedDB failed, e.g. during unload)
      const s = ls();
      const raw = s && s.getItem(stateKey);
      token.ls = raw || null;
      if (raw) {
        let fb;
        try {
          const v = JSON.parse(raw);
          fb = { bytes: fromBase64(v.b64), seq: Number(v.seq) || 0, covers: v.covers ? cleanCovers(v.covers) : null, where: "localstorage" };
        } catch {
          fb = { bytes: new Uint8Array(0), seq: Infinity, covers: null, where: "localstorage" }; // corrupt: importState rejects it
        }
        if (!best || fb.seq > best.seq) best = fb;
      }
      return { snap: best, token };
    },

    /**
     * Writes a snapshot. On a quota error the previous snapshot is kept (a failed transaction or setItem
     * changes nothing) and the error is rethrown. Resolves to where it was written.
     *
     * With `expect` (a token from `read()`), a compare-and-swap: the write happens only if the stored
     * snapshot is still the one that was read — checked and written inside one IndexedDB readwrite
     * transaction, which IndexedDB serialises across tabs (the localStorage fallback copy is compared
     * synchronously). Otherwise nothing is written and it rejects with an error whose `stale` is true.
     * @param {Uint8Array} bytes
     * @param {number} seq
     * @param {Record<string, number>} [covers]
     * @param {{ expect?: { idb?: unknown, ls?: string | null } }} [options]
     */
    async save(bytes, seq, covers, { expect } = {}) {
      const value = { bytes, seq, savedAt: Date.now(), rev: newRev() };
      if (covers) value.covers = cleanCovers(covers);
      const lsChanged = (s) => expect && s && (s.getItem(stateKey) || null) !== expect.ls;
      try {
        if (lsChanged(ls())) throw staleError();
        await withDb(async (d) => {
          if (lsChanged(ls())) throw staleError(); // (again, after a wait for resume())
          const t = tx(d, "readwrite");
          const os = t.objectStore("state");
          let failed = null; // why this code aborted the transaction: stale, or what `put` threw (e.g. quota)
          if (expect && expect.idb !== undefined) {
            const g = os.get(modelSha256);
            g.onsuccess = () => {
              try {
                if (revOf(g.result) !== expect.idb) failed = staleError();
                else os.put(value, modelSha256);
              } catch (e) {
                failed = e;
              }
              if (failed) t.abort();
            };
          } else os.put(value, modelSha256);
          if (adopted !== null) os.delete(adopted); // carried forward into this model's snapshot
          await new Promise((resolve, reject) => {
            t.oncomplete = resolve;
            t.onerror = () => reject(failed || t.error);
            t.onabort = () => reject(failed || t.error || new Error("IndexedDB transaction aborted"));
          });
        });
        adopted = null;
        const s = ls();
        if (s) s.removeItem(stateKey); // an older fallback copy is now stale
        return "indexeddb";
      } catch (e) {
        if (isQuota(e) || (e && e.stale)) throw e;
        const s = ls();
        if (!s) throw e;
        fellBack(e);
        if (lsChanged(s)) throw staleError();
        const v = { b64: toBase64(bytes), seq };
        if (covers) v.covers = value.covers;
        s.setItem(stateKey, JSON.stringify(v)); // throws on quota: old value kept
        return "localstorage";
      }
    },

    /** Drops this snapshot (used when stored state is corrupted or foreign). */
    async reset() {
      const s = ls();
      if (s) s.removeItem(stateKey);
      try {
        await withDb(async (d) => {
          const t = tx(d, "readwrite");
          t.objectStore("state").delete(modelSha256);
          if (adopted !== null) t.objectStore("state").delete(adopted);
          await new Promise(/** @param {(value?: unknown) => void} resolve */ (resolve, reject) => {
            t.oncomplete = resolve;
            t.onerror = resolve;
            t.onabort = () => (gate ? reject(new Error("suspended")) : resolve());
          });
        });
        adopted = null;
      } catch {
        /* nothing stored there */
      }
    },

    /** pagehide: aborts this page's transactions, closes the connection, holds back new ones (see above). */
    suspend() {
      if (gate) return;
      let open;
      gate = { promise: new Promise((r) => (open = r)), open: () => open() };
      epoch++;
      for (const t of [...active]) {
        try {
          t.abort();
        } catch {
          /* finished meanwhile */
        }
      }
      active.clear();
      const p = dbp;
      dbp = null;
      if (p) p.then((d) => d.close(), () => {});
    },

    /** pageshow: the operations held back by `suspend()` go on. */
    resume() {
      const g = gate;
      gate = null;
      if (g) g.open();
    },

    /** Closes the database connection (so that it can be deleted). */
    async close() {
      const p = dbp;
      dbp = null;
      if (p) await p.then((d) => d.close(), () => {});
    },
  };
  return store;
}

/** Deletes every nextclick trace on this origin: all `nextclick:*` IndexedDB databases and localStorage keys. */
export async function wipeAll(shop) {
  const s = ls();
  if (s) {
    const keys = [];
    for (let i = 0; i < s.length; i++) {
      const k = s.key(i);
      if (k && k.startsWith(PREFIX)) keys.push(k);
    }
    keys.forEach((k) => s.removeItem(k));
  }
  const f = idb();
  if (!f) return;
  const names = new Set([`${PREFIX}${shop}`]);
  try {
    if (typeof f.databases === "function") for (const d of await f.databases()) if (d.name && d.name.startsWith(PREFIX)) names.add(d.name);
  } catch {
    /* databases() unsupported: the shop's own database is still deleted */
  }
  await Promise.all(
    [...names].map(
      (n) =>
        new Promise(/** @param {(value?: unknown) => void} resolve */ (resolve) => {
          const r = f.deleteDatabase(n);
          r.onsuccess = r.onerror = r.onblocked = () => resolve();
        }),
    ),
  );
}

/**
 * The quality counters' record of one shop (quality.js `record()` / `load()`), in localStorage
 * `nextclick:<shop>:quality`; only opened with consent. Synchronous, so that counting a click that
 * navigates away is stored before the page goes. Two tabs writing within the same instant can lose one
 * tab's increment (localStorage has no cross-tab read-modify-write): counters only, never events.
 */
export function openQualityRecord(shop) {
  const key = `${PREFIX}${shop}:quality`;
  return {
    key,
    /** The stored record, or null (none, unreadable, storage blocked). */
    read() {
      const s = ls();
      if (!s) return null;
      try {
        const v = JSON.parse(s.getItem(key) || "null");
        return v && typeof v === "object" ? v : null;
      } catch {
        return null;
      }
    },
    /** Writes `rec`; false when storage refused it (quota, blocked). */
    write(rec) {
      const s = ls();
      if (!s) return false;
      try {
        s.setItem(key, JSON.stringify(rec));
        return true;
      } catch {
        return false;
      }
    },
  };
}

/**
 * Every nextclick trace on this origin, as `wipeAll` would delete it, read without creating anything:
 * `{indexeddb: [{database, records: [{key, value}]}], localStorage: [{key, value}]}` (IndexedDB values as
 * stored: `{bytes: Uint8Array, seq, covers, savedAt, rev}`). Databases are listed with
 * `indexedDB.databases()`; where that is missing, only the shop's own database is read, and only if
 * `shopDbExists` (opening a database that does not exist would create it).
 */
export async function inspectAll(shop, { shopDbExists = false } = {}) {
  const out = { indexeddb: [], localStorage: [] };
  const s = ls();
  if (s) {
    for (let i = 0; i < s.length; i++) {
      const k = s.key(i);
      if (k && k.startsWith(PREFIX)) out.localStorage.push({ key: k, value: s.getItem(k) });
    }
    out.localStorage.sort((a, b) => (a.key < b.key ? -1 : 1));
  }
  const f = idb();
  if (!f) return out;
  let names = [];
  try {
    if (typeof f.databases === "function") names = (await f.databases()).map((d) => d.name).filter((n) => n && n.startsWith(PREFIX));
    else if (shopDbExists) names = [`${PREFIX}${shop}`];
  } catch {
    if (shopDbExists) names = [`${PREFIX}${shop}`];
  }
  for (const name of names.sort()) {
    try {
      const d = await new Promise((resolve, reject) => {
        const r = f.open(name);
        // deleted since it was listed: do not create it again (aborting the upgrade fails the open)
        r.onupgradeneeded = () => r.transaction.abort();
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
        r.onblocked = () => reject(new Error("IndexedDB blocked"));
      });
      try {
        const records = [];
        if (d.objectStoreNames.contains("state")) {
          const os = d.transaction("state", "readonly").objectStore("state");
          const [keys, values] = await Promise.all([req(os.getAllKeys()), req(os.getAll())]);
          keys.forEach((key, i) => records.push({ key, value: values[i] }));
        }
        out.indexeddb.push({ database: name, records });
      } finally {
        d.close();
      }
    } catch {
      /* gone meanwhile, or unreadable: nothing to show */
    }
  }
  return out;
}
