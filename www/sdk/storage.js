// nextclick — on-device persistence (main thread). Only ever used with consent granted.
//
// * State snapshot: the core's `exportState()` bytes in IndexedDB, database `nextclick:<shop>`, object store
//   `state`, key = model SHA-256, value `{bytes, seq, savedAt}`. Fallback when IndexedDB is unavailable
//   (or fails): localStorage `nextclick:<shop>:state:<sha>` = base64 JSON.
// * Journal: events not yet in a snapshot, in localStorage `nextclick:<shop>:journal` (written
//   synchronously, so a click that navigates away is not lost before the debounced snapshot; raw events
//   do not depend on the model, so it is usable before the model has loaded). Entries carry a sequence
//   number; a snapshot records the last one it contains, and replay skips those.
//
// Nothing here ever leaves the device. `wipeAll` deletes every trace (databases and keys).

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

function openDb(name) {
  const f = idb();
  if (!f) return Promise.reject(new Error("IndexedDB unavailable"));
  return new Promise((resolve, reject) => {
    const r = f.open(name, 1);
    r.onupgradeneeded = () => r.result.createObjectStore("state");
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.onblocked = () => reject(new Error("IndexedDB blocked"));
  });
}

function isQuota(e) {
  return !!e && (e.name === "QuotaExceededError" || e.code === 22 || /quota/i.test(String(e.message)));
}

/** The journal of one shop (synchronous localStorage). */
export function openJournal(shop) {
  const key = `${PREFIX}${shop}:journal`;
  function read() {
    const s = ls();
    if (!s) return [];
    try {
      const j = JSON.parse(s.getItem(key) || "[]");
      return Array.isArray(j) ? j.filter((e) => e && typeof e.seq === "number" && e.event) : [];
    } catch {
      return [];
    }
  }
  return {
    read,
    /** Appends one event. Returns false when storage refused it (quota): the next snapshot still has it. */
    append(seq, event) {
      const s = ls();
      if (!s) return false;
      const j = read();
      j.push({ seq, event });
      try {
        s.setItem(key, JSON.stringify(j.slice(-MAX_JOURNAL)));
        return true;
      } catch {
        return false;
      }
    },
    /** Drops the entries up to `seq` (they are in a snapshot now). */
    trim(seq) {
      const s = ls();
      if (!s) return;
      const rest = read().filter((e) => e.seq > seq);
      try {
        if (rest.length) s.setItem(key, JSON.stringify(rest));
        else s.removeItem(key);
      } catch {
        /* keep the longer journal; replay skips what the snapshot has */
      }
    },
    clear() {
      const s = ls();
      if (s) s.removeItem(key);
    },
  };
}

/** The snapshot store of one shop + model. */
export function openStore(shop, modelSha256) {
  const dbName = `${PREFIX}${shop}`;
  const stateKey = `${PREFIX}${shop}:state:${modelSha256}`;
  let dbp = null;
  const db = () => (dbp ||= openDb(dbName).catch((e) => { dbp = null; throw e; }));

  return {
    /** `{bytes, seq, where}` of the snapshot (IndexedDB first, then the localStorage fallback), or null. */
    async load() {
      let best = null;
      try {
        const d = await db();
        const v = await req(d.transaction("state", "readonly").objectStore("state").get(modelSha256));
        if (v && v.bytes instanceof Uint8Array) best = { bytes: v.bytes, seq: Number(v.seq) || 0, where: "indexeddb" };
      } catch {
        /* fall through to localStorage */
      }
      // the fallback copy wins when it is newer (written when IndexedDB failed, e.g. during unload)
      const s = ls();
      const raw = s && s.getItem(stateKey);
      if (raw) {
        let fb;
        try {
          const v = JSON.parse(raw);
          fb = { bytes: fromBase64(v.b64), seq: Number(v.seq) || 0, where: "localstorage" };
        } catch {
          fb = { bytes: new Uint8Array(0), seq: Infinity, where: "localstorage" }; // corrupt: importState rejects it
        }
        if (!best || fb.seq > best.seq) best = fb;
      }
      return best;
    },

    /**
     * Writes a snapshot. On a quota error the previous snapshot is kept (a failed transaction or setItem
     * changes nothing) and the error is rethrown. Resolves to where it was written.
     */
    async save(bytes, seq) {
      try {
        const d = await db();
        const tx = d.transaction("state", "readwrite");
        tx.objectStore("state").put({ bytes, seq, savedAt: Date.now() }, modelSha256);
        await new Promise((resolve, reject) => {
          tx.oncomplete = resolve;
          tx.onerror = () => reject(tx.error);
          tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
        });
        const s = ls();
        if (s) s.removeItem(stateKey); // an older fallback copy is now stale
        return "indexeddb";
      } catch (e) {
        if (isQuota(e)) throw e;
        const s = ls();
        if (!s) throw e;
        s.setItem(stateKey, JSON.stringify({ b64: toBase64(bytes), seq })); // throws on quota: old value kept
        return "localstorage";
      }
    },

    /** Drops this snapshot (used when stored state is corrupted or foreign). */
    async reset() {
      const s = ls();
      if (s) s.removeItem(stateKey);
      try {
        const d = await db();
        const tx = d.transaction("state", "readwrite");
        tx.objectStore("state").delete(modelSha256);
        await new Promise((r) => { tx.oncomplete = r; tx.onerror = r; tx.onabort = r; });
      } catch {
        /* nothing stored there */
      }
    },

    /** Closes the database connection (so that it can be deleted). */
    async close() {
      const p = dbp;
      dbp = null;
      if (p) await p.then((d) => d.close(), () => {});
    },
  };
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
        new Promise((resolve) => {
          const r = f.deleteDatabase(n);
          r.onsuccess = r.onerror = r.onblocked = () => resolve();
        }),
    ),
  );
}
