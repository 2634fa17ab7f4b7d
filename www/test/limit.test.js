// Node-only tests of the event rate limiter (limit.js) and of the runtime's API safety without a browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createBucket } from "../../packages/nextclick/sdk/limit.js";

test("token bucket: a burst, then the refill rate; drops are counted", () => {
  let t = 0;
  const b = createBucket({ rate: 50, burst: 200, now: () => t });
  let ok = 0;
  for (let i = 0; i < 100000; i++) if (b.take()) ok++;
  assert.equal(ok, 200, "the burst goes through");
  assert.equal(b.dropped, 100000 - 200);
  t += 1000; // one second later: 50 more
  ok = 0;
  for (let i = 0; i < 1000; i++) if (b.take()) ok++;
  assert.equal(ok, 50);
  t += 3600 * 1000; // an idle hour refills to the burst, not beyond
  ok = 0;
  for (let i = 0; i < 1000; i++) if (b.take()) ok++;
  assert.equal(ok, 200);
});

test("token bucket: a flood of 100k calls in one second is bounded and cheap", () => {
  const b = createBucket({ rate: 50, burst: 200 });
  const t0 = performance.now();
  let ok = 0;
  for (let i = 0; i < 100000; i++) if (b.take()) ok++;
  assert.ok(ok <= 200 + 50 * Math.ceil((performance.now() - t0) / 1000) + 1, `${ok} accepted`);
  assert.ok(performance.now() - t0 < 1000, "100k refusals take well under a second");
});
