/**
 * The arbiter (Gunicorn's `arbiter.py`): owns the listening sockets, forks workers and keeps
 * their number at `workers`, replaces the ones that die, kills the ones whose heartbeat is older
 * than `timeout`, and handles the signals:
 *
 * | signal | action |
 * |---|---|
 * | TERM | graceful stop: workers drain; SIGKILL after `graceful_timeout`; exit 0 |
 * | INT, QUIT | quick stop (workers get QUIT); a second INT during a graceful stop switches to quick |
 * | HUP | reload: re-read the settings, start a new generation of workers, retire an old worker only for each new one that is ready; if the new code cannot boot, the old workers keep serving |
 * | TTIN / TTOU | one worker more / less (never below 1) |
 * | USR1 | reopen log files (and forward USR1 to the workers) |
 *
 * Workers are identified by pid; each carries its `age` (spawn order) and `generation` (reload
 * count). A worker that exits with 3/4 before it ever became ready, while no worker has yet
 * booted, halts the arbiter with that code (Gunicorn's HaltServer) — no crash loop at first boot.
 * Later boot failures are retried with exponential back-off (0.5 s doubling to 30 s).
 */
import type { ArbiterOptions } from "./arbiter-options.js";
import { closeAll, rebind, type Listener } from "./listeners.js";
import type { Logger } from "./log.js";
import { APP_LOAD_ERROR, WORKER_BOOT_ERROR, type FromWorker, type ToWorker } from "./protocol.js";
import type { Settings } from "./settings.js";
import { procName } from "./config.js";
import { Notifier } from "./systemd.js";
import { callHook, callHookSync, type HookName, type Hooks, type ServerView } from "./hooks.js";
import type { MetricsServer } from "./metrics-arbiter.js";
import { forkWorker, killTimedOut, signalWorker, within, type WorkerRec } from "./worker-process.js";

/** A worker exiting within this long after becoming ready counts as a crash for back-off. */
const CRASH_WINDOW_MS = 5000;

const SIG_NAMES: Record<string, string> = { SIGKILL: "SIGKILL! Perhaps out of memory?" };

export type { ArbiterOptions } from "./arbiter-options.js";

/** The pre-fork arbiter. `run()` resolves with the process exit code. */
export class Arbiter {
  private settings: Settings;
  private listeners: Listener[];
  private readonly log: Logger;
  private readonly workers = new Map<number, WorkerRec>();
  private target: number;
  private generation = 0;
  private age = 0;
  private everBooted = false;
  private stopping = false;
  private bootFailures = 0;
  private readySent = false;
  private hooks: Hooks;
  private lastFailureAt = 0;
  private backoffUntil = 0;
  private backoffTimer: NodeJS.Timeout | null = null;
  private tick: NodeJS.Timeout | null = null;
  private previous: { settings: Settings; listeners: Listener[] } | null = null;
  private finish!: (code: number) => void;
  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  /** metrics_bind only (metrics-arbiter.ts); null = no metrics, nothing instrumented. */
  private metrics: MetricsServer | null = null;

  constructor(private readonly opts: ArbiterOptions) {
    this.settings = opts.settings;
    this.listeners = opts.listeners;
    this.log = opts.log;
    this.target = opts.settings.workers;
    this.hooks = opts.hooks ?? {};
  }

  /** Start the workers and supervise them until stopped; resolves with the exit code. */
  run(): Promise<number> {
    process.title = `prodserver: arbiter [${procName(this.settings)}]`;
    const done = new Promise<number>((resolve) => (this.finish = resolve));
    const on = (sig: NodeJS.Signals, fn: () => void) => {
      const h = () => {
        this.log.info(`Handling signal: ${sig.slice(3).toLowerCase()}`);
        fn();
      };
      process.on(sig, h);
      this.signalHandlers.push([sig, h]);
    };
    on("SIGTERM", () => void this.stop(true, 0));
    on("SIGINT", () => void this.stop(false, 0));
    on("SIGQUIT", () => void this.stop(false, 0));
    on("SIGHUP", () => void this.reload());
    on("SIGTTIN", () => this.scale(this.target + 1));
    on("SIGTTOU", () => this.scale(this.target - 1));
    on("SIGUSR1", () => this.reopen());
    on("SIGUSR2", () => this.opts.reexec?.(this.listeners, () => callHookSync(this.hooks, "pre_exec", this.log, [this.view()])));
    on("SIGWINCH", () => {});
    this.tick = setInterval(() => this.murder(), 250);
    if (this.settings.metrics_bind) void import("./metrics-arbiter.js").then((m) => m.startMetricsServer(this.settings.metrics_bind!, () => this.workers.values(), this.log)).then((m) => (this.metrics = m), (e: Error) => void this.halt(1, `Reason: ${e.message}`));
    void this.hook("when_ready").then(() => this.hook("nworkers_changed", this.target, null)).then(() => this.manage());
    return done;
  }

  /** What server hooks see (hooks.ts ServerView). */
  view(): ServerView {
    const workers = () => [...this.workers.values()].map((w) => ({ pid: w.pid, age: w.age, generation: w.generation }));
    return { pid: process.pid, settings: this.settings, log: this.log, workers };
  }

  private hook(name: HookName, ...args: unknown[]): Promise<void> {
    return callHook(this.hooks, name, this.log, [this.view(), ...args]);
  }

  /** Ready, non-retiring workers of the current generation. */
  private readyCount(): number {
    return [...this.workers.values()].filter((w) => w.readyAt && !w.retiring && !w.killed && w.generation === this.generation).length;
  }

  private spawn(): void {
    callHookSync(this.hooks, "pre_fork", this.log, [this.view(), { age: this.age + 1, generation: this.generation }]);
    const rec = forkWorker(this.opts.entry, ++this.age, this.generation, this.settings.raw_env);
    if (rec.pid < 0) {
      this.log.error("Could not fork a worker");
      return;
    }
    this.workers.set(rec.pid, rec);
    this.log.info(`Booting worker with pid: ${rec.pid}`);
    rec.child.on("message", (msg: FromWorker) => this.onMessage(rec, msg));
    rec.child.on("exit", (code, signal) => this.onExit(rec, code, signal));
    rec.child.on("error", (e) => this.log.error(`Worker ${rec.pid}: ${e.message}`));
    // Boot data goes out now, not in answer to a hello: it waits while the worker's node starts
    // (node queues IPC messages until the child has a 'message' listener, nodejs/node#41221,
    // 17.x+), which saves a round trip from every worker's boot.
    this.sendTo(rec, { t: "boot", settings: this.settings, listeners: this.listeners.length, generation: rec.generation, age: rec.age });
    this.listeners.forEach((l, index) => (l.own ? this.sendTo(rec, { t: "listener", index, own: l.own }) : this.sendTo(rec, { t: "listener", index }, l.handle)));
  }

  private sendTo(rec: WorkerRec, msg: ToWorker, handle?: unknown): void {
    const fail = (e: Error | null) => e && this.log.debug(`IPC to ${rec.pid}: ${e.message}`);
    try {
      rec.child.send(msg, handle as never, fail);
    } catch (e) {
      fail(e as Error);
    }
  }

  private onMessage(rec: WorkerRec, msg: FromWorker): void {
    rec.lastHb = Date.now();
    this.metrics?.onMessage(rec, msg);
    switch (msg?.t) {
      case "ready":
        rec.readyAt = Date.now();
        this.everBooted = true;
        this.log.debug(`Worker ${rec.pid} ready (generation ${rec.generation})`);
        if (!this.readySent && this.readyCount() >= this.target) {
          this.readySent = true;
          this.log.info(`Ready: ${this.target} worker(s) serving`);
          void this.opts.notifier?.notify("READY=1", `STATUS=serving with ${this.target} worker(s)`);
        }
        if (rec.generation === this.generation && this.previous && ![...this.workers.values()].some((w) => w.generation === this.generation && !w.readyAt)) {
          this.log.info(`Reload complete: generation ${this.generation} serving`);
          void this.opts.notifier?.notify("READY=1", `STATUS=reloaded: generation ${this.generation} serving`);
          const old = this.previous;
          this.previous = null;
          if (old.listeners !== this.listeners) setTimeout(() => closeAll(old.listeners.filter((l) => !this.listeners.includes(l))), this.settings.graceful_timeout * 1000 + 1000).unref();
        }
        this.manage();
        break;
      case "boot-error":
        rec.bootError = msg;
        break;
      case "recycle":
        if (!rec.recycling && !rec.retiring) {
          rec.recycling = true;
          this.log.info(`Worker ${rec.pid} asks to be recycled (${msg.reason}); starting its replacement first`);
          this.manage();
        }
        break;
      default:
        break;
    }
  }

  private onExit(rec: WorkerRec, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(rec.pid);
    void this.hook("child_exit", { pid: rec.pid, age: rec.age, generation: rec.generation, exitCode: code, signal });
    if (this.stopping) {
      if (this.workers.size === 0) this.stopWaiter?.();
      return;
    }
    this.metrics?.onExit(rec, this.generation);
    const how = signal ? `was sent ${SIG_NAMES[signal] ?? signal}` : `exited with code ${code}`;
    // Any exit before `ready` is a boot failure (not only 3/4: a worker that crashes while
    // importing node's own flags, or is OOM-killed while booting, must not crash-loop either).
    const bootFailed = !rec.readyAt && !rec.retiring && !rec.killed;
    if (bootFailed) {
      const exitCode = rec.bootError?.code ?? (code === APP_LOAD_ERROR ? APP_LOAD_ERROR : WORKER_BOOT_ERROR);
      const what = exitCode === APP_LOAD_ERROR ? "App failed to load" : "Worker failed to boot";
      const detail = rec.bootError ? `: ${rec.bootError.message}` : ` (it ${how} before it was ready)`;
      this.log.error(`${what} (worker ${rec.pid})${detail}`, { stack: rec.bootError?.stack, module: rec.bootError?.module });
      if (!this.everBooted) {
        void this.halt(exitCode, `Reason: ${what}.`);
        return;
      }
      if (rec.generation === this.generation && this.previous) {
        this.rollback(`${what}${detail}`);
        return;
      }
      this.backoff("boot failure");
      return;
    }
    if (rec.killReason) this.log.info(`Worker (pid:${rec.pid}) killed after ${rec.killReason}; replacing it`);
    else if (!rec.retiring) {
      this.log.warning(`Worker (pid:${rec.pid}) ${how}`);
      // A worker that dies within CRASH_WINDOW of becoming ready is crash-looping: back off.
      if (rec.readyAt && Date.now() - rec.readyAt < CRASH_WINDOW_MS) {
        this.backoff("crash soon after boot");
        return;
      }
    } else this.log.debug(`Worker (pid:${rec.pid}) ${how}`);
    this.manage();
  }

  /**
   * Exponential back-off for replacing failing workers: 0.5 s, 1 s, 2 s ... 30 s; the count
   * resets after 30 s without a failure (PM2's exp_backoff_restart_delay reset rule).
   */
  private backoff(why: string): void {
    this.bootFailures++;
    this.lastFailureAt = Date.now();
    const delay = Math.min(30, 0.5 * 2 ** (this.bootFailures - 1));
    this.backoffUntil = Date.now() + delay * 1000;
    this.log.warning(`Restarting the worker in ${delay}s (${why}; failure ${this.bootFailures} in a row)`);
    this.manage();
  }

  /** Keep the current generation at `target` workers; retire old-generation/recycling workers as replacements become ready. */
  private manage(): void {
    if (this.stopping) return;
    const live = [...this.workers.values()].filter((w) => !w.retiring && !w.killed);
    const good = live.filter((w) => w.generation === this.generation && !w.recycling);
    const cands = live.filter((w) => w.generation !== this.generation || w.recycling).sort((a, b) => a.age - b.age);
    const wait = this.backoffUntil - Date.now();
    if (good.length < this.target && wait <= 0) {
      for (let i = good.length; i < this.target; i++) this.spawn();
    } else if (good.length < this.target && !this.backoffTimer) {
      // Re-check when the back-off ends (timers and Date.now() may disagree by a millisecond).
      this.backoffTimer = setTimeout(() => {
        this.backoffTimer = null;
        this.manage();
      }, wait + 10);
    }
    let excess = good.filter((w) => w.readyAt).length + cands.length - this.target;
    for (const c of cands) {
      if (excess <= 0) break;
      this.retire(c);
      excess--;
    }
    if (good.length > this.target) {
      for (const w of good.sort((a, b) => a.age - b.age).slice(0, good.length - this.target)) this.retire(w);
    }
  }

  private retire(w: WorkerRec): void {
    w.retiring = true;
    this.log.debug(`Retiring worker ${w.pid} (generation ${w.generation})`);
    this.kill(w, "SIGTERM");
    setTimeout(() => {
      if (this.workers.has(w.pid)) {
        this.log.warning(`Worker ${w.pid} did not stop within graceful_timeout; killing it`);
        this.kill(w, "SIGKILL");
      }
    }, this.settings.graceful_timeout * 1000).unref();
  }

  private kill(w: WorkerRec, sig: NodeJS.Signals): void {
    signalWorker(w, sig);
  }

  /** Heartbeat check (Gunicorn's murder_workers): SIGKILL a worker silent for longer than `timeout`. */
  private murder(): void {
    if (this.bootFailures && Date.now() - this.lastFailureAt > 30_000) this.bootFailures = 0;
    const t = this.settings.timeout;
    if (t <= 0 || this.stopping) return;
    const now = Date.now();
    for (const w of this.workers.values()) if (!w.killed && now - w.lastHb > t * 1000) killTimedOut(w, this.log);
  }

  private scale(n: number): void {
    const next = Math.max(1, n);
    if (next === this.target) return;
    this.log.info(`Number of workers: ${this.target} -> ${next}`);
    void this.hook("nworkers_changed", next, this.target);
    this.target = next;
    this.manage();
  }

  private reopen(): void {
    try {
      this.opts.reopenLogs();
    } catch (e) {
      this.log.error(`Reopening log files failed: ${(e as Error).message}`);
    }
    for (const w of this.workers.values()) this.kill(w, "SIGUSR1");
  }

  /** HUP: new settings and a new generation; the old one is retired as the new one becomes ready. */
  private async reload(): Promise<void> {
    if (this.stopping) return;
    if (this.previous) {
      this.log.warning("Reload already in progress; ignoring HUP");
      return;
    }
    let next: Settings;
    try {
      const r = await this.opts.reloadSettings();
      next = r.settings;
      this.hooks = r.hooks;
    } catch (e) {
      this.log.error(`Reload aborted, the configuration is invalid: ${(e as Error).message}`);
      return;
    }
    let listeners: Listener[];
    try {
      listeners = await rebind(this.listeners, next.bind, next.umask, this.log, next.reuse_port);
    } catch (e) {
      this.log.error(`Reload aborted: ${(e as Error).message}`);
      return;
    }
    this.previous = { settings: this.settings, listeners: this.listeners };
    this.settings = next;
    this.listeners = listeners;
    if (next.workers !== this.target) void this.hook("nworkers_changed", next.workers, this.target);
    this.target = next.workers;
    this.generation++;
    await this.hook("on_reload");
    this.reopen(); // as Gunicorn's reload(): log files are reopened (workers of the new generation open their own)
    this.log.info(`Reloading: starting generation ${this.generation} (${this.target} workers)`);
    void this.opts.notifier?.notify("RELOADING=1", Notifier.monotonicUsec(), `STATUS=reloading: starting generation ${this.generation}`);
    this.manage();
  }

  /** A new generation failed to boot: stop it, go back to the previous settings; old workers keep serving. */
  private rollback(why: string): void {
    const prev = this.previous!;
    this.log.error(`Reload failed, keeping generation ${this.generation - 1} serving: ${why}`);
    void this.opts.notifier?.notify("READY=1", `STATUS=reload failed, generation ${this.generation - 1} still serving`);
    for (const w of this.workers.values()) {
      if (w.generation === this.generation) {
        w.retiring = true;
        this.kill(w, "SIGQUIT");
      }
    }
    const fresh = this.listeners.filter((l) => !prev.listeners.includes(l));
    closeAll(fresh);
    this.settings = prev.settings;
    this.listeners = prev.listeners;
    this.target = prev.settings.workers;
    this.generation--;
    this.previous = null;
    this.manage();
  }

  private stopWaiter: (() => void) | null = null;

  /** Stop all workers (TERM graceful, else QUIT), SIGKILL after graceful_timeout, close listeners, finish with `code`. */
  async stop(graceful: boolean, code: number): Promise<void> {
    if (this.stopping) {
      if (!graceful) for (const w of this.workers.values()) this.kill(w, "SIGQUIT");
      return;
    }
    this.stopping = true;
    void this.opts.notifier?.notify("STOPPING=1", `STATUS=stopping (${graceful ? "graceful" : "quick"})`);
    if (this.tick) clearInterval(this.tick);
    this.metrics?.close();
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    for (const w of this.workers.values()) this.kill(w, graceful ? "SIGTERM" : "SIGQUIT");
    const allGone = new Promise<void>((resolve) => {
      this.stopWaiter = resolve;
      if (this.workers.size === 0) resolve();
    });
    if (!(await within(allGone, this.settings.graceful_timeout * 1000))) {
      for (const w of this.workers.values()) {
        this.log.warning(`Worker ${w.pid} still running after graceful_timeout; sending SIGKILL`);
        this.kill(w, "SIGKILL");
      }
      await within(allGone, 2000);
    }
    closeAll(this.listeners, this.opts.keepSocketFiles?.() ?? false);
    if (this.previous) closeAll(this.previous.listeners.filter((l) => !this.listeners.includes(l)));
    for (const [sig, h] of this.signalHandlers) process.off(sig, h);
    this.log.info("Shutting down: Master");
    if (this.opts.notifier) await within(this.opts.notifier.notify(), 3000);
    await this.hook("on_exit");
    this.finish(code);
  }

  /** Gunicorn's halt(): stop everything quickly and exit with `code`. */
  private async halt(code: number, reason: string): Promise<void> {
    this.log.info(`Shutting down: ${reason}`);
    await this.stop(false, code);
  }
}

