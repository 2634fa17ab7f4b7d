// nextclick — the engine: owns the wasm Predictor. Runs inside the module worker (worker.js) or, with
// `{worker: false}`, on the main thread. Every method is async and may throw; the client turns errors into
// console messages and rejected promises.
//
// Faults: a wasm trap (`WebAssembly.RuntimeError`: a Rust panic or an allocation failure aborts as
// `unreachable`) or running out of memory leaves the wasm instance in an unknown state. The engine then
// stops using it for good: the failing call and every later one throw an Error with `fault: true` (the
// client reports it once and goes on without predictions); the Predictor is never called again, so
// nothing it holds can be written back to storage.
//
// Types: the Predictor and the values it takes and returns are declared from the core's Rust types in
// ../pkg/nextclick.d.ts (docs/types.md); `tsc -p packages/nextclick` checks this file against them.

/** @typedef {typeof import("../pkg/nextclick.js")} Glue the wasm-bindgen glue module (`pkg/nextclick.js`) */
/** @typedef {import("../pkg/nextclick.js").Predictor} Predictor */
/** @typedef {import("../pkg/nextclick.js").NextclickEvent} NextclickEvent */
/** @typedef {import("../pkg/nextclick.js").TrackStatus} TrackStatus */

/**
 * What `init` gets from the runtime (nextclick.js).
 * @typedef {object} EngineInit
 * @property {string | Uint8Array} model URL or bytes of the ONNX model
 * @property {string | Uint8Array} catalog URL or bytes of the catalog (for a split catalog: its head)
 * @property {string} [catalogBody] URL of a split catalog's body (format version 3), fetched on demand
 * @property {string | Uint8Array} [shopHead] URL or bytes of the shop head
 * @property {import("../pkg/nextclick.js").PredictorOptions} [options] the core's `Predictor.create` options
 * @property {string} glue URL of the wasm-bindgen glue
 * @property {boolean} [learning] on-device learning on (consent granted)
 * @property {{ wasm?: string, model?: string, catalog?: string, shopHead?: string }} [integrity] SRI hashes
 */

/**
 * What `init` returns: the loaded model and catalog, and the shop head in force.
 * @typedef {object} InitInfo
 * @property {string} modelSha256
 * @property {number} catalogSize
 * @property {number} modelBytes
 * @property {number} catalogBytes
 * @property {number} shopHeadBytes
 * @property {import("../pkg/nextclick.js").ShopHeadInfo | null} shopHead
 * @property {{ requests: number, bytesSent: number, ranges: number, rangeBytes: number }} network what the engine's `fetch` sent (see `network`)
 * @property {boolean} catalogSplit is the catalog split (its body fetched on demand)?
 */

/**
 * Every op of `T`, made async (as `createEngine` wraps them).
 * @template T
 * @typedef {{ [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never }} Async
 */
/** @typedef {ReturnType<typeof createEngine>} Engine the engine's ops, as the worker protocol calls them */

/** @type {Promise<Glue> | null} */
let wasmReady = null;

/**
 * The engine's request accounting (`status().bytesSent`, `status().requests`): every request the engine
 * makes goes through `sdkFetch` (model, catalog, shop head, wasm) or is the glue's module import, and
 * each is counted with the bytes it carries beyond naming a file — its query string and its body. The SDK
 * sends GETs without either, so this stays 0; it is counted on the actual requests, not assumed.
 */
const network = { requests: 0, bytesSent: 0, ranges: 0, rangeBytes: 0 };

/** UTF-8 bytes of the query string of `url` (without the "?"). */
function queryBytes(url) {
  try {
    const q = new URL(String(url), globalThis.location ? location.href : undefined).search.slice(1);
    return new TextEncoder().encode(q).length;
  } catch {
    return 0;
  }
}

/** Counts a request of `url` with `init` (see `network`). */
function account(url, init) {
  network.requests++;
  const body = init && init.body;
  const bodyBytes = body == null ? 0 : typeof body === "string" ? new TextEncoder().encode(body).length : body.byteLength || body.size || 0;
  network.bytesSent += queryBytes(url) + bodyBytes;
}

/** The engine's only `fetch`: counted (see `network`). */
function sdkFetch(url, init) {
  account(url, init);
  return fetch(url, init);
}

/**
 * @param {string} glueUrl
 * @param {string} [integrity]
 * @returns {Promise<Glue>}
 */
async function loadWasm(glueUrl, integrity) {
  if (!wasmReady) {
    wasmReady = (async () => {
      // The wasm's request goes out with the glue's, not after it: one round trip less before compiling
      // (streaming compilation starts as its bytes arrive). With an SRI hash (init option
      // `integrity.wasm`), the browser checks the bytes before compiling.
      const url = new URL("nextclick_bg.wasm", glueUrl);
      const wasm = sdkFetch(url, { credentials: "same-origin", ...(integrity ? { integrity } : {}) });
      wasm.catch(() => {}); // reported by the compile below, or moot if the glue fails
      let glue;
      try {
        account(glueUrl); // a module GET
        glue = await import(glueUrl);
      } catch (e) {
        // typically a bundler moved the SDK away from the package's pkg/ folder
        throw new Error(
          `cannot load the wasm glue ${glueUrl} (${e && e.message ? e.message : e}); serve the package's sdk/ and pkg/ ` +
            `folders and pass init({ assets: "/their/url/" }) if you bundle nextclick (docs/js-sdk.md, "Bundlers")`,
        );
      }
      await glue.default({ module_or_path: wasm });
      return glue;
    })();
    wasmReady.catch(() => { wasmReady = null; });
  }
  return wasmReady;
}

/**
 * @param {string | Uint8Array | ArrayBuffer} src
 * @param {string} what
 * @param {string} [integrity]
 * @returns {Promise<Uint8Array>}
 */
async function bytesOf(src, what, integrity) {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (typeof src !== "string") throw new Error(`nextclick: ${what} must be a URL or bytes`);
  // same-origin GET without credentials; no query string, nothing about the shopper is sent
  const r = await sdkFetch(src, { credentials: "same-origin", cache: "default", ...(integrity ? { integrity } : {}) });
  if (!r.ok) throw new Error(`nextclick: cannot load ${what} ${src}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** Fetch rounds of one operation on a split catalog (a directory bucket can reveal a list, a list its blocks). */
const CHUNK_ROUNDS = 4;

/** Range requests in flight at once. */
const CHUNK_PARALLEL = 6;

/** Largest run of adjacent chunks fetched with one Range request. */
const MAX_RUN_BYTES = 4 << 20;

/**
 * The requests of one round, grouped into runs of chunks that are adjacent in the body file (the builder
 * writes lists near each other in the file next to each other), each fetched with one Range request.
 * @template {{ offset: number, length: number }} R
 * @param {R[]} reqs
 * @returns {{ offset: number, length: number, parts: R[] }[]}
 */
export function coalesce(reqs) {
  const sorted = [...reqs].sort((a, b) => a.offset - b.offset);
  /** @type {{ offset: number, length: number, parts: R[] }[]} */
  const runs = [];
  for (const r of sorted) {
    const last = runs[runs.length - 1];
    if (last && last.offset + last.length === r.offset && last.length + r.length <= MAX_RUN_BYTES) {
      last.length += r.length;
      last.parts.push(r);
    } else {
      runs.push({ offset: r.offset, length: r.length, parts: [r] });
    }
  }
  return runs;
}

/**
 * The body of a split catalog (format version 3): chunks fetched with HTTP Range requests from one static
 * file, each checked by the core against the SHA-256 the head names before it is used (`addChunk`). A
 * server that ignores Range (HTTP 200) is answered from the whole body, downloaded once, with a warning.
 * Requests carry no query string and no body: a Range header names bytes of the file, nothing else
 * (docs/js-sdk.md, "Big catalogs" says what the byte ranges can tell the shop's server).
 * @param {string} url
 */
export function chunkFetcher(url) {
  /** @type {Promise<Uint8Array> | null} */
  let whole = null;
  /** @param {{ offset: number, length: number }} r */
  async function get(r) {
    if (whole) return (await whole).subarray(r.offset, r.offset + r.length);
    const range = `bytes=${r.offset}-${r.offset + r.length - 1}`;
    network.ranges++;
    network.rangeBytes += r.length;
    const res = await sdkFetch(url, { credentials: "same-origin", cache: "default", headers: { Range: range } });
    if (res.status === 206) {
      const b = new Uint8Array(await res.arrayBuffer());
      if (b.byteLength !== r.length) throw new Error(`nextclick: catalog body ${url}: ${b.byteLength} bytes for ${range}`);
      return b;
    }
    if (res.status === 200) {
      if (!whole) {
        console.warn(`nextclick: ${url} was served without Range support (HTTP 200): the whole catalog body is downloaded once`);
        whole = res.arrayBuffer().then((a) => new Uint8Array(a));
        whole.catch(() => { whole = null; });
      } else {
        res.body && res.body.cancel().catch(() => {});
      }
      return (await whole).subarray(r.offset, r.offset + r.length);
    }
    throw new Error(`nextclick: cannot load the catalog body ${url} (${range}): HTTP ${res.status}`);
  }
  return {
    /**
     * Fetches and adds what `need()` names until it names nothing.
     * @param {() => import("../pkg/nextclick.js").ChunkRequest[]} need
     * @param {(r: import("../pkg/nextclick.js").ChunkRequest, bytes: Uint8Array) => void} add
     */
    async settle(need, add) {
      for (let round = 0; round < CHUNK_ROUNDS; round++) {
        const reqs = need();
        if (!reqs.length) return;
        const runs = coalesce(reqs);
        for (let i = 0; i < runs.length; i += CHUNK_PARALLEL) {
          const wave = runs.slice(i, i + CHUNK_PARALLEL);
          const got = await Promise.all(wave.map(get));
          wave.forEach((run, k) => {
            for (const r of run.parts) add(r, got[k].subarray(r.offset - run.offset, r.offset - run.offset + r.length));
          });
        }
      }
    },
  };
}

/**
 * The SHA-256 of a catalog's checksummed part (every byte but its last 32, the checksum) by the platform's
 * WebCrypto, for `Predictor.create`'s `catalogDigest`: the core compares the file's checksum with it
 * instead of hashing the file in wasm, which on a first visit runs in the browser's baseline tier
 * (≈ 100 ms for 20k items, docs/bench.md). `undefined` where WebCrypto is missing (an insecure context) or
 * refuses: the core then hashes itself. Either way a corrupted catalog fails init.
 * @param {Uint8Array} bytes
 * @returns {Promise<Uint8Array | undefined>}
 */
export async function catalogDigest(bytes) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle || typeof subtle.digest !== "function" || bytes.byteLength < 32) return undefined;
  try {
    const body = /** @type {Uint8Array<ArrayBuffer>} */ (bytes.subarray(0, bytes.byteLength - 32));
    return new Uint8Array(await subtle.digest("SHA-256", body));
  } catch {
    return undefined;
  }
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
  /** @type {Predictor | null} */
  let p = null;
  let fault = null;
  /** @type {ReturnType<typeof chunkFetcher> | null} the split catalog's body, if the catalog is split */
  let body = null;
  /**
   * Fetches what `need` names of a split catalog's body (no-op for other catalogs).
   * @param {(pr: Predictor) => import("../pkg/nextclick.js").ChunkRequest[]} need
   */
  const settle = async (need) => {
    const pr = /** @type {Predictor} */ (p);
    if (body) await body.settle(() => need(pr), (r, b) => pr.addChunk(r, b));
  };
  const need = () => {
    if (!p) throw new Error("nextclick: not initialised");
    return p;
  };
  const ops = {
    /**
     * Loads wasm, model and catalog; returns what the client needs to namespace storage.
     * @param {EngineInit} args
     * @returns {Promise<InitInfo>}
     */
    async init({ model, catalog, catalogBody, shopHead, options, glue, learning, integrity }) {
      const sri = integrity && typeof integrity === "object" ? integrity : {};
      const catalogBytes = bytesOf(catalog, "catalog", sri.catalog);
      const [g, m, c, h, digest] = await Promise.all([
        loadWasm(glue, sri.wasm),
        bytesOf(model, "model", sri.model),
        catalogBytes,
        shopHead ? bytesOf(shopHead, "shop head", sri.shopHead) : null,
        catalogBytes.then(catalogDigest, () => undefined), // while the wasm compiles
      ]);
      if (p) p.free();
      p = g.Predictor.create(m, c, options || undefined, digest);
      body = null;
      if (p.catalogSplit) {
        if (typeof catalogBody !== "string" || !catalogBody) {
          p.free();
          p = null;
          throw new Error("nextclick: the catalog is split (format version 3): pass catalogBody, the URL of its .body.bin");
        }
        body = chunkFetcher(catalogBody);
      }
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
        network: { ...network },
        catalogSplit: !!body,
      };
    },
    /**
     * Tracks events in order; returns one status (or `{error}`) per event.
     * @param {NextclickEvent[]} events
     * @returns {Promise<Array<TrackStatus | { error: string }>>}
     */
    async track(events) {
      const pr = need();
      if (body) {
        const ids = events.map((e) => e && e.itemId).filter((id) => typeof id === "string" && id.length > 0 && id.length <= 256);
        // a failed fetch leaves those events refused (CatalogChunksNeeded), each with its error below
        await settle((x) => x.chunksForIds(ids)).catch((e) => console.warn(`nextclick: ${e && e.message ? e.message : e}`));
      }
      return events.map((e) => {
        try {
          return pr.track(e);
        } catch (err) {
          if (isFault(err)) throw err;
          return { error: String(err && err.message ? err.message : err) };
        }
      });
    },
    /** @param {number} k */
    async predict(k) {
      const pr = need();
      // a failed fetch: the prediction from what is resident (possibly fewer items)
      if (body) await settle((x) => x.chunksForPredict(k)).catch((e) => console.warn(`nextclick: ${e && e.message ? e.message : e}`));
      return pr.predict(k);
    },
    intent() {
      const pr = need();
      return typeof pr.intent === "function" ? pr.intent() : null;
    },
    /**
     * @returns {{ stats: import("../pkg/nextclick.js").PredictorStats, catalogSize: number, modelSha256: string,
     *   features?: import("../pkg/nextclick.js").SessionFeatures, network: { requests: number, bytesSent: number, ranges: number, rangeBytes: number },
     *   catalogResident: import("../pkg/nextclick.js").CatalogResident | null }}
     */
    status() {
      const pr = need();
      const out = { stats: pr.stats(), catalogSize: pr.catalogSize, modelSha256: pr.modelSha256, network: { ...network }, catalogResident: body ? pr.catalogResident() : null };
      if (typeof pr.features === "function") out.features = pr.features();
      return out;
    },
    /** @param {boolean} on */
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
     * @param {Uint8Array} bytes
     * @returns {Promise<import("../pkg/nextclick.js").RestoreReport | null>}
     */
    async importState(bytes) {
      const pr = need();
      if (typeof pr.importState !== "function") return null;
      if (body) {
        try {
          pr.chunksForState(bytes); // corrupted state throws here, and is handled as below
        } catch (e) {
          pr.forget();
          throw e;
        }
        // A fetch that fails (or a body chunk refused) is not the state's fault: the import is refused,
        // the predictor unchanged, and the caller keeps the stored bytes (`transient`).
        await settle((x) => x.chunksForState(bytes)).catch((e) => {
          throw Object.assign(new Error(`the catalog chunks the stored state names could not be fetched (${e && e.message ? e.message : e})`), { transient: true });
        });
      }
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
  for (const [name, op] of /** @type {[string, (...args: any[]) => any][]} */ (Object.entries(ops))) {
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
  return /** @type {Async<typeof ops>} */ (/** @type {unknown} */ (ops)); // the loop above made every op async
}
