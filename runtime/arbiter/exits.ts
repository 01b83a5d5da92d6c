/**
 * What a worker's exit means, as Gunicorn's `reap_workers()` judges it: an exit the arbiter asked
 * for (retired, recycled, killed after a timeout) is expected; an exit before the worker was ever
 * ready is a boot failure with Gunicorn's exit codes (3 worker boot error, 4 app load error); any
 * other exit is a crash, and a crash within {@link CRASH_WINDOW_MS} of becoming ready is a crash
 * loop, which the arbiter answers with back-off (backoff.ts). The arbiter acts on the verdict
 * (arbiter.ts `onWorkerExit`).
 */
import { APP_LOAD_ERROR, WORKER_BOOT_ERROR } from "../protocol.js";
import type { WorkerRec } from "./worker-record.js";

/** A worker exiting within this long after becoming ready counts as a crash loop (ms). */
export const CRASH_WINDOW_MS = 5000;

const SIG_NAMES: Record<string, string> = { SIGKILL: "SIGKILL! Perhaps out of memory?" };

/** The verdict on one worker exit; `message` is the log line. */
export type ExitVerdict =
  /** The arbiter ended it (`info`: killed after a timeout or for memory; `debug`: retired, recycled). */
  | { kind: "expected"; level: "info" | "debug"; message: string }
  /** It died serving; `crashLoop` when that was within CRASH_WINDOW_MS of becoming ready. */
  | { kind: "crash"; message: string; crashLoop: boolean }
  /**
   * It exited before it was ready. Any exit counts, not only 3/4: a worker that crashes on node's
   * own flags, or is OOM-killed while booting, must not crash-loop either. `exitCode` is the
   * arbiter's own exit code should this halt it (3 or 4); `reason` is `what` plus the detail.
   */
  | { kind: "boot-failure"; exitCode: number; what: string; reason: string; message: string; stack?: string; module?: string };

/**
 * Judge the exit of worker `w` (its `state` at exit, `endCause`, `readyAt` and any `boot-error` it
 * sent) with exit `code` or `signal`, at `now` (ms since the epoch).
 */
export function judgeExit(w: Pick<WorkerRec, "pid" | "state" | "endCause" | "readyAt" | "bootError">, code: number | null, signal: NodeJS.Signals | null, now = Date.now()): ExitVerdict {
  const how = signal ? `was sent ${SIG_NAMES[signal] ?? signal}` : `exited with code ${code}`;
  if (w.state === "booting") {
    const exitCode = w.bootError?.code ?? (code === APP_LOAD_ERROR ? APP_LOAD_ERROR : WORKER_BOOT_ERROR);
    const what = exitCode === APP_LOAD_ERROR ? "App failed to load" : "Worker failed to boot";
    const detail = w.bootError ? `: ${w.bootError.message}` : ` (it ${how} before it was ready)`;
    return { kind: "boot-failure", exitCode, what, reason: `${what}${detail}`, message: `${what} (worker ${w.pid})${detail}`, stack: w.bootError?.stack, module: w.bootError?.module };
  }
  if (w.state === "killed") return { kind: "expected", level: "info", message: `Worker (pid:${w.pid}) killed after ${w.endCause}; replacing it` };
  if (w.state === "retiring" || w.state === "recycling") return { kind: "expected", level: "debug", message: `Worker (pid:${w.pid}) ${how}` };
  return { kind: "crash", message: `Worker (pid:${w.pid}) ${how}`, crashLoop: w.readyAt !== null && now - w.readyAt < CRASH_WINDOW_MS };
}
