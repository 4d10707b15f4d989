#!/usr/bin/env bash
# Buffered (`pwrite` + `fdatasync`) vs O_DIRECT (`pwrite` of the touched pages + `fdatasync`)
# group commits of ~150 KiB on a pre-written file (scripts/lib/direct-write.c says how). Needs a
# C compiler.
#
#   scripts/bench-direct-write.sh [DIR]    (a directory on the disk to test; default /tmp)
set -euo pipefail
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cc -O2 -o "$out/direct-write" "$(dirname "$0")/lib/direct-write.c"
"$out/direct-write" "${1:-/tmp}"
