#!/usr/bin/env bash
# README command 2: install what is missing, build, run every test.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh --with-ml --with-slurm --with-containers --with-fuzz --with-ssh --with-onnxruntime
scripts/build.sh

# The container tests run stages through Charliecloud in a minimal image
# made by scripts/build-image.sh (Debian's packages, ~40 s; reused while the
# script is unchanged). It binds the host's Cadenza from build/, so the image
# gets that directory as a mount point. Needs root (mmdebstrap --mode=root).
if [ "$(id -u)" = 0 ]; then
  image=build/test-image stamp=$(sha256sum scripts/build-image.sh | cut -c1-16)
  if [ "$(cat "$image/stamp" 2>/dev/null)" != "$stamp" ]; then
    if scripts/build-image.sh --minimal --formats dir --no-cadenza --out "$image" --mount-point "$PWD/build"; then
      echo "$stamp" > "$image/stamp"
    elif [ "${CI:-}" = true ]; then
      echo "test.sh: the container test image could not be built" >&2
      exit 1
    fi
  fi
  [ -f "$image/stamp" ] && export CADENZA_TEST_IMAGE="$PWD/$image/rootfs"
fi
[ -n "${CADENZA_TEST_IMAGE:-}" ] || echo "*** test.sh: no container test image: Charliecloud tests are SKIPPED ***" >&2

cleanup=()
trap 'for c in "${cleanup[@]}"; do $c; done' EXIT
# start_service WHAT SCRIPT: runs `SCRIPT start`, evals the exports it
# prints, and stops it by its pid files when we exit. It needs root; in CI
# a service that cannot start is a failure, elsewhere its tests are skipped.
start_service() {
  local what="$1" script="$PWD/$2" env
  if [ "$(id -u)" != 0 ]; then
    echo "*** test.sh: not root, so no $what: its tests are SKIPPED ***" >&2
  elif env=$("$script" start); then
    eval "$env"
    cleanup+=("$script stop")
  elif [ "${CI:-}" = true ]; then
    echo "test.sh: the $what did not start" >&2
    exit 1
  else
    echo "*** test.sh: the $what did not start: its tests are SKIPPED ***" >&2
  fi
}
# The SLURM tests run against a real throw-away cluster on this host
# (munge, slurmctld, 3 slurmd).
start_service "SLURM test cluster" scripts/slurm-test-cluster.sh
# The ssh remote and sync tests log in to a throw-away sshd on 127.0.0.1
# (its own host and user keys).
start_service "test sshd" scripts/sshd-test-server.sh

cd build
ctest -j "${CADENZA_TEST_JOBS:-2}" --output-on-failure --timeout 600
