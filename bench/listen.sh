#!/usr/bin/env bash
# Listen mode beside handler mode, plain node / next start, PM2 -i 2 and Platformatic Watt, on the
# corpus's Express and Next.js apps; writes its section of bench/RESULTS.md. See bench/listen.mjs
# for what it measures, the environment it reads, and what it installs (into a temp dir).
#   bash bench/listen.sh                              full run (about 30 minutes on 2 cores)
#   RUNS=1 DURATION=2 RELOAD_RUNS=1 IMAGES=0 bash bench/listen.sh   quick look (too noisy to quote)
# Needs: npm run build, wrk, docker (for the image sizes; IMAGES=0 skips them), the npm registry.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v wrk >/dev/null || { echo "bench: apt-get install wrk" >&2; exit 1; }
exec node "$root/bench/listen.mjs" "$@"
