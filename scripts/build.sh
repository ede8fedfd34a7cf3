#!/usr/bin/env bash
# Configures and builds Cadenza into ./build (Ninja, ccache when present, -j2
# by default: LibTorch translation units need ~1 GB of memory each).
# Usage: scripts/build.sh [target...]   (default: everything, tests included;
#        "runtime" is the binary and the bundled plugins only)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${CADENZA_BUILD_JOBS:-2}"
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build -j "$jobs" "${targets[@]}"
