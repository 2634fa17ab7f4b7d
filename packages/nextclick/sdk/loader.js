/* nextclick loader — the one script a shop adds: <script src="/sdk/loader.js"></script> (plain script,
   ~2.4 KB, no blocking work). It defines the `nextclick(...)` command queue (calls made before the runtime is
   ready are kept, in order, and get a promise) and imports the runtime module from the same folder
   asynchronously. Loading it twice, or together with the ES module, is harmless. */
(function () {
  "use strict";
  /** @type {Window & { __nextclickLoader?: boolean, nextclick?: any }} (the stub is untyped: it queues anything) */
  var w = window;
  if (w.__nextclickLoader) return;
  w.__nextclickLoader = true;
  var q = w.nextclick;
  if (typeof q !== "function" || !q.loaded) {
    var stub = function () {
      var args = Array.prototype.slice.call(arguments);
      return new Promise(function (resolve, reject) {
        stub.q.push([args, resolve, reject]);
      });
    };
    stub.q = q && q.q && typeof q.q.slice === "function" ? q.q.slice() : [];
    w.nextclick = stub;
  }
  var me = document.currentScript && /** @type {HTMLScriptElement} */ (document.currentScript).src;
  var url = new URL("nextclick.js", me || new URL("/sdk/", location.href)).href;
  // A page being left cancels its module loads — WebKit as soon as the next page's request starts, before
  // `pagehide` — so a failed import is reported only if the page is still here a moment later. A page that
  // went into the back-forward cache meanwhile tries again when it comes back (`pageshow`).
  var hides = 0; // pagehide events so far
  var shown = true; // false between pagehide and pageshow
  w.addEventListener("pagehide", function () {
    hides++;
    shown = false;
  });
  w.addEventListener("pageshow", function () {
    shown = true;
  });
  var GRACE_MS = 3000;
  var load = function (retried) {
    import(url).catch(function (e) {
      var h0 = hides;
      setTimeout(function () {
        if (hides === h0 || retried) {
          console.error("nextclick: could not load the runtime (" + (e && e.message) + ")");
          (w.nextclick.q || []).splice(0).forEach(function (entry) {
            if (entry && typeof entry[2] === "function") entry[2](new Error("nextclick: runtime not loaded"));
          });
          return;
        }
        // the page was left meanwhile; it is back (or comes back) from the back-forward cache: again, once
        if (shown) load(true);
        else w.addEventListener("pageshow", function () { load(true); }, { once: true });
      }, GRACE_MS);
    });
  };
  load(false);
})();
