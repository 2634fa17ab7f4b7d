#!/usr/bin/env bash
# The Amazon Scientific rows of docs/results.md (the UniSRec / VQ-Rec / MISSRec protocol: leave-one-out,
# full-catalog ranking, history excluded), each scored through tract on its exported ONNX by `eval-loo`.
# (b) and (c) start from the source student checkpoint that `make model` leaves in target/model-work and
# decay the learning rate twice on validation plateaus; (c2) is the two-stage fine-tune: (b)'s checkpoint,
# then every parameter at 1e-4. Figures go to target/paper/*.txt; docs/results.md quotes them.
# Run from the repository root by `make paper` (or directly); needs the release CLI (`make tools-release`).
set -euo pipefail
cd "$(dirname "$0")/../.."
NEXTCLICK_DATA="${NEXTCLICK_DATA:-$(cd .. && pwd)/shared/data}"
NC=target/release/nextclick
MODEL_WORK=target/model-work
PAPER_WORK=target/paper
PAPER_SCI="$NEXTCLICK_DATA/amazon-scientific"
t0=$(date +%s)
test -f $MODEL_WORK/games-student.safetensors || { echo "make paper: run make model first"; exit 1; }
mkdir -p $PAPER_WORK
PAPER_BASE="--batch-tokens 256 --epochs 60 --max-minutes 45 --patience 4 --valid-cases 2000 --seed 1"
PAPER_TRAIN="$PAPER_BASE --lr 2e-3 --lr-decays 2"
$NC eval-loo --data $PAPER_SCI --model models/default.onnx | tee $PAPER_WORK/a-zero-shot.txt
$NC train --data $PAPER_SCI --preset student --init $MODEL_WORK/games-student.safetensors \
  --freeze-backbone --dropout 0.1 $PAPER_TRAIN --out $PAPER_WORK/sci-tower.safetensors
$NC export --checkpoint $PAPER_WORK/sci-tower.safetensors --out $PAPER_WORK/sci-tower.onnx --name sci-tower
$NC eval-loo --data $PAPER_SCI --model $PAPER_WORK/sci-tower.onnx | tee $PAPER_WORK/b-frozen.txt
$NC train --data $PAPER_SCI --preset student --init $MODEL_WORK/games-student.safetensors \
  $PAPER_TRAIN --out $PAPER_WORK/sci-full.safetensors
$NC export --checkpoint $PAPER_WORK/sci-full.safetensors --out $PAPER_WORK/sci-full.onnx --name sci-full
$NC eval-loo --data $PAPER_SCI --model $PAPER_WORK/sci-full.onnx | tee $PAPER_WORK/c-full.txt
$NC train --data $PAPER_SCI --preset student --init $PAPER_WORK/sci-tower.safetensors \
  $PAPER_BASE --lr 1e-4 --dropout 0.1 --out $PAPER_WORK/sci-lpft.safetensors
$NC export --checkpoint $PAPER_WORK/sci-lpft.safetensors --out $PAPER_WORK/sci-lpft.onnx --name sci-lpft
$NC eval-loo --data $PAPER_SCI --model $PAPER_WORK/sci-lpft.onnx | tee $PAPER_WORK/c2-two-stage.txt
$NC train --data $PAPER_SCI --preset id --dropout 0.3 $PAPER_TRAIN --out $PAPER_WORK/sci-id.safetensors
$NC export --checkpoint $PAPER_WORK/sci-id.safetensors --out $PAPER_WORK/sci-id.onnx --name sci-sasrec-id \
  --data $PAPER_SCI
$NC eval-loo --data $PAPER_SCI --model $PAPER_WORK/sci-id.onnx --catalog $PAPER_WORK/sci-id.catalog.bin \
  | tee $PAPER_WORK/d-id.txt
echo "make paper: done in $(( $(date +%s) - t0 )) s"
