/**
 * Smoke test of a built image (synthesis of testcontainers' health-check wait strategy,
 * container-structure-test's metadata/file tests and goss-style process checks; see
 * /work/shared/reference/generator-anchors.md section 6.4): start one container on loopback,
 * wait for Docker's health status, talk HTTP to it from the host, look at its processes and
 * files, stop it with SIGTERM and expect exit 0 within the graceful timeout. The container is
 * always removed.
 */
import type Dockerode from "dockerode";
import { randomBytes } from "node:crypto";
import {
  type Check, type ProbeResult, KILL_WORKER_SCRIPT, PROBE_SCRIPT, checkImageMetadata, containerLogs, countRuntimeProcesses, execIn, listProcesses,
} from "./inspect.js";
import { formatBytes, formatSeconds } from "./progress.js";

export type { Check } from "./inspect.js";

/** Options of {@link smokeTest}; the description supplies them (see {@link smokeOptionsFrom}). */
export interface SmokeOptions {
  /** Port the runtime binds in the container (description `port`). */
  port: number;
  /** Health endpoint path, e.g. `/readyz` (description `health.path`). */
  healthPath: string;
  /** Seconds the runtime may take to drain after SIGTERM (`processes.web.graceful_timeout`). */
  gracefulTimeout: number;
  /** Expected worker count (`processes.web.workers`); `"auto"` = at least one (it depends on the host's CPUs). */
  workers: number | "auto";
  /** App paths to GET from the host, each expecting 2xx (default `["/"]`). */
  paths?: string[];
  /** Build time in seconds, carried into the report. */
  buildSeconds?: number;
  /** Extra environment for the container, `NAME=value`. */
  env?: string[];
  /**
   * Run the container locked down (anchors 6.4 item 3): read-only root filesystem with a tmpfs on
   * /tmp, all capabilities dropped, no-new-privileges, 512 MB memory limit. Default false.
   */
  hardened?: boolean;
  /**
   * Seconds between health probes in the smoke container (default 1): the image's HEALTHCHECK
   * command, timeout, start period and retries are kept, only probed more often than its interval
   * (Docker 20.10 has no --start-interval, so the first probe would otherwise wait a full interval;
   * testcontainers' `withHealthCheck` overrides the same way). `null` keeps the image's interval.
   */
  healthInterval?: number | null;
}

/** What {@link smokeTest} returns. `ok` is true when every non-informational check passed. */
export interface SmokeReport {
  ok: boolean;
  image: { ref: string; id: string; sizeBytes: number; buildSeconds: number | null };
  checks: Check[];
  /** Total wall-clock seconds of the smoke test. */
  seconds: number;
  /** Container exit code when it stopped (null if it never did). */
  exitCode: number | null;
  /** Container logs, present when a check failed. */
  logs?: { stdout: string; stderr: string };
}

/** The description fields the smoke test reads (a `Description` satisfies it). */
export interface DescriptionFields {
  port: number;
  health: { path: string };
  processes: { web: { workers?: number | "auto"; graceful_timeout?: number } };
}

/**
 * Maps a project description (see src/description) to {@link SmokeOptions}. Unset settings take
 * the runtime's defaults (runtime/settings.ts): workers 1 (no WEB_CONCURRENCY in the image),
 * graceful_timeout 30 s.
 */
export function smokeOptionsFrom(d: DescriptionFields): SmokeOptions {
  const web = d.processes.web;
  return { port: d.port, healthPath: d.health.path, gracefulTimeout: web.graceful_timeout ?? 30, workers: web.workers ?? 1 };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * fetch with a timeout in ms. The timer is a referenced setTimeout, not AbortSignal.timeout (whose
 * timer is unreferenced: a request hanging on a container's half-ready published port left the
 * event loop with nothing to wait for, and node exited with "unsettled top-level await").
 */
export async function fetchWithTimeout(url: string, ms: number): Promise<Response> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`GET ${url}: no answer within ${ms} ms`)), ms);
  try {
    const res = await fetch(url, { signal: ac.signal });
    const body = await res.arrayBuffer();
    return new Response(body, { status: res.status, headers: res.headers });
  } finally {
    clearTimeout(timer);
  }
}
const NS = 1e9;

/**
 * Smoke-tests an image. Checks, in order (each with ms): `metadata`, `start`, `healthy` (bounded by
 * the HEALTHCHECK (probed every `healthInterval` s): start-period + retries x (interval + timeout) + 15 s; fails fast when the
 * container exits or turns `unhealthy`), `get <healthPath>`, `get /livez`, `get <path>` per path,
 * `non-root` (every process uid != 0), `processes` (1 arbiter + N workers, polled up to 10 s),
 * `respawn` (SIGKILL one worker from inside; the arbiter brings the count back within 20 s),
 * `files` (no .env/.git/.prodserver in the app folder, no devDependencies installed), `drain`
 * (informational: /readyz seen as 503 after SIGTERM), `sigterm` (exit 0 within gracefulTimeout + 5 s).
 * @param imageRef tag or id of a local image
 * @param options {@link SmokeOptions}, or a description (mapped by {@link smokeOptionsFrom})
 * @throws Error naming the option when options are invalid, or when the image does not exist.
 *   Container failures do not throw: they are failed checks in the report (with logs).
 */
export async function smokeTest(docker: Dockerode, imageRef: string, options: SmokeOptions | DescriptionFields): Promise<SmokeReport> {
  // The contract's form `smokeTest(docker, ref, description)` is accepted too.
  const opts: SmokeOptions = options && "processes" in options && "health" in options ? smokeOptionsFrom(options) : (options as SmokeOptions);
  if (!Number.isInteger(opts?.port) || opts.port < 1 || opts.port > 65535) throw new Error("smokeTest: opts.port must be an integer 1..65535");
  if (typeof opts.healthPath !== "string" || !opts.healthPath.startsWith("/")) throw new Error("smokeTest: opts.healthPath must start with /");
  if (!(opts.gracefulTimeout >= 0)) throw new Error("smokeTest: opts.gracefulTimeout must be seconds >= 0");
  if (opts.workers !== "auto" && (!Number.isInteger(opts.workers) || opts.workers < 1)) {
    throw new Error('smokeTest: opts.workers must be an integer >= 1 or "auto"');
  }
  const started = performance.now();
  const info = await docker.getImage(imageRef).inspect().catch((e: Error) => {
    throw new Error(`smokeTest: image ${imageRef} not found (${e.message})`);
  });
  const report: SmokeReport = {
    ok: false,
    image: { ref: imageRef, id: info.Id, sizeBytes: info.Size, buildSeconds: opts.buildSeconds ?? null },
    checks: [],
    seconds: 0,
    exitCode: null,
  };
  const run = async (name: string, fn: () => Promise<string>, informational = false): Promise<boolean> => {
    const t = performance.now();
    try {
      const detail = await fn();
      report.checks.push({ name, ok: true, ms: Math.round(performance.now() - t), detail, ...(informational ? { informational } : {}) });
      return true;
    } catch (e) {
      report.checks.push({ name, ok: false, ms: Math.round(performance.now() - t), detail: (e as Error).message, ...(informational ? { informational } : {}) });
      return false;
    }
  };

  await run("metadata", async () => {
    const { problems, summary } = checkImageMetadata(info, opts.port);
    if (problems.length) throw new Error(problems.join("; "));
    return summary;
  });

  type HC = { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  const imageHc = (info.Config as { Healthcheck?: HC }).Healthcheck;
  const probeInterval = opts.healthInterval === null ? undefined : (opts.healthInterval ?? 1);
  const hc: HC = imageHc?.Test && imageHc.Test[0] !== "NONE" && probeInterval !== undefined
    ? { ...imageHc, Interval: Math.min(imageHc.Interval || 30 * NS, probeInterval * NS) }
    : imageHc ?? {};
  const portKey = `${opts.port}/tcp`;
  let container: Dockerode.Container | null = null;
  let base = "";
  let exited = false;
  try {
    const startedOk = await run("start", async () => {
      container = await docker.createContainer({
        Image: info.Id,
        name: `prodserver-smoke-${randomBytes(4).toString("hex")}`,
        Env: opts.env,
        Labels: { "prodserver.smoke": imageRef },
        ...(hc !== imageHc ? { Healthcheck: hc } : {}),
        ExposedPorts: { [portKey]: {} },
        HostConfig: {
          PortBindings: { [portKey]: [{ HostIp: "127.0.0.1", HostPort: "" }] },
          AutoRemove: false,
          ...(opts.hardened
            ? { ReadonlyRootfs: true, Tmpfs: { "/tmp": "rw,size=64m" }, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"], Memory: 512 * 1024 * 1024 }
            : {}),
        },
      });
      await container.start();
      const ins = await container.inspect();
      const hostPort = ins.NetworkSettings.Ports?.[portKey]?.[0]?.HostPort;
      if (!hostPort) throw new Error(`no host port published for ${portKey}`);
      base = `http://127.0.0.1:${hostPort}`;
      return `container ${ins.Id.slice(0, 12)} on ${base}${opts.hardened ? " (read-only rootfs, tmpfs /tmp, cap-drop ALL, no-new-privileges, 512 MB)" : ""}`;
    });
    const c = container as Dockerode.Container | null;
    if (!startedOk || !c) return finish();

    const healthy = await run("healthy", async () => {
      const interval = (hc.Interval || 30 * NS) / NS;
      const boundS = (hc.StartPeriod ?? 0) / NS + (hc.Retries || 3) * (interval + (hc.Timeout || 30 * NS) / NS) + 15;
      const deadline = performance.now() + boundS * 1000;
      for (;;) {
        const s = (await c.inspect()).State;
        if (!s.Running) {
          exited = true;
          report.exitCode = s.ExitCode;
          throw new Error(`container exited with code ${s.ExitCode} before becoming healthy`);
        }
        const status = s.Health?.Status;
        if (status === "healthy") return `healthy after ${formatSeconds((performance.now() - started) / 1000)} (probe every ${formatSeconds(interval)})`;
        if (status === "unhealthy") {
          const last = s.Health?.Log?.at(-1);
          throw new Error(`health status unhealthy (last probe exit ${last?.ExitCode}: ${String(last?.Output ?? "").trim().slice(0, 300)})`);
        }
        if (!status) throw new Error("container has no health status (image without HEALTHCHECK?)");
        if (performance.now() > deadline) throw new Error(`still "${status}" after ${boundS.toFixed(0)} s`);
        await sleep(200);
      }
    });
    if (!healthy) return finish();

    const get = async (p: string, expect: (status: number) => boolean): Promise<string> => {
      const res = await fetchWithTimeout(base + p, 10_000);
      const body = (await res.text()).replace(/\s+/g, " ").slice(0, 80);
      if (!expect(res.status)) throw new Error(`GET ${p} -> ${res.status} ${body}`);
      return `${res.status} ${body}`;
    };
    await run(`get ${opts.healthPath}`, () => get(opts.healthPath, (s) => s === 200));
    if (opts.healthPath !== "/livez") await run("get /livez", () => get("/livez", (s) => s === 200));
    for (const p of opts.paths ?? ["/"]) await run(`get ${p}`, () => get(p, (s) => s >= 200 && s < 300));

    await run("non-root", async () => {
      const rows = await listProcesses(c);
      const root = rows.filter((r) => r.uid === 0);
      if (!rows.length) throw new Error("docker top listed no processes");
      if (root.length) throw new Error(`running as root: ${root.map((r) => `${r.pid} ${r.args}`).join("; ")}`);
      return `${rows.length} processes, uids ${[...new Set(rows.map((r) => r.uid))].join(",")}`;
    });
    await run("processes", async () => {
      const deadline = performance.now() + 10_000;
      for (;;) {
        const rows = await listProcesses(c);
        const n = countRuntimeProcesses(rows);
        if (n.arbiters === 1 && (opts.workers === "auto" ? n.workers >= 1 : n.workers === opts.workers)) {
          return `1 arbiter, ${n.workers} workers`;
        }
        if (performance.now() > deadline) {
          throw new Error(`expected 1 arbiter and ${opts.workers} workers, saw ${n.arbiters} and ${n.workers}: ${rows.map((r) => r.args).join(" | ")}`);
        }
        await sleep(250);
      }
    });
    await run("respawn", async () => {
      const workerPids = (rows: Awaited<ReturnType<typeof listProcesses>>): number[] =>
        rows.filter((r) => r.args.startsWith("prodserver: worker")).map((r) => r.pid);
      const before = workerPids(await listProcesses(c));
      const k = await execIn(c, ["node", "-e", KILL_WORKER_SCRIPT]);
      if (k.exitCode !== 0) throw new Error(`could not kill a worker (exit ${k.exitCode}): ${(k.stdout + k.stderr).trim().slice(0, 200)}`);
      const t = performance.now();
      for (;;) {
        await sleep(250);
        const now = workerPids(await listProcesses(c));
        const fresh = now.filter((p) => !before.includes(p));
        // Back to strength with a new process: the killed one is gone, not merely still listed.
        if (fresh.length >= 1 && now.length >= before.length) {
          return `killed worker ${k.stdout.trim()} (SIGKILL); replaced, ${now.length} workers after ${formatSeconds((performance.now() - t) / 1000)}`;
        }
        if (performance.now() - t > 20_000) throw new Error(`after SIGKILL of worker ${k.stdout.trim()}: ${now.length} of ${before.length} workers, ${fresh.length} new, after 20 s`);
      }
    });
    await run("files", async () => {
      const r = await execIn(c, ["node", "-e", PROBE_SCRIPT]);
      if (r.exitCode !== 0) throw new Error(`probe failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 300)}`);
      const p = JSON.parse(r.stdout) as ProbeResult;
      const bad: string[] = [];
      if (p.forbidden.length) {
        const hint = p.forbidden.includes(".prodserver")
          ? " (.prodserver/ holds the build context's runtime bundle and npm cache: the Dockerfile must not copy it into the app folder)"
          : "";
        bad.push(`${p.dir} contains ${p.forbidden.join(", ")}${hint}`);
      }
      if (p.devDepsInstalled.length) bad.push(`devDependencies installed: ${p.devDepsInstalled.join(", ")}`);
      if (bad.length) throw new Error(bad.join("; "));
      return `${p.dir}: no .env/.git/.prodserver, no devDependencies${p.appWritable ? " (app dir writable by the runtime user)" : ", read-only for the runtime user"}`;
    });

    // Graceful stop: watch /readyz during the drain (informational) while waiting for the exit.
    const limitS = opts.gracefulTimeout + 5;
    const seen = new Set<string>();
    let stopping = true;
    const watcher = (async () => {
      while (stopping) {
        try {
          const res = await fetchWithTimeout(base + "/readyz", 1000);
          seen.add(String(res.status));
        } catch {
          seen.add("refused");
        }
        await sleep(20);
      }
    })();
    await run("sigterm", async () => {
      const t = performance.now();
      await c.kill({ signal: "SIGTERM" });
      const waited = await Promise.race([c.wait(), sleep(limitS * 1000).then(() => null)]);
      exited = true;
      if (!waited) {
        await c.kill({ signal: "SIGKILL" }).catch(() => {});
        throw new Error(`did not exit within ${limitS} s of SIGTERM (graceful timeout ${opts.gracefulTimeout} s + 5 s); killed`);
      }
      report.exitCode = waited.StatusCode;
      if (waited.StatusCode !== 0) throw new Error(`exited with code ${waited.StatusCode} after SIGTERM`);
      return `exit 0 after ${formatSeconds((performance.now() - t) / 1000)}`;
    });
    stopping = false;
    await watcher;
    await run("drain", async () => {
      const statuses = [...seen].join(", ") || "none";
      if (seen.has("503")) return `/readyz answered 503 while draining (seen: ${statuses})`;
      throw new Error(`readiness flip not observed (seen: ${statuses}); the listener may close before a probe lands`);
    }, true);
    return finish();
  } finally {
    const c = container as Dockerode.Container | null;
    if (c) {
      if (!report.ok) report.logs ??= await containerLogs(c);
      if (!exited) await c.kill({ signal: "SIGKILL" }).catch(() => {});
      await c.remove({ force: true, v: true }).catch(() => {});
    }
  }

  function finish(): SmokeReport {
    report.ok = report.checks.every((ch) => ch.ok || ch.informational);
    report.seconds = (performance.now() - started) / 1000;
    return report;
  }
}

/**
 * Formats a report for humans: a header with image ref, id, size and build time, one line per
 * check (`ok`/`FAIL`, name, ms, detail), a result line, and on failure the last 40 log lines.
 */
export function formatReport(r: SmokeReport): string {
  const lines: string[] = [];
  const id = r.image.id.replace(/^sha256:/, "").slice(0, 12);
  const built = r.image.buildSeconds === null ? "" : `, built in ${formatSeconds(r.image.buildSeconds)}`;
  lines.push(`smoke test of ${r.image.ref} (${id}, ${formatBytes(r.image.sizeBytes)}${built})`);
  for (const c of r.checks) {
    const mark = c.ok ? "  ok  " : c.informational ? "  --  " : "  FAIL";
    lines.push(`${mark} ${c.name.padEnd(14)} ${String(c.ms).padStart(6)} ms  ${c.detail}`);
  }
  const failed = r.checks.filter((c) => !c.ok && !c.informational).length;
  lines.push(`${r.ok ? "PASS" : "FAIL"}: ${r.checks.length - failed}/${r.checks.length} checks passed in ${formatSeconds(r.seconds)}`);
  if (!r.ok && r.logs) {
    const tail = (s: string): string[] => s.trimEnd().split("\n").filter(Boolean).slice(-40);
    const err = tail(r.logs.stderr);
    const out = tail(r.logs.stdout);
    if (err.length) lines.push("--- container stderr (last 40 lines) ---", ...err);
    if (out.length) lines.push("--- container stdout (last 40 lines) ---", ...out);
  }
  return `${lines.join("\n")}\n`;
}
