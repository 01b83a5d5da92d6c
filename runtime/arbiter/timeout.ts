/**
 * Arbiter side of `timeout` (Gunicorn's `murder_workers`): a worker whose heartbeat is older than
 * `timeout` is killed, after its watchdog thread (worker/watchdog.ts) was asked for the blocked
 * event loop's JavaScript stack and the request in flight, which are logged as CRITICAL
 * `WORKER TIMEOUT` — the evidence Gunicorn lacks (benoitc/gunicorn#185).
 */
import type { ChildProcess } from "node:child_process";
import type { Logger } from "../log.js";
import { signalWorker, type WorkerRec } from "./worker-record.js";

/**
 * Arbiter side: ask a worker's watchdog for the main thread's JS stack.
 * Resolves with the stack text, or a reason it is unavailable, within `timeoutMs` (milliseconds).
 * The default, 5000, leaves room for `Debugger.enable` (it replays every parsed script) on a
 * loaded machine: at 2000 the stack was missed under CI-like load on Node 24. The worker is
 * already past `timeout`; a few more seconds for the evidence is Gunicorn's SIGABRT-then-SIGKILL.
 */
export function requestStack(child: ChildProcess, timeoutMs = 5000): Promise<{ stack?: string; request?: string; error?: string }> {
  // The watchdog pipe is the last stdio entry of the fork (protocol.ts forkLayout).
  const pipe = child.stdio[child.stdio.length - 1] as NodeJS.ReadWriteStream | null | undefined;
  if (!pipe) return Promise.resolve({ error: "no watchdog pipe" });
  return new Promise((resolve) => {
    let buf = "";
    const done = (v: { stack?: string; request?: string; error?: string }) => {
      clearTimeout(timer);
      pipe.off("data", onData);
      resolve(v);
    };
    const onData = (d: Buffer | string) => {
      buf += d.toString();
      const i = buf.indexOf("\n");
      if (i >= 0) {
        try {
          done(JSON.parse(buf.slice(0, i)));
        } catch {
          done({ error: "unreadable watchdog reply" });
        }
      }
    };
    const timer = setTimeout(() => done({ error: `no stack within ${timeoutMs} ms (blocked outside JavaScript?)` }), timeoutMs);
    pipe.on("data", onData);
    try {
      pipe.write("stack\n");
    } catch (e) {
      done({ error: (e as Error).message });
    }
  });
}

/**
 * Kill one worker whose heartbeat is older than `timeout`: mark it `killed` (cause `timeout`),
 * ask its watchdog for the stack, log `WORKER TIMEOUT` with it, then SIGKILL.
 */
export function killTimedOut(w: WorkerRec, log: Logger): void {
  w.state = "killed";
  w.endCause = "timeout";
  const silent = ((Date.now() - w.lastHb) / 1000).toFixed(1);
  void requestStack(w.child).then((r) => {
    const stack = r.stack ? `JavaScript stack of the blocked event loop:\n${r.stack}` : `(no JavaScript stack: ${r.error})`;
    const req = r.request ? ` while handling ${JSON.stringify(r.request)}` : "";
    log.critical(`WORKER TIMEOUT (pid:${w.pid}): no heartbeat for ${silent}s${req}; killing it`, { stack, request: r.request });
    signalWorker(w, "SIGKILL");
  });
}
