#!/usr/bin/env bash
# README command 2: install what is missing, build, run every test.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh --with-ml
scripts/build.sh
cd build
ctest -j "${CADENZA_TEST_JOBS:-2}" --output-on-failure --timeout 600
