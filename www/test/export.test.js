// The shopper's data export (packages/nextclick/sdk/export.js, docs/measure.md), in Node: state bytes made by
// the real core (the release wasm, www/pkg, run here under Node) are decoded by their documented layout —
// so a change of the core's persisted format that the export does not follow fails here — and an export
// built from stored traces holds every event, the journal, the counters, and nothing undecoded.
// Skips with a message without www/pkg (`make wasm-release`); fails under CI=true.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { REPO, WWW } from "../support/harness.js";
import { buildExport, decodeState, describeState, EXPORT_FORMAT } from "../../packages/nextclick/sdk/export.js";

const WASM = path.join(WWW, "pkg/nextclick_bg.wasm");
const missing = existsSync(WASM) ? null : `${WASM} is missing (make wasm-release)`;
if (missing && process.env.CI !== "true") console.log(`# export: SKIPPED, ${missing}`);

/** A core Predictor on the demo's model and catalog, learning on (consent granted). */
async function predictor() {
  const glue = await import(path.join(WWW, "pkg/nextclick.js"));
  glue.initSync({ module: readFileSync(WASM) });
  const p = glue.Predictor.create(readFileSync(path.join(REPO, "models/default.onnx")), readFileSync(path.join(WWW, "demo/catalog.bin")), undefined);
  p.setLearning(true);
  return p;
}

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);
const EVENTS = [
  { type: "view", itemId: "p-0001", timestamp: T0 - 3 * 3600e3 },
  { type: "purchase", itemId: "p-0001", timestamp: T0 - 3 * 3600e3 + 60e3 }, // a past session
  { type: "view", itemId: "p-0010", timestamp: T0 },
  { type: "click", itemId: "p-0020", timestamp: T0 + 5000 },
  { type: "cart", itemId: "p-0020", timestamp: T0 + 9000, price: 12.5 },
];

test("decodeState reads the core's exported state: events with item ids, past sessions, counters, the learned heads' size", { skip: missing && process.env.CI !== "true" ? missing : false }, async () => {
  assert.equal(missing, null, missing);
  const p = await predictor();
  for (const e of EVENTS) p.track(e);
  const bytes = p.exportState();
  const d = await decodeState(bytes);
  assert.equal(d.error, undefined, d.error);
  assert.equal(d.formatVersion, 2);
  assert.equal(d.modelSha256, p.modelSha256);
  assert.equal(d.checksumOk, true);
  const v = describeState(d.payload);
  assert.deepEqual(
    v.currentSession.events.map((e) => [e.type, e.itemId, e.time]),
    EVENTS.slice(2).map((e) => [e.type, e.itemId, new Date(e.timestamp).toISOString()]),
  );
  assert.equal(v.currentSession.events[2].price, 12.5);
  assert.equal(v.pastSessions.length, 1);
  assert.equal(v.pastSessions[0].purchased, true);
  assert.equal(v.pastSessions[0].events, 2);
  assert.equal(v.stats.accepted, EVENTS.length);
  const dim = v.learned.heads.adapter.dim;
  assert.ok(dim > 0);
  assert.equal(v.learned.heads.adapter.parameters, dim * dim + dim);
  assert.ok(v.learned.heads.adapter.steps >= 1, "the adapter learned from the continuing events");
  assert.equal(v.learned.bytes, v.learned.parameters * 4);
  assert.equal(v.learned.learningSince, new Date(EVENTS[0].timestamp).toISOString());
  // every event of the current session is in the readable view: nothing of it is left only in the payload
  assert.equal(v.currentSession.events.length, d.payload.state.sessions.current.length);
  // tampered bytes: the checksum says so
  const bad = bytes.slice();
  bad[60] ^= 1;
  assert.equal((await decodeState(bad)).checksumOk, false);
  assert.match((await decodeState(new Uint8Array(10))).error, /bad magic/);
  // a forgotten predictor exports no events
  p.forget();
  const empty = describeState((await decodeState(p.exportState())).payload);
  assert.deepEqual([empty.currentSession.events.length, empty.pastSessions.length, empty.learned.heads.adapter.steps], [0, 0, 0]);
  p.free();
});

test("buildExport: stored snapshots (IndexedDB and the localStorage fallback), journal, quality record, other keys, memory — JSON-serialisable", { skip: missing && process.env.CI !== "true" ? missing : false }, async () => {
  assert.equal(missing, null, missing);
  const p = await predictor();
  for (const e of EVENTS.slice(0, 3)) p.track(e);
  const stored = p.exportState();
  p.track(EVENTS[3]);
  const memory = p.exportState();
  p.free();
  const journal = [{ seq: (T0 + 5000) * 1000, event: EVENTS[3] }];
  const traces = {
    indexeddb: [{ database: "nextclick:shop", records: [{ key: "abc", value: { bytes: stored, seq: 1, covers: { t1: 1 }, savedAt: T0, rev: "r" } }] }],
    localStorage: [
      { key: "nextclick:shop:journal:t2", value: JSON.stringify(journal) },
      { key: "nextclick:shop:quality", value: JSON.stringify({ v: 1, group: "treatment", totals: { hits: 1 } }) },
      { key: "nextclick:shop:state:abc", value: JSON.stringify({ b64: Buffer.from(stored).toString("base64"), seq: 1 }) },
      { key: "nextclick:shop:unknown", value: "xyz" },
    ],
  };
  const status = { consent: "granted", storage: "indexeddb", stats: { accepted: 4 }, quality: { hits: 1 }, bytesSent: 0, requests: 6 };
  const x = await buildExport({ traces, memoryBytes: memory, pageEvents: [{ type: "view", itemId: "p-0099", timestamp: T0 }], status, shop: "shop" });
  assert.equal(x.format, EXPORT_FORMAT);
  assert.equal(x.stored.snapshots.length, 2);
  const [idb, ls] = x.stored.snapshots;
  assert.equal(idb.where, "indexeddb");
  assert.equal(ls.where, "localstorage");
  for (const s of [idb, ls]) {
    assert.equal(s.checksumOk, true);
    assert.deepEqual(s.currentSession.events.map((e) => e.itemId), ["p-0010"]);
    assert.equal(s.pastSessions.length, 1);
    assert.ok(s.payload.state.adapter, "the complete payload is exported too");
  }
  assert.equal(idb.savedAt, new Date(T0).toISOString());
  assert.deepEqual(x.stored.journal.map((e) => [e.tab, e.event.itemId]), [["t2", "p-0020"]]);
  assert.equal(x.stored.quality.group, "treatment");
  assert.deepEqual(x.stored.other.map((o) => o.key), ["nextclick:shop:unknown"]);
  assert.deepEqual(x.memory.state.currentSession.events.map((e) => e.itemId), ["p-0010", "p-0020"]);
  assert.deepEqual(x.memory.pageEvents.map((e) => e.itemId), ["p-0099"]);
  assert.ok(x.learned.parameters > 0);
  assert.equal(x.storage.records, 5);
  assert.ok(x.storage.bytes > stored.length * 2, `${x.storage.bytes} bytes`);
  assert.deepEqual(x.network, { bytesSent: 0, requests: 6 });
  // JSON-serialisable: no bytes, no undefined-only values lost that matter
  const round = JSON.parse(JSON.stringify(x));
  assert.deepEqual(round.stored.snapshots[0].currentSession, idb.currentSession);
  assert.ok(!JSON.stringify(x).includes('"bytes":{'), "no typed array in the export");
  // nothing stored, nothing in memory: an empty export
  const none = await buildExport({ traces: { indexeddb: [], localStorage: [] }, status: { consent: "pending" } });
  assert.deepEqual([none.stored.snapshots, none.stored.journal, none.stored.quality, none.stored.other, none.memory.state, none.learned], [[], [], null, [], null, null]);
  assert.equal(none.storage.bytes, 0);
});
