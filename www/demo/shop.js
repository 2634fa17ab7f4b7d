// The demo shop's own script: initialises nextclick through the command queue (defined by
// /sdk/loader.js), tracks cart and order events Segment-style, and renders the suggestion strip, the
// intent meters and the privacy panel. Everything here uses only the public `nextclick(...)` API.

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

function card(p) {
  const a = document.createElement("a");
  a.className = "card small";
  a.href = p.url || `/p/${encodeURIComponent(p.itemId)}`;
  a.setAttribute("data-nextclick-item", p.itemId);
  a.setAttribute("data-nextclick-view", "off"); // suggestions are not product views
  // No image: fetching /img/<id>.svg for a *suggested* product would tell the image server what the model
  // predicted. Suggestions are text only (title and price come from the catalog already on the device).
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = (p.title || p.itemId).slice(0, 1);
  const t = document.createElement("span");
  t.className = "card-title";
  t.textContent = p.title || p.itemId;
  const pr = document.createElement("span");
  pr.className = "card-price";
  pr.textContent = typeof p.price === "number" ? `€${p.price.toFixed(2)}` : "";
  a.append(badge, t, pr);
  return a;
}

// Prefetch of the top suggestion. Chromium: the speculation rules the server names in its
// `Speculation-Rules` header (www/demo/prefetch.speculationrules, a document rule for
// `a[data-nc-prefetch]`), so the page's CSP needs no inline-script source; marking the card is enough.
// Elsewhere: a `<link rel=prefetch>`. Either way the request is a plain GET of a product page the device
// already knows of (no event data; the model's choice is visible to the shop's own server only).
function prefetch(top) {
  document.querySelectorAll("[data-nc-prefetch]").forEach((e) => (e.tagName === "LINK" ? e.remove() : e.removeAttribute("data-nc-prefetch")));
  if (!top || !$("nc-prefetch").checked) return;
  if (HTMLScriptElement.supports && HTMLScriptElement.supports("speculationrules")) {
    top.setAttribute("data-nc-prefetch", "");
  } else {
    const l = document.createElement("link");
    l.rel = "prefetch";
    l.href = top.href;
    l.setAttribute("data-nc-prefetch", "");
    document.head.append(l);
  }
}

function render({ items, intent }) {
  const strip = $("nc-strip");
  strip.replaceChildren(...(items.length ? items.slice(0, 6).map(card) : [Object.assign(document.createElement("p"), { className: "muted", textContent: "Browse a little and suggestions appear here." })]));
  strip.dataset.updated = String(Date.now());
  for (const k of ["purchase", "exit"]) {
    const v = intent ? intent[k] : null;
    $(`nc-${k}`).value = v ?? 0;
    $(`nc-${k}-v`).textContent = v == null ? "–" : `${Math.round(v * 100)}%`;
  }
  prefetch(items.length ? strip.querySelector("a.card") : null);
  updatePrivacy();
}

async function updatePrivacy() {
  try {
    const s = await nextclick("status");
    $("nc-p-consent").textContent = s.consent;
    $("nc-p-events").textContent = s.features ? String(s.features.events) : "0";
    $("nc-p-stored").textContent = s.storedBytes ? `${s.storedBytes} bytes (${s.storage})` : "nothing";
    $("nc-p-sent").textContent = String(s.bytesSent);
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
try {
  $("nc-prefetch").checked = sessionStorage.getItem("demo-shop:prefetch") === "1";
} catch {
  /* ignore */
}
$("nc-prefetch").addEventListener("change", (e) => {
  try {
    sessionStorage.setItem("demo-shop:prefetch", e.target.checked ? "1" : "0");
  } catch {
    /* ignore */
  }
  prefetch(document.querySelector("#nc-strip a.card"));
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
