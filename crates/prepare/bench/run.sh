#!/usr/bin/env bash
# `make bench-prepare`: generated logs of BENCH_PREPARE_SIZES events (default 1M 10M 100M) → `nextclick
# prepare` (embedded DataFusion), wall time and peak RSS from /usr/bin/time -v; rewrites the table between
# the markers of docs/prepare.md's "Figures". Then `nextclick train` streams each prepared folder for
# BENCH_TRAIN_STEPS optimiser steps (default 1000; 0 = skip): the ID preset with 1,024 sampled negatives (the
# generated catalog has no titles worth embedding; the memory bound does not depend on the item tower), wall
# time, peak RSS and throughput into the second table. Scratch in target/bench-prepare (logs are kept).
set -euo pipefail
cd "$(dirname "$0")/../../.."
SIZES=${BENCH_PREPARE_SIZES:-1000000 10000000 100000000}
WORK=${BENCH_PREPARE_WORK:-target/bench-prepare}
NC=${NEXTCLICK_BIN:-target/release/nextclick}
GEN=${GEN_EVENTS_BIN:-}
MEM=${BENCH_PREPARE_MEMORY_MIB:-2048}
STEPS=${BENCH_TRAIN_STEPS:-1000}
mkdir -p "$WORK"
rows=()
trows=()
for n in $SIZES; do
  # BENCH_PREPARE_REUSE=1: a size measured before (its rows saved in $WORK) is not run again
  if [ "${BENCH_PREPARE_REUSE:-0}" = 1 ] && [ -f "$WORK/row-$n.md" ]; then
    rows+=("$(cat "$WORK/row-$n.md")")
    [ -f "$WORK/trow-$n.md" ] && trows+=("$(cat "$WORK/trow-$n.md")")
    continue
  fi
  d="$WORK/gen-$n"
  if [ ! -f "$d/.done" ]; then
    rm -rf "$d"
    if [ -n "$GEN" ]; then "$GEN" "$d" "$n" 8 1; else "$NC" gen-events "$d" "$n" 8 1; fi
    touch "$d/.done"
  fi
  bytes=$(du -sb "$d/events" | cut -f1)
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  /usr/bin/time -v -o "$WORK/time-$n.txt" "$NC" prepare --events "$d/events" --items "$d/items.csv" \
    --out "$WORK/out-$n" --map view=view,addtocart=cart,transaction=purchase --memory-limit "$MEM" \
    > "$WORK/prepare-$n.log"
  cat "$WORK/prepare-$n.log"
  wall=$(grep 'Elapsed (wall clock)' "$WORK/time-$n.txt" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$WORK/time-$n.txt" | awk '{print $NF}')
  secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  kept=$(python3 -c "import json;print(json.load(open('$WORK/out-$n/report.json'))['events'])")
  shards=$(du -sb "$WORK/out-$n/shards" | cut -f1)
  rows+=("| $n | $((bytes / 1000000)) MB | $kept | $((shards / 1000000)) MB | $wall | $((rss / 1024)) MiB | $(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.0f", n/s}') | $load |")
  printf '%s\n' "${rows[-1]}" > "$WORK/row-$n.md"
  if [ "$STEPS" != 0 ]; then
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    /usr/bin/time -v -o "$WORK/train-time-$n.txt" "$NC" train --data "$WORK/out-$n" --out "$WORK/train-$n.safetensors" \
      --preset id --negatives 1024 --steps "$STEPS" --epochs 1 --valid-cases 2000 --test-cases 2000 \
      --max-minutes 600 2> "$WORK/train-$n.log"
    tail -3 "$WORK/train-$n.log"
    twall=$(grep 'Elapsed (wall clock)' "$WORK/train-time-$n.txt" | awk '{print $NF}')
    trss=$(grep 'Maximum resident set size' "$WORK/train-time-$n.txt" | awk '{print $NF}')
    trows+=("$(python3 - "$WORK/train-$n.safetensors.report.json" "$n" "$twall" "$((trss / 1024))" "$load" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); n, wall, rss, load = sys.argv[2:]
print(f"| {n} | {r['events']} | {r['items']} | {r['windows_per_epoch']} | {r['steps']} | {wall} | {rss} MiB | "
      f"{r['peak_windows_held']} / {r['windows_held_bound']} | {r['tokens_per_sec']:.0f} | {load} |")
PY
)")
    printf '%s\n' "${trows[-1]}" > "$WORK/trow-$n.md"
  fi
done
{
  echo "<!-- bench-prepare:begin -->"
  echo "| events | CSV in | kept events | shards out | wall | peak RSS | rows/s | load before |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Measured $(date -u +%Y-%m-%d) by \`make bench-prepare\` (BENCH_PREPARE_SIZES=\"$SIZES\", --memory-limit $MEM MiB, $(nproc) cores)."
  if [ "${#trows[@]}" -gt 0 ]; then
    echo
    echo "Streaming training on the shards: \`nextclick train --data OUT --preset id --negatives 1024 --steps $STEPS --epochs 1\` (wall time includes the first pass over every shard and loading the items):"
    echo
    echo "| events generated | kept events | items | windows / epoch | steps | wall | peak RSS | windows held / bound | tokens/s | load before |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${trows[@]}"
  fi
  echo "<!-- bench-prepare:end -->"
} > "$WORK/figures.md"
python3 - "$WORK/figures.md" <<'PY'
import re, sys
new = open(sys.argv[1]).read()
p = "docs/prepare.md"; s = open(p).read()
s2 = re.sub(r"<!-- bench-prepare:begin -->.*?<!-- bench-prepare:end -->\n", new, s, flags=re.S)
open(p, "w").write(s2 if s2 != s or new in s else s + "\n" + new)
PY
cat "$WORK/figures.md"
