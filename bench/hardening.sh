#!/usr/bin/env bash
# The runtime under hostile traffic and faults (issue 11), for one build of the runtime bundle:
#   1. header flood: 1000 connections x ~795 KB of unfinished headers, 2 workers: RSS growth per
#      worker, a normal client's p50/p99 idle and during the flood (bench/header-flood.mjs)
#   2. timeout kills, --timeout 3: a SIGSTOPped worker and one blocked in execSync("sleep 30")
#      (bench/timeout-kill.mjs)
#   3. max_worker_memory 150M with a 5 MiB-per-request leak at 50 and 150 req/s: peak RSS
#      (bench/memory-overshoot.mjs)
#   4. stray errors under load: one worker, a throw in a timer and an unhandled rejection while 8
#      loops of requests run (bench/stray-errors.mjs)
#   5. launch -> first 200, 2 workers, beside node:cluster, interleaved (bench/startup-vs-cluster.sh)
# Usage: BUNDLE=dist/prodserver-runtime.mjs NODE=node bash bench/hardening.sh
# For the figures before a change, build the bundle of that commit apart:
#   git archive REV | tar -x -C /tmp/before && ln -s "$PWD/node_modules" /tmp/before/ &&
#   (cd /tmp/before && node runtime/bundle.mjs) && BUNDLE=/tmp/before/dist/prodserver-runtime.mjs bash bench/hardening.sh
# Everything runs on loopback, is bounded in time, and is stopped by PID at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
node=${NODE:-node}
bundle=$(realpath "${BUNDLE:-$root/dist/prodserver-runtime.mjs}")
port=18396
echo "# $bundle on $("$node" --version), $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo "## 1. header flood (1000 connections, 15 s)"
(cd "$root/bench/apps" && exec "$node" "$bundle" serve hello.mjs --bind "127.0.0.1:$port" --workers 2 >/dev/null 2>&1) &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
sleep 1
"$node" "$root/bench/header-flood.mjs" "$port" "$pid" "${CONNS:-1000}" "${SECONDS_FLOOD:-15}" 5
kill -TERM "$pid"
wait "$pid" || true
trap - EXIT

echo "## 2. timeout kills (--timeout 3)"
"$node" "$root/bench/timeout-kill.mjs" "$bundle" 3 "${RUNS:-3}"

echo "## 3. max_worker_memory overshoot"
for rate in 50 150; do "$node" "$root/bench/memory-overshoot.mjs" "$bundle" "$rate" 15; done

echo "## 4. stray errors under load"
"$node" "$root/bench/stray-errors.mjs" "$bundle" 5

echo "## 5. launch -> first 200 beside node:cluster"
NODE=$node BUNDLE=$bundle N=${N:-15} bash "$root/bench/startup-vs-cluster.sh"
