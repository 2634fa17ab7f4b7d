// Writes the demo screenshots referenced by the README (docs/demo.png, docs/demo-consent.png), with the
// same server and headless Chromium as the e2e tests: `npm run screenshots` (in www/).
import path from "node:path";
import { startServer, launchBrowser, newShopper, REPO } from "./harness.js";

const out = (name) => path.join(REPO, "docs", name);
const server = await startServer();
const browser = await launchBrowser();
try {
  const { page } = await newShopper(browser);
  await page.goto(`${server.base}/`);
  await page.evaluate(() => window.nextclick("ready"));
  await page.waitForTimeout(300);
  await page.screenshot({ path: out("demo-consent.png") });
  await page.locator("#nc-allow").click();
  for (const [cat, n] of [["coffee", 2], ["coffee", 7], ["kitchen", 1]]) {
    await page.goto(`${server.base}/c/${cat}`);
    await page.waitForTimeout(1200); // auto-captured views of the visible cards
    await page.locator(".grid a.card").nth(n).click();
    await page.waitForURL(/\/p\//);
    await page.evaluate(() => window.nextclick("ready"));
  }
  await page.locator(".add-to-cart").click();
  await page.waitForFunction(() => document.getElementById("nc-strip").shadowRoot.querySelectorAll("a[data-item-id]").length > 0);
  await page.waitForFunction(() => document.getElementById("nc-p-stored").textContent !== "nothing");
  await page.waitForTimeout(2500); // the toast fades
  await page.screenshot({ path: out("demo.png") });
  console.log(`wrote ${out("demo.png")} and ${out("demo-consent.png")}`);
} finally {
  await browser.close();
  server.stop();
}
