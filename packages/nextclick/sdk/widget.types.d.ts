// Types of sdk/widget.js (`import "nextclick/widget"`, the package's `exports` name this file). The element's
// interfaces are declared with the runtime's, at the end of nextclick.d.ts. (Not `widget.d.ts`: the SDK's
// type check, packages/nextclick/tsconfig.json, would then leave widget.js itself out.)
import type { NextclickRecommendationsElement } from "./nextclick.js";

export type { NextclickRecommendationsElement, NextclickRecommendationsAttributes, RecommendationTile, PrefetchMode } from "./nextclick.js";

/** The element's tag name. */
export declare const TAG: "nextclick-recommendations";
/** Tiles shown without a `k` attribute. */
export declare const DEFAULT_K: 6;
/** The list's accessible name without a `label` attribute. */
export declare const DEFAULT_LABEL: string;
/** The empty state's text without `slot="empty"` content. */
export declare const DEFAULT_EMPTY_TEXT: string;
/** The element's class (defined as `<nextclick-recommendations>` on import, where `customElements` exists). */
export declare const NextclickRecommendations: {
  prototype: NextclickRecommendationsElement;
  new (): NextclickRecommendationsElement;
  readonly observedAttributes: string[];
};
/** Defines the element under `tag` (default `nextclick-recommendations`) unless that name is taken; a no-op without `customElements`. */
export declare function defineNextclickRecommendations(tag?: string): void;
