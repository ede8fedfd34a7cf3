#!/usr/bin/env bash
# Builds the workflow-parser fuzz target (clang, libFuzzer, ASan, UBSan) in
# build/fuzz and runs it for SECONDS (default 60) from the seed corpus in
# tests/fuzz/corpus; what it learns stays in build/fuzz/corpus for the next
# run, and a crashing input is written to build/fuzz/crashes/ (exit 1).
# Usage: tests/fuzz/run.sh [seconds] [more libFuzzer flags, e.g. -jobs=2]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
shift || true
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S tests/fuzz -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" >/dev/null
cmake --build build/fuzz -j "${CADENZA_BUILD_JOBS:-2}"
mkdir -p build/fuzz/corpus build/fuzz/crashes
build/fuzz/workflow_parser_fuzz build/fuzz/corpus tests/fuzz/corpus \
  -dict=tests/fuzz/toml.dict -max_total_time="$seconds" -max_len=65536 -timeout=10 \
  -rss_limit_mb=2048 -artifact_prefix=build/fuzz/crashes/ -print_final_stats=1 "$@"
