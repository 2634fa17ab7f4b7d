#!/usr/bin/env bash
# `make bench-catalog-real` (issue #20): the compressed catalog formats on the real catalogs of
# $NEXTCLICK_DATA, for the default model. For rees46-oct2019 (the target shop, 6,493 items) and
# amazon-scientific (4,385 titled items), four catalogs are built with `nextclick catalog`: the exact f32
# scan, the int8 scan, IVF-PQ re-scored on int8 (nprobe calibrated to --target-recall 0.95 on half of
# the build's real sessions) and IVF-PQ on PQ codes alone (the same nprobe). Recall@20 against the f32
# scan is measured on the other half (held out). REES46 is then replayed on each of its catalogs
# (`nextclick eval --rows zero-shot,device`): the issue's "Recall@20 within 0.005 of exact". A split
# catalog (format version 3) answers exactly as the IVF-PQ catalog it was cut from
# (crates/model/tests/split_catalog.rs), so it is not replayed again.
# Writes docs/bench.md's section "Big catalogs: the real REES46 and Scientific catalogs"; scratch in
# target/bench-catalog-real. A benchmark, not a test (no data is committed).
set -euo pipefail
cd "$(dirname "$0")/../.."
NEXTCLICK_DATA="${NEXTCLICK_DATA:-$(cd .. && pwd)/shared/data}"
NC=${NEXTCLICK_BIN:-target/release/nextclick}
MODEL=${BENCH_MODEL:-models/default.onnx}
W=target/bench-catalog-real
SHOPS="rees46-oct2019 amazon-scientific"
for s in $SHOPS; do
  test -f "$NEXTCLICK_DATA/$s/events.csv" || { echo "make bench-catalog-real: $NEXTCLICK_DATA/$s/events.csv not found (set NEXTCLICK_DATA)"; exit 1; }
done
mkdir -p $W
t0=$(date +%s)
# timed FILE CMD...: runs CMD, its wall seconds into FILE
timed() { local f=$1 a; shift; a=$(date +%s.%N); "$@"; awk -v a="$a" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", b - a }' > "$f"; }
for s in $SHOPS; do
  items="$NEXTCLICK_DATA/$s/items.csv"
  for kind in f32 int8 ivfpq; do
    case $kind in f32) opt=() ;; int8) opt=(--int8) ;; ivfpq) opt=(--ivfpq) ;; esac
    timed $W/$s-$kind.time $NC catalog "$items" --model "$MODEL" "${opt[@]}" --out $W/$s-$kind.catalog 2> $W/$s-$kind.log
  done
  np=$(sed -n 's/.*nprobe \([0-9]*\) (calibrated.*/\1/p' $W/$s-ivfpq.log)
  test -n "$np" || { echo "make bench-catalog-real: no calibrated nprobe in $W/$s-ivfpq.log"; exit 1; }
  timed $W/$s-ivfpq-pq.time $NC catalog "$items" --model "$MODEL" --ivfpq --no-rescore --nprobe "$np" --out $W/$s-ivfpq-pq.catalog 2> $W/$s-ivfpq-pq.log
done
REES="$NEXTCLICK_DATA/rees46-oct2019"
for kind in f32 int8 ivfpq ivfpq-pq; do
  $NC eval --target "$REES" --model "$MODEL" --catalog $W/rees46-oct2019-$kind.catalog --rows zero-shot,device \
    --work $W/work --plots $W/replay-$kind > $W/replay-$kind.log 2>&1
done
{ date -u +%Y-%m-%dT%H:%M:%SZ; cut -d' ' -f1-3 /proc/loadavg; } > $W/when.txt # when measured, and the load
python3 scripts/research/catalog-real-table.py $W "$MODEL" "$(git rev-parse --short HEAD)" "$((  $(date +%s) - t0 ))" docs/bench.md
echo "make bench-catalog-real: done in $(( $(date +%s) - t0 )) s (docs/bench.md)"
