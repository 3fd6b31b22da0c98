#!/usr/bin/env bash
# GPU checks for a CUDA machine that has PyTorch but no .NET (like the project's H100 machine).
#
#   tests/gpu/gpu-check.sh prepare   # here (with .NET): self-contained publish of the checks into .device/gpucheck
#   tests/gpu/gpu-check.sh run       # there: build the bridge against that PyTorch's libtorch, run the checks
#
# With the workplace's device tool: prepare, then run `tests/gpu/gpu-check.sh run` carrying `.device`.
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
    .device/gpucheck/SamAdapt.GpuChecks
    ;;
  *) echo "usage: tests/gpu/gpu-check.sh prepare|run" >&2; exit 2 ;;
esac
