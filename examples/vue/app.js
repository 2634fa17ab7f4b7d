// A Vue 3 product page with the drop-in widget, as a render function (no template compiler at run time,
// so no `eval`: the strict CSP holds). Vue sets the custom element's props as properties (k, label, prefetch…).
// Tested by www/test/widget-frameworks.test.js: bundled with esbuild, run in Chromium under the strict CSP.
import { createApp, h, onMounted, ref } from "vue";
import { nextclick } from "nextclick";
import "nextclick/widget"; // defines <nextclick-recommendations>

nextclick("init", { model: "/models/default.onnx", catalog: "/catalog.bin", shop: "example-shop", assets: "/nextclick/" });

const ProductPage = {
  props: { productId: String },
  setup(props) {
    const prefetch = ref(false);
    onMounted(() => nextclick("track", "Product Viewed", { product_id: props.productId }));
    return () =>
      h("main", [
        // the product on screen: the widget leaves it out
        h("article", { "data-nextclick-product": props.productId }, [h("h1", `Product ${props.productId}`)]),
        h("label", [
          h("input", { type: "checkbox", checked: prefetch.value, onChange: (e) => (prefetch.value = e.target.checked) }),
          " Prefetch the top suggestion",
        ]),
        h("nextclick-recommendations", { k: 4, label: "You may also like", currency: "EUR", prefetch: prefetch.value }, [
          h("p", { slot: "empty" }, "Browse a little and suggestions appear here."),
        ]),
      ]);
  },
};

createApp(ProductPage, { productId: "p-0001" }).mount("#app");
