#!/usr/bin/env bash
# MaskSAM on the demo data next to MA-SAM on the same split (CPU):
#   bench/masksam.sh [out-dir] [minutes] [threads]      (MASAM_ITERATIONS, default 1000: the demo's own length;
#                                                        MASKSAM_NPROC, default 2: data-parallel training processes of
#                                                        MASKSAM_THREADS (default 1) threads each; MASKSAM_BATCH, default 8:
#                                                        the global batch of 3-slice stacks. One process of one thread with
#                                                        batch 4 was the default before: docs/benchmarks.md; MASKSAM_TTA,
#                                                        default none: predict's --tta, e.g. flip-slices; with a pixel head each
#                                                        map alone is predicted and scored too: --masksam-output)
# 1. `samadapt demo` builds the Colin27/AAL dataset (held-out slabs in imagesTs/labelsTs, no validation split) and trains,
#    predicts and evaluates MA-SAM (tiny preset, MASAM_ITERATIONS iterations): its held-out Dice is the comparison.
# 2. `samadapt train --method masksam --model tiny` on the same dataset and intensity, no validation split, on both cores as
#    two data-parallel processes (one thread each: one process does not gain from a second thread at this size), for a fixed time
#    budget (default 10 minutes: the trainer plans the run from it and re-plans three times from its own iterations, ending at about
#    98 % of it), then `predict` on imagesTs (--tta MASKSAM_TTA) and `evaluate` against
#    labelsTs. Prints both reports' mean foreground Dice, the training slices/s and the parameter report of `train`.
# Run on an idle machine for timings; the load is printed with the results.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${1:-bench/.work/masksam}"
MINUTES="${2:-10}"
THREADS="${3:-2}"
SAMADAPT="${SAMADAPT:-./samadapt}"
mkdir -p "$OUT"
uptime
if [ ! -f "$OUT/demo/run/config.yaml" ]; then
  $SAMADAPT demo --out "$OUT/demo" --threads "$THREADS" --iterations "${MASAM_ITERATIONS:-1000}" | tee "$OUT/ma-sam.log"
fi
DS="$OUT/demo/Dataset900_Colin27AAL"
rm -rf "$OUT/masksam-run" "$OUT/masksam-pred"
/usr/bin/time -v $SAMADAPT train --method masksam --dataset "$DS" --model tiny --img-size 96 --slices 3 --batch "${MASKSAM_BATCH:-8}" \
  --time-budget "$MINUTES" --intensity ct-window:0,255 --val-fraction 0 --weight-decay 0.01 --augment none --seed 1234 \
  --nproc "${MASKSAM_NPROC:-2}" --threads "${MASKSAM_THREADS:-1}" --out "$OUT/masksam-run" 2>&1 | tee "$OUT/masksam-train.log" | grep -v '^\s*[0-9]*%' || true
$SAMADAPT predict --run "$OUT/masksam-run" --input "$DS/imagesTs" --out "$OUT/masksam-pred" --threads "$THREADS" --tta "${MASKSAM_TTA:-none}"
$SAMADAPT evaluate --pred "$OUT/masksam-pred" --gt "$DS/labelsTs" --names "$DS" --out "$OUT/masksam-report.json" --markdown "$OUT/masksam-report.md"
# with a pixel head (the tiny preset's default), each map alone too (predict --masksam-output): docs/methods/masksam.md, "Pixel head"
if grep -q '"pixel_head":true' "$OUT/masksam-run/config.yaml"; then
  for MAP in mask-classification pixel-head; do
    rm -rf "$OUT/masksam-pred-$MAP"
    $SAMADAPT predict --run "$OUT/masksam-run" --input "$DS/imagesTs" --out "$OUT/masksam-pred-$MAP" --threads "$THREADS" --masksam-output "$MAP" > /dev/null
    $SAMADAPT evaluate --pred "$OUT/masksam-pred-$MAP" --gt "$DS/labelsTs" --names "$DS" --out "$OUT/masksam-report-$MAP.json" \
      --markdown "$OUT/masksam-report-$MAP.md" > /dev/null
  done
fi
echo "== MA-SAM (demo) =="
grep -iE "mean|Dice" "$OUT/ma-sam.log" | tail -5 || true
echo "== MaskSAM =="
cat "$OUT/masksam-report.md"
for MAP in mask-classification pixel-head; do
  [ -f "$OUT/masksam-report-$MAP.md" ] && echo "$MAP alone: $(grep -F '**Mean**' "$OUT/masksam-report-$MAP.md")"
done
grep -E "slices/s|parameters|Elapsed|Maximum resident" "$OUT/masksam-train.log" | tail -8 || true
uptime
