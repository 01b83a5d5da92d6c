/**
 * Server hooks, as Gunicorn's (`on_starting`, `when_ready`, ...): functions exported by name from
 * an `.mjs`/`.js` config file next to its settings, e.g.
 *
 * ```js
 * export default { workers: 4 };
 * export function when_ready(server) { server.log.info("up"); }
 * export async function post_worker_init(worker) { await warmCaches(); }
 * ```
 *
 * Arbiter hooks get `server` = {@link ServerView}; worker hooks get `worker` = {@link WorkerView}.
 * | hook | where | when |
 * |---|---|---|
 * | `on_starting(server)` | arbiter | before the sockets are bound |
 * | `when_ready(server)` | arbiter | sockets bound, before the workers start (as Gunicorn) |
 * | `on_reload(server)` | arbiter | on HUP, after the settings were re-read |
 * | `nworkers_changed(server, new, old)` | arbiter | the target number of workers changed (`old` null at start) |
 * | `pre_fork(server, worker)` | arbiter | just before forking a worker (`worker` = `{age, generation}`, no pid yet); not awaited |
 * | `child_exit(server, worker)` | arbiter | after a worker exited |
 * | `pre_exec(server)` | arbiter | on USR2, just before the new arbiter is started; not awaited |
 * | `on_exit(server)` | arbiter | just before the arbiter exits |
 * | `post_fork(server, worker)` | worker | sockets received (and user/group switched), before the app loads (`server` = `{pid, settings, log}` of the arbiter) |
 * | `post_worker_init(worker)` | worker | app loaded, before accepting; throwing = boot failure (exit 3) |
 * | `pre_request(worker, req)` | worker | before the app handles a request (not for health endpoints) |
 * | `post_request(worker, req, res)` | worker | after the response finished or the connection closed |
 * | `worker_int(worker)` | worker | on SIGINT/SIGQUIT, before the quick exit (bounded to 1 s) |
 * | `worker_abort(worker)` | worker | timed out: run synchronously on the paused, stuck main thread (via the watchdog's inspector session), bounded to 1 s, then SIGKILL; async parts never finish |
 * | `worker_exit(worker)` | worker | the worker process is about to exit (Gunicorn passes `(server, worker)`) |
 * A hook that throws (or rejects) is logged with its stack; only `post_worker_init` stops anything.
 */
import type { Logger } from "./log.js";
import type { Settings } from "./settings.js";

/** Hooks called in the arbiter process. */
export const ARBITER_HOOKS = ["on_starting", "when_ready", "on_reload", "nworkers_changed", "pre_fork", "pre_exec", "child_exit", "on_exit"] as const;
/** Hooks called in each worker process. */
export const WORKER_HOOKS = ["post_fork", "post_worker_init", "pre_request", "post_request", "worker_int", "worker_abort", "worker_exit"] as const;
/** Every supported hook name (Gunicorn's names). */
export type HookName = (typeof ARBITER_HOOKS)[number] | (typeof WORKER_HOOKS)[number];
/** Maximum declared parameters per hook (Gunicorn's `validate_callable(arity)`). */
const ARITY: Record<HookName, number> = {
  on_starting: 1,
  when_ready: 1,
  on_reload: 1,
  nworkers_changed: 3,
  pre_fork: 2,
  pre_exec: 1,
  child_exit: 2,
  on_exit: 1,
  post_fork: 2,
  post_worker_init: 1,
  pre_request: 2,
  post_request: 3,
  worker_int: 1,
  worker_abort: 1,
  worker_exit: 1,
};
/** A hook function; may return a promise (awaited, except pre/post_request). */
export type Hook = (...args: unknown[]) => unknown;
/** The hooks a config file defines. */
export type Hooks = Partial<Record<HookName, Hook>>;

/** What arbiter hooks see. */
export interface ServerView {
  pid: number;
  settings: Settings;
  log: Pick<Logger, "debug" | "info" | "warning" | "error">;
  workers: () => Array<{ pid: number; age: number; generation: number }>;
}

/** What worker hooks see. */
export interface WorkerView {
  pid: number;
  ppid: number;
  settings: Settings;
  log: Pick<Logger, "debug" | "info" | "warning" | "error">;
}

/**
 * Pick the hooks out of a config module's exports. Allowed exports: `default`, `settings` and
 * hook names. @throws Error naming the export for anything else or a wrong type/arity.
 */
export function hooksFrom(mod: Record<string, unknown>, file: string): Hooks {
  const out: Hooks = {};
  for (const [name, value] of Object.entries(mod)) {
    if (name === "default" || name === "settings") continue;
    if (!(name in ARITY)) throw new Error(`${name} (from ${file}): unknown export; a config file exports settings (default or \`settings\`) and hooks: ${Object.keys(ARITY).join(", ")}`);
    if (typeof value !== "function") throw new Error(`${name} (from ${file}): a hook must be a function`);
    const max = ARITY[name as HookName];
    if (value.length > max) throw new Error(`${name} (from ${file}): takes at most ${max} argument(s), declares ${value.length}`);
    out[name as HookName] = value as Hook;
  }
  return out;
}

/** Call a hook if defined; errors are logged, never thrown (except when `rethrow`). */
export async function callHook(hooks: Hooks, name: HookName, log: Logger, args: unknown[], rethrow = false): Promise<void> {
  const fn = hooks[name];
  if (!fn) return;
  try {
    await fn(...args);
  } catch (e) {
    if (rethrow) throw e;
    log.error(`Hook ${name} failed: ${(e as Error)?.message ?? String(e)}`, { stack: (e as Error)?.stack });
  }
}

/**
 * Call a synchronous hook (Gunicorn's `pre_fork`) if defined: a returned promise is not awaited
 * (its rejection is logged); a throw is logged, never rethrown.
 */
export function callHookSync(hooks: Hooks, name: HookName, log: Logger, args: unknown[]): void {
  const fn = hooks[name];
  if (!fn) return;
  const fail = (e: unknown) => log.error(`Hook ${name} failed: ${(e as Error)?.message ?? String(e)}`, { stack: (e as Error)?.stack });
  try {
    const r = fn(...args);
    if (r && typeof (r as Promise<unknown>).then === "function") (r as Promise<unknown>).then(undefined, fail);
  } catch (e) {
    fail(e);
  }
}
