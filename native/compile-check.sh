#!/usr/bin/env bash
# Compile check of the libtorch bridge against libtorch 2.x and CUDA without a GPU: every native/src/*.cpp is compiled to
# an object (no link) twice, against Debian trixie's headers:
#   cpu  : libtorch-dev 2.6 + libgloo-dev                                  (the CPU build of a libtorch 2.x)
#   cuda : libtorch-cuda-dev 2.6 + nvidia-cuda-dev 12.4 + libnccl-dev + libgloo-dev, with SAMADAPT_WITH_CUDA and
#          SAMADAPT_WITH_NCCL defined                                       (the GPU machine's build)
# The .deb files are fetched with `apt-get download` from a private sources list (its own lists and cache folders
# under a temporary directory: the system's apt state is not touched, nothing is installed) and only their
# usr/include trees are unpacked (dpkg-deb) into the cache folder, which later runs reuse:
#   SAMADAPT_HEADERS_CACHE (default: ${XDG_CACHE_HOME:-~/.cache}/samadapt/trixie-headers)
# A run whose sources, headers and flags match the last passing run is skipped (stamp file in the cache).
# Exit status: 0 all objects compiled; 1 a compile error (the compiler's output is shown); 3 the headers could not be
# fetched (offline and not cached): the check fails loudly instead of passing without having compiled anything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SAMADAPT_HEADERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/samadapt/trixie-headers}"
SUITE="${SAMADAPT_HEADERS_SUITE:-trixie}"
MIRROR="${SAMADAPT_HEADERS_MIRROR:-http://deb.debian.org/debian}"
JOBS="${SAMADAPT_COMPILE_JOBS:-$(nproc)}"
CPU_PACKAGES=(libtorch-dev libgloo-dev)
# libcu++-dev: cuda_fp16.h includes <nv/target>
CUDA_PACKAGES=(libtorch-cuda-dev nvidia-cuda-dev libcu++-dev libnccl-dev libgloo-dev)
VARIANTS="${SAMADAPT_COMPILE_VARIANTS:-cpu cuda}"

log() { printf '[compile-check] %s\n' "$*" >&2; }

# ---- headers: fetch + unpack the packages not yet in the cache ----
fetch_headers() {
  local want=() p
  for p in $(printf '%s\n' "$@" | sort -u); do [ -f "$CACHE/pkg/$p/.unpacked" ] || want+=("$p"); done
  ((${#want[@]})) || return 0
  local tmp
  tmp="$(mktemp -d)"
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/parts" "$tmp/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main contrib non-free" >"$tmp/sources.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=$tmp/parts"
                  -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o "Debug::NoLocking=1"
                  -o "APT::Sandbox::User=root" -q)
  log "fetching ${want[*]} ($SUITE headers; once, then cached in $CACHE)"
  if ! apt-get "${apt_opts[@]}" update >"$tmp/apt.log" 2>&1 ||
     ! (cd "$tmp/debs" && apt-get "${apt_opts[@]}" download "${want[@]}" >>"$tmp/apt.log" 2>&1); then
    tail -n 5 "$tmp/apt.log" >&2
    log "ERROR: could not download ${want[*]} from $MIRROR ($SUITE): the compile check needs these headers once" \
        "(network access to the Debian mirror, or a filled cache at $CACHE); nothing was compiled"
    rm -rf "$tmp"
    exit 3
  fi
  for p in "${want[@]}"; do
    local deb
    deb="$(ls "$tmp/debs/${p}_"*.deb)"
    rm -rf "$CACHE/pkg/$p"
    mkdir -p "$CACHE/pkg/$p"
    # only the headers: nvidia-cuda-dev is ~0.9 GB of static libraries around 16 MB of headers
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$CACHE/pkg/$p" --wildcards './usr/include/*'
    dpkg-deb -f "$deb" Version >"$CACHE/pkg/$p/.unpacked"
    log "  $p $(cat "$CACHE/pkg/$p/.unpacked")"
  done
  rm -rf "$tmp"
}

# ---- compile one variant ----
# compile_variant NAME "DEFINES" PACKAGES...
compile_variant() {
  local name="$1" defines="$2"
  shift 2
  local inc=() p
  for p in "$@"; do inc+=(-I "$CACHE/pkg/$p/usr/include"); done
  local torch_root="$CACHE/pkg/$1/usr/include"
  inc+=(-I "$torch_root/torch/csrc/api/include" -I "$ROOT/native/include")
  local out="$CACHE/obj/$name"
  rm -rf "$out"
  mkdir -p "$out"
  local flags=(-std=c++17 -O0 -fPIC -w -D_GLIBCXX_USE_CXX11_ABI=1 $defines "${inc[@]}")
  log "$name: $(cat "$CACHE/pkg/$1/.unpacked") ($defines)"
  local src base failed=0
  # each compile records its exit status in NAME.rc; at most $JOBS run at once
  for src in "$ROOT"/native/src/*.cpp; do
    base="$(basename "$src" .cpp)"
    (g++ "${flags[@]}" -c "$src" -o "$out/$base.o" >"$out/$base.log" 2>&1; echo $? >"$out/$base.rc") &
    while (($(jobs -rp | wc -l) >= JOBS)); do sleep 0.2; done
  done
  wait
  for src in "$ROOT"/native/src/*.cpp; do
    base="$(basename "$src" .cpp)"
    if [ "$(cat "$out/$base.rc" 2>/dev/null)" != 0 ] || [ ! -s "$out/$base.o" ]; then
      failed=1
      log "$name: FAILED $base.cpp"
      head -n 40 "$out/$base.log" >&2
    fi
  done
  return "$failed"
}

main() {
  command -v g++ >/dev/null || { log "ERROR: g++ not found"; exit 3; }
  fetch_headers "${CPU_PACKAGES[@]}" "${CUDA_PACKAGES[@]}"
  # skip when nothing that affects the result changed since the last passing run
  local key
  key="$({ cat "$ROOT"/native/src/* "$ROOT"/native/include/* "${BASH_SOURCE[0]}"; cat "$CACHE"/pkg/*/.unpacked; g++ --version; } | sha256sum | cut -c1-16)"
  if [ -f "$CACHE/passed-$key" ] && [ "${SAMADAPT_COMPILE_CHECK_FORCE:-0}" != 1 ]; then
    log "bridge sources unchanged since the last passing check (libtorch 2.6 cpu + cuda): ok"
    return 0
  fi
  local rc=0
  case " $VARIANTS " in *" cpu "*) compile_variant cpu "" "${CPU_PACKAGES[@]}" || rc=1 ;; esac
  case " $VARIANTS " in *" cuda "*) compile_variant cuda "-DSAMADAPT_WITH_CUDA=1 -DSAMADAPT_WITH_NCCL=1" "${CUDA_PACKAGES[@]}" || rc=1 ;; esac
  if [ "$rc" = 0 ] && [ "$VARIANTS" = "cpu cuda" ]; then
    rm -f "$CACHE"/passed-*
    touch "$CACHE/passed-$key"
    log "every bridge source compiled against libtorch 2.6 (cpu and cuda variants)"
  else
    log "ERROR: the bridge does not compile against libtorch 2.6 (see above)"
  fi
  return "$rc"
}

main "$@"
