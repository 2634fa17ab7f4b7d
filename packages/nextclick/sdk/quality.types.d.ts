// Types of sdk/quality.js (`import … from "nextclick/quality"`, the package's `exports` name this file): the
// pure measurement module, usable in Node too — e.g. a shop's server aggregating the reports it collected
// with `ldpEstimate`. The report and counter types are declared in nextclick.d.ts. (Not `quality.d.ts`: the
// SDK's type check, packages/nextclick/tsconfig.json, would then leave quality.js itself out.)
import type { Quality, QualityReport, QualityReportOptions } from "./nextclick.js";

export type { Quality, QualityReport, QualityReportOptions } from "./nextclick.js";

/** A uniform number in [0, 1) from a string (FNV-1a, then murmur3's finaliser). */
export declare function unitHash(s: string): number;
/** The A/B group of a device id: "holdout" when `unitHash(id) < fraction` (stable, monotone in the fraction). */
export declare function assignGroup(id: string | null, fraction: number): "treatment" | "holdout";
/** Randomised response's probability of the true answer at budget ε: e^ε / (1 + e^ε). */
export declare function keepProbability(epsilon: number): number;
/** A report of `quality` under ε-LDP (see nextclick.d.ts `QualityReport`); sends nothing. */
export declare function ldpReport(quality: Quality, options?: QualityReportOptions): QualityReport;
/** The unbiased estimate of the fraction of devices whose true `field` bit is 1, from reports of one ε:
 * π̂ = (ȳ − (1 − p)) / (2p − 1), with its standard error √(ȳ(1 − ȳ)/n) / (2p − 1). */
export declare function ldpEstimate(reports: readonly QualityReport[], field: string): { n: number; observed: number; estimate: number; stderr: number };
/** The binary questions a report can answer (field name → its true bit). */
export declare const LDP_FIELDS: Readonly<Record<"active" | "hit" | "mrr" | "clicked" | "converted" | "purchased", (q: Quality, random: () => number) => 0 | 1>>;
export declare const LDP_DEFAULT_FIELDS: readonly ["active", "hit", "converted"];
export declare const LDP_DEFAULT_EPSILON: number;
