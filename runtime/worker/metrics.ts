/**
 * Worker side of the Prometheus metrics (only loaded when `metrics_bind` is set; with it unset
 * the worker never imports this module and requests are not instrumented at all).
 *
 * Each worker keeps its own prom-client `Registry` with
 * - `http_requests_total{method,status}` (counter; requests that reached the app, health probes excluded),
 * - `http_request_duration_seconds{method,status}` (histogram, seconds, from the request's
 *   arrival to the response's `close`),
 * - `http_requests_in_flight` (gauge),
 * - `prodserver_requests_refused_total{reason}` (counter): requests and connections the runtime
 *   answered itself with an error status or closed (harden.ts `RefusalKind`),
 * - `prodserver_fd_exhaustion_total` (counter): bursts of the worker at its file-descriptor limit,
 *   when new connections are reset (fd-limit.ts),
 * - `prodserver_stray_errors_total{kind}` (counter): unhandled rejections and uncaught exceptions
 *   (stray-errors.ts).
 * The arbiter asks for them over IPC (`{t:"metrics", id}`) and the worker answers
 * `{t:"metrics", id, data}` with `registry.getMetricsAsJSON()`; the arbiter sums all workers with
 * `AggregatorRegistry.aggregate()` (as prom-client's own node:cluster support does).
 */
import type http from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { FromWorker, ToWorker } from "../protocol.js";

/** Methods kept as label values; anything else is counted as `OTHER` (bounded label cardinality). */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]);

/** What the worker's request handler calls. */
export interface WorkerMetrics {
  /** Count and time one request; the numbers are recorded when `res` emits `close`. */
  observe(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** The runtime refused a request or connection (`reason`: harden.ts `RefusalKind`). */
  refused(reason: string): void;
  /** The worker reached its file-descriptor limit (once per burst). */
  fdExhausted(): void;
  /** A stray error (`unhandledRejection` or `uncaughtException`). */
  strayError(kind: string): void;
  /** The registry as JSON, as the arbiter aggregates it. */
  snapshot(): Promise<unknown>;
  readonly registry: Registry;
}

/**
 * Create the worker's registry and answer the arbiter's `metrics` requests on the IPC channel.
 * Call once per worker process.
 */
export function workerMetrics(): WorkerMetrics {
  const registry = new Registry();
  const total = new Counter({ name: "http_requests_total", help: "HTTP requests answered by the app, by method and status.", labelNames: ["method", "status"], registers: [registry] });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time from a request's arrival to the end of its response, in seconds.",
    labelNames: ["method", "status"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const inFlight = new Gauge({ name: "http_requests_in_flight", help: "Requests being handled right now.", registers: [registry] });
  const refused = new Counter({
    name: "prodserver_requests_refused_total",
    help: "Requests and connections the runtime answered itself with an error status or closed, by reason (head_limits, protocol, parse_error, connect, header_memory, header_connections, header_timeout).",
    labelNames: ["reason"],
    registers: [registry],
  });
  const fdExhausted = new Counter({
    name: "prodserver_fd_exhaustion_total",
    help: "Times a worker reached its file-descriptor limit (new connections reset until it falls back), once per burst.",
    registers: [registry],
  });
  const stray = new Counter({ name: "prodserver_stray_errors_total", help: "Unhandled promise rejections and uncaught exceptions in workers, by kind.", labelNames: ["kind"], registers: [registry] });

  process.on("message", (msg: ToWorker) => {
    if (msg?.t !== "metrics") return;
    void registry.getMetricsAsJSON().then((data) => {
      const reply: FromWorker = { t: "metrics", id: msg.id, data };
      if (process.connected && process.send) {
        try {
          process.send(reply);
        } catch {
          /* channel closed: the arbiter skips this worker */
        }
      }
    });
  });

  return {
    registry,
    refused: (reason) => refused.inc({ reason }),
    fdExhausted: () => fdExhausted.inc(),
    strayError: (kind) => stray.inc({ kind }),
    snapshot: () => registry.getMetricsAsJSON(),
    observe(req, res) {
      const start = process.hrtime.bigint();
      inFlight.inc();
      res.once("close", () => {
        inFlight.dec();
        const method = METHODS.has(req.method ?? "") ? req.method! : "OTHER";
        const labels = { method, status: String(res.statusCode) };
        total.inc(labels);
        duration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
      });
    },
  };
}
