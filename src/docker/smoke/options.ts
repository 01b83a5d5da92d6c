/** The smoke test's options: from a description, and validated before anything starts. */
import { timeouts } from "../../generate/derive.js";
import type { DescriptionFields, SmokeOptions } from "./types.js";

/**
 * Maps a validated project description (see src/description) to {@link SmokeOptions}: the graceful
 * timeout is the one every generated file uses (src/generate/derive.ts `timeouts`: the description's
 * or the runtime registry's default); workers unset = 1 (the runtime's default; no WEB_CONCURRENCY
 * in the image).
 */
export function smokeOptionsFrom(d: DescriptionFields): SmokeOptions {
  const web = d.processes.web;
  return { port: d.port, healthPath: d.health.path, gracefulTimeout: timeouts(d).graceful, workers: web.workers ?? 1 };
}

/**
 * Accepts {@link SmokeOptions} or a description (the contract's form `smokeTest(docker, ref,
 * description)`) and validates the result.
 * @throws Error naming the option (`smokeTest: opts.port ...`) when one is invalid.
 */
export function resolveSmokeOptions(options: SmokeOptions | DescriptionFields): SmokeOptions {
  const opts: SmokeOptions = options && "processes" in options && "health" in options ? smokeOptionsFrom(options) : (options as SmokeOptions);
  if (!Number.isInteger(opts?.port) || opts.port < 1 || opts.port > 65535) throw new Error("smokeTest: opts.port must be an integer 1..65535");
  if (typeof opts.healthPath !== "string" || !opts.healthPath.startsWith("/")) throw new Error("smokeTest: opts.healthPath must start with /");
  if (!(opts.gracefulTimeout >= 0)) throw new Error("smokeTest: opts.gracefulTimeout must be seconds >= 0");
  if (opts.workers !== "auto" && (!Number.isInteger(opts.workers) || opts.workers < 1)) {
    throw new Error('smokeTest: opts.workers must be an integer >= 1 or "auto"');
  }
  return opts;
}
