// Types (#18, one source of truth): the core's option and result types are generated from its Rust types
// (`#[derive(Tsify)]`, wasm32 only) into www/pkg/nextclick.d.ts; the SDK's declarations
// (packages/nextclick/sdk/nextclick.d.ts) import them. tsc (www/node_modules/.bin/tsc) then checks
// * the SDK's JavaScript against those declarations (packages/nextclick/tsconfig.json: allowJs, checkJs),
// * a typed shop app (examples/typed-app, strict TypeScript) against the package,
// * the values the real wasm returns (run here under Node) against the generated declarations,
// and that deliberate type errors are refused, in the app and in the SDK's own code (the checks are real).
// tsc runs in a scratch mirror of the repository — packages/nextclick without pkg/, examples/typed-app, and
// www/pkg's declarations — so the package's pkg/ is always this build's www/pkg (never a stale copy of an
// earlier `make package`), and nothing is written into the work tree. docs/types.md.
// Skips with a message without www/pkg/nextclick.d.ts (`make wasm-release`); fails under CI=true.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const WWW = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const REPO = path.resolve(WWW, "..");
const PKG = path.join(WWW, "pkg");
const GLUE_DTS = path.join(PKG, "nextclick.d.ts");
const TSC = path.join(WWW, "node_modules/.bin/tsc");
const SDK = path.join(REPO, "packages/nextclick/sdk");

/** The core's types, as wasm-pack declares them from the Rust types (serde names). */
const CORE_TYPES = [
  "PredictorOptions", "HeadOptions", "UnknownItemPolicy", "NextclickEvent", "EventKind", "TrackStatus",
  "Prediction", "Intent", "SessionFeatures", "PredictorStats", "RestoreReport", "ShopHeadInfo",
];

/** A scratch copy of what tsc reads: packages/nextclick (no pkg/), examples/typed-app, www/pkg's .d.ts. */
function mirror() {
  const root = mkdtempSync(path.join(os.tmpdir(), "nextclick-types-"));
  const pkg = path.join(root, "packages/nextclick");
  mkdirSync(pkg, { recursive: true });
  for (const f of ["package.json", "tsconfig.json"]) cpSync(path.join(REPO, "packages/nextclick", f), path.join(pkg, f));
  cpSync(SDK, path.join(pkg, "sdk"), { recursive: true });
  cpSync(path.join(REPO, "examples/typed-app"), path.join(root, "examples/typed-app"), { recursive: true });
  mkdirSync(path.join(root, "www/pkg"), { recursive: true });
  for (const f of readdirSync(PKG)) if (f.endsWith(".d.ts")) cpSync(path.join(PKG, f), path.join(root, "www/pkg", f));
  return root;
}

/** Runs tsc on a project of the mirror; paths in its output are relative to the mirror's root. */
function tsc(root, project, ...extra) {
  assert.ok(existsSync(TSC), `${TSC} is missing: run \`npm ci\` in www/ (scripts/setup.sh npm)`);
  const r = spawnSync(TSC, ["-p", project, "--pretty", "false", ...extra], { cwd: root, encoding: "utf8" });
  assert.equal(r.error, undefined, `tsc did not run: ${r.error}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** The `file(line,` of every error tsc reported. */
const errorLines = (out) => [...out.matchAll(/^(\S+?)\((\d+),\d+\): error TS\d+/gm)].map((m) => `${m[1]}:${m[2]}`);

/** Writes `file` (lines ending in `// refused` must each get an error) and returns the lines expected. */
function writeWrong(root, rel, lines) {
  writeFileSync(path.join(root, rel), lines.join("\n") + "\n");
  return lines.flatMap((l, i) => (l.endsWith("// refused") ? [`${rel}:${i + 1}`] : []));
}

const missing = existsSync(GLUE_DTS) ? null : `${GLUE_DTS} is missing: run \`make wasm-release\``;

if (missing && process.env.CI === "true") {
  test("types: www/pkg/nextclick.d.ts is built (required under CI=true)", () => assert.fail(missing));
} else if (missing) {
  console.log(`# types: SKIPPED, ${missing}`);
  test("types: tsc on the package and a typed app", { skip: missing }, () => {});
} else {
  test("the core's types in www/pkg/nextclick.d.ts come from the Rust types, with their serde names", () => {
    const dts = readFileSync(GLUE_DTS, "utf8");
    const declared = new Set([...dts.matchAll(/^export (?:interface|type) (\w+)/gm)].map((m) => m[1]));
    for (const name of CORE_TYPES) assert.ok(declared.has(name), `${name} is declared (declared: ${[...declared].join(", ")})`);
    const body = (name) => dts.match(new RegExp(`^export interface ${name} \\{\\n([\\s\\S]*?)^\\}`, "m"))[1];
    // camelCase as serialised; optional where serde has a default or skips a None
    assert.match(body("PredictorOptions"), /^\s+sessionTimeoutMinutes\?: number;$/m);
    assert.match(body("PredictorOptions"), /^\s+unknownItems\?: UnknownItemPolicy;$/m);
    assert.match(body("PredictorOptions"), /^\s+head\?: HeadOptions;$/m);
    assert.match(body("PredictorOptions"), /^\s+modelSha256\?: string \| null;$/m);
    assert.match(body("HeadOptions"), /^\s+alphaHalfLife\?: number;$/m);
    assert.match(body("Prediction"), /^\s+itemId: string;$/m);
    assert.match(body("Prediction"), /^\s+title\?: string;$/m);
    assert.match(body("SessionFeatures"), /^\s+distinctItemRatio: number;$/m);
    assert.match(body("PredictorStats"), /^\s+unknownItems: number;$/m);
    assert.match(body("RestoreReport"), /^\s+modelChanged: boolean;$/m);
    assert.match(body("NextclickEvent"), /^\s+type: EventKind \| \(string & \{\}\);$/m);
    assert.match(dts, /^export type TrackStatus = "accepted" \| "new_session" \| "duplicate" \| "unknown_item";$/m);
    assert.match(dts, /^export type UnknownItemPolicy = "skip" \| "reject";$/m);
    // the Rust doc comments come along: these are the Rust types, not a copy
    assert.match(dts, /Inactivity that ends a session, in minutes\./);
    // and the Predictor's methods are declared with them
    for (const sig of [
      /static create\(model: [^)]*, options: PredictorOptions \| undefined, catalogDigest\?: Uint8Array [^)]*\): Predictor;/,
      /track\(event: NextclickEvent\): TrackStatus;/,
      /predict\(k: number\): Prediction\[\];/,
      /intent\(\): Intent \| null;/,
      /features\(\): SessionFeatures;/,
      /stats\(\): PredictorStats;/,
      /importState\(bytes: [^)]*\): RestoreReport;/,
      /setShopHead\(bytes\?: [^)]*\): ShopHeadInfo \| null;/,
    ]) assert.match(dts, sig);
  });

  test("the SDK's declarations build on the core's instead of repeating them", () => {
    const sdk = readFileSync(path.join(SDK, "nextclick.d.ts"), "utf8");
    assert.match(sdk, /^import type \{[^}]*\} from "\.\.\/pkg\/nextclick\.js";$/m, "a type-only import of the core's types");
    for (const name of ["Prediction", "Intent"]) assert.doesNotMatch(sdk, new RegExp(`^export interface ${name}\\b`, "m"), `${name} is the core's`);
    assert.match(sdk, /^\s+options\?: PredictorOptions;$/m, "InitOptions.options");
    assert.match(sdk, /^\s+stats\?: PredictorStats \| null;$/m, "Status.stats");
    assert.match(sdk, /^\s+features\?: SessionFeatures \| null;$/m, "Status.features");
    assert.match(sdk, /^\s+items: Prediction\[\];$/m, "PredictionDetail.items");
    assert.match(sdk, /^export type TrackStatus = CoreTrackStatus \| /m, "the runtime's statuses extend the core's");
  });

  test("tsc checks the SDK's JavaScript against the declarations (packages/nextclick/tsconfig.json)", () => {
    const root = mirror();
    try {
      const listed = tsc(root, "packages/nextclick", "--listFilesOnly");
      assert.equal(listed.status, 0, listed.out);
      const files = new Set(listed.out.split("\n").map((f) => path.relative(root, f.trim())));
      // a .js beside a .d.ts of the same name is silently left out by an `include` glob: every module counts
      for (const f of readdirSync(SDK).filter((f) => f.endsWith(".js"))) {
        assert.ok(files.has(`packages/nextclick/sdk/${f}`), `sdk/${f} is type-checked (program: ${[...files].join(", ")})`);
      }
      assert.ok(files.has("www/pkg/nextclick.d.ts"), "the core's generated declarations are the ones read");
      const r = tsc(root, "packages/nextclick");
      assert.equal(r.status, 0, `tsc -p packages/nextclick:\n${r.out}`);
      assert.equal(r.out, "");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("tsc checks a typed app (examples/typed-app, strict) against the package's types", () => {
    const root = mirror();
    try {
      const listed = tsc(root, "examples/typed-app", "--listFilesOnly");
      const files = listed.out.split("\n").map((f) => path.relative(root, f.trim()));
      for (const f of ["packages/nextclick/sdk/nextclick.d.ts", "packages/nextclick/sdk/widget.types.d.ts", "www/pkg/nextclick.d.ts"]) {
        assert.ok(files.includes(f), `"nextclick" resolves through ${f} (program: ${files.join(", ")})`);
      }
      const r = tsc(root, "examples/typed-app");
      assert.equal(r.status, 0, `tsc -p examples/typed-app:\n${r.out}`);
      assert.equal(r.out, "");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("deliberate type errors are refused: in a typed app, and in the SDK's own JavaScript", () => {
    const root = mirror();
    try {
      const app = writeWrong(root, "examples/typed-app/wrong.ts", [
        `import { nextclick } from "nextclick";`,
        `import type { InitOptions } from "nextclick";`,
        `nextclick("predict", "5"); // refused`,
        `export const a: InitOptions = { model: "/m", catalog: "/c", options: { sessionTimeoutMinutes: "30" } }; // refused`,
        `export const b: InitOptions = { model: "/m", catalog: "/c", options: { unknownItems: "drop" } }; // refused`,
        `export const c: InitOptions = { model: "/m", catalog: "/c", options: { sessionTimeout: 30 } }; // refused`,
        `export const d: InitOptions = { model: "/m", catalog: "/c", options: { head: { alpha: "0.5" } } }; // refused`,
        `nextclick("onPrediction", ({ items }) => items[0].itemID); // refused`,
        `export const e: string = (await nextclick("status")).stats!.accepted; // refused`,
        `export const f: number = (await nextclick("predict", 3))[0].score;`,
        `document.createElement("nextclick-recommendations").k = "4"; // refused`,
      ]);
      const r = tsc(root, "examples/typed-app");
      assert.notEqual(r.status, 0, "tsc refuses the app");
      assert.deepEqual([...new Set(errorLines(r.out))], app, `one error on each refused line, none elsewhere:\n${r.out}`);

      // the SDK: a module calling it wrongly, and a wrong call inside engine.js itself (the core's types)
      const sdk = writeWrong(root, "packages/nextclick/sdk/wrong.js", [
        `import { createEngine } from "./engine.js";`,
        `import { nextclick } from "./nextclick.js";`,
        `const engine = createEngine();`,
        `engine.predict("5"); // refused`,
        `engine.track([{ type: "view", item: "p-0001" }]); // refused`,
        `nextclick("predict", "5"); // refused`,
        `/** @type {import("./nextclick.js").InitOptions} */`,
        `export const o = { model: "/m", catalog: "/c", options: { maxSessionEvents: "200" } }; // refused`,
      ]);
      const enginePath = path.join(root, "packages/nextclick/sdk/engine.js");
      const engine = readFileSync(enginePath, "utf8");
      const mutated = engine.replace("return pr.predict(k);", "return pr.predict(String(k));");
      assert.notEqual(mutated, engine, "engine.js calls pr.predict(k)");
      writeFileSync(enginePath, mutated);
      const line = mutated.slice(0, mutated.indexOf("pr.predict(String(k))")).split("\n").length;
      const s = tsc(root, "packages/nextclick");
      assert.notEqual(s.status, 0, "tsc refuses the SDK");
      assert.deepEqual(
        [...new Set(errorLines(s.out))].sort(),
        [...sdk, `packages/nextclick/sdk/engine.js:${line}`].sort(),
        `one error on each refused line, none elsewhere:\n${s.out}`,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("the real wasm's values have exactly the declared shapes (no field missing, none undeclared)", async () => {
    const glue = await import(path.join(PKG, "nextclick.js"));
    glue.initSync({ module: readFileSync(path.join(PKG, "nextclick_bg.wasm")) });
    const p = glue.Predictor.create(
      readFileSync(path.join(REPO, "models/default.onnx")),
      readFileSync(path.join(WWW, "demo/catalog.bin")),
      { sessionTimeoutMinutes: 30, head: { alphaHalfLife: 2 } },
    );
    const t = Date.now();
    const statuses = [
      p.track({ type: "view", itemId: "p-0001", timestamp: t }),
      p.track({ type: "click", itemId: "p-0002", timestamp: t + 5000 }),
      p.track({ type: "click", itemId: "p-0002", timestamp: t + 5100 }),
      p.track({ type: "cart", itemId: "no-such-item", timestamp: t + 6000 }),
    ];
    assert.deepEqual(statuses, ["new_session", "accepted", "duplicate", "unknown_item"]);
    const values = {
      items: p.predict(3),
      intent: p.intent(),
      stats: p.stats(),
      features: p.features(),
      report: p.importState(p.exportState()),
    };
    p.free();
    assert.equal(values.items.length, 3);
    const root = mirror();
    try {
      // `satisfies` on object literals: a field the declaration lacks is an error, and `Required<…>` makes
      // every declared field one the value must have
      const lit = (v) => JSON.stringify(v, null, 2);
      writeFileSync(
        path.join(root, "examples/typed-app/values.ts"),
        [
          `import type { Intent, Prediction, PredictorStats, RestoreReport, SessionFeatures, TrackStatus } from "../../www/pkg/nextclick.js";`,
          `export const statuses = ${lit(statuses)} satisfies TrackStatus[];`,
          `export const items = ${lit(values.items)} satisfies Prediction[];`,
          `export const intent = ${lit(values.intent)} satisfies Required<Intent>;`,
          `export const stats = ${lit(values.stats)} satisfies Required<PredictorStats>;`,
          `export const features = ${lit(values.features)} satisfies Required<SessionFeatures>;`,
          `export const report = ${lit(values.report)} satisfies Required<RestoreReport>;`,
        ].join("\n") + "\n",
      );
      const r = tsc(root, "examples/typed-app");
      assert.equal(r.status, 0, `the wasm's values against the declarations:\n${r.out}`);
      // …and the check bites: an undeclared field is refused
      const bad = { ...values.stats, extra: 1 };
      writeFileSync(
        path.join(root, "examples/typed-app/values.ts"),
        `import type { PredictorStats } from "../../www/pkg/nextclick.js";\nexport const stats = ${lit(bad)} satisfies Required<PredictorStats>;\n`,
      );
      const b = tsc(root, "examples/typed-app");
      assert.notEqual(b.status, 0, "an undeclared field is refused");
      assert.match(b.out, /'"?extra"?' does not exist in type/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}
