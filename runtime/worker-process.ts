/**
 * One worker process as the arbiter sees it, and how it is forked: `node [flags] ENTRY __worker`
 * with stdio `[ignore, inherit, inherit, ipc, watchdog pipe]` (see watchdog.ts).
 */
import type { ChildProcess } from "node:child_process";
import { builtin } from "./builtin.js";
import type { Logger } from "./log.js";
import type { FromWorker } from "./protocol.js";
import { requestStack } from "./watchdog.js";

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
export function forkWorker(entry: string, age: number, generation: number, rawEnv: readonly string[] = []): WorkerRec {
  const env = { ...process.env };
  for (const kv of rawEnv) env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
  const { fork } = builtin<typeof import("node:child_process")>("node:child_process");
  const child = fork(entry, ["__worker"], { stdio: ["ignore", "inherit", "inherit", "ipc", "pipe"], serialization: "json", execArgv: workerExecArgv(), env });
  // The watchdog pipe: a worker killed with a stack request unread in its end makes our read
  // fail with ECONNRESET; unhandled, that 'error' event would take the arbiter down.
  (child.stdio[4] as NodeJS.ReadWriteStream | null)?.on("error", () => {});
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

/**
 * Gunicorn's murder_workers() for one worker whose heartbeat is older than `timeout`: mark it,
 * get the blocked event loop's JS stack (and the request in its handler) from the worker's
 * watchdog, log it as CRITICAL `WORKER TIMEOUT`, then SIGKILL.
 */
export function killTimedOut(w: WorkerRec, log: Logger): void {
  w.killed = true;
  w.killReason = "timeout";
  const silent = ((Date.now() - w.lastHb) / 1000).toFixed(1);
  void requestStack(w.child).then((r) => {
    const stack = r.stack ? `JavaScript stack of the blocked event loop:\n${r.stack}` : `(no JavaScript stack: ${r.error})`;
    const req = r.request ? ` while handling ${JSON.stringify(r.request)}` : "";
    log.critical(`WORKER TIMEOUT (pid:${w.pid}): no heartbeat for ${silent}s${req}; killing it`, { stack, request: r.request });
    signalWorker(w, "SIGKILL");
  });
}

/** Wait for `p` at most `ms`; true when it settled in time. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let t: NodeJS.Timeout | undefined;
  const r = await Promise.race([p.then(() => true), new Promise<boolean>((res) => (t = setTimeout(() => res(false), ms)))]);
  clearTimeout(t);
  return r;
}
