// nextclick — event-name mapping: Segment e-commerce v2 (and GA4 / core) names → core event types.
// Pure module: no DOM, importable from node for tests.

/** Names that map to a core event type. Keys are normalised with `normalizeName`. */
const MAPPED = new Map([
  // Segment e-commerce spec v2
  ["product viewed", "view"],
  ["product clicked", "click"],
  ["product added", "cart"],
  ["product removed", "remove_from_cart"],
  ["order completed", "purchase"],
  // GA4 recommended e-commerce events
  ["view item", "view"],
  ["select item", "click"],
  ["add to cart", "cart"],
  ["remove from cart", "remove_from_cart"],
  ["purchase", "purchase"],
  // the core's own vocabulary
  ["view", "view"],
  ["click", "click"],
  ["cart", "cart"],
  ["remove", "remove_from_cart"],
  ["order", "purchase"],
]);

/**
 * Segment / GA4 names that are recognised but carry no item-level signal the model's five event types
 * can express (the contract has no "checkout" or "list" type): accepted silently, nothing is tracked.
 */
const RECOGNISED = new Set([
  "checkout started", "checkout step viewed", "checkout step completed", "payment info entered",
  "cart viewed", "product list viewed", "product list filtered", "products searched",
  "order updated", "order refunded", "order cancelled", "coupon entered", "coupon applied",
  "coupon denied", "coupon removed", "product shared", "product reviewed", "product added to wishlist",
  "product removed from wishlist", "wishlist product added to cart", "promotion viewed",
  "promotion clicked", "cart shared", "begin checkout", "view cart", "view item list",
  "add payment info", "add shipping info", "refund", "page", "page viewed",
]);

/** Lower-cases and turns `_`, `-` and runs of spaces into single spaces: "Product_Added" → "product added". */
export function normalizeName(name) {
  return String(name).trim().toLowerCase().replace(/[_\-\s]+/g, " ");
}

/**
 * The core event type for an event name: "view" | "click" | "cart" | "remove_from_cart" | "purchase",
 * `null` for a recognised name that is not tracked, `undefined` for an unknown name.
 */
export function mapEventName(name) {
  if (typeof name !== "string" || name.length === 0 || name.length > 64) return undefined;
  const n = normalizeName(name);
  if (MAPPED.has(n)) return MAPPED.get(n);
  if (RECOGNISED.has(n)) return null;
  return undefined;
}

/** The core's bounds (src/event.rs): item ids of at most 256 UTF-8 bytes, prices in [0, 1e12]. */
export const MAX_ITEM_ID_BYTES = 256;
export const MAX_PRICE = 1e12;

/** UTF-8 length of `s`, without allocating for the common short id. */
function utf8Length(s) {
  if (s.length > MAX_ITEM_ID_BYTES) return s.length; // at least that many bytes: over the bound either way
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? (i++, 4) : 3;
  }
  return n;
}

function itemIdOf(p) {
  if (p == null || typeof p !== "object") return undefined;
  // Segment: product_id (preferred), sku, id; GA4: item_id; the core: itemId
  for (const k of ["itemId", "product_id", "productId", "item_id", "sku", "id"]) {
    const v = p[k];
    if (typeof v === "string" && v.trim() !== "") return v.trim();
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
  }
  return undefined;
}

/** A price the core stores as given, else undefined (the catalog's price is used instead). */
function priceOf(p) {
  const v = p && p.price;
  return typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= MAX_PRICE ? v : undefined;
}

/**
 * Turns one `track(name, props)` call into core events `{type, itemId, timestamp?, price?}`.
 * Multi-product events (Order Completed with `products[]`, GA4 `items[]`) give one event per product.
 *
 * Returns `{events, ignored, warning}`: `ignored` for recognised-but-untracked names, `warning` (a
 * message, never thrown) for unknown names or events without an item id.
 */
export function toCoreEvents(name, props, maxProducts = 100) {
  const type = mapEventName(name);
  if (type === undefined) {
    return { events: [], ignored: false, warning: `nextclick: unknown event name ${JSON.stringify(String(name)).slice(0, 80)} (ignored)` };
  }
  if (type === null) return { events: [], ignored: true, warning: undefined };
  const p = props && typeof props === "object" ? props : {};
  const ts = typeof p.timestamp === "number" && Number.isFinite(p.timestamp) ? p.timestamp : undefined;
  const list = Array.isArray(p.products) ? p.products : Array.isArray(p.items) ? p.items : [p];
  const events = [];
  let tooLong = 0;
  // at most `maxProducts` products are looked at: a call costs bounded work whatever the page passes
  for (const prod of list.slice(0, maxProducts)) {
    const itemId = itemIdOf(prod);
    if (itemId === undefined) continue;
    if (utf8Length(itemId) > MAX_ITEM_ID_BYTES) {
      tooLong++; // never journaled, never sent: the core would refuse it
      continue;
    }
    const ev = { type, itemId };
    if (ts !== undefined) ev.timestamp = ts;
    const price = priceOf(prod);
    if (price !== undefined) ev.price = price;
    events.push(ev);
  }
  const warning = tooLong
    ? `nextclick: ${name}: ${tooLong} product id(s) longer than ${MAX_ITEM_ID_BYTES} bytes — ignored`
    : events.length === 0
      ? `nextclick: ${name} without a product id (product_id, sku or itemId) — ignored`
      : undefined;
  return { events, ignored: false, warning };
}
