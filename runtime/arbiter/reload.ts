/**
 * Reload (HUP), as Gunicorn's `reload()` with naught's rule: read the configuration again and start
 * a new *generation* of workers with it; nothing changes until the configuration and its listeners
 * are good, and the old generation keeps serving until every new worker is ready, so a new
 * generation that cannot boot is rolled back with the old one still at full strength. HUPs that
 * arrive during a reload are coalesced into one more reload with the newest configuration.
 *
 * {@link Generations} holds the generation being served and the one a reload is replacing; the
 * arbiter (arbiter.ts) calls it from its HUP handler, its main loop and its worker exits, and lends
 * it the few things a reload changes there ({@link ReloadHost}).
 */
import { closeAll, rebind, type Listener } from "../listeners.js";
import type { Logger } from "../log.js";
import type { Settings } from "../settings.js";
import type { HookName, Hooks } from "../hooks.js";
import { Notifier } from "./systemd.js";
import { isLive, signalWorker, type EndCause, type WorkerRec } from "./worker-record.js";

/**
 * One configuration the arbiter serves with: what HUP replaces, and what a failed reload
 * restores — settings, listeners and hooks together.
 */
export interface Generation {
  /** 0 at start, then one more per accepted HUP (never reused, also after a rollback). */
  readonly n: number;
  readonly settings: Settings;
  readonly listeners: Listener[];
  readonly hooks: Hooks;
}

/** What a reload uses of the arbiter. */
export interface ReloadHost {
  readonly log: Logger;
  readonly notifier?: Notifier;
  /** True once the arbiter is stopping: a reload under way then changes nothing. */
  stopping(): boolean;
  /** Every worker the arbiter has (any state, any generation). */
  workers(): Iterable<WorkerRec>;
  /** Read the configuration again (the arbiter's `reloadSettings` option); throws when it is invalid. */
  readSettings(): Promise<{ settings: Settings; hooks: Hooks }>;
  /** Set the number of workers to run (firing `nworkers_changed` when it changes). */
  setTarget(n: number): void;
  /** Drain a worker (TERM), SIGKILL after `graceful_timeout`. */
  retire(w: WorkerRec, cause: EndCause): void;
  /** Run a server hook of the current generation. */
  hook(name: HookName, ...args: unknown[]): Promise<void>;
  /** Reopen the log files, here and in the workers (as USR1). */
  reopenLogs(): void;
  /** Ask for a turn of the arbiter's main loop. */
  wakeup(): void;
}

/** The generation served, and the reload under way if any. */
export class Generations {
  /** The generation new workers are forked for. */
  current: Generation;
  /** The generation a reload is replacing, until the new one is ready (or rolled back). */
  private previous: Generation | null = null;
  /** A reload is reading its configuration (`reading`) or waiting for its workers (`booting`). */
  private state: "reading" | "booting" | null = null;
  /** HUPs arrived during a reload: reload again once it ends (the newest configuration wins). */
  private hupQueued = false;
  private last = 0;

  /** `first` is generation 0: the configuration the arbiter started with. */
  constructor(
    first: Omit<Generation, "n">,
    private readonly host: ReloadHost,
  ) {
    this.current = { n: 0, ...first };
  }

  /** HUP: reload, or queue one more reload when one is under way. */
  hup(): void {
    if (!this.state) return void this.reload();
    this.hupQueued = true;
    this.host.log.info("Reload in progress; will reload again with the newest configuration once it ends");
  }

  /** From the main loop: `ready` workers of the current generation serve; `target` are wanted. */
  onReady(ready: number, target: number): void {
    if (this.state === "booting" && ready >= target) this.complete();
  }

  /**
   * A worker of generation `w.generation` failed to boot: if it belongs to the new generation of a
   * reload under way, roll the reload back and return true; else return false.
   */
  onBootFailure(w: WorkerRec, why: string): boolean {
    if (this.state !== "booting" || w.generation !== this.current.n) return false;
    this.rollback(why);
    return true;
  }

  /** On stop: the listeners of a generation being replaced that the current one does not use. */
  leftoverListeners(): Listener[] {
    return this.previous ? this.previous.listeners.filter((l) => !this.current.listeners.includes(l)) : [];
  }

  private async reload(): Promise<void> {
    const { host } = this;
    this.state = "reading";
    let next: Generation;
    try {
      const r = await host.readSettings();
      const listeners = await rebind(this.current.listeners, r.settings.bind, r.settings.umask, host.log, r.settings.reuse_port);
      next = { n: ++this.last, settings: r.settings, listeners, hooks: r.hooks };
    } catch (e) {
      host.log.error(`Reload aborted, the configuration is invalid: ${(e as Error).message}`);
      return this.end();
    }
    if (host.stopping()) return closeAll(next.listeners.filter((l) => !this.current.listeners.includes(l)));
    this.previous = this.current;
    this.current = next;
    this.state = "booting";
    host.setTarget(next.settings.workers);
    await host.hook("on_reload");
    host.reopenLogs(); // as Gunicorn's reload(): log files are reopened
    host.log.info(`Reloading: starting generation ${next.n} (${next.settings.workers} workers)`);
    void host.notifier?.notify("RELOADING=1", Notifier.monotonicUsec(), `STATUS=reloading: starting generation ${next.n}`);
    host.wakeup();
  }

  /** Every worker of the new generation is ready: retire the old generation. */
  private complete(): void {
    const { host, current } = this;
    for (const w of host.workers()) if (isLive(w) && w.generation !== current.n) host.retire(w, "reload");
    const dropped = this.leftoverListeners();
    if (dropped.length) setTimeout(() => closeAll(dropped), current.settings.graceful_timeout * 1000 + 1000).unref();
    this.previous = null;
    host.log.info(`Reload complete: generation ${current.n} serving`);
    void host.notifier?.notify("READY=1", `STATUS=reloaded: generation ${current.n} serving`);
    this.end();
  }

  /** The new generation failed to boot: stop it and restore the previous generation whole. */
  private rollback(why: string): void {
    const { host } = this;
    const prev = this.previous!;
    host.log.error(`Reload failed, keeping generation ${prev.n} serving: ${why}`);
    void host.notifier?.notify("READY=1", `STATUS=reload failed, generation ${prev.n} still serving`);
    for (const w of host.workers()) {
      if (w.generation !== this.current.n || !isLive(w)) continue;
      w.state = "retiring";
      w.endCause = "rollback";
      signalWorker(w, "SIGQUIT");
    }
    closeAll(this.current.listeners.filter((l) => !prev.listeners.includes(l)));
    this.current = prev;
    this.previous = null;
    host.setTarget(prev.settings.workers);
    this.end();
  }

  private end(): void {
    this.state = null;
    if (!this.hupQueued || this.host.stopping()) return;
    this.hupQueued = false;
    this.host.log.info("Reloading again: HUP arrived during the last reload");
    void this.reload();
  }
}
