#!/usr/bin/env bash
# The multi-source ablation of issue #22 (docs/results.md, "Multi-source pre-training"): the default
# student's two-stage recipe (`make model`) on amazon-games, with the ID-only clickstreams of
# $NEXTCLICK_DATA added one at a time through `train --id-source` (each its own never-exported ID table;
# the epoch chosen on amazon-games' validation, `--select first`), every candidate exported and replayed on
# REES46 (`nextclick eval --rows zero-shot,device`: zero-shot and on-device head, no-repeat / all /
# first-session / repeats). REES46 is a target only: it never trains a source. Candidates are compared on
# VALIDATION — the REES46 history window written as a shop of its own (`eval --write-history`), whose later
# part `eval` replays — and the test-window rows are printed beside it.
# Rows: SOURCES_ROWS (default "0 1 2 3 4 5": 0 = amazon-games alone under the same budget, the control;
# 1 = + yoochoose, 2 = + otto, 3 = + diginetica, 4 = + retailrocket, 5 = + tmall; "base" = the shipped
# models/default.onnx, not trained: 0.4.0 in the committed table, `git show 3b1f9e5:models/default.onnx`).
# SOURCES_MINUTES caps each stage (default 15, the budget of the committed rows 0–5); SOURCES_TAG names
# another run of the same rows (its folders are <row><tag>: `SOURCES_ROWS=5 SOURCES_MINUTES=30
# SOURCES_TAG=b` is row 5b); SOURCES_SELECT=mean chooses each epoch on the mean over the sources.
# Every stage starts the ID table fresh (`train --keep-id-table` is off).
# SOURCES_FLAGS: more `train` flags for both stages (e.g. `--positions-from-start`: a contract-v2 model,
# issue #23); SOURCES_EPOCHS="E1 E2" fixes each stage's epochs (default "30 12", stopped by the caps and
# patience; "4 4" with a large SOURCES_MINUTES is `make model`'s recipe, the run behind 0.5.0).
# Figures: target/sources/<row>/{valid,eval}.md and target/sources/summary.md; run from the repository
# root by `make sources` (release CLI needed).
set -euo pipefail
cd "$(dirname "$0")/../.."
NEXTCLICK_DATA="${NEXTCLICK_DATA:-$(cd .. && pwd)/shared/data}"
NC=${NEXTCLICK_BIN:-target/release/nextclick}
WORK=target/sources
MIN=${SOURCES_MINUTES:-15}
ALPHA=${SOURCES_ALPHA:-0.5}
SELECT=${SOURCES_SELECT:-first} # train --select: the epoch chosen on amazon-games' validation, or on the mean
ALL=(yoochoose-rsc15-sample otto-sample diginetica-sample retailrocket-cgenet tmall-gcegnn)
ROWS=${SOURCES_ROWS:-0 1 2 3 4 5}
read -r -a FLAGS <<< "${SOURCES_FLAGS:-}"
read -r EPOCHS1 EPOCHS2 <<< "${SOURCES_EPOCHS:-30 12}"
TAG=${SOURCES_TAG:-} # appended to each row's folder: another run of the same rows (e.g. a larger SOURCES_MINUTES)
REES="$NEXTCLICK_DATA/rees46-oct2019"
for d in amazon-games rees46-oct2019 "${ALL[@]}"; do
  test -f "$NEXTCLICK_DATA/$d/events.csv" || { echo "make sources: $NEXTCLICK_DATA/$d/events.csv not found"; exit 1; }
done
mkdir -p $WORK
t0=$(date +%s)
# the validation shop: REES46's history window (the same for every model)
test -f $WORK/history/events.csv ||
  $NC eval --target "$REES" --model models/default.onnx --write-history $WORK/history --work $WORK/history-work > $WORK/history.log

# replays one candidate ($1 = row folder, $2 = ONNX model, $3 = title) on validation and test
replay() {
  local out=$1 model=$2 title=$3
  $NC catalog $WORK/history/items.csv --model "$model" --out "$out/valid.catalog" 2> "$out/valid-catalog.log"
  $NC eval --target $WORK/history --model "$model" --catalog "$out/valid.catalog" --rows zero-shot,device \
    --work "$out/eval-work" --plots "$out/valid" --out "$out/valid.md" --title "$title (validation: REES46 history window)" \
    --command "make sources SOURCES_ROWS=$row" > "$out/valid.log"
  $NC catalog "$REES/items.csv" --model "$model" --out "$out/rees46.catalog" 2> "$out/catalog.log"
  $NC eval --target "$REES" --model "$model" --catalog "$out/rees46.catalog" --rows zero-shot,device \
    --work "$out/eval-work" --plots "$out/eval" --out "$out/eval.md" --title "$title" \
    --command "make sources SOURCES_ROWS=$row" > "$out/eval.log"
}

for row in $ROWS; do
  t1=$(date +%s)
  out=$WORK/$row$TAG
  mkdir -p "$out"
  if [ "$row" = base ]; then
    cp models/default.card.json "$out/model.card.json"
    replay "$out" models/default.onnx "sources row base: models/default.onnx"
    echo "make sources: row base (the shipped model) in $(( $(date +%s) - t1 )) s"
    continue
  fi
  src=()
  for d in "${ALL[@]:0:$row}"; do src+=(--id-source "$NEXTCLICK_DATA/$d"); done
  $NC train --data "$NEXTCLICK_DATA/amazon-games" ${src[@]+"${src[@]}"} --source-alpha "$ALPHA" --select "$SELECT" --preset student \
    --negatives 1024 --batch-tokens 1024 --lr 2e-3 --epochs "$EPOCHS1" --max-minutes "$MIN" --patience 3 \
    --valid-cases 2000 --seed 1 ${FLAGS[@]+"${FLAGS[@]}"} --out "$out/stage1.safetensors" 2> "$out/stage1.log"
  echo "stage 1 and 2: --max-minutes $MIN, --source-alpha $ALPHA, --select $SELECT, epochs $EPOCHS1 / $EPOCHS2, flags: ${SOURCES_FLAGS:-none}" > "$out/command.txt"
  $NC train --data "$NEXTCLICK_DATA/amazon-games" ${src[@]+"${src[@]}"} --source-alpha "$ALPHA" --select "$SELECT" --preset student \
    --init "$out/stage1.safetensors" --negatives 1024 --batch-tokens 1024 --lr 1e-3 --epochs "$EPOCHS2" \
    --max-minutes "$MIN" --patience 4 --valid-cases 2000 --seed 2 ${FLAGS[@]+"${FLAGS[@]}"} --out "$out/student.safetensors" 2> "$out/stage2.log"
  $NC export --checkpoint "$out/student.safetensors" --out "$out/model.onnx" --name "nextclick-sources-$row"
  replay "$out" "$out/model.onnx" "sources row $row: amazon-games + ${ALL[*]:0:$row}"
  echo "make sources: row $row (amazon-games + ${ALL[*]:0:$row}) in $(( $(date +%s) - t1 )) s: $out/eval.md"
done
python3 scripts/research/sources-table.py $WORK $(for r in $ROWS; do echo "$r$TAG"; done) | tee $WORK/summary.md
echo "make sources: done in $(( $(date +%s) - t0 )) s"
