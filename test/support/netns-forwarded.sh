#!/usr/bin/env bash
# Run inside a network namespace of its own (`unshare -n`, as root): give its loopback a public
# address (203.0.113.7, TEST-NET-3: an untrusted client reaching the server directly) and a
# private one (10.9.8.7: a proxy on a private network), serve APP with the runtime's default
# forwarded_allow_ips on 0.0.0.0, and from each peer (and 127.0.0.1) send spoofed forwarding
# headers. Prints one line per peer: `PEER <what the app saw as JSON>`, then the arbiter's log.
# The addresses exist only in this namespace. Usage: netns-forwarded.sh NODE BUNDLE APP
set -euo pipefail
node=$1 bundle=$2 app=$3
ip link set lo up
ip addr add 203.0.113.7/32 dev lo
ip addr add 10.9.8.7/32 dev lo
log=$(mktemp)
"$node" "$bundle" serve --bind 0.0.0.0:8301 --workers 1 "$app" 2>"$log" &
pid=$!
trap 'kill -KILL $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 200); do curl -sf -o /dev/null http://127.0.0.1:8301/readyz && break; sleep 0.05; done
for peer in 203.0.113.7 10.9.8.7 127.0.0.1; do
  printf '%s ' "$peer"
  curl -sS --interface "$peer" -H "X-Forwarded-For: 198.51.100.1" -H "X-Forwarded-Proto: https" \
    -H "X-Forwarded-Host: evil.example" -H "Forwarded: for=198.51.100.1;proto=https" -H "X-Other: kept" "http://$peer:8301/headers"
  echo
done
kill -TERM $pid
wait $pid || true
echo "--- arbiter log"
cat "$log"
