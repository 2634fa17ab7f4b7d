#!/usr/bin/env bash
# The multi-source ablation of issue #22 (docs/results.md, "Multi-source pre-training"): the default
# student's two-stage recipe (`make model`) on amazon-games, with the ID-only clickstreams of
# $NEXTCLICK_DATA added one at a time through `train --id-source` (each its own never-exported ID table),
# every candidate exported and replayed on REES46 (`nextclick eval --rows zero-shot,device`: zero-shot and
# on-device head, no-repeat / all / first-session). REES46 is a target only: it never trains a source.
# Rows: SOURCES_ROWS (default all: 1 = + yoochoose, 2 = + otto, 3 = + diginetica, 4 = + retailrocket,
# 5 = + tmall); SOURCES_MINUTES caps each stage (default 45). Figures: target/sources/<row>/eval.md and
# the training reports beside; run from the repository root by `make sources` (release CLI needed).
set -euo pipefail
cd "$(dirname "$0")/../.."
NEXTCLICK_DATA="${NEXTCLICK_DATA:-$(cd .. && pwd)/shared/data}"
NC=${NEXTCLICK_BIN:-target/release/nextclick}
WORK=target/sources
MIN=${SOURCES_MINUTES:-45}
ALPHA=${SOURCES_ALPHA:-0.5}
ALL=(yoochoose-rsc15-sample otto-sample diginetica-sample retailrocket-cgenet tmall-gcegnn)
ROWS=${SOURCES_ROWS:-1 2 3 4 5}
REES="$NEXTCLICK_DATA/rees46-oct2019"
for d in amazon-games rees46-oct2019 "${ALL[@]}"; do
  test -f "$NEXTCLICK_DATA/$d/events.csv" || { echo "make sources: $NEXTCLICK_DATA/$d/events.csv not found"; exit 1; }
done
mkdir -p $WORK
t0=$(date +%s)
for row in $ROWS; do
  t1=$(date +%s)
  out=$WORK/$row
  mkdir -p "$out"
  src=()
  for d in "${ALL[@]:0:$row}"; do src+=(--id-source "$NEXTCLICK_DATA/$d"); done
  $NC train --data "$NEXTCLICK_DATA/amazon-games" "${src[@]}" --source-alpha "$ALPHA" --preset student \
    --negatives 1024 --batch-tokens 1024 --lr 2e-3 --epochs 30 --max-minutes "$MIN" --patience 3 \
    --valid-cases 2000 --seed 1 --out "$out/stage1.safetensors" 2> "$out/stage1.log"
  $NC train --data "$NEXTCLICK_DATA/amazon-games" "${src[@]}" --source-alpha "$ALPHA" --preset student \
    --init "$out/stage1.safetensors" --negatives 1024 --batch-tokens 1024 --lr 1e-3 --epochs 12 \
    --max-minutes "$MIN" --patience 4 --valid-cases 2000 --seed 2 --out "$out/student.safetensors" 2> "$out/stage2.log"
  $NC export --checkpoint "$out/student.safetensors" --out "$out/model.onnx" --name "nextclick-sources-$row"
  $NC catalog "$REES/items.csv" --model "$out/model.onnx" --out "$out/rees46.catalog"
  $NC eval --target "$REES" --model "$out/model.onnx" --catalog "$out/rees46.catalog" --rows zero-shot,device \
    --work "$out/eval-work" --out "$out/eval.md" --title "sources row $row: amazon-games + ${ALL[*]:0:$row}" \
    --command "make sources SOURCES_ROWS=$row" > "$out/eval.log"
  echo "make sources: row $row (amazon-games + ${ALL[*]:0:$row}) in $(( $(date +%s) - t1 )) s: $out/eval.md"
done
echo "make sources: done in $(( $(date +%s) - t0 )) s"
