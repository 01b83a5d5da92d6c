/** `non-root`: every process in the container runs with a uid other than 0 (as goss's `process` test). */
import type { SmokeCheck } from "../types.js";
import { fail, pass, running } from "../support.js";
import { listProcesses } from "../../inspect.js";

/** The `non-root` check. */
export const nonRoot: SmokeCheck = {
  name: "non-root",
  async run(ctx) {
    const rows = await listProcesses(running(ctx).container);
    if (!rows.length) return fail("docker top listed no processes");
    const root = rows.filter((r) => r.uid === 0);
    if (root.length) return fail(`running as root: ${root.map((r) => `${r.pid} ${r.args}`).join("; ")}`);
    return pass(`${rows.length} processes, uids ${[...new Set(rows.map((r) => r.uid))].join(",")}`);
  },
};
