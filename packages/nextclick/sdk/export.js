// nextclick — the shopper's data export (right of access): everything nextclick keeps about this shopper on
// this device, as one JSON-serialisable object (docs/measure.md, "Export"). Pure module: no DOM, no
// storage; nextclick.js gathers the raw traces (storage.js `inspectAll`, the engine's in-memory state) and
// `buildExport` decodes them.
//
// State bytes are decoded by their documented layout (src/state.rs): magic `NXCLSTA\0`, format version
// (u16 LE), the model's SHA-256 (32 bytes), payload length n (u32 LE), the JSON payload
// `{"items": [item ids], "state": {…}}`, a SHA-256 of everything before it. The readable views below (events
// with item ids, session summaries, the learned heads' sizes) read the payload's known fields and leave
// out what they do not know; the complete payload is in the export too (`stored.snapshots[].payload`).

const MAGIC = "NXCLSTA\0";
/** Format of the export object. */
export const EXPORT_FORMAT = "nextclick-export/1";

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const iso = (ms) => (typeof ms === "number" && Number.isFinite(ms) ? new Date(ms).toISOString() : null);
const utf8 = (s) => new TextEncoder().encode(s).length;

/** base64 of bytes (for the export's raw copies). */
export function base64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * Decodes persisted state bytes: `{formatVersion, modelSha256, checksumOk, payload}` (payload: the parsed
 * JSON), or `{error}` for bytes that are not readable state. `checksumOk` is null where there is no
 * `crypto.subtle` (e.g. an insecure origin).
 */
export async function decodeState(bytes) {
  if (!(bytes instanceof Uint8Array)) return { error: "not bytes" };
  if (bytes.length < 46 + 32 || String.fromCharCode(...bytes.subarray(0, 8)) !== MAGIC) return { error: "not nextclick state (bad magic or truncated)" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const formatVersion = view.getUint16(8, true);
  const n = view.getUint32(42, true);
  if (46 + n + 32 !== bytes.length) return { error: "payload length mismatch", formatVersion };
  let checksumOk = null;
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (subtle) {
    try {
      const sum = new Uint8Array(await subtle.digest("SHA-256", bytes.slice(0, 46 + n)));
      checksumOk = hex(sum) === hex(bytes.subarray(46 + n));
    } catch {
      checksumOk = null;
    }
  }
  let payload;
  try {
    payload = JSON.parse(new TextDecoder().decode(bytes.subarray(46, 46 + n)));
  } catch (e) {
    return { error: `undecodable payload (${e && e.message})`, formatVersion, checksumOk };
  }
  return { formatVersion, modelSha256: hex(bytes.subarray(10, 42)), checksumOk, payload };
}

/**
 * The readable view of a decoded payload: the current session's events (type, item id, time, price), the
 * past sessions' summaries, the counters, and the learned heads' sizes and learning steps.
 */
export function describeState(payload) {
  const items = payload && Array.isArray(payload.items) ? payload.items : [];
  const st = (payload && payload.state) || {};
  const ses = st.sessions || {};
  const itemOf = (i) => (typeof i === "number" && items[i] !== undefined ? items[i] : i);
  const current = (Array.isArray(ses.current) ? ses.current : []).map((e) => ({
    type: e.kind,
    itemId: itemOf(e.item),
    time: iso(e.ts_ms),
    ...(typeof e.price === "number" ? { price: e.price } : {}),
  }));
  const past = (Array.isArray(ses.past) ? ses.past : []).map((p) => ({ start: iso(p.start_ms), end: iso(p.end_ms), events: p.events, purchased: p.purchased }));
  const len = (v) => (Array.isArray(v) ? v.length : 0);
  const ad = st.adapter || {};
  const heads = {
    adapter: { dim: ad.dim, parameters: len(ad.a) + len(ad.b), steps: ad.steps },
    purchase: st.purchase_head ? { parameters: len(st.purchase_head.w) + 1, updates: st.purchase_head.updates } : null,
    exit: st.exit_head ? { parameters: len(st.exit_head.w) + 1, updates: st.exit_head.updates } : null,
  };
  const parameters = heads.adapter.parameters + (heads.purchase ? heads.purchase.parameters : 0) + (heads.exit ? heads.exit.parameters : 0);
  const starts = [ses.current_start_ms, ...(Array.isArray(ses.past) ? ses.past.map((p) => p.start_ms) : [])].filter((x) => typeof x === "number" && x > 0);
  return {
    currentSession: { start: iso(ses.current_start_ms), events: current, eventsSeen: ses.current_count },
    pastSessions: past,
    stats: st.stats || null,
    // the learned part: its size (float32 parameters) and age (learning steps; the oldest session it saw)
    learned: {
      parameters,
      bytes: parameters * 4,
      heads,
      learningSince: starts.length ? iso(Math.min(...starts)) : null,
      pendingIntentInputs: (st.pending_exit ? 1 : 0) + len(st.pending_purchase),
    },
  };
}

function parseJson(s) {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/**
 * The export object. Inputs: `traces` (storage.js `inspectAll`), `memoryBytes` (the engine's
 * `exportState()` of the in-memory state, or null), `pageEvents` (events this page view keeps in memory for
 * a later grant of consent), `status` (`status()`), `shop`. Every byte array is decoded, and kept as base64
 * where it is not readable.
 * @param {{ traces?: any, memoryBytes?: Uint8Array | null, pageEvents?: any[], status?: any, shop?: string }} input
 */
export async function buildExport({ traces, memoryBytes = null, pageEvents = [], status = {}, shop }) {
  const t = traces || { indexeddb: [], localStorage: [] };
  const snapshots = [];
  const journal = [];
  const other = [];
  let quality = null;
  let bytes = 0;
  for (const db of t.indexeddb) {
    for (const { key, value } of db.records) {
      const b = value && value.bytes instanceof Uint8Array ? value.bytes : null;
      bytes += b ? b.length : utf8(JSON.stringify(value ?? null));
      const snap = { where: "indexeddb", database: db.database, key: String(key), bytes: b ? b.length : 0, savedAt: iso(value && value.savedAt), seq: value ? value.seq : undefined, covers: value ? value.covers : undefined };
      snapshots.push(await withDecoded(snap, b, value));
    }
  }
  for (const { key, value } of t.localStorage) {
    const size = utf8(key) + utf8(value || "");
    bytes += size;
    const v = parseJson(value);
    const m = /^nextclick:(.+?):(journal|state|quality)(?::(.*))?$/.exec(key);
    if (m && m[2] === "journal" && Array.isArray(v)) {
      for (const e of v) if (e && e.event) journal.push({ tab: m[3] || "", seq: e.seq, time: iso(e.event.timestamp ?? e.seq / 1000), event: e.event });
    } else if (m && m[2] === "state" && v && typeof v.b64 === "string") {
      let b = null;
      try {
        b = Uint8Array.from(atob(v.b64), (c) => c.charCodeAt(0));
      } catch {
        b = null;
      }
      snapshots.push(await withDecoded({ where: "localstorage", key, bytes: b ? b.length : 0, seq: v.seq, covers: v.covers }, b, v));
    } else if (m && m[2] === "quality" && v && typeof v === "object") {
      quality = { key, ...v };
    } else other.push({ key, bytes: size, value });
  }
  journal.sort((a, b) => a.seq - b.seq);
  let memory = null;
  if (memoryBytes instanceof Uint8Array) {
    const d = await decodeState(memoryBytes);
    memory = d.payload ? describeState(d.payload) : { error: d.error };
  }
  const learned = memory && memory.learned ? memory.learned : (snapshots.find((s) => s.learned) || {}).learned || null;
  return {
    format: EXPORT_FORMAT,
    exportedAt: new Date().toISOString(),
    shop: shop ?? status.shop ?? null,
    origin: typeof location !== "undefined" ? location.origin : null,
    consent: status.consent ?? null,
    // where the traces are (whatever the consent now: a snapshot stored with an earlier consent shows here)
    storage: {
      kind: snapshots.some((s) => s.where === "indexeddb") ? "indexeddb" : t.localStorage.length ? "localstorage" : "none",
      bytes,
      records: t.indexeddb.reduce((n, db) => n + db.records.length, 0) + t.localStorage.length,
    },
    // what is stored on this device (IndexedDB, localStorage): kept across page views, with consent only
    stored: { snapshots, journal, quality, other },
    // what this page view holds in memory: the engine's state (stored + this page's events), and events
    // kept for a later grant of consent
    memory: { state: memory, pageEvents: pageEvents.map((e) => ({ ...e, time: iso(e.timestamp) })) },
    learned,
    counters: { stats: status.stats ?? null, features: status.features ?? null, dropped: status.dropped ?? 0, quality: status.quality ?? null },
    network: { bytesSent: status.bytesSent ?? 0, requests: status.requests ?? 0 },
  };
}

async function withDecoded(base, bytes, raw) {
  if (!bytes) return { ...base, error: "not state bytes", raw: raw === undefined ? null : raw };
  const d = await decodeState(bytes);
  if (!d.payload) return { ...base, error: d.error, formatVersion: d.formatVersion, checksumOk: d.checksumOk, base64: base64(bytes) };
  return { ...base, formatVersion: d.formatVersion, modelSha256: d.modelSha256, checksumOk: d.checksumOk, ...describeState(d.payload), payload: d.payload };
}
