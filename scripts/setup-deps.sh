#!/usr/bin/env bash
# Installs the Debian 12 packages Cadenza needs to build, test and run its example.
# Idempotent: only missing packages are installed, so a warm machine pays nothing.
# Usage: scripts/setup-deps.sh [--with-ml] [--with-bench] [--with-slurm] [--with-containers] [--with-fuzz] [--with-ssh]
#                              [--with-onnxruntime]
#   --with-ml     LibTorch (the training plugins) and OpenBLAS: Debian's
#                 LibTorch calls whatever libblas.so.3 is selected, and the
#                 reference BLAS is ~10x slower for these models. libonnx-dev:
#                 ONNX's protobuf definitions and checker, for model.onnx.
#                 python3-torch: PyTorch for /usr/bin/python3, for the Python
#                 example (examples/python) and its tests.
set -euo pipefail

base=(g++ make cmake ninja-build pkgconf ccache
      libboost-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
      libgtest-dev libgmock-dev libxxhash-dev libsndfile1-dev libyaml-cpp-dev libpcre2-dev python3 python3-yaml git)
ml=(libtorch-dev libopenblas0-pthread libonnx-dev python3-torch)
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
# ONNX Runtime, to check model.onnx (scripts/onnxruntime): Debian packages no ONNX
# Runtime, so it comes from npm (onnxruntime-node ships its CPU binaries in
# the package), pinned by scripts/onnxruntime/package-lock.json. Node.js and npm come
# from Debian when the machine has no node.
onnxruntime=0

want=("${base[@]}")
for arg in "$@"; do
  case "$arg" in
    --with-ml) want+=("${ml[@]}") ;;
    --with-bench) want+=("${bench[@]}") ;;
    --with-slurm) want+=("${slurm[@]}") ;;
    --with-containers) want+=("${containers[@]}") ;;
    --with-fuzz) want+=("${fuzz[@]}") ;;
    --with-ssh) want+=("${ssh[@]}") ;;
    --with-onnxruntime) onnxruntime=1; command -v node >/dev/null && command -v npm >/dev/null || want+=(nodejs npm) ;;
    *) echo "setup-deps.sh: unknown option '$arg' (known: --with-ml --with-bench --with-slurm --with-containers --with-fuzz --with-ssh --with-onnxruntime)" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-deps.sh: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$onnxruntime" = 1 ]; then
  onnx_dir="$(cd "$(dirname "$0")/onnxruntime" && pwd)"
  # --ignore-scripts: the package's install script only fetches optional GPU
  # binaries from a host outside the npm registry (and fails without it).
  if ! (cd "$onnx_dir" && node -e "require('onnxruntime-node')" 2>/dev/null); then
    echo "setup-deps.sh: installing onnxruntime-node (npm) into scripts/onnxruntime/node_modules"
    (cd "$onnx_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
