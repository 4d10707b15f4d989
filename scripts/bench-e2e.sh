#!/usr/bin/env bash
# End-to-end figures of docs/benchmarks.md in one run against one fresh `ferromq standalone`:
# loopback RTT baselines (blocking, and both sides busy-polling up to 100 us like FerroMQ's
# connections; before and after), the pipelined loopback floor of the async figure (256 in
# flight, 1,370-byte request and 298-byte reply frames: what a 1 KiB SEND_MESSAGE_V2 and its
# response take on the wire; before and after), sync sends with 1 and 64 in flight, async sends with
# 256 in flight (JSON headers, then ROCKETMQ binary headers), then catch-up consumption of a 200k-message backlog with 1 and with 4 pulls in
# flight per queue. Prints one JSON summary line per figure.
#
#   scripts/bench-e2e.sh [path/to/ferromq]    (default: builds and uses the release binary)
#   IO_THREADS=1 scripts/bench-e2e.sh ...      (broker runtime threads; default one per CPU)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-}"
if [[ -z "$bin" ]]; then
  target="${CARGO_TARGET_DIR:-$root/target}"
  (cd "$root" && cargo build --release -p ferromq-cli >&2)
  bin="$target/release/ferromq"
fi
# shellcheck source=lib/standalone.sh
source "$root/scripts/lib/standalone.sh"
start_standalone "$bin" ferromq-e2e
ns=127.0.0.1:19876
echo "load: $(uptime)"
echo "broker runtime threads: ${IO_THREADS:-one per CPU ($(nproc))}"
echo "rtt: $("$bin" bench rtt --count 20000 --json 2>/dev/null)"
echo "rtt: $("$bin" bench rtt --count 20000 --busy-poll-us 100 --json 2>/dev/null)"
floor=(bench rtt --in-flight 256 --size 1366 --reply-size 294 --count 1000000 --json)
echo "rtt: $("$bin" "${floor[@]}" 2>/dev/null)"
for args in "--in-flight 1" "--in-flight 64" "--mode async --in-flight 256" "--mode async --in-flight 256 --header rocketmq"; do
  # shellcheck disable=SC2086
  echo "producer $args: $("$bin" bench producer -n $ns -t B1 $args --duration 6 --json 2>/dev/null)"
done
echo "rtt: $("$bin" bench rtt --count 20000 --json 2>/dev/null)"
echo "rtt: $("$bin" bench rtt --count 20000 --busy-poll-us 100 --json 2>/dev/null)"
echo "rtt: $("$bin" "${floor[@]}" 2>/dev/null)"
"$bin" bench producer -n $ns -t C1 --mode async --in-flight 256 --count 200000 --json > /dev/null 2>&1
echo "consumer, 1 pull in flight per queue: $("$bin" bench consumer -n $ns -t C1 --group g1 --from-beginning --count 200000 --json 2>/dev/null)"
echo "consumer, 4 pulls in flight per queue: $("$bin" bench consumer -n $ns -t C1 --group g4 --from-beginning --count 200000 --pipeline 4 --json 2>/dev/null)"
echo "load: $(uptime)"
