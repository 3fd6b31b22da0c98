#!/usr/bin/env bash
# MSA on the demo data (docs/benchmarks.md, "MSA"): build the Colin27/AAL dataset (as `samadapt demo` does), train MSA (tiny preset,
# from scratch, 2.5-D: each slice with its two neighbours as SAM's 3 input channels (--slices 3 --slices-as-channels), 3 per batch,
# no depth branch; the default training prompt mixture; no augmentation — the best setting of docs/methods/msa.md, "Accuracy on the
# demo data") for a wall-clock budget, then evaluate-prompted on the held-out slabs (box prompts clip to the box, the default).
#   bench/msa.sh [minutes] [threads] [out] [extra train options...]   (defaults: 10 minutes, all cores, bench/.work/msa;
#   MSA_NPROC (default 1) data-parallel processes of [threads] threads each, MSA_BATCH (default 3) the global batch)
# e.g. bench/msa.sh 10 2 /tmp/msa-bench --iterations 2600   (a fixed iteration count, still capped by the budget; 2,600 ≈ 10 idle minutes)
# Prints the training summary line with slices/s and the paper-style table (Dice per class per prompt setting, NoC@85/90).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MIN="${1:-10}"
THREADS="${2:-$(nproc)}"
OUT="${3:-$ROOT/bench/.work/msa}"
shift $(( $# < 3 ? $# : 3 ))
SAMADAPT="${SAMADAPT:-./samadapt}"   # e.g. "dotnet src/SamAdapt.Cli/bin/Release/net10.0/samadapt.dll" with SAMADAPT_NATIVE_DIR set
rm -rf "$OUT"
mkdir -p "$OUT"
# the dataset: `demo` builds it first; one MA-SAM iteration is the cheapest way to get it written
$SAMADAPT demo --iterations 1 --out "$OUT/demo" >/dev/null
DS="$OUT/demo/Dataset900_Colin27AAL"
INTENSITY="ct-window:0,255" # the demo's fixed window for the uint8 T1 template
uptime
/usr/bin/time -v $SAMADAPT train --dataset "$DS" --method msa --model tiny --slices 3 --slices-as-channels --time-budget "$MIN" --val-fraction 0 \
    --intensity "$INTENSITY" --augment none --batch "${MSA_BATCH:-3}" --seed 1234 --nproc "${MSA_NPROC:-1}" --threads "$THREADS" --out "$OUT/run" "$@" 2>"$OUT/train.err" | tee "$OUT/train.out"
grep -E "slices/s|Elapsed|Maximum resident" "$OUT/train.err" | tail -4 || true
# the held-out slabs as a labelled dataset
H="$OUT/heldout"
mkdir -p "$H/imagesTr" "$H/labelsTr"
cp "$DS/dataset.json" "$H/"
cp "$DS"/imagesTs/*.nii.gz "$H/imagesTr/"
cp "$DS"/labelsTs/*.nii.gz "$H/labelsTr/"
uptime
time $SAMADAPT evaluate-prompted --run "$OUT/run" --dataset "$H" --protocol 1pt,3pt,box0.5,box0.75,iterative:5 --seed 1234 \
    --out "$OUT/prompted.json" --csv "$OUT/prompted.csv" --markdown "$OUT/prompted.md"
