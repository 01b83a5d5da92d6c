#!/usr/bin/env bash
# Launch -> first HTTP 200 of a server, N times (default 11), with peers.sh's own timer
# (../shared/bench-peers/lib/startup.js, polls every 2 ms); prints the median, min and max.
# Usage: N=15 PORT=8199 bash bench/startup.sh CMD...   (the server must listen on 127.0.0.1:$PORT)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
timer=${STARTUP_JS:-$root/../shared/bench-peers/lib/startup.js}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for _ in $(seq 1 "${N:-11}"); do
  out=$(node "$timer" "http://127.0.0.1:${PORT:-8199}/" "$log" 10000 -- "$@")
  pid=${out#* }
  echo "${out% *}"
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
done | sort -g | awk '{ a[NR] = $1 } END { printf "median %s ms, min %s, max %s (%d runs)\n", a[int((NR + 1) / 2)], a[1], a[NR], NR }'
