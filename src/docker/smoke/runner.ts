/**
 * The smoke test of a built image (synthesis of testcontainers' health-check wait strategy,
 * container-structure-test's metadata/file tests and goss-style process checks; see
 * /work/shared/reference/generator-anchors.md section 6.4): a list of {@link SmokeCheck}s run in
 * order against one container on loopback. The runner stops at the first fatal failure, always
 * removes the container, and carries the container's logs in the report when a check failed.
 */
import type Dockerode from "dockerode";
import { containerLogs } from "../inspect.js";
import { NS } from "./support.js";
import { resolveSmokeOptions } from "./options.js";
import type { Check, DescriptionFields, HealthConfig, SmokeCheck, SmokeContext, SmokeOptions, SmokeReport } from "./types.js";
import { metadata } from "./checks/metadata.js";
import { start } from "./checks/start.js";
import { healthy } from "./checks/healthy.js";
import { httpGet } from "./checks/http-get.js";
import { nonRoot } from "./checks/non-root.js";
import { processes } from "./checks/processes.js";
import { respawn } from "./checks/respawn.js";
import { files } from "./checks/files.js";
import { drain, sigterm } from "./checks/sigterm.js";

/**
 * The checks `prodserver build` runs, in order: `metadata`, `start`, `healthy`,
 * `get <healthPath>` (200), `get /livez` (200), `get <path>` (2xx) per path (default `/`),
 * `non-root`, `processes`, `respawn`, `files`, `sigterm`, `drain` (informational).
 */
export function defaultChecks(opts: SmokeOptions): SmokeCheck[] {
  const ok200 = (s: number) => s === 200;
  return [
    metadata,
    start,
    healthy,
    httpGet(opts.healthPath, ok200),
    ...(opts.healthPath !== "/livez" ? [httpGet("/livez", ok200)] : []),
    ...(opts.paths ?? ["/"]).map((p) => httpGet(p)),
    nonRoot,
    processes(),
    respawn(),
    files,
    sigterm,
    drain,
  ];
}

/** The image's HEALTHCHECK with its interval lowered to `healthInterval` seconds (see SmokeOptions). */
function smokeHealthcheck(image: Dockerode.ImageInspectInfo, healthInterval: number | null | undefined): HealthConfig {
  const imageHc = (image.Config as { Healthcheck?: HealthConfig }).Healthcheck;
  const probeInterval = healthInterval === null ? undefined : (healthInterval ?? 1);
  if (!imageHc?.Test || imageHc.Test[0] === "NONE" || probeInterval === undefined) return imageHc ?? {};
  return { ...imageHc, Interval: Math.min(imageHc.Interval || 30 * NS, probeInterval * NS) };
}

/**
 * Creates the context checks share, for one image (no container yet: the `start` check creates it).
 * @throws Error naming the option when options are invalid, or when the image does not exist.
 */
export async function createSmokeContext(docker: Dockerode, imageRef: string, options: SmokeOptions | DescriptionFields): Promise<SmokeContext> {
  const opts = resolveSmokeOptions(options);
  const startedAt = performance.now();
  const image = await docker
    .getImage(imageRef)
    .inspect()
    .catch((e: Error) => {
      throw new Error(`smokeTest: image ${imageRef} not found (${e.message})`);
    });
  return {
    docker,
    imageRef,
    image,
    options: opts,
    startedAt,
    healthcheck: smokeHealthcheck(image, opts.healthInterval),
    container: null,
    baseUrl: "",
    exitCode: null,
    readyzWhileStopping: new Set(),
  };
}

/** Runs one check, timing it; a throw is a failed check carrying the error's message. Never throws. */
export async function runCheck(check: SmokeCheck, ctx: SmokeContext): Promise<Check> {
  const t = performance.now();
  let ok: boolean;
  let detail: string;
  try {
    ({ ok, detail } = await check.run(ctx));
  } catch (e) {
    ok = false;
    detail = e instanceof Error ? e.message : String(e);
  }
  return { name: check.name, ok, ms: Math.round(performance.now() - t), detail, ...(check.informational ? { informational: true } : {}) };
}

/** Kills (if still running) and removes the context's container, volumes included. Never throws. */
export async function removeContainer(ctx: SmokeContext): Promise<void> {
  const c = ctx.container;
  if (!c) return;
  await c.remove({ force: true, v: true }).catch(() => {});
  ctx.container = null;
}

/**
 * Smoke-tests an image: runs `checks` (default {@link defaultChecks}) in order against one
 * container, stopping at the first failed fatal check; the container is always removed.
 * @param imageRef tag or id of a local image
 * @param options {@link SmokeOptions}, or a description (mapped by `smokeOptionsFrom`)
 * @throws Error naming the option when options are invalid, or when the image does not exist.
 *   Container failures do not throw: they are failed checks in the report (with the logs).
 */
export async function smokeTest(docker: Dockerode, imageRef: string, options: SmokeOptions | DescriptionFields, checks?: SmokeCheck[]): Promise<SmokeReport> {
  const ctx = await createSmokeContext(docker, imageRef, options);
  const report: SmokeReport = {
    ok: false,
    image: { ref: imageRef, id: ctx.image.Id, sizeBytes: ctx.image.Size, buildSeconds: ctx.options.buildSeconds ?? null },
    checks: [],
    seconds: 0,
    exitCode: null,
  };
  try {
    for (const check of checks ?? defaultChecks(ctx.options)) {
      const result = await runCheck(check, ctx);
      report.checks.push(result);
      if (!result.ok && check.fatal) break;
    }
    report.ok = report.checks.every((c) => c.ok || c.informational);
    if (!report.ok && ctx.container) report.logs = await containerLogs(ctx.container);
  } finally {
    await removeContainer(ctx);
  }
  report.exitCode = ctx.exitCode;
  report.seconds = (performance.now() - ctx.startedAt) / 1000;
  return report;
}
