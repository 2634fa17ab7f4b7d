// Contract v2 in onnxruntime-web: the incremental reference model (models/reference-v2.onnx), stepped event
// by event in headless Chromium with its key/value cache kept in JS, gives the plain-Rust full pass's session
// vector after every event within 1e-5 (tests/fixtures/reference_v2_vectors.json, written by `nextclick
// reference`; the same graph's tract runs are checked natively and in wasm against the same reference).
// The cache is a ring of L − 1 slots, as src/model.rs keeps it: a 70-event session wraps it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { REPO, startServer, launchBrowser } from "../support/harness.js";

test("onnxruntime-web steps the v2 reference model like the plain-Rust full pass", { timeout: 5 * 60 * 1000 }, async () => {
  const fixture = JSON.parse(readFileSync(path.join(REPO, "tests/fixtures/reference_v2_vectors.json"), "utf8"));
  assert.ok(fixture.events.length > fixture.max_len, "the session runs past L");
  const server = await startServer();
  const browser = await launchBrowser("chromium");
  try {
    const page = await browser.newPage();
    await page.goto(`${server.base}/models/reference-v2.card.json`);
    const got = await page.evaluate(async (fx) => {
      const ort = await import("/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs");
      ort.env.wasm.numThreads = 1;
      ort.env.wasm.proxy = false;
      ort.env.wasm.wasmPaths = "/node_modules/onnxruntime-web/dist/";
      const model = new Uint8Array(await (await fetch("/models/reference-v2.onnx")).arrayBuffer());
      const session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"] });
      const [layers, heads, slots, dh] = fx.cache;
      const D = fx.dim;
      const keys = new Float32Array(layers * heads * slots * dh);
      const values = new Float32Array(keys.length);
      const mask = new Float32Array(slots);
      const out = [];
      for (let i = 0; i < fx.events.length; i++) {
        const e = fx.events[i];
        const r = await session.run({
          item: new ort.Tensor("float32", Float32Array.from(e.item), [1, D]),
          event_type: new ort.Tensor("int64", BigInt64Array.from([BigInt(e.event_type)]), [1]),
          time_gap: new ort.Tensor("int64", BigInt64Array.from([BigInt(e.time_gap)]), [1]),
          position: new ort.Tensor("int64", BigInt64Array.from([BigInt(e.position)]), [1]),
          past_keys: new ort.Tensor("float32", keys.slice(), [1, layers, heads, slots, dh]),
          past_values: new ort.Tensor("float32", values.slice(), [1, layers, heads, slots, dh]),
          past_mask: new ort.Tensor("float32", mask.slice(), [1, slots]),
        });
        out.push(Array.from(r.session.data));
        // the new event's keys and values [layers, heads, dh] into ring slot i mod (L − 1)
        const slot = i % slots, k = r.keys.data, v = r.values.data;
        for (let lh = 0; lh < layers * heads; lh++) {
          keys.set(k.subarray(lh * dh, (lh + 1) * dh), (lh * slots + slot) * dh);
          values.set(v.subarray(lh * dh, (lh + 1) * dh), (lh * slots + slot) * dh);
        }
        mask[slot] = 1;
      }
      return out;
    }, fixture);
    assert.equal(got.length, fixture.events.length);
    let worst = 0;
    got.forEach((v, i) => {
      assert.equal(v.length, fixture.dim, `event ${i}`);
      v.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - fixture.events[i].session[j]))));
    });
    console.log(`onnxruntime-web vs the plain-Rust full pass: max |Δ| = ${worst.toExponential(2)} over ${got.length} events`);
    assert.ok(worst < 1e-5, `max |onnxruntime-web − full pass| = ${worst}`);
  } finally {
    await browser.close();
    server.stop();
  }
});
