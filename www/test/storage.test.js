// Node-only tests (no browser) of storage.js with a fake localStorage and no IndexedDB (one test: a minimal fake one): the journal, the
// localStorage snapshot fallback, quota behaviour and the wipe.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { openJournal, openStore, wipeAll, toBase64, fromBase64, covered } from "../../packages/nextclick/sdk/storage.js";

class FakeStorage {
  constructor() {
    this.m = new Map();
    this.quota = Infinity;
  }
  get length() {
    return this.m.size;
  }
  key(i) {
    return [...this.m.keys()][i] ?? null;
  }
  getItem(k) {
    return this.m.has(k) ? this.m.get(k) : null;
  }
  setItem(k, v) {
    const size = [...this.m].reduce((n, [a, b]) => n + (a === k ? 0 : a.length + b.length), 0) + k.length + String(v).length;
    if (size > this.quota) throw Object.assign(new Error("quota"), { name: "QuotaExceededError" });
    this.m.set(k, String(v));
  }
  removeItem(k) {
    this.m.delete(k);
  }
}

beforeEach(() => {
  globalThis.localStorage = new FakeStorage();
  delete globalThis.indexedDB;
});

test("base64 round trip", () => {
  const b = new Uint8Array(70000).map((_, i) => (i * 31) & 255);
  assert.deepEqual(fromBase64(toBase64(b)), b);
});

test("journal: append, read, trim by sequence number", () => {
  const j = openJournal("shop");
  j.append(10, { type: "view", itemId: "a" });
  j.append(11, { type: "click", itemId: "b" });
  j.append(12, { type: "cart", itemId: "b" });
  assert.deepEqual(j.read().map((e) => e.seq), [10, 11, 12]);
  j.trim(11);
  assert.deepEqual(j.read(), [{ seq: 12, event: { type: "cart", itemId: "b" } }]);
  j.trim(12);
  assert.equal(localStorage.getItem("nextclick:shop:journal"), null, "an empty journal leaves no key");
  localStorage.setItem("nextclick:shop:journal", "{not json");
  assert.deepEqual(j.read(), [], "a corrupt journal reads as empty");
});

test("snapshot: without IndexedDB it goes to localStorage (base64) and loads back", async () => {
  const s = openStore("shop", "abc");
  assert.equal(await s.load(), null);
  const bytes = new Uint8Array([1, 2, 3, 250]);
  assert.equal(await s.save(bytes, 42), "localstorage");
  const got = await s.load();
  assert.deepEqual([...got.bytes], [...bytes]);
  assert.equal(got.seq, 42);
  assert.ok(localStorage.getItem("nextclick:shop:state:abc"));
  await s.reset();
  assert.equal(await s.load(), null);
});

test("quota: a failed snapshot write keeps the previous snapshot; a failed journal append says so", async () => {
  const s = openStore("shop", "abc");
  await s.save(new Uint8Array(10).fill(7), 1);
  localStorage.quota = 200;
  await assert.rejects(s.save(new Uint8Array(5000), 2), /quota/);
  const got = await s.load();
  assert.equal(got.seq, 1);
  assert.deepEqual([...got.bytes], Array(10).fill(7));
  const j = openJournal("shop");
  assert.equal(j.append(3, { type: "view", itemId: "x".repeat(300) }), false);
});

test("wipeAll removes every nextclick:* key and nothing else", async () => {
  localStorage.setItem("nextclick:shop:journal", "[]");
  localStorage.setItem("nextclick:other:state:x", "{}");
  localStorage.setItem("shop-cart", "keep");
  await wipeAll("shop");
  assert.deepEqual([...localStorage.m.keys()], ["shop-cart"]);
});

test("journal of two tabs: one key per tab, per-tab coverage; trimming keeps the other tab's entries", async () => {
  const T = Date.now() * 1000 - 10; // sequence numbers are µs timestamps
  const ja = openJournal("shop", "A");
  const jb = openJournal("shop", "B");
  ja.append(T + 0, { type: "view", itemId: "a" });
  jb.append(T + 1, { type: "view", itemId: "b" });
  ja.append(T + 2, { type: "view", itemId: "c" });
  jb.append(T + 3, { type: "view", itemId: "d" });
  assert.deepEqual(Object.keys(Object.fromEntries(localStorage.m)).sort(), ["nextclick:shop:journal:A", "nextclick:shop:journal:B"]);
  assert.deepEqual(ja.read().sort((x, y) => x.seq - y.seq).map((e) => `${e.tab}${e.event.itemId}`), ["Aa", "Bb", "Ac", "Bd"]);
  const snapA = { seq: T + 2, covers: { A: T + 2 } };
  assert.equal(covered({ seq: T + 1, tab: "B" }, snapA), false, "B's entry is not in A's snapshot");
  assert.equal(covered({ seq: T + 2, tab: "A" }, snapA), true);
  assert.equal(covered({ seq: 5 }, { seq: 9 }), true, "a snapshot without covers holds everything up to seq");
  ja.trim(snapA);
  assert.deepEqual(jb.read().map((e) => e.event.itemId), ["b", "d"]);
  // B's key is covered but recent: kept (its tab may still be appending)
  ja.trim({ seq: T + 3, covers: { A: T + 2, B: T + 3 } });
  assert.deepEqual(jb.read().map((e) => e.event.itemId), ["b", "d"]);
  jb.trim({ seq: T + 3, covers: { A: T + 2, B: T + 2 } });
  assert.deepEqual(ja.read().map((e) => e.event.itemId), ["d"]);
  const s = openStore("shop", "abc");
  await s.save(new Uint8Array([1]), 13, { A: T + 2, B: T + 3, bad: "x" });
  assert.deepEqual((await s.load()).covers, { A: T + 2, B: T + 3 }, "covers round-trip (non-numbers dropped)");
});

test("IndexedDB failing: the store falls back to localStorage and says so through onFallback", async () => {
  globalThis.indexedDB = { open() { throw new Error("test: no IndexedDB"); } };
  const why = [];
  const s = openStore("shop", "abc", { onFallback: (e) => why.push(e.message) });
  assert.equal(await s.save(new Uint8Array([4, 5]), 1), "localstorage");
  assert.deepEqual([...(await s.load()).bytes], [4, 5]);
  assert.ok(why.length >= 1 && why.every((m) => /no IndexedDB/.test(m)), JSON.stringify(why));
});

test("journal: appendAll writes a call's events once, bounded, in order", () => {
  let writes = 0;
  const set = localStorage.setItem.bind(localStorage);
  localStorage.setItem = (k, v) => {
    writes++;
    set(k, v);
  };
  const j = openJournal("shop", "tab1");
  assert.equal(j.appendAll(Array.from({ length: 100 }, (_, i) => ({ seq: i + 1, event: { type: "purchase", itemId: `p${i}` } }))), true);
  assert.equal(writes, 1, "one storage write for 100 products");
  j.appendAll(Array.from({ length: 900 }, (_, i) => ({ seq: 101 + i, event: { type: "view", itemId: `v${i}` } })));
  const all = j.read();
  assert.equal(all.length, 500, "the journal keeps its bound");
  assert.equal(all[all.length - 1].seq, 1000, "the newest entries are kept");
  delete localStorage.setItem;
});

/**
 * A minimal IndexedDB (one database, one store) whose transactions complete only when `tick()` runs them
 * — as a page frozen in the back-forward cache never runs them.
 */
function fakeIndexedDB() {
  const data = new Map();
  const queue = [];
  const log = [];
  const fire = (o, type, extra = {}) => {
    Object.assign(o, extra);
    o[`on${type}`]?.({ target: o });
    for (const f of o.listeners?.[type] || []) f({ target: o });
  };
  const transaction = (closed) => (name, mode) => {
    if (closed()) throw Object.assign(new Error("The database connection is closing."), { name: "InvalidStateError" });
    const ops = [];
    const t = {
      mode, listeners: {}, done: false,
      addEventListener(type, f) { (this.listeners[type] ||= []).push(f); },
      abort() { if (this.done) throw new Error("finished"); this.done = true; log.push(`abort ${mode}`); for (const r of ops) fire(r, "error", { error: new Error("AbortError") }); fire(t, "abort"); },
      objectStore: () => ({
        get(k) { const r = {}; ops.push(r); queue.push(() => { r.ran = true; if (!t.done) fire(r, "success", { result: data.get(k) }); }); return r; },
        put(v, k) { const r = {}; ops.push(r); queue.push(() => { r.ran = true; if (!t.done) { data.set(k, v); log.push(`put ${k}`); fire(r, "success"); } }); return r; },
        delete(k) { const r = {}; ops.push(r); queue.push(() => { r.ran = true; if (!t.done) { data.delete(k); fire(r, "success"); } }); return r; },
      }),
    };
    // completes once every request made so far has run (a request made in a success handler counts too)
    const complete = () => {
      if (t.done) return;
      if (ops.some((r) => !r.ran)) return queue.push(complete);
      t.done = true;
      fire(t, "complete");
    };
    queue.push(complete);
    return t;
  };
  return {
    data, log,
    /** Runs every queued IndexedDB step (and the ones they queue). */
    async tick() {
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 0));
        while (queue.length) queue.shift()();
      }
    },
    open() {
      const r = {};
      let closed = false;
      queue.push(() => fire(r, "success", { result: { transaction: transaction(() => closed), close: () => { closed = true; log.push("close"); } } }));
      return r;
    },
  };
}

test("suspend (pagehide): the write in flight is aborted, nothing starts until resume (pageshow), then it is written", async () => {
  const idb = fakeIndexedDB();
  globalThis.indexedDB = idb;
  const s = openStore("shop", "abc");
  const none = s.load();
  await idb.tick(); // the database is open
  assert.equal(await none, null);
  const saved = s.save(new Uint8Array([1, 2, 3]), 5);
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0)); // its transaction is created, not run
  s.suspend(); // pagehide
  assert.deepEqual(idb.log, ["abort readwrite"], "the transaction in flight is aborted");
  await idb.tick();
  assert.ok(idb.log.includes("close"), `connection closed: ${idb.log}`);
  const later = s.load(); // started while suspended: waits
  await idb.tick();
  assert.equal(idb.data.size, 0, "nothing written while suspended");
  assert.equal(localStorage.getItem("nextclick:shop:state:abc"), null, "no localStorage fallback either");
  s.resume(); // pageshow
  for (let i = 0; i < 3; i++) await idb.tick();
  assert.equal(await saved, "indexeddb", "the cut-short write is done after resume");
  const got = await later;
  assert.ok(got && got.where === "indexeddb" && got.seq === 5, JSON.stringify(got));
  delete globalThis.indexedDB;
});

test("suspend (pagehide) while the database is still opening: no transaction starts until resume (pageshow)", async () => {
  // WebKit froze a transaction begun in the tick after pagehide (the open had just succeeded) in the
  // back-forward cache; the next page's restore waited for it, holding the Web Lock
  const idb = fakeIndexedDB();
  globalThis.indexedDB = idb;
  const s = openStore("shop", "abc");
  const saved = s.save(new Uint8Array([4, 5]), 7); // first use: the open request is in flight
  s.suspend(); // pagehide before the open succeeds
  await idb.tick(); // the open succeeds now
  assert.ok(!idb.log.some((l) => l.startsWith("put")), `nothing written while suspended: ${idb.log}`);
  assert.equal(idb.data.size, 0);
  assert.ok(idb.log.includes("close"), `the connection opened after pagehide is closed: ${idb.log}`);
  s.resume(); // pageshow
  for (let i = 0; i < 3; i++) await idb.tick();
  assert.equal(await saved, "indexeddb", "written after resume");
  assert.equal(idb.data.get("abc").seq, 7);
  delete globalThis.indexedDB;
});

