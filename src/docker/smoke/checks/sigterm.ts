/**
 * `sigterm` and `drain`: stop the container with SIGTERM (what `docker stop` and Kubernetes
 * send) and expect exit 0 within the graceful timeout + STOP_MARGIN_SECONDS (5 s, the margin of the
 * generated supervisors), watching `/readyz` meanwhile;
 * `drain` (informational) then reports whether `/readyz` was seen answering 503 while draining.
 */
import type { SmokeCheck, SmokeContext } from "../types.js";
import { fail, fetchWithTimeout, pass, running, sleep, within } from "../support.js";
import { formatSeconds } from "../../progress.js";
import { STOP_MARGIN_SECONDS } from "../../../generate/derive.js";

/** Polls `/readyz` every 20 ms into `ctx.readyzWhileStopping` until `stop()` is called. */
function watchReadiness(ctx: SmokeContext, baseUrl: string): { stop(): Promise<void> } {
  let watching = true;
  const loop = (async () => {
    while (watching) {
      try {
        ctx.readyzWhileStopping.add(String((await fetchWithTimeout(`${baseUrl}/readyz`, 1000)).status));
      } catch {
        ctx.readyzWhileStopping.add("refused");
      }
      await sleep(20);
    }
  })();
  return {
    async stop() {
      watching = false;
      await loop;
    },
  };
}

/** The `sigterm` check; sets `ctx.exitCode`. Leaves the container stopped (run it last). */
export const sigterm: SmokeCheck = {
  name: "sigterm",
  async run(ctx) {
    const { container, baseUrl } = running(ctx);
    // What compose's stop_grace_period and systemd's TimeoutStopSec allow (src/generate/derive.ts).
    const limitS = ctx.options.gracefulTimeout + STOP_MARGIN_SECONDS;
    const watcher = watchReadiness(ctx, baseUrl);
    try {
      const t = performance.now();
      const exited = container.wait() as Promise<{ StatusCode: number }>;
      await container.kill({ signal: "SIGTERM" });
      const waited = await within(exited, limitS * 1000);
      if (!waited) {
        await container.kill({ signal: "SIGKILL" }).catch(() => {});
        ctx.exitCode = (await within(exited, 10_000))?.StatusCode ?? null;
        return fail(`did not exit within ${limitS} s of SIGTERM (graceful timeout ${ctx.options.gracefulTimeout} s + ${STOP_MARGIN_SECONDS} s); killed`);
      }
      ctx.exitCode = waited.StatusCode;
      if (waited.StatusCode !== 0) return fail(`exited with code ${waited.StatusCode} after SIGTERM`);
      return pass(`exit 0 after ${formatSeconds((performance.now() - t) / 1000)}`);
    } finally {
      await watcher.stop();
    }
  },
};

/** The `drain` check (informational): reads what `sigterm` saw. */
export const drain: SmokeCheck = {
  name: "drain",
  informational: true,
  async run(ctx) {
    const seen = ctx.readyzWhileStopping;
    const statuses = [...seen].join(", ") || "none";
    if (seen.has("503")) return pass(`/readyz answered 503 while draining (seen: ${statuses})`);
    return fail(`readiness flip not observed (seen: ${statuses}); the listener may close before a probe lands`);
  },
};
