#!/usr/bin/env bash
# Builds Cadenza's runtime container image from Debian 12 packages alone (no
# registry): a root file system made by mmdebstrap with the libraries Cadenza
# and its plugins need, the installed Cadenza added under --prefix, written
# out as a directory image, a SquashFS file and a Docker archive.
#
# Usage: scripts/build-image.sh [--out DIR] [--minimal] [--formats dir,squashfs,docker]
#                               [--prefix /opt/cadenza] [--mount-point PATH]... [--no-cadenza]
#   --out DIR          where the image goes (default build/image): DIR/rootfs/,
#                      DIR/cadenza.sqfs, DIR/cadenza-docker.tar
#   --minimal          only what stages without LibTorch need (the tests' image)
#   --prefix P         where Cadenza is installed inside (use the prefix of the
#                      host's install: the job specs name the same paths)
#   --mount-point P    create directory P in the image: Charliecloud can mount the
#                      workspace, cache or a host Cadenza only onto a directory the
#                      image has (repeatable; /work, /scratch, /data are always made)
#   --no-cadenza       leave Cadenza out (stages bind the host's: container.cadenza = "host")
#
# A cluster user turns the Docker archive into a .sif with
#   apptainer build cadenza.sif docker-archive://cadenza-docker.tar
# Needs root (mmdebstrap --mode=root) and Debian's package mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/image minimal=0 formats=dir,squashfs,docker prefix=/opt/cadenza cadenza=1
mounts=(/work /scratch /data)
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift ;;
    --minimal) minimal=1 ;;
    --formats) formats=$2; shift ;;
    --prefix) prefix=$2; shift ;;
    --mount-point) mounts+=("$2"); shift ;;
    --no-cadenza) cadenza=0 ;;
    *) echo "build-image.sh: unknown option '$1' (see the usage at the top of the script)" >&2; exit 2 ;;
  esac
  shift
done
for tool in mmdebstrap mksquashfs podman; do
  case "$tool,$formats" in
    mksquashfs,*squashfs*|podman,*docker*|mmdebstrap,*) command -v "$tool" >/dev/null ||
      { echo "build-image.sh: $tool is missing: scripts/setup-deps.sh --with-containers (podman: --with-bench) installs it" >&2; exit 1; } ;;
  esac
done

# libyaml-cpp: the cadenza binary reads params.yaml files with it (bound in from the host, or the image's own);
# libsndfile1 and libpcre2-8-0: stage_shell reads a script's audio clips and matches its output lines
packages=ca-certificates,libyaml-cpp0.7,libsndfile1,libpcre2-8-0
[ "$minimal" = 1 ] || packages+=",libtorch1.13,libopenblas0-pthread"
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/rootfs.tmp"
mmdebstrap --quiet --mode=root --variant=minbase --include="$packages" bookworm "$out/rootfs.tmp"
for m in "${mounts[@]}"; do mkdir -p "$out/rootfs.tmp/${m#/}"; done
# What the image is, readable inside it (and a file no host has).
printf 'cadenza runtime image: debian bookworm, %s\npackages: %s\n' \
  "$([ "$minimal" = 1 ] && echo minimal || echo full)" "$packages" > "$out/rootfs.tmp/etc/cadenza-image"
if [ "$cadenza" = 1 ]; then
  [ -f build/build.ninja ] || scripts/build.sh runtime
  DESTDIR="$out/rootfs.tmp" cmake --install build --prefix "$prefix" >/dev/null
fi
rm -rf "$out/rootfs"
mv "$out/rootfs.tmp" "$out/rootfs"
case "$formats" in *squashfs*)
  mksquashfs "$out/rootfs" "$out/cadenza.sqfs.tmp" -noappend -quiet -comp zstd
  mv "$out/cadenza.sqfs.tmp" "$out/cadenza.sqfs" ;;
esac
case "$formats" in *docker*)
  tar -C "$out/rootfs" -c . | podman import - cadenza:local >/dev/null
  podman save --format docker-archive -o "$out/cadenza-docker.tar.tmp" cadenza:local >/dev/null
  mv "$out/cadenza-docker.tar.tmp" "$out/cadenza-docker.tar" ;;
esac
made="$out/rootfs"
[ "$cadenza" = 1 ] && made+=" (Cadenza under $prefix)"
case "$formats" in *squashfs*) made+=", $out/cadenza.sqfs" ;; esac
case "$formats" in *docker*) made+=", $out/cadenza-docker.tar" ;; esac
echo "build-image.sh: $made"
