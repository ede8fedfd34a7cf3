#!/bin/sh
# A stand-in for a container runtime the test machine cannot run (apptainer
# and singularity are not in Debian 12; podman's containers fail in this
# sandbox): it records its argv, one word per line, to $STAND_IN_LOG, then
# runs the command that follows the image on the host, as the real runtime
# would run it inside the image. Installed under the runtime's name.
log=${STAND_IN_LOG:?}
for word in "$0" "$@"; do printf '%s\n' "$word"; done > "$log"
echo "--end--" >> "$log"
# Skip the runtime's own words up to and including the image.
case "$(basename "$0")" in
  podman) shift 2 ;;    # run --rm
  *) shift ;;           # exec
esac
while [ $# -gt 0 ]; do
  case "$1" in
    --nv) shift ;;
    --bind|-v|--device) shift 2 ;;
    --rootfs) shift 2; break ;;
    --*) shift ;;
    *) shift; break ;;  # the image
  esac
done
exec "$@"
