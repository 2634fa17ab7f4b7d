#!/usr/bin/env bash
# `make package`: the npm package `nextclick` (packages/nextclick) with the prebuilt release wasm inside, packed
# to target/package/nextclick-<version>.tgz. Needs www/pkg (`make wasm-release`, the Makefile's prerequisite).
# Checks that the package's version is the crate's, copies the wasm-bindgen glue and binary into pkg/, and
# runs `npm pack` (no network). Prints the tarball's path and sizes.
set -euo pipefail
cd "$(dirname "$0")/../.."
PKG=packages/nextclick
crate=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
npmv=$(node -p "require('./$PKG/package.json').version")
if [ "$crate" != "$npmv" ]; then
  echo "package: $PKG/package.json has version $npmv, the crate (Cargo.toml) $crate — keep them in step" >&2
  exit 1
fi
for f in nextclick.js nextclick_bg.wasm nextclick.d.ts nextclick_bg.wasm.d.ts; do
  [ -f "www/pkg/$f" ] || { echo "package: www/pkg/$f is missing: run \`make wasm-release\`" >&2; exit 1; }
done
rm -rf "$PKG/pkg"
mkdir -p "$PKG/pkg" target/package
cp www/pkg/nextclick.js www/pkg/nextclick_bg.wasm www/pkg/nextclick.d.ts www/pkg/nextclick_bg.wasm.d.ts "$PKG/pkg/"
rm -f "target/package/nextclick-$npmv.tgz"
(cd "$PKG" && npm pack --silent --pack-destination ../../target/package >/dev/null)
tgz="target/package/nextclick-$npmv.tgz"
[ -f "$tgz" ] || { echo "package: npm pack wrote no $tgz" >&2; exit 1; }
gz() { gzip -9c "$1" | wc -c; }
br() { if command -v brotli >/dev/null; then brotli -c -q 11 "$1" | wc -c; else node -e "process.stdout.write(String(require('zlib').brotliCompressSync(require('fs').readFileSync('$1')).length))"; fi; }
js=$(cat "$PKG"/sdk/*.js | wc -c)
jsgz=$(cat "$PKG"/sdk/*.js | gzip -9c | wc -c)
echo "package: $tgz ($(wc -c <"$tgz") bytes)"
echo "package: wasm $(wc -c <"$PKG/pkg/nextclick_bg.wasm") B, gzip $(gz "$PKG/pkg/nextclick_bg.wasm") B, brotli $(br "$PKG/pkg/nextclick_bg.wasm") B"
echo "package: SDK JS $js B, gzip (all modules) $jsgz B; glue gzip $(gz "$PKG/pkg/nextclick.js") B"
