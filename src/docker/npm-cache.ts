/**
 * Offline builds: fill an npm cache on the host so `npm ci --offline --cache /tmp/npm-cache` can
 * run inside a container that cannot reach the registry. The cache is an npm `_cacache` directory
 * (cacache, content-addressed) filled by a real `npm ci --ignore-scripts` of the project's
 * package.json + lockfile in a scratch folder, so it holds exactly the tarballs the lockfile pins
 * (dev dependencies included: the image's build stage needs them).
 *
 * Caches are kept under `<cacheRoot>/npm/<key>` where key = sha256(lockfile + platform), so a
 * second build reuses the same bytes and the image's `COPY .prodserver/npm-cache` layer stays cached.
 *
 * Limitation: npm fetches platform-specific optional dependencies (e.g. `@esbuild/linux-x64`) for
 * the host's os/cpu/libc; an image for another platform (a macOS or arm64 host building linux/amd64)
 * would miss them, and `npm ci --offline` fails naming the package. Build such images online.
 */
import { createHash } from "node:crypto";
import { existsSync, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";

/** Options of {@link fillNpmCache}. */
export interface FillNpmCacheOptions {
  /** Where caches live; default `$PRODSERVER_CACHE_DIR`, else `$XDG_CACHE_HOME/prodserver`, else `~/.cache/prodserver`. */
  cacheRoot?: string;
  /** npm executable (default `npm` on PATH). */
  npm?: string;
  /** Seconds before the fill is abandoned (default 600). */
  timeoutSeconds?: number;
}

/** Result of {@link fillNpmCache}. */
export interface NpmCacheResult {
  /** The cache directory (an npm `--cache` dir; contains `_cacache/`). */
  dir: string;
  /** true when an existing cache for the same lockfile was reused (no npm run). */
  reused: boolean;
  /** Seconds spent (0 when reused). */
  seconds: number;
}

/** Default root directory for prodserver's host-side caches. */
export function defaultCacheRoot(): string {
  if (process.env.PRODSERVER_CACHE_DIR) return process.env.PRODSERVER_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(xdg, "prodserver");
}

/**
 * Detects the lockfile that decides the package manager.
 * @throws Error "offline builds support npm only for now" for pnpm/yarn projects, and an Error
 *   telling to run `npm install` when package.json or package-lock.json is missing.
 */
export async function npmLockfile(dir: string): Promise<string> {
  if (!existsSync(path.join(dir, "package.json"))) {
    throw new Error(`offline build: ${path.join(dir, "package.json")} not found`);
  }
  for (const other of ["pnpm-lock.yaml", "yarn.lock", "bun.lockb", "bun.lock"]) {
    if (existsSync(path.join(dir, other))) {
      throw new Error(
        `offline build: found ${other}; offline builds support npm only for now ` +
          "(build with network access, or switch the project to npm with a package-lock.json)",
      );
    }
  }
  for (const name of ["npm-shrinkwrap.json", "package-lock.json"]) {
    if (existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error(`offline build: ${dir} has no package-lock.json; run \`npm install\` there and commit the lockfile`);
}

/**
 * Fills (or reuses) an npm cache holding every package the project's lockfile pins.
 * Runs `npm ci --ignore-scripts --include=dev --include=optional --cache <tmp> --no-audit --no-fund`
 * in a scratch copy of package.json + lockfile (the app folder is not touched), then renames the
 * cache into place atomically, so a present cache dir is always complete.
 * @param dir app folder with package.json and package-lock.json (or npm-shrinkwrap.json)
 * @throws Error from {@link npmLockfile}; Error with npm's stderr tail when `npm ci` fails (e.g. no
 *   network, or a lockfile out of sync with package.json).
 */
export async function fillNpmCache(dir: string, opts: FillNpmCacheOptions = {}): Promise<NpmCacheResult> {
  const lockfile = await npmLockfile(dir);
  const lock = await fs.readFile(lockfile);
  const pkg = await fs.readFile(path.join(dir, "package.json"));
  const key = createHash("sha256").update(lock).update(`\0${process.platform}-${process.arch}`).digest("hex").slice(0, 24);
  const root = path.join(opts.cacheRoot ?? defaultCacheRoot(), "npm");
  const target = path.join(root, key);
  if (existsSync(path.join(target, "_cacache"))) return { dir: target, reused: true, seconds: 0 };

  await fs.mkdir(root, { recursive: true });
  const scratch = await fs.mkdtemp(path.join(root, `.fill-${key}-`));
  const started = performance.now();
  try {
    const project = path.join(scratch, "project");
    await fs.mkdir(project);
    await fs.writeFile(path.join(project, "package.json"), pkg);
    await fs.writeFile(path.join(project, path.basename(lockfile)), lock);
    const cache = path.join(scratch, "cache");
    // A project without dependencies downloads nothing; the cache dir must exist all the same.
    await fs.mkdir(path.join(cache, "_cacache"), { recursive: true });
    const r = await execa(
      opts.npm ?? "npm",
      ["ci", "--ignore-scripts", "--include=dev", "--include=optional", "--cache", cache, "--no-audit", "--no-fund", "--loglevel=error"],
      {
        cwd: project,
        reject: false,
        timeout: (opts.timeoutSeconds ?? 600) * 1000,
        env: { NODE_ENV: "development", npm_config_offline: "false" },
        all: true,
      },
    );
    if (r.exitCode !== 0) {
      const tail = String(r.all ?? "").split("\n").slice(-15).join("\n");
      throw new Error(`offline build: filling the npm cache for ${dir} failed (npm ci exit ${r.exitCode ?? r.signal}):\n${tail}`);
    }
    // Only the content store is needed; index-v5 + content-v2 live under _cacache.
    await fs.rm(path.join(cache, "_logs"), { recursive: true, force: true });
    await fs.rm(path.join(cache, "_update-notifier-last-checked"), { force: true });
    try {
      await fs.rename(cache, target);
    } catch (e) {
      // Another fill for the same lockfile won the race: its cache is complete too.
      if (!existsSync(path.join(target, "_cacache"))) throw e;
    }
    return { dir: target, reused: false, seconds: (performance.now() - started) / 1000 };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}
