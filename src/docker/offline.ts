/**
 * Offline builds, for builders whose containers cannot reach a registry: everything the app's
 * package manager needs is fetched on the host into one folder that `prodserver build --offline`
 * ships in the build context as `.prodserver/offline/`, and the user's own Dockerfile is built
 * with build ARGs (the package managers' own settings, see `offlineArgs` in
 * src/generate/package-manager.ts) that point the install at it:
 *
 * | package manager | on the host (scratch copy of the manifests) | in the image |
 * |---|---|---|
 * | npm | `npm ci --ignore-scripts --cache npm-cache` | `npm_config_offline`, `npm_config_cache` |
 * | pnpm | corepack downloads pnpm into `corepack/`; `pnpm fetch --store-dir pnpm-store` | `COREPACK_HOME`, `COREPACK_ENABLE_NETWORK=0`, `npm_config_store_dir`, `npm_config_offline` |
 * | yarn 1 and 2+ | corepack downloads yarn into `corepack/`; `yarn install` with `YARN_CACHE_FOLDER=yarn-cache` | `COREPACK_HOME`, `YARN_CACHE_FOLDER`, `YARN_ENABLE_NETWORK=0` |
 *
 * For pnpm and yarn the npm cache also holds corepack itself, which Node 25+ images lack.
 * The folder is kept under `<cacheRoot>/offline/<key>`, key = sha256 of the manifests, lockfile
 * and registry config (and the host platform), so a rebuild reuses the same bytes and the image's
 * layer cache stays warm.
 *
 * Limitation: package managers fetch platform-specific optional dependencies (e.g.
 * `@esbuild/linux-x64`) for the host's os/cpu/libc; an image for another platform would miss
 * them. Build such images online.
 */
import { createHash } from "node:crypto";
import { existsSync, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import type { Description } from "../description/types.js";
import { COREPACK_VERSION, OFFLINE_DIR_IN_IMAGE, PM_DIRS, PM_FILES, packageManagerFacts } from "../generate/package-manager.js";
import { listContextFiles } from "./context.js";

/** Options of {@link fillOfflineCache}. */
export interface OfflineCacheOptions {
  /** Where caches live; default `$PRODSERVER_CACHE_DIR`, else `$XDG_CACHE_HOME/prodserver`, else `~/.cache/prodserver`. */
  cacheRoot?: string;
  /** Seconds before one package-manager run is abandoned (default 600). */
  timeoutSeconds?: number;
}

/** What {@link fillOfflineCache} made. */
export interface OfflineCache {
  /** The host folder shipped as `.prodserver/offline/`. */
  dir: string;
  /** Build ARGs for the Dockerfile (names from the package-manager facts' `offlineArgs`). */
  buildArgs: Record<string, string>;
  /** True when an existing folder for the same manifests was reused (no package manager ran). */
  reused: boolean;
  /** Seconds spent filling (0 when reused). */
  seconds: number;
}

/** Default root directory for prodserver's host-side caches. */
export function defaultCacheRoot(): string {
  if (process.env.PRODSERVER_CACHE_DIR) return process.env.PRODSERVER_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(xdg, "prodserver");
}

/**
 * The files under `root` a package manager reads (src/generate/package-manager.ts `PM_FILES` at
 * any depth, `PM_DIRS` whole), among those the build context would carry: what the Dockerfile's
 * manifests stage keeps. Sorted, POSIX, relative.
 */
export async function manifestFiles(root: string): Promise<string[]> {
  const names = new Set<string>(PM_FILES);
  const dirs = PM_DIRS.filter((p) => !p.startsWith(".prodserver"));
  return (await listContextFiles(root)).filter((f) => names.has(path.posix.basename(f)) || dirs.some((d) => f.startsWith(`${d}/`)));
}

/** Which lockfile the package manager needs, checked before anything is downloaded. */
const LOCKFILE: Record<Description["packageManager"], string[]> = {
  npm: ["package-lock.json", "npm-shrinkwrap.json"],
  pnpm: ["pnpm-lock.yaml"],
  yarn: ["yarn.lock"],
};

/** The build ARGs that point the install at the shipped folder, per package manager. */
function buildArgs(d: Description): Record<string, string> {
  const at = (p: string) => `${OFFLINE_DIR_IN_IMAGE}/${p}`;
  const args: Record<string, string> = { npm_config_offline: "true", npm_config_cache: at("npm-cache") };
  if (d.packageManager !== "npm") Object.assign(args, { COREPACK_HOME: at("corepack"), COREPACK_ENABLE_NETWORK: "0" });
  if (d.packageManager === "pnpm") args.npm_config_store_dir = at("pnpm-store");
  if (d.packageManager === "yarn") {
    Object.assign(args, { YARN_CACHE_FOLDER: at("yarn-cache"), YARN_ENABLE_GLOBAL_CACHE: "false", YARN_ENABLE_NETWORK: "false", YARN_ENABLE_OFFLINE_MODE: "true" });
  }
  // Every name must be declared in the Dockerfile, or docker warns that it was not consumed.
  const declared = new Set(packageManagerFacts(d).offlineArgs);
  for (const k of Object.keys(args)) if (!declared.has(k)) throw new Error(`offline build arg ${k} is not among the Dockerfile's ARGs`);
  return args;
}

/**
 * The environment for the package managers run on the host: this process's, without the
 * `npm_config_*` settings a parent package manager injects (`yarn prodserver build` sets
 * npm_config_registry to Yarn's registry), so they read the project's own .npmrc as the build in
 * the image will — the npm cache is keyed by registry URL — plus `extra`.
 */
function pmEnv(extra: Record<string, string>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_config_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** Run a package-manager command in the scratch project; its output tail goes into the error. */
async function run(what: string, file: string, args: string[], cwd: string, env: Record<string, string>, timeoutSeconds: number): Promise<void> {
  const r = await execa(file, args, { cwd, env: pmEnv(env), extendEnv: false, reject: false, timeout: timeoutSeconds * 1000, all: true });
  if (r.exitCode === undefined && r.signal === undefined) {
    // Not started at all: ENOENT for a missing corepack (Node 25+ ships none) or npm.
    throw new Error(`offline build: ${what} could not run ${file} (${r.shortMessage})${file === "corepack" ? "; install it with `npm install -g corepack`" : ""}`);
  }
  if (r.exitCode !== 0) {
    const tail = String(r.all ?? "")
      .split("\n")
      .slice(-15)
      .join("\n");
    throw new Error(`offline build: ${what} failed (${[file, ...args].join(" ")}: exit ${r.exitCode ?? r.signal}):\n${tail}`);
  }
}

/**
 * Fills (or reuses) the offline folder for the app described by `d`, whose build context root is
 * `root` (the app folder, or the workspace root).
 * @throws Error naming the missing lockfile (run the package manager there and commit it); Error
 *   with the package manager's output tail when a download fails (no network, a lockfile out of
 *   sync with package.json).
 */
export async function fillOfflineCache(root: string, d: Description, opts: OfflineCacheOptions = {}): Promise<OfflineCache> {
  const pm = d.packageManager;
  if (!LOCKFILE[pm].some((f) => existsSync(path.join(root, f)))) {
    throw new Error(`offline build: ${root} has no ${LOCKFILE[pm].join(" or ")}; run \`${pm} install\` there and commit the lockfile`);
  }
  const files = await manifestFiles(root);
  const hash = createHash("sha256").update(`${pm}\0${process.platform}-${process.arch}\0${COREPACK_VERSION}\0`);
  for (const f of files)
    hash
      .update(`${f}\0`)
      .update(await fs.readFile(path.join(root, f)))
      .update("\0");
  const key = hash.digest("hex").slice(0, 24);
  const cacheRoot = path.join(opts.cacheRoot ?? defaultCacheRoot(), "offline");
  const target = path.join(cacheRoot, key);
  const args = buildArgs(d);
  if (existsSync(path.join(target, ".complete"))) return { dir: target, buildArgs: args, reused: true, seconds: 0 };

  await fs.mkdir(cacheRoot, { recursive: true });
  const scratch = await fs.mkdtemp(path.join(cacheRoot, `.fill-${key}-`));
  const started = performance.now();
  try {
    const project = path.join(scratch, "project");
    for (const f of files) {
      await fs.mkdir(path.dirname(path.join(project, f)), { recursive: true });
      await fs.copyFile(path.join(root, f), path.join(project, f));
    }
    const out = path.join(scratch, "offline");
    await fs.mkdir(path.join(out, "npm-cache"), { recursive: true });
    await fillFor(d, project, out, opts.timeoutSeconds ?? 600);
    // The folder sits under the app in the image (/app/.prodserver/offline): without a package.json
    // of its own, an app's `"type": "module"` would make node load corepack's yarn.js as ESM.
    await fs.writeFile(path.join(out, "package.json"), '{ "type": "commonjs" }\n');
    for (const junk of ["npm-cache/_logs", "npm-cache/_update-notifier-last-checked", "npm-cache/_npx"]) {
      await fs.rm(path.join(out, junk), { recursive: true, force: true });
    }
    await fs.writeFile(path.join(out, ".complete"), "");
    try {
      await fs.rename(out, target);
    } catch (e) {
      // Another fill for the same manifests won the race: its folder is complete too.
      if (!existsSync(path.join(target, ".complete"))) throw e;
    }
    return { dir: target, buildArgs: args, reused: false, seconds: (performance.now() - started) / 1000 };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/** The package-manager runs that fill `out` for the scratch copy `project`. */
async function fillFor(d: Description, project: string, out: string, timeout: number): Promise<void> {
  const npmCache = path.join(out, "npm-cache");
  const base = { NODE_ENV: "development", npm_config_offline: "false", npm_config_cache: npmCache, npm_config_update_notifier: "false" };
  if (d.packageManager === "npm") {
    // Dev dependencies too: the image's build stage installs them.
    const a = ["ci", "--ignore-scripts", "--include=dev", "--include=optional", "--no-audit", "--no-fund", "--loglevel=error"];
    return run("filling the npm cache", "npm", a, project, base, timeout);
  }
  // corepack fetches pnpm/yarn from the registry npm uses for this project (.npmrc), not from
  // repo.yarnpkg.com, and never rewrites package.json.
  const registry = (await execa("npm", ["config", "get", "registry"], { cwd: project, env: pmEnv(base), extendEnv: false })).stdout.trim().replace(/\/+$/, "");
  const env = {
    ...base,
    COREPACK_HOME: path.join(out, "corepack"),
    COREPACK_NPM_REGISTRY: process.env.COREPACK_NPM_REGISTRY ?? registry,
    COREPACK_ENABLE_DOWNLOAD_PROMPT: "0",
    COREPACK_ENABLE_AUTO_PIN: "0",
  };
  await run("adding corepack to the npm cache", "npm", ["cache", "add", `corepack@${COREPACK_VERSION}`], project, env, timeout);
  await run(`downloading ${d.packageManager} with corepack`, "corepack", [d.packageManager, "--version"], project, env, timeout);
  if (d.packageManager === "pnpm") {
    await run("filling the pnpm store", "corepack", ["pnpm", "fetch", "--store-dir", path.join(out, "pnpm-store")], project, env, timeout);
    return;
  }
  const yarnEnv = { ...env, YARN_CACHE_FOLDER: path.join(out, "yarn-cache"), YARN_ENABLE_GLOBAL_CACHE: "false", YARN_ENABLE_TELEMETRY: "0", YARN_NODE_LINKER: "node-modules" };
  const v = (await execa("corepack", ["yarn", "--version"], { cwd: project, env: pmEnv(yarnEnv), extendEnv: false })).stdout.trim();
  const a = v.startsWith("1.") ? ["install", "--frozen-lockfile", "--ignore-scripts", "--non-interactive", "--production=false"] : ["install", "--immutable", "--mode=skip-build"];
  await run("filling the yarn cache", "corepack", ["yarn", ...a], project, yarnEnv, timeout);
}
