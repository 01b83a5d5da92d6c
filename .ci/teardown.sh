#!/usr/bin/env bash
# Stop what .ci/setup.sh started (dockerd, by the PID it recorded) and leave any swarm a test joined.
set -uo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if [ -f .ci/dockerd.pid ]; then
  pid=$(cat .ci/dockerd.pid)
  $SUDO /usr/bin/docker swarm leave --force >/dev/null 2>&1 || true
  if kill -0 "$pid" 2>/dev/null; then
    echo "teardown: stopping dockerd (pid $pid)"
    $SUDO kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && $SUDO kill -KILL "$pid"
  fi
  rm -f .ci/dockerd.pid
fi
