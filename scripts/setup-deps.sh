#!/usr/bin/env bash
# Installs the Debian 12 packages Cadenza needs to build, test and run its example.
# Idempotent: only missing packages are installed, so a warm machine pays nothing.
# Usage: scripts/setup-deps.sh [--with-ml] [--with-bench] [--with-slurm] [--with-containers] [--with-fuzz] [--with-ssh]
#   --with-ml     LibTorch (the training plugins) and OpenBLAS: Debian's
#                 LibTorch calls whatever libblas.so.3 is selected, and the
#                 reference BLAS is ~10x slower for these models.
set -euo pipefail

base=(g++ make cmake ninja-build pkgconf ccache
      libboost-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
      libgtest-dev libgmock-dev libxxhash-dev libsndfile1-dev python3)
ml=(libtorch-dev libopenblas0-pthread)
bench=(hyperfine snakemake python3-torch podman xxhash)  # xxhash: xxhsum, the hashing anchor
slurm=(slurm-wlm munge)  # the SLURM test cluster (scripts/slurm-test-cluster.sh)
# Containers: Charliecloud runs the tests' images, mmdebstrap and SquashFS
# build them (scripts/build-image.sh); podman, for the image's Docker
# archive only, comes with --with-bench.
containers=(charliecloud-runtime mmdebstrap squashfs-tools)
# ssh remotes and `cadenza sync` run the user's OpenSSH and rsync; the tests
# also start a throw-away sshd (scripts/sshd-test-server.sh).
ssh=(openssh-client openssh-server rsync)
# The parser's fuzz target (tests/fuzz): clang with libFuzzer and the sanitizers' runtimes.
fuzz=(clang libclang-rt-14-dev)

want=("${base[@]}")
for arg in "$@"; do
  case "$arg" in
    --with-ml) want+=("${ml[@]}") ;;
    --with-bench) want+=("${bench[@]}") ;;
    --with-slurm) want+=("${slurm[@]}") ;;
    --with-containers) want+=("${containers[@]}") ;;
    --with-fuzz) want+=("${fuzz[@]}") ;;
    --with-ssh) want+=("${ssh[@]}") ;;
    *) echo "setup-deps.sh: unknown option '$arg' (known: --with-ml --with-bench --with-slurm --with-containers --with-fuzz --with-ssh)" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup-deps.sh: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
