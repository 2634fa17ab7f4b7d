// The package imported under Node (server-side rendering): importing touches no `window`, and the exported
// `nextclick` is a function whose every command resolves to the documented no-op value (types: always defined).
import { test } from "node:test";
import assert from "node:assert/strict";

test("under Node (no window) the exported nextclick resolves every command to its no-op value", async () => {
  assert.equal(typeof globalThis.window, "undefined");
  const m = await import("../../packages/nextclick/sdk/nextclick.js");
  const nextclick = m.default;
  assert.equal(typeof nextclick, "function");
  assert.equal(m.nextclick, nextclick);
  assert.equal(nextclick, m.ssrNextclick);
  const st = await nextclick("init", { model: "/m.onnx", catalog: "/c.bin" });
  assert.deepEqual(
    { ready: st.ready, backend: st.backend, bytesSent: st.bytesSent, consent: st.consent, dropped: st.dropped },
    { ready: false, backend: null, bytesSent: 0, consent: "pending", dropped: 0 },
  );
  assert.match(st.disabled, /server-side rendering/);
  assert.match(st.version, /^\d+\.\d+\.\d+/);
  assert.deepEqual(await nextclick("predict", 5), []);
  assert.deepEqual(await nextclick("predict"), []);
  await assert.rejects(nextclick("predict", 100), /k must be an integer from 1 to 50/);
  assert.equal(await nextclick("intent"), null);
  assert.equal(await nextclick("track", "Product Viewed", { product_id: "p-1" }), "disabled");
  assert.deepEqual(await nextclick("track", "Order Completed", { products: [{ product_id: "a" }, { product_id: "b" }] }), ["disabled", "disabled"]);
  assert.equal(await nextclick("consent", "granted"), "pending");
  assert.equal(await nextclick("forget"), true);
  const off = await nextclick("onPrediction", () => {});
  assert.equal(typeof off, "function");
  off();
  assert.equal(typeof (await nextclick("onError", () => {})), "function");
  assert.equal((await nextclick("ready")).ready, false);
  assert.equal((await nextclick("status")).ready, false);
  assert.equal(await nextclick("impression", ["p-1"]), 0);
  assert.equal(await nextclick("qualityReport"), null);
  assert.equal(await nextclick("export"), null);
  await assert.rejects(nextclick("bogus"), /unknown command "bogus"/);
});
