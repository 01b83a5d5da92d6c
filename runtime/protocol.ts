/**
 * The IPC messages between the arbiter and its workers (node's child_process IPC channel, JSON).
 *
 * Boot: right after the fork the arbiter sends `boot` (settings), then one `listener` message per bound
 * socket, each carrying the socket handle (or, with reuse_port, the address the worker binds its
 * own SO_REUSEPORT socket to); worker loads the app, listens, -> `ready`.
 * Then the worker sends `hb` (heartbeat from its event loop) every {@link heartbeatInterval}.
 * Failure at boot: worker -> `boot-error` then exits 4 (app load) or 3 (other boot error).
 * Stop/reload/recycle use signals (TERM graceful, QUIT/INT quick, USR1 reopen logs), so that
 * `kill` from outside means the same as the arbiter asking.
 */
import type { OwnBind } from "./listeners.js";
import type { Settings } from "./settings.js";

/** The fd of the watchdog pipe in a worker (the 5th stdio entry of its fork; worker/watchdog.ts). */
export const WATCHDOG_FD = 4;

/** Exit code of a worker that failed to boot (Gunicorn's WORKER_BOOT_ERROR). */
export const WORKER_BOOT_ERROR = 3;
/** Exit code of a worker that could not load the app (Gunicorn's APP_LOAD_ERROR). */
export const APP_LOAD_ERROR = 4;

/** Arbiter -> worker messages (the `listener` message carries a socket handle). */
export type ToWorker =
  | { t: "boot"; settings: Settings; listeners: number; generation: number; age: number }
  | { t: "listener"; index: number; own?: OwnBind }
  /** metrics_bind only: send `registry.getMetricsAsJSON()` back as `{t:"metrics", id, data}`. */
  | { t: "metrics"; id: number };

/** Worker -> arbiter messages. */
export type FromWorker =
  | { t: "ready" }
  | { t: "hb" }
  /** Replace me (the arbiter starts the replacement first); `reason` is for the log. For `memory` and `stray_error` the worker is already draining. */
  | { t: "recycle"; cause: "max_requests" | "memory" | "stray_error"; reason: string }
  | { t: "boot-error"; code: number; message: string; stack?: string; module?: string }
  /** An answer to the arbiter's `metrics` request `id`; `id` 0: the worker's last registry, sent as it exits. */
  | { t: "metrics"; id: number; data: unknown };

/** Milliseconds between heartbeats for a given `timeout` (seconds): a quarter of it, 100 ms..1 s. */
export function heartbeatInterval(timeout: number): number {
  return timeout > 0 ? Math.min(1000, Math.max(100, (timeout * 1000) / 4)) : 1000;
}
