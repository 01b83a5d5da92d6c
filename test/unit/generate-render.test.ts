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

test("Dockerfile contract for a JS app without a build step", () => {
  const df = renderDockerfile(js());
  const l = lines(df);
  assert.ok(l.includes("ARG NODE_VERSION=20"));
  assert.ok(l.includes("FROM node:${NODE_VERSION}-bookworm-slim AS base"));
  assert.ok(l.includes("WORKDIR /app") && l.includes("ENV NODE_ENV=production"));
  assert.ok(!df.includes("AS build"), "no build stage without build");
  assert.ok(l.includes("RUN npm ci --no-audit --no-fund --omit=dev && mkdir -p node_modules"));
  assert.ok(l.includes("COPY .prodserver/runtime/prodserver.mjs /opt/prodserver/prodserver.mjs"));
  assert.ok(l.includes("USER 1000:1000") && l.includes("EXPOSE 3000") && l.includes("STOPSIGNAL SIGTERM"));
  assert.ok(
    l.includes(
      'HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["node", "/opt/prodserver/prodserver.mjs", "healthcheck", "--url", "http://127.0.0.1:3000/readyz"]',
    ),
  );
  assert.equal(l.filter((x) => x.startsWith("CMD ")).at(-1), 'CMD ["node", "/opt/prodserver/prodserver.mjs", "serve", "--bind", "0.0.0.0:3000", "--workers", "2", "src/app.js#app"]');
  // Classic-builder compatible: no BuildKit-only syntax.
  for (const bad of ["--mount", "<<", "--start-interval", "--link", "# syntax"]) assert.ok(!df.includes(bad), bad);
  // Cache-friendly: manifests before sources.
  assert.ok(df.indexOf("COPY package*.json") < df.indexOf("COPY . ."));
});

test("Dockerfile for a TS app: deps → build → runtime, dev deps only in build, output copied from build", () => {
  const df = renderDockerfile(ts());
  const order = ["AS base", "AS deps", "--omit=dev", "AS build", "--include=dev", "RUN npm run build", "AS runtime", "COPY --from=deps /app/node_modules ./node_modules", "COPY --from=build /app/dist ./dist", "USER 1000:1000", "EXPOSE 8080"];
  let at = -1;
  for (const o of order) {
    const i = df.indexOf(o, at + 1);
    assert.ok(i > at, `${o} out of order in\n${df}`);
    at = i;
  }
  assert.match(df, /CMD \["node", "\/opt\/prodserver\/prodserver\.mjs", "serve", "--bind", "0\.0\.0\.0:8080", "--workers", "auto", "--graceful-timeout", "20", "--keep-alive", "5", "--access-logfile", "-", "dist\/app\.js#app"\]\n/);
});

test("offline variant copies the npm cache and installs with --offline (npm only)", () => {
  const df = renderDockerfile(ts(), { offlineNpmCache: true });
  assert.equal(df.match(/COPY \.prodserver\/npm-cache \/tmp\/npm-cache/g)?.length, 2);
  assert.ok(df.includes("RUN npm ci --offline --cache /tmp/npm-cache --no-audit --no-fund --omit=dev && mkdir -p node_modules"));
  assert.ok(!renderDockerfile(ts()).includes("npm-cache"));
  assert.throws(() => renderDockerfile({ ...ts(), packageManager: "pnpm" }, { offlineNpmCache: true }), /packageManager: .*needs packageManager npm/);
});

test("pnpm and yarn install commands", () => {
  const p = renderDockerfile({ ...ts(), packageManager: "pnpm" });
  assert.ok(p.includes("corepack enable") && p.includes("COPY package.json pnpm-lock.yaml") && p.includes("pnpm install --frozen-lockfile --prod"));
  const y = renderDockerfile({ ...ts(), packageManager: "yarn" });
  assert.ok(y.includes("COPY package.json yarn.lock") && y.includes("yarn install --frozen-lockfile --production=true"));
  assert.ok(y.includes("yarn workspaces focus --all --production") && y.includes("ENV YARN_NODE_LINKER=node-modules"), "Yarn 2+ too");
  const n25 = renderDockerfile({ ...ts(), packageManager: "pnpm", node: "25" });
  assert.ok(n25.includes("npm install -g corepack"), "Node 25 images no longer ship corepack");
});

test(".dockerignore keeps secrets, VCS data and tests out at every depth, and not what the build needs (prodserver build's matcher)", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prodserver-ignore-"));
  const secrets = ["config/.env", "config/.env.production", "certs/server.key", "certs/server.pem", "deep/a/b/client.p12", "lib/.git/HEAD", ".env", "id.key", "keys/id_rsa", "src/__tests__/a.js", "lib/test/fixture.js", "src/app.test.js", "dist/old.js", "logs/app.log"];
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
  assert.throws(() => renderTemplate("Dockerfile", { ...ctx, pm: { setup: null } }), /"?manifests"? not defined/);
  const { d, ...noD } = ctx;
  assert.throws(() => renderTemplate("nginx.conf", { ...noD, d: { ...d, deploy: { ...d.deploy, nginx: {} } } }), /deploy\.nginx\.clientMaxBodySize" is not defined/);
});

test("renderFiles targets: selectable, unknown rejected", () => {
  assert.deepEqual(renderFiles(js(), { targets: ["nginx"] }).map((f) => f.path), ["deploy/nginx/express-hello.conf"]);
  assert.deepEqual(renderFiles(js(), { targets: ["systemd"] }).map((f) => f.path), ["deploy/systemd/express-hello.service", "deploy/systemd/express-hello.socket"]);
  assert.throws(() => renderFiles(js(), { targets: ["helm" as any] }), /unknown target "helm"/);
});

test("rendering is deterministic", () => {
  assert.deepEqual(renderFiles(ts()), renderFiles(ts()));
});

test("the runtime stage never copies the build context itself (.prodserver/ stays out of /app)", () => {
  for (const d of [js(), ts()]) {
    const df = renderDockerfile(d);
    const runtime = df.slice(df.indexOf("AS runtime"));
    assert.ok(!/^COPY \. /m.test(runtime), runtime);
    assert.match(runtime, /^COPY --from=source \/app \.\/$/m);
    const source = df.slice(df.indexOf("AS source"), df.indexOf("FROM", df.indexOf("AS source")));
    assert.match(source, /^COPY \. \.\nRUN rm -rf \.prodserver \.npmrc \.yarnrc \.yarnrc\.yml$/m, "no registry tokens in the image");
    assert.match(df, /&& mkdir -p node_modules/, "an app without dependencies still has node_modules to copy");
  }
});
