// Google Consent Mode v2 interop (packages/nextclick/sdk/consentmode.js, docs/measure.md), in Node with a
// plain object for the window: the mapping of the signals to nextclick's consent (defaults vs updates,
// regional defaults, custom signals and map), the dataLayer already there, and the push wrapper (gtag's
// `arguments` objects, the original push kept and called first, idempotent, a throwing listener harmless).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createConsentState, mapConsent, parseEntry, watchDataLayer, consentModeOptions, DEFAULT_SIGNALS } from "../../packages/nextclick/sdk/consentmode.js";

/** gtag as Google's snippet defines it: pushes its `arguments` object. */
function gtagOf(win) {
  return function gtag() {
    win.dataLayer.push(arguments);
  };
}

const consentOf = (...calls) => {
  const s = createConsentState();
  for (const c of calls) s.apply(c);
  return mapConsent(s);
};

test("the mapping: granted only when both default signals are granted; denied only by an update; a default denial is pending", () => {
  assert.deepEqual(DEFAULT_SIGNALS, ["analytics_storage", "ad_personalization"]);
  const both = { analytics_storage: "granted", ad_personalization: "granted" };
  assert.equal(consentOf(), "pending", "nothing set");
  assert.equal(consentOf(["consent", "default", { analytics_storage: "denied", ad_personalization: "denied", wait_for_update: 500 }]), "pending");
  assert.equal(consentOf(["consent", "default", both]), "granted", "a default that grants everywhere");
  assert.equal(consentOf(["consent", "default", { analytics_storage: "denied", ad_personalization: "denied" }], ["consent", "update", both]), "granted");
  assert.equal(consentOf(["consent", "update", { analytics_storage: "granted" }]), "pending", "one signal still unset");
  assert.equal(consentOf(["consent", "update", { analytics_storage: "granted", ad_personalization: "denied" }]), "denied");
  assert.equal(consentOf(["consent", "update", both], ["consent", "update", { ad_personalization: "denied" }]), "denied", "a later update withdraws");
  assert.equal(consentOf(["consent", "update", both], ["consent", "default", { analytics_storage: "denied", ad_personalization: "denied" }]), "granted", "a default never overrides an update");
  assert.equal(consentOf(["consent", "update", { ad_storage: "granted", ad_user_data: "granted" }]), "pending", "other signals are not mapped");
  // a regional default: only its denial counts (the page cannot tell whether the visitor is in the region)
  assert.equal(consentOf(["consent", "default", { ...both, region: ["US-CA"] }]), "pending");
  assert.equal(consentOf(["consent", "default", both], ["consent", "default", { analytics_storage: "denied", region: ["EU"] }]), "pending");
  // values other than granted/denied, and non-consent entries, are ignored
  assert.equal(consentOf(["consent", "update", { analytics_storage: "yes", ad_personalization: "granted" }]), "pending");
  assert.equal(consentOf({ event: "gtm.js" }, ["config", "G-XXXX"], ["consent", "update", both]), "granted");
});

test("parseEntry: gtag's arguments objects and ['consent', …] arrays; nothing else", () => {
  const args = (function () {
    return arguments;
  })("consent", "update", { analytics_storage: "granted" });
  assert.deepEqual(parseEntry(args), { command: "update", params: { analytics_storage: "granted" }, region: false });
  assert.equal(parseEntry(["consent", "default", { region: ["EU"], analytics_storage: "denied" }]).region, true);
  for (const bad of [null, "consent", { 0: "consent", 1: "update", 2: {}, length: 3 }, ["consent", "revoke", {}], ["consent", "update"], ["event", "update", {}], ["consent", "update", "granted"]]) {
    assert.equal(parseEntry(bad), null, JSON.stringify(bad));
  }
});

test("custom signals and a custom map", () => {
  const s = createConsentState();
  s.apply(["consent", "update", { personalization_storage: "granted", analytics_storage: "denied" }]);
  assert.equal(mapConsent(s, ["personalization_storage"]), "granted");
  assert.equal(mapConsent(s, ["personalization_storage", "analytics_storage"]), "denied");
  const win = { dataLayer: [["consent", "update", { functionality_storage: "granted" }]] };
  const seen = [];
  const w = watchDataLayer(win, (c) => seen.push(c), { map: (values, sources) => (values.functionality_storage === "granted" && sources.functionality_storage === "update" ? "granted" : "maybe") });
  assert.equal(w.consent(), "granted");
  win.dataLayer.push(["consent", "update", { functionality_storage: "denied" }]);
  assert.deepEqual(seen, ["pending"], "anything but granted/denied from map means pending");
  assert.throws(() => consentModeOptions({ signals: [] }), /signals/);
  assert.throws(() => consentModeOptions({ map: 1 }), /map/);
  assert.throws(() => consentModeOptions({ dataLayer: "not a name" }), /dataLayer/);
  assert.throws(() => consentModeOptions("yes"), /consentMode/);
  assert.equal(consentModeOptions(false), null);
});

test("watchDataLayer: reads the dataLayer already there, follows gtag calls, keeps gtag's push working, idempotent", () => {
  const win = {};
  const gtag = gtagOf(win);
  // the page's gtag snippet ran first: dataLayer exists with a default denial
  win.dataLayer = win.dataLayer || [];
  gtag("consent", "default", { analytics_storage: "denied", ad_personalization: "denied", ad_storage: "denied", ad_user_data: "denied" });
  gtag("js", new Date());
  const gtmSeen = [];
  const original = win.dataLayer.push;
  // a tag manager that wrapped push before nextclick did (as gtm.js does)
  win.dataLayer.push = function (...entries) {
    gtmSeen.push(...entries);
    return original.apply(this, entries);
  };
  const a = [];
  const w = watchDataLayer(win, (c) => a.push(c), true);
  assert.equal(w.consent(), "pending");
  assert.equal(win.dataLayer.length, 2, "nothing added to the dataLayer");
  const n = win.dataLayer.push({ event: "page_view" });
  assert.equal(n, 3, "push returns what the original returns (the new length)");
  assert.equal(gtmSeen.length, 1, "the earlier wrapper still sees every entry");
  gtag("consent", "update", { analytics_storage: "granted", ad_personalization: "granted" });
  assert.deepEqual(a, ["granted"]);
  assert.equal(w.consent(), "granted");
  gtag("consent", "update", { analytics_storage: "granted" }); // no change of the mapped consent: no call
  assert.deepEqual(a, ["granted"]);
  // a second watcher (a second runtime, or init run twice) joins the same wrapper: push is wrapped once
  const pushed = win.dataLayer.push;
  const b = [];
  const w2 = watchDataLayer(win, (c) => b.push(c));
  assert.equal(win.dataLayer.push, pushed, "not wrapped again");
  assert.equal(w2.consent(), "granted", "the second watcher reads the whole dataLayer");
  gtag("consent", "update", { ad_personalization: "denied" });
  assert.deepEqual(a, ["granted", "denied"]);
  assert.deepEqual(b, ["denied"]);
  // a listener that throws never breaks the page's push
  const errors = [];
  const consoleError = console.error;
  console.error = (...m) => errors.push(m.join(" "));
  try {
    const w3 = watchDataLayer(win, () => {
      throw new Error("boom");
    });
    assert.doesNotThrow(() => gtag("consent", "update", { ad_personalization: "granted" }));
    w3.stop();
  } finally {
    console.error = consoleError;
  }
  assert.equal(errors.length, 1);
  assert.deepEqual(a, ["granted", "denied", "granted"]);
  // stop(): this watcher hears nothing more; the others still do
  w.stop();
  gtag("consent", "update", { ad_personalization: "denied" });
  assert.deepEqual(a, ["granted", "denied", "granted"]);
  assert.deepEqual(b, ["denied", "granted", "denied"]);
  assert.ok(gtmSeen.length >= 5, "the tag manager saw every push");
  // `this` and all arguments pass through: push(a, b) appends both, as Array.prototype.push does
  assert.equal(win.dataLayer.push({ a: 1 }, { b: 2 }), win.dataLayer.length);
});

test("watchDataLayer: creates the dataLayer when the page has none, under the name given", () => {
  const win = {};
  const seen = [];
  const w = watchDataLayer(win, (c) => seen.push(c), { dataLayer: "myLayer" });
  assert.ok(Array.isArray(win.myLayer));
  assert.equal(win.dataLayer, undefined);
  assert.equal(w.consent(), "pending");
  win.myLayer.push(["consent", "default", { analytics_storage: "granted", ad_personalization: "granted" }]);
  assert.deepEqual(seen, ["granted"]);
});
