// Types of sdk/prefetch.js (`import … from "nextclick/prefetch"`, the package's `exports` name this file); the
// interfaces are declared at the end of nextclick.d.ts. (Not `prefetch.d.ts`: the SDK's type check,
// packages/nextclick/tsconfig.json, would then leave prefetch.js itself out.)
import type { Prefetcher, PrefetcherOptions } from "./nextclick.js";

export type { Prefetcher, PrefetcherOptions, PrefetchMode } from "./nextclick.js";

/** The attribute the speculation rules select (`a[data-nc-prefetch]`), also set on the fallback `<link>`. */
export declare const PREFETCH_ATTR: "data-nc-prefetch";
/** Does this browser apply speculation rules? */
export declare function supportsSpeculationRules(): boolean;
/** `href` as an absolute URL if it is an http(s) URL of `base`'s origin (default: the page's), else null. */
export declare function sameOriginUrl(href: string | null | undefined, base?: string): string | null;
/** A prefetcher of at most one page at a time (see sdk/prefetch.js). */
export declare function createPrefetcher(options?: PrefetcherOptions): Prefetcher;
