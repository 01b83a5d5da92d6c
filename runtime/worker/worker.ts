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
import { AppLoadError } from "./app-loader.js";
import { AppSignals } from "./app-signals.js";
import { startApp } from "./app-start.js";
import { flushCompileCache } from "../compile-cache.js";
import { Drain } from "./drain.js";
import { watchFdLimit } from "./fd-limit.js";
import { harden, hardenContext } from "./harden.js";
import { serveHandler } from "./http-server.js";
import { ListenCapture, type ServedAddress } from "./listen-capture.js";
import { serveCaptured } from "./listen-mode.js";
import { makePipeline } from "./pipeline.js";
import { catchStrayErrors } from "./stray-errors.js";
import { startWatchdog } from "./watchdog.js";
import { procName, readConfigFile } from "../config.js";
import { callHook, type Hooks, type WorkerView } from "../hooks.js";
import { LogFile, Logger, captureOutput } from "../log.js";
import { resolveOwner, switchOwner, tlsOptions } from "../owner.js";
import { APP_LOAD_ERROR, FIRST_LISTENER_FD, WORKER_BOOT_ERROR, forkLayout, heartbeatInterval, type FromWorker, type ListenerSlot, type ToWorker } from "../protocol.js";
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

/** Wait for the `boot` message (settings, and where each listener is). */
function receiveBoot(): Promise<BootMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: ToWorker) => {
      if (msg?.t !== "boot") return;
      process.off("message", onMessage);
      resolve(msg);
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
  const msg = await step("receiving the settings", receiveBoot);
  const settings: Settings = msg.settings;
  const title = `prodserver: worker [${procName(settings)}]`;
  process.title = title;
  // From here on the event loop runs: an app that takes long to start is not a stuck worker.
  const heartbeat = setInterval(() => send({ t: "hb" }), heartbeatInterval(settings.timeout));
  const { errorFile, accessFile, log } = await step("opening the log files", () => openLogs(settings));
  const targets = msg.listeners.map((l) => l.fd);
  const tls = await step("reading certfile/keyfile", () => tlsOptions(settings));
  await step(`switching to user ${settings.user ?? "-"} / group ${settings.group ?? "-"}`, () => dropPrivileges(settings));
  const view: WorkerView = { pid: process.pid, ppid: process.ppid, settings, log };
  const hooks = await step("loading the config file's hooks", () => loadHooks(settings));
  await callHook(hooks, "post_fork", log, [{ pid: process.ppid, settings, log }, view]);

  const appSignals = new AppSignals();
  appSignals.install();
  const capture = new ListenCapture(servedAddress(msg.listeners), targets, log, settings.app_port);
  capture.install();
  setListenEnv(capture.served, msg.listeners);
  const deadline = (settings.timeout > 0 ? settings.timeout : 30) * 1000;
  const app = await step("loading the app", () => startApp(settings.app ?? "", capture, deadline, log));
  // The title is the runtime's, as Gunicorn's: an app that names its process (Next.js's
  // `next-server (v16)` in startServer) does not hide its workers from ps, pkill and the smoke test.
  process.title = title;
  delete process.env.LISTEN_FDS; // consumed, as sd_listen_fds(unset_environment): not for the app's children
  delete process.env.LISTEN_PID;
  // worker_abort runs from the watchdog thread on the paused main thread when the arbiter times us out (watchdog.ts).
  if (hooks.worker_abort) (globalThis as Record<symbol, unknown>)[Symbol.for("prodserver.workerAbort")] = () => void callHook(hooks, "worker_abort", log, [view]);
  await step("post_worker_init hook failed", () => callHook(hooks, "post_worker_init", log, [view], true));

  const metrics = settings.metrics_bind ? (await import("./metrics.js")).workerMetrics() : null;
  const drain = new Drain(settings, log, hooks, view, appSignals, () => {
    clearInterval(heartbeat);
    accessFile?.close();
    // The arbiter keeps a gone worker's counters in its sums: give it the final ones (id 0).
    if (metrics) return metrics.snapshot().then((data) => new Promise<void>((resolve) => send({ t: "metrics", id: 0, data }, resolve)));
  });
  const recycle = recycler(log, drain);
  const pipeline = makePipeline({
    settings,
    log,
    hooks,
    view,
    drain,
    accessFile,
    metrics,
    onMaxRequests: (n, limit) => recycle("max_requests", `served ${n} requests (max_requests ${settings.max_requests} + jitter ${limit - settings.max_requests})`),
  });
  watchMemory(settings, recycle);
  const hardened = hardenContext(settings, log, metrics);
  if (app.mode === "handler") await step("cannot listen", () => serveHandler(targets, settings, tls, log, drain, (req, res) => pipeline(req, res, app.listener), app.upgrade, hardened));
  else await step("cannot listen", () => serveCaptured(targets, settings, tls, log, drain, capture, pipeline, (s) => harden(s, hardened)));
  catchStrayErrors(settings, log, metrics, (reason) => recycle("stray_error", reason));

  appSignals.runtimeOn("SIGTERM", () => drain.graceful("SIGTERM"));
  appSignals.runtimeOn("SIGINT", () => drain.quick("SIGINT"));
  appSignals.runtimeOn("SIGQUIT", () => drain.quick("SIGQUIT"));
  appSignals.runtimeOn("SIGUSR1", () => reopenLogs(log, errorFile, accessFile));
  appSignals.runtimeOn("disconnect", () => drain.graceful("the arbiter went away"));
  send({ t: "ready" });
  // The watchdog thread (a second V8 isolate, ~65 ms of CPU to boot) starts once the worker
  // serves, so it does not compete with the boot of this worker and its siblings for the CPU;
  // on the next loop turn, after the poll phase that accepts waiting connections (their requests
  // are read on the turn after, so no handler can block the loop before the thread exists).
  if (settings.timeout > 0) setImmediate(() => startWatchdog(forkLayout(msg.listeners.length).watchdogFd));
  setImmediate(() => watchFdLimit(settings, log, metrics)); // reads /proc: off the way to the first request
  // The bundle and the app, compiled: for the workers that boot after this one (compile-cache.ts).
  setTimeout(flushCompileCache, 1000).unref();
  log.debug(`Worker ready, serving ${settings.app} (${app.mode === "listen" ? "listen mode: the app's own server" : "handler mode"})`);
}

/**
 * The address a captured listen reports (listen-capture.ts): the first TCP listener's; with
 * only unix sockets, `PORT` from the environment (else 8000, Gunicorn's default port) on 0.0.0.0.
 */
function servedAddress(listeners: readonly ListenerSlot[]): ServedAddress {
  for (const l of listeners) {
    if (l.tcp) return { address: l.tcp.address, family: l.tcp.family === 6 ? "IPv6" : "IPv4", port: l.tcp.port };
  }
  const port = Number(process.env.PORT);
  return { address: "0.0.0.0", family: "IPv4", port: Number.isInteger(port) && port > 0 && port < 65536 ? port : 8000 };
}

/**
 * The conventions apps read to know where to listen, set before the app loads: `PORT`, `HOST`,
 * `HOSTNAME` (Next.js), `NITRO_PORT`/`NITRO_HOST` (Nuxt), and systemd's `LISTEN_FDS=1` /
 * `LISTEN_PID` (SvelteKit's adapter-node, NestJS's recipe) when fd 3 is an inherited listener.
 */
function setListenEnv(served: ServedAddress, listeners: readonly ListenerSlot[]): void {
  const env = process.env;
  env.PORT = env.NITRO_PORT = String(served.port);
  env.HOST = env.HOSTNAME = env.NITRO_HOST = served.address;
  if (listeners[0]?.fd === FIRST_LISTENER_FD) {
    env.LISTEN_FDS = "1";
    env.LISTEN_PID = String(process.pid);
  }
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
