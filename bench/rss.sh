#!/usr/bin/env bash
# RSS of each process of a server 1 s after its first 200 (SETTLE seconds), then TERM.
# Usage: PORT=8199 bash bench/rss.sh CMD...   e.g.
#   bash bench/rss.sh node dist/prodserver-runtime.mjs serve --bind 127.0.0.1:8199 --workers 2 bench/apps/hello.mjs
set -euo pipefail
port=${PORT:-8199}
"$@" >/dev/null 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 500); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.01; done
sleep "${SETTLE:-1}"
pids=$pid
for c in $(pgrep -P "$pid" || true); do pids="$pids,$c"; done
ps -o pid=,rss=,args= -p "$pids" | awk '{ s += $2; printf "%7d %7.1f MiB  %s %s %s\n", $1, $2 / 1024, $3, $4, $5 } END { printf "total %.1f MiB\n", s / 1024 }'
