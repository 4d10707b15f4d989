# Sourced by the bench scripts: `start_standalone BIN PREFIX` starts `BIN standalone` on
# 127.0.0.1:19876 (name server) / 20911 (broker) with a fresh data dir `$data` (mktemp, PREFIX),
# honouring IO_THREADS (broker runtime threads) and BROKER_CONF (a broker.conf passed with -c), waits until it is ready, sets `$broker` to its
# pid, and removes both on exit.
start_standalone() {
  local bin="$1"
  data="$(mktemp -d "/tmp/$2.XXXXXX")"
  "$bin" ${IO_THREADS:+--io-threads "$IO_THREADS"} standalone --data-dir "$data" --namesrv-port 19876 --broker-port 20911 ${BROKER_CONF:+-c "$BROKER_CONF"} > "$data/standalone.log" 2>&1 &
  broker=$!
  trap 'kill "$broker" 2>/dev/null || true; wait "$broker" 2>/dev/null || true; rm -rf "$data"' EXIT
  for _ in $(seq 1 300); do
    grep -q "standalone ready" "$data/standalone.log" && return 0
    kill -0 "$broker" 2>/dev/null || { cat "$data/standalone.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "standalone not ready after 30 s" >&2
  exit 1
}
