/**
 * `healthy`: wait for Docker's health status `healthy` (testcontainers' health-check wait
 * strategy), bounded by the HEALTHCHECK: start period + retries x (interval + timeout) + 15 s.
 * Fails fast when the container exits or turns `unhealthy`. Fatal.
 */
import type { SmokeCheck } from "../types.js";
import { NS, fail, pass, running, sleep } from "../support.js";
import { formatSeconds } from "../../progress.js";

/** The `healthy` check; sets `ctx.exitCode` when the container exited instead. */
export const healthy: SmokeCheck = {
  name: "healthy",
  fatal: true,
  async run(ctx) {
    const { container } = running(ctx);
    const hc = ctx.healthcheck;
    const interval = (hc.Interval || 30 * NS) / NS;
    const boundS = (hc.StartPeriod ?? 0) / NS + (hc.Retries || 3) * (interval + (hc.Timeout || 30 * NS) / NS) + 15;
    const deadline = performance.now() + boundS * 1000;
    for (;;) {
      const s = (await container.inspect()).State;
      if (!s.Running) {
        ctx.exitCode = s.ExitCode;
        return fail(`container exited with code ${s.ExitCode} before becoming healthy`);
      }
      const status = s.Health?.Status;
      if (status === "healthy") return pass(`healthy after ${formatSeconds((performance.now() - ctx.startedAt) / 1000)} (probe every ${formatSeconds(interval)})`);
      if (status === "unhealthy") {
        const last = s.Health?.Log?.at(-1);
        return fail(
          `health status unhealthy (last probe exit ${last?.ExitCode}: ${String(last?.Output ?? "")
            .trim()
            .slice(0, 300)})`,
        );
      }
      if (!status) return fail("container has no health status (image without HEALTHCHECK?)");
      if (performance.now() > deadline) return fail(`still "${status}" after ${boundS.toFixed(0)} s`);
      await sleep(200);
    }
  },
};
