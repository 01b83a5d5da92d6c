/**
 * Arbiter side of `timeout` (Gunicorn's `murder_workers`): a worker whose heartbeat is older than
 * `timeout` is killed, together with its process group (children such as the `sleep` of an
 * `execSync("sleep 30")` die with it), and logged as CRITICAL `WORKER TIMEOUT` with the blocked
 * event loop's JavaScript stack and the request in flight — the evidence Gunicorn lacks
 * (benoitc/gunicorn#185), taken by the worker's watchdog thread (worker/watchdog.ts).
 *
 * The kill comes at `timeout`, not after the stack: the stack is asked for once the heartbeat is
 * half a `timeout` late ({@link checkHeartbeat}), so a capture that takes long (the inspector
 * replays every parsed script; seconds on a loaded machine) still fits, and the kill waits at most
 * {@link STACK_GRACE_MS} beyond `timeout` for a stack that has not come — a stopped worker
 * (SIGSTOP) or one blocked in a system call cannot answer at all. Gunicorn 20.1 killed a SIGSTOPped
 * worker 4.1 s after it stopped with `--timeout 3`; this arbiter, waiting 5 s for the stack, took 7.6 s.
 *
 * A worker that has not finished booting gets at least {@link BOOT_TIMEOUT_MS}: its heartbeat
 * starts only once it serves, and starting node takes seconds on a loaded machine.
 */
import type { ChildProcess } from "node:child_process";
import type { Logger } from "../log.js";
import { heartbeatInterval } from "../protocol.js";
import { within } from "../within.js";
import { signalWorker, type WorkerRec } from "./worker-record.js";

/** Longest the kill waits beyond `timeout` for a stack asked for earlier (ms). */
export const STACK_GRACE_MS = 500;
/** Least time a booting worker gets before `timeout` applies to it (ms). */
export const BOOT_TIMEOUT_MS = 10_000;

/** What the watchdog answers: the stack and request line, or why there is none. */
export interface StackReply {
  stack?: string;
  request?: string;
  error?: string;
}

/** A question to the watchdog in flight: asked while the heartbeat was `hb`. */
interface Ask {
  hb: number;
  reply: StackReply | null;
  done: Promise<StackReply>;
}

const asks = new WeakMap<WorkerRec, Ask>();

/**
 * Send `command` (`stack` or `abort`) to a worker's watchdog; resolves with its one-line JSON
 * answer, or an error, within `timeoutMs` (milliseconds).
 */
export function askWatchdog(child: ChildProcess, command: "stack" | "abort", timeoutMs: number): Promise<StackReply> {
  // The watchdog pipe is the last stdio entry of the fork (protocol.ts forkLayout).
  const pipe = child.stdio[child.stdio.length - 1] as NodeJS.ReadWriteStream | null | undefined;
  if (!pipe) return Promise.resolve({ error: "no watchdog pipe" });
  return new Promise((resolve) => {
    let buf = "";
    const done = (v: StackReply) => {
      clearTimeout(timer);
      pipe.off("data", onData);
      resolve(v);
    };
    const onData = (d: Buffer | string) => {
      buf += d.toString();
      const i = buf.indexOf("\n");
      if (i < 0) return;
      try {
        done(JSON.parse(buf.slice(0, i)) as StackReply);
      } catch {
        done({ error: "unreadable watchdog reply" });
      }
    };
    const timer = setTimeout(() => done({ error: `no answer within ${timeoutMs} ms (stopped, or blocked outside JavaScript?)` }), timeoutMs);
    pipe.on("data", onData);
    try {
      pipe.write(`${command}\n`);
    } catch (e) {
      done({ error: (e as Error).message });
    }
  });
}

/**
 * One loop turn's check of one worker (`timeout` in seconds, > 0): ask for the stack once the
 * heartbeat is half a `timeout` late, kill once it is `timeout` late. `abortHook`: the
 * configuration has a `worker_abort` hook, which the watchdog runs on the blocked main thread
 * before the kill (bounded by the same grace).
 */
export function checkHeartbeat(w: WorkerRec, timeout: number, log: Logger, abortHook: boolean): void {
  if (w.state === "killed") return;
  const limit = w.state === "booting" ? Math.max(timeout * 1000, BOOT_TIMEOUT_MS) : timeout * 1000;
  const age = Date.now() - w.lastHb;
  if (w.state !== "booting" && age > Math.max(limit / 2, 2 * heartbeatInterval(timeout))) askStack(w, limit);
  if (age > limit) killTimedOut(w, log, abortHook);
}

/** Ask for the stack unless a question about this same silence is already out. */
function askStack(w: WorkerRec, limit: number): Ask {
  const prev = asks.get(w);
  if (prev && (prev.hb === w.lastHb || !prev.reply)) return prev;
  const ask: Ask = { hb: w.lastHb, reply: null, done: askWatchdog(w.child, "stack", limit / 2 + STACK_GRACE_MS) };
  void ask.done.then((r) => (ask.reply = r));
  asks.set(w, ask);
  return ask;
}

/**
 * Kill one worker whose heartbeat is older than `timeout`: mark it `killed` (cause `timeout`),
 * wait at most {@link STACK_GRACE_MS} for its stack (and as long again for `worker_abort`), log `WORKER TIMEOUT`,
 * then SIGKILL its process group.
 */
export function killTimedOut(w: WorkerRec, log: Logger, abortHook = false): void {
  w.state = "killed";
  w.endCause = "timeout";
  const silent = ((Date.now() - w.lastHb) / 1000).toFixed(1);
  const ask = asks.get(w);
  const late: StackReply = { error: `none within ${STACK_GRACE_MS} ms after timeout (stopped, or blocked outside JavaScript?)` };
  const stack = ask?.hb === w.lastHb ? within(ask.done, STACK_GRACE_MS).then(() => ask.reply ?? late) : askWatchdog(w.child, "stack", STACK_GRACE_MS);
  void stack
    .then((r) => (abortHook ? askWatchdog(w.child, "abort", STACK_GRACE_MS).then(() => r) : r))
    .then((r) => {
      const text = r.stack ? `JavaScript stack of the blocked event loop:\n${r.stack}` : `(no JavaScript stack: ${r.error})`;
      const req = r.request ? ` while handling ${JSON.stringify(r.request)}` : "";
      log.critical(`WORKER TIMEOUT (pid:${w.pid}): no heartbeat for ${silent}s${req}; killing it and its process group`, { stack: text, request: r.request });
      signalWorker(w, "SIGKILL");
    });
}
