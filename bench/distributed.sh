#!/usr/bin/env bash
# Data-parallel scaling on the demo configuration (MA-SAM on the tiny from-scratch SAM, 128², 5-slice stacks, the
# Colin27/AAL demo dataset): the same training run as 1 process and as 2 processes (--nproc 2, Gloo over 127.0.0.1),
# with the same global batch and the same total number of CPU threads.
#   bench/distributed.sh [iterations=40] [global batch=4] [threads=$(nproc)]
# Prints slices/s of each (median of the per-iteration throughput after 5 warm-up iterations; also one process on
# one thread), the scaling (2-process over 1-process throughput), and the gradient all-reduce cost per step that rank 0
# reports.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ITERS="${1:-40}"
BATCH="${2:-4}"
THREADS="${3:-$(nproc)}"
WORK="$ROOT/bench/.work/distributed"
CLI="$ROOT/src/SamAdapt.Cli/bin/Release/net10.0/samadapt.dll"
./build.sh native >/dev/null 2>&1
dotnet build src/SamAdapt.Cli -c Release -nologo -v quiet >/dev/null
mkdir -p "$WORK"
DATA="$WORK/demo/Dataset900_Colin27AAL"
if [ ! -f "$DATA/dataset.json" ]; then
  # the demo builds its dataset first; one iteration is enough to get it
  dotnet "$CLI" demo --out "$WORK/demo" --iterations 1 >/dev/null 2>&1 || true
  DATA="$(dirname "$(find "$WORK/demo" -name dataset.json | head -n 1)")"
fi
[ -f "$DATA/dataset.json" ] || { echo "could not build the demo dataset in $WORK/demo" >&2; exit 1; }
COMMON=(train --dataset "$DATA" --method ma-sam --model tiny --slices 5 --intensity ct-window:0,255 --val-fraction 0.15
        --iterations "$ITERS" --batch "$BATCH" --lr 1e-3 --warmup 4 --poly-exp 1 --weight-decay 0.01
        --val-every 0 --checkpoint-every 0 --seed 1234)

median_sps() { # the median slices/s of iterations after the 5th
  awk -F, 'NR > 6 { print $6 }' "$1/train_log.csv" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

rm -rf "$WORK/run1" "$WORK/run1t1" "$WORK/run2"
SAMADAPT_NUM_THREADS="$THREADS" dotnet "$CLI" "${COMMON[@]}" --out "$WORK/run1" >"$WORK/run1.log" 2>&1
# a single thread too: on a loaded machine OpenMP's threads stall each other, which flatters the 2-process run
SAMADAPT_NUM_THREADS=1 dotnet "$CLI" "${COMMON[@]}" --out "$WORK/run1t1" >"$WORK/run1t1.log" 2>&1
# --nproc gives each worker threads/2 libtorch threads (the launcher splits the cores)
SAMADAPT_NUM_THREADS="$((THREADS / 2 > 0 ? THREADS / 2 : 1))" dotnet "$CLI" "${COMMON[@]}" --out "$WORK/run2" --nproc 2 >"$WORK/run2.log" 2>&1
s1="$(median_sps "$WORK/run1")"
s1t1="$(median_sps "$WORK/run1t1")"
s2="$(median_sps "$WORK/run2")"
reduce="$(grep -o 'gradient all-reduce over .*' "$WORK/run2.log" | tail -n 1)"
step2="$(awk -v s="$s2" -v b="$BATCH" 'BEGIN { printf "%.1f", 1000 * b * 5 / s }')"
python3 - "$s1" "$s2" "$THREADS" "$BATCH" "$ITERS" "$reduce" "$step2" "$s1t1" <<'PY'
import sys
s1, s2, threads, batch, iters, reduce, step2, s1t1 = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7], float(sys.argv[8])
print(f"demo configuration, global batch {batch} x 5 slices, {iters} iterations, {threads} CPU threads in all")
print(f"| processes | slices/s (median) | step (ms) |")
print(f"|---|---|---|")
print(f"| 1 ({threads} threads) | {s1:.1f} | {1000*int(batch)*5/s1:.0f} |")
print(f"| 1 (1 thread) | {s1t1:.1f} | {1000*int(batch)*5/s1t1:.0f} |")
print(f"| 2 (--nproc 2, Gloo, {max(1,int(threads)//2)} thread(s) each) | {s2:.1f} | {step2} |")
best = max(s1, s1t1)
print(f"scaling: 2-process throughput / best 1-process throughput = {s2/best:.2f} (ideal at equal cores: 1.0; 2 processes vs 1 single-thread process: {s2/s1t1:.2f}, ideal 2.0)")
print(reduce)
PY
