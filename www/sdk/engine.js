// nextclick — the engine: owns the wasm Predictor. Runs inside the module worker (worker.js) or, with
// `{worker: false}`, on the main thread. Every method is async and may throw; the client turns errors into
// console messages and rejected promises.

let wasmReady = null;

async function loadWasm(glueUrl) {
  if (!wasmReady) {
    wasmReady = (async () => {
      const glue = await import(glueUrl);
      await glue.default({ module_or_path: new URL("nextclick_bg.wasm", glueUrl) });
      return glue;
    })();
    wasmReady.catch(() => { wasmReady = null; });
  }
  return wasmReady;
}

async function bytesOf(src, what) {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (typeof src !== "string") throw new Error(`nextclick: ${what} must be a URL or bytes`);
  // same-origin GET without credentials; no query string, nothing about the shopper is sent
  const r = await fetch(src, { credentials: "same-origin", cache: "default" });
  if (!r.ok) throw new Error(`nextclick: cannot load ${what} ${src}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** The engine API; `ops[name](...args)` is what the worker protocol calls. */
export function createEngine() {
  let p = null;
  const need = () => {
    if (!p) throw new Error("nextclick: not initialised");
    return p;
  };
  const ops = {
    /** Loads wasm, model and catalog; returns what the client needs to namespace storage. */
    async init({ model, catalog, options, glue, learning }) {
      const [g, m, c] = await Promise.all([loadWasm(glue), bytesOf(model, "model"), bytesOf(catalog, "catalog")]);
      if (p) p.free();
      p = g.Predictor.create(m, c, options || undefined);
      if (typeof p.setLearning === "function") p.setLearning(!!learning);
      return { modelSha256: p.modelSha256, catalogSize: p.catalogSize, modelBytes: m.byteLength, catalogBytes: c.byteLength };
    },
    /** Tracks events in order; returns one status (or `{error}`) per event. */
    track(events) {
      const pr = need();
      return events.map((e) => {
        try {
          return pr.track(e);
        } catch (err) {
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
    /** Imports state; on failure the predictor is reset (forget) and the error is rethrown. */
    importState(bytes) {
      const pr = need();
      if (typeof pr.importState !== "function") return false;
      try {
        pr.importState(bytes);
        return true;
      } catch (e) {
        pr.forget();
        throw e;
      }
    },
    forget() {
      if (p) p.forget();
    },
  };
  return ops;
}
