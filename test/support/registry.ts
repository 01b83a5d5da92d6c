/**
 * An npm registry on loopback for the tests that install packages the way users do: verdaccio
 * (pinned by test/support/verdaccio/package-lock.json, installed once into a cache folder keyed by
 * that lockfile, not a devDependency: most runs would install it for nothing) on 127.0.0.1 with the
 * public registry as its uplink (the host reaches it; its
 * TLS is intercepted here, so verdaccio gets NODE_EXTRA_CA_CERTS), a throwaway user, and this
 * repository's two packages published to it: `prodserver` (the repo root, built) and
 * `create-prodserver` (packages/create-prodserver). Those two are local-only (no uplink), so the
 * copies published here are the ones everything installs.
 *
 * One registry serves a whole test run: test/run.mjs starts it with `node
 * dist/test/support/registry.js` before the e2e suite and hands its address to every test file in
 * PRODSERVER_TEST_REGISTRY; a test file run alone starts its own ({@link sharedRegistry}).
 * Containers reach it only with host networking (`docker build --network host`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, promises as fs, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { REPO_ROOT } from "./docker.js";
import { freePort } from "./net.js";

/** A running registry: its URL (`http://127.0.0.1:PORT/`) and a publish token. */
export interface Registry {
  url: string;
  token: string;
  /** prodserver's version as published (the repo's package.json version). */
  version: string;
}

/** The manifest and lockfile that pin verdaccio. */
const VERDACCIO_PIN = path.join(REPO_ROOT, "test/support/verdaccio");

/**
 * verdaccio's bin, installed by `npm ci` from {@link VERDACCIO_PIN} into
 * `$CACHE/verdaccio-<lockfile hash>` (CACHE as test/support/base-image.sh: /var/cache/prodserver,
 * else the temp folder) on first use; later runs on the machine reuse it.
 */
async function verdaccioBin(): Promise<string> {
  const lock = await fs.readFile(path.join(VERDACCIO_PIN, "package-lock.json"));
  const key = createHash("sha256").update(lock).digest("hex").slice(0, 16);
  let cache = process.env.CACHE ?? "/var/cache/prodserver";
  if (
    !(await fs
      .mkdir(cache, { recursive: true })
      .then(() => fs.access(cache, 2 /* W_OK */))
      .then(
        () => true,
        () => false,
      ))
  )
    cache = os.tmpdir();
  const dir = path.join(cache, `verdaccio-${key}`);
  const bin = path.join(dir, "node_modules/verdaccio/bin/verdaccio");
  if (existsSync(bin)) return bin;
  const staging = await fs.mkdtemp(path.join(cache, `.verdaccio-${key}-`));
  try {
    await fs.copyFile(path.join(VERDACCIO_PIN, "package.json"), path.join(staging, "package.json"));
    await fs.writeFile(path.join(staging, "package-lock.json"), lock);
    await execa("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: staging });
    await fs.rename(staging, dir).catch((e) => {
      if (!existsSync(bin)) throw e; // another run installed it first
    });
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
  return bin;
}
const UPLINK = "https://registry.npmjs.org/";

/** The `.npmrc` text that points npm, pnpm and Yarn 1 at `reg` (with its token, for publishing). */
export function npmrc(reg: Registry): string {
  const host = reg.url.replace(/^http:/, "");
  return `registry=${reg.url}\n${host}:_authToken=${reg.token}\n`;
}

/**
 * The `.yarnrc.yml` lines that point Yarn 2+ at `reg`: plain http on 127.0.0.1 allowed, and the
 * two packages just published exempt from Yarn's age gate (npmMinimalAgeGate quarantines versions
 * younger than a day).
 */
export function yarnrc(reg: Registry): string {
  return `npmRegistryServer: "${reg.url.replace(/\/$/, "")}"\nunsafeHttpWhitelist:\n  - "127.0.0.1"\n` + `npmPreapprovedPackages:\n  - prodserver\n  - create-prodserver\n`;
}

function config(storage: string): string {
  const local = (name: string) => `  '${name}':\n    access: $all\n    publish: $authenticated\n`;
  return [
    `storage: ${storage}`,
    "auth:\n  htpasswd:\n    file: ./htpasswd\n    max_users: 10",
    `uplinks:\n  npmjs:\n    url: ${UPLINK}\n    timeout: 60s\n    maxage: 30m\n    cache: true`,
    "packages:",
    local("prodserver") + local("create-prodserver").replace(/\n$/, ""),
    "  '**':\n    access: $all\n    publish: $authenticated\n    proxy: npmjs",
    "max_body_size: 50mb",
    "log: { type: stdout, format: pretty, level: warn }",
    "",
  ].join("\n");
}

/**
 * Starts verdaccio on a free loopback port in a fresh folder, creates a user and publishes both
 * packages (the repo must be built: `npm run build`).
 * @returns the registry and a `stop` that kills verdaccio and removes its folder.
 * @throws Error with verdaccio's output when it does not answer within 30 s, or npm's when a publish fails.
 */
export async function startRegistry(): Promise<Registry & { stop(): Promise<void>; stopAtExit(): void }> {
  if (!existsSync(path.join(REPO_ROOT, "dist/pkg/prodserver.mjs"))) throw new Error("dist/pkg is missing: run `npm run build` first");
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "prodserver-registry-"));
  await fs.writeFile(path.join(dir, "config.yaml"), config(path.join(dir, "storage")));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const env = { ...process.env };
  const ca = "/etc/ssl/certs/ca-certificates.crt";
  if (!env.NODE_EXTRA_CA_CERTS && existsSync(ca)) env.NODE_EXTRA_CA_CERTS = ca;
  const child: ChildProcess = spawn(process.execPath, [await verdaccioBin(), "--config", path.join(dir, "config.yaml"), "--listen", `127.0.0.1:${port}`], {
    cwd: dir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (b) => (output += b));
  child.stderr!.on("data", (b) => (output += b));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`${url}-/ping`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`verdaccio did not answer on ${url}:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const user = `prodserver-test-${process.pid}`;
    const res = await fetch(`${url}-/user/org.couchdb.user:${user}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: user, password: `pw-${process.pid}-${Date.now()}` }),
    });
    const token = ((await res.json()) as { token?: string }).token;
    if (!res.ok || !token) throw new Error(`verdaccio refused the test user (${res.status}):\n${output}`);
    // A version of its own per registry, above every earlier one (`0.1.<ms since epoch>`, tagged
    // latest): npx keeps what it once installed for `create-prodserver@latest`, and an earlier
    // build's prodserver must not satisfy the range create-prodserver asks for.
    const base = JSON.parse(await fs.readFile(path.join(REPO_ROOT, "package.json"), "utf8")).version as string;
    const version = base.replace(/^(\d+\.\d+)\..*$/, `$1.${Date.now()}`);
    const reg = { url, token, version };
    await publish(reg, REPO_ROOT, dir, (pkg) => ({ ...pkg, version }));
    await publish(reg, path.join(REPO_ROOT, "packages/create-prodserver"), dir, (pkg) => ({
      ...pkg,
      version,
      dependencies: { ...pkg.dependencies, prodserver: `^${version}` },
    }));
    // For a registry owned by a test process: it must not keep the process alive, and goes with it.
    const stopAtExit = () => {
      child.unref();
      (child.stdout as unknown as { unref(): void }).unref();
      (child.stderr as unknown as { unref(): void }).unref();
      process.once("exit", () => {
        child.kill("SIGTERM");
        rmSync(dir, { recursive: true, force: true });
      });
    };
    return { ...reg, stop, stopAtExit };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * `npm publish` of the package in `pkgDir` to `reg` (a user config holding the token): packed as
 * npm packs it, its package.json rewritten by `edit` (the version), published from the unpacked copy.
 */
async function publish(reg: Registry, pkgDir: string, scratch: string, edit: (pkg: any) => unknown): Promise<void> {
  const userconfig = path.join(scratch, "publish.npmrc");
  await fs.writeFile(userconfig, npmrc(reg));
  const staged = await fs.mkdtemp(path.join(scratch, "publish-"));
  const packed = await execa("npm", ["pack", "--json", "--pack-destination", staged], { cwd: pkgDir });
  const tarball = path.join(staged, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0].filename);
  await execa("tar", ["-xzf", tarball, "-C", staged]);
  const manifest = path.join(staged, "package/package.json");
  await fs.writeFile(manifest, JSON.stringify(edit(JSON.parse(await fs.readFile(manifest, "utf8"))), null, 2));
  const r = await execa("npm", ["publish", "--registry", reg.url, "--userconfig", userconfig, "--tag", "latest"], {
    cwd: path.join(staged, "package"),
    reject: false,
    all: true,
    env: { npm_config_provenance: "false" },
  });
  if (r.exitCode !== 0) throw new Error(`npm publish of ${pkgDir} failed (exit ${r.exitCode}):\n${r.all}`);
}

let own: Promise<Registry> | null = null;

/**
 * The run's registry: the one test/run.mjs started (PRODSERVER_TEST_REGISTRY, JSON
 * `{url, token, version}`), else one started for this process and stopped when it exits.
 */
export async function sharedRegistry(): Promise<Registry> {
  const env = process.env.PRODSERVER_TEST_REGISTRY;
  if (env) return JSON.parse(env) as Registry;
  own ??= startRegistry().then((reg) => {
    reg.stopAtExit();
    return { url: reg.url, token: reg.token, version: reg.version };
  });
  return own;
}

// `node dist/test/support/registry.js`: start, print the JSON line test/run.mjs reads, serve until SIGTERM.
if (process.argv[1] && path.resolve(process.argv[1]) === path.join(REPO_ROOT, "dist/test/support/registry.js")) {
  const reg = await startRegistry();
  process.stdout.write(`${JSON.stringify({ url: reg.url, token: reg.token, version: reg.version })}\n`);
  const quit = () => void reg.stop().then(() => process.exit(0));
  process.once("SIGTERM", quit);
  process.once("SIGINT", quit);
}
