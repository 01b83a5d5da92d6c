/**
 * Node's module compile cache (Node >= 22.1; `module.enableCompileCache`, `NODE_COMPILE_CACHE`):
 * V8 code caches of the modules a process loads, on disk, so the next process that loads them
 * skips parsing and compiling. Every worker loads the runtime bundle and then the app — the same
 * files each time a worker starts, restarts, is recycled or reloaded — so workers run with
 * `NODE_COMPILE_CACHE` set ({@link workerCacheEnv}) and write their cache once they serve
 * ({@link flushCompileCache}), for the workers that start after them. The arbiter's own bundle is
 * cached only when `NODE_COMPILE_CACHE` is already set where it starts (a unit's `Environment=`,
 * a Dockerfile `ENV`): node reads it before any of the runtime's code runs.
 *
 * Node 20 has no compile cache: there the variable is ignored and nothing changes. The cache is
 * keyed by node version and file contents, so a stale entry is never used. Set
 * `NODE_DISABLE_COMPILE_CACHE=1` to turn it off.
 */
import nodeModule from "node:module";
import os from "node:os";
import path from "node:path";

/** Where workers keep the cache unless `NODE_COMPILE_CACHE` says otherwise. */
export function defaultCacheDir(): string {
  return path.join(os.tmpdir(), "prodserver-compile-cache");
}

/** `env` for a worker: `NODE_COMPILE_CACHE` set to {@link defaultCacheDir} unless set (or disabled) already. */
export function workerCacheEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.NODE_COMPILE_CACHE !== undefined || env.NODE_DISABLE_COMPILE_CACHE) return env;
  return { ...env, NODE_COMPILE_CACHE: defaultCacheDir() };
}

/** Write what this process compiled so far to the cache now (no-op without a compile cache). */
export function flushCompileCache(): void {
  const flush = (nodeModule as { flushCompileCache?: () => void }).flushCompileCache;
  try {
    flush?.();
  } catch {
    /* a cache directory we cannot write: it only costs the next boot its speed-up */
  }
}
