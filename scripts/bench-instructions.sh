#!/usr/bin/env bash
# User-space instructions per async SEND_MESSAGE_V2 (1 KiB body, 256 in flight, JSON headers) of
# the broker or of the load generator, counted under callgrind (Debian package valgrind). On this
# shared VM timings swing by tens of percent while instruction counts repeat to ~0.2 %, so this is
# the figure to compare two builds' CPU work by. Two runs (20,000 and 60,000 messages) each against
# a fresh `ferromq --io-threads 1 standalone`; the difference divided by 40,000 removes start-up
# and shutdown.
#
#   scripts/bench-instructions.sh path/to/ferromq broker|client [producer args]
#
# The producer args replace the default `--mode async --in-flight 256` (e.g. `--mode sync
# --batch 32 --in-flight 16` for batch sends; the message counts are multiples of 32).
#
# `broker`: the standalone runs under callgrind, the load generator natively; `client`: the other
# way round. The client's busy polling is off (`--busy-poll-us 0`) so that its count is work, not
# spinning; the broker keeps its defaults.
set -euo pipefail
bin="$(realpath "$1")"; side="$2"; shift 2
[[ "$side" == broker || "$side" == client ]] || { echo "usage: $0 BIN broker|client [producer args]" >&2; exit 2; }
load=("$@"); [[ ${#load[@]} -eq 0 ]] && load=(--mode async --in-flight 256)
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }

run() {
  local n="$1" dir srv total
  dir="$(mktemp -d /tmp/ferromq-icount.XXXXXX)"
  local grind=(valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out")
  local server=("$bin" --io-threads 1 standalone --data-dir "$dir/data" --namesrv-port 19876 --broker-port 20911)
  local producer=("$bin" bench producer -n 127.0.0.1:19876 -t B1 "${load[@]}"
    --busy-poll-us 0 --count "$n" --json)
  if [[ "$side" == broker ]]; then server=("${grind[@]}" "${server[@]}"); else producer=("${grind[@]}" "${producer[@]}"); fi
  "${server[@]}" > "$dir/standalone.out" 2> "$dir/standalone.err" &
  srv=$!
  for _ in $(seq 1 600); do
    grep -qs "standalone ready" "$dir/standalone.out" && break
    kill -0 "$srv" 2>/dev/null || { cat "$dir/standalone.err" >&2; exit 1; }
    sleep 0.1
  done
  if ! "${producer[@]}" > "$dir/producer.json" 2> "$dir/producer.err"; then
    kill -TERM "$srv" 2>/dev/null || true; cat "$dir/producer.err" >&2; exit 1
  fi
  kill -TERM "$srv"; wait "$srv" 2>/dev/null || true
  total="$(awk '/^(summary|totals):/ {print $2; exit}' "$dir/callgrind.out")"
  rm -rf "$dir"
  echo "$total"
}

small="$(run 20000)"
large="$(run 60000)"
echo "$side: $(( (large - small) / 40000 )) instructions per message ($small for 20,000, $large for 60,000)"
