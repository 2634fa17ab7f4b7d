#!/usr/bin/env bash
# Post-processes the release wasm with binaryen's wasm-opt from npm (scripts/build/node_modules, installed here
# with `npm ci` from scripts/build/package-lock.json when missing). Usage: scripts/build/wasm-opt.sh FILE.wasm
# WASM_OPT_FLAGS overrides the passes (default: strip the name/producers sections only; see docs/bench.md
# for why not -Oz). WASM_OPT=0 skips it. Never fatal: without npm the unprocessed (valid) file is kept.
set -uo pipefail
cd "$(dirname "$0")/../.."
f="$1"
[ "${WASM_OPT:-1}" = 0 ] && { echo "wasm-opt: skipped (WASM_OPT=0)"; exit 0; }
bin=scripts/build/node_modules/.bin/wasm-opt
if [ ! -x "$bin" ] || [ scripts/build/package-lock.json -nt scripts/build/node_modules/.package-lock.json ]; then
  if command -v npm >/dev/null; then
    (cd scripts/build && npm ci --no-audit --no-fund --loglevel=error) || true
  fi
fi
if [ ! -x "$bin" ]; then echo "wasm-opt: not available (no scripts/build/node_modules), keeping $f as built"; exit 0; fi
flags=${WASM_OPT_FLAGS:---strip-debug --strip-producers}
features="--enable-bulk-memory --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue --enable-simd"
# shellcheck disable=SC2086
if "$bin" $features $flags "$f" -o "$f.opt"; then mv "$f.opt" "$f"; echo "wasm-opt $flags: done"; else rm -f "$f.opt"; echo "wasm-opt failed, keeping $f as built"; fi
