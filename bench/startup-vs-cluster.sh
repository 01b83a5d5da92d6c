#!/usr/bin/env bash
# Launch -> first HTTP 200 of prodserver (2 workers, bench/apps/hello.mjs) and of node:cluster
# (2 workers, /work/shared/bench-peers/servers/node-cluster.js; PEERS_DIR), interleaved run by run, with the
# peers' own timer (../shared/bench-peers/lib/startup.js, polls every 2 ms). Prints each one's
# median, min and max over N runs and the ratio of the medians.
# BEFORE=path/to/another/bundle adds that build as a third contender, "before", in the same rounds.
# Usage: N=15 NODE=node BUNDLE=dist/prodserver-runtime.mjs [BEFORE=...] bash bench/startup-vs-cluster.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${PEERS_DIR:-$( (ls -d "$root/../shared/bench-peers" "$root/../../shared/bench-peers" 2>/dev/null || true) | head -n1)}
node=${NODE:-node}
bundle=$(cd "$root" && realpath "${BUNDLE:-dist/prodserver-runtime.mjs}")
port=${PORT:-18390}
log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT
one() {  # one LABEL CMD...: time it, stop it (TERM, wait), record "LABEL ms"
  local label=$1; shift
  local r pid
  r=$("$node" "$peers/lib/startup.js" "http://127.0.0.1:$port/" "$log" 20000 -- "$@")
  pid=${r#* }
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
  echo "$label ${r% *}" >>"$out"
}
for _ in $(seq 1 "${N:-15}"); do
  one prodserver "$node" "$bundle" serve --bind "127.0.0.1:$port" --workers 2 "$root/bench/apps/hello.mjs"
  if [ -n "${BEFORE:-}" ]; then one before "$node" "$(realpath "$BEFORE")" serve --bind "127.0.0.1:$port" --workers 2 "$root/bench/apps/hello.mjs"; fi
  PORT=$port HOST=127.0.0.1 WORKERS=2 one node-cluster "$node" "$peers/servers/node-cluster.js"
done
sort -k1,1 -k2,2g "$out" | awk '{c[$1]++; v[$1,c[$1]]=$2} END {
  for (k in c) { m[k] = v[k,int((c[k]+1)/2)]; printf "%-12s median %6.1f ms  min %6.1f  max %6.1f  (%d runs)\n", k, m[k], v[k,1], v[k,c[k]], c[k] }
  printf "ratio prodserver / node-cluster (medians): %.2f\n", m["prodserver"] / m["node-cluster"]
  if ("before" in m) printf "ratio before / node-cluster (medians): %.2f\n", m["before"] / m["node-cluster"] }'
