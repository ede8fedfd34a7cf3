#!/usr/bin/env bash
# README command 2: install what is missing, build, run every test.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh --with-ml --with-slurm --with-containers --with-fuzz --with-ssh
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

# The SLURM tests run against a real throw-away cluster on this host
# (munge, slurmctld, 3 slurmd), stopped by its pid files when we exit.
# It needs root; in CI a cluster that cannot start is a failure.
cleanup=()
trap 'for c in "${cleanup[@]}"; do $c; done' EXIT
if [ "$(id -u)" = 0 ]; then
  if cluster_env=$(scripts/slurm-test-cluster.sh start); then
    eval "$cluster_env"
    cleanup+=("$PWD/scripts/slurm-test-cluster.sh stop")
  elif [ "${CI:-}" = true ]; then
    echo "test.sh: the SLURM test cluster did not start" >&2
    exit 1
  else
    echo "*** test.sh: the SLURM test cluster did not start: SLURM tests are SKIPPED ***" >&2
  fi
else
  echo "*** test.sh: not root, so no SLURM test cluster: SLURM tests are SKIPPED ***" >&2
fi

# The ssh remote and sync tests log in to a throw-away sshd on 127.0.0.1
# (its own host and user keys), stopped by its pid file when we exit.
if [ "$(id -u)" = 0 ]; then
  if sshd_env=$(scripts/sshd-test-server.sh start); then
    eval "$sshd_env"
    cleanup+=("$PWD/scripts/sshd-test-server.sh stop")
  elif [ "${CI:-}" = true ]; then
    echo "test.sh: the test sshd did not start" >&2
    exit 1
  fi
fi
[ -n "${CADENZA_TEST_SSH_CONFIG:-}" ] || echo "*** test.sh: no test sshd: ssh tests are SKIPPED ***" >&2

cd build
ctest -j "${CADENZA_TEST_JOBS:-2}" --output-on-failure --timeout 600
