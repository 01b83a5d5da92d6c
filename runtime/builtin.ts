/**
 * Load a node built-in module when it is first used, not at start-up.
 *
 * The runtime ships as one esbuild ESM bundle, and esbuild hoists every static `import` of a
 * built-in to the top of that bundle, so every process (arbiter and each worker) would load every
 * built-in that any part of the runtime uses: `child_process` in workers, `worker_threads` in the
 * arbiter, `dns/promises` everywhere. A synchronous `require` at the point of use keeps each one in
 * the processes that need it (each costs about 0.5-2 ms of start-up CPU and 0.5-2 MB of RSS).
 *
 * @example const { fork } = builtin<typeof import("node:child_process")>("node:child_process");
 * @throws Error when `name` is not a module node can load (a programming error).
 */
import nodeModule from "node:module";

const load = nodeModule.createRequire(import.meta.url);

/** `require(name)` for a `node:` built-in, typed by the caller. */
export function builtin<T>(name: `node:${string}`): T {
  return load(name) as T;
}
