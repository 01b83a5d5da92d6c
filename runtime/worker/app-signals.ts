/**
 * The app's own signal handlers, deferred. Many servers stop themselves on SIGTERM/SIGINT
 * (`process.on("SIGTERM", () => { server.close(); process.exit(0); })`, Next.js standalone,
 * react-router-serve): run at once, they would cut the runtime's graceful drain short and drop
 * requests in flight. Once {@link AppSignals.install} ran, handlers the app registers for the
 * signals the runtime owns are kept here instead of on `process`, and {@link AppSignals.run}
 * calls them when the worker has finished draining, just before it exits — so the app's cleanup
 * (closing database pools, flushing) still happens, after the last response.
 */
import events from "node:events";

/** Signals the runtime handles in a worker (TERM drain, INT/QUIT quick stop, USR1 logs) or leaves to the arbiter. */
const OWNED = new Set(["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGTTIN", "SIGTTOU", "SIGWINCH"]);

/** Holds the app's handlers for the signals the runtime owns. */
export class AppSignals {
  private readonly held = new events.EventEmitter();
  private installed = false;
  private readonly processOn = process.on.bind(process);

  /** Register one of the runtime's own handlers on `process` (never held). */
  runtimeOn(signal: NodeJS.Signals | "disconnect", fn: () => void): void {
    this.processOn(signal, fn);
  }

  /** From now on, `process.on/once/addListener/prependListener(...)` for an owned signal is held here. */
  install(): void {
    if (this.installed) return;
    this.installed = true;
    const held = this.held;
    const wrap = (name: "on" | "once" | "addListener" | "prependListener" | "prependOnceListener" | "off" | "removeListener" | "listeners" | "listenerCount") => {
      const original = process[name] as (...a: unknown[]) => unknown;
      (process as unknown as Record<string, unknown>)[name] = function (this: unknown, event: unknown, ...rest: unknown[]) {
        if (typeof event === "string" && OWNED.has(event)) {
          const r = (held[name] as (...a: unknown[]) => unknown).call(held, event, ...rest);
          return r === held ? process : r;
        }
        return original.call(process, event, ...rest);
      };
    };
    for (const n of ["on", "once", "addListener", "prependListener", "prependOnceListener", "off", "removeListener", "listeners", "listenerCount"] as const) wrap(n);
  }

  /** Call the app's handlers for `signal` (as the signal would have), each error logged by `onError`. */
  run(signal: NodeJS.Signals, onError: (e: unknown) => void): void {
    for (const fn of this.held.listeners(signal)) {
      try {
        (fn as (s: string) => void)(signal);
      } catch (e) {
        onError(e);
      }
    }
  }

  /** How many handlers the app registered for `signal`. */
  count(signal: NodeJS.Signals): number {
    return this.held.listenerCount(signal);
  }
}
