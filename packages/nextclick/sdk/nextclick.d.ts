// Types of the nextclick in-page API (packages/nextclick/sdk/nextclick.js, and the global installed by loader.js).
// The wasm-bindgen glue's Predictor is disposable (`[Symbol.dispose]`): its lib comes along, so that an app
// whose `lib` lacks it still type-checks these declarations.
/// <reference lib="esnext.disposable" />
//
// The core's option and result types come from Rust: `#[derive(Tsify)]` on the serde types, written by
// wasm-pack into pkg/nextclick.d.ts (docs/types.md). They are re-exported here; nothing below repeats them.
import type {
  Prediction,
  Intent,
  PredictorOptions,
  PredictorStats,
  SessionFeatures,
  ShopHeadInfo,
  CatalogResident,
  TrackStatus as CoreTrackStatus,
} from "../pkg/nextclick.js";

export type {
  Prediction,
  Intent,
  PredictorOptions,
  HeadOptions,
  UnknownItemPolicy,
  PredictorStats,
  SessionFeatures,
  ShopHeadInfo,
  CatalogResident,
  RestoreReport,
  NextclickEvent,
  EventKind,
  TrackStatus as CoreTrackStatus,
} from "../pkg/nextclick.js";

/** Payload of `onPrediction` callbacks and of the `nextclick:prediction` DOM event. */
export interface PredictionDetail {
  items: Prediction[];
  intent: Intent | null;
}

export type Consent = "pending" | "granted" | "denied";

export interface InitOptions {
  /** URL (same origin) or bytes of the contract-v1 ONNX model. */
  model: string | Uint8Array;
  /** URL or bytes of the catalog built for that model (`nextclick catalog`); for a split catalog
   * (`nextclick catalog --ivfpq --split`, format version 3) its head. */
  catalog: string | Uint8Array;
  /** URL (same origin) of a split catalog's body (`….body.bin`): fetched on demand with HTTP Range
   * requests, each chunk checked against the SHA-256 the head names (docs/js-sdk.md, "Big catalogs").
   * Required with a split catalog, ignored otherwise. */
  catalogBody?: string;
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
  /** Options of the core `Predictor.create` (sessionTimeoutMinutes, …; unknown keys make init fail). */
  options?: PredictorOptions;
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
  /** A/B holdout: the fraction of devices (0–1, default 0) shown no predictions — `predict` resolves `[]`,
   * predictions are emitted with no items — whose would-be predictions are still computed and measured
   * (`Status.quality`). Assigned by a hash of a random device id: stored with consent (stable per device),
   * per page view without it (docs/measure.md). */
  holdout?: number;
  /** Follow Google Consent Mode v2 (`gtag('consent', 'default' | 'update', …)` on `window.dataLayer`):
   * `true` maps `analytics_storage` and `ad_personalization` (both granted → "granted"; either denied by an
   * update → "denied"; otherwise "pending"). Overrides `consent` unless the mapping says "pending". */
  consentMode?: boolean | ConsentModeOptions;
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

/** The core's statuses (`accepted`, `new_session`, `duplicate`, `unknown_item`), and the runtime's own:
 * `ignored` (a recognised name with no item-level meaning), `unknown` (an unknown name), `disabled` (the
 * engine is out of use, see `Status.disabled`), `rate_limited` (dropped by the limiter). */
export type TrackStatus = CoreTrackStatus | "ignored" | "unknown" | "disabled" | "rate_limited";

export interface Status {
  version: string;
  consent: Consent;
  ready: boolean;
  backend: "worker" | "main" | null;
  /** Bytes about the shopper in the requests the SDK made — the query strings and bodies of its requests,
   * counted on each request it issues (engine.js). Its requests are GETs of its own files without either:
   * 0, measured. */
  bytesSent: number;
  /** Requests the SDK made this page view (the worker script, the wasm glue and binary, model, catalog,
   * shop head). */
  requests?: number;
  /** On-device measurement of the predictions (docs/measure.md); null before `init`. */
  quality?: Quality | null;
  /** Why the engine is out of use for this page view (init failed, or a wasm trap), or null. */
  disabled: string | null;
  /** Events dropped by the rate limiter (50/s, bursts of 200) since the page loaded. */
  dropped: number;
  /** Snapshot merges with another tab of the same shop, this page view. */
  merges?: number;
  shop?: string;
  modelSha256?: string;
  catalogSize?: number;
  /** Bytes downloaded: `catalog` is the whole catalog, or a split catalog's head; `catalogChunks` the
   * body bytes fetched so far by Range requests. */
  downloaded?: { model: number; catalog: number; shopHead?: number; catalogChunks?: number };
  /** A split catalog's resident chunks and their approximate wasm heap bytes. */
  catalogResident?: CatalogResident;
  /** The shop head in force (`{customers, purchases}` it was learned from), or null. */
  shopHead?: ShopHeadInfo | null;
  storage?: "indexeddb" | "localstorage" | "none";
  storedBytes?: number;
  restoredEvents?: number;
  /** A snapshot write is scheduled or running. */
  pendingSave?: boolean;
  /** The core's counters (null once the engine is disabled). */
  stats?: PredictorStats | null;
  /** The current session's features (null once the engine is disabled). */
  features?: SessionFeatures | null;
  last?: PredictionDetail;
}

/** `InitOptions.consentMode` as an object (docs/measure.md, "Consent Mode"). */
export interface ConsentModeOptions {
  /** The Consent Mode signals that must all be granted (default `["analytics_storage", "ad_personalization"]`). */
  signals?: string[];
  /** Instead of `signals`: nextclick's consent from the effective signal values and where each came from;
   * anything but "granted" / "denied" means "pending". */
  map?: (values: Record<string, "granted" | "denied">, sources: Record<string, "default" | "update">) => Consent | undefined;
  /** The name of the dataLayer array (default "dataLayer"). */
  dataLayer?: string;
}

/** Hit@K and hit counts of one event type. */
export interface QualityByType {
  events: number;
  hits: number;
  hitAtK: number;
}

/** `Status.quality` and the `nextclick:quality` event's detail: counted on the device, never sent. */
export interface Quality {
  /** The A/B group ("holdout" only with `InitOptions.holdout`). */
  group: "treatment" | "holdout";
  /** The holdout fraction in force. */
  holdout: number;
  /** The K of hit@K: the runtime's prediction length (`InitOptions.k`). */
  k: number;
  /** When these counters started (ms since the epoch). */
  since: number;
  /** Stored with consent (they then span page views), else this page view's only. */
  persisted: boolean;
  /** "reported": the page reports impressions (`nextclick("impression", …)`); "emitted": each new emitted
   * prediction counts as one. */
  impressionSource: "emitted" | "reported";
  /** Scored events: tracked after a prediction of this page view, not a repeat of the previous item. */
  events: number;
  /** Scored events whose item was in the top-K in force. */
  hits: number;
  /** hits / events (0 without events). */
  hitAtK: number;
  /** Mean of 1 / rank over scored events (0 for a miss). */
  mrr: number;
  impressions: number;
  /** Items over all impressions. */
  impressedItems: number;
  /** Click events on an item of an impression of the same page view. */
  clicks: number;
  /** clicks / impressedItems. */
  ctr: number;
  /** Cart or purchase events of an item clicked while predicted, in the same session. */
  conversions: number;
  /** The purchases among them. */
  purchases: number;
  byType: Record<"view" | "click" | "cart" | "remove_from_cart" | "purchase", QualityByType>;
}

/** Options of `nextclick("qualityReport", …)` / `ldpReport`. */
export interface QualityReportOptions {
  /** The privacy budget of the whole report (default ln 3), split evenly over the fields. */
  epsilon?: number;
  /** Which bits to report (default `["active", "hit", "converted"]`). */
  fields?: Array<"active" | "hit" | "mrr" | "clicked" | "converted" | "purchased">;
  /** A uniform [0, 1) source (default the CSPRNG); for tests. */
  random?: () => number;
}

/** A quality report under ε-local differential privacy (randomised response per field), for the shop to
 * collect; nothing sends it. Aggregate with `ldpEstimate` (`nextclick/quality`). */
export interface QualityReport {
  kind: "nextclick-quality-ldp";
  v: 1;
  /** Not randomised: a function of a random id only. */
  group: "treatment" | "holdout";
  k: number;
  /** The budget of the whole report. */
  epsilon: number;
  epsilonPerField: number;
  /** Probability that a bit is the true one: e^(ε/m) / (1 + e^(ε/m)). */
  p: number;
  fields: string[];
  /** The randomised bits. */
  bits: Record<string, 0 | 1>;
}

/** One event as stored or held (the export's readable view). */
export interface ExportEvent {
  type: string;
  itemId: string;
  /** ISO 8601. */
  time: string | null;
  price?: number;
}

/** A state snapshot decoded (the export's readable view of the core's state bytes). */
export interface ExportState {
  currentSession: { start: string | null; events: ExportEvent[]; eventsSeen?: number };
  pastSessions: Array<{ start: string | null; end: string | null; events: number; purchased: boolean }>;
  stats: PredictorStats | null;
  /** What this device learned: parameter count, bytes (float32), learning steps, since when. */
  learned: {
    parameters: number;
    bytes: number;
    heads: {
      adapter: { dim: number; parameters: number; steps: number };
      purchase: { parameters: number; updates: number } | null;
      exit: { parameters: number; updates: number } | null;
    };
    learningSince: string | null;
    pendingIntentInputs: number;
  };
}

/** `nextclick("export")`: everything nextclick keeps about this shopper on this device (docs/measure.md). */
export interface ExportResult {
  format: "nextclick-export/1";
  exportedAt: string;
  shop: string | null;
  origin: string | null;
  consent: Consent | null;
  /** Where the traces are (whatever the consent is now), their bytes, and how many records (IndexedDB
   * records and localStorage keys). */
  storage: { kind: "indexeddb" | "localstorage" | "none"; bytes: number; records: number };
  /** What is stored on the device (with consent only). */
  stored: {
    snapshots: Array<Partial<ExportState> & {
      where: "indexeddb" | "localstorage";
      key: string;
      database?: string;
      bytes: number;
      savedAt?: string | null;
      formatVersion?: number;
      modelSha256?: string;
      checksumOk?: boolean | null;
      /** The decoded payload as stored (`{items, state}`). */
      payload?: unknown;
      error?: string;
    }>;
    journal: Array<{ tab: string; seq: number; time: string | null; event: { type: string; itemId: string; timestamp?: number; price?: number } }>;
    /** The stored quality counters' record, or null. */
    quality: Record<string, unknown> | null;
    /** Any other `nextclick:*` key, as stored. */
    other: Array<{ key: string; bytes: number; value: string }>;
  };
  /** What this page view holds in memory. */
  memory: { state: ExportState | { error: string } | null; pageEvents: ExportEvent[] };
  learned: ExportState["learned"] | null;
  counters: { stats: PredictorStats | null; features: SessionFeatures | null; dropped: number; quality: Quality | null };
  network: { bytesSent: number; requests: number };
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
  /** The page put these predicted items on screen (item ids or predictions, best first; at most 50): one
   * impression. From the first call on, emitted predictions no longer count as impressions. Resolves to
   * the number of items counted. */
  (command: "impression", items: ReadonlyArray<string | { itemId: string }>): Promise<number>;
  /** A report of `Status.quality` under ε-local differential privacy; sends nothing (null under SSR). */
  (command: "qualityReport", options?: QualityReportOptions): Promise<QualityReport | null>;
  /** Everything nextclick keeps about this shopper on this device, JSON-serialisable; reads only (null
   * under SSR). */
  (command: "export"): Promise<ExportResult | null>;
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
/** The `nextclick:quality` event's throttle, ms. */
export declare const QUALITY_EVENT_MS: 500;

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
    /** The counters changed (at most every 500 ms). */
    "nextclick:quality": CustomEvent<Quality>;
  }
}

// ——— <nextclick-recommendations> (sdk/widget.js, `import "nextclick/widget"`) and sdk/prefetch.js ———
// The modules' own declarations (sdk/widget.types.d.ts, sdk/prefetch.types.d.ts) use these. docs/widget.md.

/** How the top suggestion is prefetched: `"auto"` (speculation rules where the browser has them — the
 * shop serves the rules file — else `<link rel=prefetch>`), `"rules"` (only mark the link), `"link"`. */
export type PrefetchMode = "auto" | "rules" | "link";

/** One tile of `<nextclick-recommendations>` (its `items` property): a prediction as shown. */
export interface RecommendationTile {
  itemId: string;
  /** The catalog title, else the item id. */
  title: string;
  /** The absolute http(s) URL the tile links to (the catalog's, else the `href` template's). */
  url: string;
  price?: number;
  /** Only with the `images` attribute: a same-origin URL (or any http(s) URL with `images="any"`). */
  image?: string;
  score?: number;
}

/**
 * `<nextclick-recommendations>`: the top `k` predictions as an accessible list of links, without the
 * product on screen; clicks are tracked as "Product Clicked", its tiles are never auto-captured as views.
 * Every property mirrors the attribute of the same (kebab-case) name.
 */
export interface NextclickRecommendationsElement extends HTMLElement {
  /** How many tiles, 1–50 (default 6). */
  k: number;
  /** The list's accessible name (default "Recommended products"). */
  label: string;
  /** Item ids never shown, separated by spaces or commas (an array is accepted). */
  get exclude(): string;
  set exclude(value: string | readonly string[] | null);
  /** Show the product on screen too (its `data-nextclick-product`); by default it is left out. */
  includeCurrent: boolean;
  /** Catalog images: `null` none (default), `"same-origin"` (`true`), `"any"` http(s) URL. */
  get images(): "same-origin" | "any" | null;
  set images(value: boolean | "" | "same-origin" | "any" | null);
  /** ISO 4217 currency of the prices ("EUR"), formatted in the page's language; null: 2 decimals. */
  currency: string | null;
  /** URL template for items without a catalog URL: `{id}` is replaced by the encoded item id. */
  href: string | null;
  /** Prefetch of the top tile's page: `null` off (default), else the mode (`true` = "auto"). */
  get prefetch(): PrefetchMode | null;
  set prefetch(value: boolean | "" | PrefetchMode | null);
  /** What the tiles show now, best first. */
  readonly items: RecommendationTile[];
  /** Re-reads the page (the product on screen) and asks the runtime again, e.g. after a client-side route change. */
  refresh(): void;
}

/** The element's attributes, for JSX declarations (React 19 and Vue pass them as properties). */
export interface NextclickRecommendationsAttributes {
  k?: number | string;
  label?: string;
  exclude?: string | readonly string[];
  "include-current"?: boolean | "";
  includeCurrent?: boolean;
  images?: boolean | "" | "same-origin" | "any";
  currency?: string;
  href?: string;
  prefetch?: boolean | "" | PrefetchMode;
}

/** One prefetched page at a time (`createPrefetcher`). */
export interface Prefetcher {
  /** `"rules"`: links are marked `data-nc-prefetch` for the page's speculation rules; `"link"`: a `<link rel=prefetch>`. */
  readonly mechanism: "rules" | "link";
  /** The URL prefetched now, or null. */
  readonly url: string | null;
  /** Prefetches `link`'s page (a same-origin http(s) URL) instead of the previous one; null withdraws it. */
  update(link: HTMLAnchorElement | null): void;
  /** Withdraws the prefetch (the mark, or the `<link>`). */
  stop(): void;
}

export interface PrefetcherOptions {
  /** Default "auto". */
  mode?: PrefetchMode;
  /** The document (default: `document`). */
  doc?: Document;
}

declare global {
  interface HTMLElementTagNameMap {
    "nextclick-recommendations": NextclickRecommendationsElement;
  }
}
