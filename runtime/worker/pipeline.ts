/**
 * What a worker does with every request before and around the app, in order:
 * 1. the drain's bookkeeping (drain.ts: in-flight count, `Connection: close` once draining) and
 *    the access log line when the response closes;
 * 2. the request guard (Gunicorn's limits, `forwarded_allow_ips`; request-guard.ts);
 * 3. the runtime's own health endpoints (health.ts), answered before the app;
 * 4. metrics, `max_requests` counting, `pre_request` / `post_request` hooks;
 * 5. the app, its errors answered as 500 (or the socket destroyed once a response started), run
 *    in the request's async context so that stray errors it causes later name it (stray-errors.ts).
 */
import type http from "node:http";
import { accessJson, compileAccess, countBytes } from "./access-log.js";
import { answerHealth } from "./health.js";
import { requestGuard } from "./request-guard.js";
import { inRequest } from "./stray-errors.js";
import { setCurrentRequest } from "./watchdog.js";
import type { Drain } from "./drain.js";
import type { WorkerMetrics } from "./metrics.js";
import { callHook, type Hooks, type WorkerView } from "../hooks.js";
import type { LogFile, Logger } from "../log.js";
import type { Settings } from "../settings.js";

/** The app as the pipeline calls it: may return a promise, whose rejection is a 500. */
export type AppHandler = (req: http.IncomingMessage, res: http.ServerResponse) => unknown;

/** A request pipeline: runs the runtime's part, then `app` unless the runtime answered. */
export type Pipeline = (req: http.IncomingMessage, res: http.ServerResponse, app: AppHandler) => void;

/** What the pipeline needs from the worker. */
export interface PipelineDeps {
  settings: Settings;
  log: Logger;
  hooks: Hooks;
  view: WorkerView;
  drain: Drain;
  /** Access log file, or null when `accesslog` is unset. */
  accessFile: LogFile | null;
  metrics: WorkerMetrics | null;
  /** Called when the worker has served its `max_requests` + jitter (`served` requests, `limit`). */
  onMaxRequests: (served: number, limit: number) => void;
}

/**
 * Build the pipeline. `max_requests` + jitter as Gunicorn's: per worker,
 * `max_requests + randint(0, max_requests_jitter)`; only requests that reach the app count.
 */
export function makePipeline(d: PipelineDeps): Pipeline {
  const { settings, log, hooks, view, drain, accessFile, metrics } = d;
  const guard = requestGuard(settings);
  const formatLine = settings.log_format === "json" ? accessJson : compileAccess(settings.access_log_format);
  const watchdog = settings.timeout > 0;
  const limit = settings.max_requests > 0 ? settings.max_requests + Math.floor(Math.random() * (settings.max_requests_jitter + 1)) : Infinity;
  const draining = () => drain.draining;
  let served = 0;
  return (req, res, app) => {
    drain.begin(req, res);
    if (accessFile) {
      // Clocks and byte counting only for the access log.
      const startNs = process.hrtime.bigint();
      const start = Date.now();
      const bytes = countBytes(res);
      res.once("close", () => accessFile.write(formatLine({ req, res, start, durationNs: process.hrtime.bigint() - startNs, bytes: bytes() })));
    }
    if (guard(req, res)) return;
    if (answerHealth(req, res, draining)) return;
    if (metrics) metrics.observe(req, res);
    if (++served >= limit) d.onMaxRequests(served, limit);
    if (hooks.pre_request) void callHook(hooks, "pre_request", log, [view, req]);
    if (hooks.post_request) res.once("close", () => void callHook(hooks, "post_request", log, [view, req, res]));
    const fail = (e: unknown) => {
      log.error(`Error handling request ${req.method} ${req.url}`, { stack: (e as Error)?.stack ?? String(e) });
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain", connection: "close" });
        res.end("Internal Server Error");
      } else res.destroy();
    };
    if (watchdog) setCurrentRequest(req);
    try {
      const r = inRequest(req, () => app(req, res)) as Promise<unknown> | undefined;
      if (r && typeof r.then === "function") r.then(undefined, fail);
    } catch (e) {
      fail(e);
    }
    if (watchdog) setCurrentRequest(null);
  };
}
