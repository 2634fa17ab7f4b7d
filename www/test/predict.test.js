// predict(k)'s k (packages/nextclick/sdk/nextclick.js `predictK`): omitted → the init option; 1..50 → as given; anything
// else rejects with a clear error (it used to mean the default silently, and 100 returned more than 50).
import { test } from "node:test";
import assert from "node:assert/strict";
import { predictK, MAX_K } from "../../packages/nextclick/sdk/nextclick.js";

test("predict(k): omitted means the init option; 1..50 as given; anything else is a clear error", () => {
  assert.equal(MAX_K, 50);
  assert.equal(predictK(undefined, 8), 8);
  assert.equal(predictK(null, 6), 6);
  for (const k of [1, 5, 50]) assert.equal(predictK(k, 8), k);
  for (const k of [0, -3, 51, 100, 2.5, NaN, Infinity, "5", true, {}]) {
    assert.throws(() => predictK(k, 8), /^Error: nextclick: predict\(k\): k must be an integer from 1 to 50, got /, String(k));
  }
});
