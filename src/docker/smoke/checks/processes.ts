/**
 * `processes`: one arbiter and the expected number of workers, by process title
 * (`prodserver: arbiter [NAME]`, `prodserver: worker [NAME]`), polled until they settle.
 */
import type { SmokeCheck } from "../types.js";
import { fail, pass, running, sleep } from "../support.js";
import { countRuntimeProcesses, listProcesses } from "../../inspect.js";

/**
 * The `processes` check: expects `options.workers` workers (`auto`: at least one).
 * @param settleSeconds how long the count may take to settle (workers still booting); default 10
 */
export function processes({ settleSeconds = 10 } = {}): SmokeCheck {
  return {
    name: "processes",
    async run(ctx) {
      const { container } = running(ctx);
      const want = ctx.options.workers;
      const deadline = performance.now() + settleSeconds * 1000;
      for (;;) {
        const rows = await listProcesses(container);
        const n = countRuntimeProcesses(rows);
        if (n.arbiters === 1 && (want === "auto" ? n.workers >= 1 : n.workers === want)) return pass(`1 arbiter, ${n.workers} workers`);
        if (performance.now() > deadline) {
          return fail(`expected 1 arbiter and ${want} workers, saw ${n.arbiters} and ${n.workers}: ${rows.map((r) => r.args).join(" | ")}`);
        }
        await sleep(250);
      }
    },
  };
}
