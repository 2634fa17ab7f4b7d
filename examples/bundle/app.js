// A shop's own code, bundled (esbuild, Vite, webpack…) with the npm package `nextclick`.
// Tested by www/test/package.test.js: installed from the packed tarball, bundled with esbuild, served under
// a strict CSP, in Chromium and Firefox.
import { nextclick } from "nextclick";

// Where the package's sdk/ and pkg/ folders are served (copied from node_modules/nextclick/):
// a bundler that inlines the SDK cannot find its worker and wasm otherwise.
nextclick("init", {
  model: "/models/default.onnx",
  catalog: "/catalog.bin",
  shop: "example-shop",
  assets: "/nextclick/",
});

// Render every new prediction (top-K items with title, url, price, score).
nextclick("onPrediction", ({ items }) => {
  const out = document.getElementById("suggestions");
  out.replaceChildren(
    ...items.map((item) => {
      const a = document.createElement("a");
      a.href = item.url || "#";
      a.textContent = item.title;
      a.className = "suggestion";
      return a;
    }),
  );
});

// What the shopper does, in Segment's e-commerce names (GA4 names work too).
for (const id of ["p-0001", "p-0002", "p-0003"]) nextclick("track", "Product Viewed", { product_id: id });
