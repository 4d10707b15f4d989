#!/usr/bin/env bash
# CPU time, syscalls, context switches and page faults per message of the broker and of the
# load generator, measured with `perf stat` (Debian package linux-perf) over 3 s of a producer
# run against one fresh `ferromq standalone`, and the same CPU split into user and kernel time
# (utime / stime of /proc/PID/stat over the same 3 s; clock ticks, so coarser), and the broker's
# CPU per thread (/proc/PID/task/*/stat, threads grouped by name). Throughput on this 2-core
# machine is CPU-bound, so CPU per message is the figure to compare between two builds (run
# them alternately).
#
#   scripts/bench-cpu.sh path/to/ferromq [producer args]   (default: --mode async --in-flight 256)
#   IO_THREADS=1 scripts/bench-cpu.sh ...                   (broker runtime threads)
set -euo pipefail
bin="$1"; shift
args=("$@"); [[ ${#args[@]} -eq 0 ]] && args=(--mode async --in-flight 256)
command -v perf >/dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 1; }
# shellcheck source=lib/standalone.sh
source "$(dirname "$0")/lib/standalone.sh"
start_standalone "$bin" ferromq-cpu
"$bin" bench producer -n 127.0.0.1:19876 -t B1 "${args[@]}" --duration 6 --json > "$data/out" 2>/dev/null &
client=$!
sleep 2
events=raw_syscalls:sys_enter,context-switches,task-clock,page-faults
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
# One line per broker thread: name (spaces squeezed out) and user + kernel ticks.
thread_ticks() { for t in /proc/"$broker"/task/*; do echo "$(tr -d ' ' < "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"; done 2>/dev/null; }
ticks "$broker" > "$data/broker.ticks"; ticks "$client" > "$data/client.ticks"
thread_ticks > "$data/threads.0"
perf stat -e "$events" -p "$broker" -o "$data/broker.stat" -- sleep 3 &
perf_broker=$!
perf stat -e "$events" -p "$client" -o "$data/client.stat" -- sleep 3 &
perf_client=$!
wait "$perf_broker" "$perf_client"
ticks "$broker" >> "$data/broker.ticks"; ticks "$client" >> "$data/client.ticks"
thread_ticks > "$data/threads.1"
wait "$client"
python3 - "$data" "$(getconf CLK_TCK)" <<'PY'
import json, re, sys
d = sys.argv[1]
hz = float(sys.argv[2])
rate = json.load(open(d + "/out"))["msgs_per_sec"]
n = rate * 3
for name in ("broker", "client"):
    r = {}
    for line in open(f"{d}/{name}.stat"):
        m = re.match(r"\s*([\d,\.]+)\s+(msec\s+)?(\S+)", line)
        if m:
            r[m.group(3)] = float(m.group(1).replace(",", ""))
    (u0, s0), (u1, s1) = [map(int, line.split()) for line in open(f"{d}/{name}.ticks")]
    print(f"{name}: {rate:.0f} msg/s  syscalls/msg {r.get('raw_syscalls:sys_enter', 0) / n:.2f}  "
          f"ctxsw/msg {r.get('context-switches', 0) / n:.3f}  faults/msg {r.get('page-faults', 0) / n:.3f}  "
          f"cpu us/msg {r.get('task-clock', 0) * 1e3 / n:.1f}  "
          f"(user {(u1 - u0) / hz * 1e6 / n:.1f}, kernel {(s1 - s0) / hz * 1e6 / n:.1f})")
before, after = {}, {}
for path, into in ((f"{d}/threads.0", before), (f"{d}/threads.1", after)):
    for line in open(path):
        name, t = line.split()
        into[name] = into.get(name, 0) + int(t)
spent = sorted(((after[k] - before.get(k, 0), k) for k in after), reverse=True)
print("broker threads: " + ", ".join(
    f"{k} {t / hz / 3 * 100:.0f}% of a CPU ({t / hz * 1e6 / n:.2f} us/msg)" for t, k in spent if t > 0))
PY
