/**
 * One worker process as the arbiter sees it, and how it is forked: `node [flags] ENTRY __worker`
 * with stdio `[ignore, inherit, inherit, ipc, watchdog pipe]` (see watchdog.ts).
 */
import { fork, type ChildProcess } from "node:child_process";
import type { FromWorker } from "./protocol.js";

/** The arbiter's record of a worker. Times are ms since epoch. */
export interface WorkerRec {
  child: ChildProcess;
  pid: number;
  age: number;
  generation: number;
  spawned: number;
  readyAt: number | null;
  lastHb: number;
  retiring: boolean;
  recycling: boolean;
  killed: boolean;
  /** Why the arbiter SIGKILLed it (timeout), for the exit log line. */
  killReason?: string;
  bootError?: Extract<FromWorker, { t: "boot-error" }>;
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

/** Fork a worker; `pid` is -1 when the fork failed. */
export function forkWorker(entry: string, age: number, generation: number): WorkerRec {
  const child = fork(entry, ["__worker"], { stdio: ["ignore", "inherit", "inherit", "ipc", "pipe"], serialization: "json", execArgv: workerExecArgv() });
  const now = Date.now();
  return { child, pid: child.pid ?? -1, age, generation, spawned: now, readyAt: null, lastHb: now, retiring: false, recycling: false, killed: false };
}

/** Send `sig` to a worker; a worker that is already gone is not an error. */
export function signalWorker(w: WorkerRec, sig: NodeJS.Signals): void {
  try {
    process.kill(w.pid, sig);
  } catch {
    /* already gone */
  }
}
