/**
 * A worker process (Gunicorn's `workers/base.py` + a sync/async worker's run loop, in Node terms):
 * receives its settings and the arbiter's listening sockets over IPC, imports the app once, serves
 * it with `node:http` on every socket, answers the health endpoints itself, writes the access log,
 * and sends a heartbeat from its event loop.
 *
 * Signals: TERM -> graceful drain (stop accepting, finish in-flight requests, answer further
 * requests on keep-alive connections with `Connection: close`, let idle ones close, exit 0);
 * INT/QUIT -> quick exit; USR1 -> reopen log files; HUP/TTIN/TTOU/WINCH ignored (they are for
 * the arbiter). The worker also drains and exits if the IPC channel to the arbiter closes.
 */
import type http from "node:http";
import net from "node:net";
import type { Socket } from "node:net";
import { accessJson, compileAccess, countBytes } from "./access-log.js";
import { AppLoadError, loadApp, type RequestListener, type UpgradeListener } from "./app-loader.js";
import { procName, readConfigFile } from "./config.js";
import { answerHealth } from "./health.js";
import { limits, maxHeaderSize, requestGuard } from "./request-guard.js";
import { bindOwn, listenOn, type NativeHandle, type OwnBind } from "./listeners.js";
import { LogFile, Logger, captureOutput } from "./log.js";
import { APP_LOAD_ERROR, WORKER_BOOT_ERROR, heartbeatInterval, type FromWorker, type ToWorker } from "./protocol.js";
import type { Settings } from "./settings.js";
import { setCurrentRequest, startWatchdog } from "./watchdog.js";
import { callHook, type Hooks, type WorkerView } from "./hooks.js";
import { within } from "./worker-process.js";
import { resolveOwner, switchOwner, tlsOptions } from "./owner.js";
import { builtin } from "./builtin.js";

function send(msg: FromWorker, cb?: () => void): void {
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

/** Wait for the `boot` message and all listener handles (or, with reuse_port, where to bind our own). */
function receiveBoot(): Promise<{ boot: Extract<ToWorker, { t: "boot" }>; handles: Array<NativeHandle | OwnBind> }> {
  return new Promise((resolve, reject) => {
    let boot: Extract<ToWorker, { t: "boot" }> | undefined;
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

const kInflight = Symbol("prodserver.inflight");
type TrackedSocket = Socket & { [kInflight]?: number };

/** Run this process as a worker; never resolves (the worker exits the process itself). */
export async function runWorker(): Promise<never> {
  for (const sig of ["SIGHUP", "SIGTTIN", "SIGTTOU", "SIGWINCH", "SIGUSR2"] as const) process.on(sig, () => {});
  let settings: Settings;
  let received: Array<NativeHandle | OwnBind>;
  try {
    const got = await receiveBoot();
    settings = got.boot.settings;
    received = got.handles;
  } catch (e) {
    process.stderr.write(`prodserver worker ${process.pid}: ${(e as Error).message}\n`);
    process.exit(WORKER_BOOT_ERROR);
  }
  const watchdog = settings.timeout > 0;
  const name = procName(settings);
  process.title = `prodserver: worker [${name}]`;
  const errorFile = new LogFile(settings.errorlog, 2, "errorlog");
  const log = new Logger(errorFile, settings.loglevel, settings.log_format, "worker");
  if (settings.capture_output) captureOutput(log);
  /** Report a boot failure to the arbiter (which logs it) and exit with `code`. */
  const bootFail = (code: number, e: unknown, modulePath?: string): never => {
    const err = e as Error;
    const cause = (err as { cause?: unknown }).cause as Error | undefined;
    // The app's own error is what helps; our AppLoadError's stack would only show the loader.
    const stack = cause?.stack ?? (cause !== undefined ? String(cause) : e instanceof AppLoadError ? undefined : err?.stack);
    send({ t: "boot-error", code, message: err?.message ?? String(e), stack, module: modulePath }, () => process.exit(code));
    setTimeout(() => process.exit(code), 2000).unref();
    return undefined as never;
  };
  let tls: ReturnType<typeof tlsOptions> = null;
  try {
    tls = tlsOptions(settings);
  } catch (e) {
    log.error((e as Error).message);
    process.exit(WORKER_BOOT_ERROR);
  }
  let handles: NativeHandle[];
  try {
    // reuse_port: our own SO_REUSEPORT socket, bound while we still are the arbiter's user.
    handles = received.map((h) => ("address" in h ? bindOwn(h) : h));
  } catch (e) {
    return bootFail(WORKER_BOOT_ERROR, e);
  }
  try {
    // As Gunicorn: the sockets are already ours; drop root before any app code runs.
    const owner = resolveOwner(settings.user, settings.group);
    if (owner) switchOwner(owner);
  } catch (e) {
    log.error(`Cannot switch the worker to user ${settings.user ?? "-"} / group ${settings.group ?? "-"}: ${(e as Error).message}`);
    process.exit(WORKER_BOOT_ERROR);
  }
  const accessFile = settings.accesslog ? new LogFile(settings.accesslog, 1, "accesslog", true) : null;
  const formatLine = settings.log_format === "json" ? accessJson : compileAccess(settings.access_log_format);

  let listener: RequestListener;
  let upgrade: UpgradeListener | undefined;
  let hooks: Hooks = {};
  const view: WorkerView = { pid: process.pid, ppid: process.ppid, settings, log };
  try {
    if (settings.config && !settings.config.endsWith(".json")) hooks = (await readConfigFile(settings.config, process.cwd())).hooks;
  } catch (e) {
    return bootFail(WORKER_BOOT_ERROR, e);
  }
  await callHook(hooks, "post_fork", log, [{ pid: process.ppid, settings, log }, view]);
  try {
    ({ listener, upgrade } = await loadApp(settings.app ?? ""));
  } catch (e) {
    return bootFail(e instanceof AppLoadError ? APP_LOAD_ERROR : WORKER_BOOT_ERROR, e, (e as AppLoadError).modulePath);
  }
  // worker_abort runs from the watchdog thread on the paused main thread when the arbiter times us out (watchdog.ts).
  if (hooks.worker_abort) (globalThis as Record<symbol, unknown>)[Symbol.for("prodserver.workerAbort")] = () => void callHook(hooks, "worker_abort", log, [view]);
  try {
    await callHook(hooks, "post_worker_init", log, [view], true);
  } catch (e) {
    return bootFail(WORKER_BOOT_ERROR, new Error(`post_worker_init hook failed: ${(e as Error)?.message ?? String(e)}`, { cause: e }));
  }

  let draining = false;
  let requests = 0;
  const sockets = new Set<TrackedSocket>();
  const inflight = new Set<http.ServerResponse>();

  const guard = requestGuard(settings);
  const metrics = settings.metrics_bind ? (await import("./metrics-worker.js")).workerMetrics() : null;
  // max_requests + jitter (Gunicorn: per worker, max_requests + randint(0, jitter)).
  const maxRequests = settings.max_requests > 0 ? settings.max_requests + Math.floor(Math.random() * (settings.max_requests_jitter + 1)) : Infinity;
  let recycleAsked = false;
  const recycle = (reason: string) => {
    if (recycleAsked || draining) return;
    recycleAsked = true;
    log.info(`Autorestarting worker: ${reason}`);
    send({ t: "recycle", reason });
  };
  const memTimer =
    settings.max_worker_memory > 0
      ? setInterval(() => {
          const rss = process.memoryUsage.rss();
          if (rss > settings.max_worker_memory) recycle(`max_worker_memory (rss ${rss} > ${settings.max_worker_memory} bytes)`);
        }, 1000).unref()
      : null;
  void memTimer;

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const sock = req.socket as TrackedSocket;
    sock[kInflight] = (sock[kInflight] ?? 0) + 1;
    inflight.add(res);
    if (draining || settings.keepalive === 0) res.shouldKeepAlive = false;
    // Clocks and byte counting only for the access log.
    const startNs = accessFile ? process.hrtime.bigint() : 0n;
    const start = accessFile ? Date.now() : 0;
    const bytes = accessFile ? countBytes(res) : () => 0;
    res.once("close", () => {
      inflight.delete(res);
      sock[kInflight] = (sock[kInflight] ?? 1) - 1;
      if (accessFile) {
        const rec = { req, res, start, durationNs: process.hrtime.bigint() - startNs, bytes: bytes() };
        accessFile.write(formatLine(rec));
      }
      if (draining && sock[kInflight] === 0 && !sock.destroyed) sock.destroySoon();
    });
    if (guard(req, res)) return;
    if (answerHealth(req, res, () => draining)) return;
    if (metrics) metrics.observe(req, res);
    // Only requests that reach the app count for max_requests (health probes do not).
    if (++requests >= maxRequests) recycle(`served ${requests} requests (max_requests ${settings.max_requests} + jitter ${maxRequests - settings.max_requests})`);
    if (hooks.pre_request) void callHook(hooks, "pre_request", log, [view, req]);
    if (hooks.post_request) res.once("close", () => void callHook(hooks, "post_request", log, [view, req, res]));
    const fail = (e: unknown) => {
      log.error(`Error handling request ${req.method} ${req.url}`, { stack: (e as Error)?.stack ?? String(e) });
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain", connection: "close" });
        res.end("Internal Server Error");
      } else res.destroy();
    };
    if (watchdog) setCurrentRequest(req);
    try {
      const r = listener(req, res) as Promise<unknown> | undefined;
      if (r && typeof r.then === "function") r.then(undefined, fail);
    } catch (e) {
      fail(e);
    }
    if (watchdog) setCurrentRequest(null);
  };

  const servers = handles.map(() => {
    const opts = { keepAliveTimeout: settings.keepalive * 1000, maxHeaderSize: maxHeaderSize(settings) };
    // node:http here, node:https only with TLS: the bundle's static imports would load in the arbiter too (builtin.ts).
    const s = tls ? builtin<typeof import("node:https")>("node:https").createServer({ ...opts, ...tls }, handler) : builtin<typeof import("node:http")>("node:http").createServer(opts, handler);
    s.keepAliveTimeout = settings.keepalive * 1000;
    s.maxHeadersCount = limits(settings).fields + 1; // one more than allowed, so the guard can see the excess
    s.maxConnections = settings.worker_connections;
    s.on("error", (e) => log.error(`Server error: ${e.message}`)); // e.g. EMFILE on accept: keep serving
    // With TLS the request's socket is the TLSSocket, so track that one (in-flight counts live on it).
    s.on(tls ? "secureConnection" : "connection", (sock: TrackedSocket) => {
      sockets.add(sock);
      sock.once("close", () => {
        sockets.delete(sock);
        maybeExit();
      });
    });
    // WebSocket and other upgrades go to the app's upgrade handler; without one: 501, socket closed.
    s.on("upgrade", (req, sock: Socket, head: Buffer) => {
      if (upgrade) upgrade(req, sock, head);
      else sock.end("HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    });
    s.on("clientError", (err: NodeJS.ErrnoException, sock: Socket) => {
      if (sock.writable && !sock.destroyed && err.code !== "ECONNRESET") {
        const status = err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : err.code === "HPE_HEADERS_TIMEOUT" || err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
        sock.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      } else sock.destroy();
    });
    return s;
  });
  try {
    await Promise.all(servers.map((s, i) => listenOn(s, handles[i], settings.backlog)));
  } catch (e) {
    return bootFail(WORKER_BOOT_ERROR, new Error(`cannot listen: ${(e as Error).message}`));
  }

  const hb = setInterval(() => send({ t: "hb" }), heartbeatInterval(settings.timeout));
  let exiting = false;
  const exit = (code: number) => {
    if (exiting) return;
    exiting = true;
    clearInterval(hb);
    accessFile?.close();
    if (!hooks.worker_exit) process.exit(code);
    void within(callHook(hooks, "worker_exit", log, [view]), 2000).then(() => process.exit(code));
  };
  function maybeExit() {
    if (draining && sockets.size === 0) exit(0);
  }

  /** Graceful drain (TERM, recycle, reload, arbiter gone). */
  const drain = (reason: string) => {
    if (draining) return;
    draining = true;
    log.info(`Worker draining (${reason})`);
    send({ t: "draining", reason });
    // Stop accepting without http.Server.close()'s immediate closeIdleConnections(): an idle
    // keep-alive connection whose client is just sending its next request would be reset.
    // Instead every further response says `Connection: close`, and idle connections end after
    // min(keepalive, graceful_timeout - 1) seconds.
    for (const s of servers) net.Server.prototype.close.call(s);
    for (const res of inflight) if (!res.headersSent) res.shouldKeepAlive = false;
    const idleAfter = Math.max(0, Math.min(settings.keepalive, settings.graceful_timeout - 1)) * 1000;
    setTimeout(() => {
      for (const sock of sockets) if (!sock[kInflight]) sock.destroySoon();
    }, idleAfter).unref();
    setTimeout(() => {
      log.warning(`Worker still had ${inflight.size} request(s) in flight after graceful_timeout; exiting`);
      exit(1);
    }, settings.graceful_timeout * 1000 + 500).unref();
    maybeExit();
  };
  let interrupted = false;
  const quick = () => {
    if (interrupted) return;
    interrupted = true;
    if (hooks.worker_int) void within(callHook(hooks, "worker_int", log, [view]), 1000).then(stopNow);
    else stopNow();
  };
  const stopNow = () => {
    draining = true;
    for (const s of servers) net.Server.prototype.close.call(s);
    for (const sock of sockets) sock.destroy();
    setTimeout(() => exit(0), 100);
  };

  process.on("SIGTERM", () => drain("SIGTERM"));
  process.on("SIGINT", quick);
  process.on("SIGQUIT", quick);
  process.on("SIGUSR1", () => {
    try {
      errorFile.reopen();
      accessFile?.reopen();
    } catch (e) {
      log.error(`Reopening log files failed: ${(e as Error).message}`);
    }
  });
  process.on("disconnect", () => drain("the arbiter went away"));
  send({ t: "ready" });
  // The watchdog thread (a second V8 isolate, ~65 ms of CPU to boot) starts once the worker
  // serves, so it does not compete with the boot of this worker and its siblings for the CPU;
  // on the next loop turn, after the poll phase that accepts waiting connections (their requests
  // are read on the turn after, so no handler can block the loop before the thread exists;
  // a later start, e.g. a 100 ms timer, lost the stack of a request that blocked at once).
  if (watchdog) setImmediate(startWatchdog);
  log.debug(`Worker ready, serving ${settings.app}`);
  return new Promise<never>(() => {
    void requests;
  });
}
