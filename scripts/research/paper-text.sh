#!/usr/bin/env bash
# The text-encoder rows of docs/results.md: (b)'s checkpoint, then a second frozen-backbone stage without
# (b -> 2) and with (b-text1) the top layer of all-MiniLM-L6-v2 fine-tuned alongside the tower. The
# fine-tuned encoder is written beside the checkpoint (`.text`) and eval-loo embeds the catalog with it.
# Run from the repository root by `make paper-text` (or directly); needs the release CLI (`make tools-release`).
set -euo pipefail
cd "$(dirname "$0")/../.."
NEXTCLICK_DATA="${NEXTCLICK_DATA:-$(cd .. && pwd)/shared/data}"
NC=target/release/nextclick
MODEL_WORK=target/model-work
PAPER_WORK=target/paper
PAPER_SCI="$NEXTCLICK_DATA/amazon-scientific"
t0=$(date +%s)
test -f $PAPER_WORK/sci-tower.safetensors || { echo "make paper-text: run make paper first"; exit 1; }
PAPER_STAGE2="--freeze-backbone --dropout 0.1 --batch-tokens 256 --epochs 60 --max-minutes 45 --valid-cases 2000 --seed 1 --patience 3 --lr 3e-4 --lr-decays 1"
$NC train --data $PAPER_SCI --preset student --init $PAPER_WORK/sci-tower.safetensors \
  $PAPER_STAGE2 --out $PAPER_WORK/sci-stage2.safetensors
$NC export --checkpoint $PAPER_WORK/sci-stage2.safetensors --out $PAPER_WORK/sci-stage2.onnx --name sci-stage2
$NC eval-loo --data $PAPER_SCI --model $PAPER_WORK/sci-stage2.onnx | tee $PAPER_WORK/b-stage2.txt
$NC train --data $PAPER_SCI --preset student --init $PAPER_WORK/sci-tower.safetensors \
  $PAPER_STAGE2 --text-layers 1 --text-lr 2e-5 --text-rows 64 --out $PAPER_WORK/sci-text1.safetensors
$NC export --checkpoint $PAPER_WORK/sci-text1.safetensors --out $PAPER_WORK/sci-text1.onnx --name sci-text1
$NC eval-loo --data $PAPER_SCI --model $PAPER_WORK/sci-text1.onnx \
  --model-dir $PAPER_WORK/sci-text1.safetensors.text | tee $PAPER_WORK/b-text1.txt
echo "make paper-text: done in $(( $(date +%s) - t0 )) s"
