// nextclick — opt-in prefetch of one suggested page (the top suggestion), the way a strict CSP allows it.
//
// * Where the browser has speculation rules (`HTMLScriptElement.supports("speculationrules")`, Chromium):
//   the link is *marked* with `data-nc-prefetch`, nothing else. The rules themselves come from a
//   same-origin file that the page's HTML response names in a header —
//       Speculation-Rules: "/nextclick.speculationrules"
//       {"prefetch": [{"source": "document", "where": {"selector_matches": "a[data-nc-prefetch]"},
//                      "eagerness": "immediate", "referrer_policy": "no-referrer"}]}
//   (served as application/speculationrules+json) — so the page needs no inline `<script
//   type="speculationrules">`, which `script-src 'self'` forbids. A link inside a shadow tree is matched
//   like any other (the selector is scoped to the link's own tree: WICG/nav-speculation#240; Chromium 156
//   prefetches the widget's shadow-DOM tiles, www/test/widget.test.js), but only a link that is rendered:
//   a `hidden` link, or a light-DOM child of a shadow host that no slot shows, is never prefetched.
// * Elsewhere (no speculation rules: Firefox ESR 153, WebKitGTK 2.50): a `<link rel="prefetch" data-nc-prefetch>`
//   in the document's `<head>`.
//
// Only same-origin http(s) URLs are ever prefetched: the request is a plain GET of a page of the shop's
// own site, without query string or body — but it does tell the shop's server which product the model
// put first, which is why it is off unless the shop turns it on (docs/widget.md, "Prefetch").
// Pure DOM, no dependency on the runtime; `<nextclick-recommendations prefetch>` uses it, and a shop with its
// own rendering can use it directly:
//
//   import { createPrefetcher } from "nextclick/prefetch";
//   const prefetcher = createPrefetcher();
//   nextclick("onPrediction", () => prefetcher.update(document.querySelector("#my-list a")));

/** The attribute the speculation rules select (`a[data-nc-prefetch]`), also set on the fallback `<link>`. */
export const PREFETCH_ATTR = "data-nc-prefetch";

/** Does this browser apply speculation rules (and so the document rule that selects marked links)? */
export function supportsSpeculationRules() {
  try {
    return typeof HTMLScriptElement !== "undefined" && typeof HTMLScriptElement.supports === "function" && HTMLScriptElement.supports("speculationrules");
  } catch {
    return false;
  }
}

/** `href` as an absolute URL if it is an http(s) URL of the page's own origin, else null. */
export function sameOriginUrl(href, base = typeof document !== "undefined" ? document.baseURI : undefined) {
  if (typeof href !== "string" || href === "" || !base) return null;
  try {
    const u = new URL(href, base);
    if (u.protocol !== "http:" && u.protocol !== "https:") return null;
    return u.origin === new URL(base).origin ? u.href : null;
  } catch {
    return null;
  }
}

/**
 * A prefetcher of at most one page at a time. `update(link)` makes `link` (an `<a href>`, anywhere: the
 * document or a shadow tree) the one prefetched, replacing the previous one; `update(null)` or `stop()`
 * withdraws it. A link that is not a same-origin http(s) URL withdraws it too.
 *
 * `mode`: "auto" (default: mark the link where speculation rules apply, else `<link rel=prefetch>`),
 * "rules" (only mark the link: the shop serves the rules, and browsers without them prefetch nothing) or
 * "link" (always `<link rel=prefetch>`).
 */
export function createPrefetcher({ mode = "auto", doc = typeof document !== "undefined" ? document : null } = {}) {
  const useRules = mode === "rules" || (mode !== "link" && supportsSpeculationRules());
  let marked = null; // the <a> carrying PREFETCH_ATTR
  let hint = null; // the <link rel=prefetch> this prefetcher added
  let current = null; // the URL prefetched now

  function withdraw() {
    if (marked) marked.removeAttribute(PREFETCH_ATTR);
    if (hint) hint.remove();
    marked = hint = current = null;
  }

  return {
    /** The mechanism in use: "rules" (links are marked) or "link" (`<link rel=prefetch>`). */
    mechanism: useRules ? "rules" : "link",
    /** The URL being prefetched, or null. */
    get url() {
      return current;
    },
    update(link) {
      const url = link && doc ? sameOriginUrl(link.getAttribute("href"), doc.baseURI) : null;
      if (!url) return withdraw();
      if (useRules) {
        if (marked === link && current === url) return;
        withdraw();
        link.setAttribute(PREFETCH_ATTR, "");
        marked = link;
      } else {
        if (current === url && hint && hint.isConnected) return;
        withdraw();
        hint = doc.createElement("link");
        hint.rel = "prefetch";
        hint.href = url;
        hint.setAttribute(PREFETCH_ATTR, "");
        (doc.head || doc.documentElement).append(hint);
      }
      current = url;
    },
    stop: withdraw,
  };
}
