#!/usr/bin/env bash
# Run inside a network namespace of its own (`unshare -n`, as root): serve APP with the runtime
# (reuse_port, 2 workers) on the namespace's loopback, send it wrk -c32 for 8 s with a new
# connection per request, HUP the arbiter at 2 s and 5 s, then TERM it. Prints wrk's summary and
# the arbiter's log. net.ipv4.tcp_migrate_req is per namespace: set here (MIGRATE, default 1),
# never on the host. Usage: netns-reload.sh NODE BUNDLE APP
set -euo pipefail
node=$1 bundle=$2 app=$3
ip link set lo up
sysctl -qw net.ipv4.tcp_migrate_req="${MIGRATE:-1}"
log=$(mktemp)
"$node" "$bundle" serve --bind 127.0.0.1:8300 --workers 2 --reuse-port "$app" 2>"$log" &
pid=$!
trap 'kill -KILL $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 200); do curl -sf -o /dev/null http://127.0.0.1:8300/ && break; sleep 0.05; done
(sleep 2; kill -HUP $pid; sleep 3; kill -HUP $pid) &
wrk -t1 -c32 -d8s -H "Connection: close" http://127.0.0.1:8300/
kill -TERM $pid
wait $pid || true
echo "--- arbiter log"
cat "$log"
