/**
 * How a worker stops (Gunicorn's `workers/base.py` signal handlers, in Node terms):
 *
 * - {@link Drain.graceful} (TERM, recycle, the arbiter gone): stop accepting without
 *   `http.Server.close()`'s immediate `closeIdleConnections()` — an idle keep-alive connection
 *   whose client is just sending its next request would be reset. Instead every further response
 *   says `Connection: close`, idle connections end after min(keepalive, graceful_timeout - 1)
 *   seconds, and the worker exits 0 once no connection is left (1 if requests are still in
 *   flight after `graceful_timeout`).
 * - {@link Drain.quick} (INT, QUIT): the `worker_int` hook (bounded to 1 s), then every
 *   connection is destroyed and the worker exits.
 * Before the process exits, `beforeExit` runs (bounded to 0.5 s), the app's own handlers for the
 * signal that stopped the worker run (app-signals.ts; their async work gets up to 1 s), and the
 * `worker_exit` hook (bounded to 2 s).
 */
import net from "node:net";
import type http from "node:http";
import { callHook, type Hooks, type WorkerView } from "../hooks.js";
import type { Logger } from "../log.js";
import type { Settings } from "../settings.js";
import { within } from "../within.js";
import type { Socket } from "node:net";
import type { AppSignals } from "./app-signals.js";

const kInflight = Symbol("prodserver.inflight");
/** A socket with the count of its requests still in flight. */
export type TrackedSocket = Socket & { [kInflight]?: number };

/** The worker's connections and open responses, and how it stops serving them. */
export class Drain {
  private readonly sockets = new Set<TrackedSocket>();
  private readonly responses = new Set<http.ServerResponse>();
  private readonly servers: net.Server[] = [];
  private state: "serving" | "draining" | "exiting" = "serving";
  private interrupted = false;

  constructor(
    private readonly settings: Settings,
    private readonly log: Logger,
    private readonly hooks: Hooks,
    private readonly view: WorkerView,
    private readonly appSignals: AppSignals,
    /** Called once, just before the process exits (stop the heartbeat, close log files, send the last metrics). */
    private readonly beforeExit: () => void | Promise<void>,
  ) {}

  /** The signal that stopped the worker, for the app's deferred handlers (app-signals.ts). */
  private stopSignal: NodeJS.Signals = "SIGTERM";

  /** True once the worker stopped accepting: responses say `Connection: close`, /readyz 503. */
  get draining(): boolean {
    return this.state !== "serving";
  }

  /** Track the connections of `server` (`secureConnection` ones with TLS: requests live on the TLSSocket). */
  track(server: net.Server, tls: boolean): void {
    this.servers.push(server);
    server.on(tls ? "secureConnection" : "connection", (sock: TrackedSocket) => {
      this.sockets.add(sock);
      sock.once("close", () => {
        this.sockets.delete(sock);
        this.maybeExit();
      });
    });
  }

  /** A request arrived on `req.socket`; its response is tracked until it closes. */
  begin(req: http.IncomingMessage, res: http.ServerResponse): void {
    const sock = req.socket as TrackedSocket;
    sock[kInflight] = (sock[kInflight] ?? 0) + 1;
    this.responses.add(res);
    if (this.draining || this.settings.keepalive === 0) res.shouldKeepAlive = false;
    res.once("close", () => {
      this.responses.delete(res);
      sock[kInflight] = (sock[kInflight] ?? 1) - 1;
      if (this.draining && sock[kInflight] === 0 && !sock.destroyed) sock.destroySoon();
    });
  }

  /** Graceful drain; `reason` is logged. */
  graceful(reason: string): void {
    if (this.draining) return;
    this.stopSignal = "SIGTERM";
    this.state = "draining";
    this.log.info(`Worker draining (${reason})`);
    for (const s of this.servers) net.Server.prototype.close.call(s);
    for (const res of this.responses) if (!res.headersSent) res.shouldKeepAlive = false;
    const idleAfter = Math.max(0, Math.min(this.settings.keepalive, this.settings.graceful_timeout - 1)) * 1000;
    setTimeout(() => {
      for (const sock of this.sockets) if (!sock[kInflight]) sock.destroySoon();
    }, idleAfter).unref();
    setTimeout(
      () => {
        this.log.warning(`Worker still had ${this.responses.size} request(s) in flight after graceful_timeout; exiting`);
        this.exit(1);
      },
      this.settings.graceful_timeout * 1000 + 500,
    ).unref();
    this.maybeExit();
  }

  /** Quick stop (`signal` INT or QUIT): `worker_int`, then destroy every connection and exit. */
  quick(signal: NodeJS.Signals): void {
    if (this.interrupted) return;
    this.interrupted = true;
    this.stopSignal = signal;
    const stopNow = () => {
      this.state = "draining";
      for (const s of this.servers) net.Server.prototype.close.call(s);
      for (const sock of this.sockets) sock.destroy();
      setTimeout(() => this.exit(0), 100);
    };
    if (this.hooks.worker_int) void within(callHook(this.hooks, "worker_int", this.log, [this.view]), 1000).then(stopNow);
    else stopNow();
  }

  private maybeExit(): void {
    if (this.state === "draining" && this.sockets.size === 0) this.exit(0);
  }

  /**
   * Run `beforeExit` (bounded to 0.5 s), the app's handlers for the stop signal (1 s for their
   * async work) and `worker_exit` (bounded to 2 s), then exit with `code`; only the first call counts.
   */
  exit(code: number): void {
    if (this.state === "exiting") return;
    this.state = "exiting";
    const done = this.beforeExit();
    const sig = this.stopSignal;
    const appCleanup = this.appSignals.count(sig) ? new Promise<void>((r) => setTimeout(r, 1000).unref()) : undefined;
    this.appSignals.run(sig, (e) => this.log.error(`The app's ${sig} handler threw: ${(e as Error)?.message ?? String(e)}`, { stack: (e as Error)?.stack }));
    const workerExit = this.hooks.worker_exit ? within(callHook(this.hooks, "worker_exit", this.log, [this.view]), 2000) : undefined;
    if (!done && !appCleanup && !workerExit) process.exit(code);
    void Promise.all([done && within(done, 500), appCleanup, workerExit]).then(() => process.exit(code));
  }
}
