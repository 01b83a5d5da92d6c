/**
 * A worker process (Gunicorn's `workers/base.py`: `init_process()` then the run loop, in Node
 * terms). {@link runWorker} boots in named steps, each of which may fail; every failure takes
 * the one path {@link bootFailed}: report `boot-error` to the arbiter, exit 4 (the app could
 * not load) or 3 (any other boot failure).
 *
 * | step | what |
 * |---|---|
 * | receive | the `boot` message (settings) and one `listener` message per socket (worker/../protocol.ts) |
 * | open logs | error log (+ capture_output), access log |
 * | sockets | reuse_port: bind our own SO_REUSEPORT socket (before dropping privileges) |
 * | identity | `user`/`group`: drop root before any app code runs; read TLS files first |
 * | hooks | import the config file's hooks; `post_fork` |
 * | app | load the app (app-loader.ts); `post_worker_init` |
 * | serve | one server per socket (http-server.ts) through the request pipeline (pipeline.ts) |
 * | ready | `ready` to the arbiter, heartbeat, watchdog thread, signal handlers |
 *
 * Signals once serving: TERM -> graceful drain; INT/QUIT -> quick stop (drain.ts); USR1 ->
 * reopen log files; HUP/TTIN/TTOU/WINCH/USR2 are the arbiter's and ignored here. The worker
 * also drains when the IPC channel to the arbiter closes.
 */
import { AppLoadError, loadApp } from "./app-loader.js";
import { flushCompileCache } from "../compile-cache.js";
import { Drain } from "./drain.js";
import { watchFdLimit } from "./fd-limit.js";
import { hardenContext } from "./harden.js";
import { serveHandles } from "./http-server.js";
import { makePipeline } from "./pipeline.js";
import { catchStrayErrors } from "./stray-errors.js";
import { startWatchdog } from "./watchdog.js";
import { procName, readConfigFile } from "../config.js";
import { callHook, type Hooks, type WorkerView } from "../hooks.js";
import { bindOwn, type NativeHandle, type OwnBind } from "../listeners.js";
import { LogFile, Logger, captureOutput } from "../log.js";
import { resolveOwner, switchOwner, tlsOptions } from "../owner.js";
import { APP_LOAD_ERROR, WORKER_BOOT_ERROR, heartbeatInterval, type FromWorker, type ToWorker } from "../protocol.js";
import type { Settings } from "../settings.js";

type BootMessage = Extract<ToWorker, { t: "boot" }>;

/** A boot step failed: `code` is the exit code (3 or 4); `module` names the app module when known. */
class BootError extends Error {
  constructor(
    readonly code: number,
    message: string,
    options?: { cause?: unknown },
    readonly module?: string,
  ) {
    super(message, options);
    this.name = "BootError";
  }
}

/** Run `step`; any error it throws becomes a {@link BootError} with `code` (AppLoadError: 4). */
async function step<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof BootError) throw e;
    if (e instanceof AppLoadError) throw new BootError(APP_LOAD_ERROR, e.message, { cause: e.cause }, e.modulePath);
    throw new BootError(WORKER_BOOT_ERROR, `${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

/** Send a message to the arbiter; `cb` runs once it is written (or could not be). */
export function send(msg: FromWorker, cb?: () => void): void {
  if (process.connected && process.send) {
    try {
      process.send(msg, undefined, {}, () => cb?.());
      return;
    } catch {
      /* channel closed */
    }
  }
  cb?.();
}

/** Wait for the `boot` message and every listener handle (or, with reuse_port, where to bind our own). */
function receiveBoot(): Promise<{ boot: BootMessage; handles: Array<NativeHandle | OwnBind> }> {
  return new Promise((resolve, reject) => {
    let boot: BootMessage | undefined;
    const handles: Array<NativeHandle | OwnBind> = [];
    const onMessage = (msg: ToWorker, handle?: unknown) => {
      if (msg?.t === "boot") boot = msg;
      else if (msg?.t === "listener" && (handle || msg.own)) handles[msg.index] = msg.own ?? (handle as NativeHandle);
      if (boot && handles.filter(Boolean).length === boot.listeners) {
        process.off("message", onMessage);
        resolve({ boot, handles });
      }
    };
    process.on("message", onMessage);
    process.once("disconnect", () => reject(new Error("the arbiter went away before the worker booted")));
  });
}

/**
 * The one boot-failure path: tell the arbiter (which logs it) and exit with the error's code.
 * The app's own error is what helps; our AppLoadError's stack would only show the loader.
 */
function bootFailed(e: BootError): never {
  const cause = e.cause as Error | undefined;
  const stack = cause?.stack ?? (cause !== undefined ? String(cause) : e.code === APP_LOAD_ERROR ? undefined : e.stack);
  send({ t: "boot-error", code: e.code, message: e.message, stack, module: e.module }, () => process.exit(e.code));
  setTimeout(() => process.exit(e.code), 2000).unref();
  return undefined as never;
}

/** Run this process as a worker; never resolves (the worker exits the process itself). */
export async function runWorker(): Promise<never> {
  for (const sig of ["SIGHUP", "SIGTTIN", "SIGTTOU", "SIGWINCH", "SIGUSR2"] as const) process.on(sig, () => {});
  try {
    await boot();
  } catch (e) {
    bootFailed(e instanceof BootError ? e : new BootError(WORKER_BOOT_ERROR, (e as Error)?.message ?? String(e), { cause: e }));
  }
  return new Promise<never>(() => {});
}

/** The boot steps (see the module doc); throws BootError. */
async function boot(): Promise<void> {
  const { boot: msg, handles: received } = await step("receiving the sockets", receiveBoot);
  const settings: Settings = msg.settings;
  process.title = `prodserver: worker [${procName(settings)}]`;
  const { errorFile, accessFile, log } = await step("opening the log files", () => openLogs(settings));
  // reuse_port: our own SO_REUSEPORT socket, bound while we still are the arbiter's user.
  const handles = await step("binding the worker's socket", () => received.map((h) => ("address" in h ? bindOwn(h) : h)));
  const tls = await step("reading certfile/keyfile", () => tlsOptions(settings));
  await step(`switching to user ${settings.user ?? "-"} / group ${settings.group ?? "-"}`, () => dropPrivileges(settings));
  const view: WorkerView = { pid: process.pid, ppid: process.ppid, settings, log };
  const hooks = await step("loading the config file's hooks", () => loadHooks(settings));
  await callHook(hooks, "post_fork", log, [{ pid: process.ppid, settings, log }, view]);
  const app = await step("loading the app", () => loadApp(settings.app ?? ""));
  // worker_abort runs from the watchdog thread on the paused main thread when the arbiter times us out (watchdog.ts).
  if (hooks.worker_abort) (globalThis as Record<symbol, unknown>)[Symbol.for("prodserver.workerAbort")] = () => void callHook(hooks, "worker_abort", log, [view]);
  await step("post_worker_init hook failed", () => callHook(hooks, "post_worker_init", log, [view], true));

  const heartbeat = setInterval(() => send({ t: "hb" }), heartbeatInterval(settings.timeout));
  const metrics = settings.metrics_bind ? (await import("./metrics.js")).workerMetrics() : null;
  const drain = new Drain(settings, log, hooks, view, () => {
    clearInterval(heartbeat);
    accessFile?.close();
    // The arbiter keeps a gone worker's counters in its sums: give it the final ones (id 0).
    if (metrics) return metrics.snapshot().then((data) => new Promise<void>((resolve) => send({ t: "metrics", id: 0, data }, resolve)));
  });
  const recycle = recycler(log, drain);
  const pipeline = makePipeline({ settings, log, hooks, view, drain, accessFile, metrics, onMaxRequests: (n, limit) => recycle("max_requests", `served ${n} requests (max_requests ${settings.max_requests} + jitter ${limit - settings.max_requests})`) });
  watchMemory(settings, recycle);
  const hardened = hardenContext(settings, log, metrics);
  await step("cannot listen", () => serveHandles(handles, settings, tls, log, drain, (req, res) => pipeline(req, res, app.listener), app.upgrade, hardened));
  catchStrayErrors(settings, log, metrics, (reason) => recycle("stray_error", reason));

  process.on("SIGTERM", () => drain.graceful("SIGTERM"));
  process.on("SIGINT", () => drain.quick());
  process.on("SIGQUIT", () => drain.quick());
  process.on("SIGUSR1", () => reopenLogs(log, errorFile, accessFile));
  process.on("disconnect", () => drain.graceful("the arbiter went away"));
  send({ t: "ready" });
  // The watchdog thread (a second V8 isolate, ~65 ms of CPU to boot) starts once the worker
  // serves, so it does not compete with the boot of this worker and its siblings for the CPU;
  // on the next loop turn, after the poll phase that accepts waiting connections (their requests
  // are read on the turn after, so no handler can block the loop before the thread exists).
  if (settings.timeout > 0) setImmediate(startWatchdog);
  setImmediate(() => watchFdLimit(settings, log, metrics)); // reads /proc: off the way to the first request
  // The bundle and the app, compiled: for the workers that boot after this one (compile-cache.ts).
  setTimeout(flushCompileCache, 1000).unref();
  log.debug(`Worker ready, serving ${settings.app}`);
}

function openLogs(settings: Settings): { errorFile: LogFile; accessFile: LogFile | null; log: Logger } {
  const errorFile = new LogFile(settings.errorlog, 2, "errorlog");
  const log = new Logger(errorFile, settings.loglevel, settings.log_format, "worker");
  if (settings.capture_output) captureOutput(log);
  const accessFile = settings.accesslog ? new LogFile(settings.accesslog, 1, "accesslog", true) : null;
  return { errorFile, accessFile, log };
}

function reopenLogs(log: Logger, errorFile: LogFile, accessFile: LogFile | null): void {
  try {
    errorFile.reopen();
    accessFile?.reopen();
  } catch (e) {
    log.error(`Reopening log files failed: ${(e as Error).message}`);
  }
}

/** As Gunicorn: the sockets are already ours; drop root before any app code runs. */
function dropPrivileges(settings: Settings): void {
  const owner = resolveOwner(settings.user, settings.group);
  if (owner) switchOwner(owner);
}

async function loadHooks(settings: Settings): Promise<Hooks> {
  if (!settings.config || settings.config.endsWith(".json")) return {};
  return (await readConfigFile(settings.config, process.cwd())).hooks;
}

type RecycleCause = Extract<FromWorker, { t: "recycle" }>["cause"];

/**
 * Ask the arbiter once to replace this worker (it starts the replacement first, and retires this
 * one once the replacement is ready). After a stray error (`stray_errors: retire`) the worker also
 * stops accepting at once and drains (`drainNow`): the other workers, or the listen backlog, take
 * new connections meanwhile.
 */
function recycler(log: Logger, drain: Drain): (cause: RecycleCause, reason: string, drainNow?: boolean) => void {
  let asked = false;
  return (cause, reason, drainNow = cause === "stray_error") => {
    if (drain.draining) return;
    if (!asked) {
      asked = true;
      log.info(`Autorestarting worker: ${reason}`);
      send({ t: "recycle", cause, reason });
    }
    if (drainNow) drain.graceful(reason);
  };
}

/** How often `max_worker_memory` reads the RSS, in milliseconds. */
const MEMORY_CHECK_MS = 100;
/** Share of `max_worker_memory` at which a worker asks for its replacement (and serves on). */
const MEMORY_EARLY = 0.9;

/**
 * `max_worker_memory`: read the RSS every {@link MEMORY_CHECK_MS}. At {@link MEMORY_EARLY} of the
 * limit the worker asks for its replacement and serves on; over the limit it stops accepting at
 * once and drains, so it grows by no more than a check interval's worth whether or not the
 * replacement is ready yet (a worker that grows slowly is usually replaced before it gets there).
 */
function watchMemory(settings: Settings, recycle: (cause: RecycleCause, reason: string, drainNow?: boolean) => void): void {
  const limit = settings.max_worker_memory;
  if (limit <= 0) return;
  const t = setInterval(() => {
    const rss = process.memoryUsage.rss();
    if (rss <= limit * MEMORY_EARLY) return;
    const over = rss > limit;
    if (over) clearInterval(t);
    recycle("memory", `max_worker_memory (rss ${rss} > ${over ? "" : "90 % of "}${limit} bytes)`, over);
  }, MEMORY_CHECK_MS);
  t.unref();
}
