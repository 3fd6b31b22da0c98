#!/usr/bin/env bash
# CPU benchmarks: C# through the bridge vs Debian's python3-torch (same libtorch 1.13), same thread count.
#   bench/run.sh [dispatch|matmul|all] [threads]
#   bench/run.sh sam [threads] [warmup] [repeats] [rounds]
#       SAM vit_b at 1024 (random weights written to bench/.work as a .pth), one image + 10 prompts: encoder and decoder time
#       separately, min of repeats (default 1 warm-up + 3 timed). Python runs bench/python/sam_reference.py and first checks that
#       it computes what C# computes. rounds > 1 alternates C# and Python runs (fairer on a machine whose load changes); the
#       table shows each side's minimum.
#   bench/run.sh encoder [threads] [warmup] [repeats] [profile] [block=ELEMENTS]
#       The vit_b image encoder alone (C# only; the sam mode must have run once for the weights and the image), checked against
#       the embedding the sam mode saved; "profile" adds time per op; block= sets the attention's logits block (0: all at once).
#   bench/run.sh click [threads] [clicks]
#       Interactive-click latency: one vit_b decoder call through PromptedPredictor on a cached 1024² embedding (min, median, p95).
#   bench/run.sh train-step [threads] [demo|vitb512] [warmup] [steps] [profile]
#       One MA-SAM training step (forward, loss, backward, AdamW) on random data: "demo" is the demo's configuration (tiny
#       preset, 128², batch 2 × 5 slices), "vitb512" MA-SAM on vit_b at 512² (batch 1 × 5 slices). C# only. Reports the best
#       step's wall time, its CPU time and slices/s; "profile" adds time per op (by CPU time at 1 thread). The same table is
#       printed by any training run with SAMADAPT_PROFILE=1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WHICH="${1:-all}"
THREADS="${2:-$(nproc)}"
./build.sh deps >/dev/null
./build.sh native >/dev/null 2>&1
dotnet build bench/SamAdapt.Bench -c Release -nologo -v quiet >/dev/null
OUT="$(mktemp)"
if [ "$WHICH" = encoder ]; then
  dotnet bench/SamAdapt.Bench/bin/Release/net10.0/SamAdapt.Bench.dll encoder "$THREADS" "$ROOT/bench/.work" "${3:-1}" "${4:-3}" ${5:-} ${6:-}
  rm -f "$OUT"
  exit 0
fi
if [ "$WHICH" = click ]; then
  dotnet bench/SamAdapt.Bench/bin/Release/net10.0/SamAdapt.Bench.dll click "$THREADS" "$ROOT/bench/.work" "${3:-30}"
  rm -f "$OUT"
  exit 0
fi
if [ "$WHICH" = train-step ]; then
  dotnet bench/SamAdapt.Bench/bin/Release/net10.0/SamAdapt.Bench.dll train-step "$THREADS" "${3:-demo}" "${4:-2}" "${5:-5}" ${6:-}
  rm -f "$OUT"
  exit 0
fi
if [ "$WHICH" = sam ]; then
  WORK="$ROOT/bench/.work"
  for ((round = 0; round < ${5:-1}; round++)); do
    dotnet bench/SamAdapt.Bench/bin/Release/net10.0/SamAdapt.Bench.dll sam "$THREADS" "$WORK" "${3:-1}" "${4:-3}" >>"$OUT"
    /usr/bin/python3 bench/python/sam_bench.py "$THREADS" "$WORK" "${3:-1}" "${4:-3}" >>"$OUT"
  done
else
  dotnet bench/SamAdapt.Bench/bin/Release/net10.0/SamAdapt.Bench.dll "$WHICH" "$THREADS" >>"$OUT"
  /usr/bin/python3 bench/python/dispatch.py "$WHICH" "$THREADS" >>"$OUT"
fi
/usr/bin/python3 - "$OUT" "$THREADS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
by = {}
for r in rows:
    d = by.setdefault(r["bench"], {})
    old = d.get(r["lang"])
    # repeated rounds: keep the best (lowest time, highest throughput)
    better = old is None or (r["value"] < old["value"] if r["unit"].startswith(("us", "ms")) else r["value"] > old["value"])
    if better:
        d[r["lang"]] = r
print(f"threads: {sys.argv[2]}")
print(f"{'benchmark':<22}{'C#':>12}{'Python':>12}{'C#/Python':>12}  unit")
for name, d in by.items():
    c, p = d.get("csharp"), d.get("python")
    unit = (c or p)["unit"]
    ratio = ""
    if c and p:
        # for times lower is better (ratio = C#/Python); for throughput higher is better (ratio = Python/C#)
        ratio = f"{c['value'] / p['value']:.2f}" if unit.startswith(("us", "ms")) else f"{p['value'] / c['value']:.2f}"
    fmt = lambda r: f"{r['value']:.3f}" if r else "-"
    print(f"{name:<22}{fmt(c):>12}{fmt(p):>12}{ratio:>12}  {unit}")
PY
rm -f "$OUT"
