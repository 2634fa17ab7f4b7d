// nextclick — Google Consent Mode v2 interop (docs/measure.md, "Consent Mode"). Pure module: no DOM; it
// touches only the `dataLayer` array of the window object it is given, so node tests pass a plain object.
//
// gtag.js's `gtag('consent', 'default' | 'update', {analytics_storage: 'granted', …})` pushes its
// `arguments` object onto `window.dataLayer`. `watchDataLayer` reads the entries already there, in order,
// then wraps `dataLayer.push` (keeping the original, and idempotently: a second watcher joins the first
// wrapper) to follow later calls, and maps the signals to nextclick's consent:
//
// * "denied"  — a mapped signal is denied by an *update* (the visitor's choice);
// * "granted" — every mapped signal is granted (by an update, or by a default that applies everywhere);
// * "pending" — otherwise: a signal not set yet, or denied only by a *default*. A default is the state
//   before the visitor chose: CMPs issue `default: denied` on every page load, before the `update` that
//   carries the stored choice; mapping it to "denied" would erase the shopper's state on every page view.
//
// Defaults limited to regions (`region: ['EU', …]`) cannot be resolved in the page (gtag's region comes
// from Google's side): such a default counts only when it denies (the visitor may be in the region), never
// when it grants.

/** The signals mapped by default: nextclick stores and personalises only when both are granted. */
export const DEFAULT_SIGNALS = ["analytics_storage", "ad_personalization"];

const HOOK = typeof Symbol === "function" ? Symbol.for("nextclick.consentMode") : "__nextclickConsentMode";
const VALUES = new Set(["granted", "denied"]);

/**
 * `{command: "default" | "update", params, region}` of a dataLayer entry that is a gtag consent call
 * (an `arguments` object or an array `['consent', command, params]`), else null.
 */
export function parseEntry(entry) {
  if (!entry || typeof entry !== "object" || typeof entry.length !== "number" || entry.length < 3) return null;
  if (!(Array.isArray(entry) || Object.prototype.toString.call(entry) === "[object Arguments]")) return null;
  const [what, command, params] = [entry[0], entry[1], entry[2]];
  if (what !== "consent" || (command !== "default" && command !== "update") || !params || typeof params !== "object") return null;
  const region = command === "default" && Array.isArray(params.region) && params.region.length > 0;
  return { command, params, region };
}

/**
 * The Consent Mode state as gtag builds it from consent calls: per signal, its value and whether an update
 * set it. `apply(entry)` takes one dataLayer entry and returns true if it was a consent call.
 */
export function createConsentState() {
  const signals = {}; // name → {value, source: "default" | "update"}
  return {
    signals,
    apply(entry) {
      const e = parseEntry(entry);
      if (!e) return false;
      for (const [name, value] of Object.entries(e.params)) {
        if (!VALUES.has(value)) continue; // region, wait_for_update, other keys
        const cur = signals[name];
        if (e.command === "update") signals[name] = { value, source: "update" };
        else if (!cur || cur.source === "default") {
          // a later default replaces an earlier one, never an update; a regional default only denies
          if (e.region && value === "granted") continue;
          signals[name] = { value, source: "default" };
        }
      }
      return true;
    },
  };
}

/** nextclick's consent for the Consent Mode `state` (see the rules at the top) over `names`. */
export function mapConsent(state, names = DEFAULT_SIGNALS) {
  const s = (n) => state.signals[n];
  if (names.some((n) => s(n) && s(n).value === "denied" && s(n).source === "update")) return "denied";
  if (names.length > 0 && names.every((n) => s(n) && s(n).value === "granted")) return "granted";
  return "pending";
}

/**
 * The init option `consentMode` normalised: `true` → the default signals; `{signals: [...]}` → those;
 * `{map(signals, sources)}` → a function of the effective values (`{name: "granted" | "denied"}`) and
 * their sources (`{name: "default" | "update"}`) returning "granted", "denied" or "pending". `dataLayer`:
 * the name of the array (default "dataLayer"). Null when off.
 * @returns {{ signals: string[], map?: Function, dataLayer: string } | null}
 */
export function consentModeOptions(opt) {
  if (!opt) return null;
  const o = opt === true ? {} : typeof opt === "object" ? opt : null;
  if (!o) throw new Error("nextclick: consentMode must be true or {signals, map, dataLayer}");
  const signals = o.signals === undefined ? DEFAULT_SIGNALS : o.signals;
  if (!Array.isArray(signals) || signals.length === 0 || !signals.every((n) => typeof n === "string" && n)) {
    throw new Error("nextclick: consentMode.signals must be a non-empty array of Consent Mode signal names");
  }
  if (o.map !== undefined && typeof o.map !== "function") throw new Error("nextclick: consentMode.map must be a function");
  const name = o.dataLayer === undefined ? "dataLayer" : o.dataLayer;
  if (typeof name !== "string" || !/^[A-Za-z_$][\w$]*$/.test(name)) throw new Error("nextclick: consentMode.dataLayer must be a variable name");
  return { signals: [...signals], map: o.map, dataLayer: name };
}

/** The consent under `options` (from `consentModeOptions`). */
function decide(state, options) {
  if (!options.map) return mapConsent(state, options.signals);
  const values = {};
  const sources = {};
  for (const [n, v] of Object.entries(state.signals)) {
    values[n] = v.value;
    sources[n] = v.source;
  }
  const r = options.map(values, sources);
  return r === "granted" || r === "denied" ? r : "pending";
}

/**
 * Follows the Consent Mode calls on `win[options.dataLayer]` (created as an empty array if missing, as the
 * gtag snippet does). `onChange(consent)` is called whenever the mapped consent changes (not for the
 * entries already present: read those with `consent()`). Returns `{consent(), state, stop()}`; `stop()`
 * detaches this watcher (the wrapper stays: a script may have wrapped `push` after it).
 *
 * The wrapper calls the original `push` first, with the same `this` and arguments, and returns its
 * result; a throwing listener never reaches gtag. If the array is replaced later (`window.dataLayer = []`),
 * the new one is not followed.
 * @param {any} win the window (or any object holding the dataLayer array)
 * @param {(consent: "granted" | "denied" | "pending") => void} onChange
 * @param {boolean | { signals?: string[], map?: Function, dataLayer?: string }} [opt] the init option `consentMode`
 */
export function watchDataLayer(win, onChange, opt = true) {
  const options = consentModeOptions(opt) || consentModeOptions(true);
  const name = options.dataLayer;
  if (!Array.isArray(win[name])) win[name] = [];
  const dl = win[name];
  const state = createConsentState();
  for (const entry of Array.from(dl)) state.apply(entry);
  let current = decide(state, options);
  const listener = (entry) => {
    if (!state.apply(entry)) return;
    const next = decide(state, options);
    if (next === current) return;
    current = next;
    onChange(next);
  };
  let hook = dl[HOOK];
  if (!hook) {
    const original = dl.push;
    hook = { listeners: new Set(), original };
    Object.defineProperty(dl, HOOK, { value: hook, enumerable: false });
    dl.push = function push(...entries) {
      const result = original.apply(this, entries);
      for (const entry of entries) {
        for (const l of hook.listeners) {
          try {
            l(entry);
          } catch (e) {
            // nextclick's own listener failed: never break the page's gtag / GTM
            if (typeof console !== "undefined") console.error("nextclick: consent mode listener failed", e);
          }
        }
      }
      return result;
    };
  }
  hook.listeners.add(listener);
  return {
    consent: () => current,
    state,
    stop: () => hook.listeners.delete(listener),
  };
}
