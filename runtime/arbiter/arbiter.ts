/**
 * The arbiter (Gunicorn's `arbiter.py`): owns the listening sockets, forks workers and keeps
 * their number at `workers`, replaces the ones that die, kills the ones whose heartbeat is older
 * than `timeout`, and handles the signals, one named handler each:
 *
 * | signal | handler | action |
 * |---|---|---|
 * | TERM | {@link Arbiter.handleTerm} | graceful stop: workers drain; SIGKILL after `graceful_timeout`; exit 0 |
 * | INT, QUIT | {@link Arbiter.handleQuit} | quick stop (workers get QUIT); also turns a graceful stop into a quick one |
 * | HUP | {@link Arbiter.handleHup} | reload (reload.ts): re-read the configuration, start a new generation; retire the old one only once every new worker is ready; if the new one cannot boot, the old one keeps serving |
 * | TTIN / TTOU | {@link Arbiter.handleTtin} / {@link Arbiter.handleTtou} | one worker more / less (never below 1) |
 * | USR1 | {@link Arbiter.handleUsr1} | reopen log files (and forward USR1 to the workers) |
 * | USR2 | {@link Arbiter.handleUsr2} | start a new arbiter that inherits the sockets (reexec.ts) |
 *
 * Control flow, as Gunicorn's main loop: handlers and worker events only change state and call
 * {@link Arbiter.wakeup}; the next loop turn ({@link Arbiter.loop}) then kills timed-out workers
 * and brings the workers to the target ({@link Arbiter.manageWorkers}) — the one place that
 * spawns and retires. A worker's place in its life is one field, `state` (worker-record.ts).
 *
 * A worker that exits before it was ever ready while no worker has yet booted halts the arbiter
 * with the worker's code (Gunicorn's HaltServer: 3 boot error, 4 app load error) — no crash loop
 * at first boot. Later boot failures are retried with exponential back-off (backoff.ts).
 */
import type { ArbiterOptions } from "./options.js";
import { closeAll } from "../listeners.js";
import { Generations, type Generation } from "./reload.js";
import { closeSurplusSlots, freeSlot, retireOrder } from "./slots.js";
import type { Logger } from "../log.js";
import type { FromWorker } from "../protocol.js";
import { judgeExit, type ExitVerdict } from "./exits.js";
import type { Settings } from "../settings.js";
import { procName } from "../config.js";
import { callHook, callHookSync, type HookName, type ServerView } from "../hooks.js";
import { within } from "../within.js";
import type { MetricsServer } from "./metrics.js";
import { Backoff } from "./backoff.js";
import { checkHeartbeat } from "./timeout.js";
import { forkWorker, isLive, retireWorker, sendToWorker, signalWorker, type EndCause, type WorkerRec } from "./worker-record.js";

/** How often the loop runs without any event: the heartbeat check (ms). */
const TICK_MS = 250;

export type { ArbiterOptions } from "./options.js";

/** The pre-fork arbiter. `run()` resolves with the process exit code. */
export class Arbiter {
  /** The generation served and the reload under way (reload.ts). */
  private readonly generations: Generations;
  private readonly workers = new Map<number, WorkerRec>();
  private target: number;
  private age = 0;
  private phase: "running" | "stopping" = "running";
  private everBooted = false;
  private readySent = false;
  private readonly backoff = new Backoff();
  private backoffTimer: NodeJS.Timeout | null = null;
  private tick: NodeJS.Timeout | null = null;
  private wakeScheduled = false;
  private finish!: (code: number) => void;
  private stopWaiter: (() => void) | null = null;
  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  /** metrics_bind only (metrics.ts); null = no metrics, nothing instrumented. */
  private metrics: MetricsServer | null = null;
  private readonly log: Logger;

  constructor(private readonly opts: ArbiterOptions) {
    this.log = opts.log;
    this.target = opts.settings.workers;
    this.generations = new Generations(
      { settings: opts.settings, listeners: opts.listeners, hooks: opts.hooks ?? {} },
      {
        log: opts.log,
        notifier: opts.notifier,
        stopping: () => this.phase === "stopping",
        workers: () => this.workers.values(),
        readSettings: () => opts.reloadSettings(),
        setTarget: (n) => this.setTarget(n),
        retire: (w, cause) => this.retire(w, cause),
        hook: (name, ...args) => this.hook(name, ...args),
        reopenLogs: () => this.handleUsr1(),
        wakeup: () => this.wakeup(),
      },
    );
  }

  private get current(): Generation {
    return this.generations.current;
  }

  private get settings(): Settings {
    return this.current.settings;
  }

  /** Start the workers and supervise them until stopped; resolves with the exit code. */
  run(): Promise<number> {
    process.title = `prodserver: arbiter [${procName(this.settings)}]`;
    const done = new Promise<number>((resolve) => (this.finish = resolve));
    this.installSignals();
    this.tick = setInterval(() => this.wakeup(), TICK_MS);
    if (this.settings.metrics_bind) void this.startMetrics(this.settings.metrics_bind);
    void this.hook("when_ready")
      .then(() => this.hook("nworkers_changed", this.target, null))
      .then(() => this.wakeup());
    return done;
  }

  // ---- signals: one named handler each -------------------------------------------------------

  private installSignals(): void {
    const table: Array<[NodeJS.Signals, () => void]> = [
      ["SIGTERM", () => this.handleTerm()],
      ["SIGINT", () => this.handleQuit()],
      ["SIGQUIT", () => this.handleQuit()],
      ["SIGHUP", () => this.handleHup()],
      ["SIGTTIN", () => this.handleTtin()],
      ["SIGTTOU", () => this.handleTtou()],
      ["SIGUSR1", () => this.handleUsr1()],
      ["SIGUSR2", () => this.handleUsr2()],
      ["SIGWINCH", () => {}], // Gunicorn: only meaningful when daemonized
    ];
    for (const [sig, fn] of table) {
      const h = () => {
        this.log.info(`Handling signal: ${sig.slice(3).toLowerCase()}`);
        fn();
      };
      process.on(sig, h);
      this.signalHandlers.push([sig, h]);
    }
  }

  /** TERM: graceful stop. */
  handleTerm(): void {
    void this.stop(true, 0);
  }

  /** INT / QUIT: quick stop. */
  handleQuit(): void {
    void this.stop(false, 0);
  }

  /** HUP: reload, or queue one more reload when one is under way. */
  handleHup(): void {
    if (this.phase !== "stopping") this.generations.hup();
  }

  /** TTIN: one worker more. */
  handleTtin(): void {
    this.scale(this.target + 1);
  }

  /** TTOU: one worker less (never below 1). */
  handleTtou(): void {
    this.scale(this.target - 1);
  }

  /** USR1: reopen the log files, here and in every worker. */
  handleUsr1(): void {
    try {
      this.opts.reopenLogs();
    } catch (e) {
      this.log.error(`Reopening log files failed: ${(e as Error).message}`);
    }
    for (const w of this.workers.values()) signalWorker(w, "SIGUSR1");
  }

  /** USR2: start a new arbiter that inherits the listening sockets (pre_exec runs first). */
  handleUsr2(): void {
    this.opts.reexec?.(this.current.listeners, () => callHookSync(this.current.hooks, "pre_exec", this.log, [this.view()]));
  }

  // ---- the loop ----------------------------------------------------------------------------------

  /** Ask for one loop turn soon (coalesced: many events, one turn). */
  private wakeup(): void {
    if (this.wakeScheduled || this.phase === "stopping") return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.loop();
    });
  }

  /** One turn of Gunicorn's main loop: murder_workers(), then manage_workers(). */
  private loop(): void {
    if (this.phase === "stopping") return;
    this.murderWorkers();
    this.manageWorkers();
  }

  /** Kill every worker whose heartbeat is older than `timeout` (Gunicorn's murder_workers; timeout.ts). */
  private murderWorkers(): void {
    const t = this.settings.timeout;
    if (t <= 0) return;
    for (const w of this.workers.values()) checkHeartbeat(w, t, this.log, !!this.current.hooks.worker_abort);
  }

  /**
   * Bring the workers to the target (Gunicorn's manage_workers), the only place that spawns and
   * retires: spawn what the current generation lacks (unless backing off); once a reload's new
   * generation is fully ready, retire the old one; retire a recycling worker once ready workers
   * stand in for it; retire the oldest beyond the target (TTOU; with reuse_port the highest slots: slots.ts).
   */
  private manageWorkers(): void {
    const gen = this.current.n;
    const live = [...this.workers.values()].filter(isLive);
    const mine = live.filter((w) => w.generation === gen);
    const staying = mine.filter((w) => w.state !== "recycling");
    if (staying.length < this.target) this.spawnMissing(this.target - staying.length);
    const ready = staying.filter((w) => w.state === "serving").length;
    this.generations.onReady(ready, this.target);
    // A recycling worker serves on until enough ready workers stand in for it.
    const recyclers = mine.filter((w) => w.state === "recycling").sort(byAge);
    for (const w of recyclers.slice(0, recyclers.length - Math.max(0, this.target - ready))) this.retire(w, w.endCause ?? "max_requests");
    if (staying.length > this.target) {
      const reusePort = this.current.listeners.some((l) => l.slots);
      for (const w of staying.sort(retireOrder(this.target, reusePort)).slice(0, staying.length - this.target)) this.retire(w, "ttou");
    }
  }

  /** Spawn `n` workers of the current generation now, or wake up when the back-off ends. */
  private spawnMissing(n: number): void {
    const wait = this.backoff.remaining();
    if (wait > 0) {
      this.backoffTimer ??= setTimeout(() => {
        this.backoffTimer = null;
        this.wakeup();
      }, wait + 10);
      return;
    }
    for (let i = 0; i < n; i++) this.spawn();
  }

  // ---- workers ------------------------------------------------------------------------------------

  private spawn(): void {
    const { settings, listeners, n: generation } = this.current;
    callHookSync(this.current.hooks, "pre_fork", this.log, [this.view(), { age: this.age + 1, generation }]);
    let forked: ReturnType<typeof forkWorker>;
    try {
      forked = forkWorker(this.opts.entry, { age: ++this.age, slot: freeSlot(this.workers.values(), generation, this.target), generation }, listeners, settings.raw_env);
    } catch (e) {
      this.log.error(`Could not fork a worker: ${(e as Error).message}`);
      return;
    }
    const { rec, slots } = forked;
    if (rec.pid < 0) {
      this.log.error("Could not fork a worker");
      return;
    }
    this.workers.set(rec.pid, rec);
    this.log.info(`Booting worker with pid: ${rec.pid}`);
    rec.child.on("message", (msg: FromWorker) => this.onWorkerMessage(rec, msg));
    rec.child.on("exit", (code, signal) => this.onWorkerExit(rec, code, signal));
    rec.child.on("error", (e) => this.log.error(`Worker ${rec.pid}: ${e.message}`));
    // Boot data goes out now, not in answer to a hello: node queues IPC messages until the
    // child listens (nodejs/node#41221), which saves a round trip from every worker's boot.
    sendToWorker(rec, { t: "boot", settings, listeners: slots, generation, age: rec.age }, this.log);
  }

  /** Drain a worker (TERM) and SIGKILL it if it is still there after `graceful_timeout`. */
  private retire(w: WorkerRec, cause: EndCause): void {
    retireWorker(w, cause, this.settings.graceful_timeout, this.log);
  }

  private onWorkerMessage(w: WorkerRec, msg: FromWorker): void {
    w.lastHb = Date.now();
    this.metrics?.onMessage(w, msg);
    switch (msg?.t) {
      case "ready":
        if (w.state === "booting") w.state = "serving";
        w.readyAt = Date.now();
        this.everBooted = true;
        this.log.debug(`Worker ${w.pid} ready (generation ${w.generation})`);
        this.maybeNotifyReady();
        break;
      case "boot-error":
        w.bootError = msg;
        break;
      case "recycle":
        if (w.state !== "serving") break;
        w.state = "recycling";
        w.endCause = msg.cause;
        this.log.info(`Worker ${w.pid} asks to be recycled (${msg.reason}); starting its replacement first`);
        break;
      default:
        return; // heartbeats and metrics answers change nothing to manage
    }
    this.wakeup();
  }

  /** systemd READY=1 once, when the first generation serves at full strength. */
  private maybeNotifyReady(): void {
    if (this.readySent) return;
    const serving = [...this.workers.values()].filter((w) => w.state === "serving" && w.generation === this.current.n).length;
    if (serving < this.target) return;
    this.readySent = true;
    this.log.info(`Ready: ${this.target} worker(s) serving`);
    void this.opts.notifier?.notify("READY=1", `STATUS=serving with ${this.target} worker(s)`);
  }

  private onWorkerExit(w: WorkerRec, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(w.pid);
    void this.hook("child_exit", { pid: w.pid, age: w.age, generation: w.generation, exitCode: code, signal });
    if (this.phase === "stopping") {
      if (this.workers.size === 0) this.stopWaiter?.();
      return;
    }
    this.metrics?.onExit(w);
    closeSurplusSlots(this.current.listeners, this.workers.values(), this.target, this.log);
    const v = judgeExit(w, code, signal);
    if (v.kind === "boot-failure") this.onBootFailure(w, v);
    else if (v.kind === "expected") this.log[v.level](v.message);
    else {
      this.log.warning(v.message);
      if (v.crashLoop) this.backOff("crash soon after boot");
    }
    this.wakeup();
  }

  /** A worker exited before it was ready: halt at first boot, roll a reload back, else back off. */
  private onBootFailure(w: WorkerRec, v: Extract<ExitVerdict, { kind: "boot-failure" }>): void {
    this.log.error(v.message, { stack: v.stack, module: v.module });
    if (!this.everBooted) void this.halt(v.exitCode, `Reason: ${v.what}.`);
    else if (!this.generations.onBootFailure(w, v.reason)) this.backOff("boot failure");
  }

  private backOff(why: string): void {
    const { delay, failures } = this.backoff.fail();
    this.log.warning(`Restarting the worker in ${delay}s (${why}; failure ${failures} in a row)`);
  }

  private scale(n: number): void {
    const next = Math.max(1, n);
    if (next === this.target) return;
    this.log.info(`Number of workers: ${this.target} -> ${next}`);
    this.setTarget(next);
    this.wakeup();
  }

  /** The number of workers to run; `nworkers_changed` fires when it changes. */
  private setTarget(n: number): void {
    if (n !== this.target) void this.hook("nworkers_changed", n, this.target);
    this.target = n;
  }

  // ---- stop ---------------------------------------------------------------------------------------

  /** Stop all workers (TERM graceful, else QUIT), SIGKILL after graceful_timeout, close listeners, finish with `code`. */
  async stop(graceful: boolean, code: number): Promise<void> {
    if (this.phase === "stopping") {
      if (!graceful) for (const w of this.workers.values()) signalWorker(w, "SIGQUIT");
      return;
    }
    this.phase = "stopping";
    void this.opts.notifier?.notify("STOPPING=1", `STATUS=stopping (${graceful ? "graceful" : "quick"})`);
    if (this.tick) clearInterval(this.tick);
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.metrics?.close();
    for (const w of this.workers.values()) signalWorker(w, graceful ? "SIGTERM" : "SIGQUIT");
    const allGone = new Promise<void>((resolve) => {
      this.stopWaiter = resolve;
      if (this.workers.size === 0) resolve();
    });
    if (!(await within(allGone, this.settings.graceful_timeout * 1000))) {
      for (const w of this.workers.values()) {
        this.log.warning(`Worker ${w.pid} still running after graceful_timeout; sending SIGKILL`);
        signalWorker(w, "SIGKILL");
      }
      await within(allGone, 2000);
    }
    closeAll(this.current.listeners, this.opts.keepSocketFiles?.() ?? false);
    closeAll(this.generations.leftoverListeners());
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

  // ---- hooks, metrics ----------------------------------------------------------------------------

  /** What server hooks see (hooks.ts ServerView). */
  view(): ServerView {
    const workers = () => [...this.workers.values()].map((w) => ({ pid: w.pid, age: w.age, generation: w.generation }));
    return { pid: process.pid, settings: this.settings, log: this.log, workers };
  }

  private hook(name: HookName, ...args: unknown[]): Promise<void> {
    return callHook(this.current.hooks, name, this.log, [this.view(), ...args]);
  }

  private async startMetrics(bind: string): Promise<void> {
    try {
      const m = await import("./metrics.js");
      this.metrics = await m.startMetricsServer(bind, () => this.workers.values(), this.log);
    } catch (e) {
      await this.halt(1, `Reason: ${(e as Error).message}`);
    }
  }
}

const byAge = (a: WorkerRec, b: WorkerRec) => a.age - b.age;
