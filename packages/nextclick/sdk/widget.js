// nextclick — `<nextclick-recommendations>`: a drop-in, accessible list of the shopper's next-click
// predictions (docs/widget.md).
//
//   <script type="module" src="/nextclick/sdk/widget.js"></script>      <!-- or: import "nextclick/widget" -->
//   <nextclick-recommendations k="6" label="You may also like" currency="EUR"></nextclick-recommendations>
//
// The element shows the top `k` predictions of the page's runtime (it listens to the `nextclick:prediction`
// event and calls `nextclick("predict", …)` when it is connected), never the product on screen, and tracks
// a click on one of its tiles as "Product Clicked". `nextclick("init", …)` is still the shop's to call.
//
// Attributes (each one also a property — React 19 and Vue set properties on custom elements):
//   k                how many tiles: an integer from 1 to 50 (default 6)
//   label            the list's accessible name (default "Recommended products")
//   exclude          item ids never shown, separated by spaces or commas
//   include-current  show the product on screen too (by default it is left out, see below)
//   images           catalog images: absent = none (default: a suggested product's image request would tell
//                    the image server what the model predicted); present ("" or "same-origin") = images whose
//                    URL is of the page's origin; "any" = any http(s) URL
//   currency         ISO 4217 code ("EUR"): prices are formatted with Intl.NumberFormat in the page's
//                    language; without it, a plain number with 2 decimals
//   href             URL template for items the catalog has no URL for: "{id}" is replaced by the encoded id
//                    (e.g. "/p/{id}"); items with neither are not shown
//   prefetch         prefetch the top tile's page: "" or "auto", "rules" or "link" (prefetch.js); absent = off
// The on/off attributes (include-current, images, prefetch) are on when present, except with the value
// "false" or "off" (what React 18 writes for a `false` prop).
//
// The product on screen: the value of every `data-nextclick-product` attribute in the document (a product
// page marks its main product block so, e.g. `<article data-nextclick-product="p-0001">`), plus the
// `exclude` ids. `include-current` keeps the former.
//
// Auto-capture (autocapture.js) never sees the tiles: they live in the element's shadow tree and carry no
// `data-nextclick-item`, so showing a suggestion is not a product view, and a click on one is tracked once,
// by the element itself. Do not put the element inside a `data-nextclick-item` block: a click on a tile
// would then count for that block's product as well.
//
// Styling: `::part(list | item | link | image | badge | title | price | empty)` and the custom properties
// --nc-columns, --nc-gap, --nc-tile-min-width, --nc-accent, --nc-fg, --nc-bg, --nc-border, --nc-radius,
// --nc-padding, --nc-muted, --nc-image-ratio; `slot="empty"` replaces the empty state's text, and the host
// carries `data-state="empty" | "items"`. The styles are a constructed stylesheet (`adoptedStyleSheets`),
// which a strict CSP (`style-src 'self'`, no 'unsafe-inline') allows.
//
// Importable anywhere: where there is no `customElements` (Node, server-side rendering) nothing is defined,
// and a second copy of this module (bundled twice) leaves the first definition in place.

import { nextclick } from "./nextclick.js";
import { createPrefetcher, sameOriginUrl } from "./prefetch.js";

/** The element's tag name. */
export const TAG = "nextclick-recommendations";
/** Tiles shown without a `k` attribute. */
export const DEFAULT_K = 6;
/** Most tiles (the runtime's `MAX_K`). */
const MAX_K = 50;
/** The list's accessible name without a `label` attribute. */
export const DEFAULT_LABEL = "Recommended products";
/** The empty state's text without `slot="empty"` content. */
export const DEFAULT_EMPTY_TEXT = "Suggestions appear here as you browse.";

const ATTRIBUTES = ["k", "label", "exclude", "include-current", "images", "currency", "href", "prefetch"];
/** Properties that mirror an attribute, for frameworks that set properties (upgraded in connectedCallback). */
const PROPERTIES = ["k", "label", "exclude", "includeCurrent", "images", "currency", "href", "prefetch"];

const CSS = `
:host { display: block; }
:host([hidden]), [hidden] { display: none !important; }
.list {
  list-style: none; margin: 0; padding: 0; display: grid; gap: var(--nc-gap, .75rem);
  grid-template-columns: repeat(var(--nc-columns, auto-fill), minmax(min(var(--nc-tile-min-width, 9rem), 100%), 1fr));
}
.item { display: flex; min-width: 0; }
.link {
  flex: 1; min-width: 0; display: flex; flex-direction: column; gap: .35rem; box-sizing: border-box;
  padding: var(--nc-padding, .5rem); color: var(--nc-fg, inherit); background: var(--nc-bg, transparent);
  border: var(--nc-border, 1px solid color-mix(in srgb, currentColor 18%, transparent));
  border-radius: var(--nc-radius, 8px); text-decoration: none; font: inherit;
}
.link:hover { border-color: var(--nc-accent, LinkText); }
.link:focus-visible { outline: 2px solid var(--nc-accent, LinkText); outline-offset: 2px; }
.image {
  display: block; width: 100%; height: auto; aspect-ratio: var(--nc-image-ratio, 4 / 3); object-fit: cover;
  border-radius: calc(var(--nc-radius, 8px) / 1.5);
}
.badge {
  flex: none; width: 2rem; height: 2rem; display: grid; place-items: center; border-radius: calc(var(--nc-radius, 8px) / 1.5);
  font-weight: 800; color: var(--nc-accent, LinkText); background: color-mix(in srgb, var(--nc-accent, LinkText) 14%, transparent);
}
.title { overflow-wrap: anywhere; }
.price { font-weight: 700; }
.empty { margin: 0; color: var(--nc-muted, GrayText); font-size: .9em; }
`;

let sheet = null; // one constructed stylesheet for every instance

/** Styles for a shadow root: the shared constructed stylesheet, else (old browsers) a `<style>`. */
function adoptStyles(root) {
  if (typeof CSSStyleSheet === "function" && "adoptedStyleSheets" in root && "replaceSync" in CSSStyleSheet.prototype) {
    try {
      if (!sheet) {
        const s = new CSSStyleSheet();
        s.replaceSync(CSS);
        sheet = s;
      }
      root.adoptedStyleSheets = [sheet];
      return;
    } catch {
      /* fall through */
    }
  }
  // without constructable stylesheets (Safari < 16.4): a strict style-src refuses this one; the list is
  // then unstyled but still works
  const style = root.ownerDocument.createElement("style");
  style.textContent = CSS;
  root.append(style);
}

/**
 * Is an on/off attribute on? Present is on — except "false" and "off", which is what a framework that
 * stringifies props (React 18 and older) writes for `false`.
 */
function isOn(value) {
  return value !== null && !/^\s*(false|off)\s*$/i.test(value);
}

/** Ids in an `exclude` attribute: separated by spaces and/or commas. */
function idList(value) {
  return value ? value.split(/[\s,]+/).filter(Boolean) : [];
}

/** `k` from an attribute value: an integer from 1 to 50, else the default. */
function parseK(value) {
  const n = Number(value);
  return value !== null && value !== "" && Number.isInteger(n) && n >= 1 && n <= MAX_K ? n : DEFAULT_K;
}

/** A prediction's item id (`itemId`, as the runtime gives it; `id` / `product_id` accepted too). */
function itemIdOf(item) {
  if (!item || typeof item !== "object") return null;
  for (const k of ["itemId", "id", "product_id"]) {
    const v = item[k];
    if (typeof v === "string" && v !== "") return v;
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
  }
  return null;
}

/** `href` as an absolute http(s) URL (any origin), else null: no `javascript:` or `data:` links. */
function httpUrl(href, base) {
  if (typeof href !== "string" || href === "") return null;
  try {
    const u = new URL(href, base);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** HTMLElement where there is a DOM; under Node (SSR) a stand-in, so that importing this module never fails. */
const Base = typeof HTMLElement === "function" ? HTMLElement : /** @type {typeof HTMLElement} */ (/** @type {unknown} */ (class {}));

/**
 * `<nextclick-recommendations>`: see the top of this file. Properties mirror the attributes; `items` is what
 * the element shows now (read-only).
 */
export class NextclickRecommendations extends Base {
  static get observedAttributes() {
    return ATTRIBUTES;
  }

  #root = null;
  #list = null;
  #empty = null;
  #source = []; // the predictions last received (a prediction event or predict()), best first
  #shown = []; // what the tiles show, best first
  #version = 0; // bumped by every new source: a predict() answer for an older one is dropped
  #connected = false;
  #prefetcher = null;
  #prefetchMode = null;
  #formatter = null;
  #formatterKey = "";

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open" });
    adoptStyles(this.#root);
    const doc = this.#root.ownerDocument;
    this.#list = doc.createElement("ul");
    this.#list.className = "list";
    this.#list.setAttribute("part", "list");
    this.#list.setAttribute("role", "list"); // kept explicit: Safari drops list semantics with list-style: none
    this.#list.hidden = true;
    this.#empty = doc.createElement("div");
    this.#empty.className = "empty";
    this.#empty.setAttribute("part", "empty");
    const slot = doc.createElement("slot");
    slot.name = "empty";
    slot.textContent = DEFAULT_EMPTY_TEXT;
    this.#empty.append(slot);
    this.#root.append(this.#list, this.#empty);
    this.#root.addEventListener("click", (e) => this.#onClick(e));
    this.#list.addEventListener("keydown", (e) => this.#onKeydown(e));
  }

  // ——— attributes as properties ———

  get k() {
    return parseK(this.getAttribute("k"));
  }
  set k(v) {
    if (v === null || v === undefined) this.removeAttribute("k");
    else this.setAttribute("k", String(v));
  }
  get label() {
    return this.getAttribute("label") || DEFAULT_LABEL;
  }
  set label(v) {
    this.#setString("label", v);
  }
  /** The `exclude` attribute (ids separated by spaces or commas); an array is accepted when setting. */
  get exclude() {
    return this.getAttribute("exclude") || "";
  }
  set exclude(v) {
    this.#setString("exclude", Array.isArray(v) ? v.join(" ") : v);
  }
  get includeCurrent() {
    return isOn(this.getAttribute("include-current"));
  }
  set includeCurrent(v) {
    this.toggleAttribute("include-current", !!v);
  }
  /** `null` (no images), `"same-origin"` or `"any"`; `true` sets "same-origin", `false` removes it. */
  get images() {
    const v = this.getAttribute("images");
    if (!isOn(v)) return null;
    return v.trim().toLowerCase() === "any" ? "any" : "same-origin";
  }
  set images(v) {
    this.#setFlag("images", v);
  }
  get currency() {
    return this.getAttribute("currency");
  }
  set currency(v) {
    this.#setString("currency", v);
  }
  get href() {
    return this.getAttribute("href");
  }
  set href(v) {
    this.#setString("href", v);
  }
  /** `null` (off), `"auto"`, `"rules"` or `"link"`; `true` sets "auto", `false` removes it. */
  get prefetch() {
    const v = this.getAttribute("prefetch");
    if (!isOn(v)) return null;
    const m = v.trim().toLowerCase();
    return m === "rules" || m === "link" ? m : "auto";
  }
  set prefetch(v) {
    this.#setFlag("prefetch", v);
  }
  /** The predictions the tiles show now, best first (copies). */
  get items() {
    return this.#shown.map((it) => ({ ...it }));
  }

  #setString(name, v) {
    if (v === null || v === undefined || v === false) this.removeAttribute(name);
    else this.setAttribute(name, String(v));
  }
  #setFlag(name, v) {
    if (v === null || v === undefined || v === false) this.removeAttribute(name);
    else this.setAttribute(name, v === true ? "" : String(v));
  }

  // ——— lifecycle ———

  connectedCallback() {
    // a framework may have set properties before this module defined the element: they are own data
    // properties of the instance then, shadowing the accessors; pass them through the accessors
    for (const p of PROPERTIES) {
      if (Object.prototype.hasOwnProperty.call(this, p)) {
        const v = this[p];
        delete this[p];
        this[p] = v;
      }
    }
    if (this.#connected) return;
    this.#connected = true;
    this.ownerDocument.addEventListener("nextclick:prediction", this.#onPrediction);
    this.#show(this.#source, { fetch: false });
    // predictions made before the element was connected: ask the runtime, once it has a model (before
    // `init` has finished, its first prediction event comes to the listener above)
    const v = this.#version;
    this.#whenReady(() => v === this.#version && this.#fetch());
  }

  disconnectedCallback() {
    this.#connected = false;
    this.ownerDocument.removeEventListener("nextclick:prediction", this.#onPrediction);
    if (this.#prefetcher) this.#prefetcher.stop();
  }

  attributeChangedCallback(name, before, after) {
    if (before === after || !this.#connected) return;
    if (name === "prefetch" || name === "k" || name === "exclude" || name === "include-current") this.#show(this.#source, { fetch: true });
    else this.#show(this.#source, { fetch: false });
  }

  /** Re-reads the page (the product on screen may have changed, e.g. in a single-page app) and re-renders. */
  refresh() {
    if (!this.#connected) return;
    this.#show(this.#source, { fetch: true });
  }

  // ——— predictions ———

  #onPrediction = (e) => {
    const items = e && e.detail && Array.isArray(e.detail.items) ? e.detail.items : [];
    this.#version++;
    this.#show(items, { fetch: true });
  };

  /** Calls `fn` once the runtime is ready (init done, engine running); never if it is not. */
  #whenReady(fn) {
    nextclick("status").then(
      (s) => s && s.ready && !s.disabled && fn(),
      () => {},
    );
  }

  /** The item ids not to show: `exclude`, and the product on screen unless `include-current`. */
  #excluded() {
    const ids = new Set(idList(this.getAttribute("exclude")));
    if (!this.includeCurrent) {
      for (const el of this.ownerDocument.querySelectorAll("[data-nextclick-product]")) {
        const id = el.getAttribute("data-nextclick-product");
        if (id) ids.add(id);
      }
    }
    return ids;
  }

  /** How many predictions to ask for: k, plus room for the excluded ones. */
  #wanted(excluded) {
    return Math.min(MAX_K, this.k + excluded.size);
  }

  /** Asks the runtime for enough predictions (a prediction event carries the `init` option k of them). */
  #fetch() {
    const excluded = this.#excluded();
    const v = ++this.#version;
    nextclick("predict", this.#wanted(excluded)).then(
      (items) => v === this.#version && this.#connected && this.#show(Array.isArray(items) ? items : [], { fetch: false }),
      () => {}, // the runtime reported it (console); the tiles stay as they are
    );
  }

  /**
   * Shows the best `k` of `items` that pass the exclusion rule, at once (an empty list: the empty state —
   * forget, consent denied). When they are fewer than `k` and `items` may have been cut short (fewer than
   * asked for: a prediction event carries the `init` option k of them), and `fetch`, asks the runtime for
   * enough and shows its answer too.
   */
  #show(items, { fetch }) {
    this.#source = items;
    const excluded = this.#excluded();
    const shown = this.#select(items, excluded);
    this.#render(shown);
    if (fetch && items.length > 0 && shown.length < this.k && items.length < this.#wanted(excluded)) {
      const v = this.#version;
      this.#whenReady(() => v === this.#version && this.#fetch());
    }
  }

  #select(items, excluded) {
    const base = this.ownerDocument.baseURI;
    const k = this.k;
    const out = [];
    const seen = new Set();
    for (const it of items) {
      if (out.length >= k) break;
      const itemId = itemIdOf(it);
      if (itemId === null || excluded.has(itemId) || seen.has(itemId)) continue;
      const template = this.getAttribute("href");
      const url = httpUrl(it.url, base) || (template ? httpUrl(template.replaceAll("{id}", encodeURIComponent(itemId)), base) : null);
      if (!url) continue;
      seen.add(itemId);
      const title = typeof it.title === "string" && it.title.trim() !== "" ? it.title : itemId;
      const price = typeof it.price === "number" && Number.isFinite(it.price) ? it.price : undefined;
      const score = typeof it.score === "number" ? it.score : undefined;
      out.push({ itemId, title, url, price, image: this.#imageOf(it, base), score });
    }
    return out;
  }

  /** The image URL to show for `item`, or undefined (see the `images` attribute). */
  #imageOf(item, base) {
    const mode = this.images;
    if (mode === null || typeof item.image !== "string" || item.image === "") return undefined;
    return (mode === "any" ? httpUrl(item.image, base) : sameOriginUrl(item.image, base)) || undefined;
  }

  // ——— rendering ———

  #price(value) {
    const currency = this.getAttribute("currency");
    const lang = (this.closest("[lang]") || this.ownerDocument.documentElement).getAttribute("lang") || undefined;
    const key = `${lang}|${currency}`;
    if (key !== this.#formatterKey) {
      this.#formatterKey = key;
      try {
        this.#formatter = new Intl.NumberFormat(lang, currency ? { style: "currency", currency } : { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      } catch {
        this.#formatter = null; // an unknown currency code or language tag
      }
    }
    return this.#formatter ? this.#formatter.format(value) : value.toFixed(2);
  }

  #tile(it) {
    const doc = this.ownerDocument;
    const el = (tag, part, text) => {
      const e = doc.createElement(tag);
      e.className = part;
      e.setAttribute("part", part);
      if (text !== undefined) e.textContent = text;
      return e;
    };
    const li = el("li", "item");
    li.setAttribute("role", "listitem");
    const a = el("a", "link");
    a.href = it.url;
    a.dataset.itemId = it.itemId;
    if (it.image) {
      const img = el("img", "image");
      img.src = it.image;
      img.alt = ""; // the title next to it names the product
      img.loading = "lazy";
      img.decoding = "async";
      a.append(img);
    } else {
      const badge = el("span", "badge", it.title.slice(0, 1).toUpperCase());
      badge.setAttribute("aria-hidden", "true");
      a.append(badge);
    }
    a.append(el("span", "title", it.title));
    if (it.price !== undefined) a.append(el("span", "price", this.#price(it.price)));
    li.append(a);
    return li;
  }

  #render(shown) {
    const active = this.#root.activeElement;
    const focused = active && active.dataset ? active.dataset.itemId : undefined;
    const focusedAt = focused !== undefined ? this.#shown.findIndex((it) => it.itemId === focused) : -1;
    this.#shown = shown;
    this.#list.setAttribute("aria-label", this.label);
    this.#list.replaceChildren(...shown.map((it) => this.#tile(it)));
    this.#list.hidden = shown.length === 0;
    this.#empty.hidden = shown.length > 0;
    if (this.getAttribute("data-state") !== (shown.length ? "items" : "empty")) this.setAttribute("data-state", shown.length ? "items" : "empty");
    // re-rendering must not throw the keyboard user out: focus the same product, else the same position
    if (focusedAt >= 0) {
      const links = this.#links();
      const same = links.find((l) => l.dataset.itemId === focused);
      const target = same || links[Math.min(focusedAt, links.length - 1)];
      if (target) target.focus({ preventScroll: true });
    }
    this.#updatePrefetch();
  }

  #links() {
    return [...this.#list.querySelectorAll("a.link")];
  }

  #updatePrefetch() {
    const mode = this.prefetch;
    if (mode !== this.#prefetchMode) {
      if (this.#prefetcher) this.#prefetcher.stop();
      this.#prefetcher = mode ? createPrefetcher({ mode, doc: this.ownerDocument }) : null;
      this.#prefetchMode = mode;
    }
    if (this.#prefetcher) this.#prefetcher.update(this.#links()[0] || null);
  }

  // ——— interaction ———

  /** A tile click is a "Product Clicked" (auto-capture does not see the tiles: counted once). */
  #onClick(e) {
    const a = e.target && e.target.closest ? e.target.closest("a[data-item-id]") : null;
    if (!a) return;
    nextclick("track", "Product Clicked", { product_id: a.dataset.itemId }).catch(() => {});
  }

  /** Arrow keys move the focus between tiles (Up/Down by a row of the grid), Home/End to the ends. */
  #onKeydown(e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const links = this.#links();
    const i = links.indexOf(this.#root.activeElement);
    if (i < 0) return;
    const top = links[0].getBoundingClientRect().top;
    const columns = Math.max(1, links.filter((l) => Math.abs(l.getBoundingClientRect().top - top) < 1).length);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, ArrowDown: i + columns, ArrowUp: i - columns, Home: 0, End: links.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault(); // no page scroll, even at the ends
    const target = links[Math.max(0, Math.min(links.length - 1, to))];
    target.focus();
  }
}

/** Defines `<nextclick-recommendations>` (or `tag`) once; does nothing without `customElements`. */
export function defineNextclickRecommendations(tag = TAG) {
  if (typeof customElements === "undefined" || !customElements || customElements.get(tag)) return;
  // a class per extra tag name: one constructor cannot be defined twice
  customElements.define(tag, tag === TAG ? NextclickRecommendations : class extends NextclickRecommendations {});
}

defineNextclickRecommendations();
