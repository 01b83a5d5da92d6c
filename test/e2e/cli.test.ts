// End-to-end through the published commands, as a user runs them: `create-prodserver --yes` then
// `prodserver build --offline` in a scratch copy of each example (compiled CLI in dist/src/cli);
// create-prodserver adds prodserver from the test registry (.npmrc).
// Package names are changed to prodserver-e2e-cli-* first so real images are never touched.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { randomBytes } from "node:crypto";
import { execa } from "execa";
import { formatReport, type BuildEvent, type SmokeReport } from "../../src/docker/index.js";
import { Cleanup, REPO_ROOT, dockerClient, dockerSkip, ensureBaseImage, pathInImage, scratchCopy } from "../support/docker.js";
import { newestLtsMajor } from "../../src/description/node-versions.js";
import { npmrc, sharedRegistry } from "../support/registry.js";

const MAIN = path.join(REPO_ROOT, "dist/src/cli/main.js");
const CREATE = path.join(REPO_ROOT, "dist/src/cli/create.js");
const docker = dockerClient();
const cleanup = new Cleanup(docker);
const run = randomBytes(3).toString("hex");
/** Every tag a test may have built: removed at the end even when the JSON output was incomplete. */
const createdTags: string[] = [];

/** Scratch copy with a unique package name/version, then `create-prodserver --yes`. */
async function created(example: string, label: string): Promise<{ dir: string; tags: string[] }> {
  const dir = await scratchCopy(path.join(REPO_ROOT, example), `cli-${label}`);
  cleanup.dir(dir);
  const pkgPath = path.join(dir, "package.json");
  const pkg = JSON.parse(await fs.readFile(pkgPath, "utf8"));
  pkg.name = `prodserver-e2e-cli-${label}`;
  pkg.version = `0.0.0-t${run}`;
  await fs.writeFile(pkgPath, JSON.stringify(pkg, null, 2));
  // npm ci refuses a lockfile whose root name/version disagree with package.json.
  const lockPath = path.join(dir, "package-lock.json");
  const lock = JSON.parse(await fs.readFile(lockPath, "utf8"));
  Object.assign(lock, { name: pkg.name, version: pkg.version });
  Object.assign(lock.packages[""], { name: pkg.name, version: pkg.version });
  await fs.writeFile(lockPath, JSON.stringify(lock, null, 2));
  await fs.writeFile(path.join(dir, ".env"), "SESSION_SECRET=e2e-must-not-ship\n");
  // create-prodserver adds prodserver to the app's dependencies from the registry in .npmrc.
  await fs.writeFile(path.join(dir, ".npmrc"), npmrc(await sharedRegistry()));

  const tags = [`${pkg.name}:${pkg.version}`, `${pkg.name}:latest`];
  createdTags.push(...tags);
  const c = await execa(process.execPath, [CREATE, "--yes", "--no-verify"], { cwd: dir, reject: false, all: true, timeout: 60_000 });
  assert.equal(c.exitCode, 0, `create-prodserver --yes failed:\n${c.all}`);
  for (const f of ["prodserver.config.mjs", "Dockerfile", ".dockerignore"]) assert.ok(existsSync(path.join(dir, f)), `${f} written`);
  assert.ok(JSON.parse(await fs.readFile(pkgPath, "utf8")).dependencies.prodserver, "prodserver added to the dependencies");
  return { dir, tags };
}

/** `prodserver build --offline --json` (or `flags`); returns exit code, events and the smoke report. */
async function buildJson(dir: string, flags = ["--offline"]): Promise<{ exitCode: number; events: Array<BuildEvent | { type: string; [k: string]: any }>; smoke: SmokeReport | null; all: string }> {
  const r = await execa(process.execPath, [MAIN, "build", ...flags, "--json"], { cwd: dir, reject: false, all: true, timeout: 300_000 });
  const lines = String(r.stdout).split("\n").filter(Boolean);
  const events = lines.map((l) => JSON.parse(l)); // every line of --json output is a JSON record
  for (const ev of events) if (ev.type === "layer" && !ev.cached) cleanup.image(ev.id);
  for (const ev of events) if (ev.type === "done") cleanup.image(ev.imageId);
  const smoke = (events.find((e) => e.type === "smoke") as SmokeReport | undefined) ?? null;
  const last = events.at(-1) as { kind?: string } | undefined;
  assert.deepEqual(last, { type: "result", command: "build", ok: r.exitCode === 0, exitCode: r.exitCode, kind: last?.kind }, "the last record is the result");
  return { exitCode: r.exitCode ?? -1, events, smoke, all: String(r.all) };
}

/**
 * Runs `prodserver build` and watches its stdout: resolves with the exit code, the output, and
 * whether the process was still running `graceS` seconds after the smoke report's result line.
 */
async function buildWatched(dir: string, flags: string[], graceS: number): Promise<{ code: number | null; out: string; err: string; lingered: boolean }> {
  const child = spawn(process.execPath, [MAIN, "build", ...flags], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  let reported: Promise<boolean> | null = null;
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    out += `${line}\n`;
    if (!reported && /(^|; smoke test )(PASS|FAIL): /.test(line)) {
      // From the report on, the process has nothing left to do: it must exit, not linger.
      reported = Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceS * 1000))]);
    }
  });
  const code = await exited;
  const lingered = reported ? await reported : false;
  if (child.exitCode === null) child.kill("SIGKILL");
  return { code, out, err, lingered };
}

/** Last 40 lines of a command's output, or the smoke report when there is one. */
function tail(all: string): string {
  const smoke = all.split("\n").find((l) => l.startsWith('{"type":"smoke"'));
  if (smoke) return formatReport(JSON.parse(smoke) as SmokeReport);
  return all.split("\n").slice(-40).join("\n");
}

const skip = dockerSkip || (existsSync(MAIN) && existsSync(CREATE) ? false : `CLI not built (${MAIN}): run \`npm run build\``);

describe("create-prodserver --yes && prodserver build --offline", { skip, timeout: 900_000 }, () => {
  before(() => ensureBaseImage(String(newestLtsMajor())));
  after(async () => {
    for (const tag of createdTags) {
      const id = await docker
        .getImage(tag)
        .inspect()
        .then(
          (i) => i.Id,
          () => null,
        );
      if (id) cleanup.image(id);
    }
    await cleanup.run();
  });

  test("express-app: exit 0, JSON progress, tags, green smoke report, no .env; a rebuild is cached and prints PASS", async () => {
    const { dir, tags } = await created("examples/express-app", "express");
    const b = await buildJson(dir);
    assert.equal(b.exitCode, 0, tail(b.all));
    assert.ok(
      b.events.some((e) => e.type === "step"),
      "step events in --json output",
    );
    assert.ok(b.smoke?.ok, `smoke report ok:\n${JSON.stringify(b.smoke?.checks, null, 1)}`);
    const id = (await docker.getImage(tags[0]).inspect()).Id;
    assert.equal((await docker.getImage(tags[1]).inspect()).Id, id, "both tags point at the same image");
    assert.equal(await pathInImage(docker, id, "/app/.env", cleanup), false, ".env not in the image");

    // A long graceful timeout: a timer bounded by it (the old smoke test's) would hold the CLI ~125 s.
    const config = path.join(dir, "prodserver.config.mjs");
    const text = await fs.readFile(config, "utf8");
    assert.match(text, /web: \{ workers: "auto" \}/, "the description's web process, to edit");
    await fs.writeFile(config, text.replace('web: { workers: "auto" }', 'web: { workers: "auto", graceful_timeout: 120 }'));
    const human = await buildWatched(dir, ["--offline"], 15);
    assert.equal(human.code, 0, tail(human.out + human.err));
    assert.match(human.out, /\(cached\)/, "the second build uses the layer cache");
    assert.match(human.out, /^PASS: /m, "the smoke report ends with PASS");
    assert.equal(human.lingered, false, "the CLI exits once the smoke report is printed");
    assert.ok(!human.out.includes("\x1b"), "no terminal escapes on a pipe");

    const quiet = await buildWatched(dir, ["--offline", "--quiet"], 15);
    assert.equal(quiet.code, 0, quiet.err);
    assert.equal(quiet.err, "");
    assert.match(
      quiet.out,
      /^built \S+:0\.0\.0-t\w+, \S+:latest \([0-9a-f]{12}\) in [\d.]+s, \d+\/\d+ steps cached; smoke test PASS: \d+\/\d+ checks passed in [\d.]+s\n$/,
      `--quiet prints exactly one line:\n${quiet.out}`,
    );
    assert.equal(quiet.lingered, false);
  });

  test("a builder without registry access: exit 14, the npm error code and a hint to use --offline or an .npmrc", async () => {
    const { dir } = await created("examples/express-app", "noreg");
    // Nothing listens on port 9 inside the build container: npm ci fails at once with ECONNREFUSED.
    await fs.writeFile(path.join(dir, ".npmrc"), "registry=http://127.0.0.1:9/\nfetch-retries=0\n");
    const b = await buildJson(dir, []);
    assert.equal(b.exitCode, 14, tail(b.all));
    const error = b.events.find((e) => e.type === "error" && "kind" in e) as Record<string, any> | undefined;
    assert.equal(error?.kind, "buildFailed", tail(b.all));
    assert.equal(error?.errorCode, "ECONNREFUSED");
    assert.match(error?.instruction, /npm ci/);
    assert.match(error?.hint, /prodserver build --offline.*\.npmrc/);
    const human = await execa(process.execPath, [MAIN, "build"], { cwd: dir, reject: false, all: true, timeout: 300_000 });
    assert.equal(human.exitCode, 14);
    assert.match(String(human.stderr), /^hint: the builder could not reach the package registry \(ECONNREFUSED\)/m);
    assert.doesNotMatch(String(human.stderr), /^\s+at .*dist\/src\//m, "no stack trace of ours");
  });

  test("ts-app: exit 0 and typescript pruned from the image", async () => {
    const { dir, tags } = await created("examples/ts-app", "ts");
    const b = await buildJson(dir);
    assert.equal(b.exitCode, 0, tail(b.all));
    const id = (await docker.getImage(tags[0]).inspect()).Id;
    assert.equal(await pathInImage(docker, id, "/app/node_modules/hono", cleanup), true, "positive control");
    assert.equal(await pathInImage(docker, id, "/app/node_modules/typescript", cleanup), false, "typescript pruned");
  });

  test("broken-app: build exits 15 (smoke test failed) and prints the app's error", async () => {
    const { dir } = await created("test/fixtures/broken-app", "broken");
    const b = await buildJson(dir);
    assert.equal(b.exitCode, 15, tail(b.all));
    assert.equal((b.events.at(-1) as { kind?: string } | undefined)?.kind, "smokeFailed");
    assert.ok(b.smoke, `a smoke report is printed (the image itself builds):\n${tail(b.all)}`);
    assert.equal(b.smoke.ok, false);
    assert.match(`${b.smoke.logs?.stderr}\n${b.smoke.logs?.stdout}`, /BROKEN_APP_SENTINEL_4711/, "the report carries the app's error");
  });
});
