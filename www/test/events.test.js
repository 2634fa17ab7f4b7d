// Node-only tests (no browser) of the event-name mapping.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mapEventName, toCoreEvents, normalizeName, MAX_PRICE, MAX_ITEM_ID_BYTES } from "../../packages/nextclick/sdk/events.js";

test("Segment e-commerce v2 names map to the core's five types", () => {
  assert.equal(mapEventName("Product Viewed"), "view");
  assert.equal(mapEventName("Product Clicked"), "click");
  assert.equal(mapEventName("Product Added"), "cart");
  assert.equal(mapEventName("Product Removed"), "remove_from_cart");
  assert.equal(mapEventName("Order Completed"), "purchase");
});

test("GA4 names, core names and spelling variants map too", () => {
  assert.equal(mapEventName("view_item"), "view");
  assert.equal(mapEventName("select_item"), "click");
  assert.equal(mapEventName("add_to_cart"), "cart");
  assert.equal(mapEventName("remove_from_cart"), "remove_from_cart");
  assert.equal(mapEventName("purchase"), "purchase");
  assert.equal(mapEventName("product_added"), "cart");
  assert.equal(mapEventName("  PRODUCT   viewed "), "view");
  assert.equal(normalizeName("Order-Completed"), "order completed");
});

test("recognised but untracked names are ignored silently; unknown names give a warning", () => {
  for (const n of ["Checkout Started", "Cart Viewed", "Product List Viewed", "Products Searched"]) {
    assert.equal(mapEventName(n), null, n);
    const r = toCoreEvents(n, { products: [{ product_id: "a" }] });
    assert.deepEqual(r, { events: [], ignored: true, warning: undefined });
  }
  for (const n of ["Hovered", "", 42, null, "x".repeat(65)]) {
    assert.equal(mapEventName(n), undefined);
    const r = toCoreEvents(n, { product_id: "a" });
    assert.equal(r.events.length, 0);
    assert.match(r.warning, /unknown event name/);
  }
});

test("properties: product_id / sku / itemId, price, timestamp; orders give one event per product", () => {
  assert.deepEqual(toCoreEvents("Product Viewed", { product_id: "sku-1", price: 9.5, name: "x" }).events, [
    { type: "view", itemId: "sku-1", price: 9.5 },
  ]);
  assert.deepEqual(toCoreEvents("Product Added", { sku: " s2 ", price: -1 }).events, [{ type: "cart", itemId: "s2" }]);
  assert.deepEqual(toCoreEvents("click", { itemId: 17, timestamp: 1700000000000 }).events, [
    { type: "click", itemId: "17", timestamp: 1700000000000 },
  ]);
  const order = toCoreEvents("Order Completed", {
    order_id: "o1",
    products: [{ product_id: "a", price: 1 }, { sku: "b" }, { name: "no id" }],
  });
  assert.deepEqual(order.events, [
    { type: "purchase", itemId: "a", price: 1 },
    { type: "purchase", itemId: "b" },
  ]);
  assert.equal(order.warning, undefined);
  assert.deepEqual(toCoreEvents("purchase", { items: [{ item_id: "g1" }] }).events, [{ type: "purchase", itemId: "g1" }]);
});

test("a known name without any product id warns instead of throwing", () => {
  const r = toCoreEvents("Product Viewed", {});
  assert.deepEqual(r.events, []);
  assert.match(r.warning, /without a product id/);
  assert.doesNotThrow(() => toCoreEvents("Product Viewed", undefined));
  assert.doesNotThrow(() => toCoreEvents("Product Viewed", "garbage"));
});

test("prices outside the core's range fall back to the catalog's; over-long ids are never emitted", () => {
  const { events } = toCoreEvents("Product Added", { product_id: "a", price: 1e39 });
  assert.deepEqual(events, [{ type: "cart", itemId: "a" }], "1e39 is finite in JS but not as f32");
  assert.equal(toCoreEvents("Product Added", { product_id: "a", price: MAX_PRICE }).events[0].price, MAX_PRICE);
  const long = "x".repeat(MAX_ITEM_ID_BYTES + 1);
  const r = toCoreEvents("Product Viewed", { product_id: long });
  assert.deepEqual(r.events, []);
  assert.match(r.warning, /longer than 256 bytes/);
  // 86 three-byte characters = 258 UTF-8 bytes: over the bound although only 86 UTF-16 units
  assert.deepEqual(toCoreEvents("Product Viewed", { product_id: "€".repeat(86) }).events, []);
  assert.equal(toCoreEvents("Product Viewed", { product_id: "€".repeat(85) }).events.length, 1);
  const huge = toCoreEvents("Order Completed", { products: Array.from({ length: 1e6 }, (_, i) => ({ product_id: `p${i}` })) }, 100);
  assert.equal(huge.events.length, 100, "at most maxProducts products are looked at");
});
