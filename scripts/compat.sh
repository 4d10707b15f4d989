#!/usr/bin/env bash
# Real-client compatibility suite: builds the ferromq binary, then runs compat/ (an unmodified
# third-party client, rocketmq-client-rust 1.0.0) against `ferromq standalone`.
#
#   scripts/compat.sh [test-filter ...]      e.g. scripts/compat.sh offsets
#
# Env: CARGO_TARGET_DIR   target dir of the main build (default ~/.cache/ferromq/target)
#      COMPAT_TARGET_DIR  target dir of compat/ (default ~/.cache/ferromq/compat-target)
#      COMPAT_PROFILE     debug (default) or release build of the client suite
#      COMPAT_CLIENT_LOG  client log filter (default warn), e.g. info
# Exits non-zero if the build or any test fails; prints build and test wall times.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
main_target="${CARGO_TARGET_DIR:-$HOME/.cache/ferromq/target}"
compat_target="${COMPAT_TARGET_DIR:-$HOME/.cache/ferromq/compat-target}"
profile="${COMPAT_PROFILE:-debug}"
case "$profile" in
  debug) profile_flag=() ;;
  release) profile_flag=(--release) ;;
  *) echo "compat: COMPAT_PROFILE must be debug or release, not '$profile'" >&2; exit 2 ;;
esac

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

t0=$(now)
echo "compat: building ferromq (release) into $main_target"
(cd "$root" && CARGO_TARGET_DIR="$main_target" cargo build --release -p ferromq-cli)
bin="$main_target/release/ferromq"
[[ -x "$bin" ]] || { echo "compat: $bin missing after the build" >&2; exit 1; }
t1=$(now)

echo "compat: building the client suite ($profile) into $compat_target"
(cd "$root/compat" && CARGO_TARGET_DIR="$compat_target" cargo test "${profile_flag[@]}" --locked --no-run)
t2=$(now)

echo "compat: running the suite against $bin"
set +e
(cd "$root/compat" && FERROMQ_BIN="$bin" CARGO_TARGET_DIR="$compat_target" \
  cargo test "${profile_flag[@]}" --locked -- "$@")
rc=$?
set -e
t3=$(now)

echo "compat: ferromq build $(secs "$t0" "$t1")s, suite build $(secs "$t1" "$t2")s, suite run $(secs "$t2" "$t3")s, total $(secs "$t0" "$t3")s"
if [[ $rc -ne 0 ]]; then
  echo "compat: FAILED (cargo test exit $rc)" >&2
fi
exit $rc
