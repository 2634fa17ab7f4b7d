// nextclick — on-device measurement of whether predictions help (docs/measure.md). Pure module: no DOM, no
// storage, importable from node; nextclick.js feeds it and persists its record (with consent only).
//
// What is counted, on the device, nothing sent:
// * hit@K and MRR over *scored events*: a tracked event is scored when a prediction (the runtime's own
//   top-K, K = init option `k`) was computed in this page view before the event reached the runtime, and
//   the event is not a repeat of the previous event's item (click → product view → add to cart of one item
//   is one step, not three) nor a double-fired duplicate. A hit: its item is in that top-K, at rank r
//   (1-based); MRR averages 1/r (0 for a miss).
// * impressions: a list of predicted items put on screen. Reported by whatever renders predictions with
//   `nextclick("impression", items)`; until the first such report in a page view, each emitted prediction
//   with items that differ from the previous emission counts as one (the list assumed shown in full).
// * clicks: click events on an item of an impression of this page view.
// * conversions: a cart or purchase event of an item clicked while it was predicted (in the top-K in force,
//   or shown), in the same session; each (item, cart | purchase) counts once per click.
// * the A/B holdout: a device's group is a deterministic hash of a random id (`assignGroup`); the holdout
//   group is shown no predictions, but its would-be predictions are computed and scored the same way.
//
// Memory is bounded: fixed counters, at most SHOWN_MAX shown items and ATTRIBUTABLE_MAX clicked items.

/** Event types the counters break down by (the core's five). */
export const EVENT_TYPES = ["view", "click", "cart", "remove_from_cart", "purchase"];
/** Items of this page view's impressions remembered for click attribution. */
export const SHOWN_MAX = 64;
/** Clicked predicted items remembered (within the session) for conversion attribution. */
export const ATTRIBUTABLE_MAX = 16;
/** A repeat of (type, item) within this many ms is a double-fired duplicate (the core's default window). */
export const DUPLICATE_MS = 1000;
/** Version of the persisted record (`record()` / `load()`). */
export const RECORD_VERSION = 1;

/** Counters all zero. Every field is additive (see `addCounters`). */
export function emptyCounters() {
  const byType = {};
  for (const t of EVENT_TYPES) byType[t] = { events: 0, hits: 0 };
  return { events: 0, hits: 0, rr: 0, impressions: 0, impressedItems: 0, clicks: 0, conversions: 0, purchases: 0, byType };
}

/** `a + b`, field by field (missing or non-finite fields of a record read back count as 0). */
export function addCounters(a, b) {
  const out = emptyCounters();
  const num = (v) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);
  for (const k of Object.keys(out)) {
    if (k === "byType") continue;
    out[k] = num(a && a[k]) + num(b && b[k]);
  }
  for (const t of EVENT_TYPES) {
    const x = (a && a.byType && a.byType[t]) || {};
    const y = (b && b.byType && b.byType[t]) || {};
    out.byType[t] = { events: num(x.events) + num(y.events), hits: num(x.hits) + num(y.hits) };
  }
  return out;
}

/**
 * A uniform number in [0, 1) from a string: FNV-1a (32 bit) over its UTF-16 code units, then murmur3's
 * finaliser (so that ids differing in one character spread over the whole interval).
 */
export function unitHash(s) {
  let h = 0x811c9dc5;
  const str = String(s);
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/**
 * The A/B group of a device id for a holdout fraction in [0, 1]: "holdout" when `unitHash(id) < fraction`.
 * Stable (a function of the id only) and monotone: raising the fraction only moves treatment devices into
 * the holdout, never the other way.
 */
export function assignGroup(id, fraction) {
  const f = holdoutFraction(fraction);
  if (f <= 0 || id == null) return "treatment";
  return unitHash(id) < f ? "holdout" : "treatment";
}

/** The init option `holdout` as a fraction in [0, 1] (anything else is 0: no holdout). */
export function holdoutFraction(v) {
  return typeof v === "number" && Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}

/** Item ids of `items`: strings, or objects with `itemId` (a `Prediction`). At most `max`; others dropped. */
export function itemIds(items, max = 50) {
  if (!Array.isArray(items)) return null;
  const out = [];
  for (const it of items.slice(0, max)) {
    const id = typeof it === "string" ? it : it && typeof it.itemId === "string" ? it.itemId : null;
    if (id !== null && id.length > 0 && id.length <= 256) out.push(id);
  }
  return out;
}

/**
 * One page view's measurement. `k`: the K of hit@K (the runtime's prediction length); `holdout`: the
 * fraction; `id`: the device id (a random id: per page view without consent, the stored one with it; only
 * used when `holdout` > 0); `sessionTimeoutMs`: a longer gap between events starts a new session (clears
 * the conversion attribution); `now`: the clock (ms).
 */
export function createQuality({ k = 8, holdout = 0, id = null, sessionTimeoutMs = 30 * 60000, now = () => Date.now() } = {}) {
  const fraction = holdoutFraction(holdout);
  let deviceId = fraction > 0 ? id : null;
  let group = assignGroup(deviceId, fraction);
  let stored = emptyCounters(); // the persisted totals as of the last read / write (zero without consent)
  let delta = emptyCounters(); // counted since then
  let since = now();
  let prediction = null; // item ids of the prediction in force (computed before the next event), or null
  let last = null; // {type, item, t} of the previous observed event of this page view
  let lastAt = 0; // time of the latest event (persisted: sessions span page views)
  let attributable = []; // [{item, t, done: [types converted]}], newest last
  const shown = new Set(); // items of this page view's impressions (insertion order = age)
  let lastEmitted = "";
  let reported = false; // the page reports impressions itself (`impression`): emissions no longer count

  /** Applies `f` to the pending counts; returns true (a counter changed). */
  const count = (f) => {
    f(delta);
    return true;
  };

  const q = {
    get group() {
      return group;
    },
    get id() {
      return deviceId;
    },
    /** The prediction now in force (computed, whether shown or held out): its item ids, best first. */
    setPrediction(ids) {
      prediction = Array.isArray(ids) ? ids.slice(0, Math.max(k, 1)) : null;
    },
    /**
     * Counts a batch of core events `{type, itemId, timestamp?}` (one `track` call), in order. Called when
     * the event reaches the runtime, before the engine sees it. Returns true if a counter changed.
     */
    observe(events) {
      let changed = false;
      for (const ev of events) {
        const item = ev && ev.itemId;
        const type = ev && ev.type;
        if (typeof item !== "string" || !EVENT_TYPES.includes(type)) continue;
        const t = typeof ev.timestamp === "number" && Number.isFinite(ev.timestamp) ? (ev.timestamp < 1e11 ? ev.timestamp * 1000 : ev.timestamp) : now();
        if (lastAt && t - lastAt > sessionTimeoutMs) attributable = []; // a new session: no attribution across it
        if (last && last.type === type && last.item === item && Math.abs(t - last.t) < DUPLICATE_MS) continue; // double-fired
        const rank = prediction ? prediction.indexOf(item) + 1 : 0;
        if (prediction && !(last && last.item === item)) {
          changed = count((d) => {
            d.events++;
            d.byType[type].events++;
            if (rank > 0) {
              d.hits++;
              d.rr += 1 / rank;
              d.byType[type].hits++;
            }
          });
        }
        if (type === "click") {
          if (shown.has(item)) changed = count((d) => d.clicks++);
          if (rank > 0 || shown.has(item)) {
            attributable = attributable.filter((a) => a.item !== item);
            attributable.push({ item, t, done: [] });
            if (attributable.length > ATTRIBUTABLE_MAX) attributable.splice(0, attributable.length - ATTRIBUTABLE_MAX);
            changed = true;
          }
        } else if (type === "cart" || type === "purchase") {
          const a = attributable.find((x) => x.item === item);
          if (a && !a.done.includes(type)) {
            a.done.push(type);
            changed = count((d) => {
              d.conversions++;
              if (type === "purchase") d.purchases++;
            });
          }
        }
        last = { type, item, t };
        lastAt = Math.max(lastAt, t);
      }
      return changed;
    },
    /**
     * An impression of `ids` (item ids, best first). `source` "reported" (the page called
     * `nextclick("impression", …)`) or "emitted" (a prediction was emitted; ignored once the page reports
     * its own, and when the list is the one emitted last). Returns the number of items counted.
     */
    impression(ids, source = "reported") {
      if (source === "reported") reported = true;
      else {
        const key = JSON.stringify(ids);
        if (reported || key === lastEmitted) return 0;
        lastEmitted = key;
      }
      if (!ids.length) return 0;
      for (const id of ids) {
        shown.delete(id);
        shown.add(id);
      }
      while (shown.size > SHOWN_MAX) shown.delete(shown.values().next().value);
      count((d) => {
        d.impressions++;
        d.impressedItems += ids.length;
      });
      return ids.length;
    },
    /** Is anything counted that the stored record does not hold yet (counts, or clicks to attribute)? */
    hasPending() {
      return JSON.stringify(delta) !== JSON.stringify(emptyCounters()) || attributable.length > 0;
    },
    /** The counters as `status().quality` shows them (plus the fields of the caller's choosing). */
    snapshot(extra = {}) {
      const c = addCounters(stored, delta);
      const rate = (x, n) => (n > 0 ? x / n : 0);
      const byType = {};
      for (const t of EVENT_TYPES) byType[t] = { ...c.byType[t], hitAtK: rate(c.byType[t].hits, c.byType[t].events) };
      return {
        group,
        holdout: fraction,
        k,
        since,
        impressionSource: reported ? "reported" : "emitted",
        events: c.events,
        hits: c.hits,
        hitAtK: rate(c.hits, c.events),
        mrr: rate(c.rr, c.events),
        impressions: c.impressions,
        impressedItems: c.impressedItems,
        clicks: c.clicks,
        ctr: rate(c.clicks, c.impressedItems),
        conversions: c.conversions,
        purchases: c.purchases,
        byType,
        ...extra,
      };
    },
    /**
     * Takes a persisted record (from `record()`, or null): adopts its device id (and so its group) and
     * its totals. This page view's counts so far are kept if the group is the same, dropped otherwise
     * (they were counted under the other group's experience). Returns true if the group changed.
     */
    load(rec) {
      const ok = validRecord(rec);
      const before = group;
      if (ok && fraction > 0 && typeof rec.id === "string") deviceId = rec.id;
      group = assignGroup(deviceId, fraction);
      if (group !== before) {
        delta = emptyCounters();
        since = now();
      }
      if (ok && rec.group === group) {
        stored = addCounters(rec.totals, null);
        since = Math.min(since, Number(rec.since) || since);
        lastAt = Math.max(lastAt, Number(rec.lastAt) || 0);
        attributable = mergeAttributable(rec.attributable, attributable);
      } else stored = emptyCounters();
      return group !== before;
    },
    /**
     * The record to persist, given the one stored now (`current`, read just before writing: another tab
     * may have added to it): its totals plus what this page counted since the last write. Resets the
     * page's pending counts (they are in the record).
     */
    record(current) {
      const same = validRecord(current) && current.group === group && (current.id ?? null) === deviceId;
      stored = addCounters(same ? current.totals : stored, delta);
      delta = emptyCounters();
      if (same) {
        attributable = mergeAttributable(current.attributable, attributable);
        since = Math.min(since, Number(current.since) || since);
        lastAt = Math.max(lastAt, Number(current.lastAt) || 0);
      }
      const rec = { v: RECORD_VERSION, group, since, lastAt, totals: stored, attributable: attributable.map((a) => ({ ...a, done: [...a.done] })) };
      if (deviceId) rec.id = deviceId;
      return rec;
    },
    /** Forgets everything: counters, attribution, the prediction in force; a new device id (`newId`). */
    reset(newId = null) {
      deviceId = fraction > 0 ? newId : null;
      group = assignGroup(deviceId, fraction);
      stored = emptyCounters();
      delta = emptyCounters();
      since = now();
      prediction = null;
      last = null;
      lastAt = 0;
      attributable = [];
      shown.clear();
      lastEmitted = "";
      reported = false;
    },
  };
  return q;
}

function validRecord(r) {
  return !!r && typeof r === "object" && r.v === RECORD_VERSION && (r.group === "treatment" || r.group === "holdout") && !!r.totals && typeof r.totals === "object";
}

/** The union of two attribution lists by item (the later click wins), newest last, bounded. */
function mergeAttributable(a, b) {
  const all = [...(Array.isArray(a) ? a : []), ...(Array.isArray(b) ? b : [])].filter(
    (x) => x && typeof x.item === "string" && typeof x.t === "number" && Number.isFinite(x.t),
  );
  const byItem = new Map();
  for (const x of all.sort((p, q) => p.t - q.t)) {
    const prev = byItem.get(x.item);
    const done = [...new Set([...(prev && prev.t === x.t ? prev.done : []), ...(Array.isArray(x.done) ? x.done : [])])].filter((d) => d === "cart" || d === "purchase");
    byItem.delete(x.item);
    byItem.set(x.item, { item: x.item, t: x.t, done });
  }
  return [...byItem.values()].slice(-ATTRIBUTABLE_MAX);
}

// ── Local differential privacy ───────────────────────────────────────────────────────────────────────

/**
 * The binary questions a report can answer about one device, from its `status().quality` counters. Rates
 * are binarised by a coin: `hit` is 1 with probability hitAtK, so its mean over devices is the mean hit@K
 * (inactive devices, without scored events, answer 0).
 */
export const LDP_FIELDS = {
  active: (q) => (q.events > 0 ? 1 : 0),
  hit: (q, random) => (q.events > 0 && random() < q.hitAtK ? 1 : 0),
  mrr: (q, random) => (q.events > 0 && random() < q.mrr ? 1 : 0),
  clicked: (q) => (q.clicks > 0 ? 1 : 0),
  converted: (q) => (q.conversions > 0 ? 1 : 0),
  purchased: (q) => (q.purchases > 0 ? 1 : 0),
};
/** The fields reported by default. */
export const LDP_DEFAULT_FIELDS = ["active", "hit", "converted"];
/** The default privacy budget of one report: ε = ln 3 (for a single field: the truth with probability 3/4). */
export const LDP_DEFAULT_EPSILON = Math.log(3);

/** A uniform number in [0, 1) from the platform's CSPRNG (Math.random only where there is none). */
function secureRandom() {
  const c = globalThis.crypto;
  if (c && typeof c.getRandomValues === "function") return c.getRandomValues(new Uint32Array(1))[0] / 4294967296;
  return Math.random();
}

/**
 * A report of `quality` (a `status().quality`) under ε-local differential privacy, for the shop to collect
 * and aggregate itself; it sends nothing. Each field is a bit answered by randomised response: the true
 * bit with probability p = e^(ε/m) / (1 + e^(ε/m)), its flip otherwise, with the budget ε split evenly
 * over the m fields (sequential composition: the report as a whole is ε-LDP). `group` is reported as it is:
 * it is a function of a random id only, independent of anything the shopper did.
 *
 * Options: `epsilon` (default ln 3), `fields` (names of LDP_FIELDS, default LDP_DEFAULT_FIELDS), `random`
 * (a () → [0, 1) source, default the CSPRNG; tests pass a seeded one).
 */
export function ldpReport(quality, { epsilon = LDP_DEFAULT_EPSILON, fields = LDP_DEFAULT_FIELDS, random = secureRandom } = {}) {
  if (!quality || typeof quality !== "object") throw new Error("nextclick: ldpReport needs status().quality");
  if (typeof epsilon !== "number" || !Number.isFinite(epsilon) || epsilon <= 0 || epsilon > 20) throw new Error(`nextclick: ldpReport: epsilon must be a number in (0, 20], got ${String(epsilon)}`);
  if (!Array.isArray(fields) || fields.length === 0 || new Set(fields).size !== fields.length || !fields.every((f) => Object.prototype.hasOwnProperty.call(LDP_FIELDS, f))) {
    throw new Error(`nextclick: ldpReport: fields must be distinct names of ${Object.keys(LDP_FIELDS).join(", ")}`);
  }
  const perField = epsilon / fields.length;
  const p = keepProbability(perField);
  const bits = {};
  for (const f of fields) {
    const truth = LDP_FIELDS[f](quality, random);
    bits[f] = random() < p ? truth : 1 - truth;
  }
  return { kind: "nextclick-quality-ldp", v: 1, group: quality.group, k: quality.k, epsilon, epsilonPerField: perField, p, fields: [...fields], bits };
}

/** Randomised response's probability of answering truthfully at budget ε: e^ε / (1 + e^ε). */
export function keepProbability(epsilon) {
  return Math.exp(epsilon) / (1 + Math.exp(epsilon));
}

/**
 * The aggregator's side, for one field over reports of one configuration (same p): the unbiased estimate
 * of the fraction of devices whose true bit is 1, π̂ = (ȳ − (1 − p)) / (2p − 1), with ȳ the fraction of
 * reported 1s, and its standard error √(ȳ(1 − ȳ) / n) / (2p − 1). Reports without the field are skipped.
 */
export function ldpEstimate(reports, field) {
  const rs = (reports || []).filter((r) => r && r.bits && (r.bits[field] === 0 || r.bits[field] === 1));
  const n = rs.length;
  if (!n) return { n: 0, observed: 0, estimate: NaN, stderr: NaN };
  const p = rs[0].p;
  if (!rs.every((r) => r.p === p)) throw new Error("nextclick: ldpEstimate: reports made with different epsilons (estimate each p apart)");
  const y = rs.reduce((s, r) => s + r.bits[field], 0) / n;
  return { n, observed: y, estimate: (y - (1 - p)) / (2 * p - 1), stderr: Math.sqrt((y * (1 - y)) / n) / (2 * p - 1) };
}
