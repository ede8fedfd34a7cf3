#!/usr/bin/env bash
# README command 2: install what is missing, build, run every test.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh --with-ml --with-slurm
scripts/build.sh

# The SLURM tests run against a real throw-away cluster on this host
# (munge, slurmctld, 3 slurmd), stopped by its pid files when we exit.
# It needs root; in CI a cluster that cannot start is a failure.
if [ "$(id -u)" = 0 ]; then
  if cluster_env=$(scripts/slurm-test-cluster.sh start); then
    eval "$cluster_env"
    trap "$PWD/scripts/slurm-test-cluster.sh stop" EXIT
  elif [ "${CI:-}" = true ]; then
    echo "test.sh: the SLURM test cluster did not start" >&2
    exit 1
  else
    echo "*** test.sh: the SLURM test cluster did not start: SLURM tests are SKIPPED ***" >&2
  fi
else
  echo "*** test.sh: not root, so no SLURM test cluster: SLURM tests are SKIPPED ***" >&2
fi

cd build
ctest -j "${CADENZA_TEST_JOBS:-2}" --output-on-failure --timeout 600
