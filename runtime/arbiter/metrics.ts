/**
 * Arbiter side of the Prometheus metrics: an HTTP server on `metrics_bind` (never the app's
 * sockets) answering `GET /metrics` in the Prometheus text format; anything else is 404.
 *
 * On each scrape the arbiter asks every ready worker over IPC for its registry
 * (`{t:"metrics", id}` -> `{t:"metrics", id, data}`, see worker/metrics.ts), waits at most
 * {@link WORKER_WAIT_MS} per scrape, and sums the answers with prom-client's
 * `AggregatorRegistry.aggregate()` (counters and histograms summed, the in-flight gauge summed).
 * A worker that did not answer in time is counted in `prodserver_metrics_workers_skipped_total`
 * and summed with its last answer. The counters and histograms of workers that are gone (recycled,
 * reloaded, crashed, killed) stay in the sum — their last answer, or the registry a worker sends as
 * it exits (`id` 0) — so a summed counter never goes down and `rate()` sees no false reset.
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

/** A registry as `getMetricsAsJSON()` gives it. */
type MetricsJson = Array<{ name: string; type: string; [k: string]: unknown }>;

/** Sum registries (counters and histograms added up by label set), as JSON again. */
async function sumMetrics(parts: MetricsJson[]): Promise<MetricsJson> {
  const nonEmpty = parts.filter((p) => p.length > 0);
  if (nonEmpty.length <= 1) return nonEmpty[0] ?? [];
  return (await AggregatorRegistry.aggregate(nonEmpty as Parameters<typeof AggregatorRegistry.aggregate>[0]).getMetricsAsJSON()) as unknown as MetricsJson;
}

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
  /** Each worker's last registry (its answer to a scrape, or the one it sent as it exited). */
  private readonly last = new WeakMap<WorkerRec, MetricsJson>();
  /** The summed counters and histograms of the workers that are gone. */
  private retired: Promise<MetricsJson> = Promise.resolve([]);
  private nextId = 1;
  readonly server: http.Server;

  constructor(
    private readonly workers: () => Iterable<WorkerRec>,
    private readonly log: Logger,
  ) {
    const reg = [this.registry];
    this.restarts = new Counter({
      name: "prodserver_worker_restarts_total",
      help: "Workers replaced, by reason (crash, timeout, max_requests, memory, reload, rollback, boot, ttou).",
      labelNames: ["reason"],
      registers: reg,
    });
    this.skipped = new Counter({ name: "prodserver_metrics_workers_skipped_total", help: "Workers left out of a scrape because they did not answer within 1 s.", registers: reg });
    const all = () => [...this.workers()];
    new Gauge({
      name: "prodserver_workers",
      help: "Live worker processes.",
      registers: reg,
      collect() {
        this.set(all().length);
      },
    });
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
  onMessage(w: WorkerRec, msg: FromWorker): void {
    if (msg?.t !== "metrics") return;
    if (Array.isArray(msg.data)) this.last.set(w, msg.data as MetricsJson);
    this.pending.get(msg.id)?.(msg.data);
  }

  /** A worker exited while the server was not stopping: count its restart, keep its counters. */
  onExit(w: WorkerRec): void {
    this.restarts.inc({ reason: restartReason(w) });
    const last = this.last.get(w);
    if (!last) return;
    const kept = last.filter((m) => m.type === "counter" || m.type === "histogram");
    this.retired = this.retired.then((sum) => sumMetrics([sum, kept]));
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
    const missing = answers.filter((a) => !Array.isArray(a)).length;
    if (missing > 0) {
      this.skipped.inc(missing);
      this.log.warning(`metrics: ${missing} worker(s) did not answer within ${WORKER_WAIT_MS} ms; summed with their last answer`);
    }
    // Every live worker's latest registry (a killed one's last answer too: it is gone only once it
    // exited), and those gone: both read in one synchronous step, as onExit changes both in one.
    const retired = this.retired;
    const parts = [...this.workers()].map((w) => this.last.get(w)).filter((m): m is MetricsJson => m !== undefined);
    parts.push(await retired);
    const merged = Registry.merge([AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0]), this.registry]);
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
