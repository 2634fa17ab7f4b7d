// The shop's own script beside the classic loader (<script src="/nextclick/sdk/loader.js"> in <head>):
// nextclick(...) exists at once; calls made before the runtime has loaded are kept in order.
// Tested by www/test/package.test.js (the loader from the installed package, Chromium and Firefox).
nextclick("init", { model: "/models/default.onnx", catalog: "/catalog.bin", shop: "example-shop" });
nextclick("onPrediction", function (p) {
  document.getElementById("suggestions").textContent = p.items
    .map(function (item) {
      return item.title;
    })
    .join(" | ");
});
["p-0001", "p-0002", "p-0003"].forEach(function (id) {
  nextclick("track", "Product Viewed", { product_id: id });
});
