// The engine's catalog digest (packages/nextclick/sdk/engine.js `catalogDigest`), in Node with the release
// wasm (www/pkg): the platform's SHA-256 of the catalog without its last 32 bytes is the file's own
// checksum, so `Predictor.create` can compare instead of hashing in wasm; a flipped byte is still refused,
// and so is a digest that is not 32 bytes. Skips with a message without www/pkg (`make wasm-release`);
// fails under CI=true.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { REPO, WWW } from "../support/harness.js";
import { catalogDigest } from "../../packages/nextclick/sdk/engine.js";

const WASM = path.join(WWW, "pkg/nextclick_bg.wasm");
const missing = existsSync(WASM) ? null : `${WASM} is missing (make wasm-release)`;
if (missing && process.env.CI !== "true") console.log(`# engine: SKIPPED, ${missing}`);
const skip = missing && process.env.CI !== "true" ? missing : false;

test("catalogDigest is the catalog's checksum; create compares with it and still refuses a corrupted file", { skip }, async () => {
  assert.equal(missing, null, missing);
  const glue = await import(path.join(WWW, "pkg/nextclick.js"));
  glue.initSync({ module: readFileSync(WASM) });
  const model = readFileSync(path.join(REPO, "models/default.onnx"));
  const catalog = new Uint8Array(readFileSync(path.join(WWW, "demo/catalog.bin")));
  const digest = await catalogDigest(catalog);
  assert.ok(digest instanceof Uint8Array && digest.length === 32);
  assert.deepEqual([...digest], [...catalog.subarray(catalog.length - 32)], "the digest of the body is the file's trailer");
  const a = glue.Predictor.create(model, catalog, undefined, digest);
  const b = glue.Predictor.create(model, catalog, undefined);
  const ev = { type: "view", itemId: "p-0010", timestamp: Date.UTC(2026, 0, 15, 10) };
  a.track(ev);
  b.track(ev);
  assert.deepEqual(a.predict(5), b.predict(5));
  const bad = catalog.slice();
  bad[bad.length >> 1] ^= 1;
  // (the digest stands in for hashing the bytes passed with it: the engine computes it from those bytes)
  const badDigest = await catalogDigest(bad);
  assert.throws(() => glue.Predictor.create(model, bad, undefined, badDigest), /checksum mismatch/);
  assert.throws(() => glue.Predictor.create(model, catalog, undefined, digest.subarray(0, 16)), /catalogDigest must be the 32 bytes/);
  assert.equal(await catalogDigest(new Uint8Array(10)), undefined, "too short to hold a checksum: the core reports it");
});

test("split catalogs: adjacent chunk requests are fetched as one Range request, each part kept apart", async () => {
  const { coalesce } = await import("../../packages/nextclick/sdk/engine.js");
  const reqs = [
    { kind: "list", list: 2, index: 0, offset: 300, length: 50 },
    { kind: "list", list: 0, index: 0, offset: 100, length: 100 },
    { kind: "list", list: 1, index: 0, offset: 200, length: 100 },
    { kind: "items", list: 0, index: 3, offset: 10, length: 5 },
  ];
  const runs = coalesce(reqs);
  assert.deepEqual(runs.map((r) => [r.offset, r.length, r.parts.map((p) => p.list)]), [[10, 5, [0]], [100, 250, [0, 1, 2]]]);
  assert.deepEqual(coalesce([]), []);
  // a run stops at 4 MiB
  const big = [0, 1, 2].map((k) => ({ kind: "list", list: k, index: 0, offset: k * (3 << 20), length: 3 << 20 }));
  assert.equal(coalesce(big).length, 3);
});
