// nextclick — auto-capture of `data-nextclick-item` elements:
// * view: the element is at least 50% visible for at least 1 s (IntersectionObserver), once per element
//   per page view; elements with `data-nextclick-view="off"` (e.g. the recommendation strip) report none;
// * click: a click inside the element (`data-nextclick-click="off"` opts out, e.g. for the product page's
//   own block, whose buttons are tracked explicitly).
// Elements added later (MutationObserver) are observed too.

const ATTR = "data-nextclick-item";

/** Starts auto-capture under `root`; `report(type, itemId)` receives "view" / "click". Returns `stop()`. */
export function startAutocapture(root, report, { minRatio = 0.5, dwellMs = 1000 } = {}) {
  const doc = root.ownerDocument || root;
  const timers = new Map();
  const seen = new WeakSet();
  const observed = new WeakSet();
  const safeReport = (type, id) => {
    try {
      report(type, id);
    } catch (e) {
      console.error("nextclick: auto-capture", e);
    }
  };

  const io =
    typeof IntersectionObserver === "function"
      ? new IntersectionObserver(
          (entries) => {
            for (const e of entries) {
              const el = e.target;
              if (e.isIntersecting && e.intersectionRatio >= minRatio) {
                if (!timers.has(el) && !seen.has(el)) {
                  timers.set(
                    el,
                    setTimeout(() => {
                      timers.delete(el);
                      if (seen.has(el) || !el.isConnected) return;
                      seen.add(el);
                      io.unobserve(el);
                      const id = el.getAttribute(ATTR);
                      if (id) safeReport("view", id);
                    }, dwellMs),
                  );
                }
              } else if (timers.has(el)) {
                clearTimeout(timers.get(el));
                timers.delete(el);
              }
            }
          },
          { threshold: [0, minRatio] },
        )
      : null;

  function observe(el) {
    if (!io || observed.has(el) || el.getAttribute("data-nextclick-view") === "off") return;
    observed.add(el);
    io.observe(el);
  }
  function scan(node) {
    if (node.nodeType !== 1) return;
    if (node.hasAttribute(ATTR)) observe(node);
    node.querySelectorAll(`[${ATTR}]`).forEach(observe);
  }
  scan(root.documentElement || root);

  const mo =
    typeof MutationObserver === "function"
      ? new MutationObserver((records) => {
          for (const r of records) r.addedNodes.forEach(scan);
        })
      : null;
  if (mo) mo.observe(root.documentElement || root, { childList: true, subtree: true });

  const onClick = (ev) => {
    const el = ev.target && ev.target.closest ? ev.target.closest(`[${ATTR}]`) : null;
    if (!el || el.getAttribute("data-nextclick-click") === "off") return;
    const id = el.getAttribute(ATTR);
    if (id) safeReport("click", id);
  };
  doc.addEventListener("click", onClick, true);

  return function stop() {
    if (io) io.disconnect();
    if (mo) mo.disconnect();
    timers.forEach((t) => clearTimeout(t));
    timers.clear();
    doc.removeEventListener("click", onClick, true);
  };
}
