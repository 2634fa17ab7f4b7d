// The demo shop's own script: initialises nextclick through the command queue (defined by
// /sdk/loader.js), tracks cart and order events Segment-style, and renders the intent meters and the
// privacy panel. The suggestion strip is the package's drop-in widget (/sdk/widget.js). Everything here
// uses only the public `nextclick(...)` API and the widget's attributes.
import "/sdk/widget.js";

const nextclick = window.nextclick;
const MODEL = "/models/default.onnx"; // the committed default model; catalog.bin is built for it
const CATALOG = "/demo/catalog.bin";
const CONSENT_KEY = "demo-shop:consent"; // the shop's own record of the shopper's choice

const $ = (id) => document.getElementById(id);

function storedConsent() {
  try {
    if (localStorage.getItem(CONSENT_KEY) === "granted") return "granted";
    if (sessionStorage.getItem(CONSENT_KEY) === "denied") return "denied";
  } catch {
    /* storage blocked: ask */
  }
  return "pending";
}

function setChoice(choice) {
  try {
    if (choice === "granted") {
      localStorage.setItem(CONSENT_KEY, "granted");
      sessionStorage.removeItem(CONSENT_KEY);
    } else {
      // a refusal is remembered for this tab only, so that nothing at all is stored on the device
      localStorage.removeItem(CONSENT_KEY);
      if (choice === "denied") sessionStorage.setItem(CONSENT_KEY, "denied");
      else sessionStorage.removeItem(CONSENT_KEY);
    }
  } catch {
    /* ignore */
  }
  $("nc-consent").hidden = choice !== "pending";
  return nextclick("consent", choice).then(updatePrivacy);
}

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 1800);
}

// The intent meters and the privacy panel follow every prediction; the suggestions themselves are the
// package's <nextclick-recommendations id="nc-strip"> (layout.html), which renders them, leaves out the
// product on screen and tracks its tiles' clicks.
function render({ intent }) {
  for (const k of ["purchase", "exit"]) {
    const v = intent ? intent[k] : null;
    $(`nc-${k}`).value = v ?? 0;
    $(`nc-${k}-v`).textContent = v == null ? "–" : `${Math.round(v * 100)}%`;
  }
  updatePrivacy();
}

// "Bytes sent about you" is measured, not printed: nextclick's own request accounting (status().bytesSent:
// the query strings and bodies of the requests it made, its worker's included) plus, over every request this
// page made to any origin (the browser's Resource Timing), the bytes of its query string. Resource Timing
// cannot show request bodies or headers: the e2e tests check those from outside the browser
// (docs/measure.md, "What the privacy panel measures").
const pageRequests = { count: 0, otherOrigins: 0, queryBytes: 0 };
function noteRequest(entry) {
  const u = new URL(entry.name, location.href);
  pageRequests.count++;
  if (u.origin !== location.origin) pageRequests.otherOrigins++;
  pageRequests.queryBytes += new TextEncoder().encode(u.search.slice(1)).length;
}
for (const e of performance.getEntriesByType("navigation")) noteRequest(e); // the page's own URL
try {
  new PerformanceObserver((list) => {
    list.getEntries().forEach(noteRequest);
    updatePrivacy();
  }).observe({ type: "resource", buffered: true });
} catch {
  /* no Resource Timing: the SDK's own accounting stays */
}

async function updatePrivacy() {
  try {
    const s = await nextclick("status");
    $("nc-p-consent").textContent = s.consent;
    $("nc-p-events").textContent = s.features ? String(s.features.events) : "0";
    $("nc-p-stored").textContent = s.storedBytes ? `${s.storedBytes} bytes (${s.storage})` : "nothing";
    $("nc-p-sent").textContent = String(s.bytesSent + pageRequests.queryBytes);
    $("nc-p-requests").textContent = `${pageRequests.count + (s.requests || 0)}, ${pageRequests.otherOrigins} to other origins`;
    const q = s.quality;
    $("nc-p-quality").textContent = q && q.events ? `${q.hits} of ${q.events} next steps (top ${q.k})` : "–";
    $("nc-p-backend").textContent = s.backend === "worker" ? "a Web Worker" : s.backend || "–";
  } catch {
    /* not ready yet */
  }
}

const consent = storedConsent();
$("nc-consent").hidden = consent !== "pending";
nextclick("init", { model: MODEL, catalog: CATALOG, shop: "demo-shop", consent, k: 8 }).then(updatePrivacy, () => {});
document.addEventListener("nextclick:prediction", (e) => render(e.detail));

$("nc-allow").addEventListener("click", () => setChoice("granted"));
$("nc-deny").addEventListener("click", () => setChoice("denied"));
$("nc-change").addEventListener("click", () => ($("nc-consent").hidden = false));
$("nc-forget").addEventListener("click", async () => {
  await nextclick("forget").catch(() => {});
  try {
    localStorage.removeItem(CONSENT_KEY);
    sessionStorage.removeItem(CONSENT_KEY);
  } catch {
    /* ignore */
  }
  await setChoice("pending");
  toast("Forgotten: everything nextclick kept on this device is deleted.");
});
// The right of access: everything nextclick keeps about the shopper on this device, as a JSON file made in
// the page (a Blob and an object URL: no request).
$("nc-export").addEventListener("click", async () => {
  const data = await nextclick("export").catch(() => null);
  if (!data) return toast("Nothing to export: nextclick is not running.");
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const a = Object.assign(document.createElement("a"), { href: url, download: `nextclick-export-${data.exportedAt.slice(0, 10)}.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  toast("Exported: the file holds everything nextclick keeps about you on this device.");
});
// Prefetch of the top suggestion (off by default): the widget's `prefetch` attribute. In Chromium it marks
// the top tile for the speculation rules the server names in its `Speculation-Rules` header
// (www/demo/prefetch.speculationrules, a document rule for `a[data-nc-prefetch]`: no inline script under
// the page's CSP); elsewhere it adds a `<link rel=prefetch>`. Either way the request is a plain GET of a
// product page (no event data; the model's choice is visible to the shop's own server only).
function setPrefetch(on) {
  $("nc-strip").toggleAttribute("prefetch", on);
}
try {
  $("nc-prefetch").checked = sessionStorage.getItem("demo-shop:prefetch") === "1";
} catch {
  /* ignore */
}
setPrefetch($("nc-prefetch").checked);
$("nc-prefetch").addEventListener("change", (e) => {
  try {
    sessionStorage.setItem("demo-shop:prefetch", e.target.checked ? "1" : "0");
  } catch {
    /* ignore */
  }
  setPrefetch(e.target.checked);
});

// product page: a Segment-style view, and the cart / order buttons
const product = document.querySelector("[data-nextclick-product]");
if (product) {
  const props = { product_id: product.dataset.nextclickProduct, price: Number(product.dataset.price) };
  nextclick("track", "Product Viewed", props).catch(() => {});
  product.querySelector(".add-to-cart").addEventListener("click", () => {
    nextclick("track", "Product Added", props).catch(() => {});
    toast("Added to cart (demo)");
  });
  product.querySelector(".buy-now").addEventListener("click", () => {
    nextclick("track", "Checkout Started", { products: [props] }).catch(() => {});
    nextclick("track", "Order Completed", { order_id: "demo", products: [props] }).catch(() => {});
    toast("Thank you for your (demo) order");
  });
}
