#!/usr/bin/env bash
# Build a local stand-in for the official `node:<major>-bookworm-slim` image, for machines that
# cannot reach a container registry (CI here). Debian bookworm rootfs from debootstrap
# (--variant=minbase) + this machine's node and npm + a `node` user with uid/gid 1000, as the
# official image has. The rootfs tarball is cached under $CACHE so later runs skip debootstrap.
#
# Usage: scripts/base-image.sh            builds node:<host major>-bookworm-slim (and node:<major>-slim)
# Env:   DOCKER=docker client (default: docker), CACHE=/var/cache/prodserver (rootfs cache)
set -euo pipefail
DOCKER=${DOCKER:-docker}
CACHE=${CACHE:-/var/cache/prodserver}
major=$(node -p 'process.versions.node.split(".")[0]')
tag="node:${major}-bookworm-slim"

if $DOCKER image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already present"
  exit 0
fi

mkdir -p "$CACHE"
rootfs_tar="$CACHE/bookworm-minbase.tar"
if [ ! -s "$rootfs_tar" ]; then
  command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "debootstrap bookworm into $work/rootfs (a few minutes)"
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
fi

node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")   # .../node_modules/npm
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$node_bin" "$ctx/node"
tar -C "$(dirname "$npm_dir")" -cf "$ctx/npm.tar" npm
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM prodserver-test/bookworm-minbase
COPY node /usr/local/bin/node
ADD npm.tar /usr/local/lib/node_modules/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
ENV NODE_VERSION=__NODE_VERSION__
CMD ["node"]
DOCKERFILE
sed -i "s/__NODE_VERSION__/$(node -p process.versions.node)/" "$ctx/Dockerfile"
$DOCKER import "$rootfs_tar" prodserver-test/bookworm-minbase >/dev/null
$DOCKER build -q -t "$tag" -t "node:${major}-slim" "$ctx" >/dev/null
echo "built $tag from debootstrap bookworm + node $(node --version)"
