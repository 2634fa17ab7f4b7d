// A React 19 product page with the drop-in widget. `<nextclick-recommendations>` is a custom element:
// React 19 passes its props as properties (k, label, prefetch…), so it is used in JSX as it is.
// Tested by www/test/widget-frameworks.test.js: bundled with esbuild, run in Chromium under the strict CSP.
import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { nextclick } from "nextclick";
import "nextclick/widget"; // defines <nextclick-recommendations>

nextclick("init", { model: "/models/default.onnx", catalog: "/catalog.bin", shop: "example-shop", assets: "/nextclick/" });

function ProductPage({ productId }) {
  const [prefetch, setPrefetch] = useState(false);
  useEffect(() => {
    nextclick("track", "Product Viewed", { product_id: productId });
  }, [productId]);
  return (
    <main>
      {/* the product on screen: the widget leaves it out */}
      <article data-nextclick-product={productId}>
        <h1>Product {productId}</h1>
      </article>
      <label>
        <input type="checkbox" checked={prefetch} onChange={(e) => setPrefetch(e.target.checked)} /> Prefetch the top suggestion
      </label>
      <nextclick-recommendations k={4} label="You may also like" currency="EUR" prefetch={prefetch}>
        <p slot="empty">Browse a little and suggestions appear here.</p>
      </nextclick-recommendations>
    </main>
  );
}

createRoot(document.getElementById("app")).render(<ProductPage productId="p-0001" />);
