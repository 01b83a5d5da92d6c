/**
 * Worker side of the stack capture for stuck workers (Gunicorn's `timeout`, plus what Gunicorn lacks — #185: the
 * stack of the code that blocked the event loop).
 *
 * Each worker starts a small watchdog `worker_thread` that owns an extra pipe to the arbiter
 * (the last fd the worker inherits, after its listeners and the IPC channel). When a worker's
 * heartbeat is half a `timeout` late, the arbiter writes
 * `stack\n` on that pipe; the watchdog — which runs on its own thread and event loop, so it is
 * alive while the main thread spins — attaches to the main thread's V8 inspector
 * (`inspector.Session.connectToMainThread()`), asks it to pause (`Debugger.pause` interrupts
 * running JavaScript, e.g. a hot loop), formats the paused call frames as a JS stack, reads the
 * request in flight, resumes it and writes both back as one JSON line. At `timeout` the arbiter
 * logs them and SIGKILLs the worker (arbiter/timeout.ts); before that, when the configuration has
 * a `worker_abort` hook, it writes `abort\n`, and the watchdog runs the hook on the paused main
 * thread. A main thread stuck in a blocking system call (or a stopped process) cannot be paused;
 * the arbiter kills it at `timeout` all the same and logs that no stack was available.
 */
import { builtin } from "../builtin.js";

// Runs inside the watchdog thread (CommonJS eval code: `require` is available there).
const THREAD_SOURCE = `
const net = require("node:net");
const inspector = require("node:inspector");
const { workerData } = require("node:worker_threads");
const pipe = new net.Socket({ fd: workerData.fd, readable: true, writable: true });
// Evaluated on the paused main thread: the request line of the handler it is in, if any.
const CURRENT = "(h => h && h.req ? String(h.req.method) + ' ' + String(h.req.url) : undefined)(globalThis[Symbol.for('prodserver.currentRequest')])";
const ABORT = "(f => { if (typeof f === 'function') f(); })(globalThis[Symbol.for('prodserver.workerAbort')])";
let buf = "";
function reply(obj) { try { pipe.write(JSON.stringify(obj) + "\\n"); } catch {} }
// Pause the main thread through the inspector and call then(session, pausedParams, done); done()
// resumes it and lets the session go.
function whilePaused(then) {
  let session;
  try {
    session = new inspector.Session();
    session.connectToMainThread();
  } catch (e) {
    return reply({ error: "inspector unavailable: " + e.message });
  }
  const urls = new Map();
  session.on("Debugger.scriptParsed", ({ params }) => urls.set(params.scriptId, params.url));
  session.once("Debugger.paused", ({ params }) => then(session, params, urls, () => {
    session.post("Debugger.resume", () => { session.post("Debugger.disable", () => session.disconnect()); });
  }));
  session.post("Debugger.enable", (err) => {
    if (err) return reply({ error: "Debugger.enable: " + err.message });
    session.post("Debugger.pause", (err2) => { if (err2) reply({ error: "Debugger.pause: " + err2.message }); });
  });
}
// "stack": the paused call frames as a JS stack, and the request line of the handler it is in.
function stack() {
  whilePaused((session, params, urls, done) => {
    const frames = params.callFrames.map((f) => {
      const where = (f.url || urls.get(f.location.scriptId) || "<anonymous>") + ":" + (f.location.lineNumber + 1) + ":" + (f.location.columnNumber + 1);
      return "    at " + (f.functionName ? f.functionName + " (" + where + ")" : where);
    });
    session.post("Runtime.evaluate", { expression: CURRENT, returnByValue: true, silent: true }, (err, res) => {
      const v = !err && res && res.result ? res.result.value : undefined;
      reply({ stack: frames.join("\\n"), request: typeof v === "string" ? v.slice(0, 1024) : undefined });
      done();
    });
  });
}
// "abort": Gunicorn's worker_abort, run synchronously on the paused main thread (its loop is stuck), bounded to 1 s.
function abort() {
  whilePaused((session, params, urls, done) => {
    session.post("Runtime.evaluate", { expression: ABORT, silent: true, timeout: 1000 }, () => {
      reply({ aborted: true });
      done();
    });
  });
}
pipe.on("data", (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf("\\n")) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    if (line === "stack") stack();
    else if (line === "abort") abort();
  }
});
pipe.on("error", () => {});
`;

// The watchdog reads `req.method` and `req.url` of the request in here through the inspector
// (Runtime.evaluate on the paused main thread), only when it reports a timeout.
const current: { req: { method?: string; url?: string } | null } = { req: null };
(globalThis as Record<symbol, unknown>)[Symbol.for("prodserver.currentRequest")] = current;

/**
 * Record the request whose handler the main thread is entering, so a timeout report can say
 * which request blocked the loop (`METHOD URL`, truncated to 1 KiB); `null` clears it. One
 * property store per call: the line is built only when a timeout is reported (building and
 * encoding it into shared memory on every request was ~1 % of a worker's CPU at 50k req/s).
 */
export function setCurrentRequest(req: { method?: string; url?: string } | null): void {
  current.req = req;
}

/** Worker side: start the watchdog thread on the inherited pipe at `fd` (protocol.ts forkLayout). */
export function startWatchdog(fd: number): void {
  try {
    const { Worker } = builtin<typeof import("node:worker_threads")>("node:worker_threads");
    const w = new Worker(THREAD_SOURCE, { eval: true, workerData: { fd }, stdout: true, stderr: true });
    w.on("error", () => {});
    w.unref();
  } catch {
    /* no worker_threads: timeouts are still enforced, without a stack */
  }
}
