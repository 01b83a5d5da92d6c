/**
 * `respawn`: SIGKILL one worker from inside the container; the arbiter must bring the worker
 * count back with a new process (Gunicorn's arbiter does the same for a dead worker).
 */
import type { SmokeCheck } from "../types.js";
import { fail, pass, running, sleep } from "../support.js";
import { execIn, listProcesses, type ProcessRow } from "../../inspect.js";
import { formatSeconds } from "../../progress.js";

/**
 * Kills one runtime worker from inside the container (run as the image's USER, which owns the
 * workers): SIGKILL to the first process whose title starts with `prodserver: worker`. Prints its
 * in-container pid; exit 2 when there is none.
 */
export const KILL_WORKER_SCRIPT = `
const fs = require("fs");
const title = (p) => { try { return fs.readFileSync("/proc/" + p + "/cmdline", "utf8"); } catch { return ""; } };
const pids = fs.readdirSync("/proc").filter((p) => /^\\d+$/.test(p) && title(p).startsWith("prodserver: worker"));
if (!pids.length) { process.stdout.write("none"); process.exit(2); }
process.kill(Number(pids[0]), "SIGKILL");
process.stdout.write(pids[0]);
`;

const workerPids = (rows: ProcessRow[]): number[] => rows.filter((r) => r.args.startsWith("prodserver: worker")).map((r) => r.pid);

/**
 * The `respawn` check.
 * @param withinSeconds how long the arbiter may take to replace the worker; default 20
 */
export function respawn({ withinSeconds = 20 } = {}): SmokeCheck {
  return {
    name: "respawn",
    async run(ctx) {
      const { container } = running(ctx);
      const before = workerPids(await listProcesses(container));
      const k = await execIn(container, ["node", "-e", KILL_WORKER_SCRIPT]);
      if (k.exitCode !== 0) return fail(`could not kill a worker (exit ${k.exitCode}): ${(k.stdout + k.stderr).trim().slice(0, 200)}`);
      const killed = k.stdout.trim();
      const t = performance.now();
      for (;;) {
        await sleep(250);
        const now = workerPids(await listProcesses(container));
        const fresh = now.filter((p) => !before.includes(p));
        // Back to strength with a new process: the killed one is gone, not merely still listed.
        if (fresh.length >= 1 && now.length >= before.length) {
          return pass(`killed worker ${killed} (SIGKILL); replaced, ${now.length} workers after ${formatSeconds((performance.now() - t) / 1000)}`);
        }
        if (performance.now() - t > withinSeconds * 1000) {
          return fail(`after SIGKILL of worker ${killed}: ${now.length} of ${before.length} workers, ${fresh.length} new, after ${withinSeconds} s`);
        }
      }
    },
  };
}
