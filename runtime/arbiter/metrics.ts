/**
 * Arbiter side of the Prometheus metrics: an HTTP server on `metrics_bind` (never the app's
 * sockets) answering `GET /metrics` in the Prometheus text format; anything else is 404.
 *
 * On each scrape the arbiter asks every ready worker over IPC for its registry
 * (`{t:"metrics", id}` -> `{t:"metrics", id, data}`, see metrics-worker.ts), waits at most
 * {@link WORKER_WAIT_MS} per scrape, skips the workers that did not answer (counted in
 * `prodserver_metrics_workers_skipped_total`), and sums the answers with prom-client's
 * `AggregatorRegistry.aggregate()` (counters and histograms summed, the in-flight gauge summed).
 * The arbiter adds its own:
 * - `prodserver_workers` (gauge): live worker processes,
 * - `prodserver_worker_restarts_total{reason}` (counter): workers that exited while the server
 *   was not stopping, by {@link restartReason},
 * - `prodserver_worker_heartbeat_age_seconds{worker}` (gauge, seconds, label = pid): time since
 *   the arbiter last heard from each worker (what the `timeout` check compares).
 * Module loaded only when `metrics_bind` is set.
 */
import type http from "node:http";
import { builtin } from "../builtin.js";
import { AggregatorRegistry, Counter, Gauge, Registry } from "prom-client";
import type { Logger } from "../log.js";
import type { FromWorker, ToWorker } from "../protocol.js";
import { parseBind } from "../settings.js";
import type { WorkerRec } from "./worker-record.js";

/** Longest a scrape waits for the workers' answers, in milliseconds. */
export const WORKER_WAIT_MS = 1000;

/**
 * Why a worker that exited is being replaced, as a `reason` label value: the cause the arbiter
 * recorded when it ended the worker (worker-record.ts `EndCause`: `timeout`, `max_requests`,
 * `memory`, `reload`, `rollback`, `ttou`), else `boot` (exited before ready) or `crash`
 * (any other exit or signal nobody asked for).
 */
export function restartReason(w: WorkerRec): string {
  return w.endCause ?? (w.readyAt ? "crash" : "boot");
}

/** The arbiter's metrics endpoint; create with {@link startMetricsServer}. */
export class MetricsServer {
  private readonly registry = new Registry();
  private readonly restarts: Counter<"reason">;
  private readonly skipped: Counter;
  private readonly pending = new Map<number, (data: unknown) => void>();
  private nextId = 1;
  readonly server: http.Server;

  constructor(
    private readonly workers: () => Iterable<WorkerRec>,
    private readonly log: Logger,
  ) {
    const reg = [this.registry];
    this.restarts = new Counter({ name: "prodserver_worker_restarts_total", help: "Workers replaced, by reason (crash, timeout, max_requests, memory, reload, rollback, boot, ttou).", labelNames: ["reason"], registers: reg });
    this.skipped = new Counter({ name: "prodserver_metrics_workers_skipped_total", help: "Workers left out of a scrape because they did not answer within 1 s.", registers: reg });
    const all = () => [...this.workers()];
    new Gauge({ name: "prodserver_workers", help: "Live worker processes.", registers: reg, collect() { this.set(all().length); } });
    new Gauge({
      name: "prodserver_worker_heartbeat_age_seconds",
      help: "Seconds since the arbiter last heard from each worker (label worker = pid).",
      labelNames: ["worker"],
      registers: reg,
      collect() {
        this.reset();
        const now = Date.now();
        for (const w of all()) this.set({ worker: String(w.pid) }, (now - w.lastHb) / 1000);
      },
    });
    this.server = builtin<typeof import("node:http")>("node:http").createServer((req, res) => void this.answer(req, res));
  }

  /** Feed every worker message here (the arbiter's onWorkerMessage): metrics answers. */
  onMessage(_w: WorkerRec, msg: FromWorker): void {
    if (msg?.t === "metrics") this.pending.get(msg.id)?.(msg.data);
  }

  /** A worker exited while the server was not stopping: count its restart. */
  onExit(w: WorkerRec): void {
    this.restarts.inc({ reason: restartReason(w) });
  }

  /** Ask one worker for its metrics JSON; undefined when it did not answer within `ms`. */
  private ask(w: WorkerRec, ms: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, ms);
      this.pending.set(id, (data) => {
        clearTimeout(t);
        this.pending.delete(id);
        resolve(data);
      });
      try {
        w.child.send({ t: "metrics", id } satisfies ToWorker, (e) => e && this.log.debug(`metrics IPC to ${w.pid}: ${e.message}`));
      } catch {
        /* channel closed: it times out and is skipped */
      }
    });
  }

  /** The Prometheus text of all workers summed plus the arbiter's own metrics. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const ready = [...this.workers()].filter((w) => w.readyAt && w.state !== "killed");
    const answers = await Promise.all(ready.map((w) => this.ask(w, WORKER_WAIT_MS)));
    const got = answers.filter((a): a is object[] => Array.isArray(a));
    const missing = answers.length - got.length;
    if (missing > 0) {
      this.skipped.inc(missing);
      this.log.warning(`metrics: ${missing} worker(s) did not answer within ${WORKER_WAIT_MS} ms; left out of this scrape`);
    }
    const merged = Registry.merge([AggregatorRegistry.aggregate(got as Parameters<typeof AggregatorRegistry.aggregate>[0]), this.registry]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found; metrics are at GET /metrics\n");
      return;
    }
    try {
      const { contentType, body } = await this.scrape();
      res.writeHead(200, { "content-type": contentType }).end(req.method === "HEAD" ? undefined : body);
    } catch (e) {
      this.log.error(`metrics scrape failed: ${(e as Error)?.message ?? String(e)}`);
      res.writeHead(500, { "content-type": "text/plain" }).end("metrics scrape failed\n");
    }
  }

  /** Stop serving metrics. */
  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }
}

/**
 * Listen on `bind` (`HOST:PORT`) and serve the metrics.
 * @throws Error naming `metrics_bind` when the address cannot be bound (in use, not local).
 */
export async function startMetricsServer(bind: string, workers: () => Iterable<WorkerRec>, log: Logger): Promise<MetricsServer> {
  const spec = parseBind(bind, "metrics_bind");
  if (spec.kind !== "tcp") throw new Error(`metrics_bind: expected HOST:PORT, got ${JSON.stringify(bind)}`);
  const m = new MetricsServer(workers, log);
  await new Promise<void>((resolve, reject) => {
    m.server.once("error", (e) => reject(new Error(`metrics_bind: cannot listen on ${bind}: ${e.message}`)));
    m.server.listen(spec.port, spec.host, () => resolve());
  });
  m.server.on("error", (e) => log.error(`metrics server: ${e.message}`));
  const a = m.server.address();
  log.info(`Metrics at: http://${bind.replace(/:\d+$/, "")}:${typeof a === "object" && a ? a.port : spec.port}/metrics`);
  return m;
}
