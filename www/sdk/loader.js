/* nextclick loader — the one script a shop adds: <script src="/sdk/loader.js"></script> (plain script,
   ~1 KB, no blocking work). It defines the `nextclick(...)` command queue (calls made before the runtime is
   ready are kept, in order, and get a promise) and imports the runtime module from the same folder
   asynchronously. Loading it twice, or together with the ES module, is harmless. */
(function () {
  "use strict";
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
  var me = document.currentScript && document.currentScript.src;
  var url = new URL("nextclick.js", me || new URL("/sdk/", location.href)).href;
  import(url).catch(function (e) {
    console.error("nextclick: could not load the runtime (" + (e && e.message) + ")");
    var s = w.nextclick;
    (s.q || []).forEach(function (entry) {
      if (entry && typeof entry[2] === "function") entry[2](new Error("nextclick: runtime not loaded"));
    });
  });
})();
