#!/usr/bin/env bash
# prodserver demo: take examples/express-app to a smoke-tested production image.
#
#   npm run demo            (= bash examples/demo.sh, from the repository root)
#
# Needs a machine prepared by .ci/setup.sh: Docker Engine running and the base images present (the
# build runs offline, with an npm cache filled on this host). prodserver is not on npmjs.org yet:
# the demo publishes this build to an npm registry on loopback (test/support/registry.ts, verdaccio
# with npmjs.org as its uplink) and points the app's .npmrc at it, so create-prodserver adds
# prodserver to the app's dependencies as it will from npmjs.org. The repository stays clean: the
# app is copied to a temp folder.
#
# Steps: npm run build -> loopback registry -> copy the example -> npm ci (+ its build) -> create-prodserver --yes
# (which boots the app before it writes anything) -> prodserver build --offline
# twice (cold: --no-cache --no-smoke; warm: cached, --no-smoke) -> figures -> prodserver build
# --offline (cached) ending with the smoke-test report.
# Env: KEEP=1 keeps the temp folder; DEMO_APP=examples/ts-app demos the TypeScript example.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
APP=${DEMO_APP:-examples/express-app}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "the Docker Engine does not answer; run .ci/setup.sh first"

say "npm run build (prodserver: CLI + runtime bundle)"
npm run build --silent

WORK=$(mktemp -d "${TMPDIR:-/tmp}/prodserver-demo-XXXXXX")
REG_PID=""
cleanup() {
  [ -z "$REG_PID" ] || kill "$REG_PID" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "demo: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

say "npm registry on loopback with this build of prodserver published"
node "$ROOT/dist/test/support/registry.js" >"$WORK.registry" &
REG_PID=$!
for _ in $(seq 1 120); do [ -s "$WORK.registry" ] && break; sleep 0.5; done
REG_URL=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").split("\n")[0]).url' "$WORK.registry") \
  || die "the loopback registry did not start"
rm -f "$WORK.registry"
echo "registry $REG_URL"

tar -C "$ROOT/$APP" --exclude=node_modules --exclude=dist --exclude=.prodserver -cf - . | tar -C "$WORK" -xf -
cd "$WORK"
printf 'registry=%s\n' "$REG_URL" >.npmrc
PRODSERVER=(node "$ROOT/dist/src/cli/main.js")
CREATE=(node "$ROOT/dist/src/cli/create.js")

say "npm ci (and npm run build if the app has one)   (the app as its user has it: create-prodserver boots it)"
npm ci --no-audit --no-fund
if node -e 'process.exit(require("./package.json").scripts?.build ? 0 : 1)'; then npm run build; fi

say "create-prodserver --yes   (in $WORK, a copy of $APP)"
"${CREATE[@]}" --yes
echo
sed -n '1,40p' prodserver.config.mjs
NODE_MAJOR=$(sed -n 's/^  node: "\([0-9]*\)",$/\1/p' prodserver.config.mjs)
docker image inspect "node:${NODE_MAJOR}-bookworm-slim" >/dev/null 2>&1 \
  || die "base image node:${NODE_MAJOR}-bookworm-slim is missing; run .ci/setup.sh (or test/support/base-image.sh $NODE_MAJOR)"

# Seconds from the build's final line: "built <tags> (<id>) in 12.3s, 3/17 steps cached".
seconds_of() { sed -n 's/^built .* in \([0-9.]*\)s, .*/\1/p; s/^built .* in \([0-9]*\)m\([0-9]*\)s, .*/\1 \2/p' "$1" | tail -1 \
  | awk 'NF==2 { print $1*60+$2; next } { print $1 }'; }

say "prodserver build --offline --no-cache --no-smoke   (cold: no layer cache)"
"${PRODSERVER[@]}" build --offline --no-cache --no-smoke 2>&1 | tee "$WORK/.cold.log"
COLD=$(seconds_of "$WORK/.cold.log")

say "prodserver build --offline --no-smoke   (warm: same sources, layer cache)"
"${PRODSERVER[@]}" build --offline --no-smoke | tee "$WORK/.warm.log"
WARM=$(seconds_of "$WORK/.warm.log")

NAME=$(node -p 'require("./package.json").name')
VERSION=$(node -p 'require("./package.json").version')
SIZE=$(docker image inspect --format '{{.Size}}' "$NAME:$VERSION")
say "figures"
printf '  image          %s:%s\n' "$NAME" "$VERSION"
printf '  image size     %s MB (%s bytes; base image %s MB)\n' "$(awk -v b="$SIZE" 'BEGIN { printf "%.1f", b/1e6 }')" "$SIZE" \
  "$(docker image inspect --format '{{.Size}}' "node:${NODE_MAJOR}-bookworm-slim" | awk '{ printf "%.1f", $1/1e6 }')"
printf '  cold build     %ss (--no-cache)\n' "$COLD"
printf '  warm build     %ss (layer cache)\n' "$WARM"
printf '  smoke test     see the last line of the report below\n'

say "prodserver build --offline   (cached build, then the smoke test)"
status=0
"${PRODSERVER[@]}" build --offline || status=$?
echo
echo "run it:  docker run --rm -p 127.0.0.1:3000:3000 $NAME:$VERSION"
exit "$status"
