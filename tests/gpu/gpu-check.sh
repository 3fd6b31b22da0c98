#!/usr/bin/env bash
# GPU checks for a CUDA machine that has PyTorch but no .NET (like the project's H100 machine).
#
#   tests/gpu/gpu-check.sh prepare   # here (with .NET): self-contained publish of the checks into .device/gpucheck
#   tests/gpu/gpu-check.sh run       # there: build the bridge against that PyTorch's libtorch, run the checks
#
# With the workplace's device tool: prepare, then run `tests/gpu/gpu-check.sh run` carrying `.device`.
# Checks (tests/SamAdapt.GpuChecks): CUDA vs CPU parity of ops, SAM vit_b and each method's forward + train step; the
# fused attention (libtorch 2.x) vs the reference form; bf16 MA-SAM vit_b 512² training slices/s and peak memory with and
# without gradient checkpointing; SAM vit_b encoder images/s at batch 1 and 8, fp32 and bf16; with two GPUs, a
# 2-process NCCL run (broadcast, bucketed all-reduce, all-reduce bandwidth).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
case "${1:-}" in
  prepare)
    rm -rf .device/gpucheck
    dotnet publish tests/SamAdapt.GpuChecks -c Release -r linux-x64 --self-contained \
      -p:PublishTrimmed=true -p:TreatWarningsAsErrors=false -o .device/gpucheck -nologo -v quiet
    du -sh .device/gpucheck
    ;;
  run)
    PY="${PYTHON:-python3}"
    TORCH_DIR="$("$PY" -c 'import torch, os; print(os.path.dirname(torch.__file__))')"
    echo "PyTorch at $TORCH_DIR ($("$PY" -c 'import torch; print(torch.__version__)'))"
    cmake -S native -B build/native-cuda -DCMAKE_BUILD_TYPE=Release -DTORCH_DIR="$TORCH_DIR" \
      -DSAMADAPT_OUTPUT_DIR="$ROOT/build/native-cuda/lib" >/dev/null
    cmake --build build/native-cuda -j"$(nproc)" 2>&1 | grep -E "error|warning: .*deprecated" | head -20 || true
    test -f build/native-cuda/lib/libsamadapt_torch.so || { echo "bridge build failed"; exit 1; }
    export SAMADAPT_NATIVE_DIR="$ROOT/build/native-cuda/lib"
    export LD_LIBRARY_PATH="$TORCH_DIR/lib:${LD_LIBRARY_PATH:-}"
    chmod +x .device/gpucheck/SamAdapt.GpuChecks
    rc=0
    .device/gpucheck/SamAdapt.GpuChecks || rc=$?
    # two GPUs or more: one process per GPU joined by NCCL through the bridge (broadcast, bucketed all-reduce, bandwidth)
    GPUS="$("$PY" -c 'import torch; print(torch.cuda.device_count())')"
    if [ "$GPUS" -ge 2 ]; then
      PORT=$((29500 + RANDOM % 1000))
      pids=()
      for r in 0 1; do
        RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$PORT \
          timeout 300 .device/gpucheck/SamAdapt.GpuChecks nccl &
        pids+=($!)
      done
      for p in "${pids[@]}"; do wait "$p" || rc=1; done
    else
      echo "2-GPU NCCL check: not run ($GPUS GPU visible)"
    fi
    exit "$rc"
    ;;
  *) echo "usage: tests/gpu/gpu-check.sh prepare|run" >&2; exit 2 ;;
esac
