// Prometheus metrics (metrics_bind): the arbiter serves the sum over all workers on its own
// address, never on the app's port; worker restarts are counted by reason. Also: the JSON error log.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { get, killAll, start, waitFor, workerPids, workersMatch, type Server } from "./runtime-support.js";

after(killAll);

/** Start with metrics on an ephemeral port; returns the server and the metrics URL (from the log line). */
async function serveWithMetrics(extra: string[] = []): Promise<{ s: Server; metrics: string }> {
  const s = await start(["serve", "metrics-app.mjs#app", "-w", "2", "-b", "127.0.0.1:0", "--metrics-bind", "127.0.0.1:0", ...extra], { workers: 2 });
  await waitFor(() => /Metrics at: http:\/\/\S+/.test(s.stderr()), 10000, "the Metrics at: line");
  return { s, metrics: /Metrics at: (http:\/\/\S+)/.exec(s.stderr())![1] };
}

/** Parse the Prometheus text into `name{labels}` -> value (comments dropped). */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const r = await get(url);
  assert.equal(r.status, 200, r.body);
  assert.match(String(r.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  return parse(r.body);
}

describe("runtime metrics", { timeout: 90000 }, () => {
  test("a scrape sums both workers: counts by method/status, histogram count = N, in-flight 0; /metrics is not on the app port", async () => {
    const { s, metrics } = await serveWithMetrics();
    const plan = [
      { method: "GET", status: 200 },
      { method: "GET", status: 404 },
      { method: "POST", status: 201 },
      { method: "DELETE", status: 500 },
    ];
    const sent = new Map<string, number>();
    const pids = new Set<string>();
    let n = 0;
    // Batches of concurrent fresh connections until both workers have answered (bounded).
    for (let round = 0; round < 50 && (pids.size < 2 || n < 40); round++) {
      const batch = Array.from({ length: 8 }, (_, i) => plan[(n + i) % plan.length]);
      const replies = await Promise.all(batch.map((p) => get(`${s.url}/status/${p.status}`, { method: p.method })));
      replies.forEach((r, i) => {
        assert.equal(r.status, batch[i].status);
        pids.add(String(r.headers["x-served-by"]));
        const key = `method="${batch[i].method}",status="${batch[i].status}"`;
        sent.set(key, (sent.get(key) ?? 0) + 1);
      });
      n += batch.length;
    }
    assert.equal(pids.size, 2, `requests were served by both workers (${[...pids]})`);
    assert.deepEqual([...pids].sort(), workerPids(s.pid).map(String).sort());

    const app = await get(`${s.url}/metrics`);
    assert.equal(app.status, 404, "the app's port answers /metrics with the app's own 404");
    assert.doesNotMatch(app.body, /http_requests_total/);

    const m = await scrape(metrics);
    for (const [labels, count] of sent) if (labels !== 'method="GET",status="404"') assert.equal(m.get(`http_requests_total{${labels}}`), count, labels);
    let histCount = 0;
    for (const [k, v] of m) if (k.startsWith("http_request_duration_seconds_count{")) histCount += v;
    assert.equal(histCount, n + 1, "histogram count = requests sent (+1: the app's /metrics 404)");
    assert.equal(m.get('http_requests_total{method="GET",status="404"}'), sent.get('method="GET",status="404"')! + 1);
    assert.equal(m.get("http_requests_in_flight"), 0);
    assert.equal(m.get("prodserver_workers"), 2);
    for (const pid of pids) assert.ok(m.get(`prodserver_worker_heartbeat_age_seconds{worker="${pid}"}`)! >= 0, `heartbeat age of ${pid}`);
    assert.equal(m.get("prodserver_metrics_workers_skipped_total"), 0);
    assert.equal((await get(metrics.replace(/\/metrics$/, "/other"))).status, 404);
    assert.equal((await s.stop()).code, 0);
  });

  test("a killed worker counts as restarts_total{reason=crash}; a blocked worker is skipped, not waited for", async () => {
    const { s, metrics } = await serveWithMetrics(["--timeout", "30"]);
    const before = await scrape(metrics);
    assert.equal(before.get('prodserver_worker_restarts_total{reason="crash"}'), undefined);
    const [victim] = workerPids(s.pid);
    process.kill(victim, "SIGKILL");
    await waitFor(() => workersMatch(s.pid, (now) => now.length === 2 && !now.includes(victim)), 20000, "the replacement worker");
    await waitFor(async () => (await scrape(metrics)).get('prodserver_worker_restarts_total{reason="crash"}') === 1, 10000, "restarts_total{crash} = 1");
    await waitFor(async () => (await scrape(metrics)).get("prodserver_workers") === 2, 10000, "2 workers again");

    // One worker blocks its event loop for 5 s: the scrape comes back without it, while it is
    // still blocked. (Earlier scrapes may already have skipped a worker still booting on a loaded
    // machine, so the counter is compared before and after.)
    const skippedBefore = (await scrape(metrics)).get("prodserver_metrics_workers_skipped_total") ?? 0;
    let blockedDone = false;
    const blocked = get(`${s.url}/block?ms=5000`).finally(() => (blockedDone = true));
    await new Promise((r) => setTimeout(r, 500));
    const m = await scrape(metrics);
    assert.equal(blockedDone, false, "the scrape did not wait for the blocked worker");
    assert.ok((m.get("prodserver_metrics_workers_skipped_total") ?? 0) >= skippedBefore + 1, "the blocked worker was skipped");
    assert.match(s.stderr(), /metrics: 1 worker\(s\) did not answer within 1000 ms/);
    assert.equal((await blocked).status, 200);
    assert.equal((await s.stop()).code, 0);
  });

  test("restarts_total counts max_requests recycles, HUP reloads and TTOU by reason", async () => {
    const { s, metrics } = await serveWithMetrics(["--max-requests", "3"]);
    const count = async (reason: string) => (await scrape(metrics)).get(`prodserver_worker_restarts_total{reason="${reason}"}`) ?? 0;
    for (let i = 0; i < 10; i++) await get(`${s.url}/status/200`);
    await waitFor(async () => (await count("max_requests")) >= 1, 20000, "a max_requests restart");
    await waitFor(() => workerPids(s.pid).length === 2, 10000, "2 workers");
    const before = await count("reload");
    process.kill(s.pid, "SIGHUP");
    // At least the 2 serving workers: a max_requests recycle still under way at HUP (its worker and
    // its booting replacement, both of the old generation) is retired by the reload too.
    await waitFor(async () => (await count("reload")) >= before + 2, 20000, "2 reload restarts");
    process.kill(s.pid, "SIGTTOU");
    await waitFor(async () => (await count("ttou")) === 1, 20000, "1 ttou restart");
    assert.equal(await count("crash"), 0);
    assert.equal((await s.stop()).code, 0);
  });

  test("summed counters never go down across recycles: the arbiter keeps the totals of workers that are gone", async () => {
    const { s, metrics } = await serveWithMetrics(["--max-requests", "4"]);
    const total = (m: Map<string, number>) => [...m].filter(([k]) => k.startsWith("http_requests_total{")).reduce((n, [, v]) => n + v, 0);
    const seen: number[] = [];
    const restarts = (m: Map<string, number>) => m.get('prodserver_worker_restarts_total{reason="max_requests"}') ?? 0;
    // A recycling worker serves on until its replacement is ready, and the shared socket may hand
    // it most connections meanwhile: so send until 2 recycled workers are gone (bounded), not a
    // fixed count.
    let sent = 0;
    for (const until = Date.now() + 30000; Date.now() < until; ) {
      assert.equal((await get(`${s.url}/status/200`)).status, 200);
      sent++;
      const m = await scrape(metrics);
      seen.push(total(m));
      if (sent >= 12 && restarts(m) >= 2) break;
    }
    assert.ok(restarts(await scrape(metrics)) >= 2, `at least 2 recycled workers gone after ${sent} requests`);
    // Each exiting worker sends its last registry, so in the end every request is counted once.
    await waitFor(async () => total(await scrape(metrics)) === sent, 10000, `http_requests_total = ${sent}`);
    seen.push(total(await scrape(metrics)));
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], `the sum went down between scrapes ${i - 1} and ${i}: ${seen.join(" ")}`);
    assert.equal((await s.stop()).code, 0);
  });

  test("without metrics_bind nothing listens for metrics and the app is not instrumented", async () => {
    const s = await start(["serve", "metrics-app.mjs#app", "-w", "1", "-b", "127.0.0.1:0"], { workers: 1 });
    assert.doesNotMatch(s.stderr(), /Metrics at:/);
    assert.equal((await get(`${s.url}/metrics`)).body, "app: no such route");
    assert.equal((await s.stop()).code, 0);
  });

  test("metrics_bind must be a TCP HOST:PORT (the error names the setting)", async () => {
    const { run } = await import("./runtime-support.js");
    const s = run(["serve", "metrics-app.mjs#app", "--metrics-bind", "unix:/tmp/x.sock"]);
    const { code } = await s.exited;
    assert.equal(code, 1);
    assert.match(s.stderr(), /metrics_bind/);
  });

  test("log_format json: every error-log line (arbiter and worker, with an app stack) is one JSON object", async () => {
    const s = await start(["serve", "metrics-app.mjs#app", "-w", "1", "-b", "127.0.0.1:0", "--log-format", "json"], { workers: 1 });
    assert.equal((await get(`${s.url}/throw`)).status, 500);
    await waitFor(() => s.stderr().includes("fixture handler failed"), 5000, "the app error line");
    assert.equal((await s.stop()).code, 0);
    const lines = s.stderr().split("\n").filter(Boolean);
    assert.ok(lines.length >= 4, s.stderr());
    const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of recs) {
      assert.ok(!Number.isNaN(Date.parse(String(r.time))), `time: ${JSON.stringify(r)}`);
      assert.match(String(r.level), /^(debug|info|warning|error|critical)$/);
      assert.equal(typeof r.pid, "number");
      assert.equal(typeof r.message, "string");
    }
    const err = recs.find((r) => r.level === "error" && String(r.message).startsWith("Error handling request GET /throw"))!;
    assert.ok(err, s.stderr());
    assert.notEqual(err.pid, s.pid, "the worker logs with its own pid");
    assert.match(String(err.stack), /fixture handler failed/);
    assert.ok(recs.some((r) => r.pid === s.pid && /Listening at/.test(String(r.message))));
  });
});
