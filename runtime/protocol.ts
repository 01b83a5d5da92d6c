/**
 * How a worker is forked, and the IPC messages between the arbiter and its workers (node's
 * child_process IPC channel, JSON).
 *
 * File descriptors of a worker, as systemd's socket activation lays them out: 0 /dev/null,
 * 1-2 the arbiter's stdout/stderr, then one per listener from fd 3 on (the arbiter's listening
 * socket itself — so it exists before any app code runs; with reuse_port, the SO_REUSEPORT socket
 * of the worker's slot), then the IPC channel, then
 * the watchdog pipe ({@link forkLayout}).
 *
 * Boot: right after the fork the arbiter sends `boot` (settings, and per listener its fd and
 * TCP address); the worker loads the app, listens, -> `ready`.
 * Then the worker sends `hb` (heartbeat from its event loop) every {@link heartbeatInterval}.
 * Failure at boot: worker -> `boot-error` then exits 4 (app load) or 3 (other boot error).
 * Stop/reload/recycle use signals (TERM graceful, QUIT/INT quick, USR1 reopen logs), so that
 * `kill` from outside means the same as the arbiter asking.
 */
import type { TcpAddress } from "./listeners.js";
import type { Settings } from "./settings.js";

/** The first listener's fd in a worker (systemd's SD_LISTEN_FDS_START). */
export const FIRST_LISTENER_FD = 3;

/** Where things are in a worker forked with `listeners` listeners: the IPC channel's fd and the watchdog pipe's. */
export function forkLayout(listeners: number): { ipcFd: number; watchdogFd: number } {
  return { ipcFd: FIRST_LISTENER_FD + listeners, watchdogFd: FIRST_LISTENER_FD + listeners + 1 };
}

/** A listener as a worker gets it: an inherited listening socket's fd, and its TCP address (absent for a unix socket). */
export type ListenerSlot = { fd: number; tcp?: TcpAddress };

/** Exit code of a worker that failed to boot (Gunicorn's WORKER_BOOT_ERROR). */
export const WORKER_BOOT_ERROR = 3;
/** Exit code of a worker that could not load the app (Gunicorn's APP_LOAD_ERROR). */
export const APP_LOAD_ERROR = 4;

/** Arbiter -> worker messages. */
export type ToWorker =
  | { t: "boot"; settings: Settings; listeners: ListenerSlot[]; generation: number; age: number }
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
