// Every code sample of docs/js-sdk.md that shows an example app is that example's code: the code lines of
// each file below (comments aside) appear in the guide, in order, in one fenced block. The examples
// themselves run in the e2e tests (www/test/package.test.js and the others named in their headers), so a
// sample in the guide cannot drift from code that is tested.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { REPO } from "../support/harness.js";

const GUIDE = readFileSync(path.join(REPO, "docs/js-sdk.md"), "utf8");
const blocks = [...GUIDE.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]);

/** Code lines of a JS/TS file: trimmed, without blank lines and whole-line comments. */
const codeLines = (text) =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("//") && !l.startsWith("/*") && !l.startsWith("*"));

const SAMPLES = ["examples/bundle/app.js", "examples/classic/page.js"];
for (const extra of ["examples/react/app.jsx", "examples/vue/app.js", "examples/typed-app/main.ts"]) {
  if (existsSync(path.join(REPO, extra)) && GUIDE.includes(extra)) SAMPLES.push(extra);
}

for (const file of SAMPLES) {
  test(`docs/js-sdk.md quotes ${file} as it is`, () => {
    assert.ok(GUIDE.includes(file), `the guide names ${file}`);
    const want = codeLines(readFileSync(path.join(REPO, file), "utf8"));
    const found = blocks.some((b) => {
      const have = codeLines(b);
      for (let i = 0; i + want.length <= have.length; i++) {
        if (want.every((l, j) => have[i + j] === l)) return true;
      }
      return false;
    });
    assert.ok(found, `no code block of docs/js-sdk.md holds the code of ${file}:\n${want.join("\n")}`);
  });
}
