/**
 * The smoke test's shapes: its options, the report, and the interface every check implements
 * (one module per check under ./checks, composed by ./runner.ts as testcontainers-node composes
 * wait strategies).
 */
import type Dockerode from "dockerode";
import type { Description } from "../../description/types.js";

/** Options of the smoke test; the description supplies them (see `smokeOptionsFrom`). */
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

/** A validated project description (src/description), as the smoke test takes it: port, health
 *  path, workers, and the graceful timeout derived as for every generated file. */
export type DescriptionFields = Description;

/** Result of one smoke-test check, as it appears in the report. */
export interface Check {
  /** Short stable name, e.g. `metadata`, `healthy`, `get /`, `sigterm`. */
  name: string;
  ok: boolean;
  /** Milliseconds the check took. */
  ms: number;
  /** One line saying what was seen (or why it failed). */
  detail: string;
  /** true for checks that report but cannot fail the smoke test (e.g. drain observation). */
  informational?: boolean;
}

/** What a smoke test returns. `ok` is true when every non-informational check passed. */
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

/** Docker's health-check configuration (durations in nanoseconds, as the Engine API). */
export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

/**
 * The state a smoke test's checks share. The runner creates it (`createSmokeContext`); the
 * `start` check fills `container` and `baseUrl`; `healthy` and `sigterm` set `exitCode` when the
 * container stops; `sigterm` records what `/readyz` answered while stopping, which `drain` reads.
 */
export interface SmokeContext {
  readonly docker: Dockerode;
  /** The tag or id the caller named. */
  readonly imageRef: string;
  /** `docker image inspect` of it. */
  readonly image: Dockerode.ImageInspectInfo;
  /** Validated options. */
  readonly options: SmokeOptions;
  /** `performance.now()` when the smoke test started, ms. */
  readonly startedAt: number;
  /** The health check the smoke container runs: the image's, probed every `healthInterval` s. */
  readonly healthcheck: HealthConfig;
  /** The container under test; null until `start` created it. */
  container: Dockerode.Container | null;
  /** `http://127.0.0.1:<published port>`; empty until `start` ran. */
  baseUrl: string;
  /** Exit code once the container has stopped; null while it runs. */
  exitCode: number | null;
  /** Statuses `/readyz` answered while the container stopped (`refused` when nothing answered). */
  readyzWhileStopping: Set<string>;
}

/** What a check's `run` resolves to: pass or fail, and one line saying what was seen. */
export interface CheckResult {
  ok: boolean;
  detail: string;
}

/**
 * One smoke-test check. `run` resolves to its result; a throw counts as a failure with the
 * error's message (the runner catches it), so checks may simply throw.
 */
export interface SmokeCheck {
  /** Stable name shown in the report. */
  readonly name: string;
  /** A failure skips every later check (nothing after it can be tested meaningfully). */
  readonly fatal?: boolean;
  /** Reports, but its failure does not fail the smoke test. */
  readonly informational?: boolean;
  run(ctx: SmokeContext): Promise<CheckResult>;
}
