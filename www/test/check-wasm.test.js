// The build-time guard of `make wasm-release` (scripts/build/check-wasm.mjs) on synthetic modules: it must
// fail when the NNEF operator registry (or rustfft) is linked, or exports are wrapped command-style, and
// pass a module with neither. Node only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO } from "../support/harness.js";

const leb = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const str = (s) => [...leb(Buffer.byteLength(s)), ...Buffer.from(s)];

/** A wasm module holding only a `name` custom section with these function names. */
function moduleWith(names) {
  const fnames = [...leb(names.length), ...names.flatMap((n, i) => [...leb(i), ...str(n)])];
  const sub = [1, ...leb(fnames.length), ...fnames];
  const body = [...str("name"), ...sub];
  return Buffer.from([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0, ...leb(body.length), ...body]);
}

function check(names) {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "nc-check-wasm-")), "m.wasm");
  fs.writeFileSync(f, moduleWith(names));
  return spawnSync("node", [path.join(REPO, "scripts/build/check-wasm.mjs"), f], { encoding: "utf8" });
}

test("check-wasm passes a clean module and fails when the NNEF registry or command-style wrappers are linked", () => {
  const ok = check(["__wasm_call_ctors", "_ZN10tract_core5model4ops17h0E", "track"]);
  assert.equal(ok.status, 0, ok.stderr);
  for (const bad of [
    "_ZN10tract_nnef3ops4core8register17h0123456789abcdefE",
    "_ZN73_$LT$tract_nnef..ops..core..Foo$u20$as$u20$Bar$GT$3ser17h0E",
    "_ZN7rustfft9algorithm8radix417h0E",
  ]) {
    const r = check(["__wasm_call_ctors", bad]);
    assert.equal(r.status, 1, `${bad}: ${r.stdout}`);
    assert.match(r.stderr, /NNEF operator registry is linked/);
  }
  const wrapped = check(["__wasm_call_ctors", "track.command_export"]);
  assert.equal(wrapped.status, 1);
  assert.match(wrapped.stderr, /command-style/);
});
