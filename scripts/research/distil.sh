#!/usr/bin/env bash
# The converged-teacher distillation of docs/results.md ("A converged teacher"): a second student (seed 2, two
# stages), their ensemble as the teacher, the default checkpoint distilled from it for 8 more epochs, and the
# same continuation without a teacher as the control; each prints its amazon-games validation and test
# figures. Needs `make model`'s checkpoint; ≈ 45 min on one core.
# Run from the repository root by `make distil` (or directly); needs the release CLI (`make tools-release`).
set -euo pipefail
cd "$(dirname "$0")/../.."
NEXTCLICK_DATA="${NEXTCLICK_DATA:-$(cd .. && pwd)/shared/data}"
NC=target/release/nextclick
MODEL_WORK=target/model-work
PAPER_WORK=target/paper
PAPER_SCI="$NEXTCLICK_DATA/amazon-scientific"
t0=$(date +%s)
test -f $MODEL_WORK/games-student.safetensors || { echo "make distil: run make model first"; exit 1; }
G="--data $NEXTCLICK_DATA/amazon-games --preset student --negatives 1024 --batch-tokens 1024"
$NC train $G --lr 2e-3 --epochs 40 --max-minutes 40 --patience 3 --lr-decays 1 --lr-decay 0.5 \
  --valid-cases 2000 --seed 2 --out $MODEL_WORK/games-student-s2.safetensors
$NC train $G --init $MODEL_WORK/games-student-s2.safetensors --lr 1e-3 --epochs 12 --max-minutes 45 \
  --patience 4 --valid-cases 2000 --seed 3 --out $MODEL_WORK/games-student-s2b.safetensors
K="--init $MODEL_WORK/games-student.safetensors --lr 5e-4 --epochs 12 --max-minutes 40 --patience 4 --valid-cases 2000 --seed 4"
$NC train $G $K --teacher $MODEL_WORK/games-student.safetensors \
  --teacher $MODEL_WORK/games-student-s2b.safetensors --alpha 0.5 --distill-temp 2 \
  --out $MODEL_WORK/games-distilled.safetensors
$NC train $G $K --out $MODEL_WORK/games-control.safetensors
echo "make distil: done in $(( $(date +%s) - t0 )) s"
