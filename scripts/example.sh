#!/usr/bin/env bash
# README command 1: install what is missing, build, run the example workflow.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh --with-ml
scripts/build.sh runtime
exec build/cadenza run workflow.toml "$@"
