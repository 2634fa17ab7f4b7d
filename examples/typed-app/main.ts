// A shop's own code in TypeScript, with the npm package `nextclick`: every option and result is typed —
// the SDK's own types (sdk/nextclick.d.ts) and the core's, generated from its Rust types (pkg/nextclick.d.ts):
// `PredictorOptions`, `Prediction`, `Intent`, `SessionFeatures`, `PredictorStats`, …
// Type-checked by www/test/types.test.js (`tsc -p examples/typed-app`, strict), which also checks that a
// wrong call (e.g. `nextclick("predict", "5")`) is refused.
import { nextclick, MAX_K } from "nextclick";
import { TAG } from "nextclick/widget"; // defines <nextclick-recommendations>
import type {
  InitOptions,
  Intent,
  NextclickRecommendationsElement,
  Prediction,
  PredictionDetail,
  PredictorOptions,
  RecommendationTile,
  SessionFeatures,
  Status,
} from "nextclick";

// The core's options (Predictor.create): a misspelt key or a wrong value is a compile error here, as it is
// an init error at run time.
const options: PredictorOptions = {
  sessionTimeoutMinutes: 30,
  unknownItems: "skip",
  excludeCurrent: true,
  head: { alpha: null, learningRate: 0.05 },
};

const init: InitOptions = {
  model: "/models/default.onnx",
  catalog: "/catalog.bin",
  shop: "typed-shop",
  consent: "pending",
  assets: "/nextclick/",
  k: 6,
  options,
  onError: (error) => console.warn(`nextclick is off (${error.kind}): ${error.message}`),
};

function render(items: Prediction[], intent: Intent | null): void {
  const out = document.getElementById("suggestions");
  if (!out) return;
  out.replaceChildren(
    ...items.map((item) => {
      const a = document.createElement("a");
      a.href = item.url ?? "#";
      a.textContent = item.price === undefined ? (item.title ?? item.itemId) : `${item.title ?? item.itemId} (${item.price.toFixed(2)})`;
      a.dataset.score = item.score.toFixed(3);
      return a;
    }),
  );
  out.dataset.purchaseIntent = intent ? intent.purchase.toFixed(2) : "";
}

// The drop-in element: its properties are typed, and so is what createElement / querySelector return.
function addStrip(): NextclickRecommendationsElement {
  const strip = document.querySelector(TAG) ?? document.createElement("nextclick-recommendations");
  strip.k = 4;
  strip.label = "You may also like";
  strip.currency = "EUR";
  strip.exclude = ["p-0001"];
  strip.addEventListener("click", () => {
    const tiles: RecommendationTile[] = strip.items;
    console.debug(`${tiles.length} tiles`);
  });
  if (!strip.isConnected) document.body.append(strip);
  return strip;
}

async function main(): Promise<void> {
  const status: Status = await nextclick("init", init);
  if (!status.ready) {
    console.warn(`no predictions on this page: ${status.disabled}`);
    return;
  }
  const unsubscribe = await nextclick("onPrediction", ({ items, intent }: PredictionDetail) => render(items, intent));
  document.addEventListener("nextclick:prediction", (e) => console.debug(`${e.detail.items.length} suggestions`));

  await nextclick("track", "Product Viewed", { product_id: "p-0001", price: 19.9 });
  const top: Prediction[] = await nextclick("predict", Math.min(5, MAX_K));
  render(top, await nextclick("intent"));

  const now = await nextclick("status");
  const features: SessionFeatures | null | undefined = now.features;
  console.info(`${now.stats?.accepted ?? 0} events accepted; ${features?.views ?? 0} views, cart value ${features?.cartValue ?? 0}`);
  addStrip().refresh();
  unsubscribe();
}

main().catch((e: unknown) => console.error(e));
