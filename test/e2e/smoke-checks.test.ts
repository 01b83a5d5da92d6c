// Each smoke check alone against real containers (real Docker Engine): two tiny images built
// once from the local base image — "good" (the runtime bundle serving a small handler as uid 1000,
// exec-form HEALTHCHECK) and "bad" (a plain node server as root, no HEALTHCHECK, a baked secret,
// a .env and an installed devDependency, exit 3 on SIGTERM) — so every check has a passing and a
// failing case. Then the runner: it stops at a fatal failure, carries the logs, removes the container.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import {
  buildImage,
  createBuildContext,
  createSmokeContext,
  drain,
  files,
  formatReport,
  healthy,
  httpGet,
  metadata,
  nonRoot,
  processes,
  removeContainer,
  respawn,
  runCheck,
  sigterm,
  smokeTest,
  start,
  type Check,
  type SmokeCheck,
  type SmokeContext,
  type SmokeOptions,
} from "../../src/docker/index.js";
import { Cleanup, RUNTIME_BUNDLE, dockerClient, dockerSkip } from "../support/docker.js";

const docker = dockerClient();
const cleanup = new Cleanup(docker);
const run = randomBytes(3).toString("hex");
const RUNTIME = "/opt/prodserver/prodserver.mjs";

const GOOD_APP = `if (process.env.SMOKE_CRASH) throw new Error("SMOKE_CRASH_SENTINEL_3141");
export default (req, res) => {
  res.statusCode = req.url === "/fail" ? 500 : 200;
  res.end(req.url === "/fail" ? "boom" : "hello");
};
`;
const GOOD = `FROM node:20-bookworm-slim
WORKDIR /app
COPY prodserver.mjs ${RUNTIME}
COPY app.mjs package.json ./
USER 1000:1000
EXPOSE 3000
HEALTHCHECK --interval=1s --timeout=3s --start-period=10s --retries=3 CMD ["node", "${RUNTIME}", "healthcheck", "--url", "http://127.0.0.1:3000/readyz"]
CMD ["node", "${RUNTIME}", "serve", "--bind", "0.0.0.0:3000", "--workers", "2", "--graceful-timeout", "5", "app.mjs"]
`;
const BAD_SERVER = `const http = require("http");
http.createServer((req, res) => res.end("plain")).listen(3000);
process.on("SIGTERM", () => process.exit(3));
`;
const BAD = `FROM node:20-bookworm-slim
WORKDIR /app
COPY bad-server.cjs package.json ./
RUN echo SECRET=x > .env && mkdir -p node_modules/left-pad && echo '{"name":"left-pad"}' > node_modules/left-pad/package.json
ENV API_TOKEN=baked-in
CMD ["node", "bad-server.cjs"]
`;

/** Builds a tiny image from `files` (Dockerfile included) and returns its tag. */
async function tinyImage(label: string, dockerfile: string, extra: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `prodserver-e2e-smoke-${label}-`));
  cleanup.dir(dir);
  for (const [name, text] of Object.entries(extra)) await fs.writeFile(path.join(dir, name), text);
  const tag = `prodserver-e2e-smoke-${label}:t${run}`;
  const context = await createBuildContext(dir, { dockerfile });
  const r = await buildImage(docker, context, {
    tags: [tag],
    onProgress: (ev) => {
      if (ev.type === "layer" && !ev.cached) cleanup.image(ev.id);
    },
  });
  cleanup.image(r.imageId);
  return tag;
}

const OPTS: SmokeOptions = { port: 3000, healthPath: "/readyz", gracefulTimeout: 5, workers: 2 };

/** A context whose container is started (by the `start` check, which must pass). */
async function started(image: string, opts: Partial<SmokeOptions> = {}): Promise<SmokeContext> {
  const ctx = await createSmokeContext(docker, image, { ...OPTS, ...opts });
  const s = await runCheck(start, ctx);
  assert.ok(s.ok, s.detail);
  cleanup.container(ctx.container!.id);
  return ctx;
}

async function passes(check: SmokeCheck, ctx: SmokeContext): Promise<Check> {
  const r = await runCheck(check, ctx);
  assert.equal(r.ok, true, `${check.name} should pass: ${r.detail}`);
  return r;
}

async function fails(check: SmokeCheck, ctx: SmokeContext, detail: RegExp): Promise<Check> {
  const r = await runCheck(check, ctx);
  assert.equal(r.ok, false, `${check.name} should fail: ${r.detail}`);
  assert.match(r.detail, detail);
  return r;
}

describe("smoke checks, one at a time", { skip: dockerSkip, timeout: 300_000 }, () => {
  let good = "";
  let bad = "";
  before(async () => {
    await fs.access(RUNTIME_BUNDLE).catch(() => {
      throw new Error(`${RUNTIME_BUNDLE} is missing: run \`npm run build\``);
    });
    good = await tinyImage("good", GOOD, { "app.mjs": GOOD_APP, "package.json": '{"type":"module"}\n', "prodserver.mjs": await fs.readFile(RUNTIME_BUNDLE, "utf8") });
    bad = await tinyImage("bad", BAD, { "bad-server.cjs": BAD_SERVER, "package.json": '{"devDependencies":{"left-pad":"1.3.0"}}\n' });
  });
  after(() => cleanup.run());

  test("a well-built image passes every check; its container stops with exit 0 on SIGTERM and drains", async () => {
    const ctx = await started(good);
    try {
      assert.match((await passes(metadata, ctx)).detail, /user 1000:1000, exposes 3000\/tcp, healthcheck CMD, cmd exec-form/);
      await passes(healthy, ctx);
      assert.match(
        (
          await passes(
            httpGet("/readyz", (s) => s === 200),
            ctx,
          )
        ).detail,
        /^200 /,
      );
      assert.match((await passes(httpGet("/"), ctx)).detail, /^200 hello/);
      await fails(httpGet("/fail"), ctx, /^GET \/fail -> 500 boom/);
      assert.match((await passes(nonRoot, ctx)).detail, /uids 1000$/);
      assert.match((await passes(processes(), ctx)).detail, /^1 arbiter, 2 workers$/);
      await fails(processes({ settleSeconds: 1 }), { ...ctx, options: { ...ctx.options, workers: 3 } }, /expected 1 arbiter and 3 workers, saw 1 and 2/);
      assert.match((await passes(respawn(), ctx)).detail, /replaced, 2 workers/);
      assert.match((await passes(files, ctx)).detail, /^\/app: no \.env/);
      assert.match((await passes(sigterm, ctx)).detail, /^exit 0 after/);
      assert.equal(ctx.exitCode, 0);
      await passes(drain, ctx);
    } finally {
      await removeContainer(ctx);
    }
  });

  test("a badly built image fails each check with a reason: root, no HEALTHCHECK, secrets, .env, devDependencies, no workers, exit 3 on SIGTERM", async () => {
    const ctx = await started(bad, { healthInterval: null });
    try {
      const m = await fails(metadata, ctx, /USER is "", expected numeric uid/);
      for (const problem of [/port 3000\/tcp not exposed/, /no HEALTHCHECK/, /secret-looking ENV baked into the image: API_TOKEN/]) assert.match(m.detail, problem);
      await fails(healthy, ctx, /no health status/);
      assert.equal(healthy.fatal, true, "a container that never turns healthy stops the smoke test");
      await fails(nonRoot, ctx, /running as root: \d+ node bad-server\.cjs/);
      await fails(processes({ settleSeconds: 1 }), ctx, /expected 1 arbiter and 2 workers, saw 0 and 0/);
      await fails(respawn(), ctx, /could not kill a worker \(exit 2\): none/);
      const f = await fails(files, ctx, /\/app contains \.env/);
      assert.match(f.detail, /devDependencies installed: left-pad/);
      await fails(sigterm, ctx, /exited with code 3 after SIGTERM/);
      assert.equal(ctx.exitCode, 3);
      const d = await runCheck(drain, ctx);
      assert.equal(d.ok, false, d.detail);
      assert.equal(d.informational, true, "drain only informs");
      assert.match(d.detail, /readiness flip not observed/);
    } finally {
      await removeContainer(ctx);
    }
  });

  test("healthy fails fast when the app cannot load: the container's exit code is reported", async () => {
    const ctx = await started(good, { env: ["SMOKE_CRASH=1"] });
    try {
      await fails(healthy, ctx, /container exited with code [1-9]\d* before becoming healthy/);
      assert.notEqual(ctx.exitCode, null);
    } finally {
      await removeContainer(ctx);
    }
  });

  test("the runner stops at the first fatal failure, carries the logs and removes the container", async () => {
    const report = await smokeTest(docker, good, { ...OPTS, env: ["SMOKE_CRASH=1"] });
    const text = formatReport(report);
    assert.equal(report.ok, false, text);
    assert.deepEqual(
      report.checks.map((c) => c.name),
      ["metadata", "start", "healthy"],
      text,
    );
    assert.match(text, /SMOKE_CRASH_SENTINEL_3141/, "the report shows the app's error from the container's logs");
    assert.notEqual(report.exitCode, null);
    const left = await docker.listContainers({ all: true, filters: { label: [`prodserver.smoke=${good}`] } });
    assert.deepEqual(left, [], "the smoke container is removed");
  });
});
