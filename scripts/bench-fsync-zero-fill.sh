#!/usr/bin/env bash
# Microseconds per `pwrite` of 145 KiB + `fdatasync` (a SYNC_FLUSH group commit at 256 in flight)
# on an idle disk and while another thread zero-fills fresh files with O_DIRECT writes, as the
# store's segment allocator does (scripts/lib/fsync-zero-fill.c says how). Needs a C compiler.
#
#   scripts/bench-fsync-zero-fill.sh [DIR]    (a directory on the disk to test; default /tmp)
set -euo pipefail
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cc -O2 -o "$out/fsync-zero-fill" "$(dirname "$0")/lib/fsync-zero-fill.c" -lpthread
"$out/fsync-zero-fill" "${1:-/tmp}"
