// Types of the nextclick in-page API (packages/nextclick/sdk/nextclick.js, and the global installed by loader.js).

/** One predicted item, best first (from the shop's catalog metadata). */
export interface Prediction {
  itemId: string;
  score: number;
  title?: string;
  url?: string;
  price?: number;
}

/** Purchase propensity and exit risk of the current session, each in [0, 1]. */
export interface Intent {
  purchase: number;
  exit: number;
}

/** Payload of `onPrediction` callbacks and of the `nextclick:prediction` DOM event. */
export interface PredictionDetail {
  items: Prediction[];
  intent: Intent | null;
}

export type Consent = "pending" | "granted" | "denied";

export interface InitOptions {
  /** URL (same origin) or bytes of the contract-v1 ONNX model. */
  model: string | Uint8Array;
  /** URL or bytes of the catalog built for that model (`nextclick catalog`). */
  catalog: string | Uint8Array;
  /** URL or bytes of the shop head (`shop-head.bin` of `nextclick shop build --orders`, learned from the
   * shop's own orders): new visitors start from it instead of the source model. Bound to the model. */
  shopHead?: string | Uint8Array;
  /** Namespace of the on-device storage (default: the page's host). */
  shop?: string;
  /** Default "pending": nothing is stored or learned until "granted". */
  consent?: Consent;
  /** Run the wasm in a module Web Worker (default true); false = main thread. */
  worker?: boolean;
  /** Auto-capture views/clicks of `data-nextclick-item` elements (default true). */
  autocapture?: boolean;
  /** How many items predictions carry (default 8, at most 50). */
  k?: number;
  /** Debounce of state snapshots, ms (default 400). */
  debounceMs?: number;
  /** Options of the core `Predictor.create` (sessionTimeoutMinutes, …). */
  options?: Record<string, unknown>;
  /** URL of the package folder as the shop serves it — the one holding `sdk/` (the worker) and `pkg/` (the
   * wasm). Default: found from this module's own URL, which a bundler that inlines the SDK (esbuild) moves:
   * then copy `node_modules/nextclick/{sdk,pkg}` to the site and name their parent here. */
  assets?: string;
  /** URL of the wasm-bindgen glue (default: `pkg/nextclick.js` under `assets`, else ../pkg/nextclick.js next
   * to the sdk folder). */
  glue?: string;
  /** Called with every new prediction. */
  onPrediction?: (detail: PredictionDetail) => void;
  /** Subresource Integrity (`sha384-…`) of the wasm binary, the model and the catalog, checked by `fetch`
   * before use (docs/security.md). `options.modelSha256` / `options.catalogSha256` pin them in the core too. */
  integrity?: { wasm?: string; model?: string; catalog?: string; shopHead?: string };
  /** Called once if the engine cannot start or fails later (nextclick then goes on without predictions). */
  onError?: (error: NextclickError) => void;
}

/** What `onError` receives: `kind` "init" (wasm, model or catalog refused), "fault" (a wasm trap / out of
 * memory later), or "late" (the callback was registered after the failure). */
export interface NextclickError extends Error {
  kind: "init" | "fault" | "late";
}

/** Segment e-commerce v2 names (also GA4 and the core's own names). Unknown names are warned about, not thrown. */
export type EventName =
  | "Product Viewed" | "Product Clicked" | "Product Added" | "Product Removed" | "Order Completed"
  | "Checkout Started" | "Cart Viewed" | "Product List Viewed"
  | "view" | "click" | "cart" | "remove_from_cart" | "purchase"
  | (string & {});

/** Segment-style properties: `product_id` (or `sku`, `itemId`), `price`, or `products[]` for orders. */
export interface TrackProps {
  product_id?: string;
  sku?: string;
  itemId?: string;
  price?: number;
  timestamp?: number;
  products?: Array<{ product_id?: string; sku?: string; itemId?: string; price?: number }>;
  [key: string]: unknown;
}

/** `disabled`: the engine is out of use (see `Status.disabled`); `rate_limited`: dropped by the limiter. */
export type TrackStatus =
  | "accepted" | "new_session" | "duplicate" | "unknown_item" | "ignored" | "unknown" | "disabled" | "rate_limited";

export interface Status {
  version: string;
  consent: Consent;
  ready: boolean;
  backend: "worker" | "main" | null;
  /** Always 0: nextclick sends nothing about the shopper. */
  bytesSent: 0;
  /** Why the engine is out of use for this page view (init failed, or a wasm trap), or null. */
  disabled: string | null;
  /** Events dropped by the rate limiter (50/s, bursts of 200) since the page loaded. */
  dropped: number;
  /** Snapshot merges with another tab of the same shop, this page view. */
  merges?: number;
  shop?: string;
  modelSha256?: string;
  catalogSize?: number;
  downloaded?: { model: number; catalog: number; shopHead?: number };
  /** The shop head in force (`{customers, purchases}` it was learned from), or null. */
  shopHead?: { customers: number; purchases: number } | null;
  storage?: "indexeddb" | "localstorage" | "none";
  storedBytes?: number;
  restoredEvents?: number;
  stats?: { accepted: number; rejected: number; duplicates: number; unknownItems: number; sessions: number };
  features?: Record<string, number>;
  last?: PredictionDetail;
}

/** The command function (global `nextclick` and the module's export). Never throws; failures reject. */
export interface Nextclick {
  (command: "init", options: InitOptions): Promise<Status>;
  (command: "track", name: EventName, props?: TrackProps): Promise<TrackStatus | TrackStatus[]>;
  /** `k`: an integer from 1 to 50 (omitted: the `init` option `k`, default 8); anything else rejects. */
  (command: "predict", k?: number): Promise<Prediction[]>;
  (command: "intent"): Promise<Intent | null>;
  (command: "consent", value: Consent): Promise<Consent>;
  (command: "forget"): Promise<true>;
  (command: "onPrediction", callback: (detail: PredictionDetail) => void): Promise<() => void>;
  (command: "onError", callback: (error: NextclickError) => void): Promise<() => void>;
  (command: "status" | "ready"): Promise<Status>;
  readonly loaded?: true;
}

/**
 * The page's command function. Under server-side rendering (no `window` at import time) it is
 * `ssrNextclick`: every command resolves at once to a no-op value (`predict` `[]`, `intent` `null`, `track`
 * `"disabled"`, `consent` `"pending"`, `forget` `true`, a status with `ready: false`).
 */
export declare const nextclick: Nextclick;
export default nextclick;
/** What `nextclick` is where there is no `window` (see above). */
export declare const ssrNextclick: Nextclick;
/** Most items a prediction carries. */
export declare const MAX_K: 50;

/** Creates an independent runtime (tests, several shops on one page). */
export declare function createRuntime(): { run(command: string, args: unknown[]): Promise<unknown> };
/** Installs the global `nextclick` on `win` once and replays its queue. */
export declare function install(win?: object): Nextclick;

declare global {
  interface Window {
    nextclick: Nextclick;
  }
  interface DocumentEventMap {
    "nextclick:prediction": CustomEvent<PredictionDetail>;
  }
}
