// The published packages as users install them from a registry (the loopback one, ./support/registry.ts):
// - prodserver installs as one package with no dependencies (issue 9 item 3: an app lists it in its
//   production dependencies, so it must not bring the builder's into every image);
// - the installed runtime serves a fetch-handler app (Hono) and --metrics-bind with nothing else
//   installed (item 2: the fetch adapter and prom-client are inside the runtime bundle);
// - a Next.js app with prodserver added by `npm create prodserver` still passes `next build` (item 5).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "../support/docker.js";
import { freePort, until } from "../support/net.js";
import { npmrc, sharedRegistry, type Registry } from "../support/registry.js";
import { run } from "../support/install-paths.js";

let reg: Registry;
const dirs: string[] = [];

async function appDir(name: string, pkg: Record<string, unknown>, files: Record<string, string> = {}): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `prodserver-e2e-${name}-`));
  dirs.push(dir);
  await fs.writeFile(path.join(dir, ".npmrc"), npmrc(reg));
  await fs.writeFile(path.join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true, ...pkg }, null, 2));
  for (const [f, text] of Object.entries(files)) await fs.writeFile(path.join(dir, f), text);
  return dir;
}

/** Top-level package folders in node_modules (scopes expanded), sorted. */
async function installedPackages(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(dir, "node_modules"))) {
    if (e.startsWith(".")) continue;
    if (e.startsWith("@")) for (const s of await fs.readdir(path.join(dir, "node_modules", e))) out.push(`${e}/${s}`);
    else out.push(e);
  }
  return out.sort();
}

describe("the installed prodserver package", { timeout: 600_000 }, () => {
  before(async () => {
    reg = await sharedRegistry();
  });
  after(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));

  test("installs as one package with no dependencies; its runtime serves a Hono app and --metrics-bind", async (t) => {
    const app = 'import { Hono } from "hono";\nexport const app = new Hono().get("/", (c) => c.text("hono from the installed runtime"));\n';
    const dir = await appDir("installed-hono", { type: "module", dependencies: { prodserver: `^${reg.version}`, hono: "^4" } }, { "app.mjs": app });
    const started = performance.now();
    await run("npm", ["install", "--omit=dev", "--no-audit", "--no-fund"], dir);
    t.diagnostic(`npm install --omit=dev of prodserver + hono: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(await installedPackages(dir), ["hono", "prodserver"], "prodserver brought no dependencies");

    const port = await freePort();
    const metricsPort = await freePort();
    // The bin users run (`npx prodserver serve`), from the app folder, with nothing else installed.
    const child = spawn(path.join(dir, "node_modules/.bin/prodserver"), ["serve", "app.mjs#app", "--bind", `127.0.0.1:${port}`, "--metrics-bind", `127.0.0.1:${metricsPort}`, "--workers", "1"], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    child.stdout.on("data", (b) => (log += b));
    child.stderr.on("data", (b) => (log += b));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      await until(`the app on :${port}\n${log}`, 20_000, async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => null))?.ok ?? false);
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "hono from the installed runtime");
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(metrics, /^# TYPE \S+ (counter|histogram|gauge)$/m, metrics.slice(0, 500));
      assert.match(metrics, /status="200"/, "the request above was counted");
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, log);
    assert.doesNotMatch(log, /Cannot find (package|module)/, log);
  });

  test("a Next.js app (TypeScript) with prodserver added by `npm create prodserver` passes `next build`", async (t) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "prodserver-e2e-next-"));
    dirs.push(dir);
    await fs.cp(path.join(REPO_ROOT, "test/fixtures/description/next-app"), dir, { recursive: true });
    await fs.writeFile(path.join(dir, ".npmrc"), npmrc(reg));
    let started = performance.now();
    // Next and React straight from the public registry (npm's cache on this host keeps them warm);
    // prodserver from the test registry in .npmrc, as `npm create prodserver` adds it below.
    await run("npm", ["ci", "--no-audit", "--no-fund", "--registry", "https://registry.npmjs.org/"], dir);
    t.diagnostic(`next-app npm ci: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    // --no-verify: the app is not built yet (this test builds it after), so there is nothing to boot.
    await run("npm", ["create", "prodserver@latest", "--", "--yes", "--no-verify"], dir);
    await fs.access(path.join(dir, "prodserver.config.mjs"));
    assert.match(await fs.readFile(path.join(dir, "Dockerfile"), "utf8"), /^# Generated by prodserver from prodserver\.config\.mjs /);
    started = performance.now();
    const build = await run("npx", ["--no", "next", "build"], dir, { NEXT_TELEMETRY_DISABLED: "1" });
    t.diagnostic(`next build: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.match(String(build.all), /Compiled successfully|Generating static pages/);
    assert.match(String(build.all), /type|Linting|Checking validity of types|TypeScript/i, "next build type-checked the project");
  });
});
