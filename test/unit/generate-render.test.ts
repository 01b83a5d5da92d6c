// Rendering: the Dockerfile contract, headers, strict templates, derived values in every file.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { validateDescription } from "../../src/description/index.js";
import { listContextFiles } from "../../src/docker/index.js";
import { renderFiles, renderDockerfile, renderTemplate, renderContext, HEADER } from "../../src/generate/index.js";

const js = () => validateDescription({ name: "express-hello", version: "1.0.0", app: "src/app.js#app", processes: { web: { workers: 2 } } });
const ts = () =>
  validateDescription({
    name: "hono-ts",
    app: "dist/app.js#app",
    build: { command: "npm run build", output: "dist" },
    port: 8080,
    processes: { web: { workers: "auto", graceful_timeout: 20, keepalive: 5, accesslog: "-" } },
  });

const lines = (s: string) => s.split("\n");

test("every file starts with the generated-header comment", () => {
  for (const f of renderFiles(ts())) {
    assert.equal(lines(f.content)[0], `# ${HEADER}`, f.path);
  }
});

const RUNTIME = "/app/node_modules/prodserver/dist/prodserver-runtime.mjs";

test("Dockerfile contract for a JS app without a build step", () => {
  const df = renderDockerfile(js());
  const l = lines(df);
  assert.ok(l.includes(`ARG NODE_VERSION=${js().node}`));
  assert.ok(l.includes("FROM node:${NODE_VERSION}-bookworm-slim AS base"));
  assert.ok(l.includes("WORKDIR /app") && l.includes("ENV NODE_ENV=production"));
  assert.ok(!df.includes("AS build"), "no build stage without build");
  assert.ok(l.includes("RUN npm ci --omit=dev --no-audit --no-fund \\"));
  assert.ok(df.includes(`if [ ! -f ${RUNTIME} ]; then echo "prodserver is not installed`), "the build stops when prodserver is not a dependency");
  assert.ok(!df.includes(".prodserver/runtime") && !df.includes("/opt/prodserver"), "the runtime comes from node_modules, nothing is copied in");
  assert.ok(l.includes("USER 1000:1000") && l.includes("EXPOSE 3000") && l.includes("STOPSIGNAL SIGTERM"));
  assert.ok(l.includes(`HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["node", "${RUNTIME}", "healthcheck", "--url", "http://127.0.0.1:3000/readyz"]`));
  assert.equal(l.filter((x) => x.startsWith("CMD ")).at(-1), `CMD ["node", "${RUNTIME}", "serve", "--bind", "0.0.0.0:3000", "--workers", "2", "src/app.js#app"]`);
  // Classic-builder compatible: no BuildKit-only syntax.
  for (const bad of ["--mount", "<<", "--start-interval", "--link", "# syntax"]) assert.ok(!df.includes(bad), bad);
  // Cache-friendly: the install reads only the manifests stage (package manager files).
  assert.ok(df.indexOf("FROM context AS manifests") < df.indexOf("COPY --from=manifests /app ./"));
  assert.ok(df.indexOf("COPY --from=manifests /app ./") < df.indexOf("npm ci --omit=dev"));
  // One ARG line: the offline switch is the package manager's own settings, unset by default.
  assert.ok(l.includes("ARG npm_config_offline npm_config_cache"));
});

test("Dockerfile for a TS app: deps → build → runtime, dev deps only in build, output copied from build", () => {
  const df = renderDockerfile(ts());
  const order = [
    "AS base",
    "AS context",
    "AS manifests",
    "AS deps",
    "--omit=dev",
    "AS source",
    "rm -rf dist",
    "AS build",
    "--include=dev",
    "RUN npm run build",
    "AS runtime",
    "COPY --from=deps /app ./",
    "COPY --from=source /app ./",
    "COPY --from=build /app/dist ./dist",
    "USER 1000:1000",
    "EXPOSE 8080",
  ];
  let at = -1;
  for (const o of order) {
    const i = df.indexOf(o, at + 1);
    assert.ok(i > at, `${o} out of order in\n${df}`);
    at = i;
  }
  assert.ok(
    df.includes(`CMD ["node", "${RUNTIME}", "serve", "--bind", "0.0.0.0:8080", "--workers", "auto", "--graceful-timeout", "20", "--keep-alive", "5", "--access-logfile", "-", "dist/app.js#app"]\n`),
  );
});

test("pnpm and yarn install commands, through corepack at the version packageManager pins", () => {
  const p = renderDockerfile({ ...ts(), packageManager: "pnpm" });
  assert.ok(p.includes("corepack enable") && p.includes("pnpm install --frozen-lockfile --prod") && p.includes("NODE_ENV=development pnpm install --frozen-lockfile"));
  assert.ok(p.includes("ARG npm_config_offline npm_config_cache COREPACK_HOME COREPACK_ENABLE_NETWORK npm_config_store_dir COREPACK_NPM_REGISTRY COREPACK_INTEGRITY_KEYS"));
  assert.ok(p.includes('export COREPACK_NPM_REGISTRY="${COREPACK_NPM_REGISTRY:-${r%/}}"'), "corepack uses the registry of .npmrc");
  const y = renderDockerfile({ ...ts(), packageManager: "yarn" });
  assert.ok(y.includes("yarn install --frozen-lockfile --production=true"), "Yarn 1");
  assert.ok(y.includes("yarn workspaces focus --all --production") && y.includes("YARN_NODE_LINKER=node-modules"), "Yarn 2+, node_modules also for PnP projects");
  assert.ok(y.includes("ARG npm_config_offline npm_config_cache COREPACK_HOME COREPACK_ENABLE_NETWORK YARN_CACHE_FOLDER"));
  assert.ok(p.includes("npm install -g corepack@"), "Node 25+ images ship no corepack: installed when missing");
  assert.ok(!renderDockerfile(ts()).includes("corepack"), "npm needs no corepack");
});

test("workspaces: built from the workspace root with only the app's production dependencies", () => {
  const ws = (packageManager: string) => renderDockerfile({ ...ts(), packageManager, workspace: { path: "apps/web", package: "@acme/web" } } as never);
  const npm = ws("npm");
  assert.ok(npm.includes("npm ci --omit=dev --workspace apps/web --no-audit --no-fund"));
  assert.ok(npm.includes("# The build context is the workspace root: `docker build -f apps/web/Dockerfile .` there"));
  assert.ok(npm.includes("COPY --from=build /app/apps/web/dist ./apps/web/dist") && npm.includes("rm -rf apps/web/dist"));
  assert.equal(lines(npm).filter((l) => l === "WORKDIR /app/apps/web").length, 2, "build and runtime run in the app folder");
  assert.ok(npm.includes(`CMD ["node", "${RUNTIME}"`), "npm hoists prodserver to the root node_modules");
  const pnpm = ws("pnpm");
  assert.ok(pnpm.includes("pnpm install --frozen-lockfile --prod --filter @acme/web..."));
  assert.ok(pnpm.includes('CMD ["node", "/app/apps/web/node_modules/prodserver/dist/prodserver-runtime.mjs"'), "pnpm links it into the app's node_modules");
  const yarn = ws("yarn");
  assert.ok(yarn.includes("yarn workspaces focus @acme/web --production"));
});

test(".dockerignore keeps secrets, VCS data and tests out at every depth, and not what the build needs (prodserver build's matcher)", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-ignore-"));
  const secrets = [
    "config/.env",
    "config/.env.production",
    "certs/server.key",
    "certs/server.pem",
    "deep/a/b/client.p12",
    "lib/.git/HEAD",
    ".env",
    "id.key",
    "keys/id_rsa",
    "src/__tests__/a.js",
    "lib/test/fixture.js",
    "src/app.test.js",
    "dist/old.js",
    "logs/app.log",
  ];
  const kept = ["package.json", "package-lock.json", "tsconfig.json", "src/app.ts", "config/app.json", "lib/testing.js", "certs/README.md"];
  for (const f of [...secrets, ...kept]) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), "x");
  }
  const [f] = renderFiles(ts(), { targets: ["dockerignore"] });
  fs.writeFileSync(path.join(dir, ".dockerignore"), f.content);
  assert.deepEqual(await listContextFiles(dir), [".dockerignore", ...kept].sort());
});

test("templates are strict: a missing variable throws instead of rendering empty", () => {
  const ctx = renderContext(js()) as any;
  assert.throws(() => renderTemplate("Dockerfile", { ...ctx, pm: { setup: "" } }), /"?prune"? not defined/);
  const { d, ...noD } = ctx;
  assert.throws(() => renderTemplate("nginx.conf", { ...noD, d: { ...d, deploy: { ...d.deploy, nginx: {} } } }), /deploy\.nginx\.clientMaxBodySize" is not defined/);
});

test("renderFiles targets: selectable, unknown rejected", () => {
  assert.deepEqual(
    renderFiles(js(), { targets: ["nginx"] }).map((f) => f.path),
    ["deploy/nginx/express-hello.conf"],
  );
  assert.deepEqual(
    renderFiles(js(), { targets: ["systemd"] }).map((f) => f.path),
    ["deploy/systemd/express-hello.service", "deploy/systemd/express-hello.socket"],
  );
  assert.throws(() => renderFiles(js(), { targets: ["helm" as any] }), /unknown target "helm"/);
});

test("rendering is deterministic", () => {
  assert.deepEqual(renderFiles(ts()), renderFiles(ts()));
});

test("the runtime stage never copies the build context itself; registry config and caches never reach it", () => {
  for (const d of [js(), ts()]) {
    const df = renderDockerfile(d);
    const runtime = df.slice(df.indexOf("AS runtime"));
    assert.ok(!/^COPY \. /m.test(runtime), runtime);
    assert.match(runtime, /^COPY --from=deps \/app \.\/\nCOPY --from=source \/app \.\/$/m);
    const clean = "rm -rf .prodserver && find . -name node_modules -prune -o \\( -name .npmrc -o -name .yarnrc -o -name .yarnrc.yml \\) -type f -exec rm -f {} +";
    const source = df.slice(df.indexOf("AS source"), df.indexOf("FROM", df.indexOf("AS source")));
    assert.ok(source.includes(`RUN ${clean}`), "no registry tokens from the sources");
    const deps = df.slice(df.indexOf("AS deps"), df.indexOf("FROM", df.indexOf("AS deps")));
    assert.ok(deps.includes(` && ${clean}\n`), "none from the deps stage either (the runtime copies all of /app from it)");
  }
});
