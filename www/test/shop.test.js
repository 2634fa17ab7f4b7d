// A shop's bundle end to end (#17): a generated product feed and order history → `nextclick shop build
// --orders` → the folder served by `nextclick serve` → a page with only the pasted snippet, in Chromium:
// the runtime starts with the shop head the orders gave (status().shopHead), predicts, and the console
// stays clean. Uses the full CLI (`make tools-release`) and the release wasm (`make wasm-release`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BIN, REPO, launchBrowser, newShopper } from "../support/harness.js";

function serve(root) {
  const child = spawn(BIN, ["serve", "--root", root, "--host", "127.0.0.1", "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (m) resolve({ base: m[0], stop: () => child.kill("SIGTERM") });
    });
    child.on("exit", (code) => reject(new Error(`nextclick serve exited (${code}): ${out}`)));
  });
}

test("shop build --orders: the pasted snippet starts the runtime with the shop head, predictions, a clean console", { timeout: 10 * 60 * 1000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nc-shop-"));
  const run = (args) => {
    const r = spawnSync(BIN, args, { cwd: REPO, encoding: "utf8" });
    assert.equal(r.status, 0, `nextclick ${args.join(" ")}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout + r.stderr;
  };
  run(["demo-catalog", "--count", "120", "--out", path.join(dir, "products.csv")]);
  // 80 customers, each buying from one of 8 fixed pairs of products, again and again: the shop's pattern
  let orders = "order_id,customer_id,timestamp,item_id\n";
  for (let c = 0; c < 80; c++) {
    const a = `p-${String(1 + (c % 8)).padStart(4, "0")}`;
    const b = `p-${String(61 + (c % 8)).padStart(4, "0")}`;
    for (let k = 0; k < 3; k++) {
      orders += `o${c}-${k}a,c${c},${1761955200 + c * 1000 + k * 86400},${a}\n`;
      orders += `o${c}-${k}b,c${c},${1761955300 + c * 1000 + k * 86400},${b}\n`;
    }
  }
  fs.writeFileSync(path.join(dir, "orders.csv"), orders);
  const dist = path.join(dir, "dist");
  const log = run(["shop", "build", "--feed", path.join(dir, "products.csv"), "--orders", path.join(dir, "orders.csv"), "--out", dist]);
  const manifest = JSON.parse(fs.readFileSync(path.join(dist, "manifest.json"), "utf8"));
  assert.ok(manifest.binding.shop_head, `a shop head ships: ${manifest.binding.shop_head_note}\n${log}`);
  const snippet = fs.readFileSync(path.join(dist, "snippet.html"), "utf8");
  const tags = snippet.split("\n").filter((l) => l.startsWith("<script") && !l.includes("importmap")).slice(0, 2);
  assert.equal(tags.length, 2, snippet);
  fs.writeFileSync(path.join(dist, "index.html"), `<!doctype html><html><head><meta charset="utf-8">\n${tags.join("\n")}\n</head><body><a data-nextclick-item="p-0001" href="#">p-0001</a></body></html>\n`);
  fs.copyFileSync(path.join(REPO, "www/favicon.ico"), path.join(dist, "favicon.ico")); // a shop has one
  const server = await serve(dist);
  const browser = await launchBrowser("chromium");
  try {
    const { page, log: console_ } = await newShopper(browser);
    await page.goto(`${server.base}/index.html`);
    const st = await page.evaluate(async () => {
      await window.nextclick("ready");
      await window.nextclick("track", "Product Viewed", { product_id: "p-0001" });
      return window.nextclick("status");
    });
    assert.equal(st.disabled, null);
    assert.equal(st.catalogSize, 120);
    assert.equal(st.shopHead && st.shopHead.customers, 80, JSON.stringify(st.shopHead));
    const top = await page.evaluate(() => window.nextclick("predict", 10));
    assert.ok(top.length === 10, JSON.stringify(top));
    assert.deepEqual(console_.consoleErrors, []);
    assert.deepEqual(console_.pageErrors, []);
  } finally {
    await browser.close();
    server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
