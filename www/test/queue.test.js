// Node-only tests (no browser) of the command queue: stub → runtime hand-over, order, promises, double load.
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeStub, installQueue } from "../../packages/nextclick/sdk/queue.js";

function recorder() {
  const calls = [];
  const run = async (command, args) => {
    calls.push([command, ...args]);
    if (command === "boom") throw new Error("nextclick: boom");
    if (command === "predict") return [{ itemId: "a", score: 1 }];
    return command;
  };
  return { calls, run };
}

test("calls queued before loading are replayed in order and their promises settle", async () => {
  const win = {};
  win.nextclick = makeStub();
  const p1 = win.nextclick("init", { model: "m", catalog: "c" });
  const p2 = win.nextclick("track", "Product Viewed", { product_id: "a" });
  const p3 = win.nextclick("predict", 3);
  const p4 = win.nextclick("boom");
  assert.equal(win.nextclick.q.length, 4);
  const { calls, run } = recorder();
  const fn = installQueue(win, run);
  assert.equal(win.nextclick, fn);
  assert.equal(fn.loaded, true);
  assert.equal(await p1, "init");
  assert.equal(await p2, "track");
  assert.deepEqual(await p3, [{ itemId: "a", score: 1 }]);
  await assert.rejects(p4, /boom/);
  assert.deepEqual(calls.map((c) => c[0]), ["init", "track", "predict", "boom"]);
  assert.deepEqual(calls[1], ["track", "Product Viewed", { product_id: "a" }]);
});

test("a reference to the stub captured before loading keeps working afterwards", async () => {
  const win = {};
  win.nextclick = makeStub();
  const captured = win.nextclick;
  const { calls, run } = recorder();
  installQueue(win, run);
  assert.equal(await captured("predict", 1).then((r) => r.length), 1);
  await captured("consent", "denied");
  assert.deepEqual(calls.map((c) => c[0]), ["predict", "consent"]);
});

test("gtag-style stubs (arguments objects in q) are accepted", async () => {
  const win = {};
  win.nextclick = function () {
    (win.nextclick.q = win.nextclick.q || []).push(arguments);
  };
  win.nextclick("init", { model: "m", catalog: "c" });
  win.nextclick("consent", "granted");
  const { calls, run } = recorder();
  installQueue(win, run);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(calls, [["init", { model: "m", catalog: "c" }], ["consent", "granted"]]);
});

test("after loading, calls go straight to the runtime and never throw synchronously", async () => {
  const win = {};
  const { calls, run } = recorder();
  const fn = installQueue(win, run);
  assert.equal(await fn("predict", 2).then((r) => r.length), 1);
  let threw = false;
  let p;
  try {
    p = fn("boom");
  } catch {
    threw = true;
  }
  assert.equal(threw, false);
  await assert.rejects(p, /boom/);
  // a runtime whose run throws synchronously still yields a rejected promise
  const w2 = {};
  const f2 = installQueue(w2, () => {
    throw new Error("sync");
  });
  await assert.rejects(f2("x"), /sync/);
  // late pushes on q (scripts that captured the old stub's q) are dispatched too
  fn.q.push(["track", "Product Clicked", { product_id: "b" }]);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(calls.at(-1), ["track", "Product Clicked", { product_id: "b" }]);
});

test("double loading: a second install keeps the first runtime", async () => {
  const win = {};
  const a = recorder();
  const b = recorder();
  const first = installQueue(win, a.run);
  const second = installQueue(win, b.run);
  assert.equal(first, second);
  await win.nextclick("status");
  assert.equal(a.calls.length, 1);
  assert.equal(b.calls.length, 0);
});
