/**
 * Arbiter side: one worker process as the arbiter sees it, and how it is forked:
 * `node [flags] ENTRY __worker` with the listeners from fd 3 on, then the IPC channel and the
 * watchdog pipe (protocol.ts `forkLayout`; worker/watchdog.ts), as the leader of its own process
 * group.
 */
import type { ChildProcess } from "node:child_process";
import { builtin } from "../builtin.js";
import { workerCacheEnv } from "../compile-cache.js";
import { slotHandle, tcpName, type Listener } from "../listeners.js";
import { FIRST_LISTENER_FD, forkLayout, type FromWorker, type ListenerSlot, type ToWorker } from "../protocol.js";
import type { Logger } from "../log.js";

/**
 * Where a worker is in its life, as the arbiter tracks it (one field; Gunicorn keeps the same
 * facts in `worker.booted`, `worker.aborted` and its WORKERS table):
 *
 * | state | meaning | next |
 * |---|---|---|
 * | `booting` | forked; loading the app, not yet serving | `serving`, or exits (a boot failure) |
 * | `serving` | said `ready`; counted as capacity | `recycling`, `retiring`, `killed` |
 * | `recycling` | asked to be replaced (max_requests: still serves until its replacement is ready; max_worker_memory, a stray error: already draining, may exit first) | `retiring`, `killed`, exits |
 * | `retiring` | sent TERM (or QUIT) by the arbiter; draining | exits |
 * | `killed` | SIGKILLed for a timeout | exits |
 */
export type WorkerState = "booting" | "serving" | "recycling" | "retiring" | "killed";

/**
 * Why the arbiter ended a worker, kept for the exit log line and the restart metric:
 * `timeout` (no heartbeat), `max_requests` / `memory` / `stray_error` (it asked to be recycled), `reload` (an
 * older generation after HUP), `rollback` (a new generation that failed to boot), `ttou` (scaled
 * down), `stop` (the arbiter is stopping).
 */
export type EndCause = "timeout" | "max_requests" | "memory" | "stray_error" | "reload" | "rollback" | "ttou" | "stop";

/** The arbiter's record of a worker. Times are milliseconds since the epoch. */
export interface WorkerRec {
  child: ChildProcess;
  pid: number;
  /** Spawn order (Gunicorn's `worker.age`): the oldest is retired first. */
  age: number;
  /**
   * Its place among the `workers` (0..workers-1): a replacement takes the slot of the worker it
   * replaces. With reuse_port it names the SO_REUSEPORT socket the worker accepts on.
   */
  slot: number;
  /** The configuration generation it was forked with (0 at start, +1 per accepted HUP). */
  generation: number;
  state: WorkerState;
  /** When it said `ready`; null while booting. */
  readyAt: number | null;
  /** When the arbiter last heard from it (any message counts as a heartbeat). */
  lastHb: number;
  /** Set when the arbiter decided to end it (see {@link EndCause}). */
  endCause?: EndCause;
  /** What the worker reported before exiting from a failed boot. */
  bootError?: Extract<FromWorker, { t: "boot-error" }>;
}

/** True while the worker counts towards the current capacity or will (booting, serving). */
export function isLive(w: WorkerRec): boolean {
  return w.state === "booting" || w.state === "serving" || w.state === "recycling";
}

/**
 * Node flags for workers: the arbiter's own (`--max-old-space-size`, `--enable-source-maps`, ...)
 * minus those that only make sense once per process tree or would change what runs
 * (`--eval`, `--input-type`, `--test`, `--inspect` ports, `--watch`).
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i];
    if (/^(-e|-p|--eval|--print)$/.test(a)) {
      i++;
      continue;
    }
    if (/^(--input-type|--test|--inspect|--debug|--watch|--check|-c$)/.test(a)) continue;
    out.push(a);
  }
  return out;
}

/**
 * Fork a worker of `generation` as the `age`-th spawned, in `slot`, with the arbiter's listening
 * sockets as its fds 3.. (with reuse_port, the slot's own socket of each TCP listener:
 * listeners.ts `slotHandle`); `rawEnv` (`KEY=value` items, Gunicorn's `raw_env`) is added to the
 * worker's environment, and `NODE_COMPILE_CACHE` (compile-cache.ts). Returns the record (`pid` -1
 * when the fork failed) and the listener slots for the boot message.
 * @throws Error `bind ADDR: reason` when a new reuse_port slot's socket cannot be bound
 */
export function forkWorker(
  entry: string,
  at: { age: number; slot: number; generation: number },
  listeners: readonly Listener[],
  rawEnv: readonly string[] = [],
): { rec: WorkerRec; slots: ListenerSlot[] } {
  const handles = listeners.map((l) => slotHandle(l, at.slot));
  const env = workerCacheEnv({ ...process.env });
  for (const kv of rawEnv) env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
  const { fork } = builtin<typeof import("node:child_process")>("node:child_process");
  const slots: ListenerSlot[] = handles.map((h, i) => ({ fd: FIRST_LISTENER_FD + i, tcp: tcpName(h) ?? undefined }));
  // detached: the worker leads a process group of its own (setsid), so a timeout kill reaches its children (signalWorker).
  const child = fork(entry, ["__worker"], {
    stdio: ["ignore", "inherit", "inherit", ...handles.map((h) => h.fd), "ipc", "pipe"],
    serialization: "json",
    execArgv: workerExecArgv(),
    env,
    detached: true,
  });
  // The watchdog pipe: a worker killed with a stack request unread in its end makes our read
  // fail with ECONNRESET; unhandled, that 'error' event would take the arbiter down.
  (child.stdio[forkLayout(listeners.length).watchdogFd] as NodeJS.ReadWriteStream | null)?.on("error", () => {});
  return { rec: { child, pid: child.pid ?? -1, ...at, state: "booting", readyAt: null, lastHb: Date.now() }, slots };
}

/**
 * Send `sig` to a worker; a worker that is already gone is not an error. SIGKILL goes to the
 * worker's whole process group (workers are forked as group leaders), so the children it started
 * (`execSync("sleep 30")`, a spawned tool) die with it instead of lingering as orphans.
 */
export function signalWorker(w: WorkerRec, sig: NodeJS.Signals): void {
  if (sig === "SIGKILL") {
    try {
      process.kill(-w.pid, sig);
    } catch {
      /* no such group (already gone): fall through to the pid */
    }
  }
  try {
    process.kill(w.pid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * Retire a worker for `cause`: mark it `retiring`, send TERM (it drains: stops accepting, finishes
 * its requests) and SIGKILL it if it has not exited `graceSeconds` later (Gunicorn's
 * `graceful_timeout`).
 */
export function retireWorker(w: WorkerRec, cause: EndCause, graceSeconds: number, log: Logger): void {
  w.state = "retiring";
  w.endCause = cause;
  log.debug(`Retiring worker ${w.pid} (generation ${w.generation}, ${cause})`);
  signalWorker(w, "SIGTERM");
  setTimeout(() => {
    if (w.child.exitCode !== null || w.child.signalCode !== null) return;
    log.warning(`Worker ${w.pid} did not stop within graceful_timeout; killing it`);
    signalWorker(w, "SIGKILL");
  }, graceSeconds * 1000).unref();
}

/** Send `msg` over the worker's IPC channel; a worker that is gone or going is logged (debug), not an error. */
export function sendToWorker(w: WorkerRec, msg: ToWorker, log: Logger): void {
  const fail = (e: Error | null) => e && log.debug(`IPC to ${w.pid}: ${e.message}`);
  try {
    w.child.send(msg, fail);
  } catch (e) {
    fail(e as Error);
  }
}
