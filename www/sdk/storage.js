// nextclick — on-device persistence (main thread). Only ever used with consent granted.
//
// * State snapshot: the core's `exportState()` bytes in IndexedDB, database `nextclick:<shop>`, object store
//   `state`, key = model SHA-256, value `{bytes, seq, savedAt}`. Fallback when IndexedDB is unavailable
//   (or fails): localStorage `nextclick:<shop>:state:<sha>` = base64 JSON.
// * Journal: events not yet in a snapshot, in localStorage `nextclick:<shop>:journal:<sha>` (written
//   synchronously, so a click that navigates away is not lost before the debounced snapshot). Entries
//   carry a sequence number; a snapshot records the last one it contains, and replay skips those.
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

/** The store of one shop + model. */
export function openStore(shop, modelSha256) {
  const dbName = `${PREFIX}${shop}`;
  const stateKey = `${PREFIX}${shop}:state:${modelSha256}`;
  const journalKey = `${PREFIX}${shop}:journal:${modelSha256}`;
  let dbp = null;
  const db = () => (dbp ||= openDb(dbName).catch((e) => { dbp = null; throw e; }));

  function readJournal() {
    const s = ls();
    if (!s) return [];
    try {
      const j = JSON.parse(s.getItem(journalKey) || "[]");
      return Array.isArray(j) ? j.filter((e) => e && typeof e.seq === "number" && e.event) : [];
    } catch {
      return [];
    }
  }

  return {
    /** `{bytes, seq}` of the snapshot (IndexedDB first, then the localStorage fallback), or null. */
    async load() {
      try {
        const d = await db();
        const v = await req(d.transaction("state", "readonly").objectStore("state").get(modelSha256));
        if (v && v.bytes instanceof Uint8Array) return { bytes: v.bytes, seq: v.seq | 0, where: "indexeddb" };
      } catch {
        /* fall through to localStorage */
      }
      const s = ls();
      const raw = s && s.getItem(stateKey);
      if (!raw) return null;
      try {
        const v = JSON.parse(raw);
        return { bytes: fromBase64(v.b64), seq: v.seq | 0, where: "localstorage" };
      } catch {
        return { bytes: new Uint8Array(0), seq: 0, where: "localstorage" }; // corrupt: importState will reject it
      }
    },

    /**
     * Writes a snapshot containing journal entries up to `seq`, then trims the journal. On a quota error the
     * previous snapshot is kept (a failed transaction changes nothing) and the error is rethrown.
     */
    async save(bytes, seq) {
      let where = "indexeddb";
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
      } catch (e) {
        if (isQuota(e)) throw e;
        where = "localstorage";
        const s = ls();
        if (!s) throw e;
        s.setItem(stateKey, JSON.stringify({ b64: toBase64(bytes), seq })); // throws on quota: old value kept
      }
      this.trimJournal(seq);
      return where;
    },

    /** Appends one event to the journal (synchronous). Returns false when storage refused it. */
    append(seq, event) {
      const s = ls();
      if (!s) return false;
      const j = readJournal();
      j.push({ seq, event });
      try {
        s.setItem(journalKey, JSON.stringify(j.slice(-MAX_JOURNAL)));
        return true;
      } catch {
        return false; // quota: the snapshot path still has the event once it runs
      }
    },

    readJournal,

    trimJournal(seq) {
      const s = ls();
      if (!s) return;
      const rest = readJournal().filter((e) => e.seq > seq);
      if (rest.length) s.setItem(journalKey, JSON.stringify(rest));
      else s.removeItem(journalKey);
    },

    /** Drops this shop's snapshot and journal (used when stored state is corrupted or foreign). */
    async reset() {
      const s = ls();
      if (s) {
        s.removeItem(stateKey);
        s.removeItem(journalKey);
      }
      try {
        const d = await db();
        const tx = d.transaction("state", "readwrite");
        tx.objectStore("state").delete(modelSha256);
        await new Promise((r) => { tx.oncomplete = r; tx.onerror = r; tx.onabort = r; });
      } catch {
        /* nothing stored there */
      }
    },

    close() {
      if (dbp) dbp.then((d) => d.close(), () => {});
      dbp = null;
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
