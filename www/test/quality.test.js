// On-device measurement (packages/nextclick/sdk/quality.js, docs/measure.md), in Node: what counts as a
// scored event, hit@K and MRR, impressions (emitted vs reported), clicks on shown items, conversions after
// a click on a predicted item, the persisted record (two tabs adding up, a group change), the holdout
// assignment (stable, the fraction over many ids, monotone), and the local-differential-privacy report
// (randomised response is unbiased, checked statistically with a seeded RNG).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  createQuality, assignGroup, unitHash, addCounters, emptyCounters, itemIds, ldpReport, ldpEstimate, keepProbability,
  LDP_DEFAULT_EPSILON, LDP_DEFAULT_FIELDS, SHOWN_MAX, ATTRIBUTABLE_MAX,
} from "../../packages/nextclick/sdk/quality.js";

/** A deterministic uniform [0, 1) source (mulberry32). */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A clock the test moves by hand. */
function clock(t0 = 1.7e12) {
  const c = { t: t0, now: () => c.t };
  return c;
}

const ev = (type, itemId, timestamp) => ({ type, itemId, timestamp });

test("hit@K and MRR over scored events: rank r gives 1/r, a miss 0; no prediction yet, a repeat of the previous item or a duplicate is not scored", () => {
  const c = clock();
  const q = createQuality({ k: 4, now: c.now });
  // before any prediction of this page view: not scored (the product page's own view, say)
  assert.equal(q.observe([ev("view", "a", c.t)]), false);
  assert.equal(q.snapshot().events, 0);
  q.setPrediction(["b", "c", "d", "e"]);
  q.observe([ev("view", "c", (c.t += 5000))]); // rank 2
  q.observe([ev("view", "c", (c.t += 200))]); // a duplicate (same type and item within 1 s): not counted at all
  q.observe([ev("cart", "c", (c.t += 5000))]); // the same item as the previous event: a continuation, not scored
  q.observe([ev("click", "z", (c.t += 5000))]); // a miss
  q.setPrediction(["z", "b"]); // a new prediction
  q.observe([ev("view", "b", (c.t += 5000))]); // rank 2 again
  q.observe([ev("purchase", "e", (c.t += 5000)), ev("view", "y", c.t + 1)]); // a miss, then (same batch) a miss
  const s = q.snapshot();
  assert.equal(s.events, 5);
  assert.equal(s.hits, 2);
  assert.equal(s.hitAtK, 2 / 5);
  assert.ok(Math.abs(s.mrr - (1 / 2 + 1 / 2) / 5) < 1e-12, String(s.mrr));
  assert.deepEqual(s.byType.view, { events: 3, hits: 2, hitAtK: 2 / 3 });
  assert.deepEqual(s.byType.click, { events: 1, hits: 0, hitAtK: 0 });
  assert.equal(s.byType.cart.events, 0, "the cart of the item just viewed was not scored");
  assert.equal(s.k, 4);
  assert.equal(s.group, "treatment");
  // seconds are accepted as timestamps (as the core accepts them)
  const q2 = createQuality({ now: c.now });
  q2.setPrediction(["a"]);
  q2.observe([ev("view", "a", 1.7e9)]);
  assert.equal(q2.snapshot().hits, 1);
});

test("impressions: emitted predictions count until the page reports its own; clicks count only on shown items; conversions follow a click on a predicted item in the same session", () => {
  const c = clock();
  const q = createQuality({ k: 3, now: c.now, sessionTimeoutMs: 30 * 60000 });
  q.setPrediction(["a", "b", "c"]);
  assert.equal(q.impression(["a", "b", "c"], "emitted"), 3);
  assert.equal(q.impression(["a", "b", "c"], "emitted"), 0, "the same list emitted again is not a new impression");
  assert.equal(q.snapshot().impressionSource, "emitted");
  q.observe([ev("click", "b", (c.t += 1000))]); // shown and predicted: a click, a hit, attributable
  q.observe([ev("view", "b", (c.t += 1000))]); // the product page of the click: a continuation
  q.observe([ev("cart", "b", (c.t += 1000))]); // a conversion
  q.observe([ev("cart", "b", (c.t += 5000))]); // the same item's cart again: no second conversion for that click
  q.observe([ev("purchase", "b", (c.t += 5000))]); // its purchase: the second conversion
  q.observe([ev("click", "x", (c.t += 1000))]); // not shown, not predicted
  q.observe([ev("cart", "x", (c.t += 1000))]); // no conversion: "x" was not a predicted item
  let s = q.snapshot();
  assert.equal(s.impressions, 1);
  assert.equal(s.impressedItems, 3);
  assert.equal(s.clicks, 1);
  assert.equal(s.ctr, 1 / 3);
  assert.equal(s.conversions, 2);
  assert.equal(s.purchases, 1);
  // the page reports impressions itself (a widget): emissions stop counting
  assert.equal(q.impression(["d", "e"], "reported"), 2);
  assert.equal(q.impression(["f"], "emitted"), 0);
  assert.equal(q.snapshot().impressionSource, "reported");
  q.observe([ev("click", "e", (c.t += 1000))]); // shown (reported), not in the prediction in force
  s = q.snapshot();
  assert.equal(s.impressions, 2);
  assert.equal(s.clicks, 2);
  // a click on a predicted item, then a new session (30 min of quiet): the cart after it is not attributed
  q.setPrediction(["m"]);
  q.observe([ev("click", "m", (c.t += 1000))]);
  q.observe([ev("cart", "m", (c.t += 31 * 60000))]);
  assert.equal(q.snapshot().conversions, 2);
  // in the holdout group nothing is shown, but a click on a would-be predicted item still converts
  const h = createQuality({ k: 3, holdout: 1, id: "device", now: c.now });
  assert.equal(h.group, "holdout");
  h.setPrediction(["p", "q"]);
  h.observe([ev("click", "q", (c.t += 1000))]);
  h.observe([ev("view", "q", (c.t += 1000))]);
  h.observe([ev("purchase", "q", (c.t += 1000))]);
  const hs = h.snapshot();
  assert.deepEqual([hs.events, hs.hits, hs.impressions, hs.clicks, hs.conversions, hs.purchases], [1, 1, 0, 0, 1, 1]);
});

test("bounded memory: at most SHOWN_MAX shown items and ATTRIBUTABLE_MAX attributable clicks, whatever the page does", () => {
  const c = clock();
  const q = createQuality({ k: 50, now: c.now });
  for (let i = 0; i < 1000; i++) q.impression([`s${i}`], "reported");
  q.observe([ev("click", "s0", (c.t += 1000))]); // long forgotten
  q.observe([ev("click", `s${999 - SHOWN_MAX + 1}`, (c.t += 1000))]); // still remembered
  assert.equal(q.snapshot().clicks, 1);
  const ids = Array.from({ length: 50 }, (_, i) => `p${i}`);
  q.setPrediction(ids);
  for (const id of ids) q.observe([ev("click", id, (c.t += 1000))]);
  const rec = q.record(null);
  assert.equal(rec.attributable.length, ATTRIBUTABLE_MAX);
  assert.deepEqual(rec.attributable.map((a) => a.item), ids.slice(-ATTRIBUTABLE_MAX));
  assert.ok(JSON.stringify(rec).length < 4096, `record of ${JSON.stringify(rec).length} chars`);
});

test("the persisted record: totals add up across page views and tabs; a page's counts are dropped when the stored device is in the other group", () => {
  const c = clock();
  // page view 1 (consent granted): counts, writes
  const p1 = createQuality({ k: 2, holdout: 0.5, id: "id-1", now: c.now });
  p1.load(null);
  p1.setPrediction(["a", "b"]);
  p1.observe([ev("view", "a", (c.t += 1000))]);
  let stored = p1.record(null);
  assert.equal(stored.id, "id-1");
  assert.equal(stored.totals.hits, 1);
  // page view 2 (another random id at first): adopts the stored device id, hence its group, and its totals
  const p2 = createQuality({ k: 2, holdout: 0.5, id: "id-2", now: c.now });
  p2.load(stored);
  assert.equal(p2.id, "id-1");
  assert.equal(p2.group, assignGroup("id-1", 0.5));
  p2.setPrediction(["c"]);
  // a second tab, open meanwhile, counts and writes first
  const tab = createQuality({ k: 2, holdout: 0.5, id: "id-9", now: c.now });
  tab.load(stored);
  tab.setPrediction(["z"]);
  tab.observe([ev("view", "z", (c.t += 1000))]);
  stored = tab.record(stored);
  p2.observe([ev("view", "c", (c.t += 1000))]);
  stored = p2.record(stored); // adds its own count to what the other tab wrote
  assert.equal(stored.totals.events, 3);
  assert.equal(stored.totals.hits, 3);
  assert.equal(p2.snapshot().hits, 3);
  // written twice in a row: nothing counted twice
  assert.equal(p2.record(stored).totals.hits, 3);
  // the shop raises the fraction: a device whose group changes restarts its counters
  const ids = ["id-1", "x1", "x2", "x3", "x4", "x5", "x6", "x7"];
  const mover = ids.find((id) => assignGroup(id, 0.2) === "treatment" && assignGroup(id, 0.9) === "holdout");
  assert.ok(mover, "some id changes group between 0.2 and 0.9");
  const rec = { ...createQuality({ holdout: 0.2, id: mover }).record(null), totals: { ...emptyCounters(), events: 7, hits: 7 } };
  const p3 = createQuality({ k: 2, holdout: 0.9, id: "other", now: c.now });
  p3.setPrediction(["q"]);
  p3.observe([ev("view", "q", (c.t += 1000))]); // counted while this page view was in its own group
  const before = p3.group;
  const changed = p3.load(rec);
  assert.equal(p3.group, "holdout");
  assert.equal(changed, before !== "holdout");
  assert.equal(p3.snapshot().events, changed ? 0 : 1, "the stored treatment totals are not carried into the holdout");
  // a record of another shape is ignored
  const p4 = createQuality({ now: c.now });
  p4.load({ v: 99, group: "treatment", totals: { hits: 5 } });
  assert.equal(p4.snapshot().hits, 0);
  assert.deepEqual(addCounters({ hits: -3, events: NaN, byType: { view: { events: "x" } } }, null), emptyCounters(), "garbage reads as zero");
});

test("reset: forget and consent denied clear every counter, the attribution and the prediction in force, and give a new device id", () => {
  const c = clock();
  const q = createQuality({ holdout: 0.3, id: "one", now: c.now });
  q.setPrediction(["a"]);
  q.impression(["a"], "emitted");
  q.observe([ev("click", "a", (c.t += 1000))]);
  q.reset("two");
  assert.equal(q.id, "two");
  assert.equal(q.group, assignGroup("two", 0.3));
  const s = q.snapshot();
  assert.deepEqual([s.events, s.hits, s.impressions, s.clicks, s.conversions], [0, 0, 0, 0, 0]);
  q.observe([ev("cart", "a", (c.t += 1000))]);
  assert.equal(q.snapshot().conversions, 0, "the attribution is gone");
  assert.equal(q.snapshot().events, 0, "no prediction in force after a reset");
  assert.equal(q.record(null).attributable.length, 0);
  // without a holdout no device id is kept at all
  const n = createQuality({ id: "unused" });
  assert.equal(n.id, null);
  assert.equal(n.record(null).id, undefined);
});

test("item ids of an impression: strings or predictions, at most 50, nothing else", () => {
  assert.deepEqual(itemIds(["a", { itemId: "b", score: 1 }, 3, null, "", { id: "c" }, "x".repeat(300)]), ["a", "b"]);
  assert.equal(itemIds("a"), null);
  assert.equal(itemIds(Array.from({ length: 80 }, (_, i) => `p${i}`)).length, 50);
});

test("holdout assignment: stable per id, the configured fraction over many ids, monotone in the fraction", () => {
  const rnd = seeded(42);
  const ids = Array.from({ length: 200000 }, () => Math.floor(rnd() * 2 ** 32).toString(16).padStart(8, "0") + Math.floor(rnd() * 2 ** 32).toString(16).padStart(8, "0"));
  for (const f of [0.01, 0.1, 0.5]) {
    const n = ids.filter((id) => assignGroup(id, f) === "holdout").length;
    const sd = Math.sqrt(ids.length * f * (1 - f));
    assert.ok(Math.abs(n - ids.length * f) < 5 * sd, `fraction ${f}: ${n} of ${ids.length} in the holdout`);
  }
  for (const id of ids.slice(0, 1000)) {
    assert.equal(assignGroup(id, 0.1), assignGroup(id, 0.1), "stable");
    if (assignGroup(id, 0.1) === "holdout") assert.equal(assignGroup(id, 0.2), "holdout", "monotone");
  }
  assert.equal(assignGroup("any", 0), "treatment");
  assert.equal(assignGroup("any", 1), "holdout");
  assert.equal(assignGroup(null, 0.5), "treatment");
  // ids that differ in one character land far apart (no clumping of sequential ids)
  const seq = Array.from({ length: 10000 }, (_, i) => `device-${i}`);
  const inHoldout = seq.filter((id) => assignGroup(id, 0.1) === "holdout").length;
  assert.ok(Math.abs(inHoldout - 1000) < 5 * Math.sqrt(10000 * 0.09), `sequential ids: ${inHoldout} of 10000`);
  assert.ok(unitHash("a") >= 0 && unitHash("a") < 1);
  // and the assignment is what the module computes inside (a device in the holdout gets group "holdout")
  const holdoutId = ids.find((id) => assignGroup(id, 0.1) === "holdout");
  assert.equal(createQuality({ holdout: 0.1, id: holdoutId }).group, "holdout");
});

/** A device's quality counters with the given rates (what ldpReport reads). */
const device = (o) => ({ group: "treatment", k: 8, events: 0, hitAtK: 0, mrr: 0, clicks: 0, conversions: 0, purchases: 0, ...o });

test("LDP report: ε documented and returned, the budget split over the fields, only randomised bits and the group", () => {
  const q = device({ events: 10, hitAtK: 0.3, mrr: 0.2, clicks: 2, conversions: 1 });
  const r = ldpReport(q, { random: seeded(1) });
  assert.equal(r.kind, "nextclick-quality-ldp");
  assert.equal(r.epsilon, Math.log(3));
  assert.equal(LDP_DEFAULT_EPSILON, Math.log(3));
  assert.deepEqual(r.fields, LDP_DEFAULT_FIELDS);
  assert.equal(r.epsilonPerField, Math.log(3) / 3);
  assert.equal(r.p, keepProbability(Math.log(3) / 3));
  assert.deepEqual(Object.keys(r.bits), ["active", "hit", "converted"]);
  assert.ok(Object.values(r.bits).every((b) => b === 0 || b === 1));
  assert.deepEqual(Object.keys(r).sort(), ["bits", "epsilon", "epsilonPerField", "fields", "group", "k", "kind", "p", "v"]);
  // one field at ε = ln 3: the classic randomised response, the truth with probability 3/4
  assert.ok(Math.abs(ldpReport(q, { fields: ["active"] }).p - 0.75) < 1e-12);
  assert.throws(() => ldpReport(q, { epsilon: 0 }), /epsilon/);
  assert.throws(() => ldpReport(q, { fields: ["events"] }), /fields/);
  assert.throws(() => ldpReport(q, { fields: ["hit", "hit"] }), /fields/);
  assert.throws(() => ldpReport(null), /status\(\)\.quality/);
});

test("LDP: randomised response is unbiased — the estimator recovers the true fractions (seeded, within 4 standard errors)", () => {
  const rnd = seeded(2024);
  // 40,000 devices: 70 % active, hit@K spread over [0, 0.6] among them, 12 % converted
  const devices = Array.from({ length: 40000 }, (_, i) => {
    const active = rnd() < 0.7;
    return device({ events: active ? 5 : 0, hitAtK: active ? rnd() * 0.6 : 0, mrr: 0, conversions: rnd() < 0.12 ? 1 : 0, group: i % 2 ? "holdout" : "treatment" });
  });
  const truth = {
    active: devices.filter((d) => d.events > 0).length / devices.length,
    hit: devices.reduce((s, d) => s + d.hitAtK, 0) / devices.length, // E[bit] = mean hit@K (0 when inactive)
    converted: devices.filter((d) => d.conversions > 0).length / devices.length,
  };
  for (const epsilon of [Math.log(3), 1, 4]) {
    const reports = devices.map((d) => ldpReport(d, { epsilon, random: rnd }));
    for (const f of ["active", "hit", "converted"]) {
      const e = ldpEstimate(reports, f);
      assert.equal(e.n, devices.length);
      assert.ok(Math.abs(e.estimate - truth[f]) < 4 * e.stderr, `ε=${epsilon} ${f}: estimate ${e.estimate.toFixed(4)} ± ${e.stderr.toFixed(4)}, truth ${truth[f].toFixed(4)}`);
      // the raw share of 1s is biased towards 1/2: the correction is needed
      if (Math.abs(truth[f] - 0.5) > 0.1) assert.ok(Math.abs(e.observed - truth[f]) > Math.abs(e.estimate - truth[f]));
    }
    // per group, as a shop compares them (reports carry the group in the clear)
    const byGroup = (g) => ldpEstimate(reports.filter((r) => r.group === g), "converted");
    const t = byGroup("treatment");
    assert.ok(Math.abs(t.estimate - truth.converted) < 5 * t.stderr);
  }
  assert.throws(() => ldpEstimate([ldpReport(devices[0], { epsilon: 1 }), ldpReport(devices[0], { epsilon: 2 })], "active"), /different epsilons/);
  assert.ok(Number.isNaN(ldpEstimate([], "active").estimate));
});
