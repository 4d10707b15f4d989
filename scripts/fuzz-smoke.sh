#!/usr/bin/env bash
# Fuzz smoke: build every cargo-fuzz target and run each for FUZZ_SECONDS (default 30) from the
# committed corpus. Works on stable through RUSTC_BOOTSTRAP=1; installs cargo-fuzz if absent.
# New inputs go to a scratch directory, so the committed corpus stays as it is.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-30}"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${HOME}/.cache/ferromq/fuzz-target}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

targets=$(cargo fuzz list)
cargo fuzz build --release --debug-assertions >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
total_runs=0
for t in $targets; do
  mkdir -p "$scratch/$t" "corpus/$t"
  log="$scratch/$t.log"
  if ! cargo fuzz run --release --debug-assertions "$t" "$scratch/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=64 >"$log" 2>&1; then
    echo "fuzz-smoke: target $t FAILED"; tail -n 60 "$log"; exit 1
  fi
  runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' | tail -n 1 || true)
  echo "fuzz-smoke: $t ok, ${runs:-?} executions in ${seconds}s"
  total_runs=$((total_runs + ${runs:-0}))
done
echo "fuzz-smoke: all targets ok, $total_runs executions in total"
