/**
 * Stray errors in a worker: a promise rejection nobody handles, or an exception thrown where no
 * request handler can catch it (a timer, an event listener, a callback). Node's default is to
 * print the stack to stderr and exit, failing every other request the worker was serving.
 * Instead each one is written to the error log (a JSON line with `log_format: json`) with the
 * request it belongs to when known, counted (`prodserver_stray_errors_total{kind}`), and then,
 * by `stray_errors`:
 * - `log` (default): the worker keeps serving;
 * - `retire`: the worker stops accepting, finishes its requests and exits; the arbiter starts
 *   its replacement first (the recycle path, cause `stray_error`).
 *
 * The request is known through an AsyncLocalStorage entered around the app's handler
 * ({@link inRequest}): node runs `uncaughtException` and `unhandledRejection` listeners in the
 * async context of the failing callback or promise. Only where AsyncLocalStorage runs on
 * AsyncContextFrame (Node 24+, {@link NAMES_REQUESTS}): on Node 20 and 22 it runs on async_hooks,
 * whose callbacks for every async resource cost ~60 % more CPU per small request (hello world,
 * 2 workers side by side under the same load); there the log line names no request.
 */
import asyncHooks from "node:async_hooks";
import type { IncomingMessage } from "node:http";
import type { Logger } from "../log.js";
import type { Settings } from "../settings.js";
import type { WorkerMetrics } from "./metrics.js";

const requests = new asyncHooks.AsyncLocalStorage<IncomingMessage>();

/** Whether stray errors name their request: AsyncLocalStorage is the cheap AsyncContextFrame one (no async_hooks `_propagate`). */
export const NAMES_REQUESTS = typeof (asyncHooks.AsyncLocalStorage.prototype as { _propagate?: unknown })._propagate !== "function";

/** Run the app's handler for `req` so that stray errors it causes later name `req` (where {@link NAMES_REQUESTS}). */
export function inRequest<T>(req: IncomingMessage, fn: () => T): T {
  return NAMES_REQUESTS ? requests.run(req, fn) : fn();
}

/** The two kinds, as the metric's `kind` label. */
export type StrayKind = "unhandled_rejection" | "uncaught_exception";

/**
 * Install the worker's handlers (once per process). `retire(reason)` is called after each stray
 * error when `stray_errors` is `retire` (the caller makes it idempotent).
 */
export function catchStrayErrors(settings: Settings, log: Logger, metrics: WorkerMetrics | null, retire: (reason: string) => void): void {
  const handle = (kind: StrayKind, err: unknown) => {
    const req = requests.getStore();
    const request = req ? `${req.method} ${req.url}`.slice(0, 1024) : undefined;
    const what = kind === "unhandled_rejection" ? "Unhandled promise rejection" : "Uncaught exception";
    const message = err instanceof Error ? `${err.name}: ${err.message}` : `non-error value ${describe(err)}`;
    log.error(`${what}${request ? ` while handling ${JSON.stringify(request)}` : ""}: ${message}`, {
      stack: err instanceof Error ? err.stack : undefined,
      request,
      kind,
    });
    metrics?.strayError(kind);
    if (settings.stray_errors === "retire") retire(`${what.toLowerCase()} (stray_errors = retire)`);
  };
  process.on("uncaughtException", (err) => handle("uncaught_exception", err));
  process.on("unhandledRejection", (reason) => handle("unhandled_rejection", reason));
}

function describe(v: unknown): string {
  try {
    return JSON.stringify(v)?.slice(0, 200) ?? String(v);
  } catch {
    return String(v);
  }
}
