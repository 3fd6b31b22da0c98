#!/usr/bin/env bash
# `samadapt serve` benchmarks (results in docs/benchmarks.md, "Viewer"):
#   bench/serve.sh click [threads] [size] [repeats]
#       vit_b at 1024 (random weights): one slice embedded once, then the decoder call + mask at the slice's size for a
#       cached slice, the work of one click (1 point, 2 points, a box); percentiles over the repeats.
#   bench/serve.sh load [clients] [clicks] [threads]
#       the server on loopback with the sam-tiny fixture checkpoint; CLIENTS concurrent sessions each open a volume and send
#       CLICKS point prompts on random slices; round-trip and server-time percentiles of the clicks on cached slices.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
./build.sh deps >/dev/null
./build.sh native >/dev/null 2>&1
dotnet build bench/SamAdapt.ServeBench -c Release -nologo -v quiet >/dev/null
DLL=bench/SamAdapt.ServeBench/bin/Release/net10.0/SamAdapt.ServeBench.dll
case "${1:-click}" in
  click) shift || true; dotnet "$DLL" click "${1:-2}" "${2:-512}" "${3:-30}" ;;
  load) shift; dotnet "$DLL" load "$ROOT/../shared/fixtures/sam-tiny/checkpoint.pth" "${1:-8}" "${2:-50}" "${3:-2}" ;;
  *) echo "usage: bench/serve.sh click|load ..." >&2; exit 2 ;;
esac
