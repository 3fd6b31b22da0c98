#!/usr/bin/env bash
# SamAdapt build entry point. Installs what it needs on a fresh Debian machine (apt packages, NuGet restore).
#   ./build.sh deps     install system packages that are missing (apt; sudo when not root)
#   ./build.sh native   build the native libraries into build/native (CMake; incremental)
#   ./build.sh web      install the page's npm packages (web/package-lock.json) and bundle it into src/SamAdapt.Server/wwwroot
#   ./build.sh build    deps + native + web + dotnet build (Release)
#   ./build.sh compile-check  compile the bridge against libtorch 2.6 headers, CPU and CUDA (native/compile-check.sh)
#   ./build.sh test     deps + native + compile-check + run every test project; ends with "N passed, N failed"
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

# Runtime and test dependencies (Debian bookworm names). Tests compare against python3-torch/numpy/pydicom and read
# real data from mricron-data and python3-pydicom's test files. libgloo-dev: headers of the Gloo library that libtorch's
# c10d process group is built on (native/src/distributed.cpp). chromium: the viewer's browser tests (docs/serve.md).
APT_PACKAGES=(
  libtorch-dev libgloo-dev libopenblas0-pthread cmake g++ make libstb-dev libgdcm-cil
  python3-torch python3-numpy python3-pydicom python3-pil mricron-data chromium
)

log() { printf '[build] %s\n' "$*" >&2; }

deps() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    local SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q >&2
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
  command -v dotnet >/dev/null || { log "the .NET 10 SDK (dotnet) is required and was not found on PATH"; exit 1; }
}

native() {
  local cfg=(-S native -B build/native-obj -DCMAKE_BUILD_TYPE=Release)
  if [ -n "${TORCH_DIR:-}" ]; then cfg+=(-DTORCH_DIR="$TORCH_DIR"); fi
  if [ ! -f build/native-obj/CMakeCache.txt ]; then
    log "configuring native libraries"
    cmake "${cfg[@]}" >/dev/null
  fi
  cmake --build build/native-obj -j"$(nproc)" >&2
}

# The viewer page (web/): npm packages from the lock file (installed again only when the lock changed), then esbuild
# bundles NiiVue and the page into the server's static folder. No CDN and no network at run time.
web() {
  command -v node >/dev/null && command -v npm >/dev/null || { log "Node.js and npm are required to build the viewer page (web/)"; exit 1; }
  if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    log "installing the page's npm packages (npm ci)"
    (cd web && npm ci --ignore-scripts --no-audit --no-fund >&2) # esbuild's binary comes as an optional package; no install scripts needed
  fi
  local out=src/SamAdapt.Server/wwwroot/index.html
  if [ ! -f "$out" ] || [ -n "$(find web/src web/index.html web/build.mjs web/package-lock.json -newer "$out" -print -quit)" ]; then
    (cd web && node build.mjs >&2)
  fi
}

build() {
  deps
  native
  web
  dotnet build SamAdapt.sln -c Release -nologo -v quiet >&2
}

run_tests() {
  deps
  native
  web
  # the libtorch 2.x / CUDA code paths of the bridge, compiled (not linked) against Debian trixie's headers; the
  # headers are downloaded once into a cache and an unchanged bridge is not recompiled
  native/compile-check.sh
  dotnet build SamAdapt.sln -c Release -nologo -v quiet >&2
  local log_file
  log_file="$(mktemp)"
  set +e
  # Test assemblies and classes run in parallel on CI's two cores: one intra-op libtorch thread per process avoids
  # OpenMP oversubscription (measured: millisecond stalls per small op when 2 threads contend).
  SAMADAPT_NUM_THREADS="${SAMADAPT_NUM_THREADS:-1}" dotnet test SamAdapt.sln -c Release --no-build -nologo "$@" 2>&1 | tee "$log_file"
  local rc=${PIPESTATUS[0]}
  set -e
  # one closing line over all test assemblies
  awk '/(Passed|Failed)!  ?- /{
         for (i = 1; i <= NF; i++) {
           if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1)
         }
       }
       END { gsub(",", "", p); printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log_file"
  rm -f "$log_file"
  return "$rc"
}

case "${1:-build}" in
  deps) deps ;;
  native) native ;;
  compile-check) native/compile-check.sh ;;
  web) web ;;
  build) build ;;
  test) shift; run_tests "$@" ;;
  *) echo "usage: ./build.sh [deps|native|web|build|compile-check|test]" >&2; exit 2 ;;
esac
