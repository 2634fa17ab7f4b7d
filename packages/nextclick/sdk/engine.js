// nextclick — the engine: owns the wasm Predictor. Runs inside the module worker (worker.js) or, with
// `{worker: false}`, on the main thread. Every method is async and may throw; the client turns errors into
// console messages and rejected promises.
//
// Faults: a wasm trap (`WebAssembly.RuntimeError`: a Rust panic or an allocation failure aborts as
// `unreachable`) or running out of memory leaves the wasm instance in an unknown state. The engine then
// stops using it for good: the failing call and every later one throw an Error with `fault: true` (the
// client reports it once and goes on without predictions); the Predictor is never called again, so
// nothing it holds can be written back to storage.

let wasmReady = null;

async function loadWasm(glueUrl, integrity) {
  if (!wasmReady) {
    wasmReady = (async () => {
      let glue;
      try {
        glue = await import(glueUrl);
      } catch (e) {
        // typically a bundler moved the SDK away from the package's pkg/ folder
        throw new Error(
          `cannot load the wasm glue ${glueUrl} (${e && e.message ? e.message : e}); serve the package's sdk/ and pkg/ ` +
            `folders and pass init({ assets: "/their/url/" }) if you bundle nextclick (docs/js-sdk.md, "Bundlers")`,
        );
      }
      const url = new URL("nextclick_bg.wasm", glueUrl);
      // with an SRI hash (init option `integrity.wasm`), the browser checks the bytes before compiling
      await glue.default({ module_or_path: integrity ? fetch(url, { integrity, credentials: "same-origin" }) : url });
      return glue;
    })();
    wasmReady.catch(() => { wasmReady = null; });
  }
  return wasmReady;
}

async function bytesOf(src, what, integrity) {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (typeof src !== "string") throw new Error(`nextclick: ${what} must be a URL or bytes`);
  // same-origin GET without credentials; no query string, nothing about the shopper is sent
  const r = await fetch(src, { credentials: "same-origin", cache: "default", ...(integrity ? { integrity } : {}) });
  if (!r.ok) throw new Error(`nextclick: cannot load ${what} ${src}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** A trap or out-of-memory error from inside the wasm instance (as opposed to an input error). */
export function isFault(e) {
  if (typeof WebAssembly === "object" && WebAssembly.RuntimeError && e instanceof WebAssembly.RuntimeError) return true;
  const m = String(e && e.message ? e.message : e);
  // wasm-bindgen's guard after an earlier trap left a borrow open; memory growth refused
  return (e instanceof RangeError && /memory|allocation/i.test(m)) || /recursive use of an object|out of memory/i.test(m);
}

function faultError(message) {
  return Object.assign(new Error(message), { fault: true });
}

/** The engine API; `ops[name](...args)` is what the worker protocol calls. */
export function createEngine() {
  let p = null;
  let fault = null;
  const need = () => {
    if (!p) throw new Error("nextclick: not initialised");
    return p;
  };
  const ops = {
    /** Loads wasm, model and catalog; returns what the client needs to namespace storage. */
    async init({ model, catalog, shopHead, options, glue, learning, integrity }) {
      const sri = integrity && typeof integrity === "object" ? integrity : {};
      const [g, m, c, h] = await Promise.all([
        loadWasm(glue, sri.wasm),
        bytesOf(model, "model", sri.model),
        bytesOf(catalog, "catalog", sri.catalog),
        shopHead ? bytesOf(shopHead, "shop head", sri.shopHead) : null,
      ]);
      if (p) p.free();
      p = g.Predictor.create(m, c, options || undefined);
      // the shop head is checked against the model like the catalog: a wrong one fails init
      const head = h && typeof p.setShopHead === "function" ? p.setShopHead(h) : null;
      if (typeof p.setLearning === "function") p.setLearning(!!learning);
      return {
        modelSha256: p.modelSha256,
        catalogSize: p.catalogSize,
        modelBytes: m.byteLength,
        catalogBytes: c.byteLength,
        shopHeadBytes: h ? h.byteLength : 0,
        shopHead: head ? { ...head } : null,
      };
    },
    /** Tracks events in order; returns one status (or `{error}`) per event. */
    track(events) {
      const pr = need();
      return events.map((e) => {
        try {
          return pr.track(e);
        } catch (err) {
          if (isFault(err)) throw err;
          return { error: String(err && err.message ? err.message : err) };
        }
      });
    },
    predict(k) {
      return need().predict(k);
    },
    intent() {
      const pr = need();
      return typeof pr.intent === "function" ? pr.intent() : null;
    },
    status() {
      const pr = need();
      const out = { stats: pr.stats(), catalogSize: pr.catalogSize, modelSha256: pr.modelSha256 };
      if (typeof pr.features === "function") out.features = pr.features();
      return out;
    },
    setLearning(on) {
      const pr = need();
      if (typeof pr.setLearning === "function") pr.setLearning(!!on);
    },
    exportState() {
      const pr = need();
      return typeof pr.exportState === "function" ? pr.exportState() : null;
    },
    /**
     * Imports state; returns the core's report ({formatVersion, modelChanged, droppedEvents, keptEvents}),
     * or null without a core that persists. On failure the predictor is reset (forget) and the error is
     * rethrown.
     */
    importState(bytes) {
      const pr = need();
      if (typeof pr.importState !== "function") return null;
      try {
        const report = pr.importState(bytes);
        return report && typeof report === "object" ? { ...report } : { formatVersion: 0, modelChanged: false, droppedEvents: 0, keptEvents: 0 };
      } catch (e) {
        pr.forget();
        throw e;
      }
    },
    forget() {
      if (p) p.forget();
    },
  };
  // every op: refuse after a fault; turn a trap into a fault
  for (const [name, op] of Object.entries(ops)) {
    ops[name] = async (...args) => {
      if (fault) throw faultError(fault);
      try {
        return await op(...args);
      } catch (e) {
        if (!isFault(e)) throw e;
        fault = `nextclick: the prediction engine failed in ${name} (${String(e && e.message ? e.message : e)})`;
        p = null; // never touch the instance again (not even free())
        throw faultError(fault);
      }
    };
  }
  return ops;
}
